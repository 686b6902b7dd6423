"""The geometry behind DeepFool: distances to (linearised) decision boundaries. Taught in 07_deepfool.

DeepFool (Moosavi-Dezfooli, Fawzi & Frossard, 2016, arXiv:1511.04599) rests on one fact about
linear classifiers, which this module states on toy problems small enough to draw in 2-D.

**Binary, linear.** A classifier ``f(x) = w·x + b`` says class +1 where ``f(x) > 0`` and −1 where
``f(x) < 0``; its decision boundary is the hyperplane ``f(x) = 0`` (a line in 2-D). The smallest
(L2) change that moves ``x`` onto the boundary is its orthogonal projection (paper, Eq. 3)::

    r*(x) = −f(x) / ‖w‖₂² · w            distance  ‖r*‖₂ = |f(x)| / ‖w‖₂

Landing exactly *on* the boundary leaves the label undecided, so DeepFool goes a little further:
``x + (1 + overshoot) · r*`` (overshoot 0.02 in the paper) ends on the other side.

**Multi-class, linear.** With one score per class, ``f_k(x) = w_k·x + b_k``, the point is labelled
``k0 = argmax_k f_k(x)``. The boundary between ``k0`` and another class ``k`` is the hyperplane
``f'_k(x) = 0`` with ``f'_k = f_k − f_k0`` and normal ``w'_k = w_k − w_k0``. The region where
``k0`` wins is the intersection of the half-spaces ``f'_k < 0``, so the nearest point outside it lies
on the *closest* of those hyperplanes (paper, Eq. 8 and Algorithm 2)::

    l = argmin_{k ≠ k0} |f'_k(x)| / ‖w'_k‖₂          r = |f'_l(x)| / ‖w'_l‖₂² · w'_l

For a deep network the scores are not linear; DeepFool linearises them at the current point
(``w'_k`` = the gradient of ``f'_k``), takes that step, and repeats until the label flips
(:func:`advcourse.attacks.deepfool`). The last function here, :func:`first_crossing`, measures
how far a real model's label survives along a *fixed* direction, e.g. FGSM's gradient sign, so a
notebook can set DeepFool's distances beside it.

Points and weights here are NumPy arrays: a point ``x`` has shape (2,) (or (d,)), a binary
weight vector ``w`` shape (d,), multi-class weights ``W`` shape (K, d) and biases ``b`` shape (K,).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from torch import Tensor, nn

from advcourse.core import checks
from advcourse.attacks import _core
from advcourse.core.formatting import rounded_repr

__all__ = [
    "signed_score",
    "distance_to_hyperplane",
    "minimal_perturbation",
    "projection",
    "overshoot_point",
    "boundary_distances",
    "closest_boundary",
    "LinearStep",
    "linear_deepfool_step",
    "first_crossing",
    "Crossing",
    "class_rank",
]


# ----------------------------------------------------------------------------- checks
def _vector(value: object, name: str, size: int | None = None) -> np.ndarray:
    """A finite float vector of shape (d,) (or (size,) when ``size`` is given)."""
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: expected a sequence of numbers, got {type(value).__name__}") from None
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name}: expected a 1-D vector, got shape {arr.shape}")
    if size is not None and arr.size != size:
        raise ValueError(f"{name}: expected {size} coordinates, got {arr.size}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: contains NaN or infinite values")
    return arr


def _normal(w: object, name: str = "w") -> np.ndarray:
    w = _vector(w, name)
    if not np.any(w):
        raise ValueError(f"{name}: the normal vector must not be zero (a zero w has no boundary)")
    return w


def _number(value: object, name: str) -> float:
    """A finite real number (``b``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name}: expected a real number, got {type(value).__name__}")
    if not math.isfinite(value):
        raise ValueError(f"{name}: expected a finite number, got {value}")
    return float(value)


def _multiclass(W: object, b: object, x: object) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    try:
        W = np.asarray(W, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"W: expected a (K, d) array of numbers, got {type(W).__name__}") from None
    if W.ndim != 2 or W.shape[0] < 2:
        raise ValueError(f"W: expected shape (K, d) with K >= 2 classes, got {W.shape}")
    b = _vector(b, "b", W.shape[0])
    x = _vector(x, "x", W.shape[1])
    if not np.all(np.isfinite(W)):
        raise ValueError("W: contains NaN or infinite values")
    return W, b, x


# ----------------------------------------------------------------------------- binary, linear
def signed_score(w: Sequence[float], b: float, x: Sequence[float]) -> float:
    """``f(x) = w·x + b``: positive on the side ``w`` points to, zero on the boundary.

    Args:
        w: (d,) normal vector of the hyperplane, not all zero.
        b: offset.
        x: (d,) point.
    """
    w = _normal(w)
    return float(w @ _vector(x, "x", w.size) + _number(b, "b"))


def distance_to_hyperplane(w: Sequence[float], b: float, x: Sequence[float]) -> float:
    """L2 distance from ``x`` to the hyperplane ``w·x + b = 0``: ``|f(x)| / ‖w‖₂`` (>= 0).

    Example:
        >>> distance_to_hyperplane([1, 0], 0, [3, 4])   # the line x = 0
        3.0
    """
    w = _normal(w)
    return abs(signed_score(w, b, x)) / float(np.linalg.norm(w))


def minimal_perturbation(w: Sequence[float], b: float, x: Sequence[float]) -> np.ndarray:
    """The smallest L2 step onto the hyperplane: ``r* = −f(x) / ‖w‖₂² · w`` (paper, Eq. 3), shape (d,).

    It is parallel to ``w`` (the shortest way to a plane is straight at it) and its length is
    :func:`distance_to_hyperplane`.
    """
    w = _normal(w)
    return -signed_score(w, b, x) / float(w @ w) * w


def projection(w: Sequence[float], b: float, x: Sequence[float]) -> np.ndarray:
    """The point of the hyperplane ``w·x + b = 0`` closest to ``x``: ``x + r*``, shape (d,)."""
    w = _normal(w)
    return _vector(x, "x", w.size) + minimal_perturbation(w, b, x)


def overshoot_point(w: Sequence[float], b: float, x: Sequence[float], overshoot: float = 0.02) -> np.ndarray:
    """DeepFool's answer for a linear binary classifier: ``x + (1 + overshoot) · r*``, shape (d,).

    With ``overshoot > 0`` and ``x`` off the boundary, the result lies strictly on the other side:
    ``f(x + (1 + η) r*) = −η f(x)``, so the sign of the score flips.
    """
    overshoot = checks.check_nonnegative(overshoot, "overshoot")
    w = _normal(w)
    return _vector(x, "x", w.size) + (1 + overshoot) * minimal_perturbation(w, b, x)


# ----------------------------------------------------------------------------- multi-class, linear
def boundary_distances(W: np.ndarray, b: Sequence[float], x: Sequence[float]) -> np.ndarray:
    """Distance from ``x`` to each boundary between its class ``k0`` and class ``k``, shape (K,).

    ``d_k = |f'_k(x)| / ‖w'_k‖₂`` with ``f'_k = f_k − f_k0`` and ``w'_k = w_k − w_k0`` (paper, Alg. 2
    line 6); ``d_k0 = inf``, and so is ``d_k`` for a class whose weights equal ``k0``'s (no boundary).

    Args:
        W: (K, d) weight rows, one per class; b: (K,) biases; x: (d,) point.
    """
    W, b, x = _multiclass(W, b, x)
    scores = W @ x + b
    k0 = int(np.argmax(scores))
    w_diff = W - W[k0]
    norms = np.linalg.norm(w_diff, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        dist = np.abs(scores - scores[k0]) / norms
    dist[norms == 0] = math.inf
    dist[k0] = math.inf
    return dist


def closest_boundary(W: np.ndarray, b: Sequence[float], x: Sequence[float]) -> int:
    """The class ``l`` whose linear boundary with ``x``'s class is nearest: ``argmin_k d_k``."""
    dist = boundary_distances(W, b, x)
    if not np.isfinite(dist).any():
        raise ValueError("W: every class has the same weights as the winning class; there is no boundary")
    return int(np.argmin(dist))


@dataclass(frozen=True)
class LinearStep:
    """One DeepFool step on a linear multi-class classifier.

    Attributes:
        k0: the class of ``x``; l: the class across the nearest boundary.
        distances: (K,) :func:`boundary_distances`.
        r: (d,) minimal step onto the boundary ``f_l = f_k0``: ``|f'_l| / ‖w'_l‖² · w'_l``.
        x_adv: (d,) ``x + (1 + overshoot) · r``, classified differently from ``x``.
    """

    __repr__ = rounded_repr  # floats rounded: the same on every CPU

    k0: int
    l: int
    distances: np.ndarray
    r: np.ndarray
    x_adv: np.ndarray


def linear_deepfool_step(W: np.ndarray, b: Sequence[float], x: Sequence[float],
                         overshoot: float = 0.02) -> LinearStep:
    """DeepFool on a linear K-class classifier ``f(x) = W x + b``: one step is exact (paper, Sec. 3.2).

    Moves ``x`` onto the closest boundary of the region where its class wins, and ``overshoot``
    beyond it. For a linear classifier this is the smallest L2 change of label; the iterative
    attack on a network repeats this step on the network's local linearisation.
    """
    overshoot = checks.check_nonnegative(overshoot, "overshoot")
    W, b, x = _multiclass(W, b, x)
    dist = boundary_distances(W, b, x)
    l = closest_boundary(W, b, x)
    scores = W @ x + b
    k0 = int(np.argmax(scores))
    w_diff = W[l] - W[k0]
    r = abs(scores[l] - scores[k0]) / float(w_diff @ w_diff) * w_diff
    return LinearStep(k0=k0, l=l, distances=dist, r=r, x_adv=x + (1 + overshoot) * r)


# ----------------------------------------------------------------------------- real models
@dataclass(frozen=True)
class Crossing:
    """Where each sample's label first changes along ``x + t · direction`` on a grid of ``t``.

    Attributes (each shape (N,), float; ``nan`` where no ``t`` of the grid flips the label):
        t: the smallest grid step that flips it.
        l2, linf: ‖x_t − x‖₂ and ‖x_t − x‖∞ of that clipped point (pixel units, [0, 1] scale).
        pred: int64 prediction there (``-1`` where nothing flipped).
    """

    __repr__ = rounded_repr  # floats rounded: the same on every CPU

    t: Tensor
    l2: Tensor
    linf: Tensor
    pred: Tensor

    @property
    def found(self) -> Tensor:
        """(N,) bool: some step of the grid flipped the label."""
        return ~torch.isnan(self.t)


def first_crossing(model: nn.Module, x: Tensor, y: Tensor, direction: Tensor, grid: Sequence[float],
                   *, clip_min: float = 0.0, clip_max: float = 1.0) -> Crossing:
    """Walk every sample along a fixed direction and record the first grid step that changes its label.

    With ``direction = sign(∇ loss)`` this is FGSM at every ``eps`` of ``grid`` from one gradient:
    ``x_t = clip(x + t · direction)``, one no-grad forward per grid value. DeepFool instead picks a
    new direction at each step, towards the nearest linearised boundary, so it should get across
    with a far smaller perturbation.

    Args:
        model: ``nn.Module`` mapping (N, C, H, W) pixels to (N, K) logits.
        x: (N, C, H, W) float pixels in [clip_min, clip_max].
        y: (N,) int64 labels the model gives ``x`` (a sample already misclassified crosses at t = 0
            only if 0 is in the grid).
        direction: (N, C, H, W) float tensor, the same shape as ``x``.
        grid: increasing step sizes ``t`` (>= 0), e.g. ``[k / 255 for k in (0.5, 1, 2, 4, 8)]``.
        clip_min, clip_max: the pixel box every ``x_t`` is clipped into.

    Returns:
        :class:`Crossing`. The model is left as found.
    """
    checks.check_model(model)
    clip_min, clip_max = checks.check_clip(clip_min, clip_max)
    checks.check_images(x, clip_min, clip_max)
    y = checks.check_labels(y, x)
    if y is None:
        raise ValueError("y: expected the (N,) labels to measure the crossing against, got None")
    if not isinstance(direction, Tensor) or direction.shape != x.shape:
        shape = tuple(direction.shape) if isinstance(direction, Tensor) else type(direction).__name__
        raise ValueError(f"direction: expected a tensor shaped like x {tuple(x.shape)}, got {shape}")
    steps = [checks.check_nonnegative(t, "grid") for t in grid]
    if not steps or any(b <= a for a, b in zip(steps, steps[1:])):
        raise ValueError(f"grid: expected a non-empty increasing sequence of steps, got {list(grid)}")
    n = x.shape[0]
    t = torch.full((n,), math.nan, dtype=x.dtype, device=x.device)
    l2, linf = t.clone(), t.clone()
    pred = torch.full((n,), -1, dtype=torch.long, device=x.device)
    todo = torch.ones(n, dtype=torch.bool, device=x.device)
    with checks.frozen(model, x), torch.no_grad():
        for step in steps:
            rows = todo.nonzero().squeeze(1)
            if rows.numel() == 0:
                break
            x_t = _core.clip(x[rows] + step * direction[rows], clip_min, clip_max)
            p = _core.logits_of(model, x_t).argmax(1)
            flipped = p != y[rows]
            hit, delta = rows[flipped], (x_t - x[rows])[flipped]
            t[hit] = step
            l2[hit] = _core.per_sample_norm(delta, 2.0)
            linf[hit] = _core.per_sample_norm(delta, _core.INF)
            pred[hit] = p[flipped]
            todo[hit] = False
    return Crossing(t=t, l2=l2, linf=linf, pred=pred)


def class_rank(logits: Tensor, classes: Tensor) -> Tensor:
    """Where each ``classes[i]`` stands in the ranking of ``logits[i]``: 1 = top class, 2 = runner-up…

    DeepFool crosses the *nearest* boundary, so the class it lands in is usually one the model
    already rated highly on the clean image: a rank of at most 5 means "in the clean top-5".

    Args:
        logits: (N, K) clean scores; classes: (N,) int64 class indices in [0, K).

    Returns:
        (N,) int64 ranks in [1, K] (ties count in the class's favour).
    """
    if not isinstance(logits, Tensor) or logits.dim() != 2:
        raise ValueError(f"logits: expected an (N, K) tensor, got {getattr(logits, 'shape', type(logits).__name__)}")
    if not isinstance(classes, Tensor) or tuple(classes.shape) != (logits.shape[0],):
        raise ValueError(f"classes: expected an (N,) = ({logits.shape[0]},) tensor of class indices")
    classes = classes.to(device=logits.device, dtype=torch.long)
    if int(classes.min()) < 0 or int(classes.max()) >= logits.shape[1]:
        raise ValueError(f"classes: indices must lie in [0, {logits.shape[1]})")
    own = logits.gather(1, classes.view(-1, 1))
    return (logits > own).sum(1) + 1
