"""Checked exercises of 06_pgd: the projection by hand, gradient steps saved by early stop, steps to the rim.

Taught in 06_pgd. Each check returns a :class:`~advcourse.exercises.Feedback` with a hint.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import torch
from torch import Tensor

from advcourse.core import checks
from advcourse.attacks import _core
from advcourse.exercises import Feedback, failed, is_unanswered, passed, tensor_like
from advcourse.exercises.room import exercise
from advcourse.widgets.fgsm import eps_label

__all__ = ["check_projection", "check_gradient_steps", "check_steps_to_rim"]


def _as_int(answer: Any) -> int | None:
    if isinstance(answer, Tensor) and answer.numel() == 1 and not answer.is_floating_point():
        answer = answer.item()
    if isinstance(answer, bool) or not isinstance(answer, numbers.Integral):
        return None
    return int(answer)


@exercise
def check_projection(answer: Any, x: Tensor, z: Tensor, eps: float) -> Feedback:
    """Is ``answer`` the PGD projection of the stepped image ``z``: into the L∞ eps-ball around ``x``,
    then into the pixel box [0, 1]?

    Args:
        answer: the learner's tensor, shaped like ``x``.
        x: (N, C, H, W) clean photos; z: same shape, ``x_adv + step_size * sign(grad)`` (may leave both).
        eps: the L∞ budget.
    """
    checks.check_images(x)
    checks.check_tensor(z, "z", like=x)
    eps = checks.check_budget(eps, "eps")
    answer = tensor_like(answer, x, "replace ... with an image shaped like x: the nearest point to z that stays "
                                    "within eps of x and is a valid image")
    if isinstance(answer, Feedback):
        return answer
    answer = answer.to(x.dtype)
    expected = _core.clip(x + _core.project(z - x, eps, _core.INF), 0.0, 1.0)
    if torch.allclose(answer, expected, atol=1e-6):
        return passed("projected onto the eps-ball, then into the pixel box: exactly PGD's last two lines")
    if float((answer - x).abs().max()) > eps + 1e-6:
        return failed(f"some pixels moved more than eps = {eps_label(eps)} away from x: the ball is around x")
    if float(answer.min()) < -1e-6 or float(answer.max()) > 1 + 1e-6:
        return failed("inside the eps-ball but outside [0, 1]: clip the result to valid pixels")
    return failed("inside both constraints, but not the nearest such point: clamp each pixel, do not rescale")


@exercise
def check_gradient_steps(answer: Any, iterations: Tensor) -> Feedback:
    """Is ``answer`` the total number of gradient steps early stop used (``info.iterations``)?"""
    checks.check_tensor(iterations, "iterations")
    if is_unanswered(answer):
        return failed("replace ... with a whole number: info records the steps of every photo")
    value = _as_int(answer)
    if value is None:
        return failed(f"expected a whole number of steps, got {answer!r}")
    used = int(iterations.sum())
    if value == used:
        return passed(f"{used} gradient steps for {iterations.numel()} photos: "
                      f"{used / iterations.numel():.1f} each on average")
    if value == iterations.numel():
        return failed("that is the number of photos; some photos needed more than one step")
    return failed(f"{value} is not it: count the steps of every photo")


@exercise
def check_steps_to_rim(answer: Any, eps: float, step_size: float) -> Feedback:
    """Starting at ``x`` (no random start), how many L∞ sign steps of ``step_size`` can a pixel need
    before it can reach the rim of the eps-ball? (``ceil(eps / step_size)``)"""
    eps = checks.check_budget(eps, "eps")
    step_size = checks.check_positive(step_size, "step_size")
    if is_unanswered(answer):
        return failed("each step moves a pixel by at most step_size; how many steps to cover eps?")
    value = _as_int(answer)
    if value is None:
        return failed(f"expected a whole number of steps, got {answer!r}")
    need = math.ceil(round(eps / step_size, 9))
    if value == need:
        return passed(f"ceil(eps / step_size) = {need}: fewer steps cannot use the whole budget")
    if value < need:
        return failed(f"after {value} steps a pixel has moved at most {value * step_size * 255:.2f}/255 "
                      f"< eps = {eps_label(eps)}")
    return failed(f"{value} steps are enough, but fewer already are")
