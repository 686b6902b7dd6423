"""Defences against adversarial examples, and the adaptive attacks that test them. Taught in 08_defences.

* :func:`train` — adversarial training (clean + attacked mix), single process or DDP;
* :class:`RandomResizePad` — random resizing and padding in front of any model (Xie et al. 2018);
* :class:`EOT` — expectation over transformation, which turns every attack in
  :mod:`advcourse.attacks` into an adaptive attack on a randomised defence (Athalye et al. 2018);
* :func:`negative_tradeoff` — fine-tuning on negative images, alone or mixed with regular ones;
* :func:`certify`, :func:`predict` — randomized smoothing (Cohen et al. 2019), a defence with a
  proof: an L2 radius within which no attack can change the answer (taught in 11_evaluation).

    >>> from advcourse.defences import RandomResizePad, EOT
    >>> defended = RandomResizePad(model)
    >>> x_adv = pgd(EOT(defended, samples=8), x, y, eps=8/255, step_size=2/255, steps=10)
"""

from advcourse.defences.eot import EOT
from advcourse.defences.negatives import NegativeTradeoff, negative_tradeoff
from advcourse.defences.randomization import RandomResizePad, TransferSweep, hit_rate, transfer_sweep
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
