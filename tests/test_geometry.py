"""advcourse.evasion.geometry: known values, properties, agreement with the batched DeepFool, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from advcourse.evasion import geometry
from advcourse.attacks import deepfool


# ----------------------------------------------------------------------------- binary, known values
def test_distance_of_3_4_to_the_line_x_equals_0_is_3():
    assert geometry.distance_to_hyperplane([1, 0], 0, [3, 4]) == pytest.approx(3.0)
    assert geometry.distance_to_hyperplane([-2, 0], 0, [3, 4]) == pytest.approx(3.0)  # scale and sign of w don't matter


def test_distance_to_a_slanted_line_by_hand():
    # 3x + 4y - 5 = 0 from (3, 2): |9 + 8 - 5| / 5 = 2.4
    assert geometry.distance_to_hyperplane([3, 4], -5, [3, 2]) == pytest.approx(2.4)
    assert geometry.signed_score([3, 4], -5, [3, 2]) == pytest.approx(12.0)


def test_projection_of_3_4_onto_x_equals_0():
    np.testing.assert_allclose(geometry.projection([1, 0], 0, [3, 4]), [0, 4])
    np.testing.assert_allclose(geometry.minimal_perturbation([1, 0], 0, [3, 4]), [-3, 0])


@pytest.mark.parametrize("seed", range(5))
def test_projection_lands_on_the_hyperplane_at_the_stated_distance(seed):
    rng = np.random.default_rng(seed)
    w, b, x = rng.normal(size=3), float(rng.normal()), rng.normal(size=3) * 3
    p = geometry.projection(w, b, x)
    assert geometry.signed_score(w, b, p) == pytest.approx(0.0, abs=1e-9)
    assert np.linalg.norm(p - x) == pytest.approx(geometry.distance_to_hyperplane(w, b, x))
    r = geometry.minimal_perturbation(w, b, x)
    assert abs(np.dot(r, w)) == pytest.approx(np.linalg.norm(r) * np.linalg.norm(w))  # r is parallel to w


def test_projection_is_the_closest_point_of_the_line():
    w, b, x = np.array([1.0, 2.0]), -2.0, np.array([2.0, 1.5])
    p = geometry.projection(w, b, x)
    direction = np.array([2.0, -1.0])  # along the line
    for t in np.linspace(-2, 2, 9):
        q = p + t * direction
        assert geometry.signed_score(w, b, q) == pytest.approx(0.0, abs=1e-9)
        assert np.linalg.norm(q - x) >= np.linalg.norm(p - x) - 1e-12


@pytest.mark.parametrize("overshoot", [0.02, 0.5])
def test_overshoot_crosses_the_boundary(overshoot):
    w, b, x = [1.0, 2.0], -2.0, [2.0, 1.5]
    f = geometry.signed_score(w, b, x)
    x_adv = geometry.overshoot_point(w, b, x, overshoot)
    assert geometry.signed_score(w, b, x_adv) == pytest.approx(-overshoot * f)
    assert np.sign(geometry.signed_score(w, b, x_adv)) == -np.sign(f)


def test_zero_overshoot_stops_on_the_boundary():
    x_adv = geometry.overshoot_point([1, 2], -2, [2, 1.5], 0)
    np.testing.assert_allclose(x_adv, geometry.projection([1, 2], -2, [2, 1.5]))


# ----------------------------------------------------------------------------- multi-class, linear
W3 = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
B3 = np.array([0.0, -1.0, -2.0])


def test_boundary_distances_known_values():
    d = geometry.boundary_distances(W3, B3, [0, 0])
    assert math.isinf(d[0])  # the point's own class
    np.testing.assert_allclose(d[1:], [1.0, 2.0])
    assert geometry.closest_boundary(W3, B3, [0, 0]) == 1


def test_nearest_boundary_is_not_always_the_runner_up():
    W = np.array([[0.0, 0.0], [1.0, 0.2], [0.3, 2.5]])
    b = np.array([0.0, -1.5, -3.0])
    x = np.array([0.5, 0.7])
    scores = W @ x + b
    assert np.argsort(scores)[-2] == 1  # B has the second-highest score…
    assert geometry.closest_boundary(W, b, x) == 2  # …but C's boundary is nearer


def test_linear_step_is_exact_and_minimal():
    step = geometry.linear_deepfool_step(W3, B3, [0, 0], overshoot=0.02)
    assert (step.k0, step.l) == (0, 1)
    np.testing.assert_allclose(step.r, [1.0, 0.0])
    np.testing.assert_allclose(step.x_adv, [1.02, 0.0])
    assert np.argmax(W3 @ step.x_adv + B3) != step.k0
    # no point closer than ‖r‖ changes the label: sample the circle just inside
    angles = np.linspace(0, 2 * np.pi, 720, endpoint=False)
    inside = 0.999 * np.stack([np.cos(angles), np.sin(angles)], 1)
    assert np.all(np.argmax(inside @ W3.T + B3, axis=1) == 0)


class _Linear(nn.Module):
    """(N, 1, 1, d) 'images' -> (N, K) linear scores, to run the image attack on a toy."""

    def __init__(self, W: np.ndarray, b: np.ndarray):
        super().__init__()
        self.lin = nn.Linear(W.shape[1], W.shape[0]).double()
        with torch.no_grad():
            self.lin.weight.copy_(torch.from_numpy(W))
            self.lin.bias.copy_(torch.from_numpy(b))

    def forward(self, x):
        return self.lin(x.flatten(1))


@pytest.mark.parametrize("seed", range(3))
def test_batched_deepfool_matches_the_closed_form_on_a_linear_toy(seed):
    rng = np.random.default_rng(seed)
    W, b = rng.normal(size=(4, 2)), rng.normal(size=4)
    points = rng.uniform(-2, 2, size=(6, 2))
    model = _Linear(W, b)
    x = torch.from_numpy(points).view(6, 1, 1, 2)
    x_adv = deepfool(model, x, num_classes=4, overshoot=0.02, clip_min=-100.0, clip_max=100.0)
    for i, p in enumerate(points):
        expected = geometry.linear_deepfool_step(W, b, p, overshoot=0.02).x_adv
        np.testing.assert_allclose(x_adv[i].flatten().numpy(), expected, atol=1e-8)


# ----------------------------------------------------------------------------- real models
class _Threshold(nn.Module):
    """Two classes: class 1 once the mean pixel exceeds ``level``; deterministic and cheap."""

    def __init__(self, level: float):
        super().__init__()
        self.level = level
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, x):
        m = x.flatten(1).mean(1) * self.scale
        return torch.stack([self.level - m, m - self.level], 1)


def test_first_crossing_finds_the_first_grid_step_past_the_boundary():
    x = torch.tensor([0.2, 0.4, 0.49]).view(3, 1, 1, 1).expand(3, 1, 2, 2).contiguous()
    y = torch.zeros(3, dtype=torch.long)
    model = _Threshold(0.5)
    grid = [0.05, 0.1, 0.2, 0.4]
    c = geometry.first_crossing(model, x, y, torch.ones_like(x), grid)
    # needs > 0.3, > 0.1, > 0.01: first grid steps 0.4, 0.2, 0.05
    torch.testing.assert_close(c.t, torch.tensor([0.4, 0.2, 0.05]))
    torch.testing.assert_close(c.linf, c.t)
    torch.testing.assert_close(c.l2, c.t * 2)  # 4 pixels moved by t
    assert c.pred.tolist() == [1, 1, 1] and bool(c.found.all())


def test_first_crossing_reports_nan_when_the_grid_is_too_short_and_clips():
    x = torch.full((1, 1, 2, 2), 0.9)
    model = _Threshold(0.5)
    c = geometry.first_crossing(model, x, torch.ones(1, dtype=torch.long), -torch.ones_like(x), [0.1, 0.2])
    assert not bool(c.found.any()) and c.pred.tolist() == [-1]
    c = geometry.first_crossing(model, torch.full((1, 1, 2, 2), 0.45), torch.zeros(1, dtype=torch.long),
                                torch.ones_like(x), [1.0])
    assert float(c.linf[0]) == pytest.approx(0.55)  # clipped at 1, not 1.45


def test_first_crossing_leaves_the_model_as_found():
    model = _Threshold(0.5).train()
    x = torch.full((1, 1, 2, 2), 0.2)
    geometry.first_crossing(model, x, torch.zeros(1, dtype=torch.long), torch.ones_like(x), [0.5])
    assert model.training and model.scale.requires_grad and model.scale.grad is None


def test_class_rank_counts_from_one():
    logits = torch.tensor([[0.1, 3.0, 2.0, -1.0], [5.0, 4.0, 3.0, 2.0]])
    assert geometry.class_rank(logits, torch.tensor([1, 3])).tolist() == [1, 4]
    assert geometry.class_rank(logits, torch.tensor([2, 1])).tolist() == [2, 2]


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("call, match", [
    (lambda: geometry.distance_to_hyperplane([0, 0], 1, [1, 1]), "w: the normal vector"),
    (lambda: geometry.distance_to_hyperplane([1, 0], 0, [1, 1, 1]), "x: expected 2 coordinates"),
    (lambda: geometry.projection([1, float("nan")], 0, [1, 1]), "w: contains NaN"),
    (lambda: geometry.overshoot_point([1, 0], 0, [1, 1], -0.1), "overshoot"),
    (lambda: geometry.boundary_distances(np.ones((1, 2)), [0], [0, 0]), "W: expected shape"),
    (lambda: geometry.boundary_distances(W3, [0, 0], [0, 0]), "b: expected 3"),
    (lambda: geometry.closest_boundary(np.zeros((3, 2)), [1, 0, 0], [0, 0]), "W: every class"),
    (lambda: geometry.class_rank(torch.zeros(2, 3), torch.tensor([0, 3])), "classes: indices"),
    (lambda: geometry.first_crossing(_Threshold(0.5), torch.zeros(1, 1, 2, 2), torch.zeros(1, dtype=torch.long),
                                     torch.zeros(1, 1, 2, 3), [0.1]), "direction"),
    (lambda: geometry.first_crossing(_Threshold(0.5), torch.zeros(1, 1, 2, 2), torch.zeros(1, dtype=torch.long),
                                     torch.zeros(1, 1, 2, 2), [0.2, 0.1]), "grid: expected"),
])
def test_bad_input_names_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_wrong_types_raise_type_error():
    with pytest.raises(TypeError, match="b: expected a real number"):
        geometry.signed_score([1, 0], "zero", [1, 1])
    with pytest.raises(TypeError, match="x: expected a sequence"):
        geometry.projection([1, 0], 0, object())
