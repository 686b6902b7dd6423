"""advcourse.privacy's DP-SGD (Opacus), the membership game and the privacy/accuracy trade-off (13).

Known values: ε against Opacus's accountants recomputed from the recorded (σ, q, steps) — the RDP
one independently, and the PRV one, a different (tighter) analysis of the same mechanism; the DP
bound's closed form; the best-threshold accuracy of uninformative scores equals the base rate.
Properties: the trained model is a plain module with no Opacus traces, seeded runs repeat; the
guarantee holds: on private models LiRA's TPR stays under e^ε·FPR + δ while without DP it does not
have to; privacy costs accuracy.
"""

from __future__ import annotations

import math

import pytest
import torch

from advcourse.models.datasets import load_digits
from advcourse.models.nets import DigitsCNN
from advcourse.privacy import (best_accuracy, dp_shadow_models, dp_train, exposure, membership_game,
                               privacy_tradeoff, tpr_bound)


@pytest.fixture(scope="module")
def digits():
    d = load_digits()
    return torch.cat([d.x_train, d.x_test]), torch.cat([d.y_train, d.y_test])


def _accuracy(model, x, y) -> float:
    with torch.no_grad():
        return float((model(x).argmax(1) == y).double().mean())


def test_dp_train_spends_the_budget_opacus_accounts_for(digits):
    from opacus.accountants import PRVAccountant, RDPAccountant

    x, y = digits[0][:400], digits[1][:400]
    run = dp_train(x, y, epsilon=2.0, epochs=5)
    assert 1.8 <= run.epsilon <= 2.0 and run.noise_multiplier > 0 and run.steps == 5 * round(1 / run.sample_rate)
    for accountant, low, high in ((RDPAccountant(), 0.99, 1.01), (PRVAccountant(), 0.5, 1.0)):
        accountant.history = [(run.noise_multiplier, run.sample_rate, run.steps)]
        eps = accountant.get_epsilon(run.delta)
        assert low * run.epsilon <= eps <= high * run.epsilon, (type(accountant).__name__, eps, run.epsilon)


def test_dp_train_returns_a_plain_model_and_repeats(digits):
    x, y = digits[0][:300], digits[1][:300]
    state = torch.random.get_rng_state()
    first = dp_train(x, y, epsilon=4.0, epochs=2, seed=3)
    assert torch.equal(torch.random.get_rng_state(), state)
    model, eps = first  # unpacks as (model, ε)
    assert type(model) is DigitsCNN and not model.training and eps == first.epsilon
    assert all(not m._forward_hooks and not m._backward_hooks and not m._forward_pre_hooks for m in model.modules())
    assert all(p.grad is None and not hasattr(p, "grad_sample") for p in model.parameters())
    again = dp_train(x, y, epsilon=4.0, epochs=2, seed=3).model
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), again.parameters()))
    other = dp_train(x, y, epsilon=4.0, epochs=2, seed=4).model
    assert not all(torch.equal(p, q) for p, q in zip(model.parameters(), other.parameters()))


def test_privacy_costs_accuracy(digits):
    x, y = digits
    train, test = slice(0, 1000), slice(1000, None)
    accuracy = {eps: _accuracy(dp_train(x[train], y[train], epsilon=eps, epochs=10).model, x[test], y[test])
                for eps in (0.5, None)}
    assert accuracy[None] >= 0.9, accuracy
    assert accuracy[0.5] <= accuracy[None] - 0.2, accuracy


def test_tpr_bound_closed_form():
    assert tpr_bound(0.0, 0.0, 0.01) == 0.01
    assert tpr_bound(1.0, 1e-5, 0.01) == pytest.approx(math.e * 0.01 + 1e-5)
    assert tpr_bound(8.0, 1e-5, 0.5) == 1.0
    grid = torch.tensor([1e-4, 1e-2, 1.0])
    assert torch.allclose(tpr_bound(2.0, 0.0, grid), torch.tensor([math.e ** 2 * 1e-4, math.e ** 2 * 1e-2, 1.0]))


def test_best_accuracy_of_guessing_is_the_base_rate():
    is_member = torch.arange(1000) < 860  # 86 % members, as in a widely shared image-membership demo
    scores = torch.zeros(1000)  # an attack that knows nothing
    assert best_accuracy(scores, is_member) == pytest.approx(0.86)
    perfect = is_member.double()
    assert best_accuracy(perfect, is_member) == 1.0


def test_the_guarantee_holds_against_lira(digits):
    """Private models: LiRA within ε's promise at 1 % FPR and at chance overall; without DP it is not."""
    x, y = digits[0][:600], digits[1][:600]
    result = privacy_tradeoff(x, y, epsilons=(1.0, None), n_models=6, generator=torch.Generator().manual_seed(0),
                              progress=False, epochs=15)
    private, open_ = result.rows
    assert 0.9 <= private.epsilon <= 1.0 and math.isinf(open_.epsilon)
    bound = tpr_bound(private.epsilon, result.delta, 0.01)
    members = int(private.game.is_member.sum())
    slack = 3 * math.sqrt(bound / members)  # three binomial standard deviations of a TPR measured on the members
    for attack in ("LiRA", "loss"):
        assert private.tpr[attack][0.01] <= bound + slack, (attack, private.tpr, bound, slack)
    assert abs(private.auc["LiRA"] - 0.5) < 0.03, private.auc  # measured 0.51 (0.57 without DP)
    assert open_.auc["LiRA"] > private.auc["LiRA"] + 0.03, (open_.auc, private.auc)
    assert open_.accuracy >= private.accuracy + 0.5, (open_.accuracy, private.accuracy)
    assert "LiRA TPR@1.0%" in str(result) and "none" in str(result)


def test_membership_game_pools_every_target(digits):
    x, y = digits[0][:120], digits[1][:120]
    shadows = dp_shadow_models(x, y, n_models=4, epsilon=None, generator=torch.Generator().manual_seed(1),
                               progress=False, epochs=2)
    game = membership_game(shadows, x, y, targets=3, progress=False)
    assert game.scores["LiRA"].shape == game.scores["loss"].shape == (360,)
    assert torch.equal(game.is_member, shadows.members[:3].reshape(-1))
    assert 0 <= game.accuracy <= 1 and exposure(game, 120).shape == (120,)
    with pytest.raises(ValueError, match="attack"):
        game.tpr("Shokri", 0.01)


def test_threshold_app_draws_every_rate_of_its_slider():
    from matplotlib.figure import Figure

    from advcourse.privacy import MembershipGame
    from advcourse.widgets.privacy import FPRS, render_threshold, threshold_app, threshold_caption

    g = torch.Generator().manual_seed(0)
    truth = torch.rand(400, generator=g) < 0.5
    game = MembershipGame({"LiRA": torch.randn(400, generator=g, dtype=torch.float64) + truth,
                           "loss": torch.randn(400, generator=g, dtype=torch.float64)}, truth, 0.9)
    for fpr in FPRS:
        assert isinstance(render_threshold(game, fpr), Figure)
    assert f"{game.tpr('LiRA', 0.05):.1%}" in threshold_caption(game, 0.05)
    assert threshold_app(game) is not None
