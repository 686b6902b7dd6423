"""Expectation over Transformation: turn any attack into an adaptive attack on a random defence.

Taught in 08_defences. A randomised defence answers differently each call, so one gradient of it
points somewhere random, and a plain attack wanders. Athalye, Carlini & Wagner showed that the
fix is to attack the *average* model: differentiate the expectation over the defence's
randomness, estimated with a few samples. :class:`EOT` is that average as an ``nn.Module``, so
every attack in :mod:`advcourse.attacks` becomes adaptive without a line changed.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from advcourse.core import checks

__all__ = ["EOT"]


class EOT(nn.Module):
    """The randomised ``model`` averaged over ``samples`` calls: log of the mean probabilities.

    Paper: Athalye, Carlini & Wagner, 2018, "Obfuscated Gradients Give a False Sense of Security:
        Circumventing Defenses to Adversarial Examples", arXiv:1802.00420 (Sec. 4.3, EOT; the
        method is from Athalye, Engstrom, Ilyas & Kwok, 2018, arXiv:1707.07397).

    Output: ``log( (1/S) Σ_s softmax(model(x))_s )``, computed stably with ``logsumexp``. These
    are valid logits (their softmax is the averaged probability vector), so:

    * ``argmax`` is the prediction of the defence in expectation (what it says most of the time);
    * the cross-entropy an attack ascends is ``−log E[p_y]``: the loss of the expected classifier,
      whose gradient is the sample average of each draw's gradient weighted by how much that draw
      still believes ``y``. Averaging probabilities, not raw logits, keeps one draw with large
      logits from outvoting the rest, and it matches how a randomised defence is scored.

    ``average="logits"`` gives the plain mean of the logits instead (then the gradient of any
    linear function of the output is exactly the mean of the per-draw gradients).

    Args:
        model: a randomised ``nn.Module`` (e.g. :class:`~advcourse.defences.RandomResizePad`)
            mapping (N, C, H, W) in [0, 1] to (N, K) logits.
        samples: number of random draws averaged per call (>= 1). Cost: ``samples`` forward (and,
            under an attack, backward) passes per call.
        average: ``"probs"`` (default) or ``"logits"``.

    Shape: x (N, C, H, W) -> (N, K). Works in train and eval mode alike.

    Example:
        >>> x_adv = pgd(EOT(defended, samples=8), x, y, eps=8/255, step_size=2/255, steps=10)
    """

    def __init__(self, model: nn.Module, *, samples: int = 8, average: str = "probs") -> None:
        super().__init__()
        self.model = checks.check_model(model)
        self.samples = checks.check_count(samples, "samples", minimum=1)
        if not isinstance(average, str) or average not in ("probs", "logits"):
            raise ValueError(f"average: expected 'probs' or 'logits', got {average!r}")
        self.average = average

    def forward(self, x: Tensor) -> Tensor:
        draws = torch.stack([self.model(x) for _ in range(self.samples)])  # (S, N, K)
        if self.average == "logits":
            return draws.mean(0)
        return torch.logsumexp(draws.log_softmax(-1), dim=0) - math.log(self.samples)
