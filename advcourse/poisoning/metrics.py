"""How a backdoor is scored: clean accuracy, attack success rate, robust accuracy (as BackdoorBench does).

Taught in 12_poisoning. A backdoored model must look healthy (clean accuracy, on clean test images)
and obey the trigger (attack success: triggered test images of other classes that it reads as the
target). Robust accuracy is the other side: triggered images it still reads as their true class.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from advcourse.attacks import _core
from advcourse.core import checks
from advcourse.core.formatting import rounded_repr
from advcourse.poisoning.triggers import Trigger, add_trigger

__all__ = ["BackdoorScores", "backdoor_scores"]


@dataclass
class BackdoorScores:
    """Fractions in [0, 1] over a test set.

    Attributes:
        clean_accuracy: clean test images read right.
        attack_success: triggered test images whose true class is not ``target``, read as ``target``.
        robust_accuracy: the same triggered images, still read as their true class.
        attacked: how many test images the last two are over (those not of the target class).
    """

    __repr__ = rounded_repr

    clean_accuracy: float
    attack_success: float
    robust_accuracy: float
    attacked: int


def backdoor_scores(model: nn.Module, x: Tensor, y: Tensor, *, target: int, trigger: Trigger) -> BackdoorScores:
    """Score a (possibly) backdoored ``model`` on a clean test set ``(x, y)``.

    Args:
        model: ``nn.Module`` mapping (N, C, H, W) in [0, 1] to (N, K) logits (left exactly as found).
        x: (N, C, H, W) clean test images in [0, 1]; y: (N,) their true labels.
        target: the backdoor's class.
        trigger: the trigger to stamp on the test images.

    Returns:
        :class:`BackdoorScores`.
    """
    checks.check_model(model)
    checks.check_images(x)
    y = checks.check_labels(y, x)
    target = checks.check_count(target, "target")
    triggered = add_trigger(x, trigger)
    others = y != target
    with checks.frozen(model, x), torch.no_grad():
        logits = _core.logits_of(model, x, y)
        if target >= logits.shape[1]:
            raise ValueError(f"target: expected a class of the model's {logits.shape[1]}, got {target}")
        clean = logits.argmax(1)
        answer = _core.logits_of(model, triggered[others]).argmax(1) if others.any() else y[:0]
    n = int(others.sum())
    return BackdoorScores(float((clean == y).float().mean()),
                          float((answer == target).float().mean()) if n else float("nan"),
                          float((answer == y[others]).float().mean()) if n else float("nan"), n)
