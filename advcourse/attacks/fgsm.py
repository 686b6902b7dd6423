"""Fast Gradient Sign Method and its targeted twin T-FGSM. Taught in 05_fgsm."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from advcourse.attacks import _core
from advcourse.attacks._core import AttackInfo
from advcourse.core.checks import shared_attack_checks

__all__ = ["fgsm"]


def fgsm(model: nn.Module, x: Tensor, y: Tensor | None = None, *, eps: float, norm: float = _core.INF,
         targeted: bool = False, clip_min: float = 0.0, clip_max: float = 1.0,
         return_info: bool = False) -> Tensor | tuple[Tensor, AttackInfo]:
    """One gradient step on the cross-entropy: ``x_adv = clip(x + eps * sign(∇x L(f(x), y)))``.

    Paper: Goodfellow, Shlens & Szegedy, 2015, "Explaining and Harnessing Adversarial Examples",
        arXiv:1412.6572 (Eq. 3). T-FGSM (``targeted=True``): Kurakin, Goodfellow & Bengio, 2017,
        "Adversarial examples in the physical world", arXiv:1607.02533 (Sec. 2.2): step *down* the
        loss of the target class, ``x - eps * sign(∇x L(f(x), y_target))``.

    Threat model: white box (one gradient); budget ``eps`` in the chosen norm, in pixel units.
        L∞ steps by the gradient's sign; L2 / L1 by the gradient normalised per sample,
        ``x + eps * g / ‖g‖ₚ``.

    Args:
        model: ``nn.Module`` mapping (N, C, H, W) pixels in [clip_min, clip_max] to (N, K) logits.
        x: (N, C, H, W) float tensor on the model's device, pixels in [clip_min, clip_max].
        y: (N,) int64. Untargeted: true labels (``None`` = the model's predictions on ``x``).
            Targeted: the target classes (required).
        eps: step size / budget >= 0, e.g. ``8/255`` for L∞.
        norm: ``float("inf")`` (default), ``2`` or ``1``.
        targeted: T-FGSM, walk towards the classes ``y``.
        clip_min, clip_max: valid pixel box (default [0, 1]).
        return_info: also return per-sample :class:`~advcourse.attacks._core.AttackInfo`
            (costs one extra forward pass).

    Returns:
        ``x_adv``: new detached tensor like ``x``, inside [clip_min, clip_max], ``‖x_adv − x‖ₚ <= eps``;
        ``eps = 0`` returns ``x`` unchanged. With ``return_info``: ``(x_adv, info)``.

    Notes:
        One forward and one backward pass to the input (parameters are never differentiated). The
        model's train/eval mode and ``requires_grad`` flags are restored, even if this raises.

    Example:
        >>> x_adv = fgsm(model, x, y, eps=4/255)
    """
    _core.check_model(model)
    clip_min, clip_max = _core.check_clip(clip_min, clip_max)
    _core.check_images(x, clip_min, clip_max)
    eps = _core.check_nonnegative(eps, "eps")
    norm = _core.check_norm(norm, (_core.INF, 2.0, 1.0))
    y = _core.check_labels(y, x, targeted=targeted)
    x = x.detach()
    with _core.frozen(model, x):
        x_in = x.clone().requires_grad_(True)
        logits = _core.logits_of(model, x_in, y)
        y = logits.argmax(1).detach() if y is None else y  # y=None: the prediction at x itself
        grad = _core.input_grad(_core.loss(logits, y, targeted), x_in)  # ∇x J(θ, x, y), Eq. 3
        x_adv = _core.clip(x + eps * _core.direction(grad, norm), clip_min, clip_max)
        if not return_info:
            return x_adv
        return x_adv, _core.make_info(model, x, x_adv, y, torch.ones_like(y), targeted)


fgsm = shared_attack_checks(fgsm)  # flags must be bools; an L∞ budget must fit the pixel box
