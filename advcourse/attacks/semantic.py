"""Semantic attack: the negative image. Taught in 03_semantic."""

from __future__ import annotations

from torch import Tensor

from advcourse.attacks import _core

__all__ = ["semantic", "blend"]


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
    _core.check_bool(center, "center")
    max_val = _core.check_nonnegative(max_val, "max_val")
    if center:
        _core.check_images(x, float("-inf"), float("inf"))
        return -x.detach()
    if max_val == 0:
        raise ValueError("max_val: expected a number > 0, got 0")
    _core.check_images(x, 0.0, max_val)
    if max_val > 1 and float(x.detach().amax()) <= 1:
        raise ValueError(f"max_val: {max_val:g}, but every pixel of x lies in [0, 1]; for [0, 1] images use "
                         "max_val=1.0 (the default)")
    return (max_val - x.detach()).clamp(0.0, max_val)


def blend(x: Tensor, t: float | Tensor) -> Tensor:
    """The path from an image to its negative: ``x_t = (1 - t) * x + t * (1 - x)``.

    ``t = 0`` is the photo, ``t = 1`` its negative (``semantic(x)``) and ``t = 0.5`` a flat grey
    image (every pixel 0.5) whatever the photo. Taught in 03_semantic, where a slider walks ``t``.

    Args:
        x: (N, C, H, W) float tensor in [0, 1].
        t: a number in [0, 1], or a (N,) tensor of them (one per image).

    Returns:
        New detached tensor like ``x``, inside [0, 1].

    Example:
        >>> x_half = blend(x, 0.5)   # all 0.5
    """
    _core.check_images(x)
    if isinstance(t, Tensor) and t.dim() == 1:
        if t.shape[0] != x.shape[0]:
            raise ValueError(f"t: expected one value per image ({x.shape[0]}), got shape {tuple(t.shape)}")
        if not bool(((t >= 0) & (t <= 1)).all()):
            raise ValueError("t: expected values in [0, 1]")
        t = t.to(x).view(-1, 1, 1, 1)
    else:
        t = _core._number(t, "t")
        if not 0.0 <= t <= 1.0:
            raise ValueError(f"t: expected a number in [0, 1], got {t}")
    x = x.detach()
    return ((1 - t) * x + t * (1 - x)).clamp(0.0, 1.0)
