"""12_poisoning's experiments on the real digits: the sweeps, the defences table, the rate app, the
exercises. Each trains the course's digits recipe (under a second a model), so the claims the
notebook asserts are checked here on the same data, with their own margins."""

from __future__ import annotations

import pytest
import torch
from matplotlib.figure import Figure

from advcourse.exercises.poisoning import check_poisons_needed, check_tpr
from advcourse.models.datasets import load_digits
from advcourse.poisoning import backdoor, badnets_trigger, blended_trigger
from advcourse.poisoning.study import (DEFENCES, DefenceTable, backdoor_sweep, defend, flip_sweep,
                                       plot_trigger_key)
from advcourse.widgets.poisoning import rate_app, rate_caption, render_rate


@pytest.fixture(scope="module")
def digits():
    d = load_digits()
    return d.x_train, d.y_train, d.x_test[:200], d.y_test[:200], d.x_test[200:], d.y_test[200:]


@pytest.fixture(scope="module")
def sweep(digits):
    x, y, _, _, xt, yt = digits
    return backdoor_sweep(x, y, xt, yt, trigger=badnets_trigger(), target=0, rates=[0.0, 0.05], show=6)


@pytest.fixture(scope="module")
def badnets_row(digits):
    x, y, xc, yc, xt, yt = digits
    poisoned = backdoor(x, y, target=0, rate=0.03, trigger=badnets_trigger(), generator=torch.Generator().manual_seed(0))
    return defend(poisoned, xt, yt, xc, yc, name="BadNets 3 %")


def test_backdoor_sweep_rises_with_the_rate_and_keeps_clean_accuracy(sweep):
    assert sweep.poisons == [0, round(0.05 * 1348)]
    success, accuracy = sweep.curves["attack success"], sweep.curves["clean accuracy"]
    assert success[0] < 0.05 < 0.95 < success[1]
    assert min(accuracy) > 0.93
    assert sweep.answers.shape == (2, 6) and (sweep.truth != 0).all(), "the slider's digits are of other classes"
    assert (sweep.answers[1] == 0).all() and (sweep.answers[0] == sweep.truth).float().mean() > 0.8


def test_flip_sweep_random_flips_hurt_only_as_a_majority(digits):
    x, y, _, _, xt, yt = digits
    flips = flip_sweep(x, y, xt, yt, rates=[0.0, 0.3, 0.9], show=4)
    accuracy = flips.curves["clean accuracy"]
    assert list(flips.curves) == ["clean accuracy"] and flips.poisons == [0, round(0.3 * 1348), round(0.9 * 1348)]
    assert accuracy[1] > 0.85 and accuracy[2] < 0.3


def test_sweeps_are_reproducible(digits):
    x, y, _, _, xt, yt = digits
    runs = [flip_sweep(x, y, xt, yt, rates=[0.2], show=3, seed=1) for _ in range(2)]
    assert runs[0].curves == runs[1].curves and torch.equal(runs[0].answers, runs[1].answers)


def test_defend_scores_every_defence(badnets_row):
    row = badnets_row
    assert set(row.after) == set(DEFENCES) and set(row.detections) == set(DEFENCES[:3])
    assert row.poisons == 40 and row.before.attack_success > 0.9
    strip = row.detections["STRIP"]
    assert strip.tpr > 0.9 and strip.fpr < 0.15, "STRIP catches the patch at about its 5 % threshold"
    assert row.after["STRIP"].attack_success <= row.before.attack_success * (1 - strip.tpr) + 1e-9
    assert row.after["spectral signatures"].attack_success < 0.3
    ss = row.detections["spectral signatures"]
    assert ss.tp + ss.fn == 40 and ss.tp + ss.fp + ss.fn + ss.tn == 1348


def test_defence_table_prints_and_draws(badnets_row):
    table = DefenceTable([badnets_row])
    text = str(table)
    assert text.count("BadNets 3 %") == 3 and all(d in text for d in DEFENCES)
    assert isinstance(table.plot(), Figure)
    assert table.row("BadNets 3 %") is badnets_row
    with pytest.raises(ValueError, match="attack"):
        table.row("blended")


def test_plot_trigger_key_leaves_the_model_as_found(digits):
    from advcourse.defences.digits import clean_digits_cnn

    net = clean_digits_cnn().train()
    before = [(m.training, [p.clone() for p in m.parameters(recurse=False)]) for m in net.modules()]
    grads = [None if p.grad is None else p.grad.clone() for p in net.parameters()]
    fig = plot_trigger_key(net, digits[4][:5], blended_trigger(0.3))
    after = [(m.training, list(m.parameters(recurse=False))) for m in net.modules()]
    assert isinstance(fig, Figure)
    assert all(a[0] == b[0] and all(torch.equal(p, q) for p, q in zip(a[1], b[1])) for a, b in zip(before, after))
    assert all((g is None and p.grad is None) or torch.equal(g, p.grad) for g, p in zip(grads, net.parameters()))


def test_rate_app_renders_each_rate(sweep):
    for rate in sweep.rates:
        assert isinstance(render_rate(sweep, rate), Figure)
    assert rate_caption(sweep, 0.05).startswith("5 % of the training set poisoned (67 rows)")
    assert rate_app(sweep) is not None


def test_exercise_checks(sweep):
    assert check_poisons_needed(67, sweep, success=0.9).ok
    assert not check_poisons_needed(0, sweep, success=0.9).ok
    flags = torch.tensor([True, True, False, True])
    truth = torch.tensor([True, False, True, True])
    assert check_tpr(2 / 3, flags, truth).ok
    assert "false-positive" in check_tpr(1.0, flags, truth).message
