"""Randomized smoothing (advcourse.defences.smoothing): PREDICT, CERTIFY and accuracy against radius.

The reference is a closed-form toy: a linear classifier on 2-pixel images. Under Gaussian noise
σ, a point at distance d from its decision line keeps its class with probability exactly
Φ(d/σ), and the smoothed classifier is the linear classifier itself, so the true certified
radius is d and any claimed certificate can be checked point by point.
"""

from __future__ import annotations

import math

import pytest
import torch
from scipy import stats
from torch import nn

from advcourse.attacks._toy import Linear, tiny_cnn
from advcourse.defences import (
    ABSTAIN, AccuracyCurve, Certificate, GaussianNoise, certified_accuracy, certify, pgd_accuracy,
    plot_accuracy_curves, predict, train_digits_cnn,
)
from advcourse.models.nets import digits_cnn

SIGMA = 0.25
BOUNDARY = 0.2  # the toy says class 1 iff the first pixel > 0.2


@pytest.fixture(scope="module", autouse=True)
def _one_thread(single_thread):
    yield


def toy() -> Linear:
    """logits = (0, x₀ − 0.2) for (N, 1, 1, 2) images: class 1 right of the line x₀ = 0.2."""
    return Linear(torch.tensor([[0.0, 0.0], [1.0, 0.0]], dtype=torch.float64),
                  torch.tensor([0.0, -BOUNDARY], dtype=torch.float64))


def points(*xy: tuple[float, float]) -> torch.Tensor:
    return torch.tensor(xy, dtype=torch.float64).view(-1, 1, 1, 2)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ----------------------------------------------------------------------------- the closed-form toy
def test_radius_is_sigma_times_quantile_of_the_clopper_pearson_bound():
    x = points((0.5, 0.5), (0.35, 0.1), (0.9, 0.9))
    d = x[:, 0, 0, 0] - BOUNDARY  # distance to the decision line
    n, alpha = 20_000, 0.001
    cert = certify(toy(), x, sigma=SIGMA, n0=100, n=n, alpha=alpha, generator=gen())
    assert cert.prediction.tolist() == [1, 1, 1]
    p_a = stats.norm.cdf(d.numpy() / SIGMA)  # exact P(f(x + ε) = 1)
    freq = cert.count_a.double().numpy() / n
    assert abs(freq - p_a).max() < 4 * math.sqrt(0.25 / n)  # the counts follow Φ(d/σ)
    k = cert.count_a.double().numpy()
    lower = stats.beta.ppf(alpha, k, n - k + 1)  # Clopper–Pearson, one-sided, written independently
    assert torch.allclose(cert.p_a_lower, torch.from_numpy(lower), rtol=1e-9, atol=0)
    assert torch.allclose(cert.radius, SIGMA * torch.from_numpy(stats.norm.ppf(lower)), rtol=1e-9, atol=0)
    assert (cert.radius < d).all() and (cert.radius > 0.8 * d).all()  # sound, and not far from the truth


def test_the_certificate_holds_at_every_point_within_the_radius():
    x = points((0.5, 0.5))
    cert = certify(toy(), x, sigma=SIGMA, n0=100, n=10_000, generator=gen(1))
    r = float(cert.radius[0])
    g = gen(2)
    angles = torch.rand(30, generator=g, dtype=torch.float64) * 2 * math.pi
    radii = torch.rand(30, generator=g, dtype=torch.float64).sqrt() * r
    offsets = torch.stack([torch.cos(angles), torch.sin(angles)], 1) * radii[:, None]
    worst = torch.tensor([[-0.999 * r, 0.0]], dtype=torch.float64)  # straight at the line, at the radius
    inside = (x.view(1, 2) + torch.cat([worst, offsets])).view(-1, 1, 1, 2)
    # Monte Carlo PREDICT with many draws: the smoothed class must not change anywhere in the ball
    assert (predict(toy(), inside, sigma=SIGMA, n=200_000, generator=gen(3)) == 1).all()
    # ... and the same check does fail just past the true radius (the test can fail)
    beyond = points((BOUNDARY - 0.05, 0.5))
    assert predict(toy(), beyond, sigma=SIGMA, n=200_000, generator=gen(3)).item() == 0


def test_abstains_on_the_decision_line_and_with_too_few_draws():
    on_line = points((BOUNDARY, 0.5))
    cert = certify(toy(), on_line, sigma=SIGMA, n0=100, n=5000, generator=gen())
    assert cert.prediction.item() == ABSTAIN and cert.radius.item() == 0 and cert.p_a_lower.item() <= 0.5
    assert predict(toy(), on_line, sigma=SIGMA, n=5000, generator=gen()).item() == ABSTAIN
    far = points((1.0, 1.0))  # p_A = Φ(3.2): almost every draw says 1
    assert predict(toy(), far, sigma=SIGMA, n=1, generator=gen()).item() == ABSTAIN  # 1 of 1 proves nothing
    assert predict(toy(), far, sigma=SIGMA, n=100, generator=gen()).item() == 1


def test_all_hits_give_the_closed_form_bound_alpha_to_the_one_over_n():
    """n hits out of n: Clopper–Pearson lower bound alpha^(1/n), above 1/2 only from n = 10 (alpha = 0.001)."""
    always_3 = Linear(torch.zeros(10, 2, dtype=torch.float64), torch.eye(10, dtype=torch.float64)[3])
    x = points((0.5, 0.5), (0.1, 0.9))
    for n in (1, 9):
        cert = certify(always_3, x, sigma=SIGMA, n0=1, n=n, alpha=0.001, generator=gen())
        assert (cert.prediction == ABSTAIN).all() and (cert.radius == 0).all()
    cert = certify(always_3, x, sigma=SIGMA, n0=1, n=10, alpha=0.001, generator=gen())
    assert cert.prediction.tolist() == [3, 3]
    assert torch.allclose(cert.p_a_lower, torch.full((2,), 0.001 ** 0.1, dtype=torch.float64), rtol=1e-9)
    assert torch.allclose(cert.radius, torch.full((2,), SIGMA * stats.norm.ppf(0.001 ** 0.1), dtype=torch.float64))


# ----------------------------------------------------------------------------- properties
def test_same_seed_same_answers_other_seed_other_draws():
    x = points((0.3, 0.5), (0.5, 0.5))
    a = certify(toy(), x, sigma=SIGMA, n=2000, generator=gen(5))
    b = certify(toy(), x, sigma=SIGMA, n=2000, generator=gen(5))
    c = certify(toy(), x, sigma=SIGMA, n=2000, generator=gen(6))
    assert torch.equal(a.count_a, b.count_a) and torch.equal(a.radius, b.radius)
    assert not torch.equal(a.count_a, c.count_a)
    assert torch.equal(predict(toy(), x, sigma=SIGMA, generator=gen(5)),
                       predict(toy(), x, sigma=SIGMA, generator=gen(5)))


@pytest.mark.parametrize("batch_size", [16, 333, 4096])
def test_batch_equals_per_sample_and_batch_size_changes_nothing(batch_size):
    torch.manual_seed(0)
    net = digits_cnn(0).eval()
    x = torch.rand(5, 1, 8, 8, generator=gen(4))
    whole = certify(net, x, sigma=0.5, n0=20, n=1200, batch_size=batch_size, generator=gen(7))  # 2 noise blocks
    alone = [certify(net, x[i:i + 1], sigma=0.5, n0=20, n=1200, generator=gen(7)) for i in range(5)]
    assert whole.prediction.tolist() == [int(c.prediction) for c in alone]
    assert whole.count_a.tolist() == [int(c.count_a) for c in alone]
    pred = predict(net, x, sigma=0.5, n=300, batch_size=batch_size, generator=gen(7))
    assert pred.tolist() == [int(predict(net, x[i:i + 1], sigma=0.5, n=300, generator=gen(7))) for i in range(5)]


def _state(net: nn.Module):
    return ([m.training for m in net.modules()], [p.requires_grad for p in net.parameters()],
            [None if p.grad is None else p.grad.clone() for p in net.parameters()])


def test_model_state_is_restored_even_on_error():
    net = tiny_cnn(channels=1).train()
    net[1].eval()  # one BatchNorm kept in eval mode by its owner
    params = list(net.parameters())
    params[0].requires_grad_(False)
    params[-1].grad = torch.ones_like(params[-1])
    before = _state(net)
    x = torch.rand(3, 1, 8, 8, generator=gen())
    certify(net, x, sigma=0.25, n0=10, n=20, generator=gen())
    predict(net, x, sigma=0.25, n=20, generator=gen())
    pgd_accuracy(net, x, torch.tensor([0, 1, 2]), [0, 0.5], steps=2, sigma=0.25, eot_samples=2, n=20,
                 generator=gen())
    pgd_accuracy(net, x, torch.tensor([0, 1, 2]), [0, 0.5], steps=2, generator=gen())
    after = _state(net)
    assert before[:2] == after[:2] and all(
        (a is None and b is None) or torch.equal(a, b) for a, b in zip(before[2], after[2]))

    class Broken(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = tiny_cnn(channels=1).train()

        def forward(self, x):
            return self.inner(x) * float("nan")

    broken = Broken()
    with pytest.raises(ValueError, match="NaN"):
        certify(broken, x, sigma=0.25, n0=10, n=20)
    assert all(m.training for m in broken.modules()) and all(p.requires_grad for p in broken.parameters())


def test_gaussian_noise_adds_sigma_noise_in_eval_mode_too():
    class Flat(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.ones(()))

        def forward(self, x):
            return x.flatten(1) * self.w

    noisy = GaussianNoise(Flat(), sigma=0.5, generator=gen()).eval()
    x = torch.full((200, 1, 8, 8), 0.5)
    with torch.no_grad():
        out = noisy(x) - 0.5
    assert abs(float(out.std()) - 0.5) < 0.02 and abs(float(out.mean())) < 0.02


def test_train_digits_cnn_is_seeded_and_leaves_the_global_rng_alone():
    state = torch.random.get_rng_state()
    a, b = train_digits_cnn(0.25, width=4, epochs=1), train_digits_cnn(0.25, width=4, epochs=1)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not a.training
    c = train_digits_cnn(0.0, width=4, epochs=1)  # clean training, same recipe
    assert not all(torch.equal(p, q) for p, q in zip(a.parameters(), c.parameters()))


# ----------------------------------------------------------------------------- accuracy against radius
def test_certified_accuracy_counts_right_answers_whose_radius_reaches_r():
    cert = Certificate(prediction=torch.tensor([1, 1, ABSTAIN, 0, 2]),
                       radius=torch.tensor([0.9, 0.3, 0.0, 0.6, 0.2], dtype=torch.float64),
                       p_a_lower=torch.full((5,), 0.9, dtype=torch.float64), count_a=torch.zeros(5, dtype=torch.long),
                       sigma=0.5, n0=100, n=1000, alpha=0.001)
    y = torch.tensor([1, 1, 1, 0, 1])  # the last one is certified, but wrong
    curve = certified_accuracy(cert, y, [0, 0.3, 0.5, 1.0])
    assert curve.accuracy == [0.6, 0.6, 0.4, 0.0] and curve.kind == "certified"
    assert repr(curve) == "AccuracyCurve(label='smoothed, σ=0.5', kind='certified', radius=[0, 0.3, 0.5, 1], " \
                          "accuracy=[0.6, 0.6, 0.4, 0])"


def test_certified_accuracy_never_increases_with_the_radius():
    g = gen(9)
    for _ in range(20):
        n = 50
        cert = Certificate(torch.randint(-1, 3, (n,), generator=g), torch.rand(n, generator=g, dtype=torch.float64),
                           torch.rand(n, generator=g, dtype=torch.float64), torch.zeros(n, dtype=torch.long),
                           0.25, 100, 1000, 0.001)
        y = torch.randint(0, 3, (n,), generator=g)
        acc = certified_accuracy(cert, y, torch.linspace(0, 1, 21).tolist()).accuracy
        assert all(a >= b for a, b in zip(acc, acc[1:]))


def test_pgd_accuracy_on_the_toy_matches_the_distances():
    """A linear model: L2 PGD flips exactly the points closer to the line than eps."""
    x = points((0.3, 0.5), (0.45, 0.5), (0.7, 0.5), (0.95, 0.5))  # distances 0.1, 0.25, 0.5, 0.75
    y = torch.ones(4, dtype=torch.long)
    curve = pgd_accuracy(toy(), x, y, [0, 0.2, 0.4, 0.6, 0.8], steps=20, generator=gen())
    assert curve.accuracy == [1.0, 0.75, 0.5, 0.25, 0.0] and curve.kind == "PGD"
    smoothed = pgd_accuracy(toy(), x, y, [0, 0.4], steps=20, sigma=0.1, eot_samples=4, n=2000, generator=gen())
    assert smoothed.accuracy == [1.0, 0.5] and smoothed.label == "smoothed, σ=0.1"
    cert = certify(toy(), x, sigma=0.1, n=2000, generator=gen())
    proven = certified_accuracy(cert, y, [0, 0.4])
    assert all(c <= e for c, e in zip(proven.accuracy, smoothed.accuracy))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_gives_the_cpu_answers_from_a_cpu_generator():
    net = digits_cnn(0).eval()
    x = torch.rand(4, 1, 8, 8, generator=gen(4))
    cpu = certify(net, x, sigma=0.5, n0=20, n=500, generator=gen(7))
    gpu = certify(net.cuda(), x.cuda(), sigma=0.5, n0=20, n=500, generator=gen(7))
    assert gpu.prediction.device.type == "cpu"  # certificates come back on the CPU
    assert (gpu.count_a - cpu.count_a).abs().max() <= 5  # same noise; kernels may flip a vote or two
    pred = predict(net, x.cuda(), sigma=0.5, n=200, generator=torch.Generator("cuda").manual_seed(0))
    assert pred.device.type == "cuda"
    net.cpu()


@pytest.mark.slow
def test_on_digits_the_proof_never_beats_the_attack():
    from advcourse.models.datasets import load_digits

    digits = load_digits()
    x, y = digits.x_test[:60], digits.y_test[:60]
    net = train_digits_cnn(0.25, epochs=5)
    radii = [0, 0.25, 0.5]
    proven = certified_accuracy(certify(net, x, sigma=0.25, n=500, generator=gen()), y, radii)
    attacked = pgd_accuracy(net, x, y, radii, steps=10, sigma=0.25, eot_samples=8, n=500, generator=gen())
    assert proven.accuracy[0] > 0.8
    assert all(c <= e for c, e in zip(proven.accuracy, attacked.accuracy))


def test_plot_accuracy_curves_draws_one_line_per_curve():
    curves = [AccuracyCurve("smoothed, σ=0.25", "certified", [0, 0.5, 1], [0.9, 0.5, 0.0]),
              AccuracyCurve("smoothed, σ=0.25", "PGD", [0, 0.5, 1], [0.9, 0.7, 0.3])]
    fig = plot_accuracy_curves(curves)
    lines = fig.axes[0].lines
    assert len(lines) == 2 and lines[0].get_color() == lines[1].get_color()
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["smoothed, σ=0.25: certified",
                                                                  "smoothed, σ=0.25: PGD"]
    assert lines[0].get_marker() == "o" and lines[0].get_linestyle() == "-" and lines[1].get_linestyle() == "--"
    grid = [i / 100 for i in range(101)]
    dense = AccuracyCurve("smoothed, σ=0.25", "certified", grid, [1 - r for r in grid])
    assert plot_accuracy_curves(dense).axes[0].lines[0].get_marker() in ("None", "", None)  # a fine grid: no markers


# ----------------------------------------------------------------------------- bad input
X = torch.rand(2, 1, 8, 8)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"sigma": 0}, ValueError, "sigma"),
    ({"sigma": -0.5}, ValueError, "sigma"),
    ({"sigma": "0.25"}, TypeError, "sigma"),
    ({"sigma": 0.25, "n0": 0}, ValueError, "n0"),
    ({"sigma": 0.25, "n": 0}, ValueError, "n:"),
    ({"sigma": 0.25, "n": 10.0}, TypeError, "n:"),
    ({"sigma": 0.25, "alpha": 0}, ValueError, "alpha"),
    ({"sigma": 0.25, "alpha": 1}, ValueError, "alpha"),
    ({"sigma": 0.25, "alpha": 1.5}, ValueError, "alpha"),
    ({"sigma": 0.25, "batch_size": 0}, ValueError, "batch_size"),
    ({"sigma": 0.25, "generator": 0}, TypeError, "generator"),
])
def test_certify_rejects_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        certify(digits_cnn(), X, **kwargs)


@pytest.mark.parametrize("x, message", [
    (torch.rand(1, 8, 8), "shape"),
    (torch.rand(2, 1, 8, 8) * 255, "pixels"),
    (torch.randint(0, 255, (2, 1, 8, 8)), "floating"),
    (torch.rand(2, 3, 8, 8), "channel"),
])
def test_predict_and_certify_reject_bad_images(x, message):
    for fn in (predict, certify):
        with pytest.raises((TypeError, ValueError), match=message):
            fn(digits_cnn(), x, sigma=0.25, n=10)


def test_other_bad_inputs():
    with pytest.raises(TypeError, match="model"):
        certify("net", X, sigma=0.25)
    with pytest.raises(ValueError, match="2 classes"):
        predict(Linear(torch.ones(1, 64), torch.zeros(1)), X, sigma=0.25, n=10)
    cert = certify(digits_cnn(), X, sigma=0.25, n0=5, n=10)
    with pytest.raises(ValueError, match="y: expected"):
        certified_accuracy(cert, torch.zeros(3, dtype=torch.long), [0])
    with pytest.raises(ValueError, match="ascending"):
        certified_accuracy(cert, torch.zeros(2, dtype=torch.long), [0.5, 0])
    with pytest.raises(ValueError, match="radii"):
        certified_accuracy(cert, torch.zeros(2, dtype=torch.long), [-1])
    with pytest.raises(TypeError, match="certificate"):
        certified_accuracy({"radius": 1}, torch.zeros(2, dtype=torch.long), [0])
    with pytest.raises(ValueError, match="alpha"):  # before any attack runs
        pgd_accuracy(digits_cnn(), X, torch.zeros(2, dtype=torch.long), [0, 1], sigma=0.25, alpha=2)
    with pytest.raises(ValueError, match="steps"):
        pgd_accuracy(digits_cnn(), X, torch.zeros(2, dtype=torch.long), [0, 1], steps=0)
    with pytest.raises(ValueError, match="sigma"):
        GaussianNoise(digits_cnn(), sigma=0)
    with pytest.raises(ValueError, match="sigma"):
        train_digits_cnn(-0.1)
    with pytest.raises(TypeError, match="curves"):
        plot_accuracy_curves(["not a curve"])
