"""Random resize and pad in front of a classifier (Xie et al.), and how well it undoes attacks.

Taught in 08_defences. The defence changes nothing in the network: every call rescales each image
to a random size, drops it at a random place on a larger black canvas and only then classifies
it. A perturbation tuned, pixel by pixel, to the bare network lands on a different grid every
time, and much of its effect is gone. Because the randomness is drawn anew on every call — in
eval mode too — an attacker who ignores it sees noisy, misleading gradients; :class:`~advcourse.
core.transforms.EOT` averages it out again (the adaptive attack).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from torch import Tensor, nn

from advcourse.core import checks
from advcourse.attacks import _core, pgd
from advcourse.core.formatting import rounded_repr

__all__ = ["TransferSweep", "transfer_sweep", "hit_rate"]


@dataclass
class TransferSweep:
    """PGD examples crafted on the bare model, then shown to the bare and the defended model.

    Attributes:
        eps: the budgets tried (L∞, pixel units).
        bare_accuracy, defended_accuracy: accuracy in [0, 1] per budget (index 0 is ``eps[0]``).
        x_adv: per budget, the adversarial batch (N, C, H, W) in [0, 1].
        bare_pred, defended_pred: per budget, (N,) predicted classes.
    """

    __repr__ = rounded_repr  # floats rounded: the same on every CPU

    eps: list[float]
    bare_accuracy: list[float]
    defended_accuracy: list[float]
    x_adv: list[Tensor]
    bare_pred: list[Tensor]
    defended_pred: list[Tensor]


def transfer_sweep(model: nn.Module, defended: nn.Module, x: Tensor, y: Tensor, eps: Sequence[float], *,
                   steps: int = 10, step_ratio: float = 0.25, accepted: Sequence[set[int]] | None = None,
                   **params: Any) -> TransferSweep:
    """For each budget: PGD on the bare ``model`` (it never sees the defence), then both verdicts.

    Args:
        model: the bare classifier the attacker differentiates.
        defended: the same classifier behind a defence (e.g. :class:`RandomResizePad`).
        x: (N, C, H, W) in [0, 1]; y: (N,) true labels.
        eps: L∞ budgets, e.g. ``[0, 1/255, 2/255, 4/255, 8/255]``; 0 gives the clean accuracy.
        steps: PGD steps; step_ratio: step size as a fraction of ``eps``.
        **params: more keyword arguments of :func:`~advcourse.attacks.pgd`, e.g. ``early_stop=True,
            random_start=False`` (I-FGSM) or ``generator=...``.
        accepted: optional set of right classes per image (several may be right, e.g. cat breeds,
            as in ``load_samples().accepted``); default: exactly ``y``.
    """
    checks.check_model(model)
    checks.check_model(defended)
    checks.check_images(x)
    y = checks.check_labels(y, x)
    _check_accepted(accepted, x)
    if isinstance(eps, (str, bytes)) or not hasattr(eps, "__iter__"):
        raise TypeError(f"eps: expected a list of budgets such as [0, 2/255, 4/255], got {type(eps).__name__}")
    eps = [checks.check_budget(e, "eps") for e in eps]
    if not eps:
        raise ValueError("eps: expected at least one budget")
    steps = checks.check_count(steps, "steps")
    step_ratio = checks.check_nonnegative(step_ratio, "step_ratio")
    sweep = TransferSweep([], [], [], [], [], [])
    for e in eps:
        x_adv = pgd(model, x, y, eps=e, step_size=step_ratio * e, steps=steps, **params) if e > 0 else x
        bare, defended_pred = _core.predicted_labels(model, x_adv), _core.predicted_labels(defended, x_adv)
        sweep.eps.append(e)
        sweep.x_adv.append(x_adv)
        sweep.bare_pred.append(bare)
        sweep.defended_pred.append(defended_pred)
        sweep.bare_accuracy.append(_hit_rate(bare, y, accepted))
        sweep.defended_accuracy.append(_hit_rate(defended_pred, y, accepted))
    return sweep


def hit_rate(model: nn.Module, x: Tensor, y: Tensor, accepted: Sequence[set[int]] | None = None) -> float:
    """Accuracy in [0, 1] of ``model`` on ``x`` (one no-grad forward; model left as found).

    ``accepted``: optional set of right classes per image (``load_samples().accepted``); default ``y``.
    """
    checks.check_model(model)
    checks.check_images(x)
    y = checks.check_labels(y, x)
    _check_accepted(accepted, x)
    return _hit_rate(_core.predicted_labels(model, x), y, accepted)


def _check_accepted(accepted: object, x: Tensor) -> None:
    """``None`` or one collection of right classes per image."""
    if accepted is None:
        return
    if isinstance(accepted, (str, bytes)) or not hasattr(accepted, "__len__"):
        raise TypeError(f"accepted: expected one set of classes per image, got {type(accepted).__name__}")
    if len(accepted) != x.shape[0]:
        raise ValueError(f"accepted: expected {x.shape[0]} sets of classes (one per image), got {len(accepted)}")


def _hit_rate(pred: Tensor, y: Tensor, accepted: Sequence[set[int]] | None) -> float:
    if accepted is None:
        return float((pred == y).float().mean())
    return sum(int(p) in ok for p, ok in zip(pred.tolist(), accepted)) / len(pred)
