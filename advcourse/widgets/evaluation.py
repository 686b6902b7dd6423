"""The Carlini–Wagner app of 11_evaluation: a slider over the constant c, margin loss against cross-entropy.

Taught in 11_evaluation. :func:`render_losses` draws, for one ``c`` of a precomputed
:class:`~advcourse.evaluation.losses.LossComparison`, how often each loss succeeded and what L2 it paid,
next to the whole trade-off curve; moving the slider runs no model.
"""

from __future__ import annotations

import math
from typing import Any

from matplotlib.figure import Figure

from advcourse.core import checks
from advcourse.evaluation.losses import LossComparison
from advcourse.core.viz import figure_function, new_figure
from advcourse.widgets import make_app

__all__ = ["render_losses", "losses_app"]


def _index(comparison: LossComparison, c: float) -> int:
    checks.check_instance(comparison, LossComparison, "comparison", "made by advcourse.evaluation.losses.compare_losses")
    c = checks.check_nonnegative(c, "c")
    if not any(math.isclose(v, c) for v in comparison.c):
        raise ValueError(f"c: expected one of the precomputed constants {comparison.c}, got {c!r}")
    return min(range(len(comparison.c)), key=lambda j: abs(comparison.c[j] - c))


@figure_function
def render_losses(comparison: LossComparison, c: float) -> Figure:
    """Left: success rate and mean L2 of each loss at ``c``. Right: success against L2 for every ``c``."""
    i = _index(comparison, c)
    fig = new_figure(9.0, 3.4)
    ax_bar, ax_curve = fig.subplots(1, 2, width_ratios=[1, 1.4])
    names = list(comparison.success)
    for k, name in enumerate(names):
        l2 = comparison.l2_mean[name][i]
        bar = ax_bar.bar(k, comparison.success[name][i], color=f"C{k}", label=f"{name} loss")
        ax_bar.bar_label(bar, labels=[f"L2 {l2:.2f}" if not math.isnan(l2) else "no success"], fontsize=10)
        ax_curve.plot(comparison.l2_mean[name], comparison.success[name], "-o", color=f"C{k}", ms=4)
        ax_curve.plot([l2], [comparison.success[name][i]], "o", color=f"C{k}", ms=11, mfc="none")
    ax_bar.set_xticks(range(len(names)), names)
    ax_bar.set_ylabel("success rate")
    ax_bar.set_ylim(0, 1.15)
    ax_bar.set_title(f"c = {comparison.c[i]:g}")
    ax_curve.set_xlabel("mean L2 of the successes")
    ax_curve.set_ylabel("success rate")
    ax_curve.set_ylim(0, 1.05)
    ax_curve.set_title("every c (circled: the chosen one)")
    fig.legend(loc="outside lower center", ncols=2)
    return fig


def _caption(comparison: LossComparison, c: float) -> str:
    i = _index(comparison, c)
    return "; ".join(f"{name} loss: {comparison.success[name][i]:.0%} broken" for name in comparison.success) \
        + f" at c = {comparison.c[i]:g}"


def losses_app(comparison: LossComparison) -> Any:
    """A slider over the precomputed constants ``c`` driving :func:`render_losses`."""
    import ipywidgets as W

    slider = W.SelectionSlider(options=[(f"{c:g}", c) for c in comparison.c], value=comparison.c[len(comparison.c) // 2],
                               description="c", continuous_update=False)
    return make_app(lambda c: render_losses(comparison, c), {"c": slider},
                    caption=lambda c: _caption(comparison, c))
