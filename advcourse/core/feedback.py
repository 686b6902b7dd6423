"""A verdict with a reason: what every check on a learner's answer returns.

:class:`Feedback` is truthy when the answer is right and carries a message that says *why* (a hint,
never just "wrong"); it shows as a coloured line in a notebook and as plain text elsewhere. The
exercises (:mod:`advcourse.exercises`) and the lessons' own quizzes (01's threat-model quiz) both
answer with it, so it sits on the floor below them.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

__all__ = ["Feedback", "passed", "failed", "NOT_ANSWERED", "is_unanswered"]

#: What an exercise cell holds before the learner answers (``answer = ...``).
NOT_ANSWERED = Ellipsis


@dataclass(frozen=True)
class Feedback:
    """The verdict of one check: ``ok`` and a message for the learner."""

    ok: bool
    message: str

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        return f"{'✔ correct' if self.ok else '✘ not yet'}: {self.message}"

    __repr__ = __str__

    def _repr_html_(self) -> str:
        colour = "#1a7f37" if self.ok else "#b35900"
        return f'<div style="color:{colour};font-weight:600">{html.escape(str(self))}</div>'


def passed(message: str) -> Feedback:
    """A right answer, with what it shows."""
    return Feedback(True, message)


def failed(message: str) -> Feedback:
    """A wrong (or missing) answer, with a hint towards the right one."""
    return Feedback(False, message)


def is_unanswered(answer: Any) -> bool:
    """True for the placeholder ``...`` (or ``None``) an exercise cell starts with."""
    return answer is NOT_ANSWERED or answer is None
