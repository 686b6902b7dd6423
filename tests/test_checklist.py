"""The robustness checklist (advcourse.evaluation.checklist): each check passes on an ordinary model and fails
on a model that masks its gradients — rounding (zero gradients) or randomness (noisy verdicts)."""

from __future__ import annotations

import pytest
import torch
from test_attacks_contract import _assert_same_state, _state

from advcourse.evaluation.checklist import ChecklistReport, Quantise, checklist
from advcourse.defences import RandomResizePad

pytestmark = pytest.mark.usefixtures("single_thread")

EPS = 0.15


@pytest.fixture(scope="module")
def digits():
    """08_defences' clean digits CNN (trained to convergence: PGD-10 is a converged attack on it)."""
    from advcourse.models.datasets import load_digits
    from advcourse.defences.digits import clean_digits_cnn

    data = load_digits()
    return clean_digits_cnn(), data.x_test[:64], data.y_test[:64]


@pytest.fixture(scope="module")
def plain(digits):
    net, x, y = digits
    return checklist(net, x, y, eps=EPS, steps=10, restarts=3, max_queries=200, name="plain")


def test_an_ordinary_model_passes_every_check(plain):
    assert isinstance(plain, ChecklistReport) and plain.flagged == []
    assert plain.robust_accuracy < plain.clean_accuracy and len(plain.checks) == 6
    assert plain.loss_curve[-1] > plain.loss_curve[0]


def test_rounding_the_input_is_caught(digits):
    net, x, y = digits
    report = checklist(Quantise(net), x, y, eps=EPS, steps=10, restarts=3, max_queries=200)
    assert set(report.flagged) >= {"accuracy falls to zero as eps grows", "black box does not beat white box",
                                   "the loss keeps rising", "gradients are not vanishing"}
    assert report.robust_accuracy < 0.2  # Square, which needs no gradient, breaks it


def test_randomness_is_caught(digits):
    net, x, y = digits
    defended = RandomResizePad(net, out_size=8, min_size=6, generator=torch.Generator().manual_seed(0))
    report = checklist(defended, x, y, eps=EPS, steps=10, restarts=3, max_queries=200, surrogate=net)
    assert "random starts agree" in report.flagged
    assert "gradients are not vanishing" not in report.flagged


def test_the_report_renders_rounded(plain):
    text, page = str(plain), plain._repr_html_()
    assert text.splitlines()[0] == plain.summary and "pass" in text and "FLAG" not in text
    assert page.count("<tr>") == 7 and "no sign of gradient masking" in page
    assert all(c.verdict in ("pass", "FLAG") for c in plain.checks)


def test_model_left_as_found(digits):
    net, x, y = digits
    net.train()
    before = _state(net)
    checklist(net, x[:8], y[:8], eps=EPS, steps=2, restarts=2, max_queries=5)
    _assert_same_state(before, _state(net))
    net.eval()


@pytest.mark.parametrize("kwargs, error, match", [
    ({"eps": 0.0}, ValueError, "eps: expected a budget > 0"),
    ({"eps": 8}, ValueError, "eps: 8 is larger than the whole pixel range"),
    ({"eps": EPS, "restarts": 1}, ValueError, "restarts: expected an int >= 2"),
    ({"eps": EPS, "attack_model": "eot"}, TypeError, "model: expected a torch.nn.Module"),
])
def test_bad_arguments(kwargs, error, match, digits):
    net, x, y = digits
    with pytest.raises(error, match=match):
        checklist(net, x, y, **kwargs)
