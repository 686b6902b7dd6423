"""Lesson helpers for 07_deepfool: the 2-D pictures, the photo views, the norm and accuracy charts.

Taught in 07_deepfool. The formulas live in :mod:`advcourse.evasion.geometry` and the attack in
:func:`advcourse.attacks.deepfool`; this module only draws them. Every ``render_*`` function is
pure (plain values in, a matplotlib ``Figure`` out) and every ``*_app`` wraps one in sliders with
:func:`advcourse.widgets.make_app`; the photo views read results computed once, so a move answers
at once.

    >>> render_binary(2.0, 1.5, overshoot=0.02)       # the point, its projection, the overshoot
    >>> binary_app()                                  # the same with three sliders
    >>> show_deepfool(x, x_adv, info.pred, rank, names, photos=[0, 4, 8])
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from torch import Tensor, nn

from advcourse.core import checks
from advcourse.evasion import geometry
from advcourse.models.labels import class_name
from advcourse.core.viz import amplify, figure_function, new_figure, readable_log_ticks, to_hwc

__all__ = [
    "BINARY_W", "BINARY_B", "TOY_W", "TOY_B", "TOY_CLASSES", "REPORTED",
    "render_binary", "binary_app", "render_multiclass", "multiclass_app",
    "show_deepfool", "render_photo", "photo_app", "show_distances", "accuracy_figure", "replay",
]

#: The binary toy of the lesson: f(x) = x₁ + 2·x₂ − 2, boundary the line x₁ + 2 x₂ = 2.
BINARY_W = np.array([1.0, 2.0])
BINARY_B = -2.0

#: A three-class linear toy, f_k(x) = W[k]·x + b[k]. Class C's weights are long, so its boundary
#: can be the *nearest* even where B has the higher score: distance divides by ‖w_C − w_A‖.
TOY_W = np.array([[0.0, 0.0], [1.0, 0.2], [0.3, 2.5]])
TOY_B = np.array([0.0, -1.5, -3.0])
TOY_CLASSES = ("A", "B", "C")
_TOY_COLOURS = ("#4c72b0", "#dd8452", "#55a868")

#: Top-1 accuracies the seed article reports for its library (scratchai) — quoted, not measured here.
REPORTED: dict[str, dict[str, float]] = {
    "ResNet18 · ImageNet (article)": {"clean": 0.69, "DeepFool": 0.10},
    "LeNet · MNIST (article)": {"clean": 0.986, "noise": 0.984, "semantic": 0.233, "FGSM": 0.509,
                                "PGD": 0.187, "DeepFool": 0.012},
}
_CATEGORIES = ("clean", "noise", "semantic", "FGSM", "PGD", "DeepFool")

_LIMITS = (-1.0, 4.0)


# ----------------------------------------------------------------------------- 2-D pictures
def _plane(ax: Axes, limits: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    ax.set_xlim(*limits)
    ax.set_ylim(*limits)
    ax.set_aspect("equal")
    ax.set_xlabel("x₁")
    ax.set_ylabel("x₂")
    ax.grid(alpha=0.25)
    grid = np.linspace(*limits, 201)
    return np.meshgrid(grid, grid)


def _line(ax: Axes, w: np.ndarray, b: float, limits: tuple[float, float], **style: Any) -> None:
    """Draw ``w·x + b = 0`` across the plot."""
    t = np.linspace(limits[0] - 1, limits[1] + 1, 2)
    if abs(w[1]) > abs(w[0]):
        ax.plot(t, -(b + w[0] * t) / w[1], **style)
    else:
        ax.plot(-(b + w[1] * t) / w[0], t, **style)


def _arrow(ax: Axes, start: np.ndarray, end: np.ndarray, colour: str) -> None:
    ax.annotate("", xy=tuple(end), xytext=tuple(start),
                arrowprops={"arrowstyle": "->", "color": colour, "lw": 2, "shrinkA": 0, "shrinkB": 0})


def _point(px: float, py: float) -> np.ndarray:
    """The slider point as a 2-vector; strings and NaN are refused (NumPy would take "1" silently)."""
    return np.array([checks.check_finite(px, "px"), checks.check_finite(py, "py")], dtype=float)


@figure_function
def render_binary(px: float, py: float, overshoot: float = 0.02,
                  w: Sequence[float] = tuple(BINARY_W), b: float = BINARY_B) -> Figure:
    """A linear binary classifier in 2-D: the point, its projection onto the boundary, the overshoot.

    Draws the two half-planes ``f > 0`` / ``f < 0`` of ``f(x) = w·x + b``, the boundary line,
    the point ``x = (px, py)``, its projection ``x + r*`` (:func:`advcourse.evasion.geometry.projection`)
    and DeepFool's answer ``x + (1 + overshoot) r*``.

    Args:
        px, py: the point's coordinates.
        overshoot: >= 0, how far past the boundary to go (0.02 in the paper).
        w, b: the classifier (default: the lesson's ``x₁ + 2 x₂ − 2``).
    """
    x = _point(px, py)
    overshoot = checks.check_nonnegative(overshoot, "overshoot")
    w = np.asarray(w, dtype=float)
    f = geometry.signed_score(w, b, x)
    proj = geometry.projection(w, b, x)
    x_adv = geometry.overshoot_point(w, b, x, overshoot)
    f_adv = geometry.signed_score(w, b, x_adv)
    fig = new_figure(5.6, 5.8)
    ax = fig.subplots()
    g1, g2 = _plane(ax, _LIMITS)
    ax.contourf(g1, g2, w[0] * g1 + w[1] * g2 + b > 0, levels=[-0.5, 0.5, 1.5], colors=["#dd8452", "#4c72b0"],
                alpha=0.15)
    _line(ax, w, b, _LIMITS, color="black", lw=1.5, label="boundary  w·x + b = 0")
    _arrow(ax, x, proj, "#c44e52")
    ax.plot(*x, "ko", ms=7, label=f"x, f(x) = {f:+.2f}")
    ax.plot(*proj, "o", mfc="white", mec="#c44e52", ms=8, label="projection x + r*")
    ax.plot(*x_adv, "X", color="#c44e52", ms=10, label=f"x + (1+{overshoot:g})·r*, f = {f_adv:+.2f}")
    ax.text(_LIMITS[1] - 0.1, _LIMITS[1] - 0.2, "class +1", ha="right", va="top", color="#4c72b0")
    ax.text(_LIMITS[0] + 0.1, _LIMITS[0] + 0.1, "class −1", ha="left", va="bottom", color="#dd8452")
    fig.legend(loc="outside lower center", ncols=2)
    dist = geometry.distance_to_hyperplane(w, b, x)
    ax.set_title(f"distance |f(x)| / ‖w‖ = {abs(f):.2f} / {np.linalg.norm(w):.2f} = {dist:.2f}")
    return fig


def _point_and_overshoot(render: Callable[..., Figure], px: float, py: float):
    """An app with sliders for a 2-D point's coordinates and the overshoot over ``render``."""
    import ipywidgets as W

    from advcourse.widgets import make_app

    def slider(description: str, value: float, lo: float, hi: float, step: float) -> W.FloatSlider:
        return W.FloatSlider(value=value, min=lo, max=hi, step=step, description=description,
                             continuous_update=False)

    controls = {"px": slider("x₁", px, *_LIMITS, 0.1), "py": slider("x₂", py, *_LIMITS, 0.1),
                "overshoot": slider("overshoot", 0.02, 0.0, 1.0, 0.02)}
    return make_app(render, controls)


def binary_app():
    """Sliders for the point's coordinates and the overshoot over :func:`render_binary`."""
    return _point_and_overshoot(render_binary, 2.0, 1.5)


@figure_function
def render_multiclass(px: float, py: float, overshoot: float = 0.02) -> Figure:
    """The three-class linear toy: regions, the linearised boundaries of x's class, DeepFool's step.

    Every other class ``k`` contributes one dashed line ``f_k = f_k0`` labelled with its distance
    ``|f'_k| / ‖w'_k‖`` (:func:`advcourse.evasion.geometry.boundary_distances`); the arrow is the step to
    the closest one (:func:`advcourse.evasion.geometry.linear_deepfool_step`).

    Args:
        px, py: the point's coordinates.
        overshoot: >= 0, how far past the boundary to go.
    """
    x = _point(px, py)
    overshoot = checks.check_nonnegative(overshoot, "overshoot")
    step = geometry.linear_deepfool_step(TOY_W, TOY_B, x, overshoot)
    fig = new_figure(5.6, 5.8)
    ax = fig.subplots()
    g1, g2 = _plane(ax, _LIMITS)
    scores = np.einsum("kd,dij->kij", TOY_W, np.stack([g1, g2])) + TOY_B[:, None, None]
    region = scores.argmax(0)
    ax.contourf(g1, g2, region, levels=[-0.5, 0.5, 1.5, 2.5], cmap=ListedColormap(_TOY_COLOURS), alpha=0.18)
    for k, name in enumerate(TOY_CLASSES):  # name each coloured region at its centre
        inside = region == k
        if inside.any():
            ax.text(g1[inside].mean(), g2[inside].mean(), f"class {name}", color=_TOY_COLOURS[k], ha="center",
                    va="center", fontweight="bold")
    for k, name in enumerate(TOY_CLASSES):
        if k == step.k0:
            continue
        w_diff, b_diff = TOY_W[k] - TOY_W[step.k0], TOY_B[k] - TOY_B[step.k0]
        _line(ax, w_diff, b_diff, _LIMITS, color=_TOY_COLOURS[k], ls="--", lw=1.5,
              label=f"f_{name} = f_{TOY_CLASSES[step.k0]}: distance {step.distances[k]:.2f}")
    _arrow(ax, x, x + step.r, "#c44e52")
    ax.plot(*x, "ko", ms=7, label=f"x, class {TOY_CLASSES[step.k0]}")
    adv = TOY_CLASSES[int(np.argmax(TOY_W @ step.x_adv + TOY_B))]
    ax.plot(*step.x_adv, "X", color="#c44e52", ms=10, label=f"DeepFool's point, class {adv}")
    fig.legend(loc="outside lower center", ncols=2)
    ax.set_title(f"x is {TOY_CLASSES[step.k0]}; nearest boundary: {TOY_CLASSES[step.l]} "
                 f"(step length {np.linalg.norm(step.r):.2f})")
    return fig


def multiclass_app():
    """Sliders for the point (and the overshoot) over :func:`render_multiclass`."""
    return _point_and_overshoot(render_multiclass, 0.5, 0.5)


# ----------------------------------------------------------------------------- photos
def _photo_row(axes: Sequence[Axes], x: Tensor, x_adv: Tensor, y: int, pred: int, rank: int, name: str) -> None:
    delta = (x_adv - x).detach().float() * 255
    lo, hi = float(delta.min()), float(delta.max())
    axes[0].imshow(to_hwc(x))
    axes[0].set_title(f"{name}\n{class_name(y)}")
    axes[1].imshow(to_hwc(amplify(delta)))
    axes[1].set_title(f"difference, amplified\nvalues in [{lo:.2f}, {hi:.2f}] /255")
    axes[2].imshow(to_hwc(x_adv))
    axes[2].set_title(f"DeepFool → {class_name(pred)}\nrank {rank} in the clean prediction")
    for ax in axes:
        ax.axis("off")


def _check_index(photo: int, n: int) -> int:
    if isinstance(photo, bool) or not isinstance(photo, (int, np.integer)) or not 0 <= int(photo) < n:
        raise ValueError(f"photo: expected an index in [0, {n - 1}], got {photo!r}")
    return int(photo)


@figure_function
def show_deepfool(x: Tensor, x_adv: Tensor, y: Tensor, pred: Tensor, rank: Tensor, names: Sequence[str],
                  photos: Sequence[int] = (0, 1, 2)) -> Figure:
    """Original | amplified difference (with its range in /255) | adversarial, one row per photo.

    Args:
        x, x_adv: (N, 3, H, W) clean and attacked photos in [0, 1].
        y, pred: (N,) int64 clean and adversarial classes.
        rank: (N,) int64 rank of ``pred`` in the clean prediction (:func:`advcourse.evasion.geometry.class_rank`).
        names: the N photo names.
        photos: which photos to show (indices).
    """
    rows = [_check_index(i, x.shape[0]) for i in photos]
    if not rows:
        raise ValueError("photos: expected at least one photo index")
    fig = new_figure(8.4, 3.0 * len(rows))
    axes = np.atleast_2d(fig.subplots(len(rows), 3))
    for ax_row, i in zip(axes, rows):
        _photo_row(ax_row, x[i], x_adv[i], int(y[i]), int(pred[i]), int(rank[i]), names[i])
    return fig


@figure_function
def render_photo(photo: int, x: Tensor, x_adv: Tensor, y: Tensor, pred: Tensor, rank: Tensor,
                 names: Sequence[str]) -> Figure:
    """One photo of :func:`show_deepfool` (the app's view)."""
    return show_deepfool(x, x_adv, y, pred, rank, names, photos=[photo])


def photo_app(x: Tensor, x_adv: Tensor, y: Tensor, pred: Tensor, rank: Tensor, names: Sequence[str]):
    """A dropdown over the photos; every view comes from the DeepFool run already done."""
    import ipywidgets as W

    from advcourse.widgets import make_app

    photo = W.Dropdown(options=[(n, i) for i, n in enumerate(names)], value=0, description="photo")
    return make_app(lambda photo: render_photo(photo, x, x_adv, y, pred, rank, names), {"photo": photo})


@figure_function
def show_distances(names: Sequence[str], distances: Mapping[str, Tensor], grid_max: float | None = None) -> Figure:
    """Per photo, the L2 size of the perturbation each method needed to change the label (log scale).

    Args:
        names: the N photo names.
        distances: method name -> (N,) L2 norms; ``nan`` = not fooled on the method's grid (drawn
            as a hollow hatched bar up to ``grid_max``, with its own legend entry).
        grid_max: the largest L2 a grid method tried, for the hollow bars.
    """
    n = len(names)
    fig = new_figure(8.0, 0.3 * n + 2.2)
    ax = fig.subplots()
    height = 0.8 / max(len(distances), 1)
    ypos = np.arange(n)[::-1].astype(float)
    colours = ("#c44e52", "#4c72b0", "#55a868", "#8172b2")
    for j, (method, d) in enumerate(distances.items()):
        d = d.detach().cpu().double().numpy()
        if d.shape != (n,):
            raise ValueError(f"distances: {method!r} has shape {d.shape}, expected ({n},)")
        pos = ypos + (j - (len(distances) - 1) / 2) * height
        found = ~np.isnan(d)
        ax.barh(pos[found], d[found], height=height, color=colours[j % 4],
                label=f"{method} (median {np.nanmedian(d):.2f})" if found.any() else method)
        if grid_max is not None and (~found).any():
            ax.barh(pos[~found], grid_max, height=height, fill=False, edgecolor=colours[j % 4], hatch="//",
                    label=f"{method}: not fooled up to L2 = {grid_max:.2f} (the largest it tried)")
    ax.set_yticks(ypos, names)
    ax.set_ylim(-0.6, n - 0.4)
    ax.set_xscale("log")
    readable_log_ticks(ax.xaxis)
    ax.set_xlabel("‖x_adv − x‖₂ needed to change the label (pixels in [0, 1])")
    ax.set_title("how far each photo is from a wrong label")
    fig.legend(loc="outside lower center", ncols=1)
    return fig


@figure_function
def accuracy_figure(table: Any, model_name: str = "EfficientNet-Lite0 · 20 photos (measured)",
                    reported: Mapping[str, Mapping[str, float]] = REPORTED) -> Figure:
    """Top-1 accuracy clean and under each attack: our measurement beside the article's numbers.

    Args:
        table: an :class:`advcourse.evaluation.evaluate.Table` whose rows are named ``noise``, ``semantic``,
            ``FGSM``, ``PGD``, ``DeepFool`` (any subset); the clean accuracy comes from its first row.
        model_name: legend entry for the measured bars.
        reported: series name -> category -> accuracy, drawn as further bars (default
            :data:`REPORTED`, the seed article's ResNet18 and LeNet numbers).
    """
    rows = list(table.rows)
    if not rows:
        raise ValueError("table: expected at least one row")
    ours = {"clean": rows[0].clean_accuracy, **{r.name: r.robust_accuracy for r in rows}}
    series = {model_name: ours, **reported}
    fig = new_figure(8.5, 4.2)
    ax = fig.subplots()
    width = 0.8 / len(series)
    pos = np.arange(len(_CATEGORIES))
    for j, (label, values) in enumerate(series.items()):
        xs = [p + (j - (len(series) - 1) / 2) * width for p, c in zip(pos, _CATEGORIES) if c in values]
        ys = [values[c] * 100 for c in _CATEGORIES if c in values]
        bars = ax.bar(xs, ys, width=width, label=label, color=("#c44e52", "#4c72b0", "#8c8c8c")[j % 3])
        ax.bar_label(bars, fmt="%.0f")
    ax.set_xticks(pos, _CATEGORIES)
    ax.set_ylabel("top-1 accuracy (%)")
    ax.set_ylim(0, 112)
    ax.set_title("accuracy under each attack of the course (no bar: not reported)")
    fig.legend(loc="outside lower center", ncols=len(series) if len(series) <= 2 else 2)
    return fig


def replay(x: Tensor, x_adv: Tensor) -> Callable[..., Tensor]:
    """An "attack" that hands back ``x_adv`` already computed for ``x``, for :func:`advcourse.evaluation.evaluate.compare`.

    DeepFool is the most expensive attack of the lesson; the notebook runs it once and lets the
    comparison table measure that same result instead of attacking again.

    Args:
        x, x_adv: (N, C, H, W) clean photos and their attacked versions.

    Returns:
        ``attack(model, xb, y=None, **ignored) -> xb_adv``: looks each row of ``xb`` up in ``x``
        (``ValueError`` for an image it has not seen).
    """
    if x.shape != x_adv.shape:
        raise ValueError(f"x_adv: expected the shape of x {tuple(x.shape)}, got {tuple(x_adv.shape)}")
    flat = x.detach().flatten(1)

    def deepfool_replayed(model: nn.Module, xb: Tensor, y: Tensor | None = None, **_: Any) -> Tensor:
        same = (xb.detach().flatten(1).to(flat.device)[:, None, :] == flat[None, :, :]).all(2)  # (B, N)
        if not bool(same.any(1).all()):
            raise ValueError("xb: an image that was not part of the replayed batch")
        return x_adv[same.float().argmax(1)].to(xb.device)

    return deepfool_replayed
