"""Gradients from the ground up: a 1-D bowl, its tangents, gradient descent, and the first-order
step on a real classifier. Taught in 04_gradients.

Everything an attack does with a gradient can be seen first on a function of one number:

* :func:`bowl` is ``f(x) = (x - 2)^2 + 1``, lowest at ``x = 2``;
* :func:`derivative` asks autograd for ``f'(x0)`` and :func:`tangent` gives the line that touches
  the curve there: ``f(x0) + f'(x0) (x - x0)``;
* :func:`gradient_descent` walks ``x <- x - lr * f'(x)`` and returns the path;
* :func:`sign_vs_random` moves from one number to a whole image: a step of L∞ size ``eps`` along
  the sign of the input gradient raises a classifier's loss far more than a random ±eps step,
  because to first order the change is ``g · delta``. FGSM (05_fgsm) is that one step.

Figures are built without pyplot (see :mod:`advcourse.core.viz`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from torch import Tensor, nn

from advcourse.core import checks
from advcourse.core import viz
from advcourse.attacks import _core
from advcourse.core.formatting import rounded_repr

__all__ = ["bowl", "BOWL_MINIMUM", "derivative", "tangent", "gradient_descent", "show_tangents", "show_descent",
           "StepComparison", "sign_vs_random", "show_step_comparison"]

Fn = Callable[[Tensor], Tensor]

#: Where :func:`bowl` is lowest.
BOWL_MINIMUM = 2.0


def bowl(x: Tensor | float) -> Tensor | float:
    """``f(x) = (x - 2)^2 + 1``: one minimum at ``x = 2`` (value 1), slope ``f'(x) = 2 (x - 2)``.

    Works on Python floats and on tensors of any shape (elementwise), so autograd can differentiate it.
    """
    return (x - BOWL_MINIMUM) ** 2 + 1


def _point(x0: object, name: str = "x0") -> float:
    value = checks._number(x0, name)
    if math.isinf(value):
        raise ValueError(f"{name}: expected a finite number, got {value}")
    return value


def derivative(fn: Fn, x0: float) -> float:
    """``fn'(x0)`` computed by autograd (one forward, one backward), as a float.

    Args:
        fn: a function of one number written with torch operations (e.g. :func:`bowl`).
        x0: the point, a finite real number.

    Example:
        >>> derivative(bowl, 0.5)   # 2 * (0.5 - 2)
        -3.0
    """
    if not callable(fn):
        raise TypeError(f"fn: expected a function of one number, got {type(fn).__name__}")
    x = torch.tensor(_point(x0), dtype=torch.float64, requires_grad=True)
    y = fn(x)
    if not isinstance(y, Tensor) or y.numel() != 1:
        raise ValueError("fn: expected it to return one number (a 0-d tensor) for one number in")
    (grad,) = torch.autograd.grad(y, x)
    return float(grad)


def tangent(fn: Fn, x0: float) -> tuple[float, float]:
    """``(slope, intercept)`` of the tangent line at ``x0``: ``t(x) = slope * x + intercept``.

    The slope is ``fn'(x0)``; the line passes through ``(x0, fn(x0))``.
    """
    slope = derivative(fn, x0)
    value = float(fn(torch.tensor(_point(x0), dtype=torch.float64)))
    return slope, value - slope * x0


def gradient_descent(fn: Fn, x0: float, *, lr: float, steps: int) -> list[float]:
    """The path of gradient descent ``x_{k+1} = x_k - lr * fn'(x_k)``, starting at ``x0``.

    Args:
        fn: a function of one number written with torch operations.
        x0: start, a finite real number.
        lr: learning rate (step size), >= 0.
        steps: number of updates, >= 0.

    Returns:
        ``steps + 1`` floats ``[x_0, x_1, ..., x_steps]``. On :func:`bowl` the distance to the
        minimum is multiplied by ``|1 - 2 lr|`` each step: it shrinks for ``lr < 1``, bounces for
        ``lr = 1`` and grows (diverges) for ``lr > 1``. A path that overflows stops at ``inf``.
    """
    x = _point(x0)
    lr = checks.check_nonnegative(lr, "lr")
    steps = checks.check_count(steps, "steps")
    path = [x]
    for _ in range(steps):
        if not math.isfinite(x):
            path.append(math.inf)
            continue
        x = x - lr * derivative(fn, x)
        path.append(x if math.isfinite(x) else math.inf)
    return path


def _curve(fn: Fn, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
    xs = torch.linspace(lo, hi, 200, dtype=torch.float64)
    return xs.numpy(), fn(xs).detach().numpy()


@viz.figure_function
def show_tangents(fn: Fn, points: Sequence[float], *, xlim: tuple[float, float] = (-1.0, 5.0)) -> Figure:
    """The curve of ``fn`` with its tangent at each point and an arrow for the downhill direction.

    Each tangent is labelled with its slope; the arrow points along ``-sign(slope)``, the way
    gradient descent moves.
    """
    if not points:
        raise ValueError("points: expected at least one point")
    fig = viz.new_figure(6.0, 3.6)
    ax = fig.subplots()
    xs, ys = _curve(fn, *xlim)
    ax.plot(xs, ys, color="black", lw=2, label="f(x)")
    span = 0.25 * (xlim[1] - xlim[0])
    for x0, colour in zip(points, ["#c44e52", "#4c72b0", "#55a868", "#8172b2", "#ccb974"]):
        slope, intercept = tangent(fn, x0)
        seg = np.linspace(x0 - span / 2, x0 + span / 2, 2)
        ax.plot(seg, slope * seg + intercept, color=colour, lw=2, label=f"x0={x0:g}: slope {slope:+.2f}")
        y0 = slope * x0 + intercept
        ax.plot([x0], [y0], "o", color=colour)
        if slope != 0:
            ax.annotate("", xy=(x0 - 0.4 * math.copysign(1, slope), y0), xytext=(x0, y0),
                        arrowprops={"arrowstyle": "->", "color": colour, "lw": 2})
    ax.set_xlabel("x")
    ax.set_ylabel("f(x)")
    ax.set_title("tangents: the slope says which way is uphill (arrows: downhill)")
    fig.legend(loc="outside lower center", ncols=2)
    return fig


@viz.figure_function
def show_descent(fn: Fn, x0: float, *, lr: float, steps: int, minimum: float | None = BOWL_MINIMUM,
                 xlim: tuple[float, float] = (-2.0, 6.0)) -> Figure:
    """Gradient descent drawn twice: the steps on the curve (left) and the distance to the minimum
    per step on a log scale (right: a falling line converges, a rising one diverges).

    Args:
        fn, x0, lr, steps: as :func:`gradient_descent`.
        minimum: where ``fn`` is lowest (for the right panel); ``None`` plots ``fn(x_k)`` instead.
        xlim: the x range of the left panel; points outside it are drawn at its edge.
    """
    path = gradient_descent(fn, x0, lr=lr, steps=steps)
    fig = viz.new_figure(9.0, 3.4)
    ax_curve, ax_dist = fig.subplots(1, 2, width_ratios=[1.3, 1])
    xs, ys = _curve(fn, *xlim)
    ax_curve.plot(xs, ys, color="black", lw=2)
    shown = np.clip(np.array(path, dtype=float), *xlim)
    values = fn(torch.tensor(shown, dtype=torch.float64)).numpy()
    ax_curve.plot(shown, values, "-o", color="#c44e52", ms=4, lw=1, label="x_k, one dot per step")
    ax_curve.plot(shown[:1], values[:1], "s", color="#4c72b0", ms=8, label=f"start x0 = {x0:g}")
    ax_curve.set_ylim(0, float(ys.max()) * 1.05)
    ax_curve.set_xlabel("x")
    ax_curve.set_title(f"gradient descent, lr = {lr:g}, {steps} steps")
    fig.legend(loc="outside lower center", ncols=2)
    ks = np.arange(len(path))
    if minimum is None:
        dist, label = np.array([float(fn(torch.tensor(p))) if math.isfinite(p) else math.inf for p in path]), "f(x_k)"
    else:
        dist, label = np.abs(np.array(path) - minimum), "|x_k - minimum|"
    ax_dist.semilogy(ks, np.clip(dist, 1e-12, 1e12), "-o", color="#c44e52", ms=4)
    viz.readable_log_ticks(ax_dist.yaxis)
    ax_dist.set_xlabel("step k")
    ax_dist.set_ylabel(label)
    verdict = "converges" if dist[-1] < dist[0] * 0.5 else ("diverges" if dist[-1] > dist[0] * 2 else "stalls")
    ax_dist.set_title(f"{verdict}: last x = {path[-1]:.3g}")
    return fig


# ----------------------------------------------------------------------------- from 1-D to images
@dataclass(frozen=True)
class StepComparison:
    """How much one L∞ step of size ``eps`` changes the loss, per photo.

    Attributes:
        eps: the step size in pixel units.
        sign: (N,) loss change after ``x + eps * sign(g)`` (clipped to [0, 1]).
        random: (N,) loss change after ``x + eps * r`` with random ``r`` in {-1, +1}.
        predicted: (N,) first-order prediction for the sign step, ``eps * ||g||_1``.
    """

    __repr__ = rounded_repr  # floats rounded: the same on every CPU

    eps: float
    sign: Tensor
    random: Tensor
    predicted: Tensor

    @property
    def ratio(self) -> float:
        """Mean loss increase of the sign step over the mean |change| of the random step."""
        return float(self.sign.mean() / self.random.abs().mean().clamp_min(1e-12))

    def __str__(self) -> str:
        return (f"eps = {self.eps * 255:.2g}/255 over {len(self.sign)} photos: "
                f"sign step raises the loss by {self.sign.mean():.2f} on average, "
                f"a random step changes it by {self.random.abs().mean():.3f}: ratio {self.ratio:.0f}x")


def sign_vs_random(model: nn.Module, x: Tensor, y: Tensor, *, eps: float,
                   generator: torch.Generator | None = None, grad: Tensor | None = None) -> StepComparison:
    """Compare a step along ``sign(∇x loss)`` with a random ±eps step of the same L∞ size.

    To first order, ``L(x + delta) - L(x) ≈ g · delta`` with ``g = ∇x L``. Over ``d`` pixels the sign
    step collects ``eps * Σ|g_i|``; a random sign pattern collects a sum of terms that mostly cancel
    (about ``eps * ||g||_2``, roughly ``sqrt(d)`` times less). Costs one forward+backward (none when
    ``grad`` is given) and one forward of ``3N`` images.

    Args:
        model: a [0,1]-pixel classifier (left exactly as found).
        x: (N, C, H, W) float tensor in [0, 1].
        y: (N,) int64 true labels.
        eps: L∞ step size in pixel units, e.g. ``1/255``.
        generator: for the random signs (reproducible comparisons).
        grad: ``input_gradient(model, x, y)`` if already computed, (N, C, H, W).

    Returns:
        A :class:`StepComparison` with per-photo loss changes on ``x``'s device.
    """
    from advcourse.foundations.explain import input_gradient

    checks.check_images(x)
    eps = checks.check_nonnegative(eps, "eps")
    checks.check_generator(generator)
    y = checks.check_labels(y, x)
    if y is None:
        raise ValueError("y: expected the true labels, got None")
    if grad is None:
        g = input_gradient(model, x, y)
    elif not isinstance(grad, Tensor) or grad.shape != x.shape:
        raise ValueError(f"grad: expected the input gradient, shape {tuple(x.shape)}, got "
                         f"{tuple(grad.shape) if isinstance(grad, Tensor) else type(grad).__name__}")
    else:
        g = grad.detach().to(x)
    r = torch.randint(0, 2, x.shape, generator=generator, device="cpu").to(x) * 2 - 1
    batch = torch.cat([x, (x + eps * g.sign()).clamp(0, 1), (x + eps * r).clamp(0, 1)])
    with checks.frozen(model, x), torch.no_grad():
        logits = _core.logits_of(model, batch, y)
    loss = F.cross_entropy(logits, y.repeat(3), reduction="none").view(3, -1)
    return StepComparison(eps, loss[1] - loss[0], loss[2] - loss[0], eps * g.abs().flatten(1).sum(1))


@viz.figure_function
def show_step_comparison(cmp: StepComparison, names: Sequence[str] | None = None) -> Figure:
    """Per photo: the loss change of the sign step and of the random step, side by side."""
    n = len(cmp.sign)
    names = list(names) if names is not None else [str(i) for i in range(n)]
    if len(names) != n:
        raise ValueError(f"names: expected {n} names (one per photo), got {len(names)}")
    fig = viz.new_figure(9.0, 3.6)
    ax = fig.subplots()
    pos = np.arange(n)
    ax.bar(pos - 0.2, cmp.sign.cpu().numpy(), width=0.4, color="#c44e52", label="step along sign(gradient)")
    ax.bar(pos + 0.2, cmp.random.cpu().numpy(), width=0.4, color="#8c8c8c", label="random ±eps step")
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(pos, names, rotation=60, ha="right")
    ax.set_ylabel("change in cross-entropy loss")
    ax.set_title(f"one step of L∞ size {cmp.eps * 255:.2g}/255: sign step / random step ≈ {cmp.ratio:.0f}×")
    fig.legend(loc="outside lower center", ncols=2)
    return fig
