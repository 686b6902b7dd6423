"""Pictures for the course: image grids, the original/difference/adversarial triptych, top-k bars.

Used by every notebook. Functions build ``matplotlib.figure.Figure`` objects directly (no pyplot
state), so they never pop up twice in a notebook, never leak figures, and work headless; a
notebook shows a figure by leaving it as the last expression of a cell or with ``display(fig)``.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

__all__ = ["to_hwc", "amplify", "image_grid", "triptych", "topk_bars", "new_figure"]


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
    """A detached figure with the course's defaults (layout engine, resolution)."""
    _show_figures_in_ipython()
    return Figure(figsize=(width, height), dpi=90, layout="constrained")


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


def image_grid(images: Sequence[torch.Tensor] | torch.Tensor, titles: Sequence[str] | None = None,
               ncols: int = 4, size: float = 2.4) -> Figure:
    """A grid of images (each (3,H,W) or (1,3,H,W), or one (N,3,H,W) batch) with optional titles."""
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
                ax.set_title(titles[i], fontsize=9)
    return fig


def triptych(x: torch.Tensor, x_adv: torch.Tensor, left: str = "original", right: str = "adversarial",
             middle: str | None = None) -> Figure:
    """Original | amplified difference | adversarial, side by side, with the given titles."""
    delta = x_adv.detach().float() - x.detach().float()
    if middle is None:
        linf = float(delta.abs().max()) * 255
        middle = f"difference (max {linf:.1f}/255, amplified)" if linf > 0 else "difference (none)"
    return image_grid([x, amplify(delta), x_adv], [left, middle, right], ncols=3, size=3.0)


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
        ax.set_title(title, fontsize=10)
    return fig
