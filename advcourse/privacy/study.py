"""Membership inference as a game played on many models, and the privacy/accuracy trade-off of DP-SGD.

Taught in 13_privacy. One model gives one ROC curve over N examples; the false-positive rates that
matter (1 %, 0.1 %) then rest on a handful of examples. Carlini et al. (2022) pool instead: every
model of a :class:`~advcourse.privacy.shadows.Shadows` is attacked in turn, with all the others as
its shadow models, and the scores of all (model, example) pairs form one ROC
(:func:`membership_game`). :func:`privacy_tradeoff` plays that game on models trained with DP-SGD at
several ε and without it, and puts accuracy and the attacks' success side by side with what ε
promises (:func:`~advcourse.privacy.dp.tpr_bound`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter
from torch import Tensor

from advcourse.attacks import _core
from advcourse.core import checks
from advcourse.core.formatting import rounded_repr
from advcourse.core.progress import progress_bar
from advcourse.core.viz import figure_function, new_figure, readable_log_ticks
from advcourse.privacy.dp import DP_RECIPE, dp_shadow_models, tpr_bound
from advcourse.privacy.membership import Roc, lira_scores, loss_scores, roc, tpr_at_fpr
from advcourse.privacy.shadows import Shadows, check_digits

__all__ = ["MembershipGame", "membership_game", "best_accuracy", "exposure", "plot_exposure", "plot_roc", "TradeoffRow",
           "PrivacyTradeoff", "privacy_tradeoff"]

#: The false-positive rates the course reports, and the attacks compared.
FPRS = (0.01, 0.001)
ATTACKS = ("LiRA", "loss")


@dataclass
class MembershipGame:
    """Scores of every (model, example) pair, each model attacked with the others as its shadows.

    Attributes:
        scores: attack name -> (M·N,) float64 scores, model by model ("LiRA" online, "loss").
        is_member: (M·N,) bool, the truth for the same pairs.
        accuracy: mean over the models of their accuracy on the examples they did not train on, in [0, 1].
    """

    __repr__ = rounded_repr

    scores: dict[str, Tensor]
    is_member: Tensor
    accuracy: float

    def roc(self, attack: str) -> Roc:
        """The ROC of ``attack`` ("LiRA" or "loss") over all pairs."""
        return roc(self.scores[_attack(attack, self.scores)], self.is_member)

    def tpr(self, attack: str, fpr: float) -> float:
        """``attack``'s true-positive rate at false-positive rate ``fpr`` over all pairs."""
        return tpr_at_fpr(self.scores[_attack(attack, self.scores)], self.is_member, fpr)


def _attack(name: object, scores: dict) -> str:
    if name not in scores:
        raise ValueError(f"attack: expected one of {', '.join(map(repr, scores))}, got {name!r}")
    return name


def membership_game(shadows: Shadows, x: Tensor, y: Tensor, *, targets: int | None = None,
                    progress: bool = True) -> MembershipGame:
    """Attack the first ``targets`` models of ``shadows`` (default: all) with LiRA and the loss attack.

    Args:
        shadows: models trained on halves of ``(x, y)`` (:func:`~advcourse.privacy.train_shadow_models`
            or :func:`~advcourse.privacy.dp_shadow_models`), at least 3 (LiRA needs IN and OUT models
            besides the target).
        x: (N, 1, 8, 8) digits; y: (N,) labels — the data the shadows were trained on halves of.
        targets: how many models to attack in turn, 1 to M.
    """
    checks.check_instance(shadows, Shadows, "shadows", "made by advcourse.privacy.train_shadow_models")
    y = check_digits(x, y)
    if len(shadows.models) < 3:
        raise ValueError(f"shadows: expected at least 3 models (a target, and IN and OUT shadows), got "
                         f"{len(shadows.models)}")
    targets = len(shadows.models) if targets is None else checks.check_count(targets, "targets", minimum=1)
    if targets > len(shadows.models):
        raise ValueError(f"targets: expected at most the {len(shadows.models)} models, got {targets}")
    scores: dict[str, list[Tensor]] = {name: [] for name in ATTACKS}
    accuracy = []
    for m in progress_bar(range(targets), enabled=progress, desc="targets", leave=False):
        model = shadows.models[m]
        scores["LiRA"].append(lira_scores(model, x, y, shadows))
        scores["loss"].append(loss_scores(model, x, y))
        out = ~shadows.members[m]
        with torch.no_grad():
            accuracy.append(float((_core.logits_of(model, x[out]).argmax(1) == y[out]).double().mean()))
    return MembershipGame({k: torch.cat(v) for k, v in scores.items()}, shadows.members[:targets].reshape(-1).cpu(),
                          float(np.mean(accuracy)))


def best_accuracy(scores: Tensor, is_member: Tensor) -> float:
    """The accuracy of the best single threshold on ``scores`` (N,) — the number many tools report, and
    the wrong one to judge an attack by: it depends on the share of members in the test set."""
    curve = roc(scores, is_member)
    members = float(is_member.double().mean())
    return float((curve.tpr * members + (1 - curve.fpr) * (1 - members)).max())


def exposure(game: MembershipGame, n: int) -> Tensor:
    """(n,) LiRA's mean score for each example as a member minus its mean as a non-member, over the
    attacked models: how much training on an example gives it away (high = leaks most)."""
    n = checks.check_count(n, "n", minimum=1)
    if len(game.is_member) % n:
        raise ValueError(f"n: expected the number of examples per model, a divisor of {len(game.is_member)}, got {n}")
    s = game.scores["LiRA"].view(-1, n)
    member = game.is_member.view(-1, n).double()
    inside = (s * member).sum(0) / member.sum(0).clamp(min=1)
    outside = (s * (1 - member)).sum(0) / (1 - member).sum(0).clamp(min=1)
    return inside - outside


@figure_function
def plot_exposure(x: Tensor, y: Tensor, leak: Tensor, k: int = 8) -> Figure:
    """The ``k`` digits that leak most (top row) and least (bottom row) by :func:`exposure`.

    Args:
        x: (N, 1, H, W) digits in [0, 1]; y: (N,) labels; leak: (N,) from :func:`exposure`; k: 1 to 8 per row.
    """
    checks.check_images(x, channels=1)
    y = checks.check_labels(y, x)
    checks.check_tensor(leak, "leak")
    if leak.shape != (len(x),):
        raise ValueError(f"leak: expected one value per digit, shape ({len(x)},), got {tuple(leak.shape)}")
    k = checks.check_count(k, "k", minimum=1)
    if k > 8 or 2 * k > len(x):
        raise ValueError(f"k: expected 1 to min(8, N / 2) digits per row, got {k}")
    order = leak.argsort(descending=True).cpu()
    fig = new_figure(1.15 * k + 1.9, 3.3)
    axes = fig.subplots(2, k, squeeze=False)
    image = None
    for r, (name, rows) in enumerate((("leak most", order[:k]), ("leak least", order[-k:].flip(0)))):
        for ax, i in zip(axes[r], rows.tolist()):
            image = ax.imshow(x[i, 0].detach().cpu().numpy(), cmap="gray", vmin=0, vmax=1)
            ax.set_title(f"{int(y[i])}  ({float(leak[i]):+.0f})")
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(name)
    fig.colorbar(image, ax=axes, label="ink", shrink=0.8)
    fig.suptitle("Which digits leak: label (LiRA exposure)")
    return fig


def draw_roc(ax, curves: dict[str, Roc], bounds: dict[str, float] | None = None, delta: float = 0.0) -> None:
    """Draw ``curves`` on ``ax`` on log-log axes (percent ticks), with chance and each ε's bound dashed."""
    floor = 1e-4
    for k, (name, curve) in enumerate(curves.items()):
        ax.plot(np.maximum(curve.fpr, floor), np.maximum(curve.tpr, floor), color=f"C{k}",
                label=f"{name} (AUC {curve.auc:.2f})")
    grid = np.logspace(-4, 0, 200)
    ax.plot(grid, grid, color="0.5", linestyle=":", label="chance (TPR = FPR)")
    for k, (name, eps) in enumerate((bounds or {}).items()):
        ax.plot(grid, tpr_bound(eps, delta, torch.from_numpy(grid)).numpy(), color=f"C{k}", linestyle="--", linewidth=1,
                label=f"ε = {eps:.2g} bound")
    ax.set(xscale="log", yscale="log", xlim=(floor, 1), ylim=(floor, 1.05), xlabel="false-positive rate",
           ylabel="true-positive rate")
    decades = [10.0 ** k for k in range(-4, 1)]
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_ticks(decades, [f"{d * 100:g}%" for d in decades])
        axis.set_minor_formatter(NullFormatter())


@figure_function
def plot_roc(curves: dict[str, Roc], title: str = "") -> Figure:
    """ROC curves on log-log axes, where the low false-positive rates that matter are visible."""
    checks.check_instance(curves, dict, "curves", "a dict of name -> Roc")
    if not curves or not all(isinstance(c, Roc) for c in curves.values()):
        raise ValueError("curves: expected a non-empty dict of name -> Roc (advcourse.privacy.roc)")
    fig = new_figure(5.6, 4.4)
    ax = fig.subplots()
    draw_roc(ax, curves)
    ax.legend(loc="lower right")
    if title:
        ax.set_title(title)
    return fig


@dataclass
class TradeoffRow:
    """One training setting of :func:`privacy_tradeoff`: ε spent (``inf``: no DP), the models' accuracy
    on digits they never saw, and each attack's TPR at each of :data:`FPRS` and AUC."""

    __repr__ = rounded_repr

    epsilon: float
    accuracy: float
    tpr: dict[str, dict[float, float]]
    auc: dict[str, float]
    game: MembershipGame = field(repr=False)


@dataclass
class PrivacyTradeoff:
    """Rows from the most private to no DP; ``delta`` of every guarantee."""

    rows: list[TradeoffRow]
    delta: float

    def __str__(self) -> str:
        head = ["ε", "accuracy", *[f"{a} TPR@{f:.1%}" for a in ATTACKS for f in FPRS], "LiRA AUC"]
        grid = [head] + [["none" if math.isinf(r.epsilon) else f"{r.epsilon:.2g}", f"{r.accuracy:.0%}",
                          *[f"{r.tpr[a][f]:.1%}" for a in ATTACKS for f in FPRS], f"{r.auc['LiRA']:.2f}"]
                         for r in self.rows]
        widths = [max(len(r[j]) for r in grid) for j in range(len(head))]
        return "\n".join("  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in grid)

    __repr__ = __str__

    @figure_function
    def plot(self) -> Figure:
        """Left: LiRA's ROC for each setting with each ε's promise (dashed); right: accuracy and LiRA's
        TPR at 1 % FPR against ε (no DP drawn at the right edge)."""
        fig = new_figure(10.5, 4.4)
        ax_roc, ax_eps = fig.subplots(1, 2)
        curves = {_label(r.epsilon): r.game.roc("LiRA") for r in self.rows}
        bounds = {_label(r.epsilon): r.epsilon for r in self.rows if not math.isinf(r.epsilon)}
        draw_roc(ax_roc, curves, bounds, self.delta)
        ax_roc.legend(loc="lower right", fontsize=10)
        ax_roc.set_title("LiRA on private models")
        finite = [r.epsilon for r in self.rows if not math.isinf(r.epsilon)]
        right = max(finite) * 4 if finite else 1.0
        at = [right if math.isinf(r.epsilon) else r.epsilon for r in self.rows]
        ax_eps.plot(at, [r.accuracy for r in self.rows], "o-", color="C0", label="accuracy on unseen digits")
        ax_eps.plot(at, [r.tpr["LiRA"][FPRS[0]] for r in self.rows], "s-", color="C3",
                    label=f"LiRA TPR at {FPRS[0]:.0%} FPR")
        ax_eps.axhline(FPRS[0], color="0.5", linestyle=":", label=f"chance ({FPRS[0]:.0%})")
        ax_eps.set(xscale="log", yscale="log", ylim=(FPRS[0] / 2, 1.1), xlabel="ε (no DP at the right)",
                   ylabel="rate", title="Privacy costs accuracy")
        ax_eps.set_xticks(at, [_label(r.epsilon) for r in self.rows])
        ax_eps.xaxis.set_minor_formatter(NullFormatter())
        readable_log_ticks(ax_eps.yaxis)
        ax_eps.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)
        return fig


def _label(epsilon: float) -> str:
    return "no DP" if math.isinf(epsilon) else f"ε = {epsilon:.2g}"




def privacy_tradeoff(x: Tensor, y: Tensor, *, epsilons: Sequence[float | None] = (1.0, 8.0, None),
                     n_models: int = 8, generator: torch.Generator | None = None, progress: bool = True,
                     **recipe) -> PrivacyTradeoff:
    """For each ε (``None``: no DP), train ``n_models`` models with :func:`~advcourse.privacy.dp_train` on
    halves of ``(x, y)`` and play the :func:`membership_game` on them.

    Args:
        x: (N, 1, 8, 8) digits in [0, 1]; y: (N,) labels.
        epsilons: privacy budgets, each > 0 or ``None``; reported in this order, which should run from the
            most private to no DP.
        n_models: models per setting (>= 4, so that each target keeps IN and OUT shadows).
        generator: CPU generator for the halves and seeds (the same halves for every ε).
        recipe: :func:`~advcourse.privacy.dp_train`'s recipe arguments (default :data:`DP_RECIPE`).

    Returns:
        :class:`PrivacyTradeoff`.
    """
    check_digits(x, y)
    epsilons = checks.check_sequence(epsilons, "epsilons", "(1.0, 8.0, None)")
    if not epsilons:
        raise ValueError("epsilons: expected at least one privacy budget")
    n_models = checks.check_count(n_models, "n_models", minimum=4)
    checks.check_generator(generator)
    start = generator.get_state() if generator is not None else None
    rows = []
    for eps in progress_bar(epsilons, enabled=progress, desc="privacy budgets", leave=False):
        if generator is not None:
            generator.set_state(start)  # the same halves and seeds at every ε: only the privacy changes
        shadows = dp_shadow_models(x, y, n_models=n_models, epsilon=eps, generator=generator, progress=False,
                                   **recipe)
        game = membership_game(shadows, x, y, progress=False)
        rows.append(TradeoffRow(shadows.epsilon, game.accuracy, {a: {f: game.tpr(a, f) for f in FPRS} for a in ATTACKS},
                                {a: game.roc(a).auc for a in ATTACKS}, game))
    return PrivacyTradeoff(rows, recipe.get("delta", DP_RECIPE["delta"]))
