"""Which loss should an attack climb? Carlini & Wagner's margin against cross-entropy, measured.

Taught in 11_evaluation. The attack itself is :func:`advcourse.attacks.cw` (tensors in, tensors
out); this module runs it twice per constant ``c`` — once minimising the margin (f6), once
cross-entropy — on the same images and steps, and keeps what a learner compares: the success rate,
the mean L2 it paid and the final margin. :class:`LossComparison` draws the two curves and feeds the
notebook's slider (:mod:`advcourse.widgets.evaluation`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from matplotlib.figure import Figure
from torch import Tensor, nn

from advcourse.attacks import _core
from advcourse.attacks._blackbox import margin  # z_y − max_{i≠y} z_i: below 0 once the attack has won
from advcourse.attacks.cw import LOSSES, cw
from advcourse.core.formatting import rounded_repr
from advcourse.core.viz import figure_function, new_figure

__all__ = ["LossComparison", "compare_losses"]


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
    for name in LOSSES:
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
