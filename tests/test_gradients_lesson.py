"""04_gradients: the 1-D calculus helpers, the sign-vs-random step, the descent app and the checks."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure

from advcourse.foundations import calculus
from advcourse.attacks._toy import tiny_cnn
from advcourse.foundations.calculus import bowl, derivative, gradient_descent, sign_vs_random, tangent
from advcourse.exercises.gradients import check_derivative, check_input_gradient
from advcourse.widgets import gradients as gw


# ----------------------------------------------------------------------------- 1-D calculus
@pytest.mark.parametrize("x0", [-1.0, 0.5, 2.0, 3.25])
def test_derivative_matches_the_formula_and_a_finite_difference(x0):
    assert derivative(bowl, x0) == pytest.approx(2 * (x0 - 2))
    assert derivative(torch.sin, x0) == pytest.approx(math.cos(x0))
    h = 1e-6
    assert derivative(torch.exp, x0) == pytest.approx((math.exp(x0 + h) - math.exp(x0 - h)) / (2 * h), rel=1e-6)


def test_tangent_touches_the_curve():
    slope, intercept = tangent(bowl, 0.5)
    assert slope == pytest.approx(-3.0)
    assert slope * 0.5 + intercept == pytest.approx(bowl(0.5))


@pytest.mark.parametrize("lr, factor", [(0.1, 0.8), (0.25, 0.5), (0.75, -0.5), (1.0, -1.0), (1.1, -1.2)])
def test_descent_on_the_bowl_multiplies_the_distance_by_one_minus_two_lr(lr, factor):
    path = gradient_descent(bowl, -1.0, lr=lr, steps=5)
    assert len(path) == 6 and path[0] == -1.0
    for k, xk in enumerate(path):
        assert xk - 2 == pytest.approx(-3.0 * factor ** k)


def test_descent_with_zero_steps_or_zero_rate_stays_put():
    assert gradient_descent(bowl, 4.0, lr=0.3, steps=0) == [4.0]
    assert gradient_descent(bowl, 4.0, lr=0.0, steps=3) == [4.0] * 4


def test_descent_that_overflows_ends_at_inf():
    path = gradient_descent(bowl, 10.0, lr=1e6, steps=80)
    assert path[-1] == math.inf and all(not math.isnan(p) for p in path)


@pytest.mark.parametrize("kwargs, err, word", [
    ({"lr": -0.1, "steps": 3}, ValueError, "lr"), ({"lr": 0.1, "steps": 2.5}, TypeError, "steps"),
    ({"lr": "a", "steps": 3}, TypeError, "lr"),
])
def test_descent_rejects_bad_arguments_by_name(kwargs, err, word):
    with pytest.raises(err, match=word):
        gradient_descent(bowl, 0.0, **kwargs)


def test_bad_point_and_function_are_named():
    with pytest.raises(ValueError, match="x0"):
        derivative(bowl, float("inf"))
    with pytest.raises(TypeError, match="fn"):
        derivative(3, 0.0)
    with pytest.raises(ValueError, match="fn"):
        derivative(lambda x: torch.stack([x, x]), 0.0)


def test_figures():
    fig = calculus.show_tangents(bowl, [0.0, 3.5])
    assert isinstance(fig, Figure) and "slope -4.00" in " ".join(t.get_text() for t in fig.legends[0].texts)
    with pytest.raises(ValueError, match="points"):
        calculus.show_tangents(bowl, [])
    assert "converges" in calculus.show_descent(bowl, -1.0, lr=0.2, steps=10).axes[1].get_title()
    assert "diverges" in calculus.show_descent(bowl, -1.0, lr=1.15, steps=10).axes[1].get_title()
    assert "stalls" in calculus.show_descent(bowl, -1.0, lr=1.0, steps=10).axes[1].get_title()


# ----------------------------------------------------------------------------- sign vs random
@pytest.fixture(scope="module")
def toy():
    net = tiny_cnn(seed=1, num_classes=10, dtype=torch.float64)
    x = 0.2 + 0.6 * torch.rand(6, 3, 16, 16, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    with torch.no_grad():
        y = net(x).argmax(1)
    return net, x, y


def test_sign_step_matches_its_first_order_prediction_for_a_tiny_step(toy):
    net, x, y = toy
    cmp = sign_vs_random(net, x, y, eps=1e-7, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(cmp.sign, cmp.predicted, rtol=1e-3)
    assert (cmp.sign > 0).all()
    # random ±1 signs: the first-order changes mostly cancel
    assert cmp.ratio > 5, cmp


def test_sign_vs_random_is_reproducible_and_leaves_the_model_alone(toy):
    net, x, y = toy
    net.train()
    flags = [p.requires_grad for p in net.parameters()]
    a = sign_vs_random(net, x, y, eps=0.01, generator=torch.Generator().manual_seed(3))
    b = sign_vs_random(net, x, y, eps=0.01, generator=torch.Generator().manual_seed(3))
    assert net.training and [p.requires_grad for p in net.parameters()] == flags
    assert all(p.grad is None for p in net.parameters())
    net.eval()
    assert torch.equal(a.random, b.random) and torch.equal(a.sign, b.sign)
    assert "ratio" in str(a)
    fig = calculus.show_step_comparison(a, [f"p{i}" for i in range(6)])
    assert isinstance(fig, Figure) and len(fig.axes[0].patches) == 12
    with pytest.raises(ValueError, match="names"):
        calculus.show_step_comparison(a, ["one"])


def test_sign_vs_random_reuses_a_given_gradient(toy):
    from advcourse.foundations.explain import input_gradient

    net, x, y = toy
    g = input_gradient(net, x, y)
    a = sign_vs_random(net, x, y, eps=0.01, generator=torch.Generator().manual_seed(3))
    b = sign_vs_random(net, x, y, eps=0.01, generator=torch.Generator().manual_seed(3), grad=g)
    assert torch.allclose(a.sign, b.sign) and torch.allclose(a.random, b.random)
    with pytest.raises(ValueError, match="grad"):
        sign_vs_random(net, x, y, eps=0.01, grad=g[:1])


def test_sign_vs_random_rejects_bad_input(toy):
    net, x, y = toy
    with pytest.raises(ValueError, match="eps"):
        sign_vs_random(net, x, y, eps=-1)
    with pytest.raises(ValueError, match="y"):
        sign_vs_random(net, x, None, eps=0.1)
    with pytest.raises(ValueError, match="x"):
        sign_vs_random(net, x + 2, y, eps=0.1)


# ----------------------------------------------------------------------------- the app
def test_render_descent_draws_the_path():
    fig = gw.render_descent(0.3)
    assert isinstance(fig, Figure) and len(fig.axes) == 2 and "lr = 0.3" in fig.axes[0].get_title()


def test_descent_app_rerenders_when_the_slider_moves(monkeypatch):
    seen = []
    monkeypatch.setattr(gw, "render_descent", lambda lr, x0: seen.append((lr, x0)) or Figure())
    app = gw.descent_app()
    lr_slider, x0_slider = app.children[0].children
    assert not lr_slider.continuous_update
    lr_slider.value = 1.1
    assert seen[-1] == (1.1, -1.0)
    x0_slider.value = 5.0
    assert seen[-1] == (1.1, 5.0)


# ----------------------------------------------------------------------------- exercises
def test_check_derivative_right_and_wrong():
    assert check_derivative(-3.0, x0=0.5)
    assert check_derivative(torch.tensor(2.0), x0=3.0)
    assert "moves right" in str(check_derivative(-3, x0=0.5))
    for wrong, hint in [(..., "replace"), (3.0, "sign"), (-1.5, "factor 2"), (bowl(0.5), "value"),
                        (7.0, "chain rules"), ("a", "number"), (float("nan"), "number")]:
        fb = check_derivative(wrong, x0=0.5)
        assert not fb and hint in fb.message, (wrong, fb)


def _by_hand(net, x, y, reduction="sum"):
    x_req = x.clone().requires_grad_(True)
    loss = F.cross_entropy(net(x_req), y, reduction=reduction)
    return torch.autograd.grad(loss, x_req)[0]


def test_check_input_gradient_right_and_wrong(toy):
    net, x, y = toy
    right = _by_hand(net, x, y)
    assert check_input_gradient(right, net, x, y)
    cases = [
        (..., "replace"), ((right,), "tuple"), (right[0], "batch dimension"), (-right, "opposite sign"),
        (_by_hand(net, x, y, "mean"), "averaged over the batch"), (3 * right, "wrong size"),
        (torch.zeros_like(right), "zeros"), (_by_hand(net, x, (y + 1) % 10), "true labels"),
    ]
    for wrong, hint in cases:
        fb = check_input_gradient(wrong, net, x, y)
        assert not fb and hint in fb.message, (hint, fb)
