"""08_defences helpers: the transfer app (render + slider) and the exercise checks."""

from __future__ import annotations

import pytest
import torch
from matplotlib.figure import Figure

from advcourse.attacks._toy import tiny_cnn
from advcourse.models.datasets import load_digits
from advcourse.defences import RandomResizePad, evaluate, transfer_sweep
from advcourse.exercises.defences import check_eot_cost, check_robust_beyond_budget
from advcourse.models.nets import DigitsCNN
from advcourse.widgets import defences as wd


@pytest.fixture(scope="module")
def sweep():
    net = tiny_cnn(seed=0).eval()
    x = torch.rand(3, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    y = net(x).argmax(1)
    defended = RandomResizePad(net, generator=torch.Generator().manual_seed(0))
    return transfer_sweep(net, defended, x, y, [0, 2 / 255, 8 / 255], steps=2)


def test_render_transfer_draws_photo_and_curves(sweep):
    fig = wd.render_transfer(sweep, 8 / 255, photo=1, names=["a", "b", "c"])
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    assert fig.axes[0].get_title().startswith("b, PGD at eps = 8/255")
    assert len(fig.axes[1].lines) == 3  # bare, defended, the marker


def test_render_transfer_rejects_unknown_budget_and_photo(sweep):
    with pytest.raises(ValueError, match="eps"):
        wd.render_transfer(sweep, 3 / 255)
    with pytest.raises(ValueError, match="photo"):
        wd.render_transfer(sweep, 0, photo=7)


def test_transfer_app_rerenders_when_controls_move(sweep, monkeypatch):
    seen = []
    monkeypatch.setattr(wd, "render_transfer", lambda s, eps, photo, names: seen.append((eps, photo)) or Figure())
    app = wd.transfer_app(sweep, ["a", "b", "c"])
    slider, dropdown = app.children[0].children
    assert not slider.continuous_update
    slider.value = 2 / 255
    dropdown.value = 2
    assert (2 / 255, 0) in seen and (2 / 255, 2) in seen


def test_check_robust_beyond_budget_right_and_wrong():
    d = load_digits()
    torch.manual_seed(0)
    net = DigitsCNN(width=4)
    x, y = d.x_test[:60], d.y_test[:60]
    clean, robust = evaluate(net, x, y, attack="pgd", attack_params={"eps": 0.3, "step_size": 0.075, "steps": 10})
    assert check_robust_beyond_budget(robust, net, x, y, eps=0.3)
    assert not check_robust_beyond_budget(..., net, x, y, eps=0.3)
    wrong = check_robust_beyond_budget(min(1.0, robust + 0.2), net, x, y, eps=0.3)
    assert not wrong and "eps=0.3" in wrong.message
    assert "percentage" in check_robust_beyond_budget(42, net, x, y, eps=0.3).message
    assert not check_robust_beyond_budget("0.4", net, x, y, eps=0.3)


def test_check_eot_cost():
    assert check_eot_cost(80, steps=10, samples=8)
    assert check_eot_cost(torch.tensor(80), steps=10, samples=8)
    assert "plain PGD" in check_eot_cost(10, steps=10, samples=8).message
    assert "multiply" in check_eot_cost(18, steps=10, samples=8).message
    assert not check_eot_cost(..., steps=10, samples=8) and not check_eot_cost(80.0, steps=10, samples=8)
