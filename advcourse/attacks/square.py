"""Square Attack (Andriushchenko et al.): random search with square updates, scores only. Taught in 09_black_box.

Two threat models, as in the paper: L∞ (Algorithm 2: a random ±eps square per query) and L2
(Algorithm 3: mass moved between two random windows, the total kept at eps). Both keep a candidate
only when it lowers the margin loss, and share the schedule of the windows' size (:func:`square_fraction`).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from advcourse.attacks import _blackbox, _core
from advcourse.attacks._blackbox import QueryInfo
from advcourse.core.checks import shared_attack_checks

__all__ = ["square", "square_fraction"]

#: Square's schedule (the paper's Sec. 3.1 / reference code): at these fractions of a 10,000-query
#: budget the square's share of the image halves.
_HALVINGS = (10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000)


def square(model: nn.Module, x: Tensor, y: Tensor | None = None, *, eps: float, max_queries: int,
           norm: float | str = _core.INF, p_init: float = 0.05, targeted: bool = False, clip_min: float = 0.0,
           clip_max: float = 1.0, generator: torch.Generator | None = None,
           return_info: bool = False) -> Tensor | tuple[Tensor, QueryInfo]:
    """Random search in the L∞ or L2 ball: keep a random square update whenever it lowers the margin.

    Paper: Andriushchenko, Croce, Flammarion & Hein, 2020, "Square Attack: a query-efficient
        black-box adversarial attack via random search", arXiv:1912.00833. L∞: Algorithm 1 and 2,
        vertical-stripe start (Sec. 3.2); ``p_init=0.05`` is their ImageNet L∞ setting (Table 2).
        L2: Algorithm 3 (Sec. 3.3): a start tiled with "meta" pseudo-Gaussian windows, then each
        query moves the perturbation's mass from a second window into a first one with a new
        pseudo-Gaussian; their ImageNet L2 setting is ``p_init=0.1``.

    Threat model: score-based black box: only the logits (N, K) of queried images are seen, never
        gradients. ‖x_adv − x‖ₚ <= eps (p = ``norm``), in pixel units; at most ``max_queries``
        images per sample.

    Args:
        model: ``nn.Module`` mapping (N, C, H, W) pixels in [clip_min, clip_max] to (N, K) logits;
            called only under ``torch.no_grad()``.
        x: (N, C, H, W) float tensor on the model's device, pixels in [clip_min, clip_max].
        y: (N,) int64. Untargeted: true labels (``None`` = the model's predictions on ``x``).
            Targeted: the target classes (required).
        eps: budget >= 0 in the ``norm``, e.g. ``8/255`` (L∞) or ``0.5`` (L2, over all C·H·W pixels).
        max_queries: images each sample may send to the model, >= 1, counting the first query at
            ``x`` (which reads the labels or finds samples that are already misclassified) and the
            start (stripes for L∞, meta windows for L2).
        norm: ``float("inf")`` (or ``"linf"``, the default) or ``2`` (or ``"l2"``).
        p_init: the first squares' share of the image's pixels, in (0, 1]; halved on the paper's
            schedule as the budget is spent (:func:`square_fraction`). L2 windows are at least 3
            pixels wide and of odd side, as in the reference code.
        targeted: push towards the classes ``y`` instead of away from them.
        clip_min, clip_max: valid pixel box (default [0, 1]).
        generator: ``torch.Generator`` for every random draw (reproducible; drawn on its device).
        return_info: also return :class:`~advcourse.attacks._blackbox.QueryInfo` (no extra query).

    Returns:
        ``x_adv``: new detached tensor like ``x``, inside [clip_min, clip_max], ‖x_adv − x‖ₚ <= eps;
        ``eps = 0`` returns ``x``. With ``return_info``: ``(x_adv, info)``, ``info.queries`` (N,).

    Notes:
        Batched with an active set: a sample stops querying once it succeeds or spends its budget.
        Each sample draws its own squares (positions, colours, orientations). The model's train/eval
        mode and ``requires_grad`` flags are restored, even if this raises.

    Example:
        >>> x_adv, info = square(model, x, y, eps=8/255, max_queries=1000, return_info=True)
        >>> x_adv = square(model, x, y, eps=0.5, max_queries=1000, norm="l2", p_init=0.1)
    """
    _core.check_model(model)
    clip_min, clip_max = _core.check_clip(clip_min, clip_max)
    _core.check_images(x, clip_min, clip_max)
    eps = _core.check_nonnegative(eps, "eps")
    norm = _core.check_norm(norm, (_core.INF, 2.0))
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
        if rows.numel():  # query 2: the start, always kept
            if norm == _core.INF:  # vertical stripes of ±eps (Sec. 3.2)
                start = eps * _signs((rows.numel(), c, 1, w), x, generator)
            else:  # meta windows, L2 norm eps (Sec. 3.3)
                start = _l2_start(rows.numel(), x, eps, generator)
            _try(model, rows, _core.clip(x[rows] + start, clip_min, clip_max), y, targeted,
                 x_best, best, best_logits, queries, accept_all=True)
        for i in range(2, max_queries):
            rows = ((best > 0) & (queries < max_queries)).nonzero().squeeze(1)
            if rows.numel() == 0:
                break
            # the schedule runs over the square iterations alone (the reference code's i_iter from 0
            # of n_queries), not over the two queries spent on x and on the start
            p = square_fraction(p_init, i - 2, max_queries - 2)
            if norm == _core.INF:
                candidate = _paint_square(x, x_best, rows, _side(p, h, w), eps, clip_min, clip_max, generator)
            else:
                candidate = _move_mass(x, x_best, rows, _l2_side(p, h, w), eps, clip_min, clip_max, generator)
            _try(model, rows, candidate, y, targeted, x_best, best, best_logits, queries)
        if not return_info:
            return x_best
        return x_best, _blackbox.query_info(model, x, x_best, y, queries, queries - 1, targeted, best_logits)


square = shared_attack_checks(square)  # flags must be bools; an L∞ budget must fit the pixel box (L2: any)


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
    corner = _corners(m, side, h, w, x, generator)
    x_win, best_win = x[_window(rows, *corner, side, c)], x_best[_window(rows, *corner, side, c)]
    colour = eps * _signs((m, c, 1, 1), x, generator)
    for _ in range(10):
        window = _core.clip(x_win + colour, clip_min, clip_max)
        unchanged = ((window - best_win).abs() < 1e-7).flatten(1).all(1)
        if not unchanged.any():
            break
        colour = torch.where(unchanged[:, None, None, None], eps * _signs((m, c, 1, 1), x, generator), colour)
    candidate = x_best[rows]  # a gathered copy
    candidate[_window(torch.arange(m, device=x.device), *corner, side, c)] = window
    return candidate


def _corners(m: int, side: int, h: int, w: int, like: Tensor,
             generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
    """Top-left corners (M,), (M,) of one ``side``×``side`` window per sample, uniform over the image."""
    top = (_core._rand(torch.Size([m]), like, generator) * (h - side + 1)).long().clamp_max(h - side)
    left = (_core._rand(torch.Size([m]), like, generator) * (w - side + 1)).long().clamp_max(w - side)
    return top, left


def _window(samples: Tensor, top: Tensor, left: Tensor, side: int, c: int) -> tuple[Tensor, ...]:
    """Index of one window per sample, all channels: ``t[_window(...)]`` is (M, C, side, side) for a
    (N, C, H, W) tensor ``t``; ``samples`` (M,) picks the rows of ``t``, ``top``, ``left`` (M,) the corners."""
    span = torch.arange(side, device=top.device)
    channels = torch.arange(c, device=top.device)[None, :, None, None]
    ys, xs = (top[:, None] + span)[:, None, :, None], (left[:, None] + span)[:, None, None, :]
    return samples[:, None, None, None], channels, ys, xs


# ----------------------------------------------------------------------------- L2 (Algorithm 3)
def _l2_side(p: float, h: int, w: int) -> int:
    """Side of the L2 windows covering a share ``p`` of an h×w image: odd, at least 3 (the
    reference code), at most min(h, w)."""
    side = max(3, round(math.sqrt(p * h * w)))
    side += 1 - side % 2
    return min(side, h, w)


def _l2_start(m: int, like: Tensor, eps: float, generator: torch.Generator | None) -> Tensor:
    """Sec. 3.3's start for ``m`` samples, (M, C, H, W) with L2 norm ``eps`` per sample.

    A grid of tiles of side s = min(H, W) // 5, each holding a meta window (:func:`_meta_windows`)
    with a random sign per channel. As in the reference code, the grid starts where a centred 5×5
    grid would and runs on while whole tiles fit: 5×5 on a 224 px image; on an 8×8 one (s = 1) it
    leaves the first row and column alone, often empty background on small digits.
    """
    _, c, h, w = like.shape
    side = max(1, min(h, w) // 5)
    top, left = max(0, (h - 5 * side) // 2), max(0, (w - 5 * side) // 2)
    rows, cols = (h - top) // side, (w - left) // side
    tiles = _signs((m, c, rows, cols, 1, 1), like, generator) * _meta_windows((m, 1, rows, cols), side, like, generator)
    grid = tiles.permute(0, 1, 2, 4, 3, 5).reshape(m, c, rows * side, cols * side)  # tile (i, j) -> pixels
    delta = like.new_zeros(m, c, h, w)
    delta[:, :, top:top + rows * side, left:left + cols * side] = grid
    return eps * delta / _norm(delta, (1, 2, 3))


def _move_mass(x: Tensor, x_best: Tensor, rows: Tensor, side: int, eps: float, clip_min: float,
               clip_max: float, generator: torch.Generator | None) -> Tensor:
    """The next L2 candidates of samples ``rows`` (M,) (Algorithm 3). ``x``, ``x_best``: (N, C, H, W);
    returns (M, C, H, W) with ‖candidate − x‖₂ <= eps, inside the box.

    Per sample, with δ = x_best − x, two random ``side``×``side`` windows W1 and W2:

    1. the mass that may go into W1, per channel: what W1 ∪ W2 holds now, plus an equal share of
       the budget eps² − ‖δ‖² that the clip to the box left unspent;
    2. W1 gets a new meta window with a random sign plus its old content (each of unit norm per
       channel), rescaled to that mass; W2 is emptied (where the windows overlap, W1 wins);
    3. δ is rescaled to ‖δ‖₂ = eps (which it already is, up to rounding) and x + δ clipped to the box.
    """
    m, (_, c, h, w) = rows.numel(), x.shape
    samples = torch.arange(m, device=x.device)
    delta = x_best[rows] - x[rows]
    first = _window(samples, *_corners(m, side, h, w, x, generator), side, c)
    second = _window(samples, *_corners(m, side, h, w, x, generator), side, c)
    union = torch.zeros_like(delta, dtype=torch.bool)
    union[first], union[second] = True, True
    unspent = (eps ** 2 - _norm(delta, (1, 2, 3)) ** 2).clamp_min(0) / c  # (M, 1, 1, 1)
    mass = (unspent + (delta * union).square().sum((2, 3), keepdim=True)).sqrt()  # (M, C, 1, 1)
    old = delta[first]
    new = _signs((m, c, 1, 1), x, generator) * _meta_windows((m, 1), side, x, generator) + old / _norm(old, (2, 3))
    delta[second] = 0.0
    delta[first] = new / _norm(new, (2, 3)) * mass
    return _core.clip(x[rows] + eps * delta / _norm(delta, (1, 2, 3)), clip_min, clip_max)


def _meta_windows(shape: tuple[int, ...], side: int, like: Tensor, generator: torch.Generator | None) -> Tensor:
    """``shape + (side, side)`` copies of the paper's meta window, each turned by 90° (transposed)
    at random: a pseudo-Gaussian bump in the top half and the opposite bump in the bottom half,
    unit L2 norm."""
    top, bottom = _bump(side // 2, side), _bump(side - side // 2, side)
    meta = torch.cat([top / _norm(top), -bottom / _norm(bottom)])
    meta = (meta / _norm(meta)).to(like)
    turned = _core._rand(torch.Size(shape), like, generator) < 0.5
    return torch.where(turned[..., None, None], meta.T, meta)


def _bump(rows: int, cols: int) -> Tensor:
    """A rows×cols pseudo-Gaussian (float64): nested squares around the centre pixel (rows // 2,
    cols // 2), the k-th of side 2k + 1 weighted 1 / (k + 1)², summed (cut at the border). A pixel
    at Chebyshev distance d from the centre lies in squares d, d + 1, …, max(rows // 2, cols // 2)."""
    dist = torch.maximum((torch.arange(rows) - rows // 2).abs()[:, None], (torch.arange(cols) - cols // 2).abs())
    weights = 1.0 / torch.arange(1, max(rows // 2, cols // 2) + 2, dtype=torch.float64) ** 2
    return weights.flip(0).cumsum(0).flip(0)[dist]  # entry d: sum of the weights from d on


def _norm(t: Tensor, dims: tuple[int, ...] | None = None) -> Tensor:
    """L2 norm over ``dims`` (all when None), kept for broadcasting; never 0 (a zero tensor stays zero)."""
    return t.square().sum(dims, keepdim=True).sqrt().clamp_min(_core._TINY)
