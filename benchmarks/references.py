"""The peers' attacks, called one way: the independent references that tests and benchmarks compare with.

The reference tests (``tests/test_*_reference.py``) check that the course's attacks match these;
the benchmarks (``benchmarks/*.py``) time them side by side. Both import the runners below, so a
test and a benchmark never call a peer two different ways. Each runner counts every image the peer
sends to the model with :class:`~advcourse.attacks.QueryCounter`, and leaves the global random
state (torch's and NumPy's) as it found it.

- :func:`torchattacks_square` — torchattacks 3.3.0 ``Square`` (Andriushchenko et al. 2020);
- :func:`art_simba` — ART 1.20.1 ``SimBA`` (Guo et al. 2019), one image at a time as ART does;
- :func:`foolbox_hopskipjump` — foolbox 3.3.4 ``HopSkipJumpAttack`` (Chen et al. 2020);
- :func:`digits_victim` — the course's one digits model and test digits labelled by it.

The peers are test dependencies (``pip install -e .[test]``), imported on first call.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from advcourse.attacks import QueryCounter

__all__ = ["digits_victim", "torchattacks_square", "art_simba", "foolbox_hopskipjump"]


def digits_victim(n: int = 32) -> tuple[nn.Module, Tensor, Tensor]:
    """(model, x, y): :func:`advcourse.defences.digits.clean_digits_cnn`, the first ``n`` test digits
    (n, 1, 8, 8) in [0, 1] and the model's own answers on them (n,)."""
    from advcourse.defences.digits import clean_digits_cnn
    from advcourse.models.datasets import load_digits

    net, x = clean_digits_cnn(), load_digits().x_test[:n]
    with torch.no_grad():
        return net, x, net(x).argmax(1)


def torchattacks_square(model: nn.Module, x: Tensor, y: Tensor, *, eps: float, queries: int, seed: int,
                        norm: str = "linf", p_init: float = 0.05) -> tuple[Tensor, Tensor]:
    """torchattacks' ``Square`` (margin loss, rescaled schedule), run as its ``perturb()`` runs it.

    Returns (success (N,) bool, queries (N,) int64), queries counted from its start point (the
    stripes for L∞, the meta windows for L2): the course's ``square`` counts one more, the query at ``x``.
    """
    import torchattacks

    attack = torchattacks.Square(model, norm={"linf": "Linf", "l2": "L2"}[norm], eps=eps, n_queries=queries,
                                 p_init=p_init, loss="margin", resc_schedule=True, seed=seed)
    attack.init_hyperparam(x)  # what its perturb() does before attack_single_run
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        n_queries, x_best = attack.attack_single_run(x, y)
    with torch.no_grad():
        return model(x_best).argmax(1) != y, n_queries.long()


def art_simba(model: nn.Module, x: Tensor, *, basis: str, eps: float, max_iter: int, seed: int,
              low_freq: int = 2, stride: int = 2, num_classes: int = 10) -> tuple[Tensor, Tensor]:
    """ART's ``SimBA`` on each image of ``x`` (N, C, H, W) in turn.

    ART wants probabilities, so the model is wrapped as ``softmax(model(x))``; it queries both
    ``x ± eps·q`` for every direction (``1 + 2·max_iter`` images per image at most, its first one at
    ``x`` included). Its orders come from NumPy's global generator, seeded here and restored after.

    Returns (x_adv (N, C, H, W), queries (N,) int64).
    """
    from art.attacks.evasion import SimBA
    from art.estimators.classification import PyTorchClassifier

    counter = QueryCounter(model)
    classifier = PyTorchClassifier(nn.Sequential(counter, nn.Softmax(1)), loss=nn.CrossEntropyLoss(),
                                   input_shape=tuple(x.shape[1:]), nb_classes=num_classes, clip_values=(0.0, 1.0),
                                   channels_first=True, device_type="cpu")
    attack = SimBA(classifier, attack="px" if basis == "pixel" else "dct", max_iter=max_iter, epsilon=eps,
                   freq_dim=low_freq, stride=stride, verbose=False)
    state = np.random.get_state()
    np.random.seed(seed)
    x_adv, queries = [], []
    try:
        for image in x.split(1):
            before = counter.images
            x_adv.append(torch.from_numpy(attack.generate(image.numpy())))
            queries.append(counter.images - before)
    finally:
        np.random.set_state(state)
    return torch.cat(x_adv), torch.tensor(queries)


def foolbox_hopskipjump(model: nn.Module, x: Tensor, y: Tensor, *, steps: int, seed: int = 0) -> tuple[Tensor, int]:
    """foolbox's ``HopSkipJumpAttack`` (L2, gamma 1, 100 to 10 000 gradient-estimate queries) for ``steps``
    iterations, untargeted against ``y``.

    Returns (x_adv (N, C, H, W), the queries it spent per image: every image it sent, over N).
    """
    import foolbox

    counter = QueryCounter(model)
    attack = foolbox.attacks.HopSkipJumpAttack(steps=steps, initial_gradient_eval_steps=100,
                                               max_gradient_eval_steps=10_000, gamma=1.0, constraint="l2")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        raw, _, _ = attack(foolbox.PyTorchModel(counter, bounds=(0, 1)), x, foolbox.criteria.Misclassification(y),
                           epsilons=None)
    return raw, counter.images // len(x)
