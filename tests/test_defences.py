"""Random resize & pad and the EOT wrapper (advcourse.defences.randomization / .eot)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from advcourse.attacks import fgsm, pgd
from advcourse.attacks._toy import tiny_cnn
from advcourse.defences import EOT, RandomResizePad, hit_rate, transfer_sweep


class Identity(nn.Module):
    """Returns its input flattened: lets a test look at exactly what the defence fed the model."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.ones(()))  # a parameter, so attacks find the device

    def forward(self, x):
        return x.flatten(1) * self.w


@pytest.fixture
def net():
    return tiny_cnn(seed=0)


@pytest.fixture
def x():
    return torch.rand(6, 3, 16, 16, generator=torch.Generator().manual_seed(1))


def test_transform_shape_range_and_default_size(x):
    out = RandomResizePad(Identity(), generator=torch.Generator().manual_seed(0)).transform(x)
    assert out.shape == (6, 3, 18, 18)  # ceil(16 * 331/299) = 18, the paper's ratio
    assert 0 <= float(out.min()) and float(out.max()) <= 1


def test_nearest_resize_pad_matches_a_direct_construction():
    """side = out_size leaves no room: the image is resized to the canvas; side = H pastes it exactly."""
    x = torch.rand(1, 1, 5, 5)
    d = RandomResizePad(Identity(), out_size=5, min_size=5)
    assert torch.equal(d.transform(x), x)  # no resize, no pad: the identity
    d = RandomResizePad(Identity(), out_size=9, min_size=5, generator=torch.Generator().manual_seed(3))
    for _ in range(20):  # whatever is drawn, every canvas holds the image (nearest: exact copies) on zeros
        canvas = d.transform(x)[0, 0]
        rows, cols = canvas.abs().sum(1).nonzero(), canvas.abs().sum(0).nonzero()
        side = int(rows.max() - rows.min() + 1)
        assert 5 <= side <= 9 and int(cols.max() - cols.min() + 1) == side
        if side == 5:
            top, left = int(rows.min()), int(cols.min())
            assert torch.allclose(canvas[top:top + 5, left:left + 5], x[0, 0])


def test_bilinear_matches_interpolate_then_pad():
    x = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    from advcourse.core.transforms import _place

    out = _place(x, torch.tensor([12]), torch.tensor([1.0]), torch.tensor([2.0]), 14, "bilinear")
    expected = F.pad(F.interpolate(x, size=12, mode="bilinear", align_corners=False), (1, 1, 2, 0))
    assert torch.allclose(out, expected, atol=1e-5)


def test_random_in_eval_mode_and_seedable(net, x):
    a = RandomResizePad(net.eval(), generator=torch.Generator().manual_seed(0))
    b = RandomResizePad(net.eval(), generator=torch.Generator().manual_seed(0))
    out_a1, out_b1 = a.eval()(x), b.eval()(x)
    assert torch.equal(out_a1, out_b1)  # same seed, same draws
    assert not torch.equal(a.transform(x), a.transform(x))  # fresh draw per call, even in eval mode
    assert out_a1.shape == (6, 10)


def test_per_image_draws_differ_within_a_batch():
    x = torch.ones(64, 1, 10, 10)
    canvases = RandomResizePad(Identity(), generator=torch.Generator().manual_seed(0)).transform(x)
    assert len({tuple(c.flatten().tolist()) for c in canvases}) > 10


def test_defence_survives_an_attack_guard_and_restores_the_model(net, x):
    net.train()
    defended = RandomResizePad(net, generator=torch.Generator().manual_seed(0))
    x_adv = pgd(defended, x, eps=4 / 255, step_size=1 / 255, steps=2, generator=torch.Generator().manual_seed(0))
    assert (x_adv - x).abs().max() <= 4 / 255 + 1e-6 and net.training and defended.training
    assert all(p.grad is None and p.requires_grad for p in net.parameters())


@pytest.mark.parametrize("kwargs, match", [
    ({"mode": "bicubic"}, "mode"),
    ({"out_size": 0}, "out_size"),
    ({"generator": 3}, "generator"),
])
def test_bad_arguments(net, kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        RandomResizePad(net, **kwargs)


def test_min_size_above_out_size_is_reported(net, x):
    with pytest.raises(ValueError, match="min_size"):
        RandomResizePad(net, out_size=10, min_size=12)(x)


# ----------------------------------------------------------------------------- EOT
def test_eot_of_a_deterministic_model_is_the_model(net, x):
    net.eval()
    assert torch.allclose(EOT(net, samples=3)(x).softmax(1), net(x).softmax(1), atol=1e-6)
    assert torch.allclose(EOT(net, samples=3, average="logits")(x), net(x), atol=1e-6)


def test_eot_averages_probabilities_of_the_same_draws(net, x):
    net.eval()
    eot = EOT(RandomResizePad(net, generator=torch.Generator().manual_seed(5)), samples=4)
    manual = RandomResizePad(net, generator=torch.Generator().manual_seed(5))
    probs = torch.stack([manual(x).softmax(1) for _ in range(4)]).mean(0)
    out = eot(x)
    assert out.shape == (6, 10)
    assert torch.allclose(out.softmax(1), probs, atol=1e-6)
    assert torch.allclose(out.exp().sum(1), torch.ones(6), atol=1e-5)  # log-probabilities


def test_gradients_flow_through_eot_and_equal_the_mean_of_draws(net, x):
    net.eval()
    eot = EOT(RandomResizePad(net, generator=torch.Generator().manual_seed(7), mode="bilinear"), samples=3,
              average="logits")
    manual = RandomResizePad(net, generator=torch.Generator().manual_seed(7), mode="bilinear")
    xg = x.clone().requires_grad_(True)
    (g_eot,) = torch.autograd.grad(eot(xg)[:, 2].sum(), xg)
    grads = [torch.autograd.grad(manual(xg)[:, 2].sum(), xg)[0] for _ in range(3)]
    assert g_eot.abs().sum() > 0 and torch.isfinite(g_eot).all()
    assert torch.allclose(g_eot, torch.stack(grads).mean(0), atol=1e-6)


def test_eot_makes_fgsm_and_pgd_adaptive_without_changes(net, x):
    eot = EOT(RandomResizePad(net, generator=torch.Generator().manual_seed(0)), samples=2)
    for x_adv in (fgsm(eot, x, eps=8 / 255), pgd(eot, x, eps=8 / 255, step_size=2 / 255, steps=2)):
        assert x_adv.shape == x.shape and (x_adv - x).abs().max() <= 8 / 255 + 1e-6


def test_eot_needs_a_sample(net):
    with pytest.raises(ValueError, match="samples"):
        EOT(net, samples=0)
    with pytest.raises(ValueError, match="average"):
        EOT(net, average="median")


# ----------------------------------------------------------------------------- transfer sweep
def test_transfer_sweep_records_each_budget(net, x):
    net.eval()
    y = net(x).argmax(1)
    defended = RandomResizePad(net, generator=torch.Generator().manual_seed(0))
    sweep = transfer_sweep(net, defended, x, y, [0, 8 / 255], steps=3, early_stop=True, random_start=False)
    assert sweep.eps == [0, 8 / 255] and sweep.bare_accuracy[0] == 1.0
    assert torch.equal(sweep.x_adv[0], x) and sweep.x_adv[1].shape == x.shape
    assert sweep.bare_accuracy[1] == hit_rate(net, sweep.x_adv[1], y)
    accepted = [{int(c)} for c in y]
    assert hit_rate(net, x, y, accepted) == 1.0 and hit_rate(net, x, (y + 1) % 10) == 0.0
