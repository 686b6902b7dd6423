"""Model extraction: copy a model through its API, one answer per query.

Taught in 13_privacy. A model behind an API answers each query with its probabilities (or only its
top-1 label). A thief who sends unlabelled inputs and trains a fresh network to give the same
answers gets a copy that agrees with the victim on most new inputs, without the victim's training
labels — and a copy is a white-box surrogate: adversarial examples crafted on it transfer to the
victim (09_black_box's transfer attacks, :func:`transfer_rate`).

Paper: Tramèr, Zhang, Juels, Reiter & Ristenpart, 2016, "Stealing Machine Learning Models via
    Prediction APIs", USENIX Security, arXiv:1609.02943 (Sec. 4 and 6: probabilities leak far
    more than labels; Sec. 8: rounding the probabilities as a defence); the thief's recipe — train
    a fresh CNN on the victim's answers to unlabelled natural inputs — as in Correia-Silva et al.,
    2018, "Copycat CNN", arXiv:1806.05476, and Orekondy, Schiele & Fritz, 2019, "Knockoff Nets",
    arXiv:1812.02766.

- :func:`query` — what the API returns: probabilities, or labels only; ``decimals`` rounds the
  probabilities (the output defence);
- :func:`steal` — the thief: one query per input, then a fresh :class:`~advcourse.models.nets.DigitsCNN`
  trained on the answers (soft cross-entropy to probabilities, cross-entropy to labels);
- :func:`agreement` — how often copy and victim give the same top-1 answer;
- :func:`extraction_curve` — agreement against the number of queries, four ways: probabilities,
  labels only, and each with the output defence (:class:`ExtractionCurve`);
- :func:`transfer_rate` — PGD examples crafted on a copy, sent to the victim.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from torch import Tensor, nn

from advcourse.attacks import pgd
from advcourse.core import checks
from advcourse.core.formatting import rounded_repr
from advcourse.core.progress import progress_bar
from advcourse.core.viz import figure_function, new_figure, readable_log_ticks
from advcourse.models.nets import DigitsCNN

__all__ = ["query", "steal", "agreement", "ExtractionCurve", "extraction_curve", "transfer_rate", "WAYS"]

#: The four ways of :func:`extraction_curve`, as the fields of :class:`ExtractionCurve` that hold them.
WAYS = ("probabilities", "labels", "rounded_probabilities", "rounded_labels")


# ----------------------------------------------------------------------------- checks and answers
def _check_model(model: object, name: str) -> nn.Module:
    if not isinstance(model, nn.Module):
        raise TypeError(f"{name}: expected a torch.nn.Module, got {type(model).__name__}")
    return model


def _check_fits(model: object, x: object, name: str, x_name: str) -> None:
    """``model`` is a module and ``x`` images that fit it (device, dtype, channels); errors name
    ``x_name`` and say which model (``name``) they do not fit."""
    _check_model(model, name)
    checks.check_images(x, name=x_name)
    try:
        checks.check_model_input(model, x, x_name)
    except (TypeError, ValueError) as error:
        raise type(error)(str(error).replace("the model's", f"the {name}'s", 1)) from None


def _logits(model: nn.Module, x: Tensor, name: str, x_name: str, batch_size: int = 1024) -> Tensor:
    """``model``'s logits (N, K) on ``x``, no grad, the model left exactly as found; errors name
    ``name`` (the model) or ``x_name`` (the inputs)."""
    _check_fits(model, x, name, x_name)
    with checks.frozen(model), torch.no_grad():
        outputs = []
        for chunk in x.split(batch_size):
            try:
                outputs.append(checks.check_logits(model(chunk), len(chunk)))
            except ValueError as error:  # "model: ..." about what it returned: name the argument
                raise ValueError(f"{name}: {str(error).removeprefix('model: ')}") from None
    return torch.cat(outputs)


def _check_decimals(decimals: object) -> int | None:
    return None if decimals is None else checks.check_count(decimals, "decimals")


def _answers(victim: nn.Module, x: Tensor, labels_only: bool, decimals: int | None, x_name: str) -> Tensor:
    logits = _logits(victim, x, "victim", x_name)
    if labels_only:  # the API's top-1 answer itself: rounding its probabilities cannot change it
        return logits.argmax(1)
    probs = logits.double().softmax(1)
    if decimals is not None:
        probs = torch.round(probs, decimals=decimals)
    return probs.float()


def query(victim: nn.Module, x: Tensor, *, labels_only: bool = False, decimals: int | None = None) -> Tensor:
    """What a prediction API returns for the inputs ``x``: probabilities, or only the top-1 labels.

    Args:
        victim: the model behind the API, mapping (N, C, H, W) pixels in [0, 1] to (N, K) logits;
            left exactly as found (mode, ``requires_grad`` flags, ``.grad``).
        x: (N, C, H, W) float inputs in [0, 1], on the victim's device.
        labels_only: return only the top-1 labels (an API that shows no scores).
        decimals: the output defence (int >= 0, or None for none): probabilities rounded to that
            many decimals, as an API that shows "0.97" instead of "0.9713". Rounding keeps the
            top-1 answer (up to a tie), so with ``labels_only`` it changes nothing; what it removes
            are the small probabilities of the other classes, which tell a thief how the victim
            ranks them. Rounded rows need not sum to 1 exactly, and with ``decimals=0`` a row whose
            top probability is below 0.5 becomes all zeros.

    Returns:
        ``(N, K)`` float32 probabilities in [0, 1] (rows sum to 1 without ``decimals``), or with
        ``labels_only`` ``(N,)`` int64 labels in [0, K) — the argmax of the probabilities.

    Example:
        >>> probs = query(victim, x, decimals=2)
    """
    checks.check_bool(labels_only, "labels_only")
    return _answers(victim, x, labels_only, _check_decimals(decimals), "x")


# ----------------------------------------------------------------------------- the thief
def steal(victim: nn.Module, queries: Tensor, *, labels_only: bool = False, decimals: int | None = None,
          steps: int = 300, lr: float = 5e-3, batch_size: int = 32, width: int = 16, seed: int = 0) -> DigitsCNN:
    """Copy ``victim``: query it once on ``queries``, then train a fresh DigitsCNN on its answers.

    The thief has inputs of the victim's kind but no labels. Each query is answered once
    (:func:`query`); the copy is trained with Adam to give the same answers: the cross-entropy to
    the returned probabilities (soft targets: "like the victim, 0.9 a seven and 0.1 a one"), or to
    the returned labels. Training takes ``steps`` optimiser steps whatever the number of queries —
    a thief with 25 answers trains as long as one with 1348 — seeded, in float64 like
    :func:`advcourse.defences.digits.clean_digits_cnn` (so the copy is the same at any thread
    count), on the queries' device. Rounded probabilities are rescaled to sum to 1 (a row rounded to
    all zeros teaches nothing).

    Paper: Tramèr et al., 2016, arXiv:1609.02943 (Sec. 6, retraining on the API's answers);
        Correia-Silva et al., 2018, "Copycat CNN", arXiv:1806.05476.

    Args:
        victim: the model to copy, (N, 1, 8, 8) pixels in [0, 1] -> (N, K) logits; left exactly as
            found. The copy has its K classes (an API's list of classes is public).
        queries: (N, 1, 8, 8) unlabelled digits in [0, 1], N >= 1, on the victim's device.
        labels_only, decimals: what the API returns (see :func:`query`).
        steps: optimiser steps (>= 1); batches of ``batch_size`` cycle over the queries, reshuffled
            each pass.
        lr: Adam's learning rate (> 0).
        batch_size: queries per step (>= 1).
        width: the copy's DigitsCNN width (the victim's architecture need not be known).
        seed: seed of the copy's initial weights and of the shuffles; the same seed gives the same copy.

    Returns:
        the copy, a float32 :class:`~advcourse.models.nets.DigitsCNN` in eval mode with no ``.grad``:
        (N, 1, 8, 8) -> (N, K) logits. 1–2 s on one CPU thread with the defaults, whatever N.

    Example:
        >>> copy = steal(victim, x_pool[:200])
        >>> agreement(copy, victim, x_test)
    """
    checks.check_bool(labels_only, "labels_only")
    decimals = _check_decimals(decimals)
    steps = checks.check_count(steps, "steps", minimum=1)
    lr = checks.check_positive(lr, "lr")
    batch_size = checks.check_count(batch_size, "batch_size", minimum=1)
    width = checks.check_count(width, "width", minimum=1)
    seed = checks.check_count(seed, "seed")
    checks.check_images(queries, name="queries", channels=1)
    if tuple(queries.shape[2:]) != (8, 8):
        raise ValueError(f"queries: expected 8×8 digits (N, 1, 8, 8), got shape {tuple(queries.shape)}")
    _check_fits(victim, queries, "victim", "queries")
    num_classes = _logits(victim, queries[:1], "victim", "queries").shape[1]
    answers = _answers(victim, queries, labels_only, decimals, "queries")
    return _train_copy(queries, answers, num_classes, steps, lr, batch_size, width, seed)


def _train_copy(x: Tensor, answers: Tensor, num_classes: int, steps: int, lr: float, batch_size: int, width: int,
                seed: int) -> DigitsCNN:
    """A fresh DigitsCNN trained on ``(x, answers)`` (labels (N,) or probabilities (N, K)), float32, eval."""
    if answers.is_floating_point():
        targets = answers.double()
        targets = targets / targets.sum(1, keepdim=True).clamp(min=1e-12)
    else:
        targets = answers
    x = x.detach().double()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        copy = DigitsCNN(num_classes=num_classes, width=width).double().to(x.device)
        order = torch.Generator().manual_seed(seed)
        optimizer = torch.optim.Adam(copy.parameters(), lr=lr)
        copy.train()
        done = 0
        while done < steps:
            for rows in torch.randperm(len(x), generator=order).to(x.device).split(batch_size):
                loss = F.cross_entropy(copy(x[rows]), targets[rows])  # soft targets: Tramèr et al.'s retraining
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                done += 1
                if done == steps:
                    break
    for p in copy.parameters():
        p.grad = None
    return copy.float().eval()


def agreement(a: nn.Module, b: nn.Module, x: Tensor) -> float:
    """The share of the inputs ``x`` on which models ``a`` and ``b`` give the same top-1 answer, in [0, 1].

    Args:
        a, b: classifiers mapping (N, C, H, W) pixels in [0, 1] to (N, K) logits; left exactly as found.
        x: (N, C, H, W) float inputs in [0, 1], on both models' device, N >= 1.
    """
    same = _logits(a, x, "a", "x").argmax(1) == _logits(b, x, "b", "x").argmax(1)
    return float(same.double().mean())


# ----------------------------------------------------------------------------- the curve
@dataclass
class ExtractionCurve:
    """How well stolen copies agree with the victim, against the number of queries.

    Attributes:
        budgets: the numbers of queries, increasing.
        probabilities, labels: test agreement in [0, 1] of the copy stolen from probabilities, from
            labels only, one per budget.
        rounded_probabilities, rounded_labels: the same behind the output defence (probabilities
            rounded to ``decimals``). ``rounded_labels`` equals ``labels`` by construction: rounding
            never changes a label.
        decimals: the defence's decimals.
        copies: the four copies stolen with the largest budget, by field name (not shown in the repr).
    """

    __repr__ = rounded_repr

    budgets: list[int]
    probabilities: list[float]
    labels: list[float]
    rounded_probabilities: list[float]
    rounded_labels: list[float]
    decimals: int
    copies: dict[str, nn.Module] = field(default_factory=dict, repr=False)

    def _names(self) -> dict[str, str]:
        rounded = f"rounded to {self.decimals} decimal{'' if self.decimals == 1 else 's'}"
        return {"probabilities": "probabilities", "labels": "labels only",
                "rounded_probabilities": f"probabilities {rounded}", "rounded_labels": f"labels only, {rounded}"}

    def __str__(self) -> str:
        names = self._names()
        head = ["queries", *names.values()]
        grid = [head] + [[str(n), *(f"{getattr(self, k)[i]:.1%}" for k in names)] for i, n in enumerate(self.budgets)]
        widths = [max(len(row[j]) for row in grid) for j in range(len(head))]
        lines = ["  ".join(c.rjust(w) for c, w in zip(row, widths)) for row in grid]
        return "agreement with the victim on the test inputs (same top-1 answer)\n" + "\n".join(lines)

    @figure_function
    def plot(self) -> Figure:
        """Agreement with the victim (%) against the number of queries (log axis), one line per way:
        solid without the output defence, dashed with it."""
        fig = new_figure(7.0, 4.4)
        ax = fig.subplots()
        styles = {"probabilities": ("C0", "-", "o"), "labels": ("C1", "-", "s"),
                  "rounded_probabilities": ("C0", "--", "^"), "rounded_labels": ("0.25", ":", "x")}
        for key, name in self._names().items():
            colour, line, marker = styles[key]
            ax.plot(self.budgets, [100 * v for v in getattr(self, key)], color=colour, ls=line, marker=marker,
                    ms=6, lw=2, label=name)
        ax.set_xscale("log")
        readable_log_ticks(ax.xaxis)
        decade = 10 ** math.floor(math.log10(self.budgets[0]))
        first_tick = max(k * decade for k in (1, 2, 5) if k * decade <= self.budgets[0])
        ax.set_xlim(left=0.93 * first_tick)  # a labelled tick at or before the smallest budget
        ax.set_xlabel("queries (unlabelled inputs sent to the API)")
        ax.set_ylabel("agreement with the victim (%)")
        ax.set_title("How well a stolen copy answers like the victim")
        ax.grid(alpha=0.3)
        fig.legend(loc="outside lower center", ncols=2)
        return fig


def _check_budgets(budgets: object, n: int) -> list[int]:
    values = checks.check_sequence(budgets, "budgets", "[25, 100, 400]")
    if not values:
        raise ValueError("budgets: expected at least one number of queries, got none")
    counts = [checks.check_count(b, "budgets", minimum=1) for b in values]
    if any(later <= earlier for earlier, later in zip(counts, counts[1:])):
        raise ValueError(f"budgets: expected increasing numbers of queries, got {counts}")
    if counts[-1] > n:
        raise ValueError(f"budgets: expected at most len(pool) = {n} queries, got {counts[-1]}")
    return counts


def extraction_curve(victim: nn.Module, pool: Tensor, x_test: Tensor, budgets: Sequence[int], *, decimals: int = 1,
                     steps: int = 300, seed: int = 0, progress: bool = True) -> ExtractionCurve:
    """Steal ``victim`` with the first n inputs of ``pool`` for each budget n, in four ways, and
    measure each copy's agreement with the victim on ``x_test``.

    The four ways: probabilities; labels only; probabilities rounded to ``decimals`` (the output
    defence); labels only behind the same defence. A label is the API's top-1 answer, which the
    rounding does not change, so the fourth copy is the second one (the same answers give the same
    copy, trained once).

    Args:
        victim: the model behind the API, (N, 1, 8, 8) pixels in [0, 1] -> (N, K) logits; left
            exactly as found.
        pool: (M, 1, 8, 8) the thief's unlabelled digits in [0, 1]; the first n are sent.
        x_test: (N, 1, 8, 8) held-out digits on which agreement is measured (not sent as queries).
        budgets: increasing numbers of queries, each in [1, M], e.g. ``[25, 50, 100, 200, 400]``.
        decimals: the defence's decimals (int >= 0). The default, 1, is what the course's digits model
            needs: it is so sure of most digits that rounding to 2 decimals leaves nearly all a thief
            learns from (see 13_privacy).
        steps, seed: the thief's training steps and seed (:func:`steal`), the same for every budget and way.
        progress: a bar over the budgets.

    Returns:
        :class:`ExtractionCurve`. Three trainings of 1–2 s each per budget on one CPU thread.

    Example:
        >>> curve = extraction_curve(victim, digits.x_train, digits.x_test, [25, 100, 400, 1348])
        >>> curve.plot()
    """
    _check_model(victim, "victim")
    checks.check_images(pool, name="pool", channels=1)
    checks.check_images(x_test, name="x_test")
    _check_fits(victim, pool, "victim", "pool")
    _check_fits(victim, x_test, "victim", "x_test")
    counts = _check_budgets(budgets, len(pool))
    decimals = checks.check_count(decimals, "decimals")
    steps = checks.check_count(steps, "steps", minimum=1)
    seed = checks.check_count(seed, "seed")
    checks.check_bool(progress, "progress")
    scores: dict[str, list[float]] = {key: [] for key in WAYS}
    copies: dict[str, nn.Module] = {}
    for n in progress_bar(counts, enabled=progress, desc="extraction (budgets)", leave=False):
        made = {"probabilities": steal(victim, pool[:n], steps=steps, seed=seed),
                "labels": steal(victim, pool[:n], labels_only=True, steps=steps, seed=seed),
                "rounded_probabilities": steal(victim, pool[:n], decimals=decimals, steps=steps, seed=seed)}
        made["rounded_labels"] = made["labels"]  # the same labels: query(labels_only=True) ignores rounding
        for key, copy in made.items():
            scores[key].append(agreement(copy, victim, x_test))
        copies = made
    return ExtractionCurve(counts, scores["probabilities"], scores["labels"], scores["rounded_probabilities"],
                           scores["rounded_labels"], decimals, copies)


# ----------------------------------------------------------------------------- back to transfer attacks
def transfer_rate(surrogate: nn.Module, victim: nn.Module, x: Tensor, y: Tensor, *, eps: float, steps: int = 10,
                  seed: int = 0) -> float:
    """The share of the inputs ``victim`` gets right that PGD examples crafted on ``surrogate`` make it get wrong.

    The attack is the package's :func:`~advcourse.attacks.pgd` (L∞, random start, ``step_size =
    2.5 · eps / steps`` as in Madry et al., 2018, arXiv:1706.06083) on the surrogate alone; the
    victim only sees the finished examples — the transfer rate of 09_black_box. A stolen copy is
    a surrogate the thief built from the victim's own answers.

    Args:
        surrogate: the attacker's model, (N, C, H, W) pixels in [0, 1] -> (N, K) logits.
        victim: the attacked model (same inputs and classes). Both are left exactly as found.
        x: (N, C, H, W) float inputs in [0, 1]; y: (N,) int64 true labels.
        eps: the L∞ budget in pixel units, in [0, 1].
        steps: PGD steps (>= 1).
        seed: seed of PGD's random start.

    Returns:
        the transfer rate in [0, 1]; ``nan`` when the victim gets none of ``x`` right.
    """
    _check_model(surrogate, "surrogate")
    _check_model(victim, "victim")
    checks.check_images(x)
    if y is None:
        raise TypeError("y: expected a LongTensor of true labels, shape (N,), got None")
    y = checks.check_labels(y, x)
    eps = checks.check_budget(eps, "eps")
    steps = checks.check_count(steps, "steps", minimum=1)
    seed = checks.check_count(seed, "seed")
    right = _logits(victim, x, "victim", "x").argmax(1) == y
    _logits(surrogate, x, "surrogate", "x")  # checks the surrogate before the attack
    x_adv = pgd(surrogate, x, y, eps=eps, step_size=2.5 * eps / steps, steps=steps,
                generator=torch.Generator(x.device).manual_seed(seed))
    fooled = (_logits(victim, x_adv, "victim", "x").argmax(1) != y) & right
    return float(fooled.sum() / right.sum()) if right.any() else math.nan
