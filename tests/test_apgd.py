"""APGD (advcourse.attacks.apgd) against the attack contract: budget, box, identity, seeds, model
state, bad inputs, and the step-size schedule of Croce & Hein. Tiny float64 models keep it fast."""

from __future__ import annotations

import pytest
import torch
from test_attacks_contract import _assert_same_state, _Boom, _messy_model, _state

from advcourse.attacks import apgd
from advcourse.attacks._toy import tiny_cnn
from advcourse.attacks.apgd import checkpoints, dlr_loss

pytestmark = pytest.mark.usefixtures("single_thread")

INF = float("inf")
N, C, H, W = 6, 3, 12, 12
SETTINGS = [(INF, 0.05, "ce"), (INF, 0.05, "dlr"), (2.0, 0.5, "ce"), (2.0, 0.5, "dlr")]


@pytest.fixture
def net() -> torch.nn.Module:
    return tiny_cnn(seed=0, dtype=torch.float64)


@pytest.fixture
def x() -> torch.Tensor:
    x = torch.rand(N, C, H, W, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    x[0, 0, :2], x[1, 1, :2] = 0.0, 1.0  # pixels on both edges of the box
    return x


def _seed(s: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(s)


@pytest.mark.parametrize("norm, eps, loss", SETTINGS)
@pytest.mark.parametrize("targeted", [False, True])
def test_output_in_box_within_budget_and_detached(norm, eps, loss, targeted, net, x):
    y = torch.arange(N) % 10
    x_adv, info = apgd(net, x, y, eps=eps, steps=8, loss=loss, norm=norm, targeted=targeted, restarts=2,
                       generator=_seed(), return_info=True)
    assert x_adv.shape == x.shape and x_adv.dtype == x.dtype and not x_adv.requires_grad
    assert x_adv.min() >= 0 and x_adv.max() <= 1
    budget = info.linf if norm == INF else info.l2
    assert bool((budget <= eps * (1 + 1e-6)).all())
    assert torch.equal(info.y, y) and len(info) == N and bool((info.iterations <= 2 * 8).all())


@pytest.mark.parametrize("norm, eps, loss", SETTINGS)
def test_eps_zero_is_identity(norm, eps, loss, net, x):
    assert torch.equal(apgd(net, x, eps=0.0, steps=5, loss=loss, norm=norm, generator=_seed()), x)


@pytest.mark.parametrize("norm, eps, loss", SETTINGS)
def test_same_generator_same_result(norm, eps, loss, net, x):
    a = apgd(net, x, eps=eps, steps=6, loss=loss, norm=norm, restarts=2, generator=_seed(3))
    b = apgd(net, x, eps=eps, steps=6, loss=loss, norm=norm, restarts=2, generator=_seed(3))
    c = apgd(net, x, eps=eps, steps=6, loss=loss, norm=norm, restarts=2, generator=_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_stronger_than_its_random_start_and_restarts_never_hurt(net, x):
    with torch.no_grad():
        y = net(x).argmax(1)
    one = apgd(net, x, y, eps=0.03, steps=20, generator=_seed(), return_info=True)[1]
    three = apgd(net, x, y, eps=0.03, steps=20, restarts=3, generator=_seed(), return_info=True)[1]
    zero = apgd(net, x, y, eps=0.03, steps=0, generator=_seed(), return_info=True)[1]
    assert one.success.sum() > zero.success.sum()
    assert bool((three.success >= one.success).all())  # the first restart is the same run


def test_first_success_is_kept(net, x):
    with torch.no_grad():
        y = net(x).argmax(1)
    x_adv, info = apgd(net, x, y, eps=0.1, steps=30, generator=_seed(), return_info=True)
    assert bool(info.success.all()) and bool((info.iterations < 30).all())
    with torch.no_grad():
        assert bool((net(x_adv).argmax(1) != y).all())


def test_targeted_dlr_reaches_targets(net, x):
    target = torch.full((N,), 9)  # a class this random net can reach from every sample (PGD does too)
    x_adv, info = apgd(net, x, target, eps=0.3, steps=40, loss="dlr", targeted=True, generator=_seed(),
                       return_info=True)
    assert info.success.sum() >= N - 1 and torch.equal(info.pred[info.success], target[info.success])


def test_checkpoints_follow_the_paper():
    # p_j: 0.22, 0.41, 0.57, 0.70, 0.80, 0.87, 0.93, 0.99 of 100 steps (Croce & Hein, Sec. 3.2)
    assert checkpoints(100) == [22, 41, 57, 70, 80, 87, 93, 99]
    assert checkpoints(1) == [1] and checkpoints(0) == []


def test_dlr_matches_its_formula_and_ignores_logit_scale():
    z = torch.tensor([[4.0, 1.0, 3.0, 0.0], [0.0, 2.0, 1.0, 5.0]])
    y = torch.tensor([0, 1])
    assert torch.allclose(dlr_loss(z, y), torch.tensor([-(4 - 3) / (4 - 1), -(2 - 5) / (5 - 1)]))
    assert torch.allclose(dlr_loss(10 * z + 7, y), dlr_loss(z, y))
    t = torch.tensor([2, 3])
    assert torch.allclose(dlr_loss(z, y, t), torch.tensor([-(4 - 3) / (4 - 0.5), -(2 - 5) / (5 - 0.5)]))


def test_model_state_restored(x):
    net = _messy_model()
    before = _state(net)
    apgd(net, x, torch.arange(N) % 10, eps=0.05, steps=4, loss="dlr", restarts=2)
    _assert_same_state(before, _state(net))


@pytest.mark.parametrize("fail_on", [0, 1, 3])
def test_model_state_restored_when_the_model_raises(fail_on, x):
    net = _Boom(fail_on)
    before = _state(net)
    with pytest.raises(RuntimeError, match="boom"):
        apgd(net, x, torch.arange(N) % 10, eps=0.05, steps=4)
    _assert_same_state(before, _state(net))


def test_float32_and_int32_labels(x):
    net = tiny_cnn(seed=0)
    x_adv = apgd(net, x.float(), torch.arange(N, dtype=torch.int32) % 10, eps=0.05, steps=3, loss="dlr")
    assert x_adv.dtype == torch.float32


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
@pytest.mark.parametrize("norm, eps, loss", SETTINGS)
def test_cuda_matches_cpu(norm, eps, loss, net, x):
    with torch.no_grad():
        y = net(x).argmax(1)
    cpu = apgd(net, x, y, eps=eps, steps=5, loss=loss, norm=norm, generator=_seed())
    gpu = apgd(net.cuda(), x.cuda(), y.cuda(), eps=eps, steps=5, loss=loss, norm=norm, generator=_seed())
    assert gpu.device.type == "cuda"  # a CPU generator seeds a CUDA run the same way
    torch.testing.assert_close(gpu.cpu(), cpu, rtol=0, atol=1e-6)


def test_works_under_no_grad(net, x):
    with torch.no_grad():
        x_adv = apgd(net, x, eps=0.05, steps=3, generator=_seed())
    assert not torch.equal(x_adv, x)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"eps": -0.1}, ValueError, "eps"),
    ({"eps": 8}, ValueError, "eps: 8 is larger than the whole pixel range"),
    ({"steps": 2.5}, TypeError, "steps: expected an int"),
    ({"restarts": 0}, ValueError, "restarts: expected an int >= 1"),
    ({"loss": "cw"}, ValueError, "loss: expected one of 'ce', 'dlr'"),
    ({"norm": 1}, ValueError, "norm"),
    ({"targeted": "yes"}, TypeError, "targeted"),
    ({"return_info": 1}, TypeError, "return_info"),
    ({"generator": 0}, TypeError, "generator"),
])
def test_bad_input_raises_naming_the_argument(kwargs, error, message, net, x):
    with pytest.raises(error, match=message):
        apgd(net, x, **{"eps": 0.05, "steps": 2, **kwargs})


def test_bad_images_labels_and_models_are_named(net, x):
    with pytest.raises(ValueError, match="x"):
        apgd(net, x * 2, eps=0.05, steps=2)
    with pytest.raises(ValueError, match="y"):
        apgd(net, x, eps=0.05, steps=2, targeted=True)
    with pytest.raises(TypeError, match="model"):
        apgd("net", x, eps=0.05, steps=2)
    two = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(C * H * W, 3)).double()
    with pytest.raises(ValueError, match="loss: 'dlr' needs at least 4 classes"):
        apgd(two, x, torch.zeros(N, dtype=torch.long), eps=0.05, steps=2, loss="dlr", targeted=True)
