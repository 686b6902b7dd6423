"""Carlini & Wagner's L2 attack: the smallest perturbation that crosses the margin. Taught in 11_evaluation.

PGD fixes a budget and asks for the worst point inside it. Carlini & Wagner ask the opposite
question: the *smallest* change that flips the label. They minimise ``‖δ‖₂² + c · f(x + δ)``,
where ``f`` is a margin on the logits that stops rewarding the attack once the wrong class leads
by ``kappa`` (their f6). Cross-entropy in its place never stops rewarding it: the optimiser keeps
buying confidence with distortion. A ``tanh`` change of variables keeps every pixel in the box
without projection, so a plain Adam optimiser does the work.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from torch import Tensor, nn

from advcourse.attacks import _core
from advcourse.attacks._blackbox import margin  # z_y − max_{i≠y} z_i: below 0 once the attack has won
from advcourse.attacks._core import AttackInfo
from advcourse.core.checks import shared_attack_checks
from advcourse.core.formatting import rounded_repr
from advcourse.core.viz import figure_function, new_figure

__all__ = ["cw", "LossComparison", "compare_losses"]

_LOSSES = ("margin", "ce")
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
    if not isinstance(loss, str) or loss.strip().lower() not in _LOSSES:
        raise ValueError(f"loss: expected one of {', '.join(map(repr, _LOSSES))}, got {loss!r}")
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


@dataclass
class LossComparison:
    """CW with the margin (f6) and with cross-entropy, at the same constants ``c``.

    Attributes:
        c: the constants tried.
        success: loss name -> success rate in [0, 1] per ``c``.
        l2_mean: loss name -> mean ‖x_adv − x‖₂ over the successful samples per ``c`` (``nan`` if none).
        margin_mean: loss name -> mean final margin (negative: the attack won) per ``c``.
    """

    __repr__ = rounded_repr

    c: list[float]
    success: dict[str, list[float]]
    l2_mean: dict[str, list[float]]
    margin_mean: dict[str, list[float]]

    def success_at_l2(self, name: str, l2: float) -> float:
        """Success rate of loss ``name`` at mean L2 ``l2``, read off its curve (linear between the
        constants tried, flat beyond them; constants without a success are left out)."""
        import numpy as np

        if name not in self.success:
            raise ValueError(f"name: expected one of {', '.join(map(repr, self.success))}, got {name!r}")
        pairs = sorted((d, s) for d, s in zip(self.l2_mean[name], self.success[name]) if not math.isnan(d))
        if not pairs:
            return 0.0
        return float(np.interp(l2, [d for d, _ in pairs], [s for _, s in pairs]))

    @figure_function
    def plot(self) -> Figure:
        """Success rate against mean L2 of the successes, one line per loss, one point per ``c``
        (``c`` grows along each line)."""
        fig = new_figure(5.5, 3.6)
        ax = fig.subplots()
        for name, marker in zip(self.success, "os"):
            ax.plot(self.l2_mean[name], self.success[name], marker=marker, label=f"CW with {name} loss")
        ax.set_xlabel("mean L2 of the successful perturbations")
        ax.set_ylabel("success rate")
        ax.set_ylim(-0.05, 1.05)
        fig.legend(loc="outside lower center", ncols=2)
        return fig


def compare_losses(model: nn.Module, x: Tensor, y: Tensor, *, c: list[float], kappa: float = 0.0,
                   steps: int = 50, lr: float = 0.05) -> LossComparison:
    """Run :func:`cw` with ``loss="margin"`` and ``loss="ce"`` for each ``c``; same images, same steps.

    The margin's slope does not depend on how sure the model is; cross-entropy's gradient
    ``onehot(y) − softmax`` vanishes on inputs the model is confident about, so at the same ``c``
    it breaks fewer of them, and at the same mean distortion it breaks fewer too.

    Args:
        model, x, y: as :func:`cw` (``y``: true labels, untargeted).
        c: constants to try, e.g. ``[0.1, 1, 10]``.
        kappa, steps, lr: as :func:`cw`.

    Returns:
        :class:`LossComparison`.
    """
    if isinstance(c, (str, bytes)) or not hasattr(c, "__iter__") or not list(c):
        raise TypeError(f"c: expected a non-empty list of constants such as [0.1, 1, 10], got {c!r}")
    cs = [_core.check_nonnegative(v, "c") for v in c]
    result = LossComparison(cs, {}, {}, {})
    for name in _LOSSES:
        for key in ("success", "l2_mean", "margin_mean"):
            getattr(result, key)[name] = []
        for value in cs:
            x_adv, info = cw(model, x, y, c=value, kappa=kappa, steps=steps, lr=lr, loss=name, return_info=True)
            with _core.frozen(model, x), torch.no_grad():
                m = margin(_core.logits_of(model, x_adv), info.y, False)
            result.success[name].append(info.success_rate)
            l2 = info.l2[info.success]
            result.l2_mean[name].append(float(l2.mean()) if l2.numel() else float("nan"))
            result.margin_mean[name].append(float(m.mean()))
    return result
