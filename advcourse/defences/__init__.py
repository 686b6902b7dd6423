"""Defences against adversarial examples, and the adaptive attacks that test them. Taught in 08_defences.

- :mod:`~advcourse.defences.training` — :func:`train`: adversarial training (clean + attacked mix),
  single process or DDP, and the accuracy/robustness curves it logs;
- :mod:`~advcourse.defences.randomization` — how well random resize & pad (the transform is
  :class:`~advcourse.core.transforms.RandomResizePad`, Xie et al. 2018) undoes transferred attacks;
  :class:`EOT` (from :mod:`advcourse.core.transforms`) turns every attack in :mod:`advcourse.attacks`
  into an adaptive attack on such a randomised defence (Athalye et al. 2018);
- :mod:`~advcourse.defences.negatives` — fine-tuning on negative images, alone or mixed with regular ones;
- :mod:`~advcourse.defences.smoothing` — randomized smoothing (Cohen et al. 2019), a defence with a
  proof: an L2 radius within which no attack can change the answer (taught in 11_evaluation);
- :mod:`~advcourse.defences.digits` — the course's one digits model and its defended copies.

    >>> from advcourse.defences import RandomResizePad, EOT
    >>> defended = RandomResizePad(model)
    >>> x_adv = pgd(EOT(defended, samples=8), x, y, eps=8/255, step_size=2/255, steps=10)
"""

from advcourse.core.transforms import EOT, RandomResizePad
from advcourse.defences.negatives import NegativeTradeoff, negative_tradeoff
from advcourse.defences.randomization import TransferSweep, hit_rate, transfer_sweep
from advcourse.defences.smoothing import (
    ABSTAIN, AccuracyCurve, Certificate, GaussianNoise, certified_accuracy, certify, pgd_accuracy,
    plot_accuracy_curves, predict, train_digits_cnn,
)
from advcourse.defences.training import History, evaluate, plot_histories, train, unwrap

__all__ = [
    "ABSTAIN", "AccuracyCurve", "Certificate", "GaussianNoise", "certified_accuracy", "certify", "pgd_accuracy",
    "plot_accuracy_curves", "predict", "train_digits_cnn",
    "EOT", "History", "NegativeTradeoff", "RandomResizePad", "TransferSweep", "evaluate", "hit_rate", "negative_tradeoff",
    "plot_histories", "train", "transfer_sweep", "unwrap",
]
