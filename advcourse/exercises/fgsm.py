"""Checked exercises of 05_fgsm: the budget that halves accuracy, T-FGSM by hand.

Taught in 05_fgsm. Each check returns a :class:`~advcourse.exercises.Feedback` with a hint.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from advcourse.core import checks
from advcourse.attacks import fgsm
from advcourse.exercises import Feedback, as_number, failed, is_unanswered, passed, tensor_like
from advcourse.exercises.room import exercise
from advcourse.widgets.fgsm import Sweep, eps_label

__all__ = ["check_fgsm_by_hand", "check_half_accuracy_eps"]


@exercise
def check_fgsm_by_hand(answer: Any, model: nn.Module, x: Tensor, y: Tensor, eps: float,
                       targeted: bool = False) -> Feedback:
    """Is ``answer`` the (T-)FGSM image of ``x`` at ``eps``, built by hand from the input gradient?

    The reference is :func:`advcourse.attacks.fgsm` itself (one gradient on ``x``).

    Args:
        answer: the learner's ``x_adv``, a tensor shaped like ``x``.
        model, x, y, eps: the photo(s), the true classes (targets when ``targeted``) and the budget.
        targeted: check T-FGSM (a step *down* the loss of the target ``y``) instead of FGSM.
    """
    checks.check_model(model)
    checks.check_images(x)
    checks.check_bool(targeted, "targeted")
    eps = checks.check_budget(eps, "eps")
    way = "down the loss of the target" if targeted else "up the loss of the true class"
    answer = tensor_like(answer, x, f"replace ... with an image shaped like x: one step of size eps from x, {way}, "
                                    "that is still a valid image")
    if isinstance(answer, Feedback):
        return answer
    answer = answer.to(torch.float32)
    expected = fgsm(model, x, y, eps=eps, targeted=targeted)
    name = "fgsm(..., targeted=True)" if targeted else "fgsm"
    if torch.allclose(answer, expected, atol=1e-6):
        return passed(f"this is exactly {name} at eps={eps_label(eps)}: one gradient, its sign, one clip")
    if float(answer.min()) < -1e-6 or float(answer.max()) > 1 + 1e-6:
        return failed("some pixels left [0, 1]: clip the stepped image back into the valid range")
    if torch.allclose(answer, fgsm(model, x, y, eps=eps, targeted=not targeted), atol=1e-6):
        return failed(f"you stepped the wrong way: the step goes {way}")
    step = (answer - x).abs().max()
    if abs(float(step) - eps) > 1e-4:
        return failed(f"the largest change is {float(step) * 255:.2f}/255, not eps = {eps_label(eps)}: "
                      "every pixel should move by exactly eps: keep only the direction of each gradient entry")
    return failed("close, but not the same image: use the gradient of the cross-entropy of y at x")


@exercise
def check_half_accuracy_eps(answer: Any, sw: Sweep, y: Tensor) -> Feedback:
    """Is ``answer`` the smallest budget of the sweep's grid at which accuracy is at most 50 %?

    Args:
        answer: a budget in pixel units, e.g. ``2/255``.
        sw: the FGSM :class:`~advcourse.widgets.fgsm.Sweep` of the lesson.
        y: (N,) true classes.
    """
    if is_unanswered(answer):
        return failed("read the FGSM curve: the first eps of the grid where accuracy falls to 50% or below")
    checks.check_instance(sw, Sweep, "sw", "made by advcourse.widgets.fgsm.sweep")
    y = checks.check_labels(y, sw.x)
    eps = as_number(answer)
    if eps is None:
        return failed(f"expected a budget such as 2/255, got {type(answer).__name__}")
    acc = sw.accuracy(y)
    low = (acc <= 0.5).nonzero()
    if low.numel() == 0:
        return failed("on this grid FGSM never halves accuracy; the check needs a larger grid")
    right = float(sw.eps[int(low[0, 0])])
    if abs(eps - right) < 1e-6:
        return passed(f"at eps = {eps_label(right)} accuracy is {float(acc[int(low[0, 0])]):.0%}")
    if eps > 1:
        return failed("budgets are in pixel units: write 2/255, not 2")
    try:
        i = sw.index(eps)
    except ValueError:
        return failed(f"{eps_label(eps)} is not on the grid ({', '.join(eps_label(e) for e in sw.eps.tolist())})")
    if eps > right:
        return failed(f"at {eps_label(eps)} accuracy is {float(acc[i]):.0%}, but a smaller eps already gets to 50%")
    return failed(f"at {eps_label(eps)} accuracy is still {float(acc[i]):.0%}: more than half")
