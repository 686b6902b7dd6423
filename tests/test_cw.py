"""Carlini–Wagner L2 (advcourse.attacks.cw): the attack contract (with the other gradient attacks in
test_attacks_contract.py) and what the paper promises:
pixels in the box without projection, the smallest success kept, the binary search over c only
helping, a closed-form minimum on a linear model, and the margin vs cross-entropy lesson."""

from __future__ import annotations

import pytest
import torch
from test_apgd import N, net, x  # noqa: F401  (the same tiny float64 CNN and edge-pixel batch)

from advcourse.attacks import cw
from advcourse.attacks._toy import linear
from advcourse.attacks._blackbox import margin
from advcourse.evaluation.losses import compare_losses

pytestmark = pytest.mark.usefixtures("single_thread")

@pytest.fixture(scope="module")
def digits():
    """(model, x, y): the trained digits CNN and 32 test digits (real logit gaps, reachable targets)."""
    from advcourse.defences.digits import clean_digits_cnn
    from advcourse.models.datasets import load_digits

    data = load_digits()
    return clean_digits_cnn(), data.x_test[:32], data.y_test[:32]


def _pred(net, x):
    with torch.no_grad():
        return net(x).argmax(1)


@pytest.mark.parametrize("targeted", [False, True])
def test_output_in_box_detached_and_successes_are_real(targeted, digits):
    net, x, y = digits
    y = (y + 1) % 10 if targeted else y
    x_adv, info = cw(net, x, y, c=5.0, steps=60, lr=0.05, targeted=targeted, return_info=True)
    assert x_adv.shape == x.shape and x_adv.dtype == x.dtype and not x_adv.requires_grad
    assert x_adv.min() >= 0 and x_adv.max() <= 1
    pred = _pred(net, x_adv)
    assert info.success.sum() >= len(y) // 2
    assert bool(((pred == y) if targeted else (pred != y))[info.success].all())
    assert torch.equal(x_adv[~info.success], x[~info.success])  # failures come back untouched
    assert bool((info.iterations == 60).all()) and x_adv.shape == x.shape


def test_zero_steps_returns_x(net, x):
    assert torch.equal(cw(net, x, c=1.0, steps=0), x)


def test_batch_equals_samples_one_by_one(net, x):
    y = _pred(net, x)
    batch = cw(net, x, y, c=3.0, steps=30, lr=0.05, search_steps=2)
    single = torch.cat([cw(net, x[i:i + 1], y[i:i + 1], c=3.0, steps=30, lr=0.05, search_steps=2) for i in range(N)])
    torch.testing.assert_close(batch, single, rtol=0, atol=1e-10)


def test_binary_search_only_helps(digits):
    net, x, y = digits
    _, one = cw(net, x, y, c=0.3, steps=40, lr=0.05, return_info=True)
    _, four = cw(net, x, y, c=0.3, steps=40, lr=0.05, search_steps=4, return_info=True)
    assert bool((four.success >= one.success).all()) and four.success.sum() > one.success.sum()
    both = one.success & four.success
    assert bool((four.l2[both] <= one.l2[both] + 1e-12).all())  # the first c is the same run


def test_kappa_demands_confidence(digits):
    net, x, y = digits
    x_adv, info = cw(net, x, y, c=20.0, kappa=2.0, steps=80, lr=0.05, return_info=True)
    with torch.no_grad():
        m = margin(net(x_adv), y, False)
    assert info.success.any() and bool((m[info.success] <= -2.0 + 1e-9).all())


def test_close_to_the_exact_minimum_on_a_linear_model():
    # Binary linear model: the smallest L2 change to the boundary is |w·x + b| / ‖w‖ (box not binding).
    model = linear(in_shape=(1, 4, 4), num_classes=2, seed=3)
    x = 0.4 + 0.2 * torch.rand(8, 1, 4, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    y = _pred(model, x)
    w = model.weight[1] - model.weight[0]
    exact = ((x.flatten(1) @ w + model.bias[1] - model.bias[0]).abs() / w.norm()).detach()
    _, info = cw(model, x, y, c=1.0, steps=300, lr=0.01, search_steps=6, return_info=True)
    assert bool(info.success.all())
    assert bool((info.l2 >= exact - 1e-9).all())  # nobody beats the optimum
    assert bool((info.l2 <= exact * 1.05 + 1e-3).all()), (info.l2, exact)


def test_margin_loss_pays_less_distortion_than_cross_entropy():
    from advcourse.defences.digits import clean_digits_cnn
    from advcourse.models.datasets import load_digits

    digits = load_digits()
    net, x, y = clean_digits_cnn(), digits.x_test[:48], digits.y_test[:48]
    result = compare_losses(net, x, y, c=[1.0, 3.0], steps=50, lr=0.05)
    assert result.success["margin"][0] > result.success["ce"][0]  # same c: the margin wins more often
    assert all(result.success_at_l2("margin", d) >= s  # and more often at the same distortion
               for d, s in zip(result.l2_mean["ce"], result.success["ce"]) if d == d)
    assert result.plot().axes and "margin" in repr(result)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"c": 0.0}, ValueError, "c: expected a number > 0"),
    ({"c": -1.0}, ValueError, "c: expected a finite number >= 0"),
    ({"kappa": -1.0}, ValueError, "kappa"),
    ({"lr": 0}, ValueError, "lr: expected a learning rate > 0"),
    ({"steps": 2.5}, TypeError, "steps: expected an int"),
    ({"search_steps": 0}, ValueError, "search_steps: expected an int >= 1"),
    ({"loss": "hinge"}, ValueError, "loss: expected one of 'margin', 'ce'"),
    ({"targeted": "yes"}, TypeError, "targeted: expected True or False"),
])
def test_bad_arguments_name_themselves(kwargs, error, match, net, x):
    with pytest.raises(error, match=match):
        cw(net, x, torch.zeros(N, dtype=torch.long), **kwargs)


def test_targeted_needs_labels(net, x):
    with pytest.raises(ValueError, match="y: a targeted attack needs the target labels"):
        cw(net, x, None, targeted=True)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu(digits):
    net, x, y = digits
    cpu = cw(net, x, y, c=1.0, steps=20, lr=0.05, search_steps=2)
    gpu = cw(net.cuda(), x.cuda(), y.cuda(), c=1.0, steps=20, lr=0.05, search_steps=2)
    net.cpu()
    assert gpu.device.type == "cuda"
    same = (gpu.cpu() - cpu).abs().amax((1, 2, 3)) <= 1e-4
    assert same.float().mean() >= 0.9  # a sample on a knife edge may take another path
