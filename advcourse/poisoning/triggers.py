"""Backdoor triggers: the "key" an attacker plants in the training data and shows at test time.

Taught in 12_poisoning. A trigger is a pattern and a mask of the image's size: :func:`add_trigger`
mixes them in as ``x' = (1 − mask)·x + mask·pattern``. A mask of ones on a few pixels pastes a patch
(BadNets, Gu et al. 2017); a small constant mask over the whole image blends a faint pattern in
(Chen et al. 2017). Both are plain tensors, so a trigger moves to any device with ``x``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from advcourse.core import checks
from advcourse.core.formatting import rounded_repr

__all__ = ["Trigger", "badnets_trigger", "blended_trigger", "add_trigger"]

_CORNERS = ("bottom-right", "bottom-left", "top-right", "top-left")


@dataclass(frozen=True)
class Trigger:
    """A backdoor trigger for (C, H, W) images.

    Attributes:
        name: what it is, for tables and titles (e.g. ``"BadNets 3×3"``).
        pattern: (C, H, W) pixels in [0, 1] that the trigger pastes or blends in.
        mask: (1, H, W) weights in [0, 1]: 1 replaces the pixel by the pattern, 0 leaves it,
            anything between blends.
    """

    __repr__ = rounded_repr

    name: str
    pattern: Tensor
    mask: Tensor


def _size(value: object, name: str) -> int:
    return checks.check_count(value, name, minimum=1)


def badnets_trigger(size: int = 3, *, image_size: int = 8, channels: int = 1,
                    corner: str = "bottom-right") -> Trigger:
    """A BadNets patch: a ``size`` × ``size`` checkerboard of white and black pixels in one corner.

    Paper: Gu, Dolan-Gavitt & Garg, 2017, "BadNets: Identifying Vulnerabilities in the Machine
        Learning Model Supply Chain", arXiv:1708.06733 (a small pixel pattern in a corner).

    Args:
        size: side of the patch in pixels, 1 to ``image_size``.
        image_size: side of the (square) images it is for (8 for the digits).
        channels: colour channels of those images (1 for the digits).
        corner: ``"bottom-right"`` (default), ``"bottom-left"``, ``"top-right"`` or ``"top-left"``.
    """
    image_size, channels, size = _size(image_size, "image_size"), _size(channels, "channels"), _size(size, "size")
    if size > image_size:
        raise ValueError(f"size: expected at most image_size = {image_size}, got {size}")
    if corner not in _CORNERS:
        raise ValueError(f"corner: expected one of {', '.join(map(repr, _CORNERS))}, got {corner!r}")
    top = 0 if corner.startswith("top") else image_size - size
    left = 0 if corner.endswith("left") else image_size - size
    board = (torch.arange(size).view(-1, 1) + torch.arange(size).view(1, -1) + 1) % 2  # white in the corner pixel
    pattern = torch.zeros(channels, image_size, image_size)
    mask = torch.zeros(1, image_size, image_size)
    pattern[:, top:top + size, left:left + size] = board.float()
    mask[:, top:top + size, left:left + size] = 1.0
    return Trigger(f"BadNets {size}×{size}", pattern, mask)


def blended_trigger(alpha: float = 0.1, *, image_size: int = 8, channels: int = 1, seed: int = 0) -> Trigger:
    """A blended trigger: a fixed random pattern over the whole image, mixed in at ``alpha``.

    Paper: Chen, Liu, Li, Lu & Song, 2017, "Targeted Backdoor Attacks on Deep Learning Systems
        Using Data Poisoning", arXiv:1712.05526 (blended injection; their key is a random-noise
        pattern or a picture).

    Args:
        alpha: blend weight in (0, 1]: ``x' = (1 − alpha)·x + alpha·pattern`` on every pixel.
        image_size, channels: as :func:`badnets_trigger`.
        seed: seed of the pattern (uniform noise in [0, 1]); the same seed gives the same key.
    """
    alpha = checks.check_positive(alpha, "alpha")
    if alpha > 1:
        raise ValueError(f"alpha: expected a blend weight in (0, 1], got {alpha:g}")
    image_size, channels = _size(image_size, "image_size"), _size(channels, "channels")
    seed = checks.check_count(seed, "seed")
    pattern = torch.rand(channels, image_size, image_size, generator=torch.Generator().manual_seed(seed))
    return Trigger(f"blended (alpha {alpha:g})", pattern, torch.full((1, image_size, image_size), alpha))


def add_trigger(x: Tensor, trigger: Trigger) -> Tensor:
    """``x`` with ``trigger`` stamped on every image: ``(1 − mask)·x + mask·pattern``.

    Args:
        x: (N, C, H, W) float images in [0, 1].
        trigger: a :class:`Trigger` made for (C, H, W) images.

    Returns:
        a new (N, C, H, W) tensor in [0, 1], same dtype and device as ``x``.
    """
    checks.check_images(x)
    checks.check_instance(trigger, Trigger, "trigger", "made by badnets_trigger() or blended_trigger()")
    if tuple(trigger.pattern.shape) != tuple(x.shape[1:]):
        raise ValueError(f"trigger: made for images of shape {tuple(trigger.pattern.shape)}, got x of shape "
                         f"{tuple(x.shape[1:])} per image; build it with image_size/channels to match")
    mask = trigger.mask.to(device=x.device, dtype=x.dtype)
    pattern = trigger.pattern.to(device=x.device, dtype=x.dtype)
    return ((1 - mask) * x.detach() + mask * pattern).clamp(0.0, 1.0)
