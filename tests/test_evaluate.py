"""advcourse.evaluation.evaluate: accuracy, attack reports and tables, checked against direct computation."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from advcourse.evaluation import evaluate
from advcourse.attacks import fgsm, pgd
from advcourse.attacks._toy import tiny_cnn

pytestmark = pytest.mark.usefixtures("single_thread")


@pytest.fixture
def net() -> nn.Module:
    return tiny_cnn(seed=0, dtype=torch.float64)


@pytest.fixture
def data(net):
    x = torch.rand(12, 3, 12, 12, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    with torch.no_grad():
        y = net(x).argmax(1)
    y[:3] = (y[:3] + 1) % 10  # three images the model gets wrong
    return x, y


def test_accuracy_counts_right_answers_in_any_batching(net, data):
    x, y = data
    assert evaluate.accuracy(net, x, y) == pytest.approx(9 / 12)
    assert evaluate.accuracy(net, x, y, batch_size=5) == pytest.approx(9 / 12)
    with pytest.raises(ValueError, match="batch_size: expected an int >= 1"):
        evaluate.accuracy(net, x, y, batch_size=0)


def test_report_matches_a_direct_computation(net, data):
    x, y = data
    r = evaluate.evaluate_attack(net, x, y, attack="fgsm", eps=0.05, progress=False)
    x_adv = fgsm(net, x, y, eps=0.05)
    with torch.no_grad():
        clean, adv = net(x).argmax(1), net(x_adv).argmax(1)
    delta = (x_adv - x).flatten(1)
    assert (r.name, r.n) == ("fgsm", 12)
    assert r.clean_accuracy == pytest.approx(9 / 12)
    assert r.robust_accuracy == pytest.approx(float((adv == y).double().mean()))
    assert r.success_rate == pytest.approx(float(((clean == y) & (adv != y)).sum()) / 9)
    assert 0 < r.success_rate <= 1
    assert r.l2_median == pytest.approx(float(delta.norm(dim=1).median()))
    assert r.l2_mean == pytest.approx(float(delta.norm(dim=1).mean()))
    assert r.linf_median == pytest.approx(0.05) and r.linf_mean == pytest.approx(0.05)
    assert r.params == {"attack": "fgsm", "eps": 0.05}


def test_batching_and_dataloaders_give_the_same_report(net, data):
    x, y = data
    kw = dict(attack="pgd", eps=0.05, step_size=0.02, steps=3, random_start=False, progress=False)
    whole = evaluate.evaluate_attack(net, x, y, **kw)
    assert evaluate.evaluate_attack(net, x, y, batch_size=5, **kw) == whole
    loader = DataLoader(TensorDataset(x, y), batch_size=4)
    from_loader = evaluate.evaluate_attack(net, loader, **kw)
    for field in ("n", "clean_accuracy", "robust_accuracy", "success_rate"):
        assert getattr(from_loader, field) == getattr(whole, field)
    assert from_loader.l2_mean == pytest.approx(whole.l2_mean)


def test_eps_zero_changes_nothing(net, data):
    x, y = data
    r = evaluate.evaluate_attack(net, x, y, attack=pgd, eps=0.0, step_size=0.1, steps=2, progress=False)
    assert r.name == "pgd" and r.robust_accuracy == r.clean_accuracy and r.success_rate == 0
    assert r.l2_median == r.l2_mean == r.linf_median == r.linf_mean == 0


def test_black_box_custom_and_targeted_attacks(net, data):
    x, y = data
    gen = torch.Generator().manual_seed(5)
    r = evaluate.evaluate_attack(net, x, y, attack="noise", eps=0.1, generator=gen, progress=False)
    assert 0.099 < r.linf_median <= 0.1 and r.params["generator"] is gen

    def shift(model, x, y, *, amount):
        return (x + amount).clamp(0, 1)
    r = evaluate.evaluate_attack(net, x, y, attack=shift, amount=0.0, progress=False)
    assert r.name == "shift" and r.l2_mean == 0

    target = (y + 5) % 10
    r = evaluate.evaluate_attack(net, x, y, attack="pgd", target=target, eps=0.3, step_size=0.05,
                                 steps=10, random_start=False, progress=False)
    x_adv = pgd(net, x, target, eps=0.3, step_size=0.05, steps=10, random_start=False, targeted=True)
    with torch.no_grad():
        adv = net(x_adv).argmax(1)
    assert r.success_rate == pytest.approx(float((adv == target).double().mean()))
    assert r.robust_accuracy == pytest.approx(float((adv == y).double().mean()))
    same = evaluate.evaluate_attack(net, x, y, attack="pgd", target=lambda t: (t + 5) % 10, eps=0.3,
                                    step_size=0.05, steps=10, random_start=False, progress=False, batch_size=5)
    assert same.success_rate == r.success_rate


def test_success_rate_is_nan_when_nothing_was_right(net, data):
    x, y = data
    r = evaluate.evaluate_attack(net, x[:3], y[:3], attack="fgsm", eps=0.01, progress=False)
    assert r.clean_accuracy == 0 and math.isnan(r.success_rate)
    assert "–" in str(r)


def test_progress_bar_only_when_asked(net, data, capsys, monkeypatch):
    x, y = data
    monkeypatch.setenv("ADVCOURSE_PROGRESS", "1")  # the suite turns bars off; a learner's session has them
    evaluate.evaluate_attack(net, x, y, attack="fgsm", eps=0.01, progress=False)
    assert capsys.readouterr().err == ""
    evaluate.evaluate_attack(net, x, y, attack="fgsm", eps=0.01, batch_size=4, progress=True)
    err = capsys.readouterr().err
    assert "fgsm" in err and "0/3" in err  # the bar clears itself when done (leave=False)


def test_progress_bars_off_everywhere_with_advcourse_progress_0(net, data, capsys, monkeypatch):
    x, y = data
    monkeypatch.setenv("ADVCOURSE_PROGRESS", "0")  # what make notebooks sets: no bar is stored
    evaluate.evaluate_attack(net, x, y, attack="fgsm", eps=0.01, batch_size=4, progress=True)
    assert capsys.readouterr().err == ""


def test_model_is_left_as_found(data):
    x, y = data
    net = tiny_cnn(seed=1, dtype=torch.float64).train()
    state = {k: v.clone() for k, v in net.state_dict().items()}
    evaluate.evaluate_attack(net, x, y, attack="pgd", eps=0.05, step_size=0.02, steps=2, progress=False)
    evaluate.accuracy(net, x, y)
    assert net.training and all(p.grad is None and p.requires_grad for p in net.parameters())
    assert all(torch.equal(v, net.state_dict()[k]) for k, v in state.items())


def test_compare_builds_a_table_that_renders(net, data):
    x, y = data
    table = evaluate.compare(net, x, y, {
        "FGSM 2/255": {"attack": "fgsm", "eps": 2 / 255},
        "PGD-5 8/255": {"attack": "pgd", "eps": 8 / 255, "step_size": 2 / 255, "steps": 5,
                        "generator": torch.Generator().manual_seed(0)},
    }, progress=False)
    assert [r.name for r in table.rows] == ["FGSM 2/255", "PGD-5 8/255"] and len(table) == 2
    assert table["PGD-5 8/255"].robust_accuracy <= table["FGSM 2/255"].robust_accuracy
    text, page = str(table), table._repr_html_()
    assert text.splitlines()[0].split()[:2] == ["attack", "n"] and "PGD-5 8/255" in text and "75.0%" in text
    assert page.startswith("<table>") and page.count("<tr>") == 3 and "PGD-5 8/255" in page
    assert "<table>" in table.rows[0]._repr_html_() and "FGSM 2/255" in str(table.rows[0])
    with pytest.raises(KeyError, match="name: no row called 'cw'"):
        table["cw"]


@pytest.mark.parametrize("call, error, message", [
    (lambda n, x, y: evaluate.evaluate_attack(n, x, attack="fgsm", eps=0.1), ValueError, "y: evaluating a tensor"),
    (lambda n, x, y: evaluate.evaluate_attack(n, DataLoader(TensorDataset(x, y)), y, attack="fgsm", eps=0.1),
     ValueError, "y: the labels come from the DataLoader"),
    (lambda n, x, y: evaluate.evaluate_attack(n, x * 2, y, attack="fgsm", eps=0.1), ValueError, "data: pixels"),
    (lambda n, x, y: evaluate.evaluate_attack(n, x, y, attack="carlini"), ValueError, "name: unknown attack 'carlini'"),
    (lambda n, x, y: evaluate.evaluate_attack(n, x, y, attack=3), TypeError, "attack: expected a name"),
    (lambda n, x, y: evaluate.evaluate_attack(n, [x], attack="fgsm", eps=0.1), TypeError, "data: expected a Data"),
    (lambda n, x, y: evaluate.evaluate_attack(n, x, y, attack="fgsm", eps=-1, progress=False), ValueError, "eps:"),
    (lambda n, x, y: evaluate.evaluate_attack(n, x, y, attack="fgsm", target=y[:2], eps=0.1), ValueError,
     r"target: expected shape \(12,\)"),
    (lambda n, x, y: evaluate.evaluate_attack(n, x, y, attack="fgsm", target=y, eps=0.1), ValueError,
     r"target: 12 target\(s\) equal the true label y \(first at image 0\)"),
    (lambda n, x, y: evaluate.evaluate_attack(n, x, y, attack="fgsm", eps=0.1,
                                              target=torch.where(torch.arange(12) == 7, y, (y + 1) % 10)),
     ValueError, r"target: 1 target\(s\) equal the true label y \(first at image 7\)"),
    (lambda n, x, y: evaluate.evaluate_attack(n, x, y, attack="fgsm", target=lambda t: t, eps=0.1, batch_size=5,
                                              progress=False), ValueError, r"target: 5 target\(s\) equal .* \(first at image 0\)"),
    (lambda n, x, y: evaluate.compare(n, x, y, {"a": {"eps": 0.1}}), ValueError, "attacks: the entry 'a' needs"),
    (lambda n, x, y: evaluate.compare(n, x, y, {}), TypeError, "attacks: expected a non-empty dict"),
    (lambda n, x, y: evaluate.accuracy(n, x, y[:3]), ValueError, "y: expected shape"),
])
def test_bad_input_is_named(call, error, message, net, data):
    with pytest.raises(error, match=message):
        call(net, *data)
