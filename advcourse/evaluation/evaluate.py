"""Accuracy, robust accuracy, attack success rate and perturbation sizes over many images.

Introduced in 02_noise and used to close every section of 05_fgsm to 08_defences with one number.

* :func:`accuracy`: clean top-1 accuracy, in batches;
* :func:`evaluate_attack`: run one attack over a batch or a ``DataLoader`` (with a progress bar)
  and measure it: a :class:`Report`;
* :func:`robust_accuracy`: just the accuracy under that attack;
* :func:`compare`: several attacks on the same images, a :class:`Table` of Reports;
* :func:`worst_case`: several attacks in a row, each on the samples still standing; a sample is
  robust only if it survives them all (AutoAttack's idea; taught in 11_evaluation).

Reports render as a small HTML table in a notebook and as aligned text in a terminal. Norms are
measured on ``delta = x_adv - x`` per sample with :func:`advcourse.attacks._core.per_sample_norm`.
"""

from __future__ import annotations

import html
import inspect
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterable, Iterator, Sequence

import torch
from matplotlib.figure import Figure
from torch import Tensor, nn

from advcourse.core import checks
from advcourse.attacks import ATTACKS, get_attack
from advcourse.attacks import _core
from advcourse.attacks._blackbox import QueryCounter
from advcourse.core.formatting import rounded_repr
from advcourse.core.progress import progress_bar
from advcourse.core.viz import figure_function, new_figure

__all__ = ["accuracy", "evaluate_attack", "robust_accuracy", "compare", "Report", "Table", "worst_case", "WorstCase",
           "WorstCaseRow", "autoattack_list"]

Data = Tensor | Iterable[tuple[Tensor, Tensor]]


# ----------------------------------------------------------------------------- reports
_COLUMNS = (  # (field, header, format)
    ("name", "attack", "{}"),
    ("n", "n", "{}"),
    ("clean_accuracy", "clean acc", "{:.1%}"),
    ("robust_accuracy", "robust acc", "{:.1%}"),
    ("success_rate", "success", "{:.1%}"),
    ("l2_median", "L2 median", "{:.3f}"),
    ("l2_mean", "L2 mean", "{:.3f}"),
    ("linf_median", "L∞ median", "{:.4f}"),
    ("linf_mean", "L∞ mean", "{:.4f}"),
)


def _cells(report: "Report") -> list[str]:
    values = asdict(report)
    return ["–" if isinstance(values[f], float) and math.isnan(values[f]) else fmt.format(values[f])
            for f, _, fmt in _COLUMNS]


def _text_table(rows: Sequence["Report"]) -> str:
    grid = [[h for _, h, _ in _COLUMNS]] + [_cells(r) for r in rows]
    widths = [max(len(row[j]) for row in grid) for j in range(len(_COLUMNS))]
    lines = ["  ".join(c.ljust(w) if j == 0 else c.rjust(w) for j, (c, w) in enumerate(zip(row, widths)))
             for row in grid]
    return "\n".join([lines[0], "-" * len(lines[0]), *lines[1:]])


def _html_table(rows: Sequence["Report"]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for _, h, _ in _COLUMNS)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in _cells(r)) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


@dataclass
class Report:
    """How one attack did on ``n`` images.

    Attributes:
        name: the attack's name (registry key, dict key in :func:`compare`, or the function's name).
        n: number of images.
        clean_accuracy: fraction in [0, 1] the model gets right before the attack.
        robust_accuracy: fraction in [0, 1] it still gets right on ``x_adv``.
        success_rate: fraction in [0, 1]. Untargeted: among images the model got right, those it
            gets wrong after the attack (``nan`` if it got none right). Targeted: images classified
            as their target after the attack, among all of them.
        l2_median, l2_mean: ‖x_adv − x‖₂ per image, over all ``n`` images (pixel units, [0, 1] scale).
        linf_median, linf_mean: ‖x_adv − x‖∞ per image, over all ``n`` images (8/255 ≈ 0.0314).
        params: the attack's parameters (not shown in the table).
    """

    name: str
    n: int
    clean_accuracy: float
    robust_accuracy: float
    success_rate: float
    l2_median: float
    l2_mean: float
    linf_median: float
    linf_mean: float
    params: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __str__(self) -> str:
        return _text_table([self])

    __repr__ = __str__  # the rounded one-row table

    def _repr_html_(self) -> str:
        return _html_table([self])


class Table:
    """Several :class:`Report` rows (one per attack); ``table["pgd"]`` looks a row up by name."""

    def __init__(self, rows: Sequence[Report]):
        self.rows: list[Report] = list(rows)

    def __getitem__(self, name: str) -> Report:
        for r in self.rows:
            if r.name == name:
                return r
        raise KeyError(f"name: no row called {name!r}; rows are {', '.join(r.name for r in self.rows)}")

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[Report]:
        return iter(self.rows)

    def __str__(self) -> str:
        return _text_table(self.rows)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        return _html_table(self.rows)


# ----------------------------------------------------------------------------- plumbing
def _device(model: nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def _check_batch_size(batch_size: object) -> int:
    return checks.check_count(batch_size, "batch_size", minimum=1)


def _batches(data: Data, y: Tensor | None, batch_size: int, device: torch.device) -> tuple[Iterable, int | None]:
    """(iterable of (x, y) batches on ``device``, number of batches if known)."""
    if isinstance(data, Tensor):
        checks.check_images(data, name="data")
        if y is None:
            raise ValueError("y: evaluating a tensor batch needs its true labels (N,), got None")
        y = checks.check_labels(y, data)
        n = data.shape[0]
        starts = range(0, n, batch_size)
        return (((data[i:i + batch_size].to(device), y[i:i + batch_size].to(device)) for i in starts),
                len(starts))
    if y is not None:
        raise ValueError("y: the labels come from the DataLoader's (x, y) pairs; pass y=None")
    if not hasattr(data, "__iter__"):
        raise TypeError(f"data: expected a (N, C, H, W) tensor or a DataLoader of (x, y), got {type(data).__name__}")
    try:
        total = len(data)  # type: ignore[arg-type]
    except TypeError:
        total = None

    def pairs():
        for item in data:
            if not (isinstance(item, (tuple, list)) and len(item) == 2):
                raise TypeError("data: expected a DataLoader yielding (x, y) pairs")
            bx, by = item
            checks.check_images(bx, name="data")
            yield bx.to(device), checks.check_labels(by, bx).to(device)

    return pairs(), total


def _resolve_attack(attack: str | Callable) -> tuple[str, Callable, bool]:
    """(name, function, whether it takes the model first)."""
    if isinstance(attack, str):
        spec = get_attack(attack)
        return spec.name, spec.fn, spec.needs_model
    if callable(attack):
        for spec in ATTACKS.values():
            if spec.fn is attack:
                return spec.name, spec.fn, spec.needs_model
        return getattr(attack, "__name__", type(attack).__name__), attack, True
    raise TypeError(f"attack: expected a name from advcourse.attacks.ATTACKS or a callable, got {type(attack).__name__}")


def _stat(values: list[Tensor], how: str) -> float:
    v = torch.cat(values).double()
    return float(v.median() if how == "median" else v.mean()) if v.numel() else math.nan


# ----------------------------------------------------------------------------- public API
def accuracy(model: nn.Module, x: Tensor, y: Tensor, *, batch_size: int = 32) -> float:
    """Top-1 accuracy of ``model`` on ``x``: the fraction of ``argmax(model(x)) == y``.

    Args:
        model: ``nn.Module`` mapping (N, C, H, W) pixels in [0, 1] to (N, K) logits.
        x: (N, C, H, W) float tensor in [0, 1].
        y: (N,) int64 true labels.
        batch_size: images per forward pass (>= 1).

    Returns:
        float in [0, 1]. The model is evaluated in eval mode and left as found.

    Example:
        >>> accuracy(model, x, y)
        1.0
    """
    checks.check_model(model)
    checks.check_images(x)
    if y is None:
        raise ValueError("y: accuracy needs the true labels (N,), got None")
    y = checks.check_labels(y, x)
    batch_size = _check_batch_size(batch_size)
    device = _device(model)
    right = sum(int((_core.predicted_labels(model, x[i:i + batch_size].to(device)) == y[i:i + batch_size].to(device)).sum())
                for i in range(0, x.shape[0], batch_size))
    return right / x.shape[0]


def _check_targets_differ(targets: Tensor, y: Tensor, first: int = 0) -> None:
    """Refuse targets equal to the true labels: that attack makes the model surer, and would "succeed"."""
    same = (targets.to(y.device) == y).nonzero().flatten()
    if same.numel():
        raise ValueError(
            f"target: {same.numel()} target(s) equal the true label y (first at image {first + int(same[0])}); "
            "a targeted attack towards the true class only makes the model surer of it, and would be "
            "counted a success. Pick another class per image, e.g. target=lambda y: (y + 1) % num_classes")


def evaluate_attack(model: nn.Module, data: Data, y: Tensor | None = None, *, attack: str | Callable,
                    batch_size: int = 32, progress: bool = True, name: str | None = None,
                    target: Tensor | Callable[[Tensor], Tensor] | None = None, **params: Any) -> Report:
    """Run ``attack`` on every image of ``data`` and measure it.

    Args:
        model: ``nn.Module`` mapping (N, C, H, W) pixels in [0, 1] to (N, K) logits.
        data: (N, C, H, W) float tensor in [0, 1] (then ``y`` is required), or an iterable such as
            a ``DataLoader`` yielding ``(x, y)`` batches (then ``y`` must be ``None``).
        y: (N,) int64 true labels for a tensor ``data``.
        attack: a name from :data:`advcourse.attacks.ATTACKS` (``"fgsm"``, ``"pgd"``…) or a callable
            ``attack(model, x, y, **params) -> x_adv``.
        batch_size: images per attack call for a tensor ``data`` (>= 1).
        progress: show a ``tqdm`` progress bar over the batches.
        name: the report's name (default: the attack's name).
        target: for a targeted attack, the target classes: an (N,) int64 tensor (tensor ``data``
            only) or a function ``y -> targets`` applied to each batch. The attack is then called
            with ``targeted=True`` and the targets as its labels.
        **params: passed to the attack, e.g. ``eps=8/255, step_size=2/255, steps=10``.

    Returns:
        :class:`Report` with accuracy before and after, success rate and the norms of ``x_adv − x``.

    Notes:
        Per batch: the attack, plus one no-grad forward on ``x`` and one on ``x_adv``. The model is
        left as found.

    Example:
        >>> evaluate_attack(model, x, y, attack="pgd", eps=4/255, step_size=1/255, steps=10)
    """
    checks.check_model(model)
    checks.check_bool(progress, "progress")
    if name is not None and not isinstance(name, str):
        raise TypeError(f"name: expected a str or None, got {type(name).__name__}")
    label, fn, needs_model = _resolve_attack(attack)
    batch_size = _check_batch_size(batch_size)
    device = _device(model)
    if target is not None:
        params["targeted"] = True
        if isinstance(target, Tensor):
            if not isinstance(data, Tensor):
                raise TypeError("target: a tensor of targets needs tensor data; pass a function y -> targets")
            target = checks.check_labels(target, data, name="target")
    batches, total = _batches(data, y, batch_size, device)
    if isinstance(target, Tensor) and isinstance(y, Tensor):
        _check_targets_differ(target, y)  # before any attack runs; a target function is checked per batch
    n = right = still_right = hits = 0
    l2: list[Tensor] = []
    linf: list[Tensor] = []
    bar = progress_bar(batches, total=total, desc=name or label, unit="batch", enabled=progress, leave=False)
    for bx, by in bar:
        labels = by
        if target is not None:
            labels = target(by) if callable(target) else target[n:n + bx.shape[0]].to(device)
            _check_targets_differ(labels, by, first=n)
        x_adv = fn(model, bx, labels, **params) if needs_model else fn(bx, **params)
        clean, adv = _core.predicted_labels(model, bx), _core.predicted_labels(model, x_adv)
        delta = (x_adv - bx).detach()
        ok = clean == by
        right += int(ok.sum())
        still_right += int((adv == by).sum())
        hits += int((adv == labels).sum()) if target is not None else int((ok & (adv != by)).sum())
        l2.append(_core.per_sample_norm(delta, 2.0).cpu())
        linf.append(_core.per_sample_norm(delta, _core.INF).cpu())
        n += bx.shape[0]
    if n == 0:
        raise ValueError("data: no images to evaluate")
    base = n if target is not None else right
    return Report(name=name or label, n=n, clean_accuracy=right / n, robust_accuracy=still_right / n,
                  success_rate=hits / base if base else math.nan,
                  l2_median=_stat(l2, "median"), l2_mean=_stat(l2, "mean"),
                  linf_median=_stat(linf, "median"), linf_mean=_stat(linf, "mean"),
                  params={"attack": label, **params})


def robust_accuracy(model: nn.Module, x: Data, y: Tensor | None = None, *, attack: str | Callable,
                    batch_size: int = 32, progress: bool = False, **params: Any) -> float:
    """Accuracy on the attacked images, in [0, 1]: ``evaluate_attack(...).robust_accuracy``.

    Example:
        >>> robust_accuracy(model, x, y, attack="fgsm", eps=2/255)
    """
    return evaluate_attack(model, x, y, attack=attack, batch_size=batch_size, progress=progress,
                           **params).robust_accuracy


def compare(model: nn.Module, x: Data, y: Tensor | None = None, attacks: dict[str, dict[str, Any]] | None = None,
            *, batch_size: int = 32, progress: bool = True) -> Table:
    """Run several attacks on the same images; one :class:`Report` row per attack.

    Args:
        model, x, y: as :func:`evaluate_attack` (``x`` may also be a DataLoader).
        attacks: row name -> parameters, each including ``"attack"`` (a name or callable), e.g.
            ``{"FGSM 4/255": {"attack": "fgsm", "eps": 4/255}, "PGD-10": {"attack": "pgd", ...}}``.
        batch_size, progress: as :func:`evaluate_attack`.

    Returns:
        :class:`Table` whose ``.rows`` are the Reports, in the order given.

    Example:
        >>> compare(model, x, y, {"fgsm": {"attack": "fgsm", "eps": 2/255}})
    """
    if not isinstance(attacks, dict) or not attacks:
        raise TypeError("attacks: expected a non-empty dict of name -> {'attack': ..., **params}")
    rows = []
    for row_name, spec in attacks.items():
        if not isinstance(spec, dict) or "attack" not in spec:
            raise ValueError(f"attacks: the entry {row_name!r} needs an 'attack' key (a name or a callable)")
        params = {k: v for k, v in spec.items() if k != "attack"}
        rows.append(evaluate_attack(model, x, y, attack=spec["attack"], batch_size=batch_size,
                                    progress=progress, name=row_name, **params))
    return Table(rows)


# ----------------------------------------------------------------------------- worst case per sample
@dataclass
class WorstCaseRow:
    """One attack of :func:`worst_case`, run only on the samples every earlier attack left standing.

    Attributes:
        name: the row's name.
        attacked: samples this attack was run on (still right after the earlier attacks).
        broken: of those, samples it broke.
        robust_accuracy: fraction in [0, 1] of all ``n`` samples still right after this attack and
            every earlier one (the running worst case).
        queries: images sent through the model by this attack, forward and backward counted once
            each (a forward with its backward counts 1), over all its samples.
        seconds: wall time of this attack (not shown in the table: it changes from run to run).
    """

    __repr__ = rounded_repr

    name: str
    attacked: int
    broken: int
    robust_accuracy: float
    queries: int
    seconds: float = field(compare=False)


@dataclass
class WorstCase:
    """The result of :func:`worst_case`: a row per attack and the per-sample verdict.

    Attributes:
        n: number of samples.
        clean_accuracy: fraction in [0, 1] right before any attack.
        rows: one :class:`WorstCaseRow` per attack, in the order run.
        robust: (N,) bool, right on the clean sample and after every attack.
        broken_by: (N,) int64, the index of the attack that broke each sample (-1: never broken,
            or wrong from the start).
        x_adv: (N, C, H, W) the adversarial example that broke each sample (``x`` where none did).
    """

    n: int
    clean_accuracy: float
    rows: list[WorstCaseRow]
    robust: Tensor = field(repr=False)
    broken_by: Tensor = field(repr=False)
    x_adv: Tensor = field(repr=False)

    @property
    def robust_accuracy(self) -> float:
        """Worst-case robust accuracy in [0, 1]: right after every attack."""
        return float(self.robust.float().mean())

    def _grid(self, seconds: bool) -> list[list[str]]:
        head = ["attack", "attacked", "broken", "robust acc after", "queries"] + (["seconds"] if seconds else [])
        rows = [["clean", "–", "–", f"{self.clean_accuracy:.1%}", "–"] + (["–"] if seconds else [])]
        rows += [[r.name, str(r.attacked), str(r.broken), f"{r.robust_accuracy:.1%}", f"{r.queries:,}"]
                 + ([f"{r.seconds:.1f}"] if seconds else []) for r in self.rows]
        rows.append(["worst case", "", "", f"{self.robust_accuracy:.1%}", f"{sum(r.queries for r in self.rows):,}"]
                    + ([f"{sum(r.seconds for r in self.rows):.1f}"] if seconds else []))
        return [head] + rows

    def table(self, seconds: bool = False) -> str:
        """The table as aligned text; ``seconds=True`` adds each attack's wall time."""
        grid = self._grid(seconds)
        widths = [max(len(row[j]) for row in grid) for j in range(len(grid[0]))]
        lines = ["  ".join(c.ljust(w) if j == 0 else c.rjust(w) for j, (c, w) in enumerate(zip(row, widths)))
                 for row in grid]
        return "\n".join([lines[0], "-" * len(lines[0]), *lines[1:]])

    def __str__(self) -> str:
        return self.table()

    __repr__ = __str__  # rounded, without times: the same on every machine

    def _repr_html_(self) -> str:
        head, *rows = self._grid(False)
        cells = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
        return (f"<table><thead><tr>{''.join(f'<th>{html.escape(h)}</th>' for h in head)}</tr></thead>"
                f"<tbody>{cells}</tbody></table>")

    @figure_function
    def plot(self) -> Figure:
        """Accuracy left after each attack (and every one before it): a falling staircase."""
        fig = new_figure(6.0, 3.4)
        ax = fig.subplots()
        names = ["clean", *(r.name for r in self.rows)]
        values = [self.clean_accuracy, *(r.robust_accuracy for r in self.rows)]
        bars = ax.bar(range(len(values)), values, color=["C0"] + ["C1"] * len(self.rows))
        ax.bar_label(bars, labels=[f"{v:.0%}" for v in values], fontsize=10)
        ax.set_xticks(range(len(values)), names)
        ax.set_ylabel("accuracy after every\nattack so far")
        ax.set_ylim(0, 1.15)
        return fig


def _apgd_targeted(model: nn.Module, x: Tensor, y: Tensor, *, eps: float, norm: float = _core.INF,
                   steps: int = 100, targets: int = 3, generator: torch.Generator | None = None) -> Tensor:
    """AutoAttack's APGD-T: targeted DLR towards each of the ``targets`` most likely wrong classes in turn.

    A sample leaves as soon as one target works; ``x_adv`` is a misclassified point where one was
    found, else the last attempt. Untargeted in effect: ``y`` are the true labels.
    """
    from advcourse.attacks import apgd

    with checks.frozen(model, x), torch.no_grad():
        ranked = _core.logits_of(model, x, y).scatter(1, y[:, None], -math.inf).argsort(1, descending=True)
    x_adv, left = x.clone(), torch.arange(x.shape[0], device=x.device)
    for k in range(min(targets, ranked.shape[1] - 1)):
        x_adv[left] = apgd(model, x[left], ranked[left, k], eps=eps, norm=norm, steps=steps, loss="dlr",
                           targeted=True, generator=generator)
        left = left[_core.predicted_labels(model, x_adv[left]) == y[left]]
        if left.numel() == 0:
            break
    return x_adv


_apgd_targeted.__name__ = "apgd_t"


def autoattack_list(eps: float, *, norm: float = _core.INF, steps: int = 100,
                    max_queries: int = 1000) -> dict[str, dict[str, Any]]:
    """The default list of :func:`worst_case`, after AutoAttack (Croce & Hein 2020, arXiv:2003.01690).

    APGD with cross-entropy, then APGD-T (targeted DLR towards the 3 most likely wrong classes),
    then Square (score-based black box, in the same norm): two losses and a gradient-free attack,
    so a defence that fools one kind of attack still meets the others.
    """
    attacks: dict[str, dict[str, Any]] = {
        "APGD-CE": {"attack": "apgd", "eps": eps, "norm": norm, "steps": steps, "loss": "ce"},
        "APGD-T (DLR)": {"attack": _apgd_targeted, "eps": eps, "norm": norm, "steps": steps},
        "Square": {"attack": "square", "eps": eps, "norm": norm, "max_queries": max_queries},
    }
    return attacks


def worst_case(model: nn.Module, x: Tensor, y: Tensor, attacks: dict[str, dict[str, Any]] | None = None, *,
               eps: float | None = None, norm: float = _core.INF, seed: int = 0) -> WorstCase:
    """Run attacks one after another, each on the samples still standing; robust = survives them all.

    Average robust accuracy under one attack overstates robustness: each attack has blind spots,
    and a sample counts as robust only if *no* attack breaks it. AutoAttack's recipe: a list of
    diverse attacks, each run on the samples every earlier one failed on, so the extra attacks
    cost little.

    Args:
        model: ``nn.Module`` mapping (N, C, H, W) pixels in [0, 1] to (N, K) logits.
        x: (N, C, H, W) float tensor in [0, 1]; y: (N,) int64 true labels.
        attacks: row name -> ``{"attack": name or callable, **params}`` as in :func:`compare`
            (untargeted: the true labels are passed). Default: :func:`autoattack_list` at ``eps``.
        eps: budget of the default list (required when ``attacks`` is ``None``).
        norm: norm of the default list (``float("inf")`` or 2).
        seed: attacks that take a ``generator`` get one seeded with ``seed`` (reproducible).

    Returns:
        :class:`WorstCase`: per attack, samples attacked and broken, the running robust accuracy
        and the images it sent through the model; per sample, which attack broke it.

    Notes:
        Misclassified samples are never attacked. The model is left as found.

    Example:
        >>> worst_case(model, x, y, eps=8/255)
    """
    checks.check_model(model)
    checks.check_images(x)
    if y is None:
        raise ValueError("y: the worst case needs the true labels (N,), got None")
    y = checks.check_labels(y, x)
    seed = checks.check_count(seed, "seed")
    if attacks is None:
        if eps is None:
            raise ValueError("eps: the default attack list needs a budget, e.g. eps=8/255")
        attacks = autoattack_list(checks.check_budget(eps, "eps", checks.check_norm(norm, (_core.INF, 2.0))),
                                  norm=checks.check_norm(norm, (_core.INF, 2.0)))
    if not isinstance(attacks, dict) or not attacks:
        raise TypeError("attacks: expected a non-empty dict of name -> {'attack': ..., **params}")
    device = _device(model)
    x, y = x.to(device), y.to(device)
    standing = _core.predicted_labels(model, x) == y
    clean_accuracy = float(standing.float().mean())
    broken_by = torch.full_like(y, -1)
    x_adv = x.clone()
    rows = []
    for i, (row_name, spec) in enumerate(attacks.items()):
        if not isinstance(spec, dict) or "attack" not in spec:
            raise ValueError(f"attacks: the entry {row_name!r} needs an 'attack' key (a name or a callable)")
        _, fn, needs_model = _resolve_attack(spec["attack"])
        params = {k: v for k, v in spec.items() if k != "attack"}
        if "generator" in inspect.signature(fn).parameters and params.get("generator") is None:
            params["generator"] = torch.Generator(device).manual_seed(seed)
        idx = standing.nonzero().squeeze(1)
        counted, start, broken = QueryCounter(model), time.perf_counter(), 0
        if idx.numel():
            out = fn(counted, x[idx], y[idx], **params) if needs_model else fn(x[idx], **params)
            hit = _core.predicted_labels(model, out) != y[idx]
            x_adv[idx[hit]], broken_by[idx[hit]] = out[hit], i
            standing[idx[hit]] = False
            broken = int(hit.sum())
        rows.append(WorstCaseRow(row_name, int(idx.numel()), broken, float(standing.float().mean()), counted.images,
                                 time.perf_counter() - start))
    return WorstCase(n=x.shape[0], clean_accuracy=clean_accuracy, rows=rows, robust=standing, broken_by=broken_by,
                     x_adv=x_adv)
