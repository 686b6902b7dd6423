"""Checked exercises of 08_defences: robustness beyond the training budget, the price of EOT.

Taught in 08_defences. Each check returns a :class:`~advcourse.exercises.Feedback` with a hint.
"""

from __future__ import annotations

import numbers
from typing import Any

from torch import Tensor, nn

from advcourse.core import checks
from advcourse.defences.training import evaluate
from advcourse.exercises import Feedback, failed, fraction, is_unanswered, passed
from advcourse.exercises.room import exercise

__all__ = ["check_robust_beyond_budget", "check_eot_cost"]


@exercise
def check_robust_beyond_budget(answer: Any, model: nn.Module, x: Tensor, y: Tensor, *, eps: float,
                               steps: int = 10, tolerance: float = 0.02) -> Feedback:
    """Is ``answer`` the accuracy of ``model`` on ``(x, y)`` under PGD at ``eps`` (``steps`` steps,
    step ``eps/4``, random start seeded with 0: ``advcourse.defences.evaluate``)?

    Args:
        answer: a fraction in [0, 1].
        model, x, y: the adversarially trained model and the test set.
        eps: the budget asked about (e.g. twice the training budget).
    """
    eps = checks.check_budget(eps, "eps")
    steps = checks.check_count(steps, "steps", minimum=1)
    tolerance = checks.check_nonnegative(tolerance, "tolerance")
    checks.check_model(model)
    checks.check_images(x)
    checks.check_labels(y, x)
    if is_unanswered(answer):
        return failed("replace ... with a fraction in [0, 1]: measure it, with the call that scored robust_net above")
    answer = fraction(answer)
    if isinstance(answer, Feedback):
        return answer
    params = {"eps": eps, "step_size": eps / 4, "steps": steps}
    clean, robust = evaluate(model, x, y, attack="pgd", attack_params=params)
    if abs(answer - robust) <= tolerance:
        return passed("that is the accuracy under PGD at this budget; compare it with the training budget's: "
                      "robustness is bought for the budget trained on and fades beyond it")
    if abs(answer - clean) <= tolerance:
        return failed("that is the clean accuracy; the robust one is the second number evaluate returns")
    return failed(f"attack with eps={eps:.3g}, step_size=eps/4, steps={steps}; "
                  "your number is off by more than two points")


@exercise
def check_eot_cost(answer: Any, *, steps: int, samples: int) -> Feedback:
    """Is ``answer`` the number of forward+backward passes of PGD with ``steps`` steps against
    ``EOT(defended, samples=samples)`` (labels given, no early stop)?"""
    steps = checks.check_count(steps, "steps", minimum=1)
    samples = checks.check_count(samples, "samples", minimum=1)
    if is_unanswered(answer):
        return failed("each PGD step differentiates the EOT model once; how many network calls is one EOT call?")
    if isinstance(answer, Tensor) and answer.numel() == 1 and not answer.is_floating_point():
        answer = answer.item()
    if isinstance(answer, bool) or not isinstance(answer, numbers.Integral):
        return failed(f"expected a whole number of passes, got {type(answer).__name__}")
    expected = steps * samples
    if answer == expected:
        return passed(f"{steps} steps × {samples} draws = {expected} passes: EOT multiplies the attack's cost by "
                      "the number of samples, which is why defenders cannot hide behind randomness for long")
    if answer == steps:
        return failed("that is plain PGD; every step of EOT-PGD averages several random draws")
    if answer == steps + samples:
        return failed("the draws happen inside every step, so the two numbers multiply")
    return failed("count the network calls: how many in one step, and how many steps?")
