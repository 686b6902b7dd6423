"""Momentum iterative FGSM (Dong et al.) with optional input diversity (Xie et al.). Taught in 09_black_box.

Built to *transfer*: the examples are crafted on a surrogate model the attacker owns, then shown to a
victim they never queried. Momentum smooths the step direction over iterations, so the attack climbs
the loss the surrogate and the victim share instead of the surrogate's own sharp corners; input
diversity computes each gradient through a random resize and pad of the image (the same transform as
08_defences' :class:`~advcourse.core.transforms.RandomResizePad`), so the perturbation cannot
lean on one pixel grid.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from advcourse.attacks import _core
from advcourse.attacks._blackbox import check_probability
from advcourse.attacks._core import AttackInfo
from advcourse.core.checks import shared_attack_checks
from advcourse.core.transforms import RandomResizePad

__all__ = ["mifgsm"]


def mifgsm(model: nn.Module, x: Tensor, y: Tensor | None = None, *, eps: float, step_size: float, steps: int,
           decay: float = 1.0, diversity_prob: float = 0.0, targeted: bool = False, clip_min: float = 0.0,
           clip_max: float = 1.0, generator: torch.Generator | None = None,
           return_info: bool = False) -> Tensor | tuple[Tensor, AttackInfo]:
    """Iterate ``g ← decay·g + ∇/‖∇‖₁``, ``x ← clip(Π_eps(x + step_size·sign(g)))`` (L∞).

    Paper: Dong, Liao, Pang, Su, Zhu, Hu & Li, 2018, "Boosting Adversarial Attacks with Momentum",
        arXiv:1710.06081 (Algorithm 1; Eq. 6-7; their setting ``eps=16/255``, ``steps=10``,
        ``step_size=eps/steps``, ``decay=1.0``). Input diversity (DI²-FGSM, ``diversity_prob > 0``):
        Xie, Zhang, Zhou, Bai, Wang, Ren & Yuille, 2019, "Improving Transferability of Adversarial
        Examples with Input Diversity", arXiv:1803.06978 (Eq. 5-6; they use ``diversity_prob=0.5``).

    Threat model: white box on the surrogate ``model``; meant as a black-box (transfer) attack on
        other models. ‖x_adv − x‖∞ <= eps, in pixel units.

    Args:
        model: the surrogate, ``nn.Module`` mapping (N, C, H, W) pixels in [clip_min, clip_max] to
            (N, K) logits. With ``diversity_prob > 0`` it must accept larger square inputs (networks
            ending in global pooling do), and ``clip_min, clip_max`` must be the [0, 1] default.
        x: (N, C, H, W) float tensor on the model's device, pixels in [clip_min, clip_max].
        y: (N,) int64. Untargeted: true labels (``None`` = the surrogate's predictions on ``x``).
            Targeted: the target classes (required).
        eps: L∞ budget >= 0, e.g. ``16/255``.
        step_size: size of each sign step >= 0 (the paper: ``eps / steps``).
        steps: number of gradient steps >= 0.
        decay: momentum factor μ >= 0; ``0`` gives I-FGSM (no memory), ``1`` the paper's choice.
        diversity_prob: probability in [0, 1] that a sample's gradient at a step is taken through a
            random resize and pad (input diversity); ``0`` is plain MI-FGSM.
        targeted: walk towards the classes ``y`` (down their loss).
        clip_min, clip_max: valid pixel box (default [0, 1]).
        generator: ``torch.Generator`` for the diversity draws (reproducible; drawn on its device).
        return_info: also return per-sample :class:`~advcourse.attacks._core.AttackInfo` on the
            surrogate (costs one extra forward pass).

    Returns:
        ``x_adv``: new detached tensor like ``x``, inside [clip_min, clip_max], ‖x_adv − x‖∞ <= eps;
        ``eps = 0`` returns ``x``. With ``return_info``: ``(x_adv, info)``.

    Notes:
        Each step is one forward and one backward pass to the input (two smaller ones when some
        samples are transformed and others are not). The model's train/eval mode and
        ``requires_grad`` flags are restored, even if this raises.

    Example:
        >>> x_adv = mifgsm(surrogate, x, y, eps=8/255, step_size=0.8/255, steps=10, diversity_prob=0.5)
    """

    clip_min, clip_max, eps, step_size, steps = _core.check_iterative(model, x, clip_min, clip_max, eps, step_size,
                                                                      steps)
    decay = _core.check_nonnegative(decay, "decay")
    diversity_prob = check_probability(diversity_prob, "diversity_prob")
    if diversity_prob > 0 and (clip_min, clip_max) != (0.0, 1.0):
        raise ValueError("diversity_prob: input diversity works on [0, 1] pixels; keep clip_min=0, clip_max=1")
    y = _core.check_labels(y, x, targeted=targeted)
    _core.check_generator(generator)
    x = x.detach()
    diverse = RandomResizePad(model, generator=generator)
    with _core.frozen(model, x):
        y = _core.resolve_labels(model, x, y)
        x_adv, g = x.clone(), torch.zeros_like(x)
        for _ in range(steps):
            x_in = x_adv.clone().requires_grad_(True)
            grad = _core.input_grad(_diverse_loss(model, diverse, x_in, y, diversity_prob, targeted, generator), x_in)
            g = decay * g + grad / _core.per_sample_norm(grad, 1.0).clamp_min(1e-12).view(-1, 1, 1, 1)  # Eq. 6
            x_adv = _core.clip(x + _core.project(x_adv + step_size * g.sign() - x, eps, _core.INF), clip_min, clip_max)
        if not return_info:
            return x_adv
        return x_adv, _core.make_info(model, x, x_adv, y, torch.full_like(y, steps), targeted)


mifgsm = shared_attack_checks(mifgsm)  # flags must be bools; an L∞ budget must fit the pixel box


def _diverse_loss(model: nn.Module, diverse: nn.Module, x: Tensor, y: Tensor, prob: float, targeted: bool,
                  generator: torch.Generator | None) -> Tensor:
    """Summed loss where each sample, with probability ``prob``, goes through ``diverse`` (Xie et al. Eq. 6)."""
    if prob == 0:
        return _core.loss(_core.logits_of(model, x, y), y, targeted)
    draw = torch.rand(x.shape[0], generator=generator, device=generator.device if generator is not None else "cpu")
    picked = (draw < prob).to(x.device)
    total = x.new_zeros(())
    for rows, net in ((picked, diverse), (~picked, model)):
        if rows.any():
            total = total + _core.loss(_core.logits_of(net, x[rows], y[rows]), y[rows], targeted)
    return total
