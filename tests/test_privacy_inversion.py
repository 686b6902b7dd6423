"""advcourse.privacy.inversion (13): model inversion, Fredrikson, Jha & Ristenpart (2015).

Closed form: on a linear two-class model with no prior, every Adam step moves each pixel by ``lr``
in the direction of the weight difference of the target class (the margin's gradient is constant),
so after n steps ``x = 0.5 + n·lr·sign(w_t − w_other)`` exactly; the other objectives move the
pixels the same way. The prior alone: ink darkens, total variation spreads a bright pixel.
Properties: shape, range, device, determinism, batch = one by one, the model left as found (also
on an error). On the course's digits CNN (in float64): the model is sure of its inversions, and with
the prior most of them are closest to their own class's average and far more alike to it than
without (measured on this CPU: 10 of 10 with and without the prior, correlation 0.70 vs 0.41; the
same on models trained with seeds 1–3, the stand-in for another CPU's rounding: 10 of 10, 0.68–0.70
vs 0.35–0.46, confidence >= 0.988 — the thresholds below leave wide margins).
"""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from advcourse.models.datasets import load_digits
from advcourse.privacy.inversion import correlation, invert, inversion_study, total_variation


@pytest.fixture(scope="module", autouse=True)
def _one_thread(single_thread):
    yield


@pytest.fixture(scope="module")
def digits_model():
    from advcourse.defences.digits import clean_digits_cnn

    return clean_digits_cnn()


@pytest.fixture(scope="module")
def study(digits_model):
    d = load_digits()
    return inversion_study(copy.deepcopy(digits_model).double(), d.x_train, d.y_train)


def _linear(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 2)).double().eval()


def test_linear_model_closed_form():
    model = _linear()
    w = model[1].weight.detach()
    x = invert(model, [0, 1], steps=5, lr=0.01, tv_weight=0, ink_weight=0)
    for t in (0, 1):
        expected = 0.5 + 5 * 0.01 * torch.sign(w[t] - w[1 - t]).view(1, 8, 8)
        torch.testing.assert_close(x[t], expected, atol=1e-6, rtol=0)
    for loss in ("ce", "1-p"):
        x = invert(model, [1, 0], steps=5, lr=0.01, tv_weight=0, ink_weight=0, loss=loss)
        assert torch.equal(torch.sign(x[0] - 0.5).flatten(), torch.sign(w[1] - w[0]))
        assert torch.equal(torch.sign(x[1] - 0.5).flatten(), torch.sign(w[0] - w[1]))


def test_the_prior_alone():
    blind = nn.Sequential(nn.Flatten(), nn.Linear(64, 3))
    nn.init.zeros_(blind[1].weight)
    nn.init.zeros_(blind[1].bias)  # constant logits: only the prior moves the pixels
    darker = invert(blind, [0], steps=4, lr=0.05, tv_weight=0, ink_weight=1.0)
    torch.testing.assert_close(darker, torch.full((1, 1, 8, 8), 0.3), atol=1e-5, rtol=0)
    dot = torch.zeros(1, 1, 8, 8)
    dot[0, 0, 4, 4] = 1.0
    spread = invert(blind, [0], steps=3, lr=0.05, tv_weight=1.0, ink_weight=0, start=dot)
    assert spread[0, 0, 4, 4] < 1 and spread[0, 0, 3, 4] > 0 and spread[0, 0, 0, 0] == 0
    assert total_variation(spread) < total_variation(dot)


def test_shape_range_device_and_determinism(digits_model):
    x = invert(digits_model, [0, 3, 7], steps=30)
    assert x.shape == (3, 1, 8, 8) and x.dtype == torch.float32 and not x.requires_grad
    assert x.device == next(digits_model.parameters()).device
    assert 0 <= float(x.min()) and float(x.max()) <= 1
    assert torch.equal(x, invert(digits_model, torch.tensor([0, 3, 7]), steps=30))
    model64 = copy.deepcopy(digits_model).double()
    batch = invert(model64, torch.arange(10), steps=20)
    one = invert(model64, [6], steps=20)
    torch.testing.assert_close(batch[6:7], one, atol=1e-6, rtol=0)  # images of a batch never interact


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_images_on_the_models_device(digits_model):
    x = invert(copy.deepcopy(digits_model).cuda(), [1, 2], steps=10)
    assert x.device.type == "cuda" and x.shape == (2, 1, 8, 8) and 0 <= float(x.min()) <= float(x.max()) <= 1


def test_model_left_exactly_as_found():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                          nn.Linear(256, 10))
    model.train()
    model[1].eval()  # one BatchNorm kept in eval mode by the caller
    model[0].bias.requires_grad_(False)
    model[4].weight.grad = torch.ones_like(model[4].weight)
    before = copy.deepcopy(model.state_dict())
    modes = [m.training for m in model.modules()]
    flags = [p.requires_grad for p in model.parameters()]
    for call in (lambda: invert(model, [0, 9], steps=5), lambda: invert(model, [0, 10], steps=5)):
        try:
            call()
        except ValueError as exc:  # class 10 of 10: raised inside the guard
            assert str(exc).startswith("targets:")
        assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
        assert [m.training for m in model.modules()] == modes
        assert [p.requires_grad for p in model.parameters()] == flags
        assert torch.equal(model[4].weight.grad, torch.ones_like(model[4].weight))
        assert all(p.grad is None for n, p in model.named_parameters() if n != "4.weight")


def test_the_model_is_sure_of_its_inversions(study):
    assert float(study.confidence_plain.min()) >= 0.99  # measured 1.000
    assert float(study.confidence_prior.min()) >= 0.9  # measured >= 0.988 on four models


def test_with_the_prior_inversions_resemble_their_class(study):
    assert study.matches_prior >= 8  # measured 10 of 10, closest other class 0.08–0.17 behind
    assert study.own_prior >= 0.55  # measured 0.68–0.70; a training digit: 0.84
    assert study.own_prior >= study.own_plain + 0.15  # measured 0.22–0.33 apart
    assert study.similarity_prior.shape == (10, 10) and 0.7 < study.typical < 0.95
    assert str(study).startswith("closest to their own class's average: ")


def test_correlation_and_figure(study):
    a = torch.rand(3, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    c = correlation(a, 2 * a + 1)  # brightness and contrast do not count
    torch.testing.assert_close(c.diagonal(), torch.ones(3, dtype=torch.float64))
    fig = study.plot()
    assert sum(len(ax.images) for ax in fig.axes) == 30
