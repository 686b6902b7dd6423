"""DeepFool: the smallest L2 step to the closest linearised decision boundary. Taught in 07_deepfool."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from advcourse.attacks import _core
from advcourse.attacks._core import AttackInfo
from advcourse.core.checks import shared_attack_checks

__all__ = ["deepfool"]

#: Shortest step (L2, as a fraction of the box width). A walk that ends exactly on a boundary, a tie
#: of two logits in float32, would otherwise take zero steps until max_iter (foolbox adds 1e-4 too).
_MIN_STEP = 1e-4


def deepfool(model: nn.Module, x: Tensor, y: Tensor | None = None, *, num_classes: int | None = None,
             overshoot: float = 0.02, max_iter: int = 50, clip_min: float = 0.0, clip_max: float = 1.0,
             return_info: bool = False) -> Tensor | tuple[Tensor, AttackInfo]:
    """Walk to the nearest boundary of the classifier's local linearisation until the label flips.

    Paper: Moosavi-Dezfooli, Fawzi & Frossard, 2016, "DeepFool: a simple and accurate method to fool
        deep neural networks", CVPR, arXiv:1511.04599 (Algorithm 2, multi-class, L2). Defaults
        (``num_classes=10``, ``overshoot=0.02``, ``max_iter=50``) are the authors' reference code's.

    Threat model: white box, minimal L2 perturbation, untargeted; no budget: the attack returns the
        first point it finds past the boundary, times ``1 + overshoot``.

    Each iteration, for every sample still correctly classified (Alg. 2, lines 3-10)::

        w'_k = ∇f_k(x_i) − ∇f_y(x_i),   f'_k = f_k(x_i) − f_y(x_i)      for the candidates k ≠ y
        l    = argmin_k |f'_k| / ‖w'_k‖₂                                 closest linearised boundary
        r_i  = |f'_l| / ‖w'_l‖₂² · w'_l,   r = Σ r_i,   x_{i+1} = clip(x + (1 + overshoot) · r)

    Candidates are the ``num_classes`` highest logits at ``x`` (``y`` first). Batched: one forward
    pass per iteration for the samples still going, and one backward pass per candidate class for
    all of them at once (gradients to the input only); finished samples leave the batch.

    Args:
        model: ``nn.Module`` mapping (N, C, H, W) pixels in [clip_min, clip_max] to (N, K) logits.
        x: (N, C, H, W) float tensor on the model's device, pixels in [clip_min, clip_max].
        y: (N,) int64 true labels; ``None`` = the model's predictions. A sample the model already
            gets wrong is returned unchanged (0 iterations, success).
        num_classes: how many top classes to consider, 2 to K. ``None`` (default): 10, the paper's
            choice on ImageNet, or K if the model has fewer classes; use K for exact results on
            small problems. More than the model's K classes is an error.
        overshoot: >= 0; the total perturbation is scaled by ``1 + overshoot`` to cross the boundary.
        max_iter: >= 0 iterations per sample.
        clip_min, clip_max: valid pixel box (default [0, 1]); every iterate is clipped into it.
        return_info: also return per-sample :class:`~advcourse.attacks._core.AttackInfo`
            (free: the last forward pass already gives the final predictions, except after
            ``max_iter``).

    Returns:
        ``x_adv``: new detached tensor like ``x``, inside [clip_min, clip_max]; misclassified unless
        the sample ran out of ``max_iter``. With ``return_info``: ``(x_adv, info)``.

    Notes:
        Every iterate is clipped into the box, so near its edges the walk creeps towards a boundary
        and can end exactly on it (two logits tied in float); each step is therefore at least
        ``1e-4 * (clip_max - clip_min)`` long in L2, which carries it across. The model's train/eval mode and ``requires_grad`` flags are restored, even if
        this raises.

    Example:
        >>> x_adv = deepfool(model, x, y, num_classes=10, overshoot=0.02)
    """
    _core.check_model(model)
    clip_min, clip_max = _core.check_clip(clip_min, clip_max)
    _core.check_images(x, clip_min, clip_max)
    if num_classes is not None:
        num_classes = _core.check_count(num_classes, "num_classes", minimum=2)
    overshoot = _core.check_nonnegative(overshoot, "overshoot")
    max_iter = _core.check_count(max_iter, "max_iter")
    y = _core.check_labels(y, x)
    x = x.detach()
    n = x.shape[0]
    min_step = _MIN_STEP * (clip_max - clip_min)
    with _core.frozen(model, x):
        x_adv, r_tot = x.clone(), torch.zeros_like(x)
        rows = torch.arange(n, device=x.device)  # samples still correctly classified
        iterations = torch.zeros(n, dtype=torch.long, device=x.device)
        pred = torch.empty(n, dtype=torch.long, device=x.device)
        cand: Tensor | None = None
        for it in range(max_iter + 1):
            x_in = x_adv[rows].requires_grad_(True)
            logits = _core.logits_of(model, x_in, y)
            if cand is None:  # line 1: labels and the candidate classes, y first
                y = logits.argmax(1).detach() if y is None else y
                cand = _candidates(logits.detach(), y, _top_classes(num_classes, logits.shape[1]))
            pred[rows] = logits.argmax(1).detach()
            going = (pred[rows] == y[rows]).nonzero().squeeze(1)  # line 3: while k̂(x_i) = k̂(x_0)
            if going.numel() == 0 or it == max_iter:
                break
            rows = rows[going]
            c = cand[rows]
            f_diff = (logits[going].gather(1, c[:, 1:]) - logits[going].gather(1, c[:, :1])).detach()  # f'_k
            w_diff = _boundary_normals(logits, x_in, going, c)  # w'_k: (m, k-1, C, H, W)
            w_norm = w_diff.flatten(2).norm(dim=2).clamp_min(1e-12)
            dist = f_diff.abs() / w_norm  # line 6: distance to each linearised boundary
            l = dist.argmin(1, keepdim=True)
            step = dist.gather(1, l).clamp_min(min_step)  # ‖r_i‖₂, never a zero step on a float tie
            scale = (step / w_norm.gather(1, l)).view(-1, *([1] * (x.dim() - 1)))
            r_tot[rows] += scale * w_diff[torch.arange(rows.numel(), device=x.device), l.squeeze(1)]  # line 8
            x_adv[rows] = _core.clip(x[rows] + (1 + overshoot) * r_tot[rows], clip_min, clip_max)
            iterations[rows] += 1
        if not return_info:
            return x_adv
        if it == max_iter and rows.numel():  # out of iterations: predictions after the last step
            with torch.no_grad():
                pred[rows] = _core.logits_of(model, x_adv[rows]).argmax(1)
        delta = x_adv - x
        return x_adv, AttackInfo(success=pred != y, iterations=iterations, l2=_core.per_sample_norm(delta, 2.0),
                                 linf=_core.per_sample_norm(delta, _core.INF), y=y, pred=pred)


deepfool = shared_attack_checks(deepfool)  # flags must be bools; an L∞ budget must fit the pixel box


def _top_classes(num_classes: int | None, k: int) -> int:
    """How many classes to consider: ``num_classes``, or the default 10 capped at the model's ``k``."""
    if num_classes is None:
        return min(10, k)
    if num_classes > k:
        raise ValueError(f"num_classes: expected at most the model's {k} classes, got {num_classes}")
    return num_classes


def _candidates(logits: Tensor, y: Tensor, num_classes: int) -> Tensor:
    """(N, k) class indices: ``y`` first, then the k−1 other classes with the highest logits."""
    k = min(num_classes, logits.shape[1])
    score = logits.clone()
    score[torch.arange(len(y), device=y.device), y] = float("inf")
    return score.topk(k, dim=1).indices


def _boundary_normals(logits: Tensor, x_in: Tensor, going: Tensor, c: Tensor) -> Tensor:
    """∇(f_k − f_y) w.r.t. the input for each candidate k ≠ y of the rows ``going``: (m, k−1, C, H, W).

    One backward pass per candidate serves every sample at once: the logits of different samples do
    not interact (eval mode), so the gradient of a sum over the batch holds each sample's gradient.
    """
    m, k = c.shape
    seeds = torch.zeros(k - 1, *logits.shape, dtype=logits.dtype, device=logits.device)
    j = torch.arange(k - 1, device=c.device).view(-1, 1)
    seeds[j, going.view(1, -1), c[:, 1:].T] = 1.0
    seeds[j, going.view(1, -1), c[:, :1].T] = -1.0
    every_row = m == x_in.shape[0]  # the usual case: no row finished at this iteration's forward
    normals = x_in.new_empty(m, k - 1, *x_in.shape[1:])
    for i, seed in enumerate(seeds):
        grad = torch.autograd.grad(logits, x_in, seed, retain_graph=i < k - 2)[0]
        normals[:, i] = grad if every_row else grad[going]
    return normals
