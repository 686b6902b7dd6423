"""Noise curves, the flip search and the noise figures (02_noise), plus gaussian_noise."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from torch import nn

from advcourse import load_samples
from advcourse.attacks import gaussian_noise, noise
from advcourse.foundations.noise_study import (add_noise, noise_curve, noise_gallery, noise_histograms, plot_noise_curves,
                                   probabilities, smallest_flipping_eps, uniform_std)


class Brightest(nn.Module):
    """A toy 'classifier' with a known answer: class 1 when some pixel exceeds 0.5, else class 0."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(200.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = x.flatten(1).amax(dim=1)
        return torch.stack([-(m - 0.5), m - 0.5], dim=1) * self.scale


@pytest.fixture(scope="module")
def two():
    return load_samples(["chelsea_cat", "flamingo"])


def test_gaussian_noise_has_the_promised_spread_and_contract():
    x = torch.full((2, 3, 64, 64), 0.5)
    g = torch.Generator().manual_seed(0)
    x_adv = gaussian_noise(x, sigma=8 / 255, generator=g)
    assert x_adv.shape == x.shape and x_adv.min() >= 0 and x_adv.max() <= 1
    assert math.isclose(float((x_adv - x).std()), 8 / 255, rel_tol=0.02)
    assert torch.equal(gaussian_noise(x, sigma=0), x)
    again = gaussian_noise(x, sigma=8 / 255, generator=torch.Generator().manual_seed(0))
    assert torch.equal(again, x_adv)
    assert gaussian_noise(torch.ones(1, 3, 8, 8), sigma=0.5).max() <= 1  # clipped to the box
    with pytest.raises(ValueError, match="sigma"):
        gaussian_noise(x, sigma=-1.0)
    with pytest.raises(TypeError, match="generator"):
        gaussian_noise(x, sigma=0.1, generator=0)


def test_uniform_std_matches_a_sample():
    u = (2 * torch.rand(400_000, generator=torch.Generator().manual_seed(1)) - 1) * 0.3
    assert math.isclose(float(u.std()), uniform_std(0.3), rel_tol=0.01)
    assert math.isclose(uniform_std(math.sqrt(3)), 1.0)


def test_add_noise_is_seeded_and_scales_one_pattern():
    x = torch.full((1, 3, 16, 16), 0.5)
    a = add_noise(x, 4 / 255, seed=3) - x
    b = add_noise(x, 8 / 255, seed=3) - x
    assert torch.allclose(2 * a, b, atol=1e-6)  # the same pattern, twice as loud
    assert torch.equal(add_noise(x, 8 / 255, seed=3) - x, b)
    assert not torch.equal(add_noise(x, 8 / 255, seed=4) - x, b)
    assert torch.equal(add_noise(x, 8 / 255, seed=3), noise(x, eps=8 / 255, generator=torch.Generator().manual_seed(3)))
    assert torch.equal(add_noise(x, 0.1, kind="gaussian", seed=0),
                       gaussian_noise(x, sigma=0.1, generator=torch.Generator().manual_seed(0)))
    with pytest.raises(ValueError, match="kind"):
        add_noise(x, 0.1, kind="salt")


def test_probabilities_restore_the_mode(model):
    model.train()
    try:
        p = probabilities(model, torch.rand(1, 3, 224, 224))
        assert model.training and math.isclose(float(p.sum()), 1.0, rel_tol=1e-4)
    finally:
        model.eval()


def test_noise_curve_against_a_hand_computed_loop(model, two):
    levels = [0.0, 64 / 255]
    curve = noise_curve(model, two, levels, seed=0)
    assert curve.predictions.shape == (2, 2) and curve.names == two.names
    for i, eps in enumerate(levels):
        probs = probabilities(model, add_noise(two.x, eps, seed=0))
        assert np.array_equal(curve.predictions[i], probs.argmax(1).numpy())
        assert math.isclose(curve.accuracy[i], np.mean(two.correct(probs.argmax(1))))
        assert math.isclose(curve.confidence[i], float(probs[torch.arange(2), two.y].mean()), rel_tol=1e-5)
    assert curve.accuracy[0] == 1.0 and curve.l2[0] == 0 and curve.linf[0] == 0
    assert 0 < curve.linf[1] <= 64 / 255 + 1e-6 and curve.l2[1] > curve.linf[1]
    assert curve.confidence[1] < curve.confidence[0]
    assert curve.at(64 / 255) == 1 and curve.changed(0.0) == 0.0
    with pytest.raises(ValueError, match="not on the grid"):
        curve.at(3 / 255)


def test_noise_curve_rejects_bad_levels(model, two):
    for bad in ([], [-0.1], [float("nan")]):
        with pytest.raises(ValueError, match="levels"):
            noise_curve(model, two, bad)


def test_smallest_flipping_eps_on_a_model_with_a_known_answer():
    toy = Brightest()
    x = torch.full((1, 3, 8, 8), 0.45)  # class 0 until some pixel moves up by more than 0.05
    # 192 uniform draws in [-eps, eps]: the largest is above eps/4 but below eps, so the label
    # holds at eps = 0.05 and flips at eps = 0.2
    assert smallest_flipping_eps(toy, x, [0.4, 0.0, 0.01, 0.02, 0.05, 0.2], seed=0) == 0.2
    assert smallest_flipping_eps(toy, x, [0.0, 0.01, 0.05], seed=0) is None
    with pytest.raises(ValueError, match="one photo"):
        smallest_flipping_eps(toy, torch.zeros(2, 3, 8, 8), [0.1])


def test_smallest_flipping_eps_agrees_with_a_loop(model):
    from advcourse import load_image

    x = load_image("chelsea_cat")
    levels = [0.0, 16 / 255, 48 / 255, 128 / 255]
    clean = int(probabilities(model, x).argmax())
    loop = next((e for e in levels if int(probabilities(model, add_noise(x, e)).argmax()) != clean), None)
    assert smallest_flipping_eps(model, x, levels) == loop


def test_figures(model, two):
    curve = noise_curve(model, two, [0.0, 32 / 255])
    gauss = noise_curve(model, two, [0.0, uniform_std(32 / 255)], kind="gaussian")
    for against in ("level", "l2"):
        fig = plot_noise_curves(curve, gauss, against=against)
        assert isinstance(fig, Figure) and len(fig.axes) == 2 and len(fig.axes[0].lines) == 2
    assert np.allclose(plot_noise_curves(curve).axes[0].lines[0].get_xdata(), [0, 32])
    with pytest.raises(ValueError):
        plot_noise_curves()
    with pytest.raises(ValueError, match="against"):
        plot_noise_curves(curve, against="linf")
    gallery = noise_gallery(model, two.x[:1], [0.0, 64 / 255])
    assert len(gallery.axes) == 2 and "64/255" in gallery.axes[1].get_title()
    hist = noise_histograms(16 / 255, uniform_std(16 / 255))
    legend = " ".join(t.get_text() for t in hist.legends[0].texts)
    assert isinstance(hist, Figure) and "eps = 16.0/255" in legend and "sigma = 9.2/255" in legend
    assert "std" not in legend  # the uniform std is 02_noise's exercise: the figure must not answer it
