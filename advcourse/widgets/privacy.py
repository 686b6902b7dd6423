"""The threshold app of 13_privacy: pick the false-positive rate you can live with, see who you catch.

Taught in 13_privacy. :func:`render_threshold` draws a finished
:class:`~advcourse.privacy.study.MembershipGame` at one false-positive rate: where LiRA's threshold
falls among the members' and non-members' scores, and each attack's operating point on the log-log
ROC. Moving the slider runs no model.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure

from advcourse.core import checks
from advcourse.core.viz import figure_function, new_figure
from advcourse.privacy.study import ATTACKS, MembershipGame, draw_roc
from advcourse.widgets import make_app

__all__ = ["FPRS", "render_threshold", "threshold_caption", "threshold_app"]

#: The slider's false-positive rates.
FPRS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5)


def _check(game: Any, fpr: Any) -> float:
    checks.check_instance(game, MembershipGame, "game", "made by advcourse.privacy.membership_game")
    fpr = checks.check_positive(fpr, "fpr")
    if fpr >= 1:
        raise ValueError(f"fpr: expected a false-positive rate in (0, 1), got {fpr:g}")
    return fpr


def _threshold(game: MembershipGame, attack: str, fpr: float) -> float:
    """The lowest score threshold that at most ``fpr`` of the non-members reach."""
    outside = np.sort(game.scores[attack][~game.is_member].double().cpu().numpy())[::-1]
    allowed = int(np.floor(fpr * len(outside)))
    return float(outside[allowed]) if allowed < len(outside) else float(outside[-1])


@figure_function
def render_threshold(game: MembershipGame, fpr: float) -> Figure:
    """Left: LiRA's scores of members and non-members with the threshold that keeps the false-positive
    rate at ``fpr``; right: each attack's ROC on log-log axes with its point at that rate."""
    fpr = _check(game, fpr)
    fig = new_figure(10.5, 4.6)
    ax_hist, ax_roc = fig.subplots(1, 2)
    scores = game.scores["LiRA"].double().cpu().numpy()
    truth = game.is_member.cpu().numpy()
    low, high = np.percentile(scores, [0.5, 99.9])
    bins = np.linspace(low, high, 50)
    ax_hist.hist(np.clip(scores[~truth], low, high), bins=bins, alpha=0.6, color="C0", label="non-members")
    ax_hist.hist(np.clip(scores[truth], low, high), bins=bins, alpha=0.6, color="C3", label="members")
    cut = _threshold(game, "LiRA", fpr)
    ax_hist.axvline(cut, color="black", linestyle="--", label=f"threshold at {fpr:.1%} FPR")
    tallest = max(np.histogram(np.clip(scores[side], low, high), bins=bins)[0].max() for side in (truth, ~truth))
    ax_hist.set(yscale="log", ylim=(0.7, 60 * tallest), xlabel="LiRA score (higher: more likely a member)",
                ylabel="examples", title="Where the threshold falls")  # headroom on top for the legend
    ax_hist.legend(loc="upper left")
    curves = {name: game.roc(name) for name in ATTACKS}
    draw_roc(ax_roc, curves)
    for k, name in enumerate(ATTACKS):
        ax_roc.plot([fpr], [max(game.tpr(name, fpr), 1e-4)], "o", color=f"C{k}", markersize=8)
    ax_roc.axvline(fpr, color="black", linestyle="--", linewidth=1)
    ax_roc.legend(loc="lower right")
    ax_roc.set_title("Each attack at that rate")
    return fig


def threshold_caption(game: MembershipGame, fpr: float) -> str:
    """The game at ``fpr`` in words: each attack's true-positive rate."""
    fpr = _check(game, fpr)
    found = ", ".join(f"{name} finds {game.tpr(name, fpr):.1%} of the members" for name in ATTACKS)
    return f"accusing at most {fpr:.1%} of the non-members: {found}"


def threshold_app(game: MembershipGame) -> Any:
    """A false-positive-rate slider (:data:`FPRS`) over :func:`render_threshold`."""
    import ipywidgets as W

    checks.check_instance(game, MembershipGame, "game", "made by advcourse.privacy.membership_game")
    fpr = W.SelectionSlider(options=[(f"{100 * f:g} %", f) for f in FPRS], value=0.01, description="FPR",
                            continuous_update=False)
    return make_app(lambda fpr: render_threshold(game, fpr), {"fpr": fpr},
                    caption=lambda fpr: threshold_caption(game, fpr))
