"""Semantic attack: the negative image. Taught in 03_semantic."""

from __future__ import annotations

from torch import Tensor

from advcourse.attacks import _core

__all__ = ["semantic"]


def semantic(x: Tensor, *, center: bool = False, max_val: float = 1.0) -> Tensor:
    """Return the negative image: ``max_val - x`` (pixels in [0, max_val]) or ``-x`` (centred pixels).

    Paper: Hosseini & Poovendran, 2017, "On the Limitation of Convolutional Neural Networks in
        Recognizing Negative Images", arXiv:1703.06857 (Hosseini et al. 2017, "Semantic adversarial
        examples", arXiv:1804.00499, for the wider family).

    Threat model: black box, no model; the change is large in every Lp norm but keeps the meaning
        of the picture for a human, which is the point the notebook makes.

    Args:
        x: (N, C, H, W) float tensor; pixels in [0, max_val], or centred on 0 when ``center=True``.
        center: the pixels are centred (e.g. in [-1, 1]); the negative is then ``-x``.
        max_val: brightest pixel value when ``center=False`` (1.0 for [0, 1] images, 255 for bytes).

    Returns:
        New detached tensor like ``x``: ``max_val - x`` inside [0, max_val], or ``-x``.
        Applying it twice gives ``x`` back (up to float rounding).

    Example:
        >>> x_neg = semantic(x)
    """
    if not isinstance(center, bool):
        raise TypeError(f"center: expected a bool, got {type(center).__name__}")
    max_val = _core.check_nonnegative(max_val, "max_val")
    if center:
        _core.check_images(x, float("-inf"), float("inf"))
        return -x.detach()
    if max_val == 0:
        raise ValueError("max_val: expected a number > 0, got 0")
    _core.check_images(x, 0.0, max_val)
    return (max_val - x.detach()).clamp(0.0, max_val)
