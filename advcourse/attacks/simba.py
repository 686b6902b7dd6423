"""SimBA (Guo et al.): try ±eps along one basis direction at a time, keep what lowers the score. Taught in 09_black_box."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from advcourse.attacks import _blackbox, _core
from advcourse.attacks._blackbox import QueryInfo
from advcourse.core.checks import shared_attack_checks

__all__ = ["simba", "dct_matrix"]


# simba's and square's Args read alike on purpose: the query attacks share one contract (DESIGN: query attacks).
def simba(model: nn.Module, x: Tensor, y: Tensor | None = None, *, eps: float = 0.2, max_queries: int,
          basis: str = "dct", low_freq: int | None = None, stride: int | None = None, targeted: bool = False,
          clip_min: float = 0.0, clip_max: float = 1.0, generator: torch.Generator | None = None,
          return_info: bool = False) -> Tensor | tuple[Tensor, QueryInfo]:
    """For each basis direction q in a random order: try ``x − eps·q``, then ``x + eps·q``; keep a step
    that lowers the probability of the true class (raises the target's, when targeted).

    Paper: Guo, Gardner, You, Wilson & Weinberger, 2019, "Simple Black-box Adversarial Attacks",
        arXiv:1905.07121 (Algorithm 1; pixel basis "SimBA" and low-frequency DCT basis "SimBA-DCT",
        Sec. 3-4; their ImageNet setting ``eps=0.2``, DCT block 28, stride 7 at 224 px).

    Threat model: score-based black box: the probabilities of queried images, never gradients.
        Each basis direction is used at most once, so with the pixel basis ‖x_adv − x‖∞ <= eps;
        in both bases ‖x_adv − x‖₂ <= eps·sqrt(steps taken) (orthonormal directions).

    Args:
        model: ``nn.Module`` mapping (N, C, H, W) pixels in [clip_min, clip_max] to (N, K) logits;
            called only under ``torch.no_grad()``.
        x: (N, C, H, W) float tensor on the model's device, pixels in [clip_min, clip_max].
        y: (N,) int64. Untargeted: true labels (``None`` = the model's predictions on ``x``).
            Targeted: the target classes (required).
        eps: step length along each basis direction, > 0 (the paper: 0.2 on [0, 1] ImageNet pixels).
        max_queries: images each sample may send to the model, >= 1, counting the first query at
            ``x``. A direction costs one query, or two when ``x − eps·q`` is not kept.
        basis: ``"dct"`` (low frequencies first, the paper's better variant) or ``"pixel"``.
        low_freq: DCT only: side of the first block of frequencies tried (default ``H // 8``, the
            paper's 28 at 224 px); stride: DCT only: width of each next band (default ``low_freq // 4``).
        targeted: raise the probability of the classes ``y`` instead of lowering theirs.
        clip_min, clip_max: valid pixel box (default [0, 1]).
        generator: ``torch.Generator`` for the orders (reproducible; drawn on its device).
        return_info: also return :class:`~advcourse.attacks._blackbox.QueryInfo` (no extra query).

    Returns:
        ``x_adv``: new detached tensor like ``x``, inside [clip_min, clip_max]; ``eps = 0`` returns ``x``.
        With ``return_info``: ``(x_adv, info)``; ``info.iterations`` is the directions tried.

    Notes:
        Batched with an active set; every sample follows its own random order. The model's
        train/eval mode and ``requires_grad`` flags are restored, even if this raises.

    Example:
        >>> x_adv, info = simba(model, x, y, eps=0.2, max_queries=1000, return_info=True)
    """
    _core.check_model(model)
    clip_min, clip_max = _core.check_clip(clip_min, clip_max)
    _core.check_images(x, clip_min, clip_max)
    eps = _core.check_nonnegative(eps, "eps")
    max_queries = _core.check_count(max_queries, "max_queries", minimum=1)
    if basis not in ("dct", "pixel"):
        raise ValueError(f"basis: expected 'dct' or 'pixel', got {basis!r}")
    y = _core.check_labels(y, x, targeted=targeted)
    _core.check_generator(generator)
    x = x.detach()
    n, c, h, w = x.shape
    low = _core.check_count(low_freq if low_freq is not None else max(1, h // 8), "low_freq", minimum=1)
    band = _core.check_count(stride if stride is not None else max(1, low // 4), "stride", minimum=1)
    with _core.frozen(model, x), torch.no_grad():
        logits = _core.logits_of(model, x, y)  # query 1: labels and the starting probability
        y = logits.argmax(1) if y is None else y
        queries = torch.ones(n, dtype=torch.long, device=x.device)
        score = _score(logits, y, targeted)
        x_adv, adv_logits = x.clone(), logits.clone()
        order = _order(n, c, h, w, basis, low, band, x, generator)
        steps = torch.zeros(n, dtype=torch.long, device=x.device)
        dct = (dct_matrix(h, x), dct_matrix(w, x)) if basis == "dct" else None
        for k in range(order.shape[1] if eps > 0 else 0):
            rows = (~_core.is_success(adv_logits, y, targeted) & (queries < max_queries)).nonzero().squeeze(1)
            if rows.numel() == 0:
                break
            q = _direction(order[rows, k], c, h, w, dct, x)
            steps[rows] += 1
            for sign in (-1.0, 1.0):  # Algorithm 1: x − eps·q first, then x + eps·q
                candidate = _core.clip(x_adv[rows] + sign * eps * q, clip_min, clip_max)
                cand_logits = _core.logits_of(model, candidate)
                queries[rows] += 1
                better = _score(cand_logits, y[rows], targeted) < score[rows]
                kept = rows[better]
                x_adv[kept], adv_logits[kept] = candidate[better], cand_logits[better]
                score[kept] = _score(cand_logits[better], y[kept], targeted)
                rows, q = rows[~better], q[~better]
                rows_left = queries[rows] < max_queries
                rows, q = rows[rows_left], q[rows_left]
                if rows.numel() == 0:
                    break
        if not return_info:
            return x_adv
        return x_adv, _blackbox.query_info(model, x, x_adv, y, queries, steps, targeted, adv_logits)


simba = shared_attack_checks(simba)  # flags must be bools; an L∞ budget must fit the pixel box


def _score(logits: Tensor, y: Tensor, targeted: bool) -> Tensor:
    """What SimBA pushes down: p(y|x) untargeted, −p(target|x) targeted; shape (N,)."""
    p = logits.softmax(1).gather(1, y[:, None]).squeeze(1)
    return -p if targeted else p


def dct_matrix(size: int, like: Tensor) -> Tensor:
    """Orthonormal DCT-II matrix D (size × size): row u is the u-th cosine; ``D.T @ e_u`` is the basis image."""
    k = torch.arange(size, dtype=torch.float64)
    d = torch.cos(math.pi / size * (k[None, :] + 0.5) * k[:, None]) * math.sqrt(2.0 / size)
    d[0] /= math.sqrt(2.0)
    return d.to(device=like.device, dtype=like.dtype)


def _order(n: int, c: int, h: int, w: int, basis: str, low: int, band: int, like: Tensor,
           generator: torch.Generator | None) -> Tensor:
    """(N, C·H·W) coordinates to try, one random order per sample.

    Pixel basis: a uniformly random permutation. DCT basis: the low ``low``×``low`` frequencies of
    every channel first, then bands ``stride`` wide, each band in random order (Guo et al. Sec. 3.2).
    """
    keys = _core._rand(torch.Size([n, c * h * w]), like, generator).to(torch.float64)
    if basis == "dct":
        u = torch.arange(h, device=like.device)[:, None].expand(h, w)
        v = torch.arange(w, device=like.device)[None, :].expand(h, w)
        top = torch.maximum(u, v)
        ring = torch.where(top < low, 0, 1 + torch.div(top - low, band, rounding_mode="floor"))
        keys = keys + ring.expand(c, h, w).reshape(1, -1).to(keys)
    return keys.argsort(1)


def _direction(index: Tensor, c: int, h: int, w: int, dct: tuple[Tensor, Tensor] | None, like: Tensor) -> Tensor:
    """Unit-norm basis images (M, C, H, W) for flat coordinates ``index`` (M,)."""
    q = torch.zeros(index.shape[0], c, h, w, dtype=like.dtype, device=like.device)
    ch, rest = torch.div(index, h * w, rounding_mode="floor"), index % (h * w)
    u, v = torch.div(rest, w, rounding_mode="floor"), rest % w
    m = torch.arange(index.shape[0], device=like.device)
    if dct is None:
        q[m, ch, u, v] = 1.0
    else:  # inverse 2-D DCT of a one-hot frequency: outer product of two cosines
        q[m, ch] = dct[0][u][:, :, None] * dct[1][v][:, None, :]
    return q
