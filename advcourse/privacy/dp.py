"""Differentially private training (DP-SGD) of the digits CNN with Opacus, and what it buys.

Taught in 13_privacy. DP-SGD (Abadi et al. 2016, "Deep Learning with Differential Privacy", CCS)
changes two things in each optimiser step: every example's gradient is clipped to norm at most C
(``max_grad_norm``), so no single digit can pull the weights far, and Gaussian noise of standard
deviation σ·C is added to the summed gradient, so what remains of any one digit is hidden in it.
Batches are drawn by Poisson sampling (each example joins each batch with probability q). A privacy
accountant turns (σ, q, steps) into the guarantee (ε, δ): for *any* membership attack and any
threshold, its true-positive rate is at most ``e^ε · FPR + δ`` (:func:`tpr_bound`). Opacus
(the field's library) does the per-example gradients, the clipping and noise, the sampling and the
accounting (:class:`opacus.PrivacyEngine`, Rényi-DP accountant); this module wraps it in the
course's recipe, seeded, and hands back a plain :class:`~advcourse.models.nets.DigitsCNN`.

:func:`dp_shadow_models` trains many models on random halves with the same private recipe, so that
LiRA can be run against private models exactly as against ordinary ones.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, TensorDataset

from advcourse.core import checks
from advcourse.core.formatting import rounded_repr
from advcourse.core.progress import progress_bar
from advcourse.models.nets import DigitsCNN
from advcourse.privacy.shadows import Shadows, check_digits, memberships

__all__ = ["DP_RECIPE", "DPTrained", "dp_train", "dp_shadow_models", "tpr_bound"]

#: The private recipe: larger batches and more epochs than the ordinary digits recipe (noise averages
#: out over a batch), a per-example clipping norm C, and δ well below 1 / (number of digits).
DP_RECIPE = {"epochs": 30, "lr": 1e-2, "batch_size": 128, "max_grad_norm": 0.5, "delta": 1e-5, "width": 16}

#: How Opacus computes the per-example gradients: its module hooks (its default), which work whatever
#: implements ``F.conv2d``. Torch's expanded weights ("ew") are 1.6x faster on the digits CNN and agree
#: within 1e-6, but fail as soon as ``F.conv2d`` is wrapped (as the course's portability tests wrap it).
GRAD_SAMPLE_MODE = "hooks"


@dataclass
class DPTrained:
    """A model trained with DP-SGD and the guarantee it carries; unpacks as ``model, epsilon = dp_train(...)``.

    Attributes:
        model: the trained :class:`DigitsCNN`, a plain module in eval mode (no Opacus hooks left).
        epsilon: the ε spent, from Opacus's accountant (``math.inf`` when trained without privacy).
        delta: the δ of the guarantee.
        noise_multiplier: σ, the noise's standard deviation in units of ``max_grad_norm`` (0 without privacy).
        sample_rate: q, each example's chance to join a batch; steps: how many noisy steps were taken.
    """

    __repr__ = rounded_repr

    model: nn.Module
    epsilon: float
    delta: float
    noise_multiplier: float = 0.0
    sample_rate: float = 0.0
    steps: int = 0

    def __iter__(self) -> Iterator:
        return iter((self.model, self.epsilon))


def _check_epsilon(epsilon: object) -> float:
    if epsilon is None:
        return math.inf
    epsilon = checks.check_positive(epsilon, "epsilon")
    return epsilon


def dp_train(x: Tensor, y: Tensor, *, epsilon: float | None, delta: float = DP_RECIPE["delta"],
             max_grad_norm: float = DP_RECIPE["max_grad_norm"], epochs: int = DP_RECIPE["epochs"],
             lr: float = DP_RECIPE["lr"], batch_size: int = DP_RECIPE["batch_size"], width: int = DP_RECIPE["width"],
             seed: int = 0) -> DPTrained:
    """Train a fresh DigitsCNN on ``(x, y)`` with DP-SGD to a target ε (Opacus), seeded.

    Paper: Abadi, Chu, Goodfellow, McMahan, Mironov, Talwar & Zhang, 2016, "Deep Learning with
        Differential Privacy", CCS.

    Args:
        x: (N, 1, 8, 8) digits in [0, 1]; y: (N,) labels in [0, 10).
        epsilon: the privacy budget to spend over all ``epochs`` (> 0); Opacus picks the noise
            multiplier σ that reaches it. ``None`` or ``math.inf``: the same recipe without clipping
            or noise (the non-private baseline: same optimiser, batches and epochs).
        delta: the guarantee's δ, in (0, 1); keep it below 1 / N.
        max_grad_norm: C, the per-example gradient norm bound (> 0).
        epochs, lr, batch_size, width: the recipe (:data:`DP_RECIPE`); ``batch_size`` is the
            expected size of the Poisson-sampled batches.
        seed: seeds the weights, the batches and the noise.

    Returns:
        :class:`DPTrained` ``(model, epsilon, delta, noise_multiplier)``; the model is on ``x``'s
        device, in float32 and eval mode. Global random state is left untouched.
    """
    y = check_digits(x, y)
    epsilon = _check_epsilon(epsilon)
    delta = checks.check_positive(delta, "delta")
    if delta >= 1:
        raise ValueError(f"delta: expected a probability in (0, 1), got {delta:g}")
    max_grad_norm = checks.check_positive(max_grad_norm, "max_grad_norm")
    epochs = checks.check_count(epochs, "epochs", minimum=1)
    lr = checks.check_positive(lr, "lr")
    batch_size = checks.check_count(batch_size, "batch_size", minimum=1)
    width = checks.check_count(width, "width", minimum=1)
    seed = checks.check_count(seed, "seed")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = DigitsCNN(width=width).to(x.device)  # float32: Opacus's per-example gradients cost 4x a step
        data = TensorDataset(x.float(), y)
        loader = DataLoader(data, batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(seed))
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        if math.isinf(epsilon):
            _fit(model, optimizer, loader, epochs)
            return DPTrained(model.eval(), math.inf, delta)
        from opacus import PrivacyEngine

        with warnings.catch_warnings():
            # Opacus warns that its noise comes from torch's ordinary generator, not a cryptographic one
            # (secure_mode): right for teaching and reproducible runs, wrong for a production release.
            warnings.filterwarnings("ignore", message="Secure RNG turned off")
            # Opacus's per-example gradient hooks fire on the first layer, whose input (the digits) needs no
            # gradient; torch notes it every step. The per-example gradients are right either way.
            warnings.filterwarnings("ignore", message="Full backward hook is firing")
            # In very short runs the best Rényi order is the largest Opacus tries; ε is then a looser upper
            # bound, still a valid one.
            warnings.filterwarnings("ignore", message="Optimal order is the largest alpha")
            engine = PrivacyEngine(accountant="rdp")
            try:
                private, optimizer, loader = engine.make_private_with_epsilon(
                    module=model, optimizer=optimizer, data_loader=loader, target_epsilon=epsilon, target_delta=delta,
                    epochs=epochs, max_grad_norm=max_grad_norm, grad_sample_mode=GRAD_SAMPLE_MODE,
                    noise_generator=torch.Generator(device=x.device).manual_seed(seed + 1))
            except ValueError as err:  # Opacus: no noise multiplier it tries reaches the target
                raise ValueError(f"epsilon: {epsilon:g} is out of reach over {epochs} epochs of {len(loader)} "
                                 f"batches at delta {delta:g} (Opacus: {err}); allow a larger epsilon or delta, or "
                                 "fewer epochs") from None
            _fit(private, optimizer, loader, epochs)
            spent = float(engine.get_epsilon(delta))
        (sigma, rate, steps), = engine.accountant.history  # Opacus's record: one (σ, q, steps) for the whole run
        model = private.to_standard_module()
    return DPTrained(model.eval(), spent, delta, float(sigma), float(rate), int(steps))


def _fit(model: nn.Module, optimizer: torch.optim.Optimizer, loader: DataLoader, epochs: int) -> None:
    model.train()
    for _ in range(epochs):
        for xb, yb in loader:
            optimizer.zero_grad()
            F.cross_entropy(model(xb), yb).backward()
            optimizer.step()
    optimizer.zero_grad(set_to_none=True)


def dp_shadow_models(x: Tensor, y: Tensor, *, n_models: int, epsilon: float | None,
                     generator: torch.Generator | None = None, progress: bool = True, **recipe) -> Shadows:
    """``n_models`` DigitsCNNs trained with :func:`dp_train` (same ε and recipe), each on a random half.

    Membership is drawn as in :func:`~advcourse.privacy.shadows.train_shadow_models`: every example
    is IN for exactly ``n_models // 2`` models. Attack model m with the others as its shadows
    (:func:`~advcourse.privacy.membership.lira_scores` leaves the target out).

    Args:
        x, y: as for :func:`dp_train`; n_models: >= 2; epsilon: as for :func:`dp_train`.
        generator: a CPU ``torch.Generator`` for the halves and the seeds.
        recipe: any of :func:`dp_train`'s recipe arguments.

    Returns:
        :class:`~advcourse.privacy.shadows.Shadows`, models in eval mode.
    """
    y = check_digits(x, y)
    n_models = checks.check_count(n_models, "n_models", minimum=2)
    _check_epsilon(epsilon)
    checks.check_generator(generator)
    members = memberships(n_models, len(y), generator).to(x.device)
    seeds = torch.randint(2**31, (n_models,), generator=generator).tolist()
    trained = [dp_train(x[rows], y[rows], epsilon=epsilon, seed=seed, **recipe)
               for rows, seed in progress_bar(list(zip(members, seeds)), enabled=progress, desc="private models",
                                              leave=False)]
    return Shadows([t.model for t in trained], members, max(t.epsilon for t in trained))


def tpr_bound(epsilon: float, delta: float, fpr: Tensor | float) -> Tensor | float:
    """What (ε, δ)-DP promises: no membership attack's true-positive rate exceeds ``min(1, e^ε·FPR + δ)``
    at false-positive rate ``fpr`` (in [0, 1]), for any threshold (Kairouz et al. 2015)."""
    epsilon = checks.check_nonnegative(epsilon, "epsilon")
    delta = checks.check_nonnegative(delta, "delta")
    if isinstance(fpr, Tensor):
        return (math.exp(epsilon) * fpr + delta).clamp(max=1.0)
    fpr = checks.check_nonnegative(fpr, "fpr")
    return min(1.0, math.exp(epsilon) * fpr + delta)
