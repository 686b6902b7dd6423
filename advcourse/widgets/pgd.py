"""Lesson helpers for 06_pgd: PGD with its loss recorded at every iterate, loss curves, the steps app.

Taught in 06_pgd. :func:`pgd_trace` runs exactly the update of :func:`advcourse.attacks.pgd`
(its :func:`~advcourse.attacks.pgd.pgd_step`: ascent step, projection onto the eps-ball, clip to the box, from the same random
start) but keeps the per-sample loss and logits of every iterate, so one run draws the whole
loss curve and answers "what after k steps?" for every k. The attack itself stays lean; the
tests check that the trace ends on the very same ``x_adv``.

    >>> tr = pgd_trace(model, x, y, eps=1/255, step_size=0.25/255, steps=8)
    >>> tr.loss.shape                        # (steps + 1, N)
    >>> loss_curves({"I-FGSM": tr}, y)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from torch import Tensor, nn

from advcourse.core import checks
from advcourse.attacks import _core
from advcourse.attacks.pgd import pgd_step  # re-exported: 06_pgd shows its source
from advcourse.core.formatting import rounded_repr
from advcourse.models.labels import class_name
from advcourse.core.viz import amplify, figure_function, new_figure, to_hwc, wrap_title
from advcourse.widgets.fgsm import eps_label

__all__ = ["pgd_step", "Trace", "pgd_trace", "loss_curves", "show_iterations", "step_grid", "render_pgd", "pgd_app"]


@dataclass
class Trace:
    """One PGD run with every iterate measured.

    Attributes:
        eps, step_size: the budget and the step, pixel units.
        targeted: whether ``labels`` are targets.
        labels: (N,) int64 classes the loss is measured against (true classes or targets).
        loss: (steps + 1, N) cross-entropy of ``labels`` at iterate 0 (the start) … ``steps``.
        logits: (steps + 1, N, K) the model's logits at every iterate.
        x: (N, C, H, W) the clean photos.
        x_adv: (N, C, H, W) the last iterate (the attack's result).
        images: (steps + 1, N, C, H, W) every iterate when ``keep_images=True``, else ``None``.
    """

    __repr__ = rounded_repr  # floats rounded: the same on every CPU

    eps: float
    step_size: float
    targeted: bool
    labels: Tensor
    loss: Tensor
    logits: Tensor
    x: Tensor
    x_adv: Tensor
    images: Tensor | None = None

    @property
    def steps(self) -> int:
        return self.loss.shape[0] - 1

    @property
    def pred(self) -> Tensor:
        """(steps + 1, N): the prediction at every iterate."""
        return self.logits.argmax(-1)

    def success(self) -> Tensor:
        """(steps + 1, N) bool: misclassified (untargeted) or on target (targeted) at every iterate."""
        return self.pred == self.labels if self.targeted else self.pred != self.labels

    def first_success(self) -> Tensor:
        """(N,) int64: the first iterate that succeeded (what early stop would spend), -1 if none did."""
        ok = self.success()
        first = ok.float().argmax(0)
        return torch.where(ok.any(0), first, torch.full_like(first, -1))


def pgd_trace(model: nn.Module, x: Tensor, y: Tensor, *, eps: float, step_size: float, steps: int,
              norm: float = _core.INF, random_start: bool = False, targeted: bool = False,
              generator: torch.Generator | None = None, keep_images: bool = False) -> Trace:
    """PGD (no early stop) that records the loss and logits at every iterate.

    Same arguments and the same result as :func:`advcourse.attacks.pgd` with ``early_stop=False``
    (``random_start`` defaults to ``False`` here: I-FGSM / BIM). Costs ``steps`` forward+backward
    passes plus one forward at the last iterate.

    Args:
        model: ``nn.Module`` mapping (N, C, H, W) pixels in [0, 1] to (N, K) logits.
        x: (N, C, H, W) float tensor in [0, 1]; y: (N,) int64 true classes (targets if ``targeted``).
        eps, step_size, steps, norm, random_start, targeted, generator: as ``pgd``.
        keep_images: also keep every iterate (memory: (steps + 1) × the batch).

    Returns:
        :class:`Trace`.
    """
    checks.check_model(model)
    checks.check_images(x)
    norm = checks.check_norm(norm, (_core.INF, 2.0))
    eps = checks.check_budget(eps, "eps", norm)
    step_size = checks.check_budget(step_size, "step_size", norm)
    steps = checks.check_count(steps, "steps")
    checks.check_bool(random_start, "random_start")
    checks.check_bool(keep_images, "keep_images")
    y = checks.check_labels(y, x, targeted=targeted)
    if y is None:
        raise ValueError("y: expected the true classes (or the targets), got None")
    checks.check_generator(generator)
    x = x.detach()
    losses, logits_all, images = [], [], []
    with checks.frozen(model, x):
        x_adv = _core.random_start(x, eps, norm, 0.0, 1.0, generator) if random_start else x.clone()
        for k in range(steps + 1):
            x_in = x_adv.clone().requires_grad_(k < steps)
            logits = _core.logits_of(model, x_in, y)
            losses.append(F.cross_entropy(logits.detach(), y, reduction="none"))
            logits_all.append(logits.detach())
            if keep_images:
                images.append(x_adv.clone())
            if k == steps:
                break
            grad = _core.input_grad(_core.loss(logits, y, targeted), x_in)  # Madry et al. Eq. 2
            x_adv = pgd_step(x, x_in.detach(), grad, step_size, eps, norm, 0.0, 1.0)
    return Trace(eps, step_size, targeted, y, torch.stack(losses), torch.stack(logits_all), x, x_adv,
                 torch.stack(images) if keep_images else None)


@figure_function
def loss_curves(traces: dict[str, Trace], title: str | None = None) -> Figure:
    """Left: mean loss per iteration (thin lines: each photo). Right: success rate per iteration.

    Args:
        traces: name -> :class:`Trace` (legend = the keys).
    """
    fig = new_figure(10.0, 3.4)
    ax_loss, ax_ok = fig.subplots(1, 2)
    for i, (name, tr) in enumerate(traces.items()):
        colour = f"C{i}"
        steps = np.arange(tr.steps + 1)
        ax_loss.plot(steps, tr.loss.cpu().numpy(), color=colour, alpha=0.15, lw=0.8)
        ax_loss.plot(steps, tr.loss.mean(1).cpu().numpy(), color=colour, lw=2.2, marker="o", label=name)
        ax_ok.plot(steps, tr.success().float().mean(1).cpu().numpy() * 100, color=colour, marker="o", label=name)
    targeted = next(iter(traces.values())).targeted
    ax_loss.set_xlabel("iteration")
    ax_loss.set_ylabel("cross-entropy of the target" if targeted else "cross-entropy of the true class")
    ax_loss.set_title(title or "loss per iteration (thick: mean over photos)")
    fig.legend(*ax_loss.get_legend_handles_labels(), loc="outside lower center", ncols=len(traces))
    ax_ok.set_xlabel("iteration")
    ax_ok.set_ylabel("photos on target (%)" if targeted else "photos misclassified (%)")
    ax_ok.set_ylim(-5, 105)
    ax_ok.set_title("success after k steps")
    for ax in (ax_loss, ax_ok):
        ax.grid(alpha=0.3)
        ax.xaxis.get_major_locator().set_params(integer=True)
    return fig


@figure_function
def show_iterations(iterations: Tensor, names: Sequence[str], budget: int) -> Figure:
    """Bars: gradient steps each photo used under early stop, against the fixed budget ``budget``."""
    its = iterations.cpu().numpy()
    fig = new_figure(8.0, 3.2)
    ax = fig.subplots()
    ax.bar(np.arange(len(its)), its, color="#4c72b0", label="used (early stop)")
    ax.axhline(budget, color="#dd8452", ls="--", label=f"without early stop: {budget} each")
    ax.set_xticks(np.arange(len(its)), list(names), rotation=60, ha="right")
    ax.set_ylabel("gradient steps")
    ax.set_title(f"{int(its.sum())} gradient steps used of {budget * len(its)}")
    fig.legend(loc="outside lower center", ncols=2)
    return fig


# ----------------------------------------------------------------------------- the steps / step-size app
def step_grid(model: nn.Module, x: Tensor, y: Tensor, *, eps: float, step_sizes: Sequence[float], steps: int,
              targeted: bool = False) -> dict[float, Trace]:
    """One :func:`pgd_trace` (images kept) per step size, for the slider; keep ``x`` to a photo or two."""
    if not step_sizes:
        raise ValueError("step_sizes: expected at least one step size")
    return {float(s): pgd_trace(model, x, y, eps=eps, step_size=s, steps=steps, targeted=targeted,
                                keep_images=True) for s in step_sizes}


def _caption(logits: Tensor) -> str:
    p = logits.softmax(-1)
    k = int(p.argmax())
    return f"{class_name(k)} ({float(p[k]):.0%})"


@figure_function
def render_pgd(grid: dict[float, Trace], step_size: float, steps: int, photo: int = 0) -> Figure:
    """Original | amplified difference | iterate ``steps`` of the run with ``step_size``, and the
    loss curves of every step size in the grid (the chosen one thick, the chosen step marked).
    """
    if step_size not in grid:
        raise ValueError(f"step_size: expected one of {', '.join(eps_label(s) for s in grid)}, got {step_size}")
    tr = grid[step_size]
    if isinstance(steps, bool) or not isinstance(steps, int) or not 0 <= steps <= tr.steps:
        raise ValueError(f"steps: expected 0 to {tr.steps}, got {steps!r}")
    photo = checks.check_index(photo, "photo", tr.x.shape[0])
    if tr.images is None:
        raise ValueError("grid: build it with step_grid (pgd_trace(..., keep_images=True))")
    x, x_k = tr.x[photo], tr.images[steps, photo]
    delta = x_k - x
    fig = new_figure(10.5, 3.6)
    axes = fig.subplots(1, 4, width_ratios=[1, 1, 1, 1.5])
    goal = f"target: {class_name(int(tr.labels[photo]))}" if tr.targeted else "untargeted"
    panels = [(x, f"original\n{_caption(tr.logits[0, photo])}"),
              (amplify(delta), f"difference, amplified\nmax |δ| = {float(delta.abs().max()) * 255:.2f}/255"),
              (x_k, f"after {steps} step(s) ({goal})\n{_caption(tr.logits[steps, photo])}")]
    for ax, (img, title) in zip(axes[:3], panels):
        ax.imshow(to_hwc(img))
        ax.set_title(wrap_title(title, 2.2))
        ax.axis("off")
    ax = axes[3]
    for s, other in grid.items():
        chosen = s == step_size
        ax.plot(other.loss[:, photo].cpu().numpy(), lw=2.4 if chosen else 1, alpha=1 if chosen else 0.5,
                label=f"step {eps_label(s)}")
    ax.plot([steps], [float(tr.loss[steps, photo])], "ko", label=f"after {steps} step(s)")
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss of the target" if tr.targeted else "loss of the true class")
    ax.set_title(f"eps = {eps_label(tr.eps)}")
    fig.legend(loc="outside lower center", ncols=len(grid) + 1)
    ax.grid(alpha=0.3)
    return fig


def pgd_app(grid: dict[float, Trace]):
    """Sliders for the step size and the number of steps over a precomputed :func:`step_grid`."""
    import ipywidgets as W

    from advcourse.widgets import make_app

    sizes = list(grid)
    size = W.SelectionSlider(options=[(eps_label(s), s) for s in sizes], value=sizes[len(sizes) // 2],
                             description="step_size", continuous_update=False)
    steps = W.IntSlider(min=0, max=grid[sizes[0]].steps, value=grid[sizes[0]].steps, description="steps",
                        continuous_update=False)
    return make_app(lambda step_size, steps: render_pgd(grid, step_size, steps), {"step_size": size, "steps": steps})
