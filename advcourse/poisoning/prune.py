"""Removing a backdoor: fine-pruning (Liu, Dolan-Gavitt & Garg 2018).

Taught in 12_poisoning. A backdoor tends to live in units that clean inputs leave quiet: the
trigger switches them on. Fine-pruning removes the last convolution's channels that are least
active on clean data the defender holds, then fine-tunes briefly on that data so the remaining
units recover the task. Pruning uses :mod:`torch.nn.utils.prune` (a mask the fine-tuning cannot
undo); training uses the course's loop (:func:`advcourse.defences.train`).
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn
from torch.nn.utils import prune

from advcourse.core import checks
from advcourse.defences.training import train
from advcourse.models.datasets import make_loader
from advcourse.poisoning.detect import _check_xy

__all__ = ["channel_activity", "fine_prune"]


def _last_conv(model: nn.Module) -> nn.Conv2d:
    layers = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    if not layers:
        raise ValueError("model: expected a network with an nn.Conv2d layer to prune")
    return layers[-1]


def channel_activity(model: nn.Module, x: Tensor) -> Tensor:
    """Mean activation (after ReLU) of each output channel of ``model``'s last ``nn.Conv2d`` on ``x``.

    Returns (channels,) float on ``x``'s device; the model is left exactly as found.
    """
    checks.check_model(model)
    checks.check_images(x)
    sums: list[Tensor] = []
    hook = _last_conv(model).register_forward_hook(lambda m, a, out: sums.append(out.detach().relu().mean((0, 2, 3))))
    try:
        with checks.frozen(model, x), torch.no_grad():
            model(x)
    finally:
        hook.remove()
    return sums[0]


def fine_prune(model: nn.Module, x_clean: Tensor, y_clean: Tensor, *, fraction: float = 0.5, epochs: int = 2,
               lr: float = 1e-3, seed: int = 0) -> nn.Module:
    """A pruned and fine-tuned *copy* of ``model`` (the original is left exactly as found).

    Paper: Liu, Dolan-Gavitt & Garg, 2018, "Fine-Pruning: Defending Against Backdooring Attacks on
        Deep Neural Networks", RAID (pruning, then fine-tuning).

    Args:
        model: the (possibly backdoored) network; its last ``nn.Conv2d`` is pruned.
        x_clean: (M, C, H, W) clean images the defender trusts, in [0, 1]; y_clean: (M,) their labels.
        fraction: share of that layer's channels to prune, in [0, 1), the least active on ``x_clean``
            first (the paper prunes until clean accuracy starts to fall).
        epochs: fine-tuning passes over the clean data (>= 0); lr: Adam's learning rate (> 0).
        seed: seed of the fine-tuning's shuffle.

    Returns:
        the copy, in eval mode, with the pruned channels' weights and biases zero for good.
    """
    y_clean = _check_xy(model, x_clean, y_clean)
    fraction = checks.check_nonnegative(fraction, "fraction")
    if fraction >= 1:
        raise ValueError(f"fraction: expected a share of the channels in [0, 1), got {fraction:g}")
    epochs = checks.check_count(epochs, "epochs")
    lr = checks.check_positive(lr, "lr")
    seed = checks.check_count(seed, "seed")
    activity = channel_activity(model, x_clean)
    pruned = copy.deepcopy(model)
    layer = _last_conv(pruned)
    keep = torch.ones_like(activity)
    keep[activity.argsort()[:round(fraction * len(activity))]] = 0.0
    prune.custom_from_mask(layer, "weight", keep.view(-1, 1, 1, 1).expand_as(layer.weight))
    if layer.bias is not None:
        prune.custom_from_mask(layer, "bias", keep)
    if epochs:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            train(pruned, make_loader(x_clean, y_clean, batch_size=32, seed=seed), epochs=epochs, lr=lr,
                  progress=False)
    prune.remove(layer, "weight")
    if layer.bias is not None:
        prune.remove(layer, "bias")
    for p in pruned.parameters():
        p.grad = None
    return pruned.eval()
