"""The query measurements of 09_black_box: success rate against queries, distance against queries.

Taught in 09_black_box. A query attack pays for every image it shows the model, so its natural
report is a curve over the query budget, not one number:

* :func:`query_curves` runs score-based attacks (by default Square and SimBA-DCT, :data:`SCORE_ATTACKS`;
  :func:`score_attacks` sets their budgets)
  once each at the largest budget and reads the whole success-rate-vs-queries curve from the
  per-sample query counts (an attack stops a sample as soon as it succeeds, so "fooled within B
  queries" is ``success & (queries <= B)``) — a :class:`QueryCurves`;
* :func:`distance_curve` runs the decision-based HopSkipJump once per budget and records the L2
  distance it reached — a :class:`DistanceCurve`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import torch
from matplotlib.figure import Figure
from torch import Tensor, nn

from advcourse.core import checks
from advcourse.attacks import hopskipjump, simba, square
from advcourse.attacks._blackbox import QueryInfo
from advcourse.core.formatting import rounded_repr
from advcourse.core.viz import figure_function, new_figure, readable_log_ticks

__all__ = ["SCORE_ATTACKS", "score_attacks", "QueryCurves", "query_curves", "DistanceCurve", "distance_curve"]

#: ``fn(model, x, y, max_queries, generator) -> (x_adv, info)``: a score-based attack with its budget.
ScoreAttack = Callable[[nn.Module, Tensor, Tensor, int, torch.Generator], "tuple[Tensor, QueryInfo]"]


def _eps_text(eps: float) -> str:
    """8/255 for a budget on the 255 grid of photos, 0.2 otherwise."""
    k = eps * 255
    return f"{round(k)}/255" if abs(k - round(k)) < 1e-9 and eps < 0.1 else f"{eps:g}"


def score_attacks(*, square_eps: float = 8 / 255, simba_step: float = 0.2) -> dict[str, ScoreAttack]:
    """The lesson's two score-based attacks, named with their budgets.

    Args:
        square_eps: Square's L∞ budget, in pixel units of [0, 1] (8/255 is the paper's ImageNet
            setting; the 8 × 8 digits of 09 take 0.2).
        simba_step: the L2 length of each SimBA-DCT step along one low-frequency direction.

    Returns:
        ``{"Square (L∞ <eps>)": fn, "SimBA-DCT (step <step>)": fn}``, each
        ``fn(model, x, y, max_queries, generator) -> (x_adv, info)``, ready for :func:`query_curves`.
    """
    square_eps = checks.check_budget(square_eps, "square_eps")
    simba_step = checks.check_positive(simba_step, "simba_step")

    def run_square(model: nn.Module, x: Tensor, y: Tensor, max_queries: int, generator: torch.Generator):
        return square(model, x, y, eps=square_eps, max_queries=max_queries, generator=generator, return_info=True)

    def run_simba(model: nn.Module, x: Tensor, y: Tensor, max_queries: int, generator: torch.Generator):
        return simba(model, x, y, eps=simba_step, max_queries=max_queries, basis="dct", generator=generator,
                     return_info=True)

    return {f"Square (L∞ {_eps_text(square_eps)})": run_square, f"SimBA-DCT (step {simba_step:g})": run_simba}


#: The two score-based attacks at their papers' ImageNet settings: Square in the L∞ ball of 8/255,
#: SimBA-DCT with steps of L2 length 0.2 along low-frequency directions.
SCORE_ATTACKS: dict[str, ScoreAttack] = score_attacks()


@dataclass
class QueryCurves:
    """Success rate against query budget for several score-based attacks on the same images.

    Attributes:
        budgets: query budgets (increasing, the last one the attacks' ``max_queries``).
        images: what the figure calls the attacked images, a plural ("photos", "digits").
        infos: attack name -> :class:`~advcourse.attacks.QueryInfo` of its run (per-sample
            ``success``, ``queries``, ``l2``, ``linf``).
        x_adv: attack name -> (N, C, H, W) final images in [0, 1].
    """

    __repr__ = rounded_repr

    budgets: list[int]
    infos: dict[str, QueryInfo] = field(default_factory=dict)
    x_adv: dict[str, Tensor] = field(default_factory=dict)
    images: str = "images"  # what the axes call the attacked images ("photos", "digits")

    def success(self, attack: str) -> list[float]:
        """The curve of ``attack``: the fraction of images fooled within each budget, in [0, 1]."""
        info = self.infos[attack]
        return [info.success_within(b) for b in self.budgets]

    def fooled_within(self, attack: str, budget: int) -> Tensor:
        """(N,) bool: which images ``attack`` fooled with at most ``budget`` queries."""
        info = self.infos[attack]
        return info.success & (info.queries <= budget)

    @figure_function
    def plot(self, budget: int | None = None) -> Figure:
        """Success rate against queries (log scale), one line per attack; ``budget`` marked if given."""
        fig = new_figure(6.5, 3.6)
        ax = fig.subplots()
        self._draw(ax, budget)
        fig.legend(loc="outside lower center", ncols=len(self.infos) + (budget is not None))
        return fig

    def _draw(self, ax, budget: int | None) -> None:
        for i, name in enumerate(self.infos):
            ax.step(self.budgets, self.success(name), where="post", color=f"C{i}", label=name)
        if budget is not None:
            ax.axvline(budget, color="grey", ls=":", label=f"budget {budget}")
        ax.set_xscale("log")
        readable_log_ticks(ax.xaxis)
        ax.set_xlim(self.budgets[0], self.budgets[-1])
        ax.set_xlabel(f"queries per {self.images[:-1]} (log scale)")
        ax.set_ylabel(f"share of {self.images} fooled")
        ax.set_ylim(0, 1.05)


def _budgets(max_queries: int) -> list[int]:
    """1, then about 12 points per decade up to ``max_queries`` (a smooth step curve on a log axis)."""
    points = {max(1, round(10 ** (k / 12))) for k in range(int(12 * math.log10(max_queries)) + 1)}
    return sorted(p for p in points | {max_queries} if p <= max_queries)


def query_curves(model: nn.Module, x: Tensor, y: Tensor | None = None, *, max_queries: int,
                 attacks: Mapping[str, ScoreAttack] | None = None, seed: int = 0,
                 images: str = "images") -> QueryCurves:
    """Run every score-based attack once with ``max_queries`` per image and keep its query counts.

    Args:
        model: ``nn.Module`` mapping (N, C, H, W) pixels in [0, 1] to (N, K) logits.
        x: (N, C, H, W) float in [0, 1]; y: (N,) int64 labels to move away from (``None`` = the
            model's own predictions).
        max_queries: images each attack may send per photo, >= 1.
        attacks: name -> ``fn(model, x, y, max_queries, generator) -> (x_adv, info)``; default
            :data:`SCORE_ATTACKS`.
        seed: each attack gets a fresh ``torch.Generator`` seeded with it (reproducible on its own).
        images: what the figure calls the images, a plural ending in "s" ("photos", "digits").

    Returns:
        :class:`QueryCurves`; ``curves.success("Square (L∞ 8/255)")`` is one curve.
    """
    checks.check_model(model)
    checks.check_images(x)
    max_queries = checks.check_count(max_queries, "max_queries", minimum=1)
    chosen = dict(SCORE_ATTACKS if attacks is None else attacks)
    if not chosen or not all(callable(fn) for fn in chosen.values()):
        raise TypeError("attacks: expected a non-empty dict name -> fn(model, x, y, max_queries, generator)")
    if not (isinstance(images, str) and images.endswith("s") and len(images) > 1):
        raise ValueError(f"images: expected a plural noun such as 'photos' or 'digits', got {images!r}")
    curves = QueryCurves(_budgets(max_queries), images=images)
    for name, attack in chosen.items():
        x_adv, info = attack(model, x, y, max_queries, torch.Generator(x.device).manual_seed(seed))
        curves.x_adv[name], curves.infos[name] = x_adv, info
    return curves


@dataclass
class DistanceCurve:
    """HopSkipJump's L2 distance against its query budget.

    Attributes:
        budgets: the query budgets, increasing.
        l2: per budget, (N,) float: ‖x_adv − x‖₂ reached (``inf`` where no adversarial image was found).
        x_adv: the images of the largest budget, (N, C, H, W) in [0, 1].
    """

    __repr__ = rounded_repr

    budgets: list[int]
    l2: list[Tensor] = field(default_factory=list)
    x_adv: Tensor | None = None

    def median(self) -> list[float]:
        """Median L2 distance at each budget."""
        return [float(d.median()) for d in self.l2]

    @figure_function
    def plot(self) -> Figure:
        """Median and quartiles of the L2 distance against queries (queries on a log scale)."""
        fig = new_figure(6.5, 3.4)
        ax = fig.subplots()
        q = torch.stack([torch.quantile(d.clamp_max(1e6), torch.tensor([0.25, 0.5, 0.75])) for d in self.l2])
        ax.fill_between(self.budgets, q[:, 0], q[:, 2], color="C0", alpha=0.25, label="middle half of the digits")
        ax.plot(self.budgets, q[:, 1], "-o", color="C0", ms=4, label="median")
        ax.set_xscale("log")
        readable_log_ticks(ax.xaxis)
        ax.set_ylim(0, None)
        ax.set_xlabel("queries per digit (log scale), top-1 label only")
        ax.set_ylabel("L2 distance to the digit")
        fig.legend(loc="outside lower center", ncols=2)
        return fig


def distance_curve(model: nn.Module, x: Tensor, y: Tensor | None = None, *, budgets: Sequence[int],
                   seed: int = 0) -> DistanceCurve:
    """Run :func:`~advcourse.attacks.hopskipjump` (untargeted, L2) once per budget, same seed each time.

    Args:
        model: ``nn.Module`` mapping (N, C, H, W) pixels in [0, 1] to (N, K) logits (only the top-1
            label is used).
        x: (N, C, H, W) float in [0, 1]; y: (N,) int64 true labels (``None`` = the model's predictions).
        budgets: increasing query budgets, each >= 1.
        seed: seeds a fresh ``torch.Generator`` for every run.
    """
    checks.check_model(model)
    checks.check_images(x)
    budgets = [checks.check_count(b, "budgets", minimum=1) for b in checks.check_sequence(budgets, "budgets", "[100, 1000]")]
    if not budgets or budgets != sorted(set(budgets)):
        raise ValueError(f"budgets: expected increasing query budgets, got {budgets}")
    curve = DistanceCurve(budgets)
    for b in budgets:
        x_adv, info = hopskipjump(model, x, y, max_queries=b, generator=torch.Generator(x.device).manual_seed(seed),
                                  return_info=True)
        curve.l2.append(torch.where(info.success, info.l2, torch.full_like(info.l2, math.inf)))
        curve.x_adv = x_adv
    return curve
