"""Transfer attacks: craft on surrogates you own, test on a victim you never queried. Taught in 09_black_box.

* :class:`Ensemble`: several surrogates as one model (the average of their logits), so an attack
  crafted on it must fool all of them at once — and tends to fool an unseen victim more often;
* :data:`TRANSFER_ATTACKS`: FGSM, PGD, MI-FGSM and DI-MI-FGSM, each as ``fn(model, x, y, eps, generator)``
  with the step schedule of its paper;
* :func:`transfer_table`: the transfer rate of every (surrogate, attack) pair to every victim, per
  budget — a :class:`TransferTable`.

The transfer rate to a victim is the fraction of the images the victim classifies right that it
gets wrong once the perturbation (made on the surrogate, with no access to the victim) is added.
"""

from __future__ import annotations

import html
import itertools
import math
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import torch
from matplotlib.figure import Figure
from torch import Tensor, nn

from advcourse.attacks import _core, fgsm, mifgsm, pgd
from advcourse.core.viz import figure_function, new_figure

__all__ = ["Ensemble", "TRANSFER_ATTACKS", "TransferTable", "transfer_table"]

#: ``fn(surrogate, x, y, eps, generator) -> x_adv`` (L∞, pixel units).
TransferAttack = Callable[[nn.Module, Tensor, Tensor, float, "torch.Generator | None"], Tensor]


class Ensemble(nn.Module):
    """The weighted average of several models' logits: one surrogate made of many.

    Paper: Liu, Chen, Liu & Song, 2017, "Delving into Transferable Adversarial Examples and
        Black-box Attacks", arXiv:1611.02770 (Sec. 3.3); logit averaging as in Dong et al., 2018,
        arXiv:1710.06081 (Eq. 8).

    Args:
        models: two or more ``nn.Module`` s mapping the same (N, C, H, W) [0, 1] pixels to (N, K)
            logits over the same K classes, on one device.
        weights: one non-negative weight per model (normalised to sum to 1); default equal.

    Shape: (N, C, H, W) -> (N, K). The members stay as they are (mode, flags); attacks guard the
    ensemble like any model, which guards every member.

    Example:
        >>> surrogate = Ensemble([load_model("efficientnet_lite0"), load_model("efficientnet_lite1")])
    """

    def __init__(self, models: Sequence[nn.Module], weights: Sequence[float] | None = None):
        super().__init__()
        if isinstance(models, nn.Module) and not isinstance(models, nn.ModuleList):
            raise TypeError("models: expected a list of models, got a single nn.Module")
        models = list(models)
        if not models:
            raise ValueError("models: expected at least one model")
        for m in models:
            _core.check_model(m)
        self.members = nn.ModuleList(models)
        if weights is None:
            weights = [1.0] * len(models)
        weights = [_core.check_nonnegative(w, "weights") for w in weights]
        if len(weights) != len(models) or sum(weights) == 0:
            raise ValueError(f"weights: expected {len(models)} non-negative numbers, not all zero, got {weights}")
        self.register_buffer("weights", torch.tensor(weights) / sum(weights), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        logits = [m(x) for m in self.members]
        shapes = {tuple(z.shape) for z in logits}
        if len(shapes) != 1:
            raise ValueError(f"models: the members' logits differ in shape: {sorted(shapes)}")
        return sum(w * z for w, z in zip(self.weights.to(logits[0].dtype), logits))


# ----------------------------------------------------------------------------- the attacks compared
def _fgsm(model: nn.Module, x: Tensor, y: Tensor, eps: float, generator: torch.Generator | None) -> Tensor:
    return fgsm(model, x, y, eps=eps)


def _pgd(model: nn.Module, x: Tensor, y: Tensor, eps: float, generator: torch.Generator | None) -> Tensor:
    return pgd(model, x, y, eps=eps, step_size=eps / 4, steps=10, generator=generator)  # Madry et al.: 2.5·eps/steps


def _mifgsm(model: nn.Module, x: Tensor, y: Tensor, eps: float, generator: torch.Generator | None) -> Tensor:
    return mifgsm(model, x, y, eps=eps, step_size=eps / 10, steps=10, decay=1.0)  # Dong et al., Sec. 4.1


def _di_mifgsm(model: nn.Module, x: Tensor, y: Tensor, eps: float, generator: torch.Generator | None) -> Tensor:
    return mifgsm(model, x, y, eps=eps, step_size=eps / 10, steps=10, decay=1.0, diversity_prob=0.5,
                  generator=generator)  # Xie et al. 2019, Sec. 4: p = 0.5


TRANSFER_ATTACKS: dict[str, TransferAttack] = {
    "FGSM": _fgsm, "PGD": _pgd, "MI-FGSM": _mifgsm, "DI-MI-FGSM": _di_mifgsm,
}


# ----------------------------------------------------------------------------- the table
@dataclass
class TransferTable:
    """Transfer rates, ``rates[(surrogate, attack)][victim][i]`` at budget ``eps[i]``, in [0, 1].

    Attributes:
        eps: the L∞ budgets (pixel units).
        victims: victim names, in column order.
        clean: per victim, its clean accuracy on the images (the rates' denominators).
        rates: the fraction of the images the victim gets right that it gets wrong after the attack
            (``nan`` when it gets none right).
    """

    eps: list[float]
    victims: list[str]
    clean: dict[str, float] = field(default_factory=dict)
    rates: dict[tuple[str, str], dict[str, list[float]]] = field(default_factory=dict)

    def rate(self, surrogate: str, attack: str, victim: str, eps: float) -> float:
        """One cell: the transfer rate of ``attack`` on ``surrogate`` to ``victim`` at budget ``eps``."""
        return self.rates[(surrogate, attack)][victim][self.eps.index(eps)]

    @figure_function
    def plot(self) -> Figure:
        """The table as a heat map: one row per (surrogate, attack, budget), one column per victim,
        each cell's rate written in it; a colour bar gives the scale (0 to 100 %)."""
        rows = [(s, a, i) for (s, a) in self.rates for i in range(len(self.eps))]
        grid = torch.tensor([[self.rates[(s, a)][v][i] for v in self.victims] for s, a, i in rows])
        fig = new_figure(2.2 + 1.3 * len(self.victims), 1.0 + 0.38 * len(rows))
        ax = fig.subplots()
        im = ax.imshow(grid.numpy(), cmap="Reds", vmin=0, vmax=1, aspect="auto")
        for r, c in itertools.product(range(len(rows)), range(len(self.victims))):
            v = float(grid[r, c])
            ax.text(c, r, _percent(v), ha="center", va="center", color="white" if v > 0.6 else "black")
        single = len({s for s, _ in self.rates}) == 1
        ax.set_yticks(range(len(rows)), [f"{'' if single else s + ', '}{a}, {self.eps[i] * 255:.0f}/255"
                                         for s, a, i in rows])
        ax.set_xticks(range(len(self.victims)), self.victims)
        ax.xaxis.tick_top()
        ax.set_xlabel("victim (fooled share of the photos it gets right)")
        ax.xaxis.set_label_position("top")
        if single:
            ax.set_ylabel(f"attack on {next(iter(self.rates))[0]}, budget")
        fig.colorbar(im, ax=ax, label="transfer rate", ticks=[0, 0.5, 1], format=lambda t, _: f"{t:.0%}")
        return fig

    def _grid(self) -> list[list[str]]:
        head = ["surrogate", "attack", "eps"] + self.victims
        rows = [[s, a, f"{e * 255:.0f}/255"] + [_percent(r[v][i]) for v in self.victims]
                for (s, a), r in self.rates.items() for i, e in enumerate(self.eps)]
        return [head] + rows

    def __str__(self) -> str:
        grid = self._grid()
        widths = [max(len(row[j]) for row in grid) for j in range(len(grid[0]))]
        return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in grid)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        grid = self._grid()
        head = "".join(f"<th>{html.escape(c)}</th>" for c in grid[0])
        body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in grid[1:])
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _percent(v: float) -> str:
    return "–" if math.isnan(v) else f"{v:.0%}"


def _right(pred: Tensor, y: Tensor, accepted: Sequence[set[int]] | None) -> Tensor:
    if accepted is None:
        return pred == y
    return torch.tensor([int(p) in ok for p, ok in zip(pred.tolist(), accepted)], device=pred.device)


def transfer_table(surrogates: Mapping[str, nn.Module], victims: Mapping[str, nn.Module], x: Tensor, y: Tensor, *,
                   eps: Sequence[float], attacks: Mapping[str, TransferAttack] | Sequence[str] | None = None,
                   accepted: Sequence[set[int]] | None = None, seed: int = 0) -> TransferTable:
    """Craft each attack on each surrogate at each budget, then ask every victim; return the rates.

    Args:
        surrogates: name -> model the attacker differentiates (an :class:`Ensemble` counts as one).
        victims: name -> model only shown the finished examples (may include a surrogate, to read
            the white-box rate beside the transfer rates).
        x: (N, C, H, W) float in [0, 1]; y: (N,) int64 true labels (the attacks' labels too).
        eps: L∞ budgets > 0, e.g. ``[4/255, 8/255, 16/255]``.
        attacks: names from :data:`TRANSFER_ATTACKS` or a mapping name -> ``fn(model, x, y, eps,
            generator)``; default all of :data:`TRANSFER_ATTACKS`.
        accepted: optional set of right classes per image (``load_samples().accepted``); default ``y``.
        seed: seeds a fresh ``torch.Generator`` for every (surrogate, attack, budget), so each cell
            is reproducible on its own.

    Returns:
        :class:`TransferTable`; ``table.rate("lite0", "MI-FGSM", "lite2", 8/255)`` is one cell.

    Every model comes back exactly as it was (each prediction and attack runs under the guard).
    """
    _core.check_images(x)
    y = _core.check_labels(y, x)
    if y is None:
        raise ValueError("y: transfer rates need the true labels (N,), got None")
    budgets = [_core.check_nonnegative(e, "eps") for e in eps]
    if not budgets or min(budgets) == 0:
        raise ValueError(f"eps: expected one or more budgets > 0, got {list(eps)}")
    for label, group in (("surrogates", surrogates), ("victims", victims)):
        if not isinstance(group, Mapping) or not group:
            raise TypeError(f"{label}: expected a non-empty dict name -> nn.Module")
        for model in group.values():
            _core.check_model(model)
    chosen = _choose_attacks(attacks)
    right = {v: _right(_core.predicted_labels(m, x), y, accepted) for v, m in victims.items()}
    table = TransferTable(list(budgets), list(victims), {v: float(r.float().mean()) for v, r in right.items()})
    for s, surrogate in surrogates.items():
        for a, attack in chosen.items():
            cells: dict[str, list[float]] = {v: [] for v in victims}
            for e in budgets:
                x_adv = attack(surrogate, x, y, e, torch.Generator(x.device).manual_seed(seed))
                for v, victim in victims.items():
                    fooled = ~_right(_core.predicted_labels(victim, x_adv), y, accepted) & right[v]
                    cells[v].append(float(fooled.sum() / right[v].sum()) if right[v].any() else math.nan)
            table.rates[(s, a)] = cells
    return table


def _choose_attacks(attacks: Mapping[str, TransferAttack] | Sequence[str] | None) -> dict[str, TransferAttack]:
    if attacks is None:
        return dict(TRANSFER_ATTACKS)
    if isinstance(attacks, Mapping):
        for name, fn in attacks.items():
            if not callable(fn):
                raise TypeError(f"attacks: {name!r} is not callable")
        return dict(attacks)
    if isinstance(attacks, str):
        attacks = [attacks]
    unknown = [a for a in attacks if a not in TRANSFER_ATTACKS]
    if unknown:
        raise ValueError(f"attacks: unknown {unknown}; choose from {', '.join(TRANSFER_ATTACKS)}")
    return {a: TRANSFER_ATTACKS[a] for a in attacks}
