"""The black-box attacks of 09_black_box under the attack contract: MI-FGSM (and the ensemble / transfer
table), Square (L∞ and L2), SimBA and HopSkipJump. Budgets, ranges, seeds, model state, query counts checked by a
wrapper outside the attack, and closed-form answers on linear models."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from test_attacks_contract import _assert_same_state, _Boom, _messy_model, _state
from torch import nn

from advcourse.attacks import ATTACKS, QueryCounter, hopskipjump, mifgsm, pgd, simba, square
from advcourse.attacks._blackbox import margin
from advcourse.attacks._toy import Linear, linear, tiny_cnn
from advcourse.evasion.transfer import TRANSFER_ATTACKS, Ensemble, transfer_table

pytestmark = pytest.mark.usefixtures("single_thread")

N, C, H, W = 6, 3, 12, 12
INF = float("inf")


@pytest.fixture
def net() -> nn.Module:
    return tiny_cnn(seed=0, dtype=torch.float64)


@pytest.fixture
def x() -> torch.Tensor:
    x = torch.rand(N, C, H, W, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    x[0, 0, :2] = 0.0  # pixels on both edges of the box
    x[1, 1, :2] = 1.0
    return x


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# name -> (call(model, x, y, **overrides), norm, eps bound on the perturbation)
CASES = {
    "mifgsm": (lambda m, x, y, **k: mifgsm(m, x, y, **{"eps": 0.05, "step_size": 0.01, "steps": 5, **k}), INF, 0.05),
    "di-mifgsm": (lambda m, x, y, **k: mifgsm(m, x, y, **{"eps": 0.05, "step_size": 0.01, "steps": 5,
                                                          "diversity_prob": 0.5, "generator": _gen(), **k}), INF, 0.05),
    "square": (lambda m, x, y, **k: square(m, x, y, **{"eps": 0.05, "max_queries": 30, "generator": _gen(), **k}),
               INF, 0.05),
    "square-l2": (lambda m, x, y, **k: square(m, x, y, **{"eps": 0.5, "max_queries": 30, "norm": "l2",
                                                          "generator": _gen(), **k}), 2, 0.5),
    "simba-pixel": (lambda m, x, y, **k: simba(m, x, y, **{"eps": 0.05, "max_queries": 30, "basis": "pixel",
                                                           "generator": _gen(), **k}), INF, 0.05),
    "simba-dct": (lambda m, x, y, **k: simba(m, x, y, **{"eps": 0.05, "max_queries": 30, "generator": _gen(), **k}),
                  2, 0.05 * math.sqrt(29)),
    "hopskipjump": (lambda m, x, y, **k: hopskipjump(m, x, y, **{"max_queries": 300, "init_evals": 20,
                                                                 "generator": _gen(), **k}), 2, INF),
}
QUERY_CASES = ["square", "square-l2", "simba-pixel", "simba-dct", "hopskipjump"]


# ----------------------------------------------------------------------------- outputs and budgets
@pytest.mark.parametrize("case", CASES)
def test_output_in_box_and_ball(case, net, x):
    attack, norm, eps = CASES[case]
    x_adv = attack(net, x, None)
    assert x_adv.shape == x.shape and x_adv.dtype == x.dtype and not x_adv.requires_grad
    assert x_adv.min() >= 0 and x_adv.max() <= 1
    delta = (x_adv - x).flatten(1)
    assert (torch.linalg.vector_norm(delta, ord=norm, dim=1) <= eps + 1e-9).all()
    assert not torch.equal(x_adv, x)  # it did something


@pytest.mark.parametrize("case", ["mifgsm", "di-mifgsm", "square", "square-l2", "simba-pixel", "simba-dct"])
def test_zero_budget_is_identity(case, net, x):
    assert torch.equal(CASES[case][0](net, x, None, eps=0.0), x)


@pytest.mark.parametrize("case", CASES)
def test_same_seed_same_result(case, net, x):
    attack = CASES[case][0]
    assert torch.equal(attack(net, x, None), attack(net, x, None))


def test_seed_matters(net, x):
    a = square(net, x, eps=0.05, max_queries=20, generator=_gen(0))
    b = square(net, x, eps=0.05, max_queries=20, generator=_gen(1))
    assert not torch.equal(a, b)


@pytest.mark.parametrize("case", CASES)
def test_model_state_restored(case, x):
    net = _messy_model()
    before = _state(net)
    CASES[case][0](net, x, torch.arange(N) % 10)
    _assert_same_state(before, _state(net))


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("fail_on", [0, 1])
def test_model_state_restored_when_the_attack_raises(case, fail_on, x):
    net = _Boom(fail_on)
    with torch.no_grad():  # the eval-mode labels, so that no sample is done after the first query
        y = copy.deepcopy(net.body).eval()(x).argmax(1)
    before = _state(net)
    with pytest.raises(RuntimeError, match="boom"):
        CASES[case][0](net, x, y)
    _assert_same_state(before, _state(net))


# ----------------------------------------------------------------------------- queries, counted from outside
@pytest.mark.parametrize("case", QUERY_CASES)
@pytest.mark.parametrize("max_queries", [1, 2, 7, 40])
def test_queries_counted_by_the_wrapper(case, max_queries, net, x):
    counted = QueryCounter(net)
    kw = {"max_queries": max_queries, "init_evals": 3} if case == "hopskipjump" else {"max_queries": max_queries}
    x_adv, info = CASES[case][0](counted, x, None, return_info=True, **kw)
    assert info.queries.shape == (N,) and (info.queries >= 1).all() and (info.queries <= max_queries).all()
    extra = N if case == "hopskipjump" else 0  # HopSkipJump reads the final labels with one more forward
    assert counted.images == int(info.queries.sum()) + extra
    assert info.success.tolist() == (counted.model(x_adv).argmax(1) != info.y).tolist()


@pytest.mark.parametrize("case", ["square", "square-l2", "simba-dct"])
def test_finished_samples_stop_querying(case, x):
    """A sample already misclassified at x costs exactly one query; the others may use the budget."""
    net = linear((C, H, W), num_classes=10, seed=3, dtype=torch.float64)
    with torch.no_grad():
        y = net(x).argmax(1)
    y[:2] = (y[:2] + 1) % 10  # two samples "already misclassified"
    counted = QueryCounter(net)
    _, info = CASES[case][0](counted, x, y, return_info=True, max_queries=25)
    assert info.queries[:2].tolist() == [1, 1] and info.success[:2].all()
    assert counted.images == int(info.queries.sum())


def test_success_within_a_budget_is_a_curve():
    net = linear((C, H, W), num_classes=10, seed=1, dtype=torch.float64)
    x = torch.rand(8, C, H, W, generator=_gen(2), dtype=torch.float64)
    _, info = square(net, x, eps=0.2, max_queries=60, generator=_gen(), return_info=True)
    curve = [info.success_within(q) for q in range(1, 61)]
    assert curve == sorted(curve) and curve[0] == 0.0 and curve[-1] == info.success_rate
    assert info.median_queries() == float(info.queries[info.success].float().median())


def test_query_counter_counts_images_and_calls(net, x):
    counted = QueryCounter(net)
    counted(x)
    counted(x[:2])
    assert (counted.images, counted.calls) == (N + 2, 2)
    counted.reset()
    assert (counted.images, counted.calls) == (0, 0)
    assert list(counted.parameters()) == list(net.parameters())


# ----------------------------------------------------------------------------- known answers
def test_mifgsm_without_momentum_is_ifgsm(net, x):
    """decay=0: sign(g/‖g‖₁) = sign(g), so MI-FGSM is PGD without random start (I-FGSM)."""
    ours = mifgsm(net, x, eps=0.05, step_size=0.01, steps=6, decay=0.0)
    ref = pgd(net, x, eps=0.05, step_size=0.01, steps=6, random_start=False)
    torch.testing.assert_close(ours, ref, rtol=0, atol=1e-12)


def test_mifgsm_momentum_accumulates_normalised_gradients():
    """On a linear model the gradient is constant, so momentum only rescales it: the same sign steps."""
    net = linear((1, 4, 4), num_classes=3, seed=0)
    x = torch.full((2, 1, 4, 4), 0.5, dtype=torch.float64)
    a = mifgsm(net, x, eps=0.1, step_size=0.02, steps=4, decay=1.0)
    b = pgd(net, x, eps=0.1, step_size=0.02, steps=4, random_start=False)
    torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


def test_mifgsm_batch_equals_per_sample(net, x):
    batch = mifgsm(net, x, eps=0.05, step_size=0.01, steps=4)
    single = torch.cat([mifgsm(net, x[i:i + 1], eps=0.05, step_size=0.01, steps=4) for i in range(N)])
    torch.testing.assert_close(batch, single, rtol=0, atol=1e-12)


def test_input_diversity_goes_through_the_defence_transform(net, x, monkeypatch):
    from advcourse.core.transforms import RandomResizePad

    seen = []
    original = RandomResizePad.transform
    monkeypatch.setattr(RandomResizePad, "transform", lambda self, t: seen.append(t.shape[0]) or original(self, t))
    mifgsm(net, x, eps=0.05, step_size=0.01, steps=3, diversity_prob=1.0, generator=_gen())
    assert seen == [N, N, N]  # every sample, every step
    seen.clear()
    mifgsm(net, x, eps=0.05, step_size=0.01, steps=3, diversity_prob=0.0)
    assert seen == []


def _binary_linear(d_shape=(1, 4, 4), bias=10.0, seed=0):
    """logits = (0, w·x + bias): class 1 with a margin far beyond what the tests' budgets can flip."""
    g = _gen(seed)
    d = math.prod(d_shape)
    w = torch.randn(d, generator=g, dtype=torch.float64)
    w[3] = 0.0  # a direction that changes nothing
    return Linear(torch.stack([torch.zeros(d, dtype=torch.float64), w]), torch.tensor([0.0, bias], dtype=torch.float64)), w


def test_simba_pixel_closed_form_on_a_linear_model():
    """Every pixel tried once: −eps kept where it lowers p(y) (w_i > 0, one query), else +eps (w_i < 0,
    two queries), nothing where w_i = 0 (two queries); the class never flips."""
    net, w = _binary_linear()
    x = 0.3 + 0.4 * torch.rand(3, 1, 4, 4, generator=_gen(5), dtype=torch.float64)
    counted = QueryCounter(net)
    x_adv, info = simba(counted, x, torch.ones(3, dtype=torch.long), eps=0.01, max_queries=100, basis="pixel",
                        generator=_gen(), return_info=True)
    torch.testing.assert_close(x_adv, x - 0.01 * w.sign().view(1, 1, 4, 4).expand_as(x), rtol=0, atol=1e-12)
    expected = 1 + sum(1 if wi > 0 else 2 for wi in w.tolist())
    assert info.queries.tolist() == [expected] * 3 and counted.images == 3 * expected
    assert info.iterations.tolist() == [16] * 3 and not info.success.any()


def test_simba_dct_directions_are_orthonormal():
    from advcourse.attacks.simba import _direction, _order, dct_matrix

    like = torch.zeros(1, dtype=torch.float64)
    d = dct_matrix(6, like)
    torch.testing.assert_close(d @ d.T, torch.eye(6, dtype=torch.float64))
    order = _order(1, 2, 6, 6, "dct", 2, 2, like, _gen())[0]
    assert sorted(order.tolist()) == list(range(72))
    q = _direction(order, 2, 6, 6, (d, d), like).flatten(1)
    torch.testing.assert_close(q @ q.T, torch.eye(72, dtype=torch.float64), atol=1e-12, rtol=0)
    first = order[:8]  # the 2x2 lowest frequencies of both channels come first
    assert all((i % 36) // 6 < 2 and (i % 36) % 6 < 2 for i in first.tolist())


def _scipy_dct_directions(c: int, h: int, w: int) -> torch.Tensor:
    """(C·H·W, C, H, W) float64: row i is scipy's orthonormal inverse 2-D DCT of the one-hot frequency i."""
    from scipy.fft import idctn

    onehot = np.eye(c * h * w).reshape(-1, c, h, w)
    return torch.from_numpy(idctn(onehot, axes=(-2, -1), norm="ortho"))


def test_simba_dct_directions_match_scipy():
    """Every basis image, flat index (channel, u, v) -> scipy's idctn of that one-hot; H != W catches a swap."""
    from advcourse.attacks.simba import _direction, dct_matrix

    like = torch.zeros(1, dtype=torch.float64)
    q = _direction(torch.arange(2 * 4 * 6), 2, 4, 6, (dct_matrix(4, like), dct_matrix(6, like)), like)
    torch.testing.assert_close(q, _scipy_dct_directions(2, 4, 6), rtol=0, atol=1e-12)


def test_simba_dct_closed_form_on_a_linear_model():
    """Every frequency tried once: the result is x − eps·Σ_k sign(<w, q_k>)·q_k (q_k from scipy), one
    query per direction with <w, q_k> > 0 and two otherwise; the class never flips."""
    net, w = _binary_linear(d_shape=(2, 4, 6))
    x = 0.3 + 0.4 * torch.rand(3, 2, 4, 6, generator=_gen(5), dtype=torch.float64)
    x_adv, info = simba(net, x, torch.ones(3, dtype=torch.long), eps=0.01, max_queries=200, basis="dct",
                        generator=_gen(), return_info=True)
    q = _scipy_dct_directions(2, 4, 6)
    dots = q.flatten(1) @ w
    step = (dots.sign()[:, None, None, None] * q).sum(0)
    torch.testing.assert_close(x_adv, x - 0.01 * step.expand_as(x), rtol=0, atol=1e-12)
    expected = 1 + sum(1 if d > 0 else 2 for d in dots.tolist())
    assert info.queries.tolist() == [expected] * 3
    assert info.iterations.tolist() == [48] * 3 and not info.success.any()


def test_square_fraction_schedule():
    from advcourse.attacks.square import square_fraction

    assert square_fraction(0.05, 0, 10_000) == 0.05
    assert square_fraction(0.05, 11, 10_000) == 0.025
    assert square_fraction(0.05, 9_000, 10_000) == pytest.approx(0.05 / 512)
    assert square_fraction(0.05, 100, 1000) == square_fraction(0.05, 1000, 10_000)  # rescaled to the budget


def test_square_breaks_a_linear_model_and_keeps_only_improvements():
    net = linear((3, 8, 8), num_classes=10, seed=1, dtype=torch.float64)
    x = torch.rand(8, 3, 8, 8, generator=_gen(2), dtype=torch.float64)
    x_adv, info = square(net, x, eps=0.2, max_queries=200, generator=_gen(), return_info=True)
    assert info.success.all() and (info.queries < 200).all()
    assert (x_adv - x).abs().max() <= 0.2 + 1e-12


class _Recorder(nn.Module):
    """Keeps every queried image and its margin for the true label ``y`` of its nearest clean image."""

    def __init__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor):
        super().__init__()
        self.model, self.x, self.y, self.seen = model, x, y, []

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        logits = self.model(batch)
        owner = torch.cdist(batch.flatten(1), self.x.flatten(1)).argmin(1)
        self.seen += [(int(i), b.clone(), float(margin(z[None], self.y[i, None], False))) for i, b, z in
                      zip(owner, batch, logits)]
        return logits


@pytest.mark.parametrize("norm, eps", [("linf", 0.05), ("l2", 0.5)])
def test_square_keeps_only_improvements(norm, eps):
    """The kept point's margin never goes up from one query to the next, and the point returned is
    the best of everything queried from the start on. (A tiny ``p_init`` keeps the windows at their
    smallest side, so a run with a smaller budget is the beginning of a run with a larger one.)"""
    net = linear((3, 8, 8), num_classes=10, seed=1, dtype=torch.float64)
    x = torch.rand(4, 3, 8, 8, generator=_gen(2), dtype=torch.float64)
    with torch.no_grad():
        y = net(x).argmax(1)

    def run(model: nn.Module, budget: int):
        return square(model, x, y, eps=eps, max_queries=budget, norm=norm, p_init=1e-3, generator=_gen(),
                      return_info=True)

    with torch.no_grad():
        kept = torch.stack([margin(net(run(net, budget)[0]), y, False) for budget in range(2, 41)])  # (39, 4)
    assert (kept[1:] <= kept[:-1]).all() and (kept[1:] < kept[:-1]).any()
    recorder = _Recorder(net, x, y)
    x_adv, info = run(recorder, 40)
    for i in range(len(x)):
        queried = [(b, m) for owner, b, m in recorder.seen if owner == i]
        assert len(queried) == int(info.queries[i]) and torch.equal(queried[0][0], x[i])
        best = min(range(1, len(queried)), key=lambda k: queried[k][1])  # from the start on (always kept)
        assert torch.equal(x_adv[i], queried[best][0])
        assert queried[best][1] == pytest.approx(float(kept[-1, i]), abs=1e-12)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("eps", [0.3, 2.0, 10.0])
def test_square_l2_stays_in_the_ball_and_the_box(dtype, eps):
    """On random images with many pixels on the box's faces: ‖x_adv − x‖₂ <= eps for every sample."""
    net = tiny_cnn(seed=0, dtype=dtype)
    g = _gen(4)
    x = torch.rand(N, C, H, W, generator=g, dtype=dtype)
    x[torch.rand(N, C, H, W, generator=g, dtype=dtype) < 0.3] = 0.0
    x[torch.rand(N, C, H, W, generator=g, dtype=dtype) < 0.3] = 1.0
    x_adv = square(net, x, eps=eps, max_queries=60, norm="l2", generator=_gen())
    assert x_adv.dtype == dtype and x_adv.min() >= 0 and x_adv.max() <= 1
    assert ((x_adv - x).flatten(1).norm(dim=1) <= eps * (1 + 1e-6)).all()
    for side in (1, 2, 4):  # images smaller than the 5×5 start grid and the 3-pixel windows
        small = Linear(torch.randn(10, C * side * side, generator=g, dtype=dtype), torch.zeros(10, dtype=dtype))
        corner = x[:, :, :side, :side].contiguous()
        x_adv = square(small, corner, eps=eps, max_queries=20, norm="l2", generator=_gen())
        assert x_adv.shape == corner.shape and x_adv.min() >= 0 and x_adv.max() <= 1
        assert ((x_adv - corner).flatten(1).norm(dim=1) <= eps * (1 + 1e-6)).all()


def test_square_l2_queries_spend_the_whole_budget_away_from_the_box():
    """Algorithm 3 moves mass, it never loses it: where no pixel is clipped, every queried point
    after the first lies on the sphere ‖x' − x‖₂ = eps."""
    net = tiny_cnn(seed=0, dtype=torch.float64)
    x = 0.4 + 0.2 * torch.rand(N, C, H, W, generator=_gen(5), dtype=torch.float64)
    with torch.no_grad():
        y = net(x).argmax(1)
    recorder = _Recorder(net, x, y)
    square(recorder, x, y, eps=0.5, max_queries=30, norm="l2", generator=_gen())
    norms = torch.tensor([float((b - x[i]).norm()) for i, b, _ in recorder.seen if not torch.equal(b, x[i])])
    assert len(norms) == len(recorder.seen) - N and torch.allclose(norms, torch.full_like(norms, 0.5))


def test_square_l2_breaks_a_linear_model():
    net = linear((3, 8, 8), num_classes=10, seed=1, dtype=torch.float64)
    x = torch.rand(8, 3, 8, 8, generator=_gen(2), dtype=torch.float64)
    x_adv, info = square(net, x, eps=1.0, max_queries=200, norm="l2", generator=_gen(), return_info=True)
    assert info.success.all() and (info.queries < 200).all()
    assert ((x_adv - x).flatten(1).norm(dim=1) <= 1.0 + 1e-12).all()
    assert (x_adv - x).abs().max() > 0.2  # an L2 budget lets some pixels move far (no L∞ bound)


@pytest.mark.parametrize("attack", [
    lambda m, x, t: square(m, x, t, eps=0.3, max_queries=300, targeted=True, generator=_gen(), return_info=True),
    lambda m, x, t: simba(m, x, t, eps=0.3, max_queries=600, basis="pixel", targeted=True, generator=_gen(),
                          return_info=True),
], ids=["square", "simba"])
def test_targeted_score_attacks_reach_the_target(attack):
    net = linear((C, 8, 8), num_classes=10, seed=1, dtype=torch.float64)
    x = torch.rand(6, C, 8, 8, generator=_gen(2), dtype=torch.float64)
    with torch.no_grad():
        target = (net(x).argmax(1) + 1) % 10
    x_adv, info = attack(net, x, target)
    with torch.no_grad():
        assert info.success.all() and (net(x_adv).argmax(1) == target).all()


def test_hopskipjump_approaches_the_closed_form_distance():
    """For a binary linear classifier the nearest adversarial point is at |w·x + b| / ‖w‖."""
    g = _gen(7)
    w = torch.randn(2, 16, generator=g, dtype=torch.float64)
    x = 0.4 + 0.2 * torch.rand(4, 1, 4, 4, generator=g, dtype=torch.float64)
    centre = float((w[0] - w[1]) @ x.flatten(1).mean(0))
    net = Linear(w, torch.tensor([-centre + 0.3, 0.0], dtype=torch.float64))  # boundary near the images
    with torch.no_grad():
        logits = net(x)
    optimum = (logits[:, 0] - logits[:, 1]).abs() / (w[0] - w[1]).norm()
    assert (optimum < 0.3).all(), optimum  # the boundary lies inside the pixel box, away from its faces
    _, info = hopskipjump(net, x, max_queries=2000, generator=_gen(), return_info=True)
    assert info.success.all()
    ratio = info.l2 / optimum
    assert (ratio >= 1 - 1e-6).all() and (ratio < 1.05).all(), ratio


def test_hopskipjump_targeted_needs_a_start(net, x):
    y = torch.zeros(N, dtype=torch.long)
    with pytest.raises(ValueError, match="x_init"):
        hopskipjump(net, x, y, targeted=True)
    start = torch.rand(N, C, H, W, generator=_gen(3), dtype=torch.float64)
    with torch.no_grad():
        target = net(start).argmax(1)
    x_adv, info = hopskipjump(net, x, target, targeted=True, x_init=start, max_queries=200, init_evals=10,
                              generator=_gen(), return_info=True)
    assert info.success.all() and (info.l2 <= (start - x).flatten(1).norm(dim=1) + 1e-9).all()


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("call, match", [
    (lambda m, x: square(m, x, eps=-1, max_queries=5), "eps"),
    (lambda m, x: square(m, x, eps=0.1, max_queries=0), "max_queries"),
    (lambda m, x: square(m, x, eps=0.1, max_queries=5, p_init=1.5), "p_init"),
    (lambda m, x: square(m, x, eps=0.1, max_queries=5, p_init=0), "p_init"),
    (lambda m, x: square(m, x, eps=0.1, max_queries=5, targeted=True), "y"),
    (lambda m, x: square(m, x, eps=0.1, max_queries=5, norm="l1"), "norm"),
    (lambda m, x: square(m, x, eps=0.1, max_queries=5, norm="L3"), "norm"),
    (lambda m, x: square(m, x, eps=0.1, max_queries=5, norm=None), "norm"),
    (lambda m, x: simba(m, x, max_queries=5, basis="wavelet"), "basis"),
    (lambda m, x: simba(m, x, max_queries=5.5), "max_queries"),
    (lambda m, x: hopskipjump(m, x, max_queries=5, x_init=x[:1]), "x_init"),
    (lambda m, x: mifgsm(m, x, eps=0.1, step_size=0.01, steps=2, diversity_prob=2), "diversity_prob"),
    (lambda m, x: mifgsm(m, x, eps=0.1, step_size=0.01, steps=2, decay=-1), "decay"),
    (lambda m, x: mifgsm(m, x * 2, eps=0.1, step_size=0.01, steps=2, clip_max=2, diversity_prob=0.5), "diversity_prob"),
    (lambda m, x: square(m, x * 3, eps=0.1, max_queries=5), "x"),
    (lambda m, x: simba("model", x, max_queries=5), "model"),
    (lambda m, x: square(m, x, eps=8, max_queries=5), "did you mean 8/255"),
    (lambda m, x: mifgsm(m, x, eps=0.1, step_size=0.01, steps=2, targeted="no"), "targeted"),
    (lambda m, x: hopskipjump(m, x, max_queries=5, return_info=1), "return_info"),
])
def test_bad_input_raises_naming_the_argument(call, match, net, x):
    with pytest.raises((ValueError, TypeError), match=match):
        call(net, x)


# ----------------------------------------------------------------------------- ensemble and transfer table
def test_ensemble_averages_logits(x):
    a, b = tiny_cnn(seed=0, dtype=torch.float64), tiny_cnn(seed=1, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(Ensemble([a, b])(x), (a(x) + b(x)) / 2)
        torch.testing.assert_close(Ensemble([a, b], weights=[3, 1])(x), 0.75 * a(x) + 0.25 * b(x))
    with pytest.raises(ValueError, match="weights"):
        Ensemble([a, b], weights=[1])
    with pytest.raises(TypeError, match="models"):
        Ensemble(a)
    with pytest.raises(TypeError, match="model"):
        Ensemble([a, "b"])


def test_ensemble_state_restored_by_attacks(x):
    members = [_messy_model(), _messy_model()]
    before = [_state(m) for m in members]
    mifgsm(Ensemble(members), x, eps=0.05, step_size=0.01, steps=2)
    for m, b in zip(members, before):
        _assert_same_state(b, _state(m))


def test_transfer_table_cells_match_a_hand_count(x):
    a, b = tiny_cnn(seed=0, dtype=torch.float64), tiny_cnn(seed=1, dtype=torch.float64)
    with torch.no_grad():
        y = a(x).argmax(1)
    table = transfer_table({"a": a}, {"a": a, "b": b}, x, y, eps=[0.05, 0.2], attacks=["FGSM", "MI-FGSM"])
    assert table.victims == ["a", "b"] and list(table.rates) == [("a", "FGSM"), ("a", "MI-FGSM")]
    with torch.no_grad():
        right_b = b(x).argmax(1) == y
        x_adv = TRANSFER_ATTACKS["MI-FGSM"](a, x, y, 0.2, None)
        fooled = (b(x_adv).argmax(1) != y) & right_b
    expected = float(fooled.sum() / right_b.sum()) if right_b.any() else math.nan
    got = table.rate("a", "MI-FGSM", "b", 0.2)
    assert got == expected or (math.isnan(got) and math.isnan(expected))
    assert table.clean["a"] == 1.0 and table.rate("a", "MI-FGSM", "a", 0.2) > 0  # white box on itself
    text = str(table)
    assert text.splitlines()[0].split() == ["surrogate", "attack", "eps", "a", "b"] and len(text.splitlines()) == 5
    assert "<table>" in table._repr_html_()


def test_transfer_table_bad_input(x):
    a = tiny_cnn(seed=0, dtype=torch.float64)
    y = torch.zeros(N, dtype=torch.long)
    with pytest.raises(ValueError, match="eps"):
        transfer_table({"a": a}, {"a": a}, x, y, eps=[0])
    with pytest.raises(ValueError, match="attacks"):
        transfer_table({"a": a}, {"a": a}, x, y, eps=[0.1], attacks=["CW"])
    with pytest.raises(TypeError, match="victims"):
        transfer_table({"a": a}, [a], x, y, eps=[0.1])


def test_registry_lists_the_black_box_attacks():
    for name in ("square", "simba", "hopskipjump"):
        spec = ATTACKS[name]
        assert spec.box == "black" and spec.needs_model and spec.fn.__name__ == name
    assert ATTACKS["mifgsm"].box == "white" and ATTACKS["mifgsm"].norms == (INF,)
    assert ATTACKS["square"].norms == (INF, 2.0)
