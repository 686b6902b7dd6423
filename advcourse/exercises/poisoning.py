"""Checked exercises of 12_poisoning: how few poisons a backdoor needs, and a detector's TPR by hand.

Taught in 12_poisoning. Each check returns a :class:`~advcourse.exercises.Feedback` with a hint.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from advcourse.core import checks
from advcourse.exercises import Feedback, as_number, failed, is_unanswered, passed
from advcourse.exercises.room import exercise
from advcourse.poisoning.detect import check_flags
from advcourse.poisoning.study import PoisonSweep

__all__ = ["check_poisons_needed", "check_tpr"]


@exercise
def check_poisons_needed(answer: Any, sweep: PoisonSweep, *, success: float) -> Feedback:
    """Is ``answer`` the fewest poisoned rows in ``sweep.poisons`` at which the backdoor's attack
    success reaches ``success`` (in (0, 1])?"""
    checks.check_instance(sweep, PoisonSweep, "sweep", "made by advcourse.poisoning.study.backdoor_sweep")
    if "attack success" not in sweep.curves:
        raise ValueError("sweep: expected a backdoor sweep (it has an 'attack success' curve), got a label-flipping one")
    success = checks.check_positive(success, "success")
    if success > 1:
        raise ValueError(f"success: expected a share of the triggered digits in (0, 1], got {success:g}")
    if is_unanswered(answer):
        return failed("replace ... with a number of rows: walk along sweep.poisons and sweep.curves['attack success'] "
                      f"together and stop where the success first reaches {success:g}")
    value = as_number(answer)
    if value is None:
        return failed(f"expected a number of training rows, got {type(answer).__name__}")
    reached = [n for n, s in zip(sweep.poisons, sweep.curves["attack success"]) if s >= success]
    if not reached:
        return failed(f"no rate in this sweep reaches {success:.0%}; sweep higher rates")
    expected = reached[0]
    share = expected / (sweep.poisons[-1] / sweep.rates[-1]) if sweep.rates[-1] else float("nan")
    if value == expected:
        return passed(f"{expected} rows, {share:.1%} of the training set: an attacker who controls a few dozen "
                      "scraped or outsourced images owns the model's answer to every triggered input")
    if 0 < value < 1 and any(math.isclose(value, r) for r in sweep.rates):
        return failed("that is a rate; the question asks for rows (sweep.poisons)")
    if value in sweep.poisons and value > expected:
        return failed(f"that many poisons do reach {success:.0%}, but fewer already do: find the first")
    if value in sweep.poisons:
        return failed(f"with that many poisons the attack success is still below {success:.0%}")
    return failed("give one of the values in sweep.poisons")


@exercise
def check_tpr(answer: Any, flagged: torch.Tensor, is_poison: torch.Tensor) -> Feedback:
    """Is ``answer`` the true-positive rate of ``flagged`` (N,) bool against ``is_poison`` (N,) bool?"""
    is_poison = check_flags(flagged, is_poison)
    if is_unanswered(answer):
        return failed("replace ... with a share in [0, 1]: of the rows that are poisons, which share did the "
                      "detector flag?")
    value = as_number(answer)
    if value is None:
        return failed(f"expected a number in [0, 1], got {type(answer).__name__}")
    tp = int((flagged & is_poison).sum())
    poisons, flags, clean = int(is_poison.sum()), int(flagged.sum()), int((~is_poison).sum())
    tpr = tp / poisons if poisons else float("nan")
    if math.isclose(value, tpr, abs_tol=1e-6):
        return passed("poisons flagged over all poisons. Report it with the FPR, the price paid in clean rows "
                      "thrown away")
    if math.isclose(value, 100 * tpr, abs_tol=1e-4):
        return failed("that is a percentage; give the share in [0, 1]")
    if flags and math.isclose(value, tp / flags, abs_tol=1e-6):
        return failed("that is the precision (poisons among the flagged rows); the TPR divides by all the poisons")
    if clean and math.isclose(value, int((flagged & ~is_poison).sum()) / clean, abs_tol=1e-6):
        return failed("that is the false-positive rate (clean rows flagged); the TPR counts the poisons flagged")
    if math.isclose(value, tp, abs_tol=1e-6):
        return failed("that is a count of poisons flagged; divide by the number of poisons")
    return failed("TPR = poisons flagged / all poisons: count flagged & is_poison, then divide by is_poison.sum()")
