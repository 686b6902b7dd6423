"""The course's digits models, trained in seconds: one recipe, shared by notebooks, tests and benchmarks.

:func:`clean_digits_cnn` is *the* digits model of the course — 08_defences trains it step by step,
09_black_box attacks it with queries, 11_evaluation checks it, and the reference tests and benchmarks
compare attacks on it — so every number about "the digits CNN" is about the same network. The
other two are 08's defences built on the same recipe: its adversarially fine-tuned copy, and a
DigitsCNN trained behind random resize & pad. Each function seeds its own training, trains in
float64 and leaves the global random state untouched. Float64 makes the weights the same at any
thread count on one kind of kernel, but not everywhere: PyTorch's plain (``default``) kernels train
weights that differ from the AVX-512 ones by up to ~4 % (measured on the clean model and a
backdoored one, 6 December 2026), as another processor would, and training amplifies such last-bit
differences like a change of seed. Notebooks therefore print only claims that hold for either.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor

from advcourse.core import checks
from advcourse.models.datasets import load_digits, make_loader
from advcourse.core.transforms import RandomResizePad
from advcourse.defences.training import train
from advcourse.models.nets import DigitsCNN

__all__ = ["RECIPE", "TRAIN_PGD", "clean_digits_cnn", "fit_digits_cnn", "adversarial_digits_cnn", "randomised_digits_cnn"]

#: The recipe: DigitsCNN width, epochs over the 1348 training digits, Adam's learning rate, batch size.
RECIPE = {"width": 16, "epochs": 4, "lr": 3e-3, "batch_size": 32}

#: 08_defences' training attack: PGD, eps 0.15 (about 2.5 of the digits' 16 grey levels), 5 steps.
TRAIN_PGD = {"eps": 0.15, "step_size": 0.05, "steps": 5}


def _fit(model: torch.nn.Module, seed: int, x: Tensor | None = None, y: Tensor | None = None,
         **params) -> torch.nn.Module:
    """Train ``model`` with :data:`RECIPE` on ``(x, y)`` (default: the digits' training set), in eval mode."""
    if x is None:
        digits = load_digits()
        x, y = digits.x_train, digits.y_train
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        loader = make_loader(x, y, batch_size=RECIPE["batch_size"], seed=seed)
        train(model, loader, epochs=RECIPE["epochs"], lr=RECIPE["lr"], progress=False, dtype=torch.float64,
              **params)  # float64: far fewer rounding differences to amplify than float32
    return model.eval()


def fit_digits_cnn(x: Tensor, y: Tensor, seed: int = 0) -> DigitsCNN:
    """The course's recipe (:data:`RECIPE`) trained on any set of digits, e.g. a poisoned one.

    Args:
        x: (N, 1, 8, 8) training digits in [0, 1]; y: (N,) labels in [0, 10).
        seed: seed of the weights and the shuffle.

    Returns:
        a fresh DigitsCNN, trained, in eval mode: (N, 1, 8, 8) -> (N, 10) logits. ``fit_digits_cnn(
        digits.x_train, digits.y_train)`` is :func:`clean_digits_cnn`.
    """
    checks.check_images(x, channels=1)
    y = checks.check_labels(y, x)
    if int(y.max()) >= 10:
        raise ValueError(f"y: expected digit labels in [0, 10), got {int(y.max())}")
    seed = checks.check_count(seed, "seed")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = DigitsCNN(width=RECIPE["width"])
    return _fit(net, seed, x, y)


def clean_digits_cnn(seed: int = 0) -> DigitsCNN:
    """The course's digits model: DigitsCNN (width 16) after 4 seeded epochs of clean training, in eval mode.

    08_defences' baseline (:data:`RECIPE`); about 97–98 % test accuracy, 2–3 s on one CPU thread.
    Shape: (N, 1, 8, 8) pixels in [0, 1] -> (N, 10) logits.
    """
    seed = checks.check_count(seed, "seed")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = DigitsCNN(width=RECIPE["width"])
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
        net = DigitsCNN(width=RECIPE["width"])
    defended = RandomResizePad(net, out_size=8, min_size=min_size, generator=torch.Generator().manual_seed(seed))
    return _fit(defended, seed)
