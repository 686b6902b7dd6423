"""Checked exercises: every notebook's ``check_…`` helpers, one module per lesson.

A check takes the learner's answer and returns a :class:`~advcourse.core.feedback.Feedback`: truthy when right, with a
message that says *why* it is right or wrong (a hint, never just "wrong"). It shows as a coloured
line in a notebook and as plain text elsewhere; it never raises on a wrong answer, only on an
answer of the wrong kind that deserves a clear message.

    >>> from advcourse.exercises.noise import check_smallest_eps
    >>> check_smallest_eps(answer)          # ✔ / ✘ with a hint

Lessons add their own module (``advcourse/exercises/<lesson>.py``) and build on the helpers here.
"""

from __future__ import annotations

import numbers
from typing import Any

from torch import Tensor

from advcourse.core.feedback import NOT_ANSWERED, Feedback, failed, is_unanswered, passed

__all__ = ["Feedback", "passed", "failed", "NOT_ANSWERED", "is_unanswered", "as_number", "tensor_like", "fraction"]


def as_number(answer: Any) -> float | None:
    """A learner's numeric answer as a float (a plain number or a one-element tensor), else None."""
    if isinstance(answer, Tensor) and answer.numel() == 1:
        answer = answer.item()
    if isinstance(answer, bool) or not isinstance(answer, numbers.Real):
        return None
    return float(answer)


def tensor_like(answer: Any, x: Tensor, hint: str) -> Feedback | Tensor:
    """The learner's answer as a detached tensor on ``x``'s device, or the Feedback saying why it is not.

    Args:
        answer: what the exercise cell holds; should be a tensor of ``x``'s shape.
        x: the reference tensor (N, C, H, W).
        hint: what to say while the cell still holds the placeholder ``...``.
    """
    if is_unanswered(answer):
        return failed(hint)
    if not isinstance(answer, Tensor):
        return failed(f"expected a torch.Tensor shaped like x {tuple(x.shape)}, got {type(answer).__name__}")
    if tuple(answer.shape) != tuple(x.shape):
        return failed(f"expected the shape of x, {tuple(x.shape)}, got {tuple(answer.shape)}")
    return answer.detach().to(x.device)


def fraction(answer: Any) -> Feedback | float:
    """The learner's answer as a float in [0, 1] (a rate, an accuracy), or the Feedback saying why it is not.

    A one-element tensor is accepted; a bool or a non-number is refused, and so is a number above 1
    (a percentage typed as 42 instead of 0.42). Check the placeholder ``...`` before calling this.
    """
    value = as_number(answer)
    if value is None:
        return failed(f"expected a fraction such as 0.42, got {type(answer).__name__}")
    if value > 1:
        return failed("give a fraction in [0, 1], not a percentage")
    return value
