"""Square Attack (Andriushchenko et al.): random search with square updates, scores only. Taught in 09_black_box."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from advcourse.attacks import _blackbox, _core
from advcourse.attacks._blackbox import QueryInfo
from advcourse.checks import shared_attack_checks

__all__ = ["square", "square_fraction"]

#: Square's schedule (the paper's Sec. 3.1 / reference code): at these fractions of a 10,000-query
#: budget the square's share of the image halves.
_HALVINGS = (10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000)


def square(model: nn.Module, x: Tensor, y: Tensor | None = None, *, eps: float, max_queries: int,
           p_init: float = 0.05, targeted: bool = False, clip_min: float = 0.0, clip_max: float = 1.0,
           generator: torch.Generator | None = None,
           return_info: bool = False) -> Tensor | tuple[Tensor, QueryInfo]:
    """Random search in the L∞ ball: keep a random ±eps square whenever it lowers the margin.

    Paper: Andriushchenko, Croce, Flammarion & Hein, 2020, "Square Attack: a query-efficient
        black-box adversarial attack via random search", arXiv:1912.00833 (Algorithm 1 and 2, L∞;
        vertical-stripe start, Sec. 3.2; ``p_init=0.05`` is their ImageNet setting, Table 2).

    Threat model: score-based black box: only the logits (N, K) of queried images are seen, never
        gradients. ‖x_adv − x‖∞ <= eps, in pixel units; at most ``max_queries`` images per sample.

    Args:
        model: ``nn.Module`` mapping (N, C, H, W) pixels in [clip_min, clip_max] to (N, K) logits;
            called only under ``torch.no_grad()``.
        x: (N, C, H, W) float tensor on the model's device, pixels in [clip_min, clip_max].
        y: (N,) int64. Untargeted: true labels (``None`` = the model's predictions on ``x``).
            Targeted: the target classes (required).
        eps: L∞ budget >= 0, e.g. ``8/255``.
        max_queries: images each sample may send to the model, >= 1, counting the first query at
            ``x`` (which reads the labels or finds samples that are already misclassified) and the
            stripe start.
        p_init: the first squares' share of the image's pixels, in (0, 1]; halved on the paper's
            schedule as the budget is spent (:func:`square_fraction`).
        targeted: push towards the classes ``y`` instead of away from them.
        clip_min, clip_max: valid pixel box (default [0, 1]).
        generator: ``torch.Generator`` for every random draw (reproducible; drawn on its device).
        return_info: also return :class:`~advcourse.attacks._blackbox.QueryInfo` (no extra query).

    Returns:
        ``x_adv``: new detached tensor like ``x``, inside [clip_min, clip_max], ‖x_adv − x‖∞ <= eps;
        ``eps = 0`` returns ``x``. With ``return_info``: ``(x_adv, info)``, ``info.queries`` (N,).

    Notes:
        Batched with an active set: a sample stops querying once it succeeds or spends its budget.
        Each sample draws its own square (position and colours). The model's train/eval mode and
        ``requires_grad`` flags are restored, even if this raises.

    Example:
        >>> x_adv, info = square(model, x, y, eps=8/255, max_queries=1000, return_info=True)
    """
    _core.check_model(model)
    clip_min, clip_max = _core.check_clip(clip_min, clip_max)
    _core.check_images(x, clip_min, clip_max)
    eps = _core.check_nonnegative(eps, "eps")
    max_queries = _core.check_count(max_queries, "max_queries", minimum=1)
    p_init = _blackbox.check_probability(p_init, "p_init")
    if p_init == 0:
        raise ValueError("p_init: expected a number in (0, 1], got 0")
    y = _core.check_labels(y, x, targeted=targeted)
    _core.check_generator(generator)
    x = x.detach()
    n, c, h, w = x.shape
    with _core.frozen(model, x), torch.no_grad():
        logits = _core.logits_of(model, x, y)  # query 1: labels, and who is already fooled
        y = logits.argmax(1) if y is None else y
        queries = torch.ones(n, dtype=torch.long, device=x.device)
        best = _blackbox.margin(logits, y, targeted)
        x_best, best_logits = x.clone(), logits.clone()
        rows = (best > 0).nonzero().squeeze(1) if eps > 0 and max_queries > 1 else best.new_zeros(0, dtype=torch.long)
        if rows.numel():  # query 2: vertical stripes of ±eps (Sec. 3.2)
            stripes = eps * _signs((rows.numel(), c, 1, w), x, generator)
            _try(model, rows, _core.clip(x[rows] + stripes, clip_min, clip_max), y, targeted,
                 x_best, best, best_logits, queries, accept_all=True)
        for i in range(2, max_queries):
            rows = ((best > 0) & (queries < max_queries)).nonzero().squeeze(1)
            if rows.numel() == 0:
                break
            # the schedule runs over the square iterations alone (the reference code's i_iter from 0
            # of n_queries), not over the two queries spent on x and on the stripes
            side = _side(square_fraction(p_init, i - 2, max_queries - 2), h, w)
            candidate = _paint_square(x, x_best, rows, side, eps, clip_min, clip_max, generator)
            _try(model, rows, candidate, y, targeted, x_best, best, best_logits, queries)
        if not return_info:
            return x_best
        return x_best, _blackbox.query_info(model, x, x_best, y, queries, queries - 1, targeted, best_logits)


square = shared_attack_checks(square)  # flags must be bools; an L∞ budget must fit the pixel box


def _try(model: nn.Module, rows: Tensor, candidate: Tensor, y: Tensor, targeted: bool, x_best: Tensor,
         best: Tensor, best_logits: Tensor, queries: Tensor, accept_all: bool = False) -> None:
    """Query ``candidate`` for samples ``rows``; keep it where the margin went down (in place)."""
    logits = _core.logits_of(model, candidate)
    queries[rows] += 1
    value = _blackbox.margin(logits, y[rows], targeted)
    better = torch.ones_like(value, dtype=torch.bool) if accept_all else value < best[rows]
    keep = rows[better]
    x_best[keep], best[keep], best_logits[keep] = candidate[better], value[better], logits[better]


def square_fraction(p_init: float, i: int, iterations: int) -> float:
    """The share of pixels the square covers at square iteration ``i`` (from 0) of ``iterations``
    (the paper's schedule, rescaled to the budget: ``p_init`` halves at 10, 50, 200, … of every
    10,000 iterations)."""
    progress = int(i / iterations * 10_000)
    return p_init / 2 ** sum(progress > t for t in _HALVINGS)


def _side(p: float, h: int, w: int) -> int:
    """Side of a square covering a share ``p`` of an h×w image: at least 1, at most min(h, w) − 1."""
    return max(1, min(round(math.sqrt(p * h * w)), min(h, w) - 1))


def _signs(shape: tuple[int, ...], like: Tensor, generator: torch.Generator | None) -> Tensor:
    """Random ±1 of ``shape`` (drawn on the generator's device)."""
    return torch.where(_core._rand(torch.Size(shape), like, generator) < 0.5, -1.0, 1.0).to(like.dtype)


def _paint_square(x: Tensor, x_best: Tensor, rows: Tensor, side: int, eps: float, clip_min: float,
                  clip_max: float, generator: torch.Generator | None) -> Tensor:
    """The next candidates of samples ``rows`` (M,): each one's best point with one random
    ``side``×``side`` window of its perturbation set to ±eps per channel (Algorithm 2), clipped to the
    box. ``x``, ``x_best``: (N, C, H, W); returns (M, C, H, W).

    Only the windows are computed (gathered by index, one per sample), so the cost per query does
    not grow with the image. A window colour that would leave the image unchanged is redrawn (a few
    times, per sample), since such a query would be wasted (as in the reference code).
    """
    m, (_, c, h, w) = rows.numel(), x.shape
    top = (_core._rand(torch.Size([m]), x, generator) * (h - side + 1)).long().clamp_max(h - side)
    left = (_core._rand(torch.Size([m]), x, generator) * (w - side + 1)).long().clamp_max(w - side)
    span = torch.arange(side, device=x.device)
    channels = torch.arange(c, device=x.device)[None, :, None, None]
    ys, xs = (top[:, None] + span)[:, None, :, None], (left[:, None] + span)[:, None, None, :]
    x_win, best_win = x[rows[:, None, None, None], channels, ys, xs], x_best[rows[:, None, None, None], channels, ys, xs]
    colour = eps * _signs((m, c, 1, 1), x, generator)
    for _ in range(10):
        window = _core.clip(x_win + colour, clip_min, clip_max)
        unchanged = ((window - best_win).abs() < 1e-7).flatten(1).all(1)
        if not unchanged.any():
            break
        colour = torch.where(unchanged[:, None, None, None], eps * _signs((m, c, 1, 1), x, generator), colour)
    candidate = x_best[rows]  # a gathered copy
    candidate[torch.arange(m, device=x.device)[:, None, None, None], channels, ys, xs] = window
    return candidate
