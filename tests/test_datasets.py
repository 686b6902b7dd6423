"""The offline digits data set (advcourse.models.datasets) and the small CNN (advcourse.models.nets)."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import RandomSampler

from advcourse.models.datasets import load_digits, make_loader
from advcourse.models.nets import DigitsCNN, digits_cnn


def test_digits_shapes_ranges_and_split():
    d = load_digits()
    assert d.x_train.shape == (1348, 1, 8, 8) and d.x_test.shape == (449, 1, 8, 8)
    assert d.x_train.dtype == torch.float32 and d.y_train.dtype == torch.long
    for x in (d.x_train, d.x_test):
        assert float(x.min()) == 0.0 and float(x.max()) == 1.0
    assert set(d.y_train.tolist()) == set(range(10)) == set(d.y_test.tolist())
    # the split is a partition of the 1797 images: no image in both parts
    train = {tuple(v.flatten().tolist()) + (int(c),) for v, c in zip(d.x_train, d.y_train)}
    test = {tuple(v.flatten().tolist()) + (int(c),) for v, c in zip(d.x_test, d.y_test)}
    assert len(train & test) <= 5  # the raw data set itself repeats a few images


def test_split_is_fixed_by_the_seed():
    a, b, c = load_digits(), load_digits(), load_digits(seed=1)
    assert all(torch.equal(u, v) for u, v in zip(a, b))
    assert not torch.equal(a.y_test, c.y_test)
    assert load_digits(test_fraction=0.5).x_test.shape[0] == round(1797 * 0.5)


@pytest.mark.parametrize("kwargs, match", [({"test_fraction": 1.0}, "test_fraction"), ({"seed": "a"}, "seed")])
def test_bad_arguments(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        load_digits(**kwargs)


def test_loader_is_seeded_and_single_process():
    d = load_digits()
    first = [y for _, y in make_loader(d.x_train, d.y_train, batch_size=100, seed=3)]
    again = [y for _, y in make_loader(d.x_train, d.y_train, batch_size=100, seed=3)]
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert isinstance(make_loader(d.x_train, d.y_train).sampler, RandomSampler)
    with pytest.raises(ValueError, match="y"):
        make_loader(d.x_train, d.y_test)


def test_cnn_shapes_and_seeded_init():
    net = DigitsCNN()
    assert net(torch.rand(5, 1, 8, 8)).shape == (5, 10)
    assert all(torch.equal(p, q) for p, q in zip(digits_cnn(2).parameters(), digits_cnn(2).parameters()))
    state = torch.random.get_rng_state()
    digits_cnn(0)
    assert torch.equal(state, torch.random.get_rng_state())  # the global RNG is left alone
