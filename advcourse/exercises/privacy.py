"""Checked exercises of 13_privacy: an attack's TPR at a low FPR by hand, and the ε a leak would need.

Taught in 13_privacy. Each check returns a :class:`~advcourse.exercises.Feedback` with a hint.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from advcourse.core import checks
from advcourse.exercises import Feedback, as_number, failed, is_unanswered, passed
from advcourse.exercises.room import exercise
from advcourse.privacy.membership import tpr_at_fpr

__all__ = ["check_tpr_at_fpr", "check_epsilon_needed"]


@exercise
def check_tpr_at_fpr(answer: Any, scores: torch.Tensor, is_member: torch.Tensor, fpr: float) -> Feedback:
    """Is ``answer`` the true-positive rate of ``scores`` (N,) at false-positive rate ``fpr``, i.e. the
    share of members scoring above a threshold that at most ``fpr`` of the non-members pass?"""
    fpr = checks.check_nonnegative(fpr, "fpr")
    if fpr >= 1:
        raise ValueError(f"fpr: expected a false-positive rate in [0, 1), got {fpr:g}")
    expected = tpr_at_fpr(scores, is_member, fpr)  # also checks scores and is_member
    if is_unanswered(answer):
        return failed("replace ... with a share in [0, 1]: put the threshold where only "
                      f"{fpr:.1%} of the non-members' scores lie above it, then count the members above it")
    value = as_number(answer)
    if value is None:
        return failed(f"expected a number in [0, 1], got {type(answer).__name__}")
    members, outsiders = scores[is_member].double(), scores[~is_member].double()
    tolerance = 0.5 / len(members)  # one member either side of the threshold
    if abs(value - expected) <= tolerance:
        return passed(f"the share of members found while wrongly accusing at most {fpr:.1%} of the non-members: "
                      "the number that says whether an attack can be trusted about anyone")
    if abs(value - 100 * expected) <= 100 * tolerance:
        return failed("that is a percentage; give the share in [0, 1]")
    loose = float((members >= torch.quantile(outsiders, 1 - fpr)).double().mean())
    if abs(value - loose) <= tolerance and value > expected:
        return failed("close: at that threshold slightly more than the allowed share of non-members pass; take "
                      "the lowest threshold that lets through at most fpr of them (strictly above the rest)")
    if abs(value - fpr) <= tolerance:
        return failed("that is the false-positive rate you were given; the question asks how many members pass")
    return failed("sort the non-members' scores, put the threshold so that at most fpr of them lie above it, "
                  "and give the share of members whose score is above it")


@exercise
def check_epsilon_needed(answer: Any, *, tpr: float, fpr: float, delta: float = 0.0) -> Feedback:
    """Is ``answer`` the smallest ε whose guarantee allows an attack with true-positive rate ``tpr`` at
    false-positive rate ``fpr`` (TPR ≤ e^ε·FPR + δ), i.e. ``ln((tpr − δ) / fpr)``?"""
    tpr, fpr = checks.check_positive(tpr, "tpr"), checks.check_positive(fpr, "fpr")
    delta = checks.check_nonnegative(delta, "delta")
    if tpr > 1 or fpr >= 1:
        raise ValueError(f"tpr: expected rates in (0, 1] with fpr < 1, got tpr {tpr:g}, fpr {fpr:g}")
    if tpr - delta <= fpr:
        raise ValueError(f"tpr: an attack at tpr {tpr:g} is allowed by any ε >= 0 at fpr {fpr:g}; choose tpr > fpr + delta")
    expected = math.log((tpr - delta) / fpr)
    if is_unanswered(answer):
        return failed("replace ... with a number: make the guarantee's bound at this FPR exactly the attack's TPR, "
                      "and solve for ε")
    value = as_number(answer)
    if value is None:
        return failed(f"expected a number, got {type(answer).__name__}")
    if math.isclose(value, expected, rel_tol=1e-3, abs_tol=1e-6):
        return passed(f"ε = {expected:.2f}: a model trained at a smaller ε cannot leak that much to any attack, "
                      "however clever; at a larger ε the guarantee no longer rules it out")
    if math.isclose(value, math.exp(expected), rel_tol=1e-3):
        return failed("that is e^ε, the factor; take its natural logarithm")
    if math.isclose(value, math.log10((tpr - delta) / fpr), rel_tol=1e-3):
        return failed("that is a base-10 logarithm; the bound uses e^ε, so take the natural logarithm (math.log)")
    if delta and math.isclose(value, math.log(tpr / fpr), rel_tol=1e-3):
        return failed("almost: subtract δ from the TPR first")
    return failed("the guarantee says TPR <= e^ε · FPR + δ; solve it for ε with the equality")
