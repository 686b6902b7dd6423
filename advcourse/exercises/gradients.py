"""Checked exercises of 04_gradients: a derivative by hand, and an input gradient by autograd.

    >>> check_derivative(answer, x0=0.5)                  # f'(x0) of the bowl (x - 2)^2 + 1
    >>> check_input_gradient(answer, model, x, y)         # ∇x of the summed cross-entropy
"""

from __future__ import annotations

import math
import numbers

import torch
from torch import Tensor, nn

from advcourse.core import checks
from advcourse.foundations.calculus import BOWL_MINIMUM, bowl, derivative
from advcourse.exercises import Feedback, failed, is_unanswered, passed
from advcourse.exercises.room import exercise

__all__ = ["check_derivative", "check_input_gradient"]


@exercise
def check_derivative(answer: object, x0: float = 0.5) -> Feedback:
    """Is ``answer`` the slope of the bowl ``f(x) = (x - 2)^2 + 1`` at ``x0``?

    Hints name the usual slips: the value ``f(x0)`` instead of the slope, a flipped sign, a lost
    factor 2.
    """
    x0 = checks.check_finite(x0, "x0")
    if is_unanswered(answer):
        return failed("replace ... with a number: the slope of f at x0 (differentiate f by hand, then put in x0)")
    if isinstance(answer, Tensor) and answer.numel() == 1:
        answer = answer.item()
    if isinstance(answer, bool) or not isinstance(answer, numbers.Real) or not math.isfinite(float(answer)):
        return failed(f"expected one finite number, got {answer!r}")
    a, want = float(answer), derivative(bowl, x0)
    if math.isclose(a, want, abs_tol=1e-6):
        way = "right (towards larger x)" if want < 0 else "left (towards smaller x)" if want > 0 else "nowhere"
        return passed(f"f'({x0:g}) = 2·({x0:g} − {BOWL_MINIMUM:g}) = {want:g}: gradient descent moves {way}")
    if math.isclose(a, float(bowl(x0)), abs_tol=1e-6):
        return failed(f"{a:g} is the value f({x0:g}), not its slope; differentiate (x − 2)² first")
    if math.isclose(a, -want, abs_tol=1e-6):
        return failed("right size, wrong sign: left of the minimum the bowl falls as x grows; which sign has its slope?")
    if math.isclose(a, want / 2, abs_tol=1e-6):
        return failed("off by a factor 2: look again at the power rule for the square")
    return failed(f"{a:g} is not the slope at x0 = {x0:g}; differentiate (x − 2)² + 1 (power and chain rules), "
                  "then evaluate at x0")


def _cosine(a: Tensor, b: Tensor) -> float:
    return float(torch.nn.functional.cosine_similarity(a.flatten().double(), b.flatten().double(), dim=0))


@exercise
def check_input_gradient(answer: object, model: nn.Module, x: Tensor, y: Tensor) -> Feedback:
    """Is ``answer`` the gradient of the summed cross-entropy with respect to the pixels ``x``?

    Compares with :func:`advcourse.foundations.explain.input_gradient` (one extra forward+backward) and says
    what differs: the shape, the sign, the scale (a mean instead of a sum), or the direction.

    Args:
        answer: the learner's (N, C, H, W) tensor.
        model, x, y: the model, the (N, C, H, W) photos in [0, 1] and their (N,) true labels.
    """
    from advcourse.foundations.explain import input_gradient

    checks.check_model(model)
    checks.check_images(x)
    checks.check_labels(y, x)
    if is_unanswered(answer):
        return failed("replace ... with a tensor shaped like x: the gradient of the summed cross-entropy with "
                      "respect to the pixels (autograd differentiates only with respect to a tensor that "
                      "requires grad)")
    if not isinstance(answer, Tensor):
        return failed(f"expected a torch.Tensor, got {type(answer).__name__} (autograd.grad returns a tuple: take [0])")
    if tuple(answer.shape) != tuple(x.shape):
        hint = " (keep the batch dimension N)" if answer.dim() == x.dim() - 1 else ""
        return failed(f"the gradient has one number per input value, so its shape is {tuple(x.shape)} like x; "
                      f"got {tuple(answer.shape)}{hint}")
    if not answer.is_floating_point() or not bool(torch.isfinite(answer).all()):
        return failed("expected finite floating-point values")
    want = input_gradient(model, x, y).to(answer.device)
    answer = answer.detach().to(want.dtype)
    if float(answer.abs().max()) == 0:
        return failed("your gradient is all zeros: did you differentiate with respect to x, and keep the graph?")
    cos = _cosine(answer, want)
    scale = float(answer.norm() / want.norm().clamp_min(1e-30))
    if cos > 0.999 and abs(scale - 1) < 1e-3:
        return passed(f"matches explain.input_gradient (cosine {cos:.4f}, scale {scale:.3f}); "
                      "this is the gradient every attack of the course starts from")
    if cos < -0.999:
        return failed("right size, opposite sign: differentiate the loss itself (not −loss), the direction "
                      "in which the loss grows")
    if cos > 0.999:
        n = x.shape[0]
        if abs(scale * n - 1) < 1e-2:
            return failed(f"right direction but {n}× too small: the loss was averaged over the batch, not summed, "
                          "so each photo's gradient shrank")
        return failed(f"right direction, wrong size (yours is {scale:.3g}× the package's): differentiate "
                      "the summed cross-entropy of the logits, not probabilities or a scaled loss")
    return failed(f"points elsewhere (cosine similarity {cos:.2f} with the package's): check that you used "
                  "the true labels y, the logits model(x) (not softmax), and cross-entropy")
