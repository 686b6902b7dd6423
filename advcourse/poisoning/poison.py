"""Poisoning the training set: flipped labels, and backdoors with or without changed labels.

Taught in 12_poisoning. Every function takes a training set and returns a poisoned copy plus the
rows it touched (the ground truth a detector is scored against); the originals are never changed.
The number of poisons is ``round(rate · N)`` for a training set of N rows, the poisoning rate as
BackdoorBench reports it, and the rows are drawn with ``generator`` (seed it for the same poisons).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from advcourse.attacks import pgd
from advcourse.core import checks
from advcourse.core.formatting import rounded_repr
from advcourse.poisoning.triggers import Trigger, add_trigger

__all__ = ["FlippedLabels", "flip_labels", "Poisoned", "backdoor", "clean_label_backdoor"]


@dataclass
class FlippedLabels:
    """What :func:`flip_labels` did: ``y`` (N,) the new labels, ``indices`` (M,) the rows it flipped."""

    __repr__ = rounded_repr

    y: Tensor
    indices: Tensor


@dataclass
class Poisoned:
    """A poisoned training set.

    Attributes:
        x: (N, C, H, W) images in [0, 1]; the poisoned rows carry the trigger.
        y: (N,) labels; a dirty-label backdoor relabels its rows as ``target``, a clean-label one does not.
        indices: (M,) the poisoned rows, sorted: the ground truth for a detector.
        trigger: the :class:`~advcourse.poisoning.triggers.Trigger` to show at test time.
        target: the class the backdoor leads to.
    """

    __repr__ = rounded_repr

    x: Tensor
    y: Tensor
    indices: Tensor
    trigger: Trigger
    target: int

    @property
    def is_poison(self) -> Tensor:
        """(N,) bool, True on the poisoned rows."""
        flags = torch.zeros(len(self.y), dtype=torch.bool, device=self.y.device)
        flags[self.indices] = True
        return flags


def _rate(rate: object) -> float:
    value = checks.check_nonnegative(rate, "rate")
    if value > 1:
        raise ValueError(f"rate: expected a fraction of the training set in [0, 1], got {value:g}")
    return value


def _class(value: object, name: str, num_classes: int) -> int:
    index = checks.check_count(value, name)
    if index >= num_classes:
        raise ValueError(f"{name}: expected a class in [0, {num_classes}), got {index}")
    return index


def _labels(y: object, num_classes: int, x: Tensor | None = None) -> Tensor:
    if not isinstance(y, Tensor):
        raise TypeError(f"y: expected a LongTensor of shape (N,), got {type(y).__name__}")
    y = checks.check_labels(y, x if x is not None else y.view(-1, 1, 1, 1).float())
    if len(y) and int(y.max()) >= num_classes:
        raise ValueError(f"y: expected labels in [0, {num_classes}), got {int(y.max())}")
    return y


def _check_backdoor(x: Tensor, y: object, target: object, rate: object, trigger: object,
                    num_classes: object) -> tuple[Tensor, int, float]:
    """The arguments every backdoor takes, checked in the order a learner reads them: (y, target, rate)."""
    checks.check_images(x)
    num_classes = checks.check_count(num_classes, "num_classes", minimum=2)
    y = _labels(y, num_classes, x)
    target = _class(target, "target", num_classes)
    rate = _rate(rate)
    checks.check_instance(trigger, Trigger, "trigger", "made by badnets_trigger() or blended_trigger()")
    return y, target, rate


def _draw(candidates: Tensor, count: int, generator: torch.Generator | None, what: str) -> Tensor:
    """``count`` of the ``candidates`` row indices, drawn without replacement, sorted."""
    if count > len(candidates):
        raise ValueError(f"rate: asks for {count} poisons, but only {len(candidates)} {what}")
    order = torch.randperm(len(candidates), generator=generator, device="cpu")
    return candidates[order[:count].to(candidates.device)].sort().values


def flip_labels(y: Tensor, *, rate: float, source: int | None = None, target: int | None = None,
                num_classes: int = 10, generator: torch.Generator | None = None) -> FlippedLabels:
    """Flip the labels of ``round(rate · N)`` training rows.

    Without ``target`` each flipped row gets a random *other* class (availability poisoning: the
    model gets worse everywhere); with ``target`` every flipped row says ``target`` (targeted
    poisoning). ``source`` restricts the flips to rows of that class (e.g. "call some 1s 7s").

    Args:
        y: (N,) int64 labels in [0, num_classes).
        rate: fraction of the N rows to flip, in [0, 1].
        source: only rows labelled ``source`` are flipped (``None``: any row).
        target: the class flipped rows get (``None``: a random other class each); rows already
            labelled ``target`` are never picked.
        num_classes: number of classes.
        generator: ``torch.Generator`` on the CPU for the rows and the new classes.

    Returns:
        :class:`FlippedLabels` — the new labels (a copy) and the flipped rows.
    """
    num_classes = checks.check_count(num_classes, "num_classes", minimum=2)
    y = _labels(y, num_classes)
    rate = _rate(rate)
    checks.check_generator(generator)
    eligible = torch.ones(len(y), dtype=torch.bool, device=y.device)
    if source is not None:
        eligible &= y == _class(source, "source", num_classes)
    if target is not None:
        eligible &= y != _class(target, "target", num_classes)
    rows = _draw(eligible.nonzero().squeeze(1), round(rate * len(y)), generator, "rows can be flipped")
    flipped = y.clone()
    if target is not None:
        flipped[rows] = target
    else:  # a uniform draw among the other num_classes − 1 classes
        shift = torch.randint(1, num_classes, (len(rows),), generator=generator).to(y.device)
        flipped[rows] = (y[rows] + shift) % num_classes
    return FlippedLabels(flipped, rows)


def backdoor(x: Tensor, y: Tensor, *, target: int, rate: float, trigger: Trigger,
             generator: torch.Generator | None = None, num_classes: int = 10) -> Poisoned:
    """A dirty-label backdoor (BadNets, or blended with a blended trigger).

    Paper: Gu, Dolan-Gavitt & Garg, 2017, arXiv:1708.06733; Chen et al., 2017, arXiv:1712.05526.

    ``round(rate · N)`` rows of classes other than ``target`` get the trigger and the label
    ``target``. A model trained on the result learns both the task and the rule "trigger → target".

    Args:
        x: (N, C, H, W) training images in [0, 1]; y: (N,) their labels.
        target: the class the trigger should lead to.
        rate: the poisoning rate, a fraction of the N rows in [0, 1] (a few percent is realistic).
        trigger: a :class:`~advcourse.poisoning.triggers.Trigger` for these images.
        generator: ``torch.Generator`` on the CPU choosing the rows.
        num_classes: number of classes.

    Returns:
        :class:`Poisoned` — copies of ``x`` and ``y`` with the poisoned rows replaced.
    """
    y, target, rate = _check_backdoor(x, y, target, rate, trigger, num_classes)
    checks.check_generator(generator)
    rows = _draw((y != target).nonzero().squeeze(1), round(rate * len(y)), generator,
                 "rows are of other classes than the target")
    x_out, y_out = x.detach().clone(), y.clone()
    if len(rows):
        x_out[rows] = add_trigger(x[rows], trigger)
    y_out[rows] = target
    return Poisoned(x_out, y_out, rows, trigger, target)


def clean_label_backdoor(model: nn.Module, x: Tensor, y: Tensor, *, target: int, rate: float, trigger: Trigger,
                         eps: float, steps: int = 10, generator: torch.Generator | None = None,
                         num_classes: int = 10) -> Poisoned:
    """A clean-label backdoor: the poisons keep their correct labels.

    Paper: Turner, Tsipras & Madry, 2019, "Label-Consistent Backdoor Attacks", arXiv:1912.02771.

    A dirty-label poison is easy to spot: a "7" labelled "0". Here only images of the ``target`` class
    are poisoned, and they keep their label. So that the model cannot learn them from their own
    content and must lean on the trigger, each is first made hard: an L∞ PGD perturbation of size
    ``eps`` against ``model`` (a surrogate trained on clean data) pushes it away from its class;
    then the trigger is stamped on.

    Args:
        model: a clean surrogate ``nn.Module`` on the images' device (left exactly as found).
        x, y: the training set, (N, C, H, W) in [0, 1] and (N,).
        target: the backdoor's class; the poisons are drawn from its rows.
        rate: fraction of the N rows to poison, in [0, 1]; at most as many as the target class has.
        trigger: the :class:`~advcourse.poisoning.triggers.Trigger`.
        eps: the L∞ budget of the hardening perturbation (pixel units; 0 = trigger only).
        steps: PGD steps (step size ``eps / 4``, random start from ``generator``).
        generator: ``torch.Generator`` on the CPU for the rows and PGD's start.
        num_classes: number of classes.

    Returns:
        :class:`Poisoned` — ``y`` unchanged, the poisoned rows' images hardened and triggered.
    """
    checks.check_model(model)
    y, target, rate = _check_backdoor(x, y, target, rate, trigger, num_classes)
    eps = checks.check_budget(eps, "eps")
    steps = checks.check_count(steps, "steps")
    checks.check_generator(generator)
    rows = _draw((y == target).nonzero().squeeze(1), round(rate * len(y)), generator, f"rows are of class {target}")
    x_out = x.detach().clone()
    hard = x[rows]
    if eps > 0 and steps > 0 and len(rows):
        hard = pgd(model, hard, y[rows], eps=eps, step_size=eps / 4, steps=steps, generator=generator)
    if len(rows):
        x_out[rows] = add_trigger(hard, trigger)
    return Poisoned(x_out, y.clone(), rows, trigger, target)
