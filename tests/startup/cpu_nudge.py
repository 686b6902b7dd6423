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

import contextlib
import functools
import importlib.abc
import importlib.util
import sys
from typing import Any, Callable, Iterator

#: Relative size of the nudge: float32 rounding differences between kernels are of this order.
SIZE = 1e-6
NUDGED = ("conv1d", "conv2d", "conv3d", "linear")
MODULE = "torch.nn.functional"


def nudge(out: Any, seed: int) -> Any:
    """``out`` times ``1 + size * sin(out * 997 * seed + seed)`` (the factor is a constant for autograd),
    ``size`` being :data:`SIZE` in float32 and as many units of the last place in other precisions."""
    import torch

    if not (isinstance(out, torch.Tensor) and out.is_floating_point()):
        return out
    size = SIZE * torch.finfo(out.dtype).eps / torch.finfo(torch.float32).eps
    with torch.no_grad():
        factor = 1.0 + size * torch.sin(out * (997.0 * seed) + seed)
    return out * factor


def _wrap(fn: Callable[..., Any], seed: int) -> Callable[..., Any]:
    @functools.wraps(fn)
    def nudged(*args, **kwargs):
        return nudge(fn(*args, **kwargs), seed)

    nudged.__advcourse_nudge__ = seed
    return nudged


def _patch(functional: Any, seed: int) -> None:
    for name in NUDGED:
        fn = getattr(functional, name)
        fn = fn.__wrapped__ if hasattr(fn, "__advcourse_nudge__") else fn
        setattr(functional, name, _wrap(fn, seed))


def _check(seed: int) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int) or seed <= 0:
        raise ValueError(f"seed must be a positive integer (one emulated machine per seed), got {seed!r}")


def install(seed: int) -> None:
    """Nudge ``torch.nn.functional``'s convolutions and ``linear`` in this process (idempotent)."""
    _check(seed)
    import torch.nn.functional as F

    _patch(F, seed)


@contextlib.contextmanager
def machine(seed: int) -> Iterator[None]:
    """Run a block on the emulated machine of nudge ``seed`` (0: this CPU as it is), then put back
    whatever ``torch.nn.functional`` had before (a nudge in force, or none)."""
    import torch.nn.functional as F

    before = {name: getattr(F, name) for name in NUDGED}
    try:
        for name, fn in before.items():  # start from the plain functions
            setattr(F, name, getattr(fn, "__wrapped__", fn) if hasattr(fn, "__advcourse_nudge__") else fn)
        if seed:
            install(seed)
        yield
    finally:
        for name, fn in before.items():
            setattr(F, name, fn)


class _NudgeOnImport(importlib.abc.MetaPathFinder):
    """Patches ``torch.nn.functional`` the moment torch imports it, so a process that asks for the
    nudge at start-up (sitecustomize) does not import torch before it needs it."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != MODULE:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        execute, seed = spec.loader.exec_module, self.seed

        def exec_module(module: Any) -> None:
            execute(module)
            _patch(module, seed)

        spec.loader.exec_module = exec_module
        return spec


def install_on_import(seed: int) -> None:
    """:func:`install` now if torch is loaded, else as soon as it is (what ``ADVCOURSE_NUDGE`` does)."""
    _check(seed)
    if MODULE in sys.modules:
        _patch(sys.modules[MODULE], seed)
    else:
        sys.meta_path.insert(0, _NudgeOnImport(seed))


def installed() -> int | None:
    """The seed of the nudge in force in this process, or None."""
    functional = sys.modules.get(MODULE)
    return getattr(getattr(functional, "linear", None), "__advcourse_nudge__", None)
