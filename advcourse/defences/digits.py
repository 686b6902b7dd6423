"""The course's defences on the digits, trained in seconds: the models 11_evaluation checks.

Taught in 11_evaluation (the recipes are 08_defences'): a clean :class:`~advcourse.models.nets.DigitsCNN`,
its adversarially fine-tuned copy, and a DigitsCNN trained behind random resize & pad. Each
function seeds its own training and leaves the global random state untouched.
"""

from __future__ import annotations

import copy

import torch

from advcourse.core import checks
from advcourse.models.datasets import load_digits, make_loader
from advcourse.defences.randomization import RandomResizePad
from advcourse.defences.training import train
from advcourse.models.nets import DigitsCNN

__all__ = ["TRAIN_PGD", "clean_digits_cnn", "adversarial_digits_cnn", "randomised_digits_cnn"]

#: 08_defences' training attack: PGD, eps 0.15 (about 2.5 of the digits' 16 grey levels), 5 steps.
TRAIN_PGD = {"eps": 0.15, "step_size": 0.05, "steps": 5}


def _fit(model: torch.nn.Module, seed: int, **params) -> torch.nn.Module:
    digits = load_digits()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        train(model, make_loader(digits.x_train, digits.y_train, batch_size=32, seed=seed), epochs=4, lr=3e-3,
              progress=False, dtype=torch.float64, **params)  # float64: the same model on every CPU
    return model.eval()


def clean_digits_cnn(seed: int = 0) -> DigitsCNN:
    """DigitsCNN (width 16) after 4 epochs of clean training (08_defences' baseline), in eval mode."""
    seed = checks.check_count(seed, "seed")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = DigitsCNN(width=16)
    return _fit(net, seed)


def adversarial_digits_cnn(clean: DigitsCNN, seed: int = 1) -> DigitsCNN:
    """A copy of ``clean`` fine-tuned for 4 epochs on half-PGD batches (:data:`TRAIN_PGD`), in eval mode."""
    checks.check_model(clean)
    seed = checks.check_count(seed, "seed")
    return _fit(copy.deepcopy(clean), seed, attack="pgd", attack_params=TRAIN_PGD, adv_fraction=0.5)


def randomised_digits_cnn(seed: int = 0, min_size: int = 6) -> RandomResizePad:
    """A DigitsCNN trained behind random resize & pad (each 8×8 digit shrunk to ``min_size``–8 pixels
    and placed at random on an 8×8 black canvas), returned with the defence around it, in eval mode.

    The defence keeps drawing in eval mode; its generator is seeded with ``seed``. The bare network
    is ``.model``.
    """
    seed = checks.check_count(seed, "seed")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = DigitsCNN(width=16)
    defended = RandomResizePad(net, out_size=8, min_size=min_size, generator=torch.Generator().manual_seed(seed))
    return _fit(defended, seed)
