"""Pictures for the course: the package's one figure style, image grids, the
original/difference/adversarial triptych, top-k bars, digits and their negatives.

Used by every notebook. Functions build ``matplotlib.figure.Figure`` objects directly (no pyplot
state), so they never pop up twice in a notebook, never leak figures, and work headless; a
notebook shows a figure by leaving it as the last expression of a cell or with ``display(fig)``.

The style: every figure of the package comes from :func:`new_figure` inside a function decorated
with :func:`figure_function`, so it is built under :data:`STYLE` (text >= :data:`MIN_FONT_PT` pt,
constrained layout, one palette) and drawn under it too; importing advcourse changes no global
matplotlib setting. The standards every figure keeps are listed in ``docs/figures.md``.
"""

from __future__ import annotations

import functools
import textwrap
from typing import Any, Callable, Sequence, TypeVar

import matplotlib as mpl
import numpy as np
import torch
from cycler import cycler
from matplotlib.axes import Axes
from matplotlib.figure import Figure

__all__ = ["STYLE", "MIN_FONT_PT", "DPI", "course_style", "figure_function", "CourseFigure", "new_figure",
           "wrap_title", "readable_log_ticks", "to_hwc", "amplify", "image_grid", "triptych", "topk_bars", "show_digits"]

#: Resolution of every figure, on screen and as stored in a notebook (IPython saves at the figure's dpi).
DPI = 90
#: No text of a course figure is smaller than this (points, at the stored size).
MIN_FONT_PT = 10.0
#: Colour-blind-safe palette (matplotlib's "tab10" order, first five): blue, orange, green, red, purple.
PALETTE = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b2", "#937860", "#8c8c8c", "#ccb974")

#: The course's matplotlib settings, applied by :func:`course_style` while a figure is built and drawn.
STYLE: dict[str, Any] = {
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
    "figure.constrained_layout.use": True,
    "font.size": 11,
    "axes.titlesize": 11,
    "axes.labelsize": 11,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "legend.fontsize": 10,
    "legend.title_fontsize": 10,
    "figure.titlesize": 12,
    "legend.framealpha": 0.9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": cycler(color=PALETTE),
    "image.cmap": "viridis",
    "image.interpolation": "nearest",
}

F = TypeVar("F", bound=Callable[..., Any])


def course_style() -> Any:
    """A context manager that applies :data:`STYLE` and restores the caller's settings on exit."""
    return mpl.rc_context(STYLE)


def figure_function(fn: F) -> F:
    """Decorator for every function of the package that returns a figure: it runs under :data:`STYLE`.

    Font sizes, tick sizes and layout are fixed when artists are created, so the style must be on
    while the function builds its figure; :class:`CourseFigure` keeps it on while the figure draws.
    """
    @functools.wraps(fn)
    def styled(*args: Any, **kwargs: Any) -> Any:
        with course_style():
            return fn(*args, **kwargs)

    styled.course_figure = True  # type: ignore[attr-defined]
    return styled  # type: ignore[return-value]


class CourseFigure(Figure):
    """A ``Figure`` that draws itself under :data:`STYLE` (ticks created at draw time get it too)."""

    def draw(self, renderer: Any) -> None:
        with course_style():
            super().draw(renderer)


def _show_figures_in_ipython() -> None:
    """Let IPython draw a ``Figure`` left last in a cell as a PNG.

    IPython registers that display only when pyplot loads its inline backend, and the course never
    imports pyplot; without this a notebook would print ``<Figure size ...>`` instead of a picture.
    """
    try:
        from IPython import get_ipython
        from IPython.core.pylabtools import print_figure
    except ImportError:  # plain Python: nothing to do
        return
    shell = get_ipython()
    if shell is None:
        return
    png = shell.display_formatter.formatters["image/png"]
    if Figure not in png.type_printers:
        png.for_type(Figure, lambda fig: print_figure(fig, "png", bbox_inches="tight"))


def new_figure(width: float = 6.0, height: float = 4.0) -> Figure:
    """A detached :class:`CourseFigure` of ``width`` × ``height`` inches at :data:`DPI`, constrained layout.

    Call it inside a :func:`figure_function` so the axes and texts added to it get :data:`STYLE`.
    """
    _show_figures_in_ipython()
    with course_style():
        return CourseFigure(figsize=(width, height), dpi=DPI, layout="constrained")


def readable_log_ticks(axis: Any) -> None:
    """Ticks of a log-scaled ``axis`` (``ax.xaxis`` / ``ax.yaxis``) at 1, 2, 5 per decade, as plain numbers."""
    from matplotlib.ticker import LogLocator, NullFormatter, StrMethodFormatter

    axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(StrMethodFormatter("{x:g}"))
    axis.set_minor_formatter(NullFormatter())


def wrap_title(text: str, width_in: float, fontsize: float = STYLE["axes.titlesize"]) -> str:
    """``text`` with each line wrapped at spaces to fit ``width_in`` inches at ``fontsize`` points."""
    chars = max(8, int(width_in * 72 / (0.6 * fontsize)))  # an average glyph is about 0.6 em wide
    return "\n".join(textwrap.fill(line, chars, break_long_words=False) for line in text.split("\n"))


def to_hwc(x: torch.Tensor) -> np.ndarray:
    """(3, H, W) or (1, 3, H, W) tensor in [0, 1] -> (H, W, 3) numpy array for ``imshow``."""
    if x.dim() == 4:
        if x.shape[0] != 1:
            raise ValueError(f"x: expected one image, got a batch of {x.shape[0]}")
        x = x[0]
    if x.dim() != 3:
        raise ValueError(f"x: expected shape (3, H, W) or (1, 3, H, W), got {tuple(x.shape)}")
    return x.detach().float().cpu().clamp(0, 1).permute(1, 2, 0).numpy()


def amplify(delta: torch.Tensor) -> torch.Tensor:
    """Map a perturbation to [0, 1] for display: grey is 0, the largest |value| hits black/white.

    A perturbation of 2/255 is invisible at true scale; this stretches it so its pattern shows.
    """
    scale = delta.detach().abs().amax().clamp_min(1e-12)
    return 0.5 + 0.5 * delta.detach() / scale


@figure_function
def image_grid(images: Sequence[torch.Tensor] | torch.Tensor, titles: Sequence[str] | None = None,
               ncols: int = 4, size: float = 2.4) -> Figure:
    """A grid of images (each (3,H,W) or (1,3,H,W), or one (N,3,H,W) batch) with optional titles.

    ``size`` is each panel's side in inches; a title longer than its panel is wrapped at spaces.
    """
    if isinstance(images, torch.Tensor):
        images = list(images) if images.dim() == 4 else [images]
    n = len(images)
    ncols = max(1, min(ncols, n))
    nrows = (n + ncols - 1) // ncols
    fig = new_figure(size * ncols, size * nrows + 0.3)
    axes = np.atleast_1d(fig.subplots(nrows, ncols)).ravel()
    for i, ax in enumerate(axes):
        ax.axis("off")
        if i < n:
            ax.imshow(to_hwc(images[i]))
            if titles is not None:
                ax.set_title(wrap_title(titles[i], size))
    return fig


@figure_function
def triptych(x: torch.Tensor, x_adv: torch.Tensor, left: str = "original", right: str = "adversarial",
             middle: str | None = None) -> Figure:
    """Original | amplified difference | adversarial, side by side, with the given titles."""
    delta = x_adv.detach().float() - x.detach().float()
    if middle is None:
        linf = float(delta.abs().max()) * 255
        middle = f"difference (max {linf:.1f}/255, amplified)" if linf > 0 else "difference (none)"
    return image_grid([x, amplify(delta), x_adv], [left, middle, right], ncols=3, size=3.0)


@figure_function
def topk_bars(labels: Sequence[str], probs: Sequence[float], ax: Axes | None = None,
              title: str = "") -> Figure | None:
    """Horizontal bars of class probabilities, highest on top. Draws on ``ax`` if given."""
    fig = None
    if ax is None:
        fig = new_figure(4.5, 0.35 * len(labels) + 0.8)
        ax = fig.subplots()
    ypos = np.arange(len(labels))[::-1]
    ax.barh(ypos, probs, color="#4c72b0")
    ax.set_yticks(ypos, labels)
    ax.set_xlim(0, 1)
    ax.set_xlabel("probability")
    if title:
        ax.set_title(title)
    return fig


@figure_function
def show_digits(x: torch.Tensor, y: Sequence[int] | torch.Tensor | None = None, *, negatives: bool = True,
                size: float = 1.1) -> Figure:
    """Greyscale digits on the top row and, below, their negatives ``1 - x``, on one grey scale.

    Taught in 08_defences: a person reads a negative digit at once, a model trained on regular
    digits does not.

    Args:
        x: (N, 1, H, W) or (N, H, W) float tensor in [0, 1], 1 <= N <= 16 (e.g. ``digits.x_test[:8]``).
        y: optional (N,) labels, written above each digit.
        negatives: draw the row of negatives (default) or only the digits.
        size: each panel's side in inches.

    Returns:
        A figure of 1 or 2 rows × N panels with a colour bar for the pixel value (0 black, 1 white).

    Example:
        >>> show_digits(digits.x_test[:8], digits.y_test[:8])
    """
    if not isinstance(x, torch.Tensor) or x.dim() not in (3, 4) or (x.dim() == 4 and x.shape[1] != 1):
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"x: expected greyscale digits of shape (N, 1, H, W) or (N, H, W), got {shape}")
    imgs = (x[:, 0] if x.dim() == 4 else x).detach().float().cpu()
    n = imgs.shape[0]
    if not 1 <= n <= 16:
        raise ValueError(f"x: expected 1 to 16 digits, got {n}")
    if y is not None and len(y) != n:
        raise ValueError(f"y: expected {n} labels (one per digit), got {len(y)}")
    rows = [("x", imgs)] + ([("1 − x", 1 - imgs)] if negatives else [])
    fig = new_figure(size * n + 1.6, size * len(rows) + 0.5)
    axes = np.atleast_2d(fig.subplots(len(rows), n, squeeze=False))
    im = None
    for r, (row_name, batch) in enumerate(rows):
        for i in range(n):
            ax = axes[r, i]
            im = ax.imshow(batch[i].clamp(0, 1).numpy(), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.spines[:].set_visible(True)  # a thin frame: a negative's white edge meets the page
            ax.spines[:].set_color("#999999")
            if r == 0 and y is not None:
                ax.set_title(str(int(y[i])))
        axes[r, 0].set_ylabel(row_name)
    fig.colorbar(im, ax=axes.ravel().tolist(), label="pixel value", ticks=[0, 0.5, 1], shrink=0.9)
    return fig
