"""The measurements, pictures and app of 03_semantic: what a model says about negative images.

* :func:`negation_table`: one batched forward over the photos and their negatives, one row per
  photo (its label, prediction before and after — each marked when it is another accepted label
  or a wrong one — and the rank and probability of the label after);
* :func:`show_negatives`: photos above their negatives, with the predictions as titles;
* :func:`blend_path` / :func:`render_blend` / :func:`blend_app`: walk from a photo to its negative
  with a slider; every point of the slider's grid is classified in one batched forward up front,
  so moving the slider never runs the model.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import Tensor, nn

from advcourse.core import checks
from advcourse.attacks import _core
from advcourse.attacks.semantic import blend, semantic
from advcourse.core.formatting import rounded_repr
from advcourse.models.images import SampleBatch, load_samples
from advcourse.models.labels import class_name
from advcourse.core.viz import figure_function, new_figure, to_hwc, topk_bars, wrap_title
from advcourse.widgets import make_app

__all__ = ["NegationRow", "NegationTable", "negation_table", "show_negatives", "BlendPath", "blend_path",
           "render_blend", "blend_app"]


def _device(model: nn.Module) -> torch.device:
    """Where the model's parameters live (CPU for a model without parameters)."""
    return next((p.device for p in model.parameters()), torch.device("cpu"))


def _probs(model: nn.Module, x: Tensor, batch_size: int = 32) -> Tensor:
    """Softmax probabilities (N, K) on the CPU, in eval mode, model left as found."""
    with checks.frozen(model, x), torch.no_grad():
        return torch.cat([_core.logits_of(model, x[i:i + batch_size]).softmax(1).cpu()
                          for i in range(0, x.shape[0], batch_size)])


# ----------------------------------------------------------------------------- the table
@dataclass(frozen=True)
class NegationRow:
    """One photo: its ImageNet label, the top-1 class on the photo and on its negative (``*_ok``:
    is it one of the photo's accepted labels?), and where the label ranks (1 = top) with what
    probability on the negative."""

    __repr__ = rounded_repr  # floats rounded: the same on every CPU

    name: str
    true_label: str
    original: str
    negative: str
    rank: int
    prob: float
    survived: bool
    original_ok: bool = True


@dataclass(frozen=True)
class NegationTable:
    """The rows of :func:`negation_table`; shows as a table in a notebook and as text elsewhere."""

    rows: list[NegationRow]
    probs_original: Tensor = field(repr=False)  # (N, K)
    probs_negative: Tensor = field(repr=False)  # (N, K)

    @property
    def n_survived(self) -> int:
        """How many photos keep a correct top-1 class after negation."""
        return sum(r.survived for r in self.rows)

    def survivors(self) -> list[str]:
        return [r.name for r in self.rows if r.survived]

    def failures(self) -> list[str]:
        return [r.name for r in self.rows if not r.survived]

    _HEAD = ("photo", "label", "on the photo", "on the negative", "label's rank", "label's prob")
    _KEY = "≈: another accepted label of the photo, counted right; ✘: wrong"

    @staticmethod
    def _mark(answer: str, label: str, ok: bool) -> str:
        """An answer with its verdict: nothing when it is the label, ≈ another accepted label, ✘ wrong."""
        return answer if answer == label else f"{answer}  {'≈' if ok else '✘'}"

    def _cells(self, r: NegationRow) -> tuple[str, ...]:
        return (r.name, r.true_label, self._mark(r.original, r.true_label, r.original_ok),
                self._mark(r.negative, r.true_label, r.survived), str(r.rank), f"{r.prob:.0%}")

    def _foot(self) -> str:
        return f"{self.n_survived} of {len(self.rows)} photos keep their class after negation ({self._KEY})"

    def __str__(self) -> str:
        table = [self._HEAD, *(self._cells(r) for r in self.rows)]
        widths = [max(len(row[i]) for row in table) for i in range(len(self._HEAD))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in table]
        lines.append(self._foot())
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{h}</th>" for h in self._HEAD)
        body = "".join(
            f"<tr style='color:{'inherit' if r.survived else '#b35900'}'>"
            + "".join(f"<td>{html.escape(c)}</td>" for c in self._cells(r)) + "</tr>" for r in self.rows)
        foot = f"<p>{html.escape(self._foot())}</p>"
        return f"<table><tr>{head}</tr>{body}</table>{foot}"


def negation_table(model: nn.Module, photos: SampleBatch | None = None) -> NegationTable:
    """Classify every photo and its negative (``1 - x``) in one batched pass.

    Args:
        model: a [0,1]-pixel ImageNet classifier.
        photos: a :class:`~advcourse.models.images.SampleBatch` (default: all shipped photos).

    Returns:
        A :class:`NegationTable`; a photo "survives" when the top-1 class of its negative is one of
        its accepted labels (the label, or a class the course counts as right for that photo,
        marked ≈ in the table). Ranks count from 1.
    """
    photos = load_samples() if photos is None else photos
    x = checks.check_images(photos.x)
    probs = _probs(model, torch.cat([x, semantic(x)]).to(_device(model)))
    n = x.shape[0]
    p_orig, p_neg = probs[:n], probs[n:]
    rows = []
    for i, name in enumerate(photos.names):
        y = int(photos.y[i])
        neg_top, orig_top = int(p_neg[i].argmax()), int(p_orig[i].argmax())
        rows.append(NegationRow(
            name=name, true_label=class_name(y), original=class_name(orig_top),
            negative=class_name(neg_top), rank=int((p_neg[i] > p_neg[i, y]).sum()) + 1,
            prob=float(p_neg[i, y]), survived=neg_top in photos.accepted[i],
            original_ok=orig_top in photos.accepted[i]))
    return NegationTable(rows, p_orig, p_neg)


@figure_function
def show_negatives(photos: SampleBatch, table: NegationTable, names: Sequence[str] | None = None) -> Figure:
    """Chosen photos (default: all) on the top row, their negatives below, predictions as titles.

    A negative the model gets wrong has its title in orange.
    """
    index = {n: i for i, n in enumerate(photos.names)}
    names = list(photos.names if names is None else names)
    unknown = [n for n in names if n not in index]
    if unknown:
        raise ValueError(f"names: not in the batch: {unknown}")
    size = min(2.0, 10.8 / max(len(names), 1))  # at most 10.8 in wide: shown unscaled in a notebook
    fig = new_figure(size * len(names), 2 * size + 1.0)
    axes = fig.subplots(2, len(names), squeeze=False)
    for col, name in enumerate(names):
        i = index[name]
        row = table.rows[i]
        axes[0, col].imshow(to_hwc(photos.x[i]))
        axes[0, col].set_title(wrap_title(f"{name}\n→ {row.original}", size))
        axes[1, col].imshow(to_hwc(1 - photos.x[i]))
        axes[1, col].set_title(wrap_title(f"negative\n→ {row.negative}", size),
                               color="black" if row.survived else "#b35900")
        for ax in axes[:, col]:
            ax.axis("off")
    return fig


# ----------------------------------------------------------------------------- the slider
@dataclass(frozen=True)
class BlendPath:
    """Predictions along ``x_t = (1 - t) x + t (1 - x)`` for one photo, at ``ts``.

    Attributes:
        ts: (T,) blend values from 0 to 1.
        probs: (T, K) softmax probabilities at each ``t`` (CPU).
        y: the photo's true class; ``accepted``: every class counted right.
    """

    __repr__ = rounded_repr  # floats rounded: the same on every CPU

    ts: Tensor
    probs: Tensor
    y: int
    accepted: frozenset[int]

    def index(self, t: float) -> int:
        """The grid point nearest to ``t``."""
        return int((self.ts - float(t)).abs().argmin())

    def top1(self) -> list[int]:
        return [int(k) for k in self.probs.argmax(1)]

    def correct(self) -> list[bool]:
        """Per grid point: is the top-1 class an accepted label?"""
        return [k in self.accepted for k in self.top1()]

    def first_wrong(self) -> float | None:
        """The smallest ``t`` on the grid where the top-1 class is wrong (``None``: never)."""
        wrong = [float(t) for t, ok in zip(self.ts, self.correct()) if not ok]
        return wrong[0] if wrong else None


def blend_path(model: nn.Module, x: Tensor, y: int, accepted: Sequence[int] | None = None,
               steps: int = 21) -> BlendPath:
    """Classify ``blend(x, t)`` for ``steps`` evenly spaced ``t`` in [0, 1], in one batched forward.

    Args:
        model: a [0,1]-pixel classifier.
        x: one photo, (1, 3, H, W) in [0, 1].
        y: its true class; ``accepted``: classes also counted right (default: just ``y``).
        steps: grid size (>= 2); 21 gives steps of 0.05.
    """
    checks.check_images(x)
    if x.shape[0] != 1:
        raise ValueError(f"x: expected one photo (1, C, H, W), got a batch of {x.shape[0]}")
    steps = checks.check_count(steps, "steps", minimum=2)
    y = checks.check_count(y, "y")
    ts = torch.linspace(0, 1, steps)
    xs = blend(x.expand(steps, -1, -1, -1), ts.to(x.device))
    probs = _probs(model, xs.to(_device(model)))
    return BlendPath(ts, probs, int(y), frozenset({int(y), *(accepted or ())}))


@figure_function
def render_blend(x: Tensor, path: BlendPath, t: float, title: str = "") -> Figure:
    """Three panels at blend ``t``: the blended picture, its top-5 classes, and the true class's
    probability along the whole path with ``t`` marked. Pure: uses ``path``, never the model."""
    checks.check_images(x)
    checks.check_instance(path, BlendPath, "path", "made by blend_path")
    t = checks.check_nonnegative(t, "t")
    if t > 1:
        raise ValueError(f"t: expected a number in [0, 1], got {t}")
    i = path.index(t)
    t = float(path.ts[i])
    probs = path.probs[i]
    fig = new_figure(10.5, 3.6)
    ax_img, ax_bar, ax_curve = fig.subplots(1, 3, width_ratios=[1, 1.3, 1.4])
    ax_img.imshow(to_hwc(blend(x, t)))
    ax_img.axis("off")
    verdict = "right" if path.correct()[i] else "wrong"
    ax_img.set_title(f"{title} t = {t:.2f} ({verdict})".strip())
    values, ids = probs.topk(5)
    topk_bars([class_name(int(k)) for k in ids], values.tolist(), ax=ax_bar, title="top-5 at this t")
    ts = path.ts.numpy()
    ax_curve.plot(ts, path.probs[:, path.y].numpy(), color="#4c72b0", label=f"p({class_name(path.y)})")
    ax_curve.plot(ts, path.probs.max(1).values.numpy(), color="#8c8c8c", ls="--", label="p(top-1)")
    wrong = ~np.array(path.correct())
    ax_curve.scatter(ts[wrong], np.zeros(wrong.sum()), marker="x", color="#b35900", label="top-1 wrong")
    ax_curve.axvline(t, color="#c44e52", label=f"t = {t:.2f} (left)")
    ax_curve.set_xlim(0, 1)
    ax_curve.set_ylim(-0.05, 1.05)
    ax_curve.set_xlabel("t   (0 = photo, 0.5 = grey, 1 = negative)")
    fig.legend(loc="outside lower center", ncols=4)
    return fig


def blend_app(model: nn.Module, photos: SampleBatch | None = None, photo: str = "peacock", steps: int = 21,
              paths: dict[str, BlendPath] | None = None):
    """A photo dropdown and a ``t`` slider over the blend from photo to negative.

    Each photo's path is classified once (one batched forward of ``steps`` images) the first
    time it is picked; after that the slider only redraws. ``paths`` passes paths already
    computed (name -> :class:`BlendPath` with the same ``steps``) so they are not computed again.
    """
    import ipywidgets as W

    photos = load_samples() if photos is None else photos
    if photo not in photos.names:
        raise ValueError(f"photo: not in the batch; choose from {', '.join(photos.names)}")
    paths = dict(paths or {})
    for name, known in paths.items():
        if len(known.ts) != steps:
            raise ValueError(f"paths: {name!r} has {len(known.ts)} grid points, expected steps = {steps}")

    def path_of(name: str) -> BlendPath:
        if name not in paths:
            i = photos.names.index(name)
            paths[name] = blend_path(model, photos.x[i:i + 1], int(photos.y[i]), sorted(photos.accepted[i]), steps)
        return paths[name]

    def render(name: str, t: float) -> Figure:
        i = photos.names.index(name)
        return render_blend(photos.x[i:i + 1], path_of(name), t, title=name)

    path_of(photo)  # the first view is ready before the app shows
    controls = {
        "name": W.Dropdown(options=photos.names, value=photo, description="photo"),
        "t": W.FloatSlider(value=0.0, min=0.0, max=1.0, step=1 / (steps - 1), description="t",
                           continuous_update=False, readout_format=".2f"),
    }
    return make_app(render, controls)
