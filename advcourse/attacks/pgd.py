"""Projected Gradient Descent (Madry et al.) and I-FGSM / BIM (Kurakin et al.). Taught in 06_pgd."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from advcourse.attacks import _core
from advcourse.attacks._core import AttackInfo
from advcourse.core.checks import shared_attack_checks

__all__ = ["pgd", "pgd_step"]


def pgd(model: nn.Module, x: Tensor, y: Tensor | None = None, *, eps: float, step_size: float, steps: int,
        norm: float = _core.INF, random_start: bool = True, targeted: bool = False, early_stop: bool = False,
        clip_min: float = 0.0, clip_max: float = 1.0, generator: torch.Generator | None = None,
        return_info: bool = False) -> Tensor | tuple[Tensor, AttackInfo]:
    """Iterate ``x ← clip(Π_eps(x + step_size * dir(∇x L)))`` for ``steps`` steps.

    Paper: Madry, Makelov, Schmidt, Tsipras & Vladu, 2018, "Towards Deep Learning Models Resistant
        to Adversarial Attacks", arXiv:1706.06083 (Eq. 2; random start, Sec. 3). With
        ``random_start=False, early_stop=True`` it is I-FGSM / BIM of Kurakin, Goodfellow & Bengio,
        2017, "Adversarial examples in the physical world", arXiv:1607.02533 (Sec. 2.1).
        The Madry et al. CIFAR-10 setting is ``eps=8/255, step_size=2/255, steps=7`` (L∞).

    Threat model: white box; ‖x_adv − x‖ₚ <= eps for p = ∞ or 2, in pixel units.

    Args:
        model: ``nn.Module`` mapping (N, C, H, W) pixels in [clip_min, clip_max] to (N, K) logits.
        x: (N, C, H, W) float tensor on the model's device, pixels in [clip_min, clip_max].
        y: (N,) int64. Untargeted: true labels (``None`` = the model's predictions on ``x``,
            one extra forward). Targeted: the target classes (required).
        eps: radius of the ball >= 0, e.g. ``8/255`` (L∞) or ``0.5`` (L2).
        step_size: size of each step >= 0 (``2/255`` is common for L∞).
        steps: number of gradient steps >= 0.
        norm: ``float("inf")`` (sign steps, clamp projection) or ``2`` (normalised steps, rescaling).
        random_start: start from a uniformly random point of the ball instead of ``x``.
        targeted: walk towards the classes ``y`` (down their loss).
        early_stop: freeze each sample as soon as it is misclassified (untargeted) or reaches its
            target (targeted); finished samples leave the batch, so later steps cost less.
        clip_min, clip_max: valid pixel box (default [0, 1]).
        generator: ``torch.Generator`` for the random start (reproducible; drawn on its device).
        return_info: also return per-sample :class:`~advcourse.attacks._core.AttackInfo`
            (costs one extra forward pass).

    Returns:
        ``x_adv``: new detached tensor like ``x``, inside [clip_min, clip_max], ``‖x_adv − x‖ₚ <= eps``
        (up to float rounding for L2); ``eps = 0`` returns ``x``. With ``return_info``: ``(x_adv, info)``.

    Notes:
        Each step is one forward and one backward pass to the input; no graph outlives a step. The
        model's train/eval mode and ``requires_grad`` flags are restored, even if this raises.

    Example:
        >>> x_adv = pgd(model, x, y, eps=8/255, step_size=2/255, steps=10)
    """
    clip_min, clip_max, eps, step_size, steps = _core.check_iterative(model, x, clip_min, clip_max, eps, step_size,
                                                                      steps)
    norm = _core.check_norm(norm, (_core.INF, 2.0))
    y = _core.check_labels(y, x, targeted=targeted)
    _core.check_generator(generator)
    x = x.detach()
    with _core.frozen(model, x):
        y = _core.resolve_labels(model, x, y)
        x_adv = _core.random_start(x, eps, norm, clip_min, clip_max, generator) if random_start else x.clone()
        rows = torch.arange(x.shape[0], device=x.device)  # samples still being attacked
        iterations = torch.zeros_like(y)
        for _ in range(steps):
            x_in = x_adv[rows].requires_grad_(True)
            logits = _core.logits_of(model, x_in, y[rows])
            going: slice | Tensor = slice(None)
            if early_stop:  # Kurakin et al.: a sample stops once misclassified / on target
                going = (~_core.is_success(logits, y[rows], targeted)).nonzero().squeeze(1)
                if going.numel() == 0:
                    break
            grad = _core.input_grad(_core.loss(logits[going], y[rows][going], targeted), x_in)[going]
            rows = rows[going]
            x_adv[rows] = pgd_step(x[rows], x_in.detach()[going], grad, step_size, eps, norm, clip_min, clip_max)
            iterations[rows] += 1
        if not return_info:
            return x_adv
        return x_adv, _core.make_info(model, x, x_adv, y, iterations, targeted)


pgd = shared_attack_checks(pgd)  # flags must be bools; an L∞ budget must fit the pixel box


def pgd_step(x: Tensor, x_adv: Tensor, grad: Tensor, step_size: float, eps: float, norm: float,
             clip_min: float, clip_max: float) -> Tensor:
    """One PGD update: ascend along ``grad``, project onto the eps-ball around ``x``, clip to the box.

    ``x``, ``x_adv``, ``grad``: (N, C, H, W), the clean images, the current iterate and the loss
    gradient at it (to be ascended; pass ``-grad`` to descend). Returns the next iterate, (N, C, H, W),
    with ‖x_next − x‖ₚ <= eps (p = ``norm``, ∞ or 2) and pixels in [clip_min, clip_max].
    """
    x_adv = x_adv + step_size * _core.direction(grad, norm)  # ascent step, Madry et al. Eq. 2
    delta = _core.project(x_adv - x, eps, norm)  # Π onto the eps-ball around x
    return _core.clip(x + delta, clip_min, clip_max)  # and back into the pixel box
