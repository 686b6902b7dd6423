"""Checked exercises of 11_evaluation: a certified radius by hand, what one attack overstates.

Taught in 11_evaluation. Each check returns a :class:`~advcourse.exercises.Feedback` with a hint.
"""

from __future__ import annotations

import numbers
from typing import Any

from scipy import stats
from torch import Tensor

from advcourse.core import checks
from advcourse.evaluation.evaluate import WorstCase
from advcourse.exercises import Feedback, failed, is_unanswered, passed
from advcourse.exercises.room import exercise

__all__ = ["check_certified_radius", "check_worst_case_gap"]


def _number(answer: Any) -> float | Feedback:
    if isinstance(answer, Tensor) and answer.numel() == 1:
        answer = answer.item()
    if isinstance(answer, bool) or not isinstance(answer, numbers.Real):
        return failed(f"expected a number such as 0.42, got {type(answer).__name__}")
    return float(answer)


@exercise
def check_certified_radius(answer: Any, sigma: float = 0.25, p_lower: float = 0.9) -> Feedback:
    """Is ``answer`` the L2 radius randomized smoothing certifies for noise ``sigma`` when the lower
    confidence bound on the top class's probability is ``p_lower``? (Cohen et al., Theorem 1:
    ``σ · Φ⁻¹(p_lower)``.)"""
    sigma = checks.check_positive(sigma, "sigma")
    p_lower = checks.check_finite(p_lower, "p_lower")
    if not 0.5 < p_lower < 1:
        raise ValueError(f"p_lower: expected a probability in (0.5, 1), got {p_lower}")
    if is_unanswered(answer):
        return failed("the theorem turns a probability into a distance: which function of the normal "
                      "distribution does that, and what scales it?")
    value = _number(answer)
    if isinstance(value, Feedback):
        return value
    quantile = float(stats.norm.ppf(p_lower))
    expected = sigma * quantile
    if abs(value - expected) <= 0.005:
        return passed(f"σ · Φ⁻¹({p_lower:g}) = {sigma:g} × {quantile:.2f} = {expected:.3f}: more noise or a surer "
                      "vote buys a larger radius")
    if abs(value - quantile) <= 0.005:
        return failed("that is the quantile alone; the radius is in pixel units, so the noise level scales it")
    if abs(value - sigma * p_lower) <= 0.005:
        return failed("the probability goes through the inverse of the normal distribution's CDF first")
    return failed("use the normal quantile of p_lower (scipy.stats.norm.ppf) times sigma")


@exercise
def check_worst_case_gap(answer: Any, result: Any) -> Feedback:
    """Is ``answer`` how much APGD-CE alone (the first row of ``result``) overstates the worst-case
    robust accuracy, as a fraction in [0, 1]?"""
    if is_unanswered(answer):
        return failed("read two robust accuracies off the table: the first attack's, and the one after all of them")
    checks.check_instance(result, WorstCase, "result", "what advcourse.evaluation.evaluate.worst_case returns")
    value = _number(answer)
    if isinstance(value, Feedback):
        return value
    first, worst = result.rows[0].robust_accuracy, result.robust_accuracy
    expected = first - worst
    if value > 1:
        return failed("give a fraction in [0, 1] (0.05 for five points), not a percentage")
    if abs(value - expected) <= 0.003:
        return passed("the first row minus the last: that is how much one attack, even a good one, flatters "
                      "this model")
    if value < 0:
        return failed("each extra attack only removes samples, so the worst case is never above the first row")
    if abs(value - first) <= 0.003 or abs(value - worst) <= 0.003:
        return failed("that is one of the two accuracies; the question asks for their difference")
    return failed("take the first attack's robust accuracy minus the worst case")
