"""Shared plumbing for every attack: labels, steps, projections, details (checks: advcourse.core.checks).

Taught in 04_gradients (the guard and the input gradient) and used by 05_fgsm, 06_pgd, 07_deepfool.
Each attack module keeps only its paper's algorithm; everything they have in common lives here, once:

* validation (from :mod:`advcourse.core.checks`, re-exported): bad input raises ``ValueError`` /
  ``TypeError`` naming the argument;
* :func:`frozen` (from :mod:`advcourse.core.checks`): eval mode, parameters frozen, autograd on; each
  submodule's mode, each parameter's flag and ``.grad`` are restored in ``finally``;
* labels: ``y=None`` means "the model's own prediction";
* the loss, the input gradient (``torch.autograd.grad`` w.r.t. the input only, never into the
  parameters), steepest-ascent directions, Lp-ball projections and the box clip;
* :class:`AttackInfo`: per-sample details for the notebooks (``return_info=True``).

Pixel convention: attacks see float pixels in ``[clip_min, clip_max]`` (default [0, 1]); the model
normalises inside itself. Nothing here normalises or un-normalises.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# The validation layer and the model guard live in advcourse.core.checks (public); re-exported here so
# ``_core.check_images`` and ``_core.frozen`` keep working for every attack.
from advcourse.core.checks import (  # noqa: F401
    INF,
    RANGE_TOLERANCE,
    _number,
    check_bool,
    check_budget,
    check_clip,
    check_count,
    check_generator,
    check_images,
    check_labels,
    check_logits,
    check_model,
    check_model_input,
    check_nonnegative,
    check_norm,
    frozen,
)
from advcourse.core.formatting import rounded_repr

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
    "check_bool",
    "check_budget",
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

_TINY = 1e-12  # denominators: a zero gradient gives a zero step, never NaN


def logits_of(model: nn.Module, x: Tensor, y: Tensor | None = None) -> Tensor:
    """``model(x)``, checked to be (N, K) logits; also checks ``y < K`` when labels are given."""
    return check_logits(model(x), x.shape[0], y)


def predicted_labels(model: nn.Module, x: Tensor) -> Tensor:
    """The model's top-1 answers [N] on ``x`` (one no-grad forward; the model left exactly as found)."""
    with frozen(model, x), torch.no_grad():
        return logits_of(model, x).argmax(1)


def resolve_labels(model: nn.Module, x: Tensor, y: Tensor | None) -> Tensor:
    """``y`` if given, else the model's predictions on ``x`` (one no-grad forward)."""
    if y is not None:
        return y
    with torch.no_grad():
        return logits_of(model, x).argmax(1)


def check_iterative(model: nn.Module, x: Tensor, clip_min: float, clip_max: float, eps: object,
                    step_size: object, steps: object) -> tuple[float, float, float, float, int]:
    """The checks every iterated gradient attack (PGD, MI-FGSM) starts with, in the order a learner
    reads its arguments: the model, the pixel box, ``x`` inside it, then eps, step size and steps.
    Returns ``(clip_min, clip_max, eps, step_size, steps)``."""
    check_model(model)
    clip_min, clip_max = check_clip(clip_min, clip_max)
    check_images(x, clip_min, clip_max)
    return (clip_min, clip_max, check_nonnegative(eps, "eps"), check_nonnegative(step_size, "step_size"),
            check_count(steps, "steps"))


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
