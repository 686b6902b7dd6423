"""Shared plumbing for every attack: checks, model guard, labels, steps, projections, details.

Taught in 04_gradients (the guard and the input gradient) and used by 05_fgsm, 06_pgd, 07_deepfool.
Each attack module keeps only its paper's algorithm; everything they have in common lives here, once:

* validation: bad input raises ``ValueError`` / ``TypeError`` naming the argument;
* :func:`frozen`: eval mode, parameters frozen, autograd on; the model's modes and flags are
  restored in ``finally`` (so also when the attack raises);
* labels: ``y=None`` means "the model's own prediction";
* the loss, the input gradient (``torch.autograd.grad`` w.r.t. the input only, never into the
  parameters), steepest-ascent directions, Lp-ball projections and the box clip;
* :class:`AttackInfo`: per-sample details for the notebooks (``return_info=True``).

Pixel convention: attacks see float pixels in ``[clip_min, clip_max]`` (default [0, 1]); the model
normalises inside itself. Nothing here normalises or un-normalises.
"""

from __future__ import annotations

import math
import numbers
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from advcourse.formatting import rounded_repr

__all__ = [
    "AttackInfo",
    "INF",
    "check_model",
    "check_images",
    "check_clip",
    "check_nonnegative",
    "check_count",
    "check_norm",
    "check_labels",
    "check_generator",
    "frozen",
    "logits_of",
    "resolve_labels",
    "loss",
    "input_grad",
    "is_success",
    "direction",
    "project",
    "clip",
    "random_start",
    "per_sample_norm",
    "make_info",
]

INF = float("inf")

#: Slack allowed on the pixel-range check: float round trips (e.g. normalise then un-normalise)
#: land a few ulps outside [0, 1], and rejecting -3e-8 helps nobody (torchattacks #136).
RANGE_TOLERANCE = 1e-6

_TINY = 1e-12  # denominators: a zero gradient gives a zero step, never NaN

_NORM_NAMES = {"inf": INF, "linf": INF, "l_inf": INF, "2": 2.0, "l2": 2.0, "1": 1.0, "l1": 1.0}


# ----------------------------------------------------------------------------- validation
def check_model(model: object) -> nn.Module:
    """Raise ``TypeError`` unless ``model`` is an ``nn.Module``."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    return model


def _number(value: object, name: str) -> float:
    if isinstance(value, Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a real number, got {type(value).__name__}")
    value = float(value)
    if math.isnan(value):
        raise ValueError(f"{name}: expected a number, got nan")
    return value


def check_clip(clip_min: float, clip_max: float) -> tuple[float, float]:
    """Validate the pixel box; returns ``(clip_min, clip_max)`` as floats."""
    lo, hi = _number(clip_min, "clip_min"), _number(clip_max, "clip_max")
    if not lo < hi:
        raise ValueError(f"clip_min/clip_max: expected clip_min < clip_max, got {lo} and {hi}")
    return lo, hi


def check_images(x: object, clip_min: float = 0.0, clip_max: float = 1.0, name: str = "x") -> Tensor:
    """Check that ``x`` is a float (N, C, H, W) tensor with finite values inside the clip box.

    A slack of :data:`RANGE_TOLERANCE` (relative to the box width) is allowed for float noise.
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name}: expected a floating-point tensor (pixels as floats), got {x.dtype}")
    if x.dim() != 4:
        raise ValueError(f"{name}: expected shape (N, C, H, W), got {x.dim()}-D shape {tuple(x.shape)}")
    if x.shape[0] == 0:
        raise ValueError(f"{name}: expected at least one sample, got an empty batch")
    lo, hi = check_clip(clip_min, clip_max)
    xmin, xmax = (v.item() for v in torch.aminmax(x.detach()))
    if math.isnan(xmin) or math.isnan(xmax) or math.isinf(xmin) or math.isinf(xmax):
        raise ValueError(f"{name}: contains NaN or infinite values")
    tol = RANGE_TOLERANCE * max(1.0, hi - lo if math.isfinite(hi - lo) else 1.0)
    if xmin < lo - tol or xmax > hi + tol:
        raise ValueError(
            f"{name}: pixels must lie in [clip_min, clip_max] = [{lo:g}, {hi:g}], got values in "
            f"[{xmin:.4g}, {xmax:.4g}]; feed un-normalised pixels (the model normalises inside)"
        )
    return x


def check_nonnegative(value: object, name: str) -> float:
    """A finite real number >= 0 (budgets such as ``eps``, ``step_size``, ``overshoot``)."""
    v = _number(value, name)
    if v < 0 or math.isinf(v):
        raise ValueError(f"{name}: expected a finite number >= 0, got {v}")
    return v


def check_count(value: object, name: str, minimum: int = 0) -> int:
    """An ``int`` >= ``minimum`` (``steps``, ``max_iter``, ``num_classes``)."""
    if isinstance(value, Tensor) and value.numel() == 1 and not value.is_floating_point():
        value = int(value.item())
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name}: expected an int >= {minimum}, got {value}")
    return int(value)


def check_norm(norm: object, allowed: tuple[float, ...]) -> float:
    """Canonical norm as a float (``inf``, ``2.0`` or ``1.0``); accepts ``"inf"``, ``"l2"``, ``2``…"""
    if isinstance(norm, str):
        key = norm.strip().lower()
        if key not in _NORM_NAMES:
            raise ValueError(f"norm: expected one of {_names(allowed)}, got {norm!r}")
        p = _NORM_NAMES[key]
    elif isinstance(norm, numbers.Real) and not isinstance(norm, bool):
        p = float(norm)
    else:
        raise TypeError(f"norm: expected a number such as float('inf') or 2, got {type(norm).__name__}")
    if p not in allowed:
        raise ValueError(f"norm: expected one of {_names(allowed)}, got {norm!r}")
    return p


def _names(allowed: tuple[float, ...]) -> str:
    return ", ".join("float('inf')" if p == INF else str(int(p)) for p in allowed)


def check_labels(y: object, x: Tensor, *, targeted: bool = False, name: str = "y") -> Tensor | None:
    """Check ``y`` against the batch ``x``: int64-like tensor of shape (N,), moved to ``x.device``.

    ``None`` is allowed for untargeted attacks (the model's predictions are used); a targeted attack
    needs its target labels. The upper end of the range is checked once the logits are known
    (:func:`logits_of`).
    """
    if y is None:
        if targeted:
            raise ValueError(f"{name}: a targeted attack needs the target labels, got None")
        return None
    if not isinstance(y, Tensor):
        raise TypeError(f"{name}: expected a LongTensor of shape (N,), got {type(y).__name__}")
    if y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
        raise TypeError(f"{name}: expected integer class indices (torch.long), got {y.dtype}")
    n = x.shape[0]
    if tuple(y.shape) != (n,):
        raise ValueError(f"{name}: expected shape ({n},) to match x, got {tuple(y.shape)}")
    y = y.detach().to(device=x.device, dtype=torch.long)
    if int(y.min()) < 0:
        raise ValueError(f"{name}: class indices must be >= 0, got {int(y.min())}")
    return y


def check_generator(generator: object) -> torch.Generator | None:
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator: expected a torch.Generator or None, got {type(generator).__name__}")
    return generator


def _check_device(model: nn.Module, x: Tensor) -> None:
    for t in model.parameters():
        if t.device != x.device:
            raise ValueError(
                f"x: is on {x.device} but the model's parameters are on {t.device}; move x with x.to({str(t.device)!r})"
            )
        return


# ----------------------------------------------------------------------------- the model guard
@contextmanager
def frozen(model: nn.Module, x: Tensor | None = None) -> Iterator[nn.Module]:
    """Run an attack on ``model`` in eval mode with frozen parameters; restore everything after.

    Inside the block: every submodule is in eval mode (BatchNorm uses, and never updates, its running
    statistics; dropout is off), every parameter has ``requires_grad=False`` (so backward passes stop
    at the input and no parameter ``.grad`` is ever written) and autograd is enabled even when the
    caller is under ``torch.no_grad()``. On exit, normal or by exception, each submodule's
    ``training`` flag and each parameter's ``requires_grad`` flag are put back exactly as found.
    """
    check_model(model)
    if x is not None:
        _check_device(model, x)
    modes = [(m, m.training) for m in model.modules()]
    flags = [(p, p.requires_grad) for p in model.parameters()]
    try:
        model.eval()
        for p, _ in flags:
            p.requires_grad_(False)
        with torch.enable_grad():
            yield model
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)
        for m, mode in modes:
            m.training = mode


def logits_of(model: nn.Module, x: Tensor, y: Tensor | None = None) -> Tensor:
    """``model(x)``, checked to be (N, K) logits; also checks ``y < K`` when labels are given."""
    logits = model(x)
    if not isinstance(logits, Tensor) or logits.dim() != 2 or logits.shape[0] != x.shape[0]:
        shape = tuple(logits.shape) if isinstance(logits, Tensor) else type(logits).__name__
        raise ValueError(f"model: expected 2-D logits of shape ({x.shape[0]}, num_classes), got {shape}")
    if y is not None and y.numel() and int(y.max()) >= logits.shape[1]:
        raise ValueError(f"y: class indices must be < num_classes = {logits.shape[1]}, got {int(y.max())}")
    return logits


def resolve_labels(model: nn.Module, x: Tensor, y: Tensor | None) -> Tensor:
    """``y`` if given, else the model's predictions on ``x`` (one no-grad forward)."""
    if y is not None:
        return y
    with torch.no_grad():
        return logits_of(model, x).argmax(1)


# ----------------------------------------------------------------------------- loss and gradient
def loss(logits: Tensor, y: Tensor, targeted: bool = False) -> Tensor:
    """Cross-entropy summed over the batch, to be *ascended*.

    Summed (not averaged) so that a sample's gradient does not depend on the batch size; negated
    when ``targeted`` so that ascending it walks *down* the loss of the target class.
    """
    ce = F.cross_entropy(logits, y, reduction="sum")
    return -ce if targeted else ce


def input_grad(objective: Tensor, x: Tensor) -> Tensor:
    """Gradient of a scalar ``objective`` w.r.t. ``x`` only (no graph kept, no parameter grads)."""
    (grad,) = torch.autograd.grad(objective, x)
    return grad


def is_success(logits: Tensor, y: Tensor, targeted: bool = False) -> Tensor:
    """Per-sample bool: misclassified (untargeted, ``y`` = true labels) or on target (targeted)."""
    pred = logits.argmax(1)
    return pred == y if targeted else pred != y


# ----------------------------------------------------------------------------- geometry
def per_sample_norm(t: Tensor, p: float) -> Tensor:
    """Lp norm of each sample of an (N, ...) tensor, shape (N,)."""
    return torch.linalg.vector_norm(t.flatten(1), ord=p, dim=1)


def _per_sample(v: Tensor, like: Tensor) -> Tensor:
    return v.view(-1, *([1] * (like.dim() - 1)))


def direction(grad: Tensor, norm: float) -> Tensor:
    """Steepest-ascent step of unit size: ``sign(g)`` for L∞, ``g / ‖g‖ₚ`` per sample for L2 / L1."""
    if norm == INF:
        return grad.sign()
    return grad / _per_sample(per_sample_norm(grad, norm).clamp_min(_TINY), grad)


def project(delta: Tensor, eps: float, norm: float) -> Tensor:
    """Project each sample of ``delta`` onto the Lp ball of radius ``eps`` (L∞: clamp; L2: rescale)."""
    if norm == INF:
        return delta.clamp(-eps, eps)
    factor = (eps / per_sample_norm(delta, norm).clamp_min(_TINY)).clamp(max=1.0)
    return delta * _per_sample(factor, delta)


def clip(x: Tensor, clip_min: float, clip_max: float) -> Tensor:
    """Clip pixels into the box ``[clip_min, clip_max]`` (always the last step of an update)."""
    return x.clamp(clip_min, clip_max)


def _rand(shape: torch.Size, like: Tensor, generator: torch.Generator | None, normal: bool = False) -> Tensor:
    """Random numbers drawn on the generator's device (so one seed gives one result anywhere)."""
    device = generator.device if generator is not None else like.device
    draw = torch.randn if normal else torch.rand
    return draw(shape, generator=generator, device=device, dtype=like.dtype).to(like.device)


def random_start(x: Tensor, eps: float, norm: float, clip_min: float, clip_max: float,
                 generator: torch.Generator | None = None) -> Tensor:
    """A uniformly random point of the eps-ball around each sample, clipped into the box."""
    if norm == INF:
        delta = (2 * _rand(x.shape, x, generator) - 1) * eps
    else:  # uniform in the L2 ball: Gaussian direction, radius eps * U^(1/d)
        d = x[0].numel()
        g = _rand(x.shape, x, generator, normal=True)
        r = _rand(torch.Size([x.shape[0]]), x, generator) ** (1.0 / d) * eps
        delta = direction(g, 2.0) * _per_sample(r, x)
    return clip(x + delta, clip_min, clip_max)


# ----------------------------------------------------------------------------- per-sample details
@dataclass
class AttackInfo:
    """Per-sample details of one attack run (``return_info=True``); every field has shape (N,).

    Attributes:
        success: bool; misclassified (untargeted) or classified as the target (targeted) at ``x_adv``.
        iterations: int64; gradient steps used (FGSM: 1; PGD with ``early_stop``: until success;
            DeepFool: linearisation steps until the label flipped).
        l2, linf: float; ‖x_adv − x‖₂ and ‖x_adv − x‖∞ per sample.
        y: int64; the labels the attack used (true labels, targets, or the model's predictions).
        pred: int64; the model's prediction at ``x_adv``.
    """

    __repr__ = rounded_repr  # floats rounded: the same on every CPU

    success: Tensor
    iterations: Tensor
    l2: Tensor
    linf: Tensor
    y: Tensor
    pred: Tensor

    @property
    def success_rate(self) -> float:
        """Fraction of samples where the attack succeeded."""
        return float(self.success.float().mean())

    def __len__(self) -> int:
        return int(self.success.shape[0])


def make_info(model: nn.Module, x: Tensor, x_adv: Tensor, y: Tensor, iterations: Tensor,
              targeted: bool = False, logits: Tensor | None = None) -> AttackInfo:
    """Build :class:`AttackInfo`; runs one no-grad forward at ``x_adv`` unless ``logits`` are given."""
    if logits is None:
        with torch.no_grad():
            logits = logits_of(model, x_adv)
    delta = (x_adv - x).detach()
    return AttackInfo(
        success=is_success(logits, y, targeted).detach(),
        iterations=iterations.detach().to(torch.long),
        l2=per_sample_norm(delta, 2.0),
        linf=per_sample_norm(delta, INF),
        y=y.detach(),
        pred=logits.argmax(1).detach(),
    )
