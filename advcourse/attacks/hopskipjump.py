"""HopSkipJump (Chen, Jordan & Wainwright): walk along the decision boundary, labels only. Taught in 09_black_box."""

from __future__ import annotations

import itertools
import math

import torch
from torch import Tensor, nn

from advcourse.attacks import _blackbox, _core
from advcourse.attacks._blackbox import QueryInfo
from advcourse.core.checks import shared_attack_checks

__all__ = ["hopskipjump"]


def hopskipjump(model: nn.Module, x: Tensor, y: Tensor | None = None, *, max_queries: int = 1000,
                init_evals: int = 100, max_evals: int = 10_000, gamma: float = 1.0, init_tries: int = 100,
                targeted: bool = False, x_init: Tensor | None = None, clip_min: float = 0.0,
                clip_max: float = 1.0, generator: torch.Generator | None = None,
                return_info: bool = False) -> Tensor | tuple[Tensor, QueryInfo]:
    """Minimise ‖x_adv − x‖₂ seeing only the top-1 label: start adversarial, then repeat
    binary search to the boundary → estimate the boundary's normal from random probes → step along
    it (geometric step search) while staying adversarial.

    Paper: Chen, Jordan & Wainwright, 2020, "HopSkipJumpAttack: A Query-Efficient Decision-Based
        Attack", arXiv:1904.02144 (Algorithm 2, L2; probes ``B_t = init_evals·sqrt(t)`` up to
        ``max_evals``, Theorem 2; ``delta_t = sqrt(d)·theta·‖x_t − x‖``, ``theta = gamma / d^{3/2}``,
        Sec. 4.1; step ``‖x_t − x‖ / sqrt(t)`` halved until adversarial, Sec. 4.2).

    Threat model: decision-based black box: only the predicted class of a queried image. Minimises
        the L2 distance; every returned image is adversarial (or ``x`` itself where no adversarial
        start was found). At most ``max_queries`` images per sample.

    Args:
        model: ``nn.Module`` mapping (N, C, H, W) pixels in [clip_min, clip_max] to (N, K) logits, of
            which only ``argmax`` is used; called only under ``torch.no_grad()``.
        x: (N, C, H, W) float tensor on the model's device, pixels in [clip_min, clip_max].
        y: (N,) int64. Untargeted: true labels (``None`` = the model's predictions on ``x``).
            Targeted: the target classes (required, with ``x_init``).
        max_queries: images each sample may send to the model, >= 1 (the first query at ``x``
            included). An iteration starts only if its worst case still fits.
        init_evals, max_evals: random probes in the first iteration and at most (Theorem 2).
        gamma: sets the binary-search precision ``theta = gamma / d^{3/2}`` (the paper: 1.0).
        init_tries: uniform-noise images tried per sample to find an adversarial start (untargeted).
        targeted: reach the classes ``y``; needs ``x_init``.
        x_init: (N, C, H, W) starting points already classified as ``y`` (targeted), or adversarial
            (untargeted, instead of the noise search); checked with one query each.
        clip_min, clip_max: valid pixel box (default [0, 1]).
        generator: ``torch.Generator`` for the noise and the probes (reproducible).
        return_info: also return :class:`~advcourse.attacks._blackbox.QueryInfo` (no extra query).

    Returns:
        ``x_adv``: new detached tensor like ``x``, inside [clip_min, clip_max]; adversarial wherever
        ``info.success``. With ``return_info``: ``(x_adv, info)``; ``info.l2`` is the distance reached.

    Notes:
        Batched: all samples probe, search and step together, finished ones drop out. The model's
        train/eval mode and ``requires_grad`` flags are restored, even if this raises.

    Example:
        >>> x_adv, info = hopskipjump(model, x, y, max_queries=2000, return_info=True)
    """
    _core.check_model(model)
    clip_min, clip_max = _core.check_clip(clip_min, clip_max)
    _core.check_images(x, clip_min, clip_max)
    max_queries = _core.check_count(max_queries, "max_queries", minimum=1)
    init_evals = _core.check_count(init_evals, "init_evals", minimum=1)
    max_evals = _core.check_count(max_evals, "max_evals", minimum=init_evals)
    gamma = _core.check_nonnegative(gamma, "gamma")
    init_tries = _core.check_count(init_tries, "init_tries")
    y = _core.check_labels(y, x, targeted=targeted)
    if targeted and x_init is None:
        raise ValueError("x_init: a targeted HopSkipJump starts from images of the target classes; pass x_init")
    if x_init is not None:
        _core.check_images(x_init, clip_min, clip_max, name="x_init")
        if x_init.shape != x.shape:
            raise ValueError(f"x_init: expected the shape of x {tuple(x.shape)}, got {tuple(x_init.shape)}")
    _core.check_generator(generator)
    x = x.detach()
    n, d = x.shape[0], x[0].numel()
    theta = gamma / d ** 1.5
    search_steps = max(1, math.ceil(math.log2(1.0 / max(theta, 1e-12))))  # bisection of [0, 1] down to theta
    with _core.frozen(model, x), torch.no_grad():
        oracle = _Oracle(model, y, targeted, torch.ones(n, dtype=torch.long, device=x.device))
        pred = _core.logits_of(model, x, y).argmax(1)  # query 1
        oracle.y = pred if y is None else y
        y = oracle.y
        done = (pred == y) if targeted else (pred != y)  # adversarial already: x itself is the answer
        start, found = _start(oracle, x, x_init, done, init_tries, max_queries, clip_min, clip_max, generator)
        x_adv = x.clone()
        x_adv[found & ~done] = start[found & ~done]
        rows = (found & ~done & (oracle.queries + search_steps <= max_queries)).nonzero().squeeze(1)
        if rows.numel():  # from the start to the boundary (Algorithm 1)
            x_adv[rows] = _boundary(oracle, rows, x[rows], x_adv[rows], search_steps)
        dist = _core.per_sample_norm(x_adv - x, 2.0)
        iterations = torch.zeros_like(oracle.queries)
        for t in itertools.count(1):
            evals = min(int(init_evals * math.sqrt(t)), max_evals)
            worst = evals + 2 * search_steps  # probes + step search (at most search_steps) + bisection
            rows = (found & ~done & (oracle.queries + worst <= max_queries)).nonzero().squeeze(1)
            if rows.numel() == 0:
                break
            iterations[rows] += 1
            # Sec. 4.1: the boundary's normal at x_t from the labels of random probes around it
            delta = (math.sqrt(d) * theta * dist[rows] if t > 1
                     else torch.full_like(dist[rows], 0.1 * (clip_max - clip_min)))
            normal = _estimate_normal(oracle, rows, x_adv[rows], delta, evals, clip_min, clip_max, generator)
            # Sec. 4.2: step ‖x_t − x‖/sqrt(t) along the normal, halved until still adversarial
            step = _geometric_step(oracle, rows, x_adv[rows], normal, dist[rows] / math.sqrt(t), search_steps,
                                   clip_min, clip_max)
            moved = _core.clip(x_adv[rows] + step[:, None, None, None] * normal, clip_min, clip_max)
            x_adv[rows] = _boundary(oracle, rows, x[rows], moved, search_steps)  # back to the boundary
            dist[rows] = _core.per_sample_norm(x_adv[rows] - x[rows], 2.0)
        if not return_info:
            return x_adv
        return x_adv, _blackbox.query_info(model, x, x_adv, y, oracle.queries, iterations, targeted)


hopskipjump = shared_attack_checks(hopskipjump)  # flags must be bools; an L∞ budget must fit the pixel box


class _Oracle:
    """φ(x) in the paper: is each image adversarial? Counts the queries of each sample."""

    def __init__(self, model: nn.Module, y: Tensor | None, targeted: bool, queries: Tensor):
        self.model, self.y, self.targeted, self.queries = model, y, targeted, queries

    def __call__(self, rows: Tensor, images: Tensor, per_row: int = 1) -> Tensor:
        """``images`` (len(rows)·per_row, C, H, W), grouped by sample; returns bool (len(rows)·per_row,)."""
        pred = _core.logits_of(self.model, images).argmax(1)
        self.queries.index_add_(0, rows, torch.full_like(rows, per_row))
        labels = self.y[rows].repeat_interleave(per_row)
        return pred == labels if self.targeted else pred != labels


def _start(oracle: _Oracle, x: Tensor, x_init: Tensor | None, done: Tensor, tries: int, max_queries: int,
           clip_min: float, clip_max: float, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
    """An adversarial starting point per sample: ``x_init`` where given and adversarial, else the first
    of up to ``tries`` uniform-noise images that is (Sec. 4.4). Returns ``(start, found)``."""
    start, found = x.clone(), done.clone()
    if x_init is not None:
        rows = (~done & (oracle.queries < max_queries)).nonzero().squeeze(1)
        if rows.numel():
            ok = oracle(rows, x_init[rows])
            start[rows[ok]], found[rows[ok]] = x_init[rows[ok]], True
        return start, found
    for _ in range(tries):
        rows = (~found & (oracle.queries < max_queries)).nonzero().squeeze(1)
        if rows.numel() == 0:
            break
        noise = clip_min + (clip_max - clip_min) * _core._rand(x[rows].shape, x, generator)
        ok = oracle(rows, noise)
        start[rows[ok]], found[rows[ok]] = noise[ok], True
    return start, found


def _boundary(oracle: _Oracle, rows: Tensor, x: Tensor, x_out: Tensor, steps: int) -> Tensor:
    """Bisection on the segment from ``x`` (clean) to ``x_out`` (adversarial): the adversarial point
    closest to the boundary after ``steps`` halvings (one query per sample per halving)."""
    low = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)  # blend weight of x_out: clean side
    high = torch.ones_like(low)  # adversarial side
    for _ in range(steps):
        mid = (low + high) / 2
        adversarial = oracle(rows, _blend(x, x_out, mid))
        high = torch.where(adversarial, mid, high)
        low = torch.where(adversarial, low, mid)
    return _blend(x, x_out, high)


def _blend(x: Tensor, x_out: Tensor, alpha: Tensor) -> Tensor:
    a = alpha[:, None, None, None]
    return (1 - a) * x + a * x_out


def _estimate_normal(oracle: _Oracle, rows: Tensor, x_b: Tensor, delta: Tensor, evals: int, clip_min: float,
                     clip_max: float, generator: torch.Generator | None) -> Tensor:
    """Monte Carlo estimate of the boundary's unit normal at ``x_b`` (Eq. 12-13, with the baseline)."""
    m = x_b.shape[0]
    u = _core._rand(torch.Size([m, evals, *x_b.shape[1:]]), x_b, generator, normal=True)
    u = u / _core.per_sample_norm(u.flatten(0, 1), 2.0).view(m, evals, *[1] * (x_b.dim() - 1))
    probes = _core.clip(x_b[:, None] + delta.view(m, 1, *[1] * (x_b.dim() - 1)) * u, clip_min, clip_max)
    u = (probes - x_b[:, None]) / delta.view(m, 1, *[1] * (x_b.dim() - 1))
    phi = oracle(rows, probes.flatten(0, 1), per_row=evals).view(m, evals).to(x_b.dtype) * 2 - 1
    mean = phi.mean(1, keepdim=True)
    centred = torch.where((mean.abs() == 1), phi, phi - mean)  # baseline unless all probes agree
    g = (centred.view(m, evals, *[1] * (x_b.dim() - 1)) * u).mean(1)
    return _core.direction(g, 2.0)


def _geometric_step(oracle: _Oracle, rows: Tensor, x_b: Tensor, normal: Tensor, step: Tensor, halvings: int,
                    clip_min: float, clip_max: float) -> Tensor:
    """Largest ``step · 2^-k`` (k < ``halvings``) at which ``x_b + step·normal`` is adversarial; 0 if none."""
    chosen = torch.zeros_like(step)
    going = torch.ones_like(step, dtype=torch.bool)
    for _ in range(halvings):
        idx = going.nonzero().squeeze(1)
        if idx.numel() == 0:
            break
        ok = oracle(rows[idx], _core.clip(x_b[idx] + step[idx, None, None, None] * normal[idx], clip_min, clip_max))
        chosen[idx[ok]] = step[idx[ok]]
        going[idx[ok]] = False
        step = torch.where(going, step / 2, step)
    return chosen
