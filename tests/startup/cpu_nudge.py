"""Emulate a CPU this machine is not: nudge every convolution and linear output by ~1e-6 of its value.

Two CPUs run the same PyTorch code with different BLAS and convolution kernels (another vendor's
MKL/oneDNN paths, other vector widths, other thread splits), so their float32 sums round
differently, by a few units in the last place. This machine cannot be turned into an Intel Xeon or an
ARM laptop, but it can be made to round differently in the same way: every output of
``F.conv1d/conv2d/conv3d`` and ``F.linear`` (hence every ``nn.Conv*d`` and ``nn.Linear``) is multiplied
by ``1 + 1e-6 * sin(value * 997 * seed + seed)``, about eight float32 units in the last place (in
another precision, the same eight units of its own last place: about 2e-15 in float64).

The nudge is a function of the value alone, so a nudged run is reproducible, and two seeds are two
different machines. It flows through the backward pass too (the factor scales the gradient), as a
different kernel's rounding would. Turned on for a process and every Python process it starts by
``ADVCOURSE_NUDGE=<seed>`` (read by ``sitecustomize.py`` beside this file; ``make test-portable`` and
``scripts/audit_outputs.py`` set it).
"""

from __future__ import annotations

import functools
from typing import Callable

import torch
import torch.nn.functional as F

#: Relative size of the nudge: float32 rounding differences between kernels are of this order.
SIZE = 1e-6
NUDGED = ("conv1d", "conv2d", "conv3d", "linear")


def nudge(out: torch.Tensor, seed: int) -> torch.Tensor:
    """``out`` times ``1 + size * sin(out * 997 * seed + seed)`` (the factor is a constant for autograd),
    ``size`` being :data:`SIZE` in float32 and as many units of the last place in other precisions."""
    if not (isinstance(out, torch.Tensor) and out.is_floating_point()):
        return out
    size = SIZE * torch.finfo(out.dtype).eps / torch.finfo(torch.float32).eps
    with torch.no_grad():
        factor = 1.0 + size * torch.sin(out * (997.0 * seed) + seed)
    return out * factor


def _wrap(fn: Callable[..., torch.Tensor], seed: int) -> Callable[..., torch.Tensor]:
    @functools.wraps(fn)
    def nudged(*args, **kwargs):
        return nudge(fn(*args, **kwargs), seed)

    nudged.__advcourse_nudge__ = seed
    return nudged


def install(seed: int) -> None:
    """Nudge ``torch.nn.functional``'s convolutions and ``linear`` in this process (idempotent)."""
    if seed <= 0:
        raise ValueError(f"seed must be a positive integer (one emulated machine per seed), got {seed}")
    for name in NUDGED:
        fn = getattr(F, name)
        fn = getattr(fn, "__wrapped__", fn) if hasattr(fn, "__advcourse_nudge__") else fn
        setattr(F, name, _wrap(fn, seed))


def installed() -> int | None:
    """The seed of the nudge in force in this process, or None."""
    return getattr(F.linear, "__advcourse_nudge__", None)
