"""Our attacks against independent references and against answers worked out by hand.

* torchattacks 3.3.0 (FGSM, PGD, PGDL2, DeepFool) and foolbox 3.3.4 (L2DeepFoolAttack) on a fixed
  small CNN, in float64 so "equal" can mean equal to 1e-12;
* the embedded EfficientNet-Lite0 on 4 shipped photos (224 px): FGSM and PGD equal torchattacks';
* closed forms on the affine ``_toy.linear`` model: FGSM's step is the sign of a weight difference,
  and DeepFool lands exactly on the separating hyperplane, times 1 + overshoot.

torchattacks averages the loss over the batch where we sum it; with a batch of 4 photos the
difference is an exact power-of-two scale, so the gradient signs agree bit for bit.
"""

from __future__ import annotations

import pytest
import torch

from advcourse.attacks import deepfool, fgsm, pgd
from advcourse.attacks._core import per_sample_norm
from advcourse.attacks._toy import Linear, linear, tiny_cnn

torchattacks = pytest.importorskip("torchattacks")
foolbox = pytest.importorskip("foolbox")
pytestmark = pytest.mark.usefixtures("single_thread")


@pytest.fixture(scope="module")
def toy():
    """(model, x, y): the fixed small CNN in float64 and 16 images it classifies as y."""
    net = tiny_cnn(seed=0, dtype=torch.float64)
    x = torch.rand(16, 3, 12, 12, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    with torch.no_grad():
        return net, x, net(x).argmax(1)


# ----------------------------------------------------------------------------- small CNN, float64
@pytest.mark.parametrize("eps", [1 / 255, 8 / 255, 0.1])
def test_fgsm_equals_torchattacks(toy, eps):
    net, x, y = toy
    theirs = torchattacks.FGSM(net, eps=eps)(x, y)
    torch.testing.assert_close(fgsm(net, x, y, eps=eps), theirs, rtol=0, atol=1e-12)


def test_tfgsm_equals_torchattacks_targeted(toy, capsys):
    net, x, y = toy
    target = (y + 1) % 10
    atk = torchattacks.FGSM(net, eps=4 / 255)
    atk.set_mode_targeted_by_function(lambda images, labels: (labels + 1) % 10)  # prints its mode
    torch.testing.assert_close(fgsm(net, x, target, eps=4 / 255, targeted=True), atk(x, y), rtol=0, atol=1e-12)


@pytest.mark.parametrize("eps, alpha, steps", [(8 / 255, 2 / 255, 10), (0.05, 0.01, 7)])
def test_pgd_linf_equals_torchattacks(toy, eps, alpha, steps):
    net, x, y = toy
    theirs = torchattacks.PGD(net, eps=eps, alpha=alpha, steps=steps, random_start=False)(x, y)
    ours = pgd(net, x, y, eps=eps, step_size=alpha, steps=steps, random_start=False)
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-12)


def test_pgd_l2_equals_torchattacks(toy):
    net, x, y = toy
    theirs = torchattacks.PGDL2(net, eps=0.5, alpha=0.1, steps=10, random_start=False)(x, y)
    ours = pgd(net, x, y, eps=0.5, step_size=0.1, steps=10, norm=2, random_start=False)
    # torchattacks divides by ‖g‖ + 1e-10 where we divide by max(‖g‖, 1e-12): float noise only
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-8)


def test_deepfool_matches_torchattacks_and_foolbox(toy):
    net, x, y = toy
    ours, info = deepfool(net, x, y, num_classes=10, overshoot=0.02, max_iter=50, return_info=True)
    ta = torchattacks.DeepFool(net, steps=50, overshoot=0.02)(x, y)
    fmodel = foolbox.PyTorchModel(net, bounds=(0, 1))
    _, fb, fb_success = foolbox.attacks.L2DeepFoolAttack(steps=50, candidates=10, overshoot=0.02)(
        fmodel, x, y, epsilons=None)
    with torch.no_grad():
        ta_success = net(ta).argmax(1) != y
    assert info.success.all() and ta_success.all() and fb_success.all()
    ours_l2, ta_l2, fb_l2 = (float(per_sample_norm(a - x, 2).median()) for a in (ours, ta, fb))
    # no larger (to 0.01 %): torchattacks overshoots every step, foolbox adds 1e-4 to each distance,
    # we overshoot the total once; the same boundaries are found, the medians differ in the 6th digit
    assert ours_l2 <= ta_l2 * (1 + 1e-4) and ours_l2 <= fb_l2 * (1 + 1e-4)
    assert ours_l2 > 0.9 * min(ta_l2, fb_l2)


# ----------------------------------------------------------------------------- the embedded model
@pytest.fixture(scope="module")
def photos():
    from advcourse import load_samples

    batch = load_samples()
    return batch.x[:4], batch.y[:4]


@pytest.mark.slow
def test_fgsm_and_pgd_equal_torchattacks_on_the_embedded_model(model, photos):
    x, y = photos
    torch.testing.assert_close(fgsm(model, x, y, eps=2 / 255), torchattacks.FGSM(model, eps=2 / 255)(x, y),
                               rtol=0, atol=1e-6)
    ours = pgd(model, x, y, eps=4 / 255, step_size=1 / 255, steps=3, random_start=False)
    theirs = torchattacks.PGD(model, eps=4 / 255, alpha=1 / 255, steps=3, random_start=False)(x, y)
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-6)
    assert not model.training and all(p.grad is None for p in model.parameters())


# ----------------------------------------------------------------------------- closed forms, affine model
def _affine(k: int, seed: int) -> tuple[Linear, torch.Tensor]:
    """An affine k-class model on 1×4×4 images whose boundaries all meet at plain grey, and 8 images
    near grey: every boundary is close, so no step reaches the edge of the box."""
    w = linear(in_shape=(1, 4, 4), num_classes=k, seed=seed).weight.detach()
    lin = Linear(w, -w.sum(1) * 0.5)  # f(x) = W (x − 0.5)
    x = 0.5 + 0.05 * torch.rand(8, 1, 4, 4, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return lin, x


@pytest.mark.parametrize("norm", [float("inf"), 2])
def test_fgsm_on_an_affine_binary_classifier(norm):
    lin, x = _affine(2, seed=1)
    y = torch.tensor([0, 1] * 4)
    # CE(Wx + b, y) has gradient p_other · (w_other − w_y): a fixed direction, whatever x is
    w = lin.weight.detach()
    d = (w[1 - y] - w[y]).view_as(x)
    step = d.sign() if norm == float("inf") else d / d.flatten(1).norm(dim=1).view(-1, 1, 1, 1)
    torch.testing.assert_close(fgsm(lin, x, y, eps=0.01, norm=norm), x + 0.01 * step, rtol=0, atol=1e-15)


@pytest.mark.parametrize("overshoot", [0.0, 0.02, 0.1])
def test_deepfool_on_an_affine_binary_classifier_lands_on_the_hyperplane(overshoot):
    lin, x = _affine(2, seed=2)
    with torch.no_grad():
        f = lin(x)
    y = f.argmax(1)
    w = lin.weight.detach()
    w_d = (w[1 - y] - w[y])  # (8, 16): normal of the boundary f_other = f_y
    f_d = f.gather(1, (1 - y)[:, None]) - f.gather(1, y[:, None])  # < 0: y wins at x
    r = (f_d.abs() / w_d.norm(dim=1, keepdim=True) ** 2 * w_d).view_as(x)  # Alg. 1: −f/‖w‖² · w
    with torch.no_grad():
        on_plane = lin(x + r)
    torch.testing.assert_close(on_plane[:, 0], on_plane[:, 1], rtol=0, atol=1e-12)  # the hand answer is right
    assert 0 < (x + (1 + overshoot) * r).min() and (x + (1 + overshoot) * r).max() < 1  # no clipping involved
    x_adv, info = deepfool(lin, x, y, overshoot=overshoot, return_info=True, max_iter=1 if overshoot == 0 else 50)
    torch.testing.assert_close(x_adv, x + (1 + overshoot) * r, rtol=0, atol=1e-12)
    assert (info.iterations == 1).all()
    if overshoot > 0:
        assert info.success.all()


def test_deepfool_on_an_affine_multiclass_model_picks_the_closest_hyperplane():
    lin, x = _affine(5, seed=3)
    with torch.no_grad():
        f = lin(x)
    y = f.argmax(1)
    w = lin.weight.detach()
    w_d = w[None] - w[y][:, None]  # (8, 5, 16)
    f_d = f - f.gather(1, y[:, None])  # (8, 5)
    dist = f_d.abs() / w_d.norm(dim=2)
    dist[torch.arange(8), y] = float("inf")
    l = dist.argmin(1)
    rows = torch.arange(8)
    r = (dist[rows, l] / w_d[rows, l].norm(dim=1))[:, None] * w_d[rows, l]
    x_adv, info = deepfool(lin, x, y, num_classes=5, overshoot=0.02, return_info=True)
    torch.testing.assert_close(x_adv, x + 1.02 * r.view_as(x), rtol=0, atol=1e-12)
    assert info.success.all() and (info.iterations == 1).all() and torch.equal(info.pred, l)
