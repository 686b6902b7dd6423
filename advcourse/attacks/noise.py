"""Uniform random noise: the baseline every real attack must beat. Taught in 02_noise."""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from advcourse.attacks import _core
from advcourse.core.checks import shared_attack_checks

__all__ = ["noise", "gaussian_noise"]


def noise(x: Tensor, *, eps: float, clip_min: float = 0.0, clip_max: float = 1.0,
          generator: torch.Generator | None = None) -> Tensor:
    """Add i.i.d. uniform noise in [-eps, eps] to every pixel, then clip to the box.

    Paper: none; the control experiment of e.g. Szegedy et al. 2014, "Intriguing properties of neural
        networks", arXiv:1312.6199 (random perturbations of the same size rarely change the label).

    Threat model: black box, no model and no gradient; L∞ budget ``eps`` in pixel units.

    Args:
        x: (N, C, H, W) float tensor, pixels in [clip_min, clip_max].
        eps: noise amplitude >= 0, e.g. ``8/255``.
        clip_min, clip_max: the valid pixel box (default [0, 1]).
        generator: optional ``torch.Generator`` for reproducible noise (drawn on its device).

    Returns:
        New detached tensor like ``x`` with ``‖x_adv − x‖∞ <= eps``, inside [clip_min, clip_max].
        ``eps = 0`` returns a copy of ``x``.

    Example:
        >>> x_adv = noise(x, eps=8/255, generator=torch.Generator().manual_seed(0))
    """
    eps = _core.check_nonnegative(eps, "eps")
    return _add_noise(x, lambda: 2 * _core._rand(x.shape, x, generator) - 1, eps, clip_min, clip_max, generator)


def gaussian_noise(x: Tensor, *, sigma: float, clip_min: float = 0.0, clip_max: float = 1.0,
                   generator: torch.Generator | None = None) -> Tensor:
    """Add i.i.d. Gaussian noise N(0, sigma²) to every pixel, then clip to the box.

    The companion of :func:`noise` in 02_noise. Uniform noise in [-eps, eps] has standard deviation
    eps/√3, so ``sigma = eps / 3**0.5`` gives both the same expected L2 norm (before clipping);
    Gaussian noise has no L∞ bound, a few pixels move by 3-4 sigma.

    Threat model: black box, no model and no gradient; the budget is the per-pixel spread ``sigma``.

    Args:
        x: (N, C, H, W) float tensor, pixels in [clip_min, clip_max].
        sigma: standard deviation >= 0 in pixel units, e.g. ``8/255``.
        clip_min, clip_max: the valid pixel box (default [0, 1]).
        generator: optional ``torch.Generator`` for reproducible noise (drawn on its device).

    Returns:
        New detached tensor like ``x`` inside [clip_min, clip_max]; ``sigma = 0`` returns a copy of ``x``.

    Example:
        >>> x_adv = gaussian_noise(x, sigma=8/255, generator=torch.Generator().manual_seed(0))
    """
    sigma = _core.check_nonnegative(sigma, "sigma")
    return _add_noise(x, lambda: _core._rand(x.shape, x, generator, normal=True), sigma, clip_min, clip_max,
                      generator)


noise = shared_attack_checks(noise)  # an L∞ budget must fit the pixel box (eps=8 meant 8/255)
gaussian_noise = shared_attack_checks(gaussian_noise)


def _add_noise(x: Tensor, draw: Callable[[], Tensor], scale: float, clip_min: float, clip_max: float,
               generator: torch.Generator | None) -> Tensor:
    """Shared by both noises: check the input, add ``scale * draw()`` and clip into the box."""
    clip_min, clip_max = _core.check_clip(clip_min, clip_max)
    _core.check_images(x, clip_min, clip_max)
    _core.check_generator(generator)
    return _core.clip(x.detach() + draw() * scale, clip_min, clip_max)
