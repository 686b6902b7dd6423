"""05_fgsm's lesson code: eps sweeps, curves, landing ranks, pictures, the eps app, the checks."""

from __future__ import annotations

import pytest
import torch
from matplotlib.figure import Figure

from advcourse.attacks import _toy, fgsm, noise
from advcourse.models.labels import class_name
from advcourse.exercises import fgsm as ex
from advcourse.widgets import fgsm as lesson

GRID = [0, 1 / 255, 4 / 255, 16 / 255]


@pytest.fixture(scope="module")
def toy():
    return _toy.tiny_cnn(seed=1, num_classes=1000)  # 1000 classes: labels have ImageNet names


@pytest.fixture(scope="module")
def batch(toy):
    x = torch.rand(4, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        y = toy(x).argmax(1)  # the toy is right on every photo
    return x, y


@pytest.fixture(scope="module")
def sw(toy, batch):
    return lesson.sweep(toy, *batch, GRID)


def test_eps_label():
    assert lesson.eps_label(0) == "0"
    assert lesson.eps_label(2 / 255) == "2/255"
    assert lesson.eps_label(0.5 / 255) == "0.5/255"


def test_sweep_is_fgsm_at_every_budget(toy, batch, sw):
    x, y = batch
    assert sw.x_adv.shape == (len(GRID), *x.shape) and sw.logits.shape == (len(GRID), 4, 1000)
    assert torch.equal(sw.x_adv[0], x)
    for i, eps in enumerate(GRID[1:], start=1):
        assert torch.equal(sw.x_adv[i], fgsm(toy, x, y, eps=eps))
        assert torch.allclose(sw.logits[i], toy(sw.x_adv[i]), atol=1e-5)
    assert torch.equal(sw.pred[0], y) and float(sw.accuracy(y)[0]) == 1.0
    assert torch.equal(sw.hit_rate(), sw.accuracy(y))  # untargeted: labels are the true classes
    assert torch.allclose(sw.delta(4 / 255), sw.x_adv[2] - x)
    assert sw.accuracy(y).shape == (len(GRID),)


def test_sweep_noise_matches_the_noise_attack(toy, batch):
    x, y = batch
    sw = lesson.sweep(toy, x, y, [0, 8 / 255], attack="noise", generator=torch.Generator().manual_seed(3))
    assert torch.equal(sw.x_adv[1], noise(x, eps=8 / 255, generator=torch.Generator().manual_seed(3)))
    assert sw.name == "noise"


def test_sweep_targeted_and_l2(toy, batch):
    x, _ = batch
    t = torch.full((4,), 7)
    sw = lesson.sweep(toy, x, t, [0, 0.5], targeted=True)
    assert sw.name == "t-fgsm" and sw.targeted
    assert torch.equal(sw.x_adv[1], fgsm(toy, x, t, eps=0.5, targeted=True))
    assert torch.equal(sw.hit_rate(), (sw.pred == 7).float().mean(1))
    title = lesson.render_eps(sw, photo=0, eps=0.5).axes[2].get_title()
    assert f"target {class_name(7)}: {float(sw.prob[1, 0, 7]):.1%}" in title and "✔" not in title
    l2 = lesson.sweep(toy, x, t, [0.5], norm=2)
    assert torch.equal(l2.x_adv[0], fgsm(toy, x, t, eps=0.5, norm=2))


@pytest.mark.parametrize("kwargs, err, word", [
    ({"eps_grid": [2 / 255, 1 / 255]}, ValueError, "increasing"),
    ({"eps_grid": []}, ValueError, "eps_grid"),
    ({"eps_grid": [-1.0]}, ValueError, "eps_grid"),
    ({"eps_grid": ["a"]}, TypeError, "eps_grid"),
    ({"eps_grid": [0.1], "attack": "pgd"}, ValueError, "attack"),
    ({"eps_grid": [0.1], "attack": "noise", "targeted": True}, ValueError, "targeted"),
])
def test_sweep_rejects_bad_input(toy, batch, kwargs, err, word):
    with pytest.raises(err, match=word):
        lesson.sweep(toy, *batch, **kwargs)


def test_index_off_grid(sw):
    assert sw.index(4 / 255) == 2
    with pytest.raises(ValueError, match="grid"):
        sw.index(3 / 255)


def test_accuracy_curves_one_line_per_sweep(toy, batch, sw):
    fig = lesson.accuracy_curves({"FGSM": sw, "FGSM again": sw}, batch[1])
    assert isinstance(fig, Figure)
    lines = fig.axes[0].get_lines()
    assert len(lines) == 2
    assert list(lines[0].get_ydata()) == pytest.approx((sw.accuracy(batch[1]) * 100).tolist())


def test_render_eps_panels(sw):
    fig = lesson.render_eps(sw, photo=1, eps=16 / 255, names=["a", "b", "c", "d"])
    assert isinstance(fig, Figure) and len(fig.axes) == 3
    assert "16/255" in fig.axes[2].get_title() and "16.0/255" in fig.axes[1].get_title()
    assert "✔" in fig.axes[0].get_title()
    with pytest.raises(ValueError, match="photo"):
        lesson.render_eps(sw, photo=9, eps=0)


def test_eps_app_redraws_on_slider_and_dropdown(sw, monkeypatch):
    seen = []
    monkeypatch.setattr(lesson, "render_eps", lambda s, photo, eps, names: seen.append((photo, eps)) or Figure())
    app = lesson.eps_app(sw, ["a", "b", "c", "d"])
    photo, slider = app.children[0].children
    slider.value = GRID[3]
    assert seen[-1] == (0, GRID[3])
    photo.value = 2
    assert seen[-1] == (2, GRID[3])


def test_landing_ranks_against_the_clean_prediction(sw, batch):
    y = batch[1]
    land = lesson.landing(sw, y, eps=16 / 255, k=5)
    order = sw.logits[0].argsort(1, descending=True)
    for i in range(4):
        assert int(order[i, int(land.clean_rank[i]) - 1]) == int(sw.pred[3, i])
    assert torch.equal(land.flipped, sw.pred[3] != y)
    if land.flipped.any():
        expected = float((land.clean_rank[land.flipped] <= 5).float().mean())
        assert land.near_rate == pytest.approx(expected)
    unmoved = lesson.landing(sw, y, eps=0)
    assert not unmoved.flipped.any() and unmoved.clean_rank.tolist() == [1, 1, 1, 1]
    fig = lesson.show_landing(land, y, list("abcd"))
    assert isinstance(fig, Figure) and len(fig.axes[0].patches) == int(land.flipped.sum())


def test_landing_needs_a_clean_column(toy, batch):
    sw = lesson.sweep(toy, *batch, [1 / 255, 2 / 255])
    with pytest.raises(ValueError, match="eps = 0"):
        lesson.landing(sw, batch[1], eps=2 / 255)


def test_pictures(toy, batch):
    x, y = batch
    grad = torch.randn_like(x[:1])
    fig = lesson.show_fgsm_steps(x[:1], grad, 2 / 255, (x[:1] + 2 / 255 * grad.sign()).clamp(0, 1))
    assert isinstance(fig, Figure) and len(fig.axes) == 4 and "2/255" in fig.axes[3].get_title()
    d_inf = fgsm(toy, x[:1], y[:1], eps=2 / 255) - x[:1]
    d_l2 = fgsm(toy, x[:1], y[:1], eps=0.2, norm=2) - x[:1]
    fig = lesson.show_norms(x[:1], {"inf": d_inf, "l2": d_l2})
    assert len(fig.axes) == 5  # photo, two maps, a colour bar for each map
    assert f"{float(d_l2.norm()):.2f}" in fig.axes[2].get_title()
    assert "sign only" in fig.axes[1].get_title() and "sign only" not in fig.axes[2].get_title()
    inf_map = fig.axes[1].images[0].get_array()  # the signed red channel of δ, in /255
    torch.testing.assert_close(torch.tensor(inf_map.data).float(), (d_inf[0, 0] * 255).float())
    assert fig.axes[1].images[0].norm.vmin == -fig.axes[1].images[0].norm.vmax  # 0 is the centre (white)


# ----------------------------------------------------------------------------- the checks
def test_check_half_accuracy_eps(batch):
    x, y = batch
    acc = torch.tensor([1.0, 0.75, 0.5, 0.25])

    class Fake(lesson.Sweep):  # fixed accuracies: the check's logic on known values
        def accuracy(self, y):
            return acc

    sw = Fake("fgsm", torch.tensor(GRID, dtype=torch.float64), x, x[None].repeat(4, 1, 1, 1, 1),
              torch.zeros(4, 4, 1000), y)
    assert ex.check_half_accuracy_eps(4 / 255, sw, y)
    assert not ex.check_half_accuracy_eps(..., sw, y)
    assert "still 75%" in ex.check_half_accuracy_eps(1 / 255, sw, y).message
    assert "smaller" in ex.check_half_accuracy_eps(16 / 255, sw, y).message
    assert "pixel units" in ex.check_half_accuracy_eps(4, sw, y).message
    assert "not on the grid" in ex.check_half_accuracy_eps(3 / 255, sw, y).message
    assert not ex.check_half_accuracy_eps("4/255", sw, y)
    acc = torch.ones(4)
    assert "never" in ex.check_half_accuracy_eps(4 / 255, sw, y).message


@pytest.mark.parametrize("targeted", [False, True])
def test_check_fgsm_by_hand(toy, batch, targeted):
    x, y = batch[0][:1], torch.tensor([3]) if targeted else batch[1][:1]
    eps = 4 / 255
    x_in = x.clone().requires_grad_(True)
    g = torch.autograd.grad(torch.nn.functional.cross_entropy(toy(x_in), y), x_in)[0]
    sign = -1 if targeted else 1
    right = (x + sign * eps * g.sign()).clamp(0, 1)
    assert ex.check_fgsm_by_hand(right, toy, x, y, eps, targeted=targeted)
    assert not ex.check_fgsm_by_hand(..., toy, x, y, eps, targeted=targeted)
    wrong_way = (x - sign * eps * g.sign()).clamp(0, 1)
    assert "wrong way" in ex.check_fgsm_by_hand(wrong_way, toy, x, y, eps, targeted=targeted).message
    unclipped = x + sign * eps * g.sign() + 2.0
    assert "[0, 1]" in ex.check_fgsm_by_hand(unclipped, toy, x, y, eps, targeted=targeted).message
    raw = (x + sign * eps * g / g.abs().max() * 0.5).clamp(0, 1)
    assert "exactly eps" in ex.check_fgsm_by_hand(raw, toy, x, y, eps, targeted=targeted).message
    assert "shape" in ex.check_fgsm_by_hand(right[0], toy, x, y, eps, targeted=targeted).message
    assert not ex.check_fgsm_by_hand([1, 2], toy, x, y, eps, targeted=targeted)
