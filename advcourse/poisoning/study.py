"""12_poisoning's experiments: poisoning-rate sweeps, the defences table, and their figures.

Taught in 12_poisoning. Everything here trains the course's digits recipe
(:func:`advcourse.defences.digits.fit_digits_cnn`, float64, seeded)
on poisoned training sets and measures what the lesson claims:

- :func:`flip_sweep` and :func:`backdoor_sweep` — one model per poisoning rate: how test accuracy
  falls under label flipping, and how attack success rises with a backdoor while clean accuracy
  stays put (:class:`PoisonSweep`, drawn by :meth:`PoisonSweep.plot` and the rate slider of
  :mod:`advcourse.widgets.poisoning`);
- :func:`defence_table` — one poisoned model per attack, every defence of
  :mod:`advcourse.poisoning.detect` and :mod:`advcourse.poisoning.prune` applied to it, and for each
  defence the attack success it leaves (:class:`DefenceTable`);
- :func:`plot_trigger_key` — held-out digits with and without the trigger, as a backdoored model
  reads them.

On another CPU the same seeds train slightly different models (see :mod:`advcourse.defences.digits`),
so a single row of the table can move by several points; the notebook prints the claims that hold
with margin and leaves the exact values to the figures.

The test set is split in two: the *defender's* clean images (for STRIP's threshold and for
fine-pruning) and the images every score is measured on; no image is used for both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import Tensor, nn

from advcourse.attacks import _core
from advcourse.core import checks
from advcourse.core.formatting import rounded_repr
from advcourse.core.progress import progress_bar
from advcourse.core.viz import figure_function, new_figure
from advcourse.defences.digits import fit_digits_cnn
from advcourse.poisoning.detect import (Detection, activation_clustering, detection, flag_top, spectral_signatures,
                                       strip)
from advcourse.poisoning.metrics import BackdoorScores, backdoor_scores
from advcourse.poisoning.poison import Poisoned, backdoor, flip_labels
from advcourse.poisoning.prune import fine_prune
from advcourse.poisoning.triggers import Trigger, add_trigger

__all__ = ["PoisonSweep", "flip_sweep", "backdoor_sweep", "DEFENCES", "DefenceRow", "DefenceTable", "defend",
           "defence_table", "plot_trigger_key"]


def _check_split(x_train: Tensor, y_train: object, x_test: Tensor, y_test: object, x_name: str = "x_train",
                 y_name: str = "y_train") -> tuple[Tensor, Tensor]:
    """Both halves checked: (N, 1, H, W) digits in [0, 1] with (N,) labels each; returns the labels."""
    labels = []
    for (xn, x), (yn, y) in (((x_name, x_train), (y_name, y_train)), (("x_test", x_test), ("y_test", y_test))):
        checks.check_images(x, name=xn, channels=1)
        if y is None:
            raise TypeError(f"{yn}: expected a LongTensor of labels, shape (N,), got None")
        labels.append(checks.check_labels(y, x, name=yn))
    return labels[0], labels[1]


def _check_rates(rates: object) -> list[float]:
    if not isinstance(rates, (list, tuple)) or not rates:
        raise ValueError(f"rates: expected a non-empty list of poisoning rates in [0, 1], got {rates!r}")
    values = [checks.check_nonnegative(r, "rates") for r in rates]
    if max(values) > 1 or values != sorted(values):
        raise ValueError(f"rates: expected increasing fractions in [0, 1], got {list(rates)}")
    return values


def _accuracy(model: nn.Module, x: Tensor, y: Tensor) -> float:
    with torch.no_grad():
        return float((_core.logits_of(model, x).argmax(1) == y).float().mean())


@dataclass
class PoisonSweep:
    """One digits model per poisoning rate, and what each one scores.

    Attributes:
        rates: the poisoning rates, fractions of the training set, increasing.
        poisons: rows poisoned at each rate.
        curves: name -> one fraction in [0, 1] per rate (``"clean accuracy"``, and for a backdoor
            ``"attack success"``).
        examples: (K, 1, 8, 8) held-out digits the slider shows, with the trigger when there is one.
        answers: (len(rates), K) each rate's model's answers on ``examples``.
        truth: (K,) their true labels.
        title: what was swept, for the figure.
    """

    __repr__ = rounded_repr

    rates: list[float]
    poisons: list[int]
    curves: dict[str, list[float]]
    examples: Tensor
    answers: Tensor
    truth: Tensor
    title: str

    def at(self, rate: float) -> int:
        """Index of ``rate`` in :attr:`rates` (it must be one of them)."""
        for k, r in enumerate(self.rates):
            if abs(r - float(rate)) < 1e-12:
                return k
        raise ValueError(f"rate: expected one of the swept rates {self.rates}, got {rate!r}")

    def draw(self, ax, rate: float | None = None) -> None:
        """The curves against the poisoning rate (in %) on ``ax``, ``rate`` marked when given."""
        percent = [100 * r for r in self.rates]
        for (name, values), marker in zip(self.curves.items(), "os^"):
            ax.plot(percent, [100 * v for v in values], marker=marker, label=name)
        if rate is not None:
            ax.axvline(100 * self.rates[self.at(rate)], color="0.4", linestyle=":", label="chosen rate")
        ax.set_xlabel("poisoning rate (% of the training set)")
        ax.set_ylabel("% of the test digits")
        ax.set_ylim(-3, 103)
        ax.grid(alpha=0.3)

    @figure_function
    def plot(self) -> Figure:
        """The curves against the poisoning rate, with a legend."""
        fig = new_figure(6.4, 3.6)
        ax = fig.subplots()
        self.draw(ax)
        ax.set_title(self.title)
        ax.legend(loc="best")
        return fig


def _sweep(make: callable, rates: list[float], x_test: Tensor, y_test: Tensor, examples: Tensor,
           truth: Tensor, trigger: Trigger | None, target: int | None, title: str, seed: int) -> PoisonSweep:
    curves: dict[str, list[float]] = {"clean accuracy": []}
    if trigger is not None:
        curves["attack success"] = []
    poisons, answers = [], []
    for rate in progress_bar(rates, desc="poisoning rates", leave=False):
        x, y, count = make(rate)
        net = fit_digits_cnn(x, y, seed=seed)
        poisons.append(count)
        if trigger is None:
            curves["clean accuracy"].append(_accuracy(net, x_test, y_test))
        else:
            scores = backdoor_scores(net, x_test, y_test, target=target, trigger=trigger)
            curves["clean accuracy"].append(scores.clean_accuracy)
            curves["attack success"].append(scores.attack_success)
        with torch.no_grad():
            answers.append(_core.logits_of(net, examples).argmax(1))
    return PoisonSweep(rates, poisons, curves, examples, torch.stack(answers), truth, title)


def flip_sweep(x_train: Tensor, y_train: Tensor, x_test: Tensor, y_test: Tensor, *, rates: Sequence[float],
               show: int = 8, seed: int = 0) -> PoisonSweep:
    """Random label flipping at each rate: the test accuracy of a model trained on the flipped labels.

    Args:
        x_train, y_train: (N, 1, 8, 8) training digits in [0, 1] and (N,) labels.
        x_test, y_test: (M, 1, 8, 8) test digits and labels, never flipped.
        rates: increasing fractions of the training labels to flip, in [0, 1].
        show: how many test digits keep each model's answers (for the slider), 1 to M.
        seed: seed of the flips and of every model.

    Returns:
        :class:`PoisonSweep` with the curve ``"clean accuracy"``.
    """
    y_train, y_test = _check_split(x_train, y_train, x_test, y_test)
    rates = _check_rates(rates)
    show = checks.check_count(show, "show", minimum=1)
    seed = checks.check_count(seed, "seed")

    def make(rate: float) -> tuple[Tensor, Tensor, int]:
        flipped = flip_labels(y_train, rate=rate, generator=torch.Generator().manual_seed(seed))
        return x_train, flipped.y, len(flipped.indices)

    return _sweep(make, rates, x_test, y_test, x_test[:show], y_test[:show], None, None,
                  "random label flipping", seed)


def backdoor_sweep(x_train: Tensor, y_train: Tensor, x_test: Tensor, y_test: Tensor, *, trigger: Trigger,
                   target: int, rates: Sequence[float], show: int = 8, seed: int = 0) -> PoisonSweep:
    """A dirty-label backdoor (:func:`~advcourse.poisoning.poison.backdoor`) at each rate.

    Args:
        x_train, y_train, x_test, y_test: as :func:`flip_sweep`.
        trigger: the backdoor's :class:`~advcourse.poisoning.triggers.Trigger`; target: its class.
        rates: increasing poisoning rates in [0, 1].
        show: how many test digits of other classes than ``target``, with the trigger, keep each
            model's answers (for the slider).
        seed: seed of the poisoned rows and of every model.

    Returns:
        :class:`PoisonSweep` with the curves ``"clean accuracy"`` and ``"attack success"``.
    """
    y_train, y_test = _check_split(x_train, y_train, x_test, y_test)
    checks.check_instance(trigger, Trigger, "trigger", "made by badnets_trigger() or blended_trigger()")
    target = checks.check_count(target, "target")
    rates = _check_rates(rates)
    show = checks.check_count(show, "show", minimum=1)
    seed = checks.check_count(seed, "seed")

    def make(rate: float) -> tuple[Tensor, Tensor, int]:
        p = backdoor(x_train, y_train, target=target, rate=rate, trigger=trigger,
                     generator=torch.Generator().manual_seed(seed))
        return p.x, p.y, len(p.indices)

    others = (y_test != target).nonzero().squeeze(1)[:show]
    return _sweep(make, rates, x_test, y_test, add_trigger(x_test[others], trigger), y_test[others], trigger,
                  target, f"{trigger.name} backdoor into class {target}", seed)


#: The defences of the table, in its column order: two that find poisons in the training set (the
#: flagged rows are removed and the model retrained), one that screens inputs at test time, one
#: that repairs the model.
DEFENCES = ("spectral signatures", "activation clustering", "STRIP", "fine-pruning")


@dataclass
class DefenceRow:
    """One poisoned model and every defence applied to it.

    Attributes:
        attack: the attack's name; poisons: how many training rows it poisoned.
        before: :class:`~advcourse.poisoning.metrics.BackdoorScores` of the poisoned model.
        detections: defence -> :class:`~advcourse.poisoning.detect.Detection` (spectral signatures and
            activation clustering over the training rows; STRIP over the scored test images, the
            triggered ones being the positives).
        after: defence -> :class:`~advcourse.poisoning.metrics.BackdoorScores` once it acted: the
            model retrained without the flagged rows, the pruned and fine-tuned copy, or (STRIP) the
            poisoned model behind the screen — an input STRIP flags counts as not fooled, so its
            attack success is the share that both passes the screen and lands on the target.
    """

    __repr__ = rounded_repr

    attack: str
    poisons: int
    before: BackdoorScores
    detections: dict[str, Detection] = field(default_factory=dict)
    after: dict[str, BackdoorScores] = field(default_factory=dict)


def _screened(model: nn.Module, poisoned: Poisoned, x: Tensor, y: Tensor, threshold: float,
              before: BackdoorScores, generator: torch.Generator, x_clean: Tensor) -> tuple[Detection, BackdoorScores]:
    """STRIP in front of ``model``: inputs with entropy below ``threshold`` are refused."""
    others = y != poisoned.target
    triggered = add_trigger(x[others], poisoned.trigger)
    passed_clean = strip(model, x, x_clean, generator=generator) >= threshold
    passed_triggered = strip(model, triggered, x_clean, generator=generator) >= threshold
    with torch.no_grad():
        clean_right = _core.logits_of(model, x).argmax(1) == y
        hits = _core.logits_of(model, triggered).argmax(1) == poisoned.target
    found = detection(torch.cat([~passed_triggered, ~passed_clean]),
                      torch.cat([torch.ones_like(hits), torch.zeros_like(clean_right)]))
    n = len(triggered)
    after = BackdoorScores(float((clean_right & passed_clean).float().mean()),
                           float((hits & passed_triggered).float().mean()) if n else float("nan"),
                           before.robust_accuracy, n)
    return found, after


def defend(poisoned: Poisoned, x_test: Tensor, y_test: Tensor, x_clean: Tensor, y_clean: Tensor, *,
           name: str = "attack", class_bound: float = 0.25, strip_fpr: float = 0.05, prune_fraction: float = 0.5,
           seed: int = 0) -> DefenceRow:
    """Train the digits recipe on ``poisoned`` and apply every defence of :data:`DEFENCES` to it.

    Args:
        poisoned: a :class:`~advcourse.poisoning.poison.Poisoned` training set (8×8 digits).
        x_test, y_test: (M, 1, 8, 8) clean digits and labels every score is measured on.
        x_clean, y_clean: (D, 1, 8, 8) other clean digits the defender holds (STRIP's threshold and
            blends, fine-pruning's data).
        name: the attack's name in the table.
        class_bound: spectral signatures' ε, the share of a class the defender believes may be
            poisoned; Tran et al. remove the ``1.5·ε`` highest-scoring rows of every class.
        strip_fpr: STRIP's threshold is the entropy that flags this share of the defender's clean
            digits.
        prune_fraction: share of the last convolution's channels fine-pruning removes.
        seed: seed of every model and of STRIP's blends.

    Returns:
        :class:`DefenceRow`.
    """
    checks.check_instance(poisoned, Poisoned, "poisoned", "made by backdoor() or clean_label_backdoor()")
    y_clean, y_test = _check_split(x_clean, y_clean, x_test, y_test, "x_clean", "y_clean")
    class_bound = checks.check_positive(class_bound, "class_bound")
    if class_bound > 2 / 3:
        raise ValueError(f"class_bound: expected at most 2/3 (1.5·ε of a class is flagged), got {class_bound:g}")
    strip_fpr = checks.check_positive(strip_fpr, "strip_fpr")
    if strip_fpr >= 1:
        raise ValueError(f"strip_fpr: expected a false-positive rate in (0, 1), got {strip_fpr:g}")
    seed = checks.check_count(seed, "seed")
    target, trigger = poisoned.target, poisoned.trigger
    net = fit_digits_cnn(poisoned.x, poisoned.y, seed=seed)
    row = DefenceRow(str(name), len(poisoned.indices),
                     backdoor_scores(net, x_test, y_test, target=target, trigger=trigger))
    flags = {"spectral signatures": flag_top(spectral_signatures(net, poisoned.x, poisoned.y), poisoned.y,
                                             1.5 * class_bound),
             "activation clustering": activation_clustering(net, poisoned.x, poisoned.y, seed=seed)}
    for defence, flagged in flags.items():
        row.detections[defence] = detection(flagged, poisoned.is_poison)
        retrained = fit_digits_cnn(poisoned.x[~flagged], poisoned.y[~flagged], seed=seed)
        row.after[defence] = backdoor_scores(retrained, x_test, y_test, target=target, trigger=trigger)
    generator = torch.Generator().manual_seed(seed)
    threshold = float(strip(net, x_clean, x_clean, generator=generator).quantile(strip_fpr))
    row.detections["STRIP"], row.after["STRIP"] = _screened(net, poisoned, x_test, y_test, threshold, row.before,
                                                           generator, x_clean)
    pruned = fine_prune(net, x_clean, y_clean, fraction=prune_fraction, seed=seed)
    row.after["fine-pruning"] = backdoor_scores(pruned, x_test, y_test, target=target, trigger=trigger)
    return row


def _cell(score: float) -> str:
    return f"{100 * score:.0f} %"


@dataclass
class DefenceTable:
    """Rows of :func:`defend`, printed as three tables and drawn as one bar chart."""

    rows: list[DefenceRow]

    def __repr__(self) -> str:
        return str(self)

    def row(self, attack: str) -> DefenceRow:
        """The row of ``attack`` (its name in the table)."""
        for row in self.rows:
            if row.attack == attack:
                return row
        raise ValueError(f"attack: expected one of {[r.attack for r in self.rows]}, got {attack!r}")

    def __str__(self) -> str:
        width = max(len(r.attack) for r in self.rows) + 2
        head = f"{'':<{width}}{'no defence':>12}" + "".join(f"{d:>23}" for d in DEFENCES)
        success = [f"{r.attack:<{width}}{_cell(r.before.attack_success):>12}"
                   + "".join(f"{_cell(r.after[d].attack_success):>23}" for d in DEFENCES) for r in self.rows]
        accuracy = [f"{r.attack:<{width}}{_cell(r.before.clean_accuracy):>12}"
                    + "".join(f"{_cell(r.after[d].clean_accuracy):>23}" for d in DEFENCES) for r in self.rows]
        found = [f"{r.attack:<{width}}{r.poisons:>12}"
                 + "".join(f"{_cell(r.detections[d].tpr) + ' / ' + _cell(r.detections[d].fpr):>23}"
                           for d in DEFENCES[:3]) for r in self.rows]
        return "\n".join(["attack success (triggered test digits read as the target)", head, *success, "",
                          "clean accuracy (clean test digits read right; behind STRIP, also let through)", head,
                          *accuracy, "",
                          "detection: TPR / FPR (poisoned training rows or triggered test digits found / clean "
                          "ones flagged)", f"{'':<{width}}{'poisons':>12}" + "".join(f"{d:>23}" for d in DEFENCES[:3]),
                          *found])

    @figure_function
    def plot(self) -> Figure:
        """Left: attack success with no defence and after each defence; right: each detector's TPR
        (bars) and FPR (black ticks). One group of bars per attack."""
        fig = new_figure(min(10.5, 3.0 + 2.5 * len(self.rows)), 4.8)
        ax_left, ax_right = fig.subplots(1, 2, width_ratios=[len(DEFENCES) + 1, len(DEFENCES) - 1])
        at = np.arange(len(self.rows))
        colours = dict(zip(("no defence",) + DEFENCES, ["C0", "C1", "C2", "C3", "C4"]))
        for ax, names, value in ((ax_left, ("no defence",) + DEFENCES,
                                  lambda r, d: (r.before if d == "no defence" else r.after[d]).attack_success),
                                 (ax_right, DEFENCES[:3], lambda r, d: r.detections[d].tpr)):
            width = 0.8 / len(names)
            for k, name in enumerate(names):
                offset = at + (k - (len(names) - 1) / 2) * width
                ax.bar(offset, [100 * value(r, name) for r in self.rows], width, color=colours[name],
                       label=name if ax is ax_left else None)
                if ax is ax_right:
                    ax.scatter(offset, [100 * r.detections[name].fpr for r in self.rows], marker="_", s=200,
                               color="black", linewidths=2, label="FPR (clean flagged)" if k == 0 else None)
            ax.set_xticks(at, [r.attack for r in self.rows], rotation=15)
            ax.set_ylim(0, 105)
            ax.grid(axis="y", alpha=0.3)
        ax_left.set_ylabel("attack success left (%)")
        ax_left.set_title("what each defence leaves of the backdoor")
        ax_right.set_ylabel("poisons or triggered inputs found (TPR, %)")
        ax_right.set_title("what each detector finds")
        fig.legend(loc="outside lower center", ncols=3)
        return fig


def defence_table(attacks: dict[str, Poisoned], x_test: Tensor, y_test: Tensor, x_clean: Tensor,
                  y_clean: Tensor, **options) -> DefenceTable:
    """:func:`defend` each of ``attacks`` (name -> poisoned training set); ``options`` go to it."""
    if not isinstance(attacks, dict) or not attacks:
        raise ValueError(f"attacks: expected a non-empty dict of name -> Poisoned, got {attacks!r}")
    return DefenceTable([defend(p, x_test, y_test, x_clean, y_clean, name=name, **options)
                         for name, p in progress_bar(attacks.items(), desc="defences", total=len(attacks), leave=False)])


@figure_function
def plot_trigger_key(model: nn.Module, x: Tensor, trigger: Trigger) -> Figure:
    """Digits as they are (top) and with ``trigger`` (bottom), each titled with ``model``'s answer.

    Args:
        model: a digits model, left exactly as found; x: (N, 1, H, W) digits in [0, 1], 1 <= N <= 12.
        trigger: the :class:`~advcourse.poisoning.triggers.Trigger` to stamp on.
    """
    checks.check_model(model)
    checks.check_images(x, channels=1)
    if not 1 <= len(x) <= 12:
        raise ValueError(f"x: expected 1 to 12 digits, got {len(x)}")
    rows = [("as they are", x), ("with the trigger", add_trigger(x, trigger))]
    fig = new_figure(1.15 * len(x) + 1.4, 3.0)
    axes = np.atleast_2d(fig.subplots(2, len(x), squeeze=False))
    with checks.frozen(model, x), torch.no_grad():
        answers = [_core.logits_of(model, images).argmax(1).tolist() for _, images in rows]
    for r, (label, images) in enumerate(rows):
        for i in range(len(x)):
            ax = axes[r, i]
            im = ax.imshow(images[i, 0].detach().float().cpu().numpy(), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"reads {answers[r][i]}")
        axes[r, 0].set_ylabel(label)
    fig.colorbar(im, ax=axes, label="pixel value", ticks=[0, 0.5, 1], shrink=0.8)
    return fig
