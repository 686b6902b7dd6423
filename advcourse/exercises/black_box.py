"""Checked exercises of 09_black_box: reading a query curve, and what a query budget costs in days.

Taught in 09_black_box. Each check returns a :class:`~advcourse.exercises.Feedback` with a hint.
"""

from __future__ import annotations

import math
from typing import Any

from advcourse.core import checks
from advcourse.evasion.black_box_study import QueryCurves
from advcourse.exercises import Feedback, as_number, failed, is_unanswered, passed
from advcourse.exercises.room import exercise

__all__ = ["check_share_budget", "check_attack_days"]


@exercise
def check_share_budget(answer: Any, curves: QueryCurves, attack: str, *, share: float) -> Feedback:
    """Is ``answer`` the smallest budget in ``curves.budgets`` at which ``attack`` has fooled at
    least ``share`` (in (0, 1]) of the images?"""
    checks.check_instance(curves, QueryCurves, "curves", "made by advcourse.evasion.black_box_study.query_curves")
    share = checks.check_positive(share, "share")
    if share > 1:
        raise ValueError(f"share: expected a share of the images in (0, 1], got {share:g}")
    if is_unanswered(answer):
        return failed("replace ... with a number of queries: walk along the budgets and the success rates together "
                      f"and stop where the rate first reaches {share:g}")
    if attack not in curves.infos:
        raise ValueError(f"attack: expected one of {list(curves.infos)}, got {attack!r}")
    value = as_number(answer)
    if value is None:
        return failed(f"expected a number of queries, got {type(answer).__name__}")
    rates = curves.success(attack)
    reached = [b for b, r in zip(curves.budgets, rates) if r >= share]
    if not reached:
        return failed(f"{attack} never fooled {share:.0%} of the {curves.images} within {curves.budgets[-1]} queries; "
                      "choose the other attack or more queries")
    expected = reached[0]
    if value == expected:
        return passed(f"{expected} queries per {curves.images[:-1]}: what a rate limit has to allow before "
                      f"{share:.0%} of these attacks succeed")
    if value in curves.budgets and value > expected:
        return failed(f"{share:.0%} of the {curves.images} are already fooled at a smaller budget: "
                      "look for the first budget, not any")
    if value in curves.budgets:
        return failed(f"at that budget fewer than {share:.0%} are fooled: the rate there is below {share:g}")
    if 0 <= value <= 1:
        return failed("that looks like a rate; the answer is a budget, one of curves.budgets")
    return failed("give one of the values in curves.budgets")


@exercise
def check_attack_days(answer: Any, *, photos: int, queries_per_photo: int, per_minute: int) -> Feedback:
    """Is ``answer`` the number of days (a real number) that ``photos`` × ``queries_per_photo``
    queries take at ``per_minute`` queries per minute, around the clock?"""
    photos = checks.check_count(photos, "photos", minimum=1)
    queries_per_photo = checks.check_count(queries_per_photo, "queries_per_photo", minimum=1)
    per_minute = checks.check_count(per_minute, "per_minute", minimum=1)
    if is_unanswered(answer):
        return failed("replace ... with a number of days: first count all the queries, then the minutes they need")
    value = as_number(answer)
    if value is None:
        return failed(f"expected a number of days, got {type(answer).__name__}")
    minutes = photos * queries_per_photo / per_minute
    days = minutes / (60 * 24)
    if math.isclose(value, days, rel_tol=0.02):
        return passed(f"about {days:.1f} days of patient querying from one key: attackers spread queries over "
                      "many keys, which is exactly the pattern a provider can watch for")
    if math.isclose(value, minutes, rel_tol=0.02):
        return failed("that is in minutes; a day has 60 × 24 of them")
    if math.isclose(value, minutes / 60, rel_tol=0.02):
        return failed("that is in hours; divide by 24 more")
    return failed("total queries = photos × queries per photo; minutes = total / per_minute; then convert to days")
