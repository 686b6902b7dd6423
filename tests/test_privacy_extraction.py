"""advcourse.privacy.extraction (13): query, steal, agreement, the extraction curve, transfer.

Victim: the course's digits model (``clean_digits_cnn``), trained on the training digits; the thief's
pool is those digits without their labels; agreement is measured on the held-out test digits.
Measured (1 CPU thread, float64 training, seeds 0–3): a copy stolen with all 1348 queries (300 steps)
agrees with the victim on 97.8–98.3 % of the test digits (threshold 93 %); at 25 queries and 200 steps,
probabilities 82–85 % against labels only 69–75 % and probabilities rounded to 1 decimal 75–77 %.
ART 1.20.1's ``CopycatCNN`` (one-hot labels; the same DigitsCNN, Adam 5e-3, batch 32 and 200 steps) at
200 queries, mean of seeds 0 and 1: 93.3 %; ours from labels 93.5 %, from probabilities 95.4 %.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from torch import nn

from advcourse.defences.digits import clean_digits_cnn
from advcourse.models.datasets import load_digits
from advcourse.models.nets import DigitsCNN
from advcourse.privacy.extraction import ExtractionCurve, agreement, extraction_curve, query, steal, transfer_rate

pytestmark = pytest.mark.usefixtures("single_thread")


@pytest.fixture(scope="module")
def digits():
    return load_digits()


@pytest.fixture(scope="module")
def victim():
    return clean_digits_cnn()


@pytest.fixture(scope="module")
def full_copy(victim, digits):
    return steal(victim, digits.x_train)


def _tricky_digits_model() -> nn.Module:
    """A digits model in train mode with one frozen parameter and one stale ``.grad``."""
    torch.manual_seed(0)
    net = DigitsCNN(width=4).train()
    net.features[0].bias.requires_grad_(False)
    net.classifier[-1].weight.grad = torch.full_like(net.classifier[-1].weight, 0.5)
    return net


def _state(model: nn.Module) -> tuple:
    return ({k: v.clone() for k, v in model.state_dict().items()}, [m.training for m in model.modules()],
            [p.requires_grad for p in model.parameters()],
            [None if p.grad is None else p.grad.clone() for p in model.parameters()])


def _same(a: tuple, b: tuple) -> bool:
    return (a[0].keys() == b[0].keys() and all(torch.equal(a[0][k], b[0][k]) for k in a[0]) and a[1:3] == b[1:3]
            and all((g is None and h is None) or (g is not None and h is not None and torch.equal(g, h))
                    for g, h in zip(a[3], b[3])))


# ----------------------------------------------------------------------------- query
def test_probabilities_sum_to_one_and_labels_are_their_argmax(victim, digits):
    x = digits.x_test[:100]
    probs = query(victim, x)
    labels = query(victim, x, labels_only=True)
    assert probs.shape == (100, 10) and probs.dtype == torch.float32 and not probs.requires_grad
    assert torch.allclose(probs.sum(1), torch.ones(100), atol=1e-5) and (probs >= 0).all()
    assert labels.shape == (100,) and labels.dtype == torch.long
    assert torch.equal(labels, probs.argmax(1))
    with torch.no_grad():
        assert torch.allclose(probs, victim(x).softmax(1), atol=1e-6)


@pytest.mark.parametrize("decimals", [1, 2, 3])
def test_rounding_keeps_the_labels_of_a_confident_model(victim, digits, decimals):
    x = digits.x_test
    exact = query(victim, x)
    rounded = query(victim, x, decimals=decimals)
    steps = rounded.double() * 10**decimals
    assert (steps - steps.round()).abs().max() < 1e-3  # multiples of 10^-decimals
    assert (rounded - exact).abs().max() <= 0.5 * 10**-decimals + 1e-6
    top2 = exact.topk(2, 1).values
    clear = top2[:, 0] - top2[:, 1] > 10**-decimals  # no tie possible after rounding
    assert torch.equal(rounded[clear].argmax(1), exact[clear].argmax(1))
    # the digits model is sure of nearly every digit: a tie after rounding is rare
    assert float((rounded.argmax(1) == exact.argmax(1)).double().mean()) >= 0.97  # measured 99.6 % (1 decimal) and 100 %
    assert torch.equal(query(victim, x, labels_only=True, decimals=decimals), query(victim, x, labels_only=True))


def test_every_function_leaves_the_victim_exactly_as_found(digits):
    victim = _tricky_digits_model()
    before = _state(victim)
    x, y = digits.x_test[:40], digits.y_test[:40]
    query(victim, x, decimals=2)
    query(victim, x, labels_only=True)
    copy = steal(victim, digits.x_train[:40], steps=3)
    agreement(copy, victim, x)
    agreement(victim, copy, x)
    transfer_rate(copy, victim, x, y, eps=0.2, steps=2)
    transfer_rate(victim, copy, x, y, eps=0.2, steps=2)
    extraction_curve(victim, digits.x_train[:20], x, [10, 20], steps=2, progress=False)
    assert _same(before, _state(victim))
    with pytest.raises(ValueError, match="queries"):  # and after an error too
        steal(victim, digits.x_train[:4].expand(-1, 3, -1, -1))
    assert _same(before, _state(victim))


# ----------------------------------------------------------------------------- steal
def test_steal_is_seeded_and_returns_a_clean_float32_copy(victim, digits):
    x = digits.x_train[:50]
    rng = torch.get_rng_state()
    a, b = steal(victim, x, steps=20, seed=3), steal(victim, x, steps=20, seed=3)
    c = steal(victim, x, steps=20, seed=4)
    assert torch.equal(rng, torch.get_rng_state())  # the global random state is left alone
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
    assert not all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), c.state_dict().values()))
    assert isinstance(a, DigitsCNN) and not a.training
    assert all(p.dtype == torch.float32 and p.grad is None for p in a.parameters())
    # a label is the top-1 answer, which rounding does not change: the same answers, the same copy
    d = steal(victim, x, labels_only=True, steps=20, seed=3)
    e = steal(victim, x, labels_only=True, decimals=1, steps=20, seed=3)
    assert all(torch.equal(p, q) for p, q in zip(d.state_dict().values(), e.state_dict().values()))


def test_a_copy_stolen_with_the_whole_pool_agrees_with_the_victim(victim, digits, full_copy):
    score = agreement(full_copy, victim, digits.x_test)
    print(f"\nagreement of a copy stolen with {len(digits.x_train)} queries (probabilities): {score:.1%}")
    assert score >= 0.93  # measured 97.8-98.3 % over seeds 0-2 and nudged victims


def test_agreement_known_values(victim, digits):
    x = digits.x_test[:50]
    assert agreement(victim, victim, x) == 1.0
    wrapped = nn.Sequential(victim, nn.Flatten())  # the same answers through another module
    assert agreement(wrapped, victim, x) == 1.0
    constant = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    with torch.no_grad():
        constant[1].weight.zero_()
        constant[1].bias.copy_(torch.arange(10.0))  # always answers 9
    share_nine = float((query(victim, x, labels_only=True) == 9).double().mean())
    assert agreement(constant, victim, x) == pytest.approx(share_nine)


@pytest.mark.slow
def test_probabilities_beat_labels_and_rounding_takes_the_lead_away(victim, digits):
    x = digits.x_train[:25]

    def mean(**kw) -> float:
        return float(np.mean([agreement(steal(victim, x, steps=200, seed=s, **kw), victim, digits.x_test)
                              for s in (0, 1)]))

    probs, labels, rounded = mean(), mean(labels_only=True), mean(decimals=1)
    print(f"\n25 queries: probabilities {probs:.1%}, labels only {labels:.1%}, rounded to 1 decimal {rounded:.1%}")
    assert probs >= labels + 0.05  # measured 82 % against 70 %
    assert rounded <= probs - 0.03  # measured 75 %


# ----------------------------------------------------------------------------- the curve
def test_extraction_curve_on_a_small_budget(victim, digits):
    curve = extraction_curve(victim, digits.x_train[:60], digits.x_test[:100], [20, 60], decimals=1, steps=30,
                             progress=False)
    assert isinstance(curve, ExtractionCurve) and curve.budgets == [20, 60] and curve.decimals == 1
    for values in (curve.probabilities, curve.labels, curve.rounded_probabilities, curve.rounded_labels):
        assert len(values) == 2 and all(0 <= v <= 1 for v in values)
    assert curve.rounded_labels == curve.labels
    assert set(curve.copies) == {"probabilities", "labels", "rounded_probabilities", "rounded_labels"}
    assert curve.copies["probabilities"].training is False
    assert agreement(curve.copies["labels"], victim, digits.x_test[:100]) == curve.labels[-1]
    text = str(curve)
    assert "rounded to 1 decimal" in text and len(text.splitlines()) == 4
    assert "copies" not in repr(curve) and "budgets=[20, 60]" in repr(curve)


# ----------------------------------------------------------------------------- transfer
def test_transfer_rate_known_values(victim, digits, full_copy):
    x, y = digits.x_test[:150], digits.y_test[:150]
    assert transfer_rate(full_copy, victim, x, y, eps=0.0, steps=5) == 0.0
    white_box = transfer_rate(victim, victim, x, y, eps=0.2, steps=10)
    stolen = transfer_rate(full_copy, victim, x, y, eps=0.2, steps=10)
    print(f"\nPGD eps 0.2: white box {white_box:.1%}, from the stolen copy {stolen:.1%}")
    assert 0.9 <= white_box <= 1.0 and 0.5 <= stolen <= white_box + 0.02  # measured 98 % and 95 %
    wrong = query(victim, x, labels_only=True) != y
    assert math.isnan(transfer_rate(full_copy, victim, x[wrong], y[wrong], eps=0.2, steps=2))


# ----------------------------------------------------------------------------- against ART
@pytest.mark.slow
def test_our_copy_agrees_at_least_as_well_as_arts_copycat(victim, digits):
    pytest.importorskip("art")
    from art.attacks.extraction import CopycatCNN
    from art.estimators.classification import PyTorchClassifier

    n, steps = 200, 200
    x = digits.x_train[:n]

    def art_copy(seed: int) -> nn.Module:
        api = PyTorchClassifier(victim, loss=nn.CrossEntropyLoss(), input_shape=(1, 8, 8), nb_classes=10,
                                clip_values=(0.0, 1.0), device_type="cpu")
        with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.manual_seed(seed)
            np.random.seed(seed)
            net = DigitsCNN(width=16)
            thief = PyTorchClassifier(net, loss=nn.CrossEntropyLoss(), optimizer=torch.optim.Adam(net.parameters(), lr=5e-3),
                                      input_shape=(1, 8, 8), nb_classes=10, clip_values=(0.0, 1.0), device_type="cpu")
            attack = CopycatCNN(api, batch_size_fit=32, batch_size_query=256, nb_epochs=math.ceil(steps / math.ceil(n / 32)),
                                nb_stolen=n)
            return attack.extract(x.numpy(), thieved_classifier=thief).model.eval()

    seeds = (0, 1)
    art = float(np.mean([agreement(art_copy(s), victim, digits.x_test) for s in seeds]))
    labels = float(np.mean([agreement(steal(victim, x, labels_only=True, steps=steps, seed=s), victim, digits.x_test)
                            for s in seeds]))
    probs = float(np.mean([agreement(steal(victim, x, steps=steps, seed=s), victim, digits.x_test) for s in seeds]))
    print(f"\n{n} queries: ART CopycatCNN {art:.1%}, ours from labels {labels:.1%}, from probabilities {probs:.1%}")
    assert labels >= art - 0.04  # measured 93.5 % against 93.3 %: the same recipe, up to the seed
    assert probs >= art - 0.02  # measured 95.4 %
