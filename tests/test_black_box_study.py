"""The measurements, app and exercises of 09_black_box: query curves read from per-sample query
counts, HopSkipJump's distance against queries, the budget app's pure render, the checks' hints."""

from __future__ import annotations

import math

import pytest
import torch

from advcourse.attacks import QueryCounter, square
from advcourse.attacks._toy import linear
from advcourse.black_box_study import SCORE_ATTACKS, DistanceCurve, distance_curve, query_curves
from advcourse.exercises.black_box import check_attack_days, check_half_budget
from advcourse.widgets.black_box import budget_caption, render_budget

pytestmark = pytest.mark.usefixtures("single_thread")


@pytest.fixture(scope="module")
def setup():
    net = linear((3, 16, 16), num_classes=10, seed=0, dtype=torch.float32)  # random weights: easy to fool
    x = torch.rand(6, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    curves = query_curves(net, x, max_queries=60, seed=0)
    return net, x, curves


def test_curves_are_read_from_the_query_counts(setup):
    net, x, curves = setup
    assert list(curves.infos) == list(SCORE_ATTACKS)
    assert curves.budgets[0] == 1 and curves.budgets[-1] == 60 and curves.budgets == sorted(set(curves.budgets))
    for name, info in curves.infos.items():
        rates = curves.success(name)
        assert rates == sorted(rates), "fooled within B queries can only grow with B"
        assert rates[-1] == pytest.approx(info.success_rate)
        assert int(info.queries.max()) <= 60
        for b in curves.budgets:
            assert curves.fooled_within(name, b).float().mean().item() == pytest.approx(curves.success(name)[curves.budgets.index(b)])
    assert any(r > 0 for name in curves.infos for r in curves.success(name)), "the toy must be attackable"


def test_curves_match_a_direct_run_and_a_counter(setup):
    net, x, curves = setup
    counted = QueryCounter(net)
    x_adv, info = square(counted, x, eps=8 / 255, max_queries=60, generator=torch.Generator().manual_seed(0),
                         return_info=True)
    name = next(iter(SCORE_ATTACKS))
    assert torch.equal(info.queries, curves.infos[name].queries)
    assert torch.equal(x_adv, curves.x_adv[name])
    assert counted.images == int(info.queries.sum())


def test_query_curves_bad_input(setup):
    net, x, _ = setup
    with pytest.raises(ValueError, match="max_queries"):
        query_curves(net, x, max_queries=0)
    with pytest.raises(TypeError, match="attacks"):
        query_curves(net, x, max_queries=5, attacks={"bad": 3})


def test_distance_shrinks_with_queries():
    model = linear((1, 6, 6), num_classes=3, seed=0, dtype=torch.float32)
    x = torch.rand(5, 1, 6, 6, generator=torch.Generator().manual_seed(2))
    curve = distance_curve(model, x, budgets=[150, 500, 2000], seed=0)
    assert isinstance(curve, DistanceCurve) and len(curve.l2) == 3
    med = curve.median()
    assert all(math.isfinite(m) for m in med)
    assert med[-1] < med[0], "more queries, closer to the input"
    with pytest.raises(ValueError, match="budgets"):
        distance_curve(model, x, budgets=[100, 10])


def test_render_budget_is_pure_and_honest(setup):
    net, x, curves = setup
    name = next(iter(curves.infos))
    info = curves.infos[name]
    fooled = int(info.success.nonzero()[0]) if info.success.any() else None
    if fooled is not None:
        q = int(info.queries[fooled])
        title_after = render_budget(curves, x, q, fooled).axes[0].get_title()
        assert f"fooled after {q} queries" in title_after
        if q > 1:
            title_before = render_budget(curves, x, q - 1, fooled).axes[0].get_title()
            assert f"not fooled within {q - 1} queries" in title_before
    caption = budget_caption(curves, curves.budgets[-1])
    assert all(n in caption for n in curves.infos)
    with pytest.raises(ValueError, match="photo"):
        render_budget(curves, x, 10, 99)
    with pytest.raises(ValueError, match="budget"):
        render_budget(curves, x, 0, 0)


def test_check_half_budget(setup):
    _, _, curves = setup
    name = max(curves.infos, key=lambda n: curves.success(n)[-1])
    assert not check_half_budget(..., curves, name)
    rates = curves.success(name)
    if rates[-1] >= 0.5:
        first = next(b for b, r in zip(curves.budgets, rates) if r >= 0.5)
        assert check_half_budget(first, curves, name)
        if first != curves.budgets[-1]:
            assert not check_half_budget(curves.budgets[-1], curves, name)
    assert not check_half_budget("ten", curves, name)
    with pytest.raises(ValueError, match="attack"):
        check_half_budget(10, curves, "nope")


def test_check_attack_days():
    kw = {"photos": 100, "queries_per_photo": 720, "per_minute": 10}
    assert check_attack_days(5.0, **kw)
    assert not check_attack_days(..., **kw)
    assert "minutes" in check_attack_days(7200, **kw).message
    assert "hours" in check_attack_days(120, **kw).message
    assert not check_attack_days(3, **kw)
