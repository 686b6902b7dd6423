"""Checked exercises of 03_semantic: the negative of a centred image, and the blend towards it.

    >>> check_centred_negative(answer, x)     # negate in [-1, 1], map back to [0, 1]
    >>> check_blend(answer, x, t=0.25)        # (1 - t) x + t (1 - x)
"""

from __future__ import annotations

import torch
from torch import Tensor

from advcourse.core import checks
from advcourse.attacks.semantic import blend
from advcourse.exercises import Feedback, failed, passed, tensor_like
from advcourse.exercises.room import exercise

__all__ = ["check_centred_negative", "check_blend"]

_TOL = 1e-5


def _close(a: Tensor, b: Tensor) -> bool:
    return a.shape == b.shape and bool(torch.allclose(a.float(), b.float(), atol=_TOL))


def _tensor_like(answer: object, x: Tensor, what: str) -> Feedback | Tensor:
    """The answer as a detached float tensor shaped like ``x``, or a Feedback saying why it is not."""
    checks.check_images(x)
    a = tensor_like(answer, x, f"replace ... with {what}")
    if isinstance(a, Tensor) and not a.is_floating_point():
        return failed(f"expected float pixels, got {a.dtype}")
    return a


@exercise
def check_centred_negative(answer: object, x: Tensor) -> Feedback:
    """Is ``answer`` the negative of ``x`` computed in centred [-1, 1] coordinates and mapped back?

    The expected steps: ``x_c = 2x - 1`` (centre), ``-x_c`` (negate), ``(-x_c + 1) / 2`` (back to
    [0, 1]); the result must equal ``1 - x``. Hints name the step that was skipped.
    """
    a = _tensor_like(answer, x, "the negative of x, computed in [-1, 1] and mapped back to [0, 1]")
    if isinstance(a, Feedback):
        return a
    x_c = 2 * x - 1
    if _close(a, 1 - x):
        return passed("centre, negate, map back: (−(2x − 1) + 1) / 2 = 1 − x, the same negative as max_val − x")
    if _close(a, -x_c):
        return failed("that is the negative in centred coordinates, values in [−1, 1]; map it back to [0, 1] "
                      "(undo the centring)")
    if _close(a, x):
        return failed("that is x itself: negate the centred image before mapping back")
    if _close(a, -x):
        return failed("−x of a [0, 1] image lies in [−1, 0]: centre first, negate, then map back")
    if _close(a, (1 - x_c) / 2) or _close(a, 1 - x_c):
        return failed("in centred coordinates middle grey is 0 and the negative mirrors around it: no 1 − is needed")
    return failed("not the negative yet: centre x so that middle grey is 0, negate, then undo the centring")


@exercise
def check_blend(answer: object, x: Tensor, t: float = 0.25) -> Feedback:
    """Is ``answer`` the blend ``(1 - t) x + t (1 - x)`` of ``x`` with its negative?"""
    t = checks._number(t, "t")
    if not 0 <= t <= 1:
        raise ValueError(f"t: expected a number in [0, 1], got {t}")
    a = _tensor_like(answer, x, f"the blend of x with its negative at t = {t:g}")
    if isinstance(a, Feedback):
        return a
    if _close(a, blend(x, t)):
        return passed(f"x_t = (1 − t)·x + t·(1 − x) = x + t·(1 − 2x); at t = {t:g} every pixel moved "
                      f"{t:.0%} of the way to its negative")
    if _close(a, blend(x, 1 - t)):
        return failed("t and 1 − t are swapped: t = 0 must give the photo and t = 1 its negative")
    if _close(a, (1 - t) * x - t * x):
        return failed("the negative of x is 1 − x, not −x (pixels live in [0, 1])")
    return failed("not the blend yet: at t = 0 it is the photo, at t = 1 its negative, and a straight line between")
