"""Auto-PGD (Croce & Hein): PGD without a step size to tune. Taught in 11_evaluation.

PGD's answer depends on a step size and a step count that someone picked; a weak choice makes a
model look robust when it is not. APGD replaces the fixed step by a schedule that halves the step
at checkpoints when the loss stops rising, adds momentum, keeps the best point seen for every
sample, and offers the DLR loss, which does not vanish when the logits are scaled up.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from advcourse.attacks import _core
from advcourse.attacks._core import AttackInfo
from advcourse.core.checks import shared_attack_checks

__all__ = ["apgd", "checkpoints", "dlr_loss"]

ALPHA = 0.75  # momentum weight, Croce & Hein Sec. 3.2
RHO = 0.75  # fraction of steps that must raise the loss between checkpoints (condition 1)
_LOSSES = ("ce", "dlr")


def apgd(model: nn.Module, x: Tensor, y: Tensor | None = None, *, eps: float, steps: int = 100,
         loss: str = "ce", norm: float = _core.INF, restarts: int = 1, targeted: bool = False,
         generator: torch.Generator | None = None, return_info: bool = False, clip_min: float = 0.0,
         clip_max: float = 1.0) -> Tensor | tuple[Tensor, AttackInfo]:
    """PGD with momentum and a step size that halves itself at checkpoints; best point per sample.

    Paper: Croce & Hein, 2020, "Reliable evaluation of adversarial robustness with an ensemble of
        diverse parameter-free attacks", arXiv:2003.01690 (Algorithm 1; DLR loss, Eq. 5; targeted
        DLR, Eq. 6). Defaults follow Sec. 3 and 5: ``steps=100``, initial step ``2·eps``,
        momentum ``alpha = 0.75``, ``rho = 0.75``, checkpoints at 22 %, 22+19 %, … of the steps.

    Threat model: white box; ‖x_adv − x‖ₚ <= eps for p = ∞ or 2, in pixel units.

    Args:
        model: ``nn.Module`` mapping (N, C, H, W) pixels in [clip_min, clip_max] to (N, K) logits.
        x: (N, C, H, W) float tensor on the model's device, pixels in [clip_min, clip_max].
        y: (N,) int64. Untargeted: true labels (``None`` = the model's predictions on ``x``).
            Targeted: the target classes (required).
        eps: radius of the ball >= 0, e.g. ``8/255`` (L∞) or ``0.5`` (L2).
        steps: gradient steps per restart >= 0 (one forward and backward pass each).
        loss: ``"ce"`` (cross-entropy) or ``"dlr"`` (difference of logits ratio; needs >= 3
            classes, >= 4 when targeted).
        norm: ``float("inf")`` (sign steps) or ``2`` (normalised steps).
        restarts: runs from fresh random starts >= 1; each later run attacks only the samples no
            run has broken yet, and each sample keeps its best result.
        targeted: walk towards the classes ``y``. Targeted DLR (Eq. 6) needs each sample's own
            class: the model's prediction on ``x`` stands in for it.
        generator: ``torch.Generator`` for the random starts (reproducible; drawn on its device).
        return_info: also return per-sample :class:`~advcourse.attacks._core.AttackInfo`
            (``iterations``: steps until the first success, counted over restarts).
        clip_min, clip_max: valid pixel box (default [0, 1]).

    Returns:
        ``x_adv``: new detached tensor like ``x``, inside [clip_min, clip_max], ``‖x_adv − x‖ₚ <= eps``
        (up to float rounding for L2): the first successful iterate of each sample, else the one
        with the highest loss. ``eps = 0`` returns ``x``. With ``return_info``: ``(x_adv, info)``.

    Notes:
        Cost: ``restarts · (steps + 1)`` forward and backward passes at most. The model's
        train/eval mode, ``requires_grad`` flags and ``.grad`` are restored, even if this raises.

    Example:
        >>> x_adv = apgd(model, x, y, eps=8/255, steps=100, loss="dlr")
    """
    _core.check_model(model)
    clip_min, clip_max = _core.check_clip(clip_min, clip_max)
    _core.check_images(x, clip_min, clip_max)
    eps = _core.check_nonnegative(eps, "eps")
    steps = _core.check_count(steps, "steps")
    restarts = _core.check_count(restarts, "restarts", minimum=1)
    norm = _core.check_norm(norm, (_core.INF, 2.0))
    if not isinstance(loss, str) or loss.strip().lower() not in _LOSSES:
        raise ValueError(f"loss: expected one of {', '.join(map(repr, _LOSSES))}, got {loss!r}")
    loss = loss.strip().lower()
    y = _core.check_labels(y, x, targeted=targeted)
    _core.check_generator(generator)
    x = x.detach()
    with _core.frozen(model, x):
        with torch.no_grad():
            clean = _core.logits_of(model, x, y)
        if loss == "dlr" and clean.shape[1] < (4 if targeted else 3):
            raise ValueError(f"loss: 'dlr' needs at least {4 if targeted else 3} classes, "
                             f"the model has {clean.shape[1]}; use loss='ce'")
        y = y if y is not None else clean.argmax(1)
        source = clean.argmax(1)  # stands in for the true class in targeted DLR
        objective = _objective(loss, targeted, source)
        x_adv, done = x.clone(), torch.zeros_like(y, dtype=torch.bool)
        best = torch.full(y.shape, -math.inf, dtype=x.dtype, device=x.device)
        iterations = torch.zeros_like(y)
        for _ in range(restarts):
            rows = (~done).nonzero().squeeze(1)
            if rows.numel() == 0:
                break
            run = _single_run(model, x[rows], y[rows], objective, rows, eps, steps, norm, targeted,
                              clip_min, clip_max, generator)
            x_run, loss_run, success, used = run
            take = success | (loss_run > best[rows])  # a success, or a higher loss than before
            x_adv[rows[take]] = x_run[take]
            best[rows] = torch.maximum(best[rows], loss_run)
            iterations[rows] += used
            done[rows] |= success
        if not return_info:
            return x_adv
        return x_adv, _core.make_info(model, x, x_adv, y, iterations, targeted)


apgd = shared_attack_checks(apgd)  # flags must be bools; an L∞ budget must fit the pixel box


def dlr_loss(logits: Tensor, y: Tensor, target: Tensor | None = None) -> Tensor:
    """Difference of logits ratio per sample (N,), to be ascended; invariant to shifting and scaling logits.

    Untargeted (Croce & Hein Eq. 5): ``−(z_y − max_{i≠y} z_i) / (z_π1 − z_π3)``.
    Targeted (Eq. 6, ``target`` given): ``−(z_y − z_t) / (z_π1 − (z_π3 + z_π4)/2)``.
    ``z_π1 >= z_π2 >= …`` are the sorted logits of each sample; ``y`` its own class.
    """
    z = logits.sort(dim=1, descending=True).values
    z_y = logits.gather(1, y[:, None]).squeeze(1)
    if target is not None:
        z_t = logits.gather(1, target[:, None]).squeeze(1)
        return -(z_y - z_t) / (z[:, 0] - (z[:, 2] + z[:, 3]) / 2 + 1e-12)
    top_is_y = logits.argmax(1) == y
    z_other = torch.where(top_is_y, z[:, 1], z[:, 0])  # largest logit of another class
    return -(z_y - z_other) / (z[:, 0] - z[:, 2] + 1e-12)


def checkpoints(steps: int) -> list[int]:
    """Steps at which APGD checks its progress: the paper's ``w_j = ⌈p_j · steps⌉``, made integer.

    ``p_0 = 0``, ``p_1 = 0.22``, ``p_{j+1} = p_j + max(p_j − p_{j−1} − 0.03, 0.06)`` (Sec. 3.2):
    the gaps shrink by 3 % of ``steps`` from 22 % down to 6 %, each at least one step (as in the
    authors' code).
    """
    gap, shrink, smallest = max(int(0.22 * steps), 1), max(int(0.03 * steps), 1), max(int(0.06 * steps), 1)
    marks, w = [], 0
    while w + gap <= steps:
        w += gap
        marks.append(w)
        gap = max(gap - shrink, smallest)
    return marks


def _objective(loss: str, targeted: bool, source: Tensor):
    """Per-sample loss to ascend, as a function of (logits, y, rows of the batch)."""
    if loss == "ce":
        sign = -1.0 if targeted else 1.0  # targeted: walk down the target's cross-entropy
        return lambda logits, y, rows: sign * F.cross_entropy(logits, y, reduction="none")
    if targeted:
        return lambda logits, y, rows: dlr_loss(logits, source[rows], target=y)
    return lambda logits, y, rows: dlr_loss(logits, y)


def _loss_and_grad(model: nn.Module, x_adv: Tensor, y: Tensor, objective, rows: Tensor):
    x_in = x_adv.detach().requires_grad_(True)
    logits = _core.logits_of(model, x_in, y)
    values = objective(logits, y, rows)
    grad = _core.input_grad(values.sum(), x_in)  # summed: each sample's gradient is its own
    return values.detach(), grad, logits.detach()


def _step(x: Tensor, x_adv: Tensor, x_prev: Tensor, grad: Tensor, step_size: Tensor, alpha: float,
          eps: float, norm: float, clip_min: float, clip_max: float) -> Tensor:
    """One APGD update (Algorithm 1, lines 8-9), P = projection onto the eps-ball, then the box::

        z       = P(x_k + η · dir(∇f(x_k)))
        x_{k+1} = P(x_k + α (z − x_k) + (1 − α)(x_k − x_{k−1}))
    """
    def proj(p: Tensor) -> Tensor:
        return _core.clip(x + _core.project(p - x, eps, norm), clip_min, clip_max)

    z = proj(x_adv + step_size.view(-1, 1, 1, 1) * _core.direction(grad, norm))
    return proj(x_adv + alpha * (z - x_adv) + (1 - alpha) * (x_adv - x_prev))


def _single_run(model: nn.Module, x: Tensor, y: Tensor, objective, rows: Tensor, eps: float, steps: int,
                norm: float, targeted: bool, clip_min: float, clip_max: float,
                generator: torch.Generator | None) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """One APGD run from a random start: (x_out, best loss, success, steps until success), all per sample."""
    x_adv = _core.random_start(x, eps, norm, clip_min, clip_max, generator)
    values, grad, logits = _loss_and_grad(model, x_adv, y, objective, rows)
    success = _core.is_success(logits, y, targeted)
    x_out = x_adv.clone()  # first success, else the best-loss point
    used = torch.zeros_like(y)
    x_best, grad_best, best = x_adv.clone(), grad.clone(), values.clone()
    step_size = torch.full_like(values, 2 * eps)  # η^(0) = 2·eps
    x_prev, history = x_adv.clone(), [values]
    marks, last_mark = checkpoints(steps), 0
    best_at_mark, halved = best.clone(), torch.ones_like(success)
    for k in range(steps):
        x_next = _step(x, x_adv, x_prev, grad, step_size, ALPHA if k > 0 else 1.0, eps, norm, clip_min, clip_max)
        x_prev, x_adv = x_adv, x_next
        values, grad, logits = _loss_and_grad(model, x_adv, y, objective, rows)
        new = _core.is_success(logits, y, targeted) & ~success
        x_out[new], used[~success] = x_adv[new], k + 1
        success |= new
        better = values > best  # Algorithm 1, line 10: keep the highest-loss point
        x_best[better], grad_best[better], best[better] = x_adv[better], grad[better], values[better]
        history.append(values)
        if k + 1 in marks:  # Sec. 3.2: halve the step where the loss stopped rising
            rising = (torch.stack(history[last_mark:k + 2]).diff(dim=0) > 0).sum(0)
            condition1 = rising <= RHO * (k + 1 - last_mark)
            condition2 = ~halved & (best_at_mark >= best)
            halved = condition1 | condition2
            best_at_mark, last_mark = best.clone(), k + 1
            step_size = torch.where(halved, step_size / 2, step_size)
            x_adv = torch.where(halved.view(-1, 1, 1, 1), x_best, x_adv)  # restart from the best point
            grad = torch.where(halved.view(-1, 1, 1, 1), grad_best, grad)
    x_out[~success] = x_best[~success]
    return x_out, best, success, used
