"""Shadow models: many digits CNNs, each trained on a random half of the data, all at once.

Taught in 13_privacy. LiRA (Carlini et al. 2022) compares what a target model says about an example
with what models trained *with* and *without* that example say; those reference models are the
shadows. Public implementations train them one by one for hours on GPUs. The digits CNN is small, so
here every shadow is a slice of one stacked model (:func:`torch.func.stack_module_state`), the
forward and backward passes of all of them run as one batched call (:func:`torch.vmap` over
:func:`torch.func.functional_call`), and one Adam step updates all of them (Adam works element by
element, so a stacked Adam is exactly one Adam per model).

Membership follows the paper's recipe: for every example, exactly half of the models (rounded down)
are drawn to train on it, so each model sees about half the data and each example has as many IN
as OUT models.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call, stack_module_state

from advcourse.core import checks
from advcourse.core.formatting import rounded_repr
from advcourse.core.progress import progress_bar
from advcourse.models.nets import DigitsCNN

__all__ = ["Shadows", "train_shadow_models"]


@dataclass
class Shadows:
    """Models trained on random halves of one data set.

    Attributes:
        models: ``n_models`` trained :class:`~advcourse.models.nets.DigitsCNN`, in eval mode.
        members: (n_models, N) bool: ``members[m, i]`` is True when model m trained on example i.
        epsilon: the largest ε any of them spent when trained with DP-SGD
            (:func:`~advcourse.privacy.dp_shadow_models`); ``inf`` for ordinary training.
    """

    __repr__ = rounded_repr

    models: list[nn.Module]
    members: Tensor
    epsilon: float = math.inf


def memberships(n_models: int, n: int, generator: torch.Generator | None) -> Tensor:
    """(n_models, n) bool: for every example, exactly ``n_models // 2`` models drawn to train on it."""
    ranks = torch.rand(n_models, n, generator=generator).argsort(0).argsort(0)
    return ranks < n_models // 2


def _batches(members: Tensor, batch_size: int, generator: torch.Generator | None) -> Tensor:
    """(steps, n_models, batch_size) row indices for one epoch: each model's members in its own random
    order, cycled so that every model takes the same number of steps."""
    orders = []
    longest = int(members.sum(1).max())
    steps = math.ceil(longest / batch_size)
    for rows in members:
        own = rows.nonzero().squeeze(1)
        order = own[torch.randperm(len(own), generator=generator)]
        orders.append(order.repeat(math.ceil(steps * batch_size / max(len(order), 1)))[:steps * batch_size])
    return torch.stack(orders).view(len(members), steps, batch_size).transpose(0, 1)


def check_digits(x: object, y: object) -> Tensor:
    """Check (N, 1, 8, 8) digits ``x`` in [0, 1] and their (N,) labels ``y`` in [0, 10); returns ``y``."""
    checks.check_images(x, channels=1)
    if y is None:
        raise TypeError("y: expected a LongTensor of labels, shape (N,), got None")
    y = checks.check_labels(y, x)
    if len(y) and int(y.max()) >= 10:
        raise ValueError(f"y: expected digit labels in [0, 10), got {int(y.max())}")
    return y


def _check(x: Tensor, y: object, n_models: object, epochs: object, lr: object, batch_size: object,
           width: object) -> tuple[Tensor, int, int, float, int, int]:
    y = check_digits(x, y)
    n_models = checks.check_count(n_models, "n_models", minimum=2)
    return (y, n_models, checks.check_count(epochs, "epochs", minimum=1), checks.check_positive(lr, "lr"),
            checks.check_count(batch_size, "batch_size", minimum=1), checks.check_count(width, "width", minimum=1))


def train_shadow_models(x: Tensor, y: Tensor, *, n_models: int, generator: torch.Generator | None = None,
                        epochs: int = 4, lr: float = 3e-3, batch_size: int = 32, width: int = 16,
                        batched: bool = True, progress: bool = True) -> Shadows:
    """Train ``n_models`` DigitsCNNs, each on about half of ``(x, y)``, with the course's digits recipe.

    Args:
        x: (N, 1, 8, 8) digits in [0, 1]; y: (N,) labels in [0, 10).
        n_models: how many models (>= 2); every example is IN for ``n_models // 2`` of them.
        generator: ``torch.Generator`` on the CPU for the halves, the initial weights and the batches.
        epochs, lr, batch_size, width: the recipe (defaults: :data:`advcourse.defences.digits.RECIPE`).
        batched: True trains all models as one stacked model (fast); False trains them one by one on
            exactly the same batches (the reference the speed-up is measured against).
        progress: a bar over the epochs.

    Returns:
        :class:`Shadows`, models on ``x``'s device, in eval mode.
    """
    y, n_models, epochs, lr, batch_size, width = _check(x, y, n_models, epochs, lr, batch_size, width)
    checks.check_bool(batched, "batched")
    checks.check_generator(generator)
    members = memberships(n_models, len(y), generator).to(x.device)
    seeds = torch.randint(2**31, (n_models,), generator=generator).tolist()
    models = []
    for seed in seeds:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            models.append(DigitsCNN(width=width).to(x.device))
    epoch_batches = [_batches(members.cpu(), batch_size, generator).to(x.device) for _ in range(epochs)]
    if batched:
        _train_stacked(models, x, y, epoch_batches, lr, progress)
    else:
        for m, model in enumerate(progress_bar(models, enabled=progress, desc="shadow models", leave=False)):
            optimizer = torch.optim.Adam(model.parameters(), lr=lr)
            for batches in epoch_batches:
                for rows in batches[:, m]:
                    optimizer.zero_grad()
                    F.cross_entropy(model(x[rows]), y[rows]).backward()
                    optimizer.step()
    for model in models:
        for p in model.parameters():
            p.grad = None
        model.eval()
    return Shadows(models, members)


def _train_stacked(models: list[nn.Module], x: Tensor, y: Tensor, epoch_batches: list[Tensor], lr: float,
                   progress: bool) -> None:
    """Train ``models`` in place as one stacked model on ``epoch_batches`` ((steps, M, B) rows each)."""
    params, buffers = stack_module_state(models)
    base = copy.deepcopy(models[0]).to("meta")

    def loss(p: dict, b: dict, xb: Tensor, yb: Tensor) -> Tensor:
        return F.cross_entropy(functional_call(base, (p, b), (xb,)), yb)

    losses = torch.vmap(loss)
    optimizer = torch.optim.Adam(params.values(), lr=lr)
    for batches in progress_bar(epoch_batches, enabled=progress, desc="shadow models (epochs)", leave=False):
        for rows in batches:
            optimizer.zero_grad()
            losses(params, buffers, x[rows], y[rows]).sum().backward()  # the sum: each model gets its own gradient
            optimizer.step()
    with torch.no_grad():
        for m, model in enumerate(models):
            for name, p in model.named_parameters():
                p.copy_(params[name][m])
