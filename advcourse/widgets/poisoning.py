"""The poisoning-rate app of 12_poisoning: how much poison a backdoor needs.

Taught in 12_poisoning. :func:`render_rate` draws a precomputed
:class:`~advcourse.poisoning.study.PoisonSweep` with one rate marked, next to held-out digits as that
rate's model reads them, so moving the slider runs no model.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure

from advcourse.core import checks
from advcourse.core.viz import figure_function, new_figure
from advcourse.poisoning.study import PoisonSweep
from advcourse.widgets import make_app

__all__ = ["render_rate", "rate_caption", "rate_app"]


def _check(sweep: Any, rate: Any) -> int:
    checks.check_instance(sweep, PoisonSweep, "sweep", "made by advcourse.poisoning.study.backdoor_sweep")
    return sweep.at(checks.check_nonnegative(rate, "rate"))


@figure_function
def render_rate(sweep: PoisonSweep, rate: float) -> Figure:
    """The sweep's curves with ``rate`` (one of ``sweep.rates``) marked, and its model's answers on
    the sweep's example digits (titled red where the answer is not the digit's true class)."""
    k = _check(sweep, rate)
    shown = min(len(sweep.examples), 8)
    fig = new_figure(10.5, 3.9)
    left, right = fig.subfigures(1, 2, width_ratios=[1.25, 1])
    ax = left.subplots()
    sweep.draw(ax, rate)
    ax.legend(loc="best")
    ax.set_title(sweep.title)
    axes = np.atleast_1d(right.subplots(2, (shown + 1) // 2)).ravel()
    for i, axi in enumerate(axes):
        axi.axis("off")
        if i < shown:
            im = axi.imshow(sweep.examples[i, 0].float().cpu().numpy(), cmap="gray", vmin=0, vmax=1)
            answer, truth = int(sweep.answers[k, i]), int(sweep.truth[i])
            axi.set_title(f"{truth} → {answer}", color="black" if answer == truth else "#c0392b")
    right.colorbar(im, ax=axes.tolist(), label="pixel value", ticks=[0, 0.5, 1], shrink=0.8)
    right.suptitle(f"held-out digits, the model at {100 * sweep.rates[k]:g} %")
    return fig


def rate_caption(sweep: PoisonSweep, rate: float) -> str:
    """The sweep at ``rate`` in words: rows poisoned and every curve's value."""
    k = _check(sweep, rate)
    values = ", ".join(f"{name} {100 * v[k]:.0f} %" for name, v in sweep.curves.items())
    return f"{100 * sweep.rates[k]:g} % of the training set poisoned ({sweep.poisons[k]} rows): {values}"


def rate_app(sweep: PoisonSweep) -> Any:
    """A poisoning-rate slider (the values of ``sweep.rates``) over :func:`render_rate`."""
    import ipywidgets as W

    checks.check_instance(sweep, PoisonSweep, "sweep", "made by advcourse.poisoning.study.backdoor_sweep")
    rate = W.SelectionSlider(options=[(f"{100 * r:g} %", r) for r in sweep.rates], value=sweep.rates[len(sweep.rates) // 2],
                             description="poisoned", continuous_update=False)
    return make_app(lambda rate: render_rate(sweep, rate), {"rate": rate},
                    caption=lambda rate: rate_caption(sweep, rate))
