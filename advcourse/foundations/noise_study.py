"""What random noise does to a classifier, measured. Taught in 02_noise.

Random noise is the simplest black-box attack: it needs no model at all. This module measures how
much of it a classifier tolerates:

* :func:`add_noise` — uniform (:func:`advcourse.attacks.noise`) or Gaussian
  (:func:`advcourse.attacks.gaussian_noise`) noise at a given level, with a seed;
* :func:`noise_curve` — top-1 accuracy and mean true-class confidence over a batch, for each level
  (one batched forward pass per level), returned as a :class:`NoiseCurve`;
* :func:`smallest_flipping_eps` — the first level on a grid at which one photo's label changes;
* figures: :func:`plot_noise_curves`, :func:`noise_gallery`, :func:`noise_histograms`.

The same seed draws the same noise pattern at every level, so a sweep shows one pattern growing
louder rather than a new pattern each time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import Tensor, nn

from advcourse.attacks import gaussian_noise, noise
from advcourse.attacks._core import logits_of
from advcourse.core.checks import check_budget, check_count, check_images, check_model, check_sequence, frozen
from advcourse.core.formatting import rounded_repr
from advcourse.models.images import SampleBatch
from advcourse.models.labels import IMAGENET_CLASSES
from advcourse.core.viz import figure_function, image_grid, new_figure

__all__ = ["KINDS", "add_noise", "probabilities", "NoiseCurve", "noise_curve", "smallest_flipping_eps",
           "plot_noise_curves", "noise_gallery", "noise_histograms", "uniform_std"]

#: The two kinds of noise; the level is ``eps`` (uniform in [-eps, eps]) or ``sigma`` (Gaussian).
KINDS = ("uniform", "gaussian")


def uniform_std(eps: float) -> float:
    """Standard deviation of a uniform value in [-eps, eps]: eps/√3 (its variance is eps²/3)."""
    return eps / math.sqrt(3)


def add_noise(x: Tensor, level: float, *, kind: str = "uniform", seed: int = 0) -> Tensor:
    """``x`` (N, C, H, W) in [0, 1] plus noise of the given ``kind`` and ``level``, clipped to [0, 1].

    ``level`` is ``eps`` for uniform noise and ``sigma`` for Gaussian noise. The noise is drawn
    from a CPU generator seeded with ``seed``, so it is the same on every device and every run.
    """
    if kind not in KINDS:
        raise ValueError(f"kind: expected one of {KINDS}, got {kind!r}")
    generator = torch.Generator().manual_seed(check_count(seed, "seed"))
    if kind == "uniform":
        return noise(x, eps=level, generator=generator)
    return gaussian_noise(x, sigma=level, generator=generator)


@torch.no_grad()
def probabilities(model: nn.Module, x: Tensor) -> Tensor:
    """Softmax probabilities (N, 1000) of ``model`` on ``x``, in eval mode; the model is left as found."""
    check_images(x)
    with frozen(model, x), torch.no_grad():
        return logits_of(model, x).softmax(dim=1)


@dataclass
class NoiseCurve:
    """What a classifier does under growing noise; every per-level field has length E (levels).

    Attributes:
        kind: "uniform" or "gaussian"; levels: (E,) eps or sigma values in pixel units.
        accuracy: (E,) top-1 accuracy in [0, 1] (a photo counts as right if its top-1 is accepted).
        confidence: (E,) mean probability of the true class in [0, 1].
        predictions: (E, N) int64 top-1 class indices.
        l2, linf: (E,) mean per-image L2 and L∞ norm of the noise actually added (after clipping).
        names: the N photo names.
    """

    __repr__ = rounded_repr  # floats rounded: the same on every CPU

    kind: str
    levels: np.ndarray
    accuracy: np.ndarray
    confidence: np.ndarray
    predictions: np.ndarray
    l2: np.ndarray
    linf: np.ndarray
    names: list[str]

    def at(self, level: float) -> int:
        """Index of ``level`` in :attr:`levels` (``ValueError`` if it is not on the grid)."""
        hits = np.flatnonzero(np.isclose(self.levels, level, rtol=0, atol=1e-9))
        if hits.size == 0:
            raise ValueError(f"level: {level} is not on the grid {np.round(self.levels * 255, 2).tolist()} (/255)")
        return int(hits[0])

    def changed(self, level: float) -> float:
        """Fraction of photos whose top-1 label at ``level`` differs from the noise-free one (level 0)."""
        return float((self.predictions[self.at(level)] != self.predictions[self.at(0.0)]).mean())


def check_levels(levels: Sequence[float]) -> np.ndarray:
    """The noise levels, in the order given, as a float64 array; each a budget in [0, 1] pixel units."""
    values = [check_budget(v, "levels") for v in check_sequence(levels, "levels", "[0, 8/255, 16/255]")]
    if not values:
        raise ValueError("levels: expected a non-empty sequence of budgets >= 0, got an empty one")
    return np.asarray(values, dtype=np.float64)


def noise_curve(model: nn.Module, data: SampleBatch, levels: Sequence[float], *, kind: str = "uniform",
                seed: int = 0) -> NoiseCurve:
    """Accuracy and true-class confidence of ``model`` on ``data`` under noise at each level.

    Args:
        model: a [0,1]-pixel classifier.
        data: a :class:`~advcourse.models.images.SampleBatch` (``load_samples()``): ``x`` (N, 3, H, W) in
            [0, 1], ``y`` (N,) labels, ``accepted`` sets of indices counted right.
        levels: E noise levels in pixel units (eps for uniform, sigma for Gaussian), e.g. ``[0, 8/255]``.
        kind: "uniform" or "gaussian".
        seed: noise seed (the same pattern, scaled, at every level).

    Returns:
        :class:`NoiseCurve`. Costs one batched forward pass of N images per level.
    """
    lv = check_levels(levels)
    device = next(model.parameters()).device
    x, y = data.x.to(device), data.y.to(device)
    rows = []
    for level in lv:
        x_adv = add_noise(x, float(level), kind=kind, seed=seed)
        probs = probabilities(model, x_adv)
        top1 = probs.argmax(dim=1)
        delta = (x_adv - x).flatten(1)
        rows.append((sum(data.correct(top1.cpu())) / len(data.names),
                     float(probs.gather(1, y[:, None]).mean()), top1.cpu().numpy(),
                     float(delta.norm(dim=1).mean()), float(delta.abs().amax(dim=1).mean())))
    acc, conf, preds, l2, linf = zip(*rows)
    return NoiseCurve(kind, lv, np.array(acc), np.array(conf), np.stack(preds), np.array(l2), np.array(linf),
                      list(data.names))


def smallest_flipping_eps(model: nn.Module, x: Tensor, levels: Sequence[float], *, kind: str = "uniform",
                          seed: int = 0) -> float | None:
    """The smallest level on the grid at which noise changes the top-1 label of one photo.

    Each level uses ``add_noise(x, level, kind=kind, seed=seed)``, exactly what a loop of single
    calls would draw; all levels go through the model in one batch.

    Args:
        x: one photo (1, 3, H, W) in [0, 1].
        levels: the grid, in pixel units, searched in increasing order.

    Returns:
        The level (a float from ``levels``), or ``None`` if the label never changes on the grid.
    """
    check_model(model)
    check_images(x)
    if x.shape[0] != 1:
        raise ValueError(f"x: expected one photo of shape (1, 3, H, W), got {tuple(x.shape)}")
    lv = np.sort(check_levels(levels))
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    x = x.to(device)
    batch = torch.cat([x] + [add_noise(x, float(v), kind=kind, seed=seed) for v in lv])
    top1 = probabilities(model, batch).argmax(dim=1).cpu()
    flipped = np.flatnonzero((top1[1:] != top1[0]).numpy())
    return float(lv[flipped[0]]) if flipped.size else None


# ----------------------------------------------------------------------------- figures
@figure_function
def plot_noise_curves(*curves: NoiseCurve, against: str = "level") -> Figure:
    """Top-1 accuracy (left) and mean true-class confidence (right) against the noise size.

    Args:
        curves: one or more :class:`NoiseCurve` (e.g. uniform and Gaussian).
        against: ``"level"`` (eps or sigma, in /255) or ``"l2"`` (the measured mean L2 norm of the
            noise — the fair axis for comparing kinds of noise).
    """
    if not curves:
        raise ValueError("curves: give at least one NoiseCurve")
    if against not in ("level", "l2"):
        raise ValueError(f"against: expected 'level' or 'l2', got {against!r}")
    fig = new_figure(9.0, 3.4)
    axes = fig.subplots(1, 2)
    for c in curves:
        xs = c.levels * 255 if against == "level" else c.l2
        label = f"{c.kind} ({'eps' if c.kind == 'uniform' else 'sigma'})"
        axes[0].plot(xs, c.accuracy * 100, "o-", label=label)
        axes[1].plot(xs, c.confidence, "o-", label=label)
    xlabel = "noise level (eps or sigma, ×1/255)" if against == "level" else "mean L2 norm of the noise"
    for ax, ylabel in zip(axes, ("top-1 accuracy (%)", "mean true-class probability")):
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=len(curves))
    axes[0].set_ylim(-3, 103)
    axes[1].set_ylim(0, 1)
    return fig


@figure_function
def noise_gallery(model: nn.Module, x: Tensor, levels: Sequence[float], *, kind: str = "uniform",
                  seed: int = 0) -> Figure:
    """One photo (1, 3, H, W) under growing noise, each titled with the model's top-1 answer."""
    lv = check_levels(levels)
    device = next(model.parameters()).device
    batch = torch.cat([add_noise(x.to(device), float(v), kind=kind, seed=seed) for v in lv])
    probs = probabilities(model, batch)
    p, idx = probs.max(dim=1)
    titles = [f"{'eps' if kind == 'uniform' else 'sigma'} = {v * 255:.0f}/255\n{IMAGENET_CLASSES[int(i)]} ({float(q):.0%})"
              for v, i, q in zip(lv, idx, p)]
    return image_grid(batch.cpu(), titles, ncols=len(lv), size=2.2)


@figure_function
def noise_histograms(eps: float, sigma: float, n: int = 200_000, seed: int = 0) -> Figure:
    """Histograms of uniform noise in [-eps, eps] and Gaussian noise N(0, sigma²), in /255 units.

    The legend names each distribution by its parameter only: the standard deviation of uniform
    noise is what 02_noise's exercise asks for, so the figure above it does not print it.
    """
    g = torch.Generator().manual_seed(seed)
    u = ((2 * torch.rand(n, generator=g) - 1) * eps * 255).numpy()
    z = (torch.randn(n, generator=g) * sigma * 255).numpy()
    fig = new_figure(7.0, 3.6)
    ax = fig.subplots()
    bins = np.linspace(min(u.min(), z.min()), max(u.max(), z.max()), 80)
    ax.hist(u, bins=bins, alpha=0.6, density=True, label=f"uniform in [-eps, eps], eps = {eps * 255:.1f}/255")
    ax.hist(z, bins=bins, alpha=0.6, density=True, label=f"Gaussian, sigma = {sigma * 255:.1f}/255")
    ax.set_xlabel("change of one pixel value (×1/255)")
    ax.set_ylabel("density")
    ax.set_yticks([])
    fig.legend(loc="outside lower center")
    return fig
