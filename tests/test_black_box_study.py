"""The measurements, app and exercises of 09_black_box: query curves read from per-sample query
counts, HopSkipJump's distance against queries, the budget app's pure render, the checks' hints."""

from __future__ import annotations

import math

import pytest
import torch

from advcourse.attacks import QueryCounter, square
from advcourse.attacks._toy import linear
from advcourse.evasion.black_box_study import SCORE_ATTACKS, DistanceCurve, distance_curve, query_curves
from advcourse.exercises.black_box import check_attack_days, check_share_budget
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


@pytest.mark.parametrize("share", [0.5, 0.75])
def test_check_share_budget(setup, share):
    _, _, curves = setup
    name = max(curves.infos, key=lambda n: curves.success(n)[-1])
    assert not check_share_budget(..., curves, name, share=share)
    rates = curves.success(name)
    if rates[-1] >= share:
        first = next(b for b, r in zip(curves.budgets, rates) if r >= share)
        assert check_share_budget(first, curves, name, share=share)
        if first != curves.budgets[-1]:
            assert not check_share_budget(curves.budgets[-1], curves, name, share=share)
        earlier = [b for b in curves.budgets if b < first]
        if earlier:
            assert not check_share_budget(earlier[-1], curves, name, share=share)
    assert not check_share_budget("ten", curves, name, share=share)
    with pytest.raises(ValueError, match="attack"):
        check_share_budget(10, curves, "nope", share=share)
    with pytest.raises(ValueError, match="share"):
        check_share_budget(10, curves, name, share=1.5)


def test_check_attack_days():
    kw = {"photos": 100, "queries_per_photo": 720, "per_minute": 10}
    assert check_attack_days(5.0, **kw)
    assert not check_attack_days(..., **kw)
    assert "minutes" in check_attack_days(7200, **kw).message
    assert "hours" in check_attack_days(120, **kw).message
    assert not check_attack_days(3, **kw)


def test_score_attacks_carry_their_budgets_into_names_and_runs():
    from advcourse.evasion.black_box_study import score_attacks

    net = linear((1, 8, 8), num_classes=10, seed=0, dtype=torch.float32)
    x = torch.rand(5, 1, 8, 8, generator=torch.Generator().manual_seed(2))
    attacks = score_attacks(square_eps=0.2, simba_step=0.3)
    assert list(attacks) == ["Square (L∞ 0.2)", "SimBA-DCT (step 0.3)"]
    assert list(SCORE_ATTACKS) == ["Square (L∞ 8/255)", "SimBA-DCT (step 0.2)"]
    curves = query_curves(net, x, max_queries=30, attacks=attacks, seed=0, images="digits")
    direct, info = square(net, x, eps=0.2, max_queries=30, generator=torch.Generator().manual_seed(0), return_info=True)
    assert torch.equal(curves.x_adv["Square (L∞ 0.2)"], direct)
    assert float(info.linf.max()) > 8 / 255  # the budget given, not the photos' default
    with pytest.raises(ValueError, match="square_eps"):
        score_attacks(square_eps=8)
    with pytest.raises(ValueError, match="simba_step"):
        score_attacks(simba_step=0)
    with pytest.raises(ValueError, match="images"):
        query_curves(net, x, max_queries=5, images="digit")


def test_render_budget_draws_a_greyscale_digit_with_its_scale_and_class_names():
    from advcourse.evasion.black_box_study import score_attacks

    net = linear((1, 8, 8), num_classes=10, seed=0, dtype=torch.float32)
    x = torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(3))
    curves = query_curves(net, x, max_queries=40, attacks=score_attacks(square_eps=0.3), images="digits")
    digits = [f"d{k}" for k in range(10)]
    fig = render_budget(curves, x, 40, 0, classes=digits)
    image_ax = fig.axes[0]
    assert image_ax.get_images()[0].get_cmap().name == "gray"
    assert any(ax.get_ylabel() == "pixel value" for ax in fig.axes)  # the grey scale has its colour bar
    title = image_ax.get_title()
    assert title.startswith("digit 0") and "'d" in title
    assert "share of digits fooled" in [ax.get_ylabel() for ax in fig.axes]
    assert budget_caption(curves, 40).startswith("within 40 queries per digit")
