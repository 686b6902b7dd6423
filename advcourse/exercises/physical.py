"""Checked exercises of 10_physical_world: a smaller patch, and what the camera attacker left out.

Taught in 10_physical_world. Each check returns a :class:`~advcourse.exercises.Feedback` with a hint.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from advcourse.core import checks
from advcourse.exercises import Feedback, failed, fraction, is_unanswered, passed
from advcourse.exercises.room import exercise
from advcourse.core.transforms import CAMERA
from advcourse.evasion.physical import patch_sweep

__all__ = ["check_small_patch", "check_untrained_effect"]


@exercise
def check_small_patch(answer: Any, model: nn.Module, x: Tensor, patch: Tensor, target: int, *, area: float,
                      placements: int = 2, seed: int = 0, tolerance: float = 0.02) -> Feedback:
    """Is ``answer`` the target hit rate of ``patch`` on ``x`` at ``area`` (a fraction of the image),
    as ``patch_sweep(model, x, patch, target, scales=[area], placements=placements,
    generator=torch.Generator().manual_seed(seed))`` measures it?"""
    if is_unanswered(answer):
        return failed("replace ... with a fraction in [0, 1]: measure it as the size sweep above did, at this one area")
    checks.check_model(model)
    checks.check_images(x)
    area = checks.check_positive(area, "area")
    tolerance = checks.check_nonnegative(tolerance, "tolerance")
    answer = fraction(answer)
    if isinstance(answer, Feedback):
        return answer
    sweep = patch_sweep(model, x, patch, target, scales=[area], placements=placements,
                        generator=torch.Generator().manual_seed(seed))
    if abs(answer - sweep.patch[0]) <= tolerance:
        return passed(f"that is the hit rate at {area:.0%} of the image; compare it with the 10 % number above: "
                      "the patch's success depends steeply on its size, the attacker's main knob")
    if abs(answer - sweep.control[0]) <= tolerance:
        return failed("that is the control's hit rate (random pixels); the trained patch's is the other list")
    return failed(f"use area {area:g} (a fraction of the image, not a percentage), placements={placements} and a "
                  f"generator seeded with {seed}; your number is off by more than two points")


@exercise
def check_untrained_effect(answer: Any) -> Feedback:
    """Is ``answer`` the name of the camera effect (a key of ``advcourse.evasion.physical.CAMERA``) that the
    EOT attacker's :class:`~advcourse.evasion.physical.RandomCamera` never draws?"""
    if is_unanswered(answer):
        return failed("replace ... with the name of one effect, as a string: which of the four does the attacker's "
                      "random camera never apply?")
    if not isinstance(answer, str):
        return failed(f"expected the effect's name as a string, one of {list(CAMERA)}, got {type(answer).__name__}")
    key = answer.strip().lower()
    names = {name.lower(): name for name in CAMERA}
    if key not in names:
        return failed(f"expected one of {list(CAMERA)}")
    if names[key] == "JPEG":
        return passed("JPEG is not differentiable, so RandomCamera leaves it out, and the EOT examples fare "
                      "little better than plain PGD under it: robustness is bought for the transformations "
                      "averaged over, and only partly beyond them")
    return failed(f"RandomCamera does draw {names[key]}: look for the effect its forward pass never calls")
