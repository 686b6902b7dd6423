"""Lesson helpers for 05_fgsm: eps sweeps, FGSM against noise, where predictions land, L∞ vs L2, the eps app.

Taught in 05_fgsm. The attacks themselves live in :mod:`advcourse.attacks`; this module only runs
them over a grid of budgets (one batched call per budget, results kept in memory so a slider
answers instantly) and draws what they did.

    >>> sw = sweep(model, x, y, eps_grid=[0, 1/255, 2/255], attack="fgsm")
    >>> sw.accuracy(y)                       # tensor([1.00, 0.40, 0.20])
    >>> eps_app(sw, names)                   # slider over the grid, photo dropdown
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from matplotlib.colors import SymLogNorm
from matplotlib.figure import Figure
from torch import Tensor, nn

from advcourse.core import checks
from advcourse.attacks import _core, fgsm, noise
from advcourse.core.formatting import rounded_repr
from advcourse.models.labels import class_name
from advcourse.core.viz import amplify, figure_function, new_figure, readable_log_ticks, to_hwc

__all__ = [
    "Sweep", "sweep", "eps_label", "accuracy_curves", "render_eps", "eps_app",
    "Landing", "landing", "show_landing", "show_fgsm_steps", "show_norms",
]


def eps_label(eps: float) -> str:
    """A budget in pixel units, as the course writes it: ``2/255``, ``0.5/255``, ``0``."""
    v = round(float(eps) * 255, 3)
    return "0" if v == 0 else f"{v:g}/255"


# ----------------------------------------------------------------------------- sweeps over eps
@dataclass
class Sweep:
    """One attack run at every budget of a grid, on one batch of photos.

    Attributes:
        name: the attack's name (``"fgsm"``, ``"noise"``, ``"t-fgsm"``).
        eps: (E,) float64, the budgets, increasing, in pixel units.
        x: (N, C, H, W) the clean photos in [0, 1].
        x_adv: (E, N, C, H, W) the attacked photos, one batch per budget.
        logits: (E, N, K) the model's logits at each ``x_adv`` (the clean logits where eps = 0).
        labels: (N,) int64, the labels the attack used (true classes, or targets when targeted).
        targeted: whether ``labels`` are targets.
    """

    __repr__ = rounded_repr  # floats rounded: the same on every CPU

    name: str
    eps: Tensor
    x: Tensor
    x_adv: Tensor
    logits: Tensor
    labels: Tensor
    targeted: bool = False

    @property
    def pred(self) -> Tensor:
        """(E, N) int64: the predicted class at each budget."""
        return self.logits.argmax(-1)

    @property
    def prob(self) -> Tensor:
        """(E, N, K): softmax probabilities at each budget."""
        return self.logits.softmax(-1)

    def index(self, eps: float) -> int:
        """Position of ``eps`` in the grid (``ValueError`` if it is not on it)."""
        hits = (self.eps - float(eps)).abs() < 1e-9
        if not bool(hits.any()):
            grid = ", ".join(eps_label(e) for e in self.eps.tolist())
            raise ValueError(f"eps: {eps_label(eps)} is not on this sweep's grid ({grid})")
        return int(hits.nonzero()[0, 0])

    def accuracy(self, y: Tensor) -> Tensor:
        """(E,) float: fraction of photos whose prediction equals the true class ``y`` at each budget."""
        return (self.pred == y.to(self.pred.device)).float().mean(1)

    def hit_rate(self) -> Tensor:
        """(E,) float: fraction of photos predicted as their ``labels`` (the target rate when targeted)."""
        return (self.pred == self.labels).float().mean(1)

    def delta(self, eps: float) -> Tensor:
        """(N, C, H, W): ``x_adv − x`` at budget ``eps``."""
        return self.x_adv[self.index(eps)] - self.x


def _check_grid(eps_grid: Sequence[float]) -> Tensor:
    try:
        values = [checks.check_budget(e, "eps_grid") for e in eps_grid]
    except TypeError:
        raise TypeError("eps_grid: expected a sequence of budgets such as [0, 1/255, 2/255]") from None
    if not values:
        raise ValueError("eps_grid: expected at least one budget")
    if any(b <= a for a, b in zip(values, values[1:])):
        raise ValueError("eps_grid: expected strictly increasing budgets")
    return torch.tensor(values, dtype=torch.float64)


def _logits(model: nn.Module, x: Tensor) -> Tensor:
    """One no-grad forward in eval mode (the model's modes are restored)."""
    with checks.frozen(model, x), torch.no_grad():
        return _core.logits_of(model, x)


def sweep(model: nn.Module, x: Tensor, y: Tensor, eps_grid: Sequence[float], *, attack: str = "fgsm",
          targeted: bool = False, norm: float = _core.INF, generator: torch.Generator | None = None) -> Sweep:
    """Run ``attack`` at every budget of ``eps_grid``: one batched call and one forward per budget.

    Args:
        model: ``nn.Module`` mapping (N, C, H, W) pixels in [0, 1] to (N, K) logits.
        x: (N, C, H, W) float tensor in [0, 1] on the model's device.
        y: (N,) int64, the true classes (or the targets when ``targeted``).
        eps_grid: increasing budgets >= 0 in pixel units, e.g. ``[0, 1/255, 2/255, 4/255]``.
            ``eps = 0`` costs one forward (no attack runs).
        attack: ``"fgsm"`` (white box, one gradient step) or ``"noise"`` (uniform random noise in
            [-eps, eps], the black-box baseline at the same L∞ budget).
        targeted: T-FGSM towards the classes ``y`` (``"fgsm"`` only).
        norm: FGSM's norm (``float("inf")``, ``2`` or ``1``).
        generator: ``torch.Generator`` for the noise (reproducible).

    Returns:
        :class:`Sweep` holding every ``x_adv`` and its logits.
    """
    checks.check_model(model)
    checks.check_images(x)
    y = checks.check_labels(y, x, targeted=targeted)
    if y is None:
        raise ValueError("y: expected the labels of x, got None")
    grid = _check_grid(eps_grid)
    if attack not in ("fgsm", "noise"):
        raise ValueError(f"attack: expected 'fgsm' or 'noise', got {attack!r}")
    if targeted and attack != "fgsm":
        raise ValueError("targeted: only 'fgsm' has a targeted version here")
    x = x.detach()
    advs, logits = [], []
    for eps in grid.tolist():
        if eps == 0:
            x_adv = x.clone()
        elif attack == "fgsm":
            x_adv = fgsm(model, x, y, eps=eps, targeted=targeted, norm=norm)
        else:
            x_adv = noise(x, eps=eps, generator=generator)
        advs.append(x_adv)
        logits.append(_logits(model, x_adv))
    name = ("t-" if targeted else "") + attack
    return Sweep(name, grid, x, torch.stack(advs), torch.stack(logits), y, targeted)


@figure_function
def accuracy_curves(sweeps: dict[str, Sweep], y: Tensor, title: str = "accuracy under attack") -> Figure:
    """Accuracy against the budget, one line per sweep (legend = the dict's keys).

    Args:
        sweeps: name -> :class:`Sweep` (any grids).
        y: (N,) int64 true classes.
    """
    fig = new_figure(5.5, 3.4)
    ax = fig.subplots()
    for name, sw in sweeps.items():
        ax.plot((sw.eps * 255).numpy(), sw.accuracy(y).numpy() * 100, marker="o", label=name)
    ax.set_xlabel("eps (in 1/255 pixel steps, L∞)")
    ax.set_ylabel(f"top-1 accuracy on {len(y)} photos (%)")
    ax.set_ylim(-5, 105)
    ax.grid(alpha=0.3)
    fig.legend(loc="outside lower center", ncols=len(sweeps))
    ax.set_title(title)
    return fig


# ----------------------------------------------------------------------------- the eps slider
def _caption(probs: Tensor, truth: int | None = None) -> str:
    k = int(probs.argmax())
    mark = "" if truth is None else (" ✔" if k == truth else " ✘")
    return f"{class_name(k)} ({float(probs[k]):.0%}){mark}"


@figure_function
def render_eps(sw: Sweep, photo: int, eps: float, names: Sequence[str] | None = None) -> Figure:
    """Original | amplified difference | adversarial for one photo at one budget of ``sw``.

    Args:
        sw: a :class:`Sweep`.
        photo: index of the photo in the batch.
        eps: a budget on ``sw``'s grid.
        names: optional photo names for the title.
    """
    checks.check_instance(sw, Sweep, "sw", "made by advcourse.widgets.fgsm.sweep")
    if not 0 <= int(photo) < sw.x.shape[0]:
        raise ValueError(f"photo: expected an index in [0, {sw.x.shape[0] - 1}], got {photo}")
    e, clean = sw.index(eps), sw.index(float(sw.eps[0]))
    truth = None if sw.targeted else int(sw.labels[photo])
    delta = sw.x_adv[e, photo] - sw.x[photo]
    linf = float(delta.abs().max()) * 255
    t = int(sw.labels[photo])
    aim = (lambda i: f"\ntarget {class_name(t)}: {float(sw.prob[i, photo, t]):.1%}") if sw.targeted else (lambda i: "")
    panels = [
        (sw.x[photo], f"original\n{_caption(sw.prob[clean, photo], truth)}{aim(clean)}"),
        (amplify(delta), f"difference, amplified\nmax |δ| = {linf:.1f}/255"),
        (sw.x_adv[e, photo], f"{sw.name} eps={eps_label(eps)}\n{_caption(sw.prob[e, photo], truth)}{aim(e)}"),
    ]
    fig = new_figure(9.0, 3.5)
    for ax, (img, title) in zip(fig.subplots(1, 3), panels):
        ax.imshow(to_hwc(img))
        ax.set_title(title)
        ax.axis("off")
    if names is not None:
        fig.suptitle(names[photo])
    return fig


def eps_app(sw: Sweep, names: Sequence[str]):
    """A photo dropdown and an eps slider over ``sw``'s grid; every view is precomputed."""
    import ipywidgets as W

    from advcourse.widgets import make_app

    options = [(eps_label(e), e) for e in sw.eps.tolist()]
    slider = W.SelectionSlider(options=options, value=options[min(2, len(options) - 1)][1], description="eps",
                               continuous_update=False)
    photo = W.Dropdown(options=[(n, i) for i, n in enumerate(names)], value=0, description="photo")
    return make_app(lambda photo, eps: render_eps(sw, photo, eps, names), {"photo": photo, "eps": slider})


# ----------------------------------------------------------------------------- where predictions land
@dataclass
class Landing:
    """Where the flipped photos of one budget land, measured against the clean ranking.

    Attributes:
        eps: the budget.
        flipped: (N,) bool, prediction changed away from the true class.
        clean_rank: (N,) int64, rank (1 = top) of the adversarial class in the *clean* prediction.
        pred: (N,) int64, the adversarial class.
        near_rate: fraction of the flipped photos whose new class was already in the clean top-k.
        k: the ``k`` of top-k.
    """

    __repr__ = rounded_repr  # floats rounded: the same on every CPU

    eps: float
    flipped: Tensor
    clean_rank: Tensor
    pred: Tensor
    near_rate: float
    k: int


def landing(sw: Sweep, y: Tensor, eps: float, k: int = 5) -> Landing:
    """For each photo flipped at ``eps``: was its new class already among the clean top-``k``?

    A new class from the clean top-5 is usually a neighbour (tabby → tiger cat): FGSM pushed the
    photo over the nearest border, into the same family, not somewhere far away.
    """
    e, clean = sw.index(eps), sw.index(float(sw.eps[0]))
    if float(sw.eps[clean]) != 0.0:
        raise ValueError("sw: the sweep's grid must start at eps = 0 (the clean ranking)")
    pred = sw.pred[e]
    order = sw.logits[clean].argsort(dim=1, descending=True)  # (N, K) classes, best first
    rank = (order == pred[:, None]).float().argmax(1) + 1
    flipped = pred != y
    near = (rank[flipped] <= k).float().mean() if bool(flipped.any()) else torch.tensor(float("nan"))
    return Landing(float(eps), flipped, rank, pred, float(near), k)


@figure_function
def show_landing(land: Landing, y: Tensor, names: Sequence[str]) -> Figure:
    """One bar per flipped photo: the clean rank of the class FGSM sent it to (log scale, ticks 1 2 5 10 …)."""
    idx = land.flipped.nonzero().squeeze(1).tolist()
    fig = new_figure(9.0, 0.36 * max(len(idx), 1) + 1.9)
    ax = fig.subplots()
    ranks = [int(land.clean_rank[i]) for i in idx]
    near = np.array([r <= land.k for r in ranks], dtype=bool)
    ypos = np.arange(len(idx))[::-1]
    ax.barh(ypos[near], np.array(ranks)[near], color="#4c72b0", label=f"already in the clean top-{land.k}")
    ax.barh(ypos[~near], np.array(ranks)[~near], color="#dd8452", label=f"outside the clean top-{land.k}")
    ax.set_yticks(ypos, [f"{names[i]}: {class_name(int(y[i]))} → {class_name(int(land.pred[i]))}" for i in idx])
    ax.set_xscale("log")
    ax.set_xlim(0.8, max(ranks + [land.k + 1]) * 1.6)
    readable_log_ticks(ax.xaxis)
    ax.axvline(land.k + 0.5, color="grey", ls="--", lw=1, label=f"edge of the clean top-{land.k}")
    ax.set_xlabel("rank of the new class in the clean prediction (1 = the clean top-1)")
    ax.set_title(f"where FGSM at eps={eps_label(land.eps)} sends the photos")
    fig.legend(loc="outside lower center", ncols=3)
    return fig


# ----------------------------------------------------------------------------- the algorithm in pictures
def _signed_map(ax, t: Tensor, title: str) -> None:
    ax.imshow(to_hwc(amplify(t)))
    ax.set_title(title)
    ax.axis("off")


@figure_function
def show_fgsm_steps(x: Tensor, grad: Tensor, eps: float, x_adv: Tensor) -> Figure:
    """The FGSM recipe on one photo: x, ∇x L, sign(∇x L), x + eps·sign clipped.

    Args:
        x: (1, 3, H, W) or (3, H, W) photo in [0, 1].
        grad: same shape, the input gradient of the loss.
        eps: the budget.
        x_adv: same shape, the result.
    """
    x, grad, x_adv = (t[0] if t.dim() == 4 else t for t in (x, grad, x_adv))
    fig = new_figure(11.0, 3.2)
    axes = fig.subplots(1, 4)
    axes[0].imshow(to_hwc(x))
    axes[0].set_title("1. photo x, true class y")
    axes[0].axis("off")
    _signed_map(axes[1], grad, f"2. ∇x L (amplified)\nmax |g| = {float(grad.abs().max()):.1e}")
    frac = float((grad.sign() != 0).float().mean())
    _signed_map(axes[2], grad.sign(), f"3. sign(∇x L) ∈ {{-1, 0, 1}}\n{frac:.0%} of entries non-zero")
    axes[3].imshow(to_hwc(x_adv))
    axes[3].set_title(f"4. clip(x + eps·sign, 0, 1)\neps = {eps_label(eps)}")
    axes[3].axis("off")
    return fig


@figure_function
def show_norms(x: Tensor, deltas: dict[str, Tensor]) -> Figure:
    """The photo and, per perturbation, its red channel δ in /255 on a diverging scale with its own colour bar.

    Red is +, blue is −, white is 0; each panel's scale runs to its own largest |δ| and is
    logarithmic beyond 1/100 of it, so small values show too. An L∞ step shows only two colours
    (every value is +eps or −eps: only the sign pattern varies, and the title says so); an L2 step
    of the same length shows a few large values among many small ones.

    Args:
        x: (1, 3, H, W) or (3, H, W) photo in [0, 1].
        deltas: name -> perturbation of the same shape; the titles show their L∞ and L2 norms.
    """
    x = x[0] if x.dim() == 4 else x
    fig = new_figure(2.9 * (len(deltas) + 1) + 0.9 * len(deltas), 3.6)
    axes = fig.subplots(1, len(deltas) + 1)
    axes[0].imshow(to_hwc(x))
    axes[0].set_title("photo")
    axes[0].axis("off")
    for ax, (name, d) in zip(axes[1:], deltas.items()):
        d = (d[0] if d.dim() == 4 else d).detach().float().cpu()
        l2, linf = float(d.flatten().norm(2)), float(d.abs().max())
        top = max(linf * 255, 1e-6)
        im = ax.imshow(d[0].numpy() * 255, cmap="RdBu_r", norm=SymLogNorm(top / 100, vmin=-top, vmax=top, base=10))
        at_edge = float(((d.abs() - linf).abs() <= 1e-3 * linf).float().mean())  # share of values = ±linf
        title = f"{name}\n‖δ‖∞ = {linf * 255:.1f}/255, ‖δ‖₂ = {l2:.2f}"
        ax.set_title(title + (f"\nsign only: {at_edge:.0%} of values ±{linf * 255:.1f}" if at_edge > 0.9 else ""))
        ax.axis("off")
        ticks = [-top, -top / 10, 0.0, top / 10, top]
        bar = fig.colorbar(im, ax=ax, shrink=0.85, ticks=ticks, label="δ, red channel (×1/255)")
        bar.ax.set_yticklabels([f"{t:.2g}" for t in ticks])
    return fig
