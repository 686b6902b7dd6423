"""Checked exercises of 07_deepfool: a distance to a line by hand, and DeepFool's landing class.

Taught in 07_deepfool. Each check returns a :class:`~advcourse.exercises.Feedback` with a hint;
the reference answers come from :mod:`advcourse.evasion.geometry`.

    >>> check_projection_distance(2.4)     # ✔ / ✘ with a hint
    >>> check_landing_class("C")
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import torch

from advcourse.evasion import geometry
from advcourse.exercises import Feedback, failed, is_unanswered, passed
from advcourse.exercises.room import exercise
from advcourse.widgets.deepfool import TOY_B, TOY_CLASSES, TOY_W

__all__ = ["LINE_W", "LINE_B", "LINE_POINT", "LANDING_POINT", "check_projection_distance", "check_landing_class"]

#: Exercise 1: the line 3·x₁ + 4·x₂ − 5 = 0 and the point (3, 2).
LINE_W = (3.0, 4.0)
LINE_B = -5.0
LINE_POINT = (3.0, 2.0)

#: Exercise 2: a point of the three-class toy (:data:`advcourse.widgets.deepfool.TOY_W`).
LANDING_POINT = (0.5, 0.7)


def _as_number(answer: Any) -> float | None:
    """A plain float from a number, a 0-d/1-element NumPy array or tensor; ``None`` otherwise."""
    if isinstance(answer, torch.Tensor) and answer.numel() == 1:
        answer = answer.item()
    elif isinstance(answer, (np.ndarray, np.generic)) and answer.size == 1:
        answer = answer.item()
    if isinstance(answer, bool) or not isinstance(answer, numbers.Real):
        return None
    return float(answer)


@exercise
def check_projection_distance(answer: Any) -> Feedback:
    """Is ``answer`` the L2 distance from :data:`LINE_POINT` to the line ``LINE_W · x + LINE_B = 0``?

    Accepts a number within 0.01 of ``|f(x)| / ‖w‖₂``.
    """
    if is_unanswered(answer):
        return failed("replace ... with a number: the length of the shortest step from the point onto the line")
    value = _as_number(answer)
    if value is None:
        return failed(f"expected a number (a distance), got {type(answer).__name__}")
    right = geometry.distance_to_hyperplane(LINE_W, LINE_B, LINE_POINT)
    f = geometry.signed_score(LINE_W, LINE_B, LINE_POINT)
    if abs(value - right) <= 0.01:
        return passed(f"|f(x)| / ‖w‖ = {abs(f):g} / {np.linalg.norm(LINE_W):g} = {right:g}: "
                      "the length of the projection step r*")
    if value < 0:
        return failed("a distance is never negative: take the absolute value of f(x)")
    if abs(value - abs(f)) <= 0.01:
        return failed(f"{value:g} is |f(x)| itself, a score: what turns a score into a length?")
    if abs(value - abs(f) / float(np.dot(LINE_W, LINE_W))) <= 0.01:
        return failed("dividing by ‖w‖² gives the multiple of w in r*, not the length of r*")
    return failed(f"{value:g} is not the distance: evaluate the line's score at the point first, then turn it "
                  "into a length")


def _as_class(answer: Any) -> int | None:
    if isinstance(answer, str):
        key = answer.strip().upper()
        return TOY_CLASSES.index(key) if key in TOY_CLASSES else None
    if isinstance(answer, (int, np.integer)) and not isinstance(answer, bool) and 0 <= int(answer) < len(TOY_CLASSES):
        return int(answer)
    return None


@exercise
def check_landing_class(answer: Any) -> Feedback:
    """Which class does DeepFool send :data:`LANDING_POINT` to on the three-class toy?

    Accepts the class name (``"A"``, ``"B"``, ``"C"``) or its index (0, 1, 2).
    """
    names = ", ".join(repr(c) for c in TOY_CLASSES)
    if is_unanswered(answer):
        return failed(f"replace ... with a class name ({names}): the boundary DeepFool crosses first")
    k = _as_class(answer)
    if k is None:
        return failed(f"expected one of {names} (or its index), got {answer!r}")
    step = geometry.linear_deepfool_step(TOY_W, TOY_B, LANDING_POINT)
    scores = TOY_W @ np.asarray(LANDING_POINT) + TOY_B
    runner_up = int(np.argsort(scores)[-2])
    dist = ", ".join(f"{TOY_CLASSES[j]}: {step.distances[j]:.2f}" for j in range(len(TOY_CLASSES)) if j != step.k0)
    if k == step.l:
        return passed(f"distances {dist}: the nearest linearised boundary is {TOY_CLASSES[k]}'s, "
                      "so that is where DeepFool crosses")
    if k == step.k0:
        return failed(f"{TOY_CLASSES[k]} is the point's own class; DeepFool moves it into another one")
    if k == runner_up:
        return failed(f"{TOY_CLASSES[k]} has the second-highest score, but DeepFool divides each score gap "
                      "by ‖w'_k‖: compare distances, not scores")
    return failed(f"{TOY_CLASSES[k]} is not the nearest linearised boundary: compare distances to the boundaries, "
                  "not scores")
