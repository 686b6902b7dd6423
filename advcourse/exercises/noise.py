"""Checked exercises of 02_noise.

    >>> check_smallest_eps(answer, model=model, photo="chelsea_cat", levels=EPS_GRID)
    >>> check_matching_sigma(answer, eps=16/255)
    >>> check_noise_threat_model(answer)

Each check works out the right answer itself (by running the model where needed) and answers a
wrong one with a hint.
"""

from __future__ import annotations

import math
from functools import lru_cache
from numbers import Real
from typing import Any, Sequence

from torch import nn

from advcourse.attacks import ATTACKS
from advcourse.exercises import NOT_ANSWERED, Feedback, failed, is_unanswered, passed
from advcourse.exercises.room import exercise
from advcourse.core import checks
from advcourse.models.images import load_image, sample_info
from advcourse.foundations.noise_study import check_levels, smallest_flipping_eps, uniform_std
from advcourse.foundations.threat_models import ThreatModel, parse_threat_model

__all__ = ["check_smallest_eps", "check_matching_sigma", "check_noise_threat_model"]


@lru_cache(maxsize=32)
def _truth(model: nn.Module, photo: str, levels: tuple[float, ...], seed: int) -> float | None:
    return smallest_flipping_eps(model, load_image(photo), levels, seed=seed)


def _number(answer: Any) -> float | None:
    if hasattr(answer, "item") and getattr(answer, "numel", lambda: 1)() == 1:
        answer = answer.item()
    return float(answer) if isinstance(answer, Real) and not isinstance(answer, bool) else None


@exercise
def check_smallest_eps(answer: Any, *, model: nn.Module, photo: str, levels: Sequence[float],
                       seed: int = 0) -> Feedback:
    """Is ``answer`` the smallest eps in ``levels`` at which uniform noise
    ``add_noise(x, eps, seed=seed)`` changes the model's top-1 answer on ``photo``?

    ``answer`` is in pixel units (``24/255``), or ``None`` if the label never changes on the grid.
    """
    checks.check_model(model)
    sample_info(photo)  # a mistyped photo gets "did you mean" before any work
    grid = tuple(sorted(float(v) for v in check_levels(levels)))
    seed = checks.check_count(seed, "seed")
    if answer is NOT_ANSWERED:  # before the model runs: the first hint costs nothing
        return failed("set answer to an eps from the grid, e.g. 8/255")
    truth = _truth(model, photo, grid, seed)
    if answer is None and truth is None:
        return passed(f"no eps up to {grid[-1] * 255:.0f}/255 changes the model's answer on {photo}.")
    value = _number(answer)
    if value is None:
        return failed(f"answer: expected a number such as 8/255, got {type(answer).__name__}")
    if value >= 1 and any(math.isclose(v, value / 255, abs_tol=0.01 / 255) for v in grid):
        return failed(f"budgets are in pixel units: write {value:g}/255, not {value:g}")
    on_grid = [v for v in grid if math.isclose(v, value, abs_tol=0.01 / 255)]
    if not on_grid:
        return failed(f"{value * 255:.2f}/255 is not on the grid; choose one of "
                      f"{', '.join(f'{v * 255:g}/255' for v in grid)}")
    value = on_grid[0]
    if truth is None:
        return failed(f"the model's answer on {photo} never changes on this grid: the answer is None")
    if value == truth:
        return passed(f"the model's answer on {photo} first changes at eps = {truth * 255:g}/255; "
                      "every smaller eps on the grid leaves it alone.")
    if value > truth:
        return failed("too big: a smaller eps of the grid already changes the answer")
    return failed(f"too small: at {value * 255:g}/255 the model still gives its clean answer; try a larger eps")


# Every numeric check has this shape (placeholder -> hint, wrong kind -> say so, then compare), as in
# exercises/pgd.py: the steps are one line each, a shared helper would hide the hints.
@exercise
def check_matching_sigma(answer: Any, *, eps: float = 16 / 255) -> Feedback:
    """Is ``answer`` the sigma of Gaussian noise whose pixel values spread as much (same standard
    deviation, hence the same expected L2 norm) as uniform noise in [-eps, eps]?"""
    eps = checks.check_budget(eps, "eps")
    if is_unanswered(answer):
        return failed("set answer to a sigma in pixel units, written in terms of eps")
    value = _number(answer)
    if value is None:
        return failed(f"answer: expected a number, got {type(answer).__name__}")
    truth = uniform_std(eps)
    if math.isclose(value, truth, rel_tol=0.02):
        return passed(f"sigma = eps/√3 = {truth * 255:.2f}/255: a uniform value in [-eps, eps] has variance eps²/3.")
    if math.isclose(value, eps, rel_tol=0.02):
        return failed("sigma = eps is too big: most uniform values are well inside [-eps, eps]; "
                      "compute the variance of a value uniform in [-eps, eps]")
    if math.isclose(value, eps / 2, rel_tol=0.02):
        return failed("eps/2 is the mean of |value|, but the L2 norm adds up squares: start from the variance")
    direction = "too big" if value > truth else "too small"
    return failed(f"{direction}: that sigma gives a standard deviation of {value * 255:.2f}/255, "
                  f"uniform noise at eps = {eps * 255:g}/255 has a different one")


@exercise
def check_noise_threat_model(answer: Any) -> Feedback:
    """Is ``answer`` the threat model of the noise attack? The truth is the registry's metadata."""
    if is_unanswered(answer):
        return failed("answer with a pair such as ('white', 'targeted')")
    try:
        given = parse_threat_model(answer)
    except (TypeError, ValueError) as err:
        return failed(str(err).removeprefix("answer: "))
    spec = ATTACKS["noise"]
    truth = ThreatModel(spec.box, "targeted" if spec.targeted else "untargeted")
    if given == truth:
        return passed(f"{truth}: noise never looks at the model, and it cannot aim at a class.")
    hints = []
    if given.box != truth.box:
        hints.append("does noise need the model's weights or gradients?")
    if given.goal != truth.goal:
        hints.append("can random noise choose which wrong label comes out?")
    return failed(" ".join(hints))
