"""Carlini & Wagner's L2 attack: the smallest perturbation that crosses the margin. Taught in 11_evaluation.

PGD fixes a budget and asks for the worst point inside it. Carlini & Wagner ask the opposite
question: the *smallest* change that flips the label. They minimise ``‖δ‖₂² + c · f(x + δ)``,
where ``f`` is a margin on the logits that stops rewarding the attack once the wrong class leads
by ``kappa`` (their f6). Cross-entropy in its place never stops rewarding it: the optimiser keeps
buying confidence with distortion. A ``tanh`` change of variables keeps every pixel in the box
without projection, so a plain Adam optimiser does the work.
"""

from __future__ import annotations


import torch
import torch.nn.functional as F
from torch import Tensor, nn

from advcourse.attacks import _core
from advcourse.attacks._blackbox import margin  # z_y − max_{i≠y} z_i: below 0 once the attack has won
from advcourse.attacks._core import AttackInfo
from advcourse.core.checks import shared_attack_checks

__all__ = ["cw", "LOSSES"]

#: the objectives :func:`cw` can minimise: Carlini & Wagner's margin (f6) and cross-entropy
LOSSES = ("margin", "ce")
_ATANH_SQUEEZE = 1 - 1e-6  # Carlini's code scales by 0.999999 so that pixels at 0 or 1 map to finite w


def cw(model: nn.Module, x: Tensor, y: Tensor | None = None, *, c: float = 1.0, kappa: float = 0.0,
       steps: int = 100, lr: float = 0.01, search_steps: int = 1, loss: str = "margin",
       targeted: bool = False, clip_min: float = 0.0, clip_max: float = 1.0,
       return_info: bool = False) -> Tensor | tuple[Tensor, AttackInfo]:
    """Minimise ``‖x_adv − x‖₂² + c · f(x_adv)`` with Adam in tanh space; keep the smallest success.

    Paper: Carlini & Wagner, 2017, "Towards Evaluating the Robustness of Neural Networks",
        arXiv:1608.04644 (Sec. V: objective f6, Eq. for f6 in Sec. V-A; change of variables
        ``x_adv = ½(tanh w + 1)``, Sec. V-B method 3; binary search over ``c``, Sec. V-A; the
        L2 attack, Sec. VI). Their ImageNet/CIFAR runs use 9 search steps of up to 10,000 Adam
        steps at ``lr=0.01``; the course keeps both small.

    Threat model: white box, minimum-norm L2: no budget; the attack returns the smallest
        successful perturbation it found, or ``x`` itself where it found none.

    Args:
        model: ``nn.Module`` mapping (N, C, H, W) pixels in [clip_min, clip_max] to (N, K) logits.
        x: (N, C, H, W) float tensor on the model's device, pixels in [clip_min, clip_max].
        y: (N,) int64. Untargeted: true labels (``None`` = the model's predictions on ``x``).
            Targeted: the target classes (required).
        c: weight of the classification term > 0 (the starting value when ``search_steps > 1``).
        kappa: confidence >= 0: the margin ``f6`` stops at ``-kappa``, and a sample only counts as
            a success once the wrong (or target) class leads by at least ``kappa``.
        steps: Adam steps per value of ``c`` (>= 0; one forward and backward pass each).
        lr: Adam's learning rate on ``w`` (> 0).
        search_steps: values of ``c`` tried per sample (>= 1). 1 = no search. Otherwise a
            per-sample binary search: after a success ``c`` moves halfway down towards the largest
            failing value, after a failure it moves up (×10 until a success has been seen).
        loss: ``"margin"`` (f6, the paper's choice) or ``"ce"`` (cross-entropy in its place:
            ``log p_y`` untargeted, ``−log p_t`` targeted; no floor, for the lesson).
        targeted: make the classes ``y`` win instead of making the true class lose.
        clip_min, clip_max: valid pixel box (default [0, 1]).
        return_info: also return per-sample :class:`~advcourse.attacks._core.AttackInfo`
            (``iterations``: Adam steps run over all values of ``c``).

    Returns:
        ``x_adv``: new detached tensor like ``x``, inside [clip_min, clip_max]: for each sample the
        successful iterate with the smallest ‖x_adv − x‖₂ over every step and every ``c``, else
        ``x``. With ``return_info``: ``(x_adv, info)``.

    Notes:
        Cost: ``search_steps · steps`` forward and backward passes. Each sample's loss and Adam
        state are its own, so a batch gives the same answer as its samples one by one. Pixels
        exactly at the box edges start at ``atanh(±(1 − 1e-6))`` and barely move (as in the
        paper's code). The model's train/eval mode, ``requires_grad`` flags and ``.grad`` are
        restored, even if this raises.

    Example:
        >>> x_adv = cw(model, x, y, c=1.0, kappa=0.0, steps=100, lr=0.01)
    """
    _core.check_model(model)
    clip_min, clip_max = _core.check_clip(clip_min, clip_max)
    _core.check_images(x, clip_min, clip_max)
    c = _core.check_nonnegative(c, "c")
    if c == 0:
        raise ValueError("c: expected a number > 0 (with c = 0 the attack only shrinks the perturbation)")
    kappa = _core.check_nonnegative(kappa, "kappa")
    steps = _core.check_count(steps, "steps")
    lr = _core.check_nonnegative(lr, "lr")
    if lr == 0:
        raise ValueError("lr: expected a learning rate > 0, got 0")
    search_steps = _core.check_count(search_steps, "search_steps", minimum=1)
    if not isinstance(loss, str) or loss.strip().lower() not in LOSSES:
        raise ValueError(f"loss: expected one of {', '.join(map(repr, LOSSES))}, got {loss!r}")
    loss = loss.strip().lower()
    y = _core.check_labels(y, x, targeted=targeted)
    x = x.detach()
    with _core.frozen(model, x):
        y = _core.resolve_labels(model, x, y)
        n = x.shape[0]
        best_l2 = torch.full((n,), float("inf"), dtype=x.dtype, device=x.device)
        x_best = x.clone()
        cs = torch.full((n,), c, dtype=x.dtype, device=x.device)
        lower, upper = torch.zeros_like(cs), torch.full_like(cs, float("inf"))
        iterations = torch.zeros_like(y)
        for _ in range(search_steps):
            found = _minimise(model, x, y, cs, kappa, steps, lr, loss, targeted, clip_min, clip_max,
                              x_best, best_l2)
            iterations += steps
            # Sec. V-A: a success lowers c towards the largest failure, a failure raises it
            upper = torch.where(found, torch.minimum(upper, cs), upper)
            lower = torch.where(found, lower, torch.maximum(lower, cs))
            cs = torch.where(upper.isinf(), cs * 10, (lower + upper) / 2)
        if not return_info:
            return x_best
        with torch.no_grad():
            logits = _core.logits_of(model, x_best)
        info = _core.make_info(model, x, x_best, y, iterations, targeted, logits=logits)
        info.success = _succeeded(logits, y, kappa, targeted) & (best_l2 < float("inf"))
        return x_best, info


cw = shared_attack_checks(cw)  # flags must be bools


def _objective(logits: Tensor, y: Tensor, kappa: float, loss: str, targeted: bool) -> Tensor:
    """The classification term f per sample, (N,), to be minimised."""
    if loss == "margin":  # f6: max(margin, −kappa)
        return margin(logits, y, targeted).clamp_min(-kappa)
    log_p = F.log_softmax(logits, dim=1).gather(1, y[:, None]).squeeze(1)
    return -log_p if targeted else log_p


def _succeeded(logits: Tensor, y: Tensor, kappa: float, targeted: bool) -> Tensor:
    """Success with confidence: the wrong (target) class leads by at least ``kappa``."""
    return _core.is_success(logits, y, targeted) & (margin(logits, y, targeted) <= -kappa)


def _to_pixels(w: Tensor, clip_min: float, clip_max: float) -> Tensor:
    """Sec. V-B, method 3: ``x = lo + (hi − lo) · ½(tanh w + 1)``, always inside the box."""
    return clip_min + (clip_max - clip_min) * (torch.tanh(w) + 1) / 2


def _to_w(x: Tensor, clip_min: float, clip_max: float) -> Tensor:
    unit = (x - clip_min) / (clip_max - clip_min) * 2 - 1
    return torch.atanh(unit * _ATANH_SQUEEZE)


def _minimise(model: nn.Module, x: Tensor, y: Tensor, cs: Tensor, kappa: float, steps: int, lr: float,
              loss: str, targeted: bool, clip_min: float, clip_max: float, x_best: Tensor,
              best_l2: Tensor) -> Tensor:
    """One run of Adam at constants ``cs`` (N,); updates ``x_best``/``best_l2`` in place.

    Returns (N,) bool: whether this run found a success for each sample.
    """
    w = _to_w(x, clip_min, clip_max).requires_grad_(True)
    optimiser = torch.optim.Adam([w], lr=lr)
    found = torch.zeros(x.shape[0], dtype=torch.bool, device=x.device)
    for _ in range(steps):
        x_adv = _to_pixels(w, clip_min, clip_max)
        logits = _core.logits_of(model, x_adv, y)
        l2_sq = (x_adv - x).flatten(1).pow(2).sum(1)
        total = l2_sq + cs * _objective(logits, y, kappa, loss, targeted)  # ‖δ‖² + c·f, per sample
        optimiser.zero_grad()
        total.sum().backward()  # summed: each sample's gradient is its own
        with torch.no_grad():
            l2 = l2_sq.sqrt()
            better = _succeeded(logits, y, kappa, targeted) & (l2 < best_l2)
            found |= _succeeded(logits, y, kappa, targeted)
            best_l2[better] = l2[better]
            x_best[better] = x_adv.detach()[better]
        optimiser.step()
    return found
