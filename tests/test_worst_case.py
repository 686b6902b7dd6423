"""Worst case per sample (advcourse.evaluation.evaluate.worst_case): attacks in a row, each on the survivors."""

from __future__ import annotations

import pytest
import torch

from advcourse.attacks import fgsm, pgd
from advcourse.evaluation.evaluate import WorstCase, autoattack_list, worst_case

pytestmark = pytest.mark.usefixtures("single_thread")


@pytest.fixture(scope="module")
def digits():
    from advcourse.defences.digits import clean_digits_cnn
    from advcourse.models.datasets import load_digits

    data = load_digits()
    return clean_digits_cnn(), data.x_test[:64], data.y_test[:64]


def _right(net, x, y):
    with torch.no_grad():
        return net(x).argmax(1) == y


def test_a_sample_is_robust_only_if_it_survives_every_attack(digits):
    net, x, y = digits
    attacks = {"FGSM": {"attack": "fgsm", "eps": 0.1}, "PGD": {"attack": "pgd", "eps": 0.1, "step_size": 0.025,
                                                               "steps": 10}}
    result = worst_case(net, x, y, attacks)
    assert isinstance(result, WorstCase) and [r.name for r in result.rows] == ["FGSM", "PGD"]
    clean = _right(net, x, y)
    assert result.clean_accuracy == pytest.approx(float(clean.float().mean()))
    assert result.rows[0].attacked == int(clean.sum())
    assert result.rows[1].attacked == result.rows[0].attacked - result.rows[0].broken  # survivors only
    assert result.rows[0].robust_accuracy >= result.rows[1].robust_accuracy == result.robust_accuracy
    alone = _right(net, fgsm(net, x, y, eps=0.1), y) & clean
    assert result.robust_accuracy <= float(alone.float().mean())  # never above a single attack
    broken = result.broken_by >= 0
    assert torch.equal(broken, clean & ~result.robust)
    assert not bool(_right(net, result.x_adv[broken], y[broken]).any())  # the stored examples do break
    assert bool(((result.x_adv - x).abs().amax((1, 2, 3)) <= 0.1 + 1e-6).all())


def test_queries_count_the_images_each_attack_sent(digits):
    net, x, y = digits
    result = worst_case(net, x, y, {"PGD": {"attack": pgd, "eps": 0.1, "step_size": 0.025, "steps": 5}})
    row = result.rows[0]
    assert row.queries == row.attacked * 5  # five forward+backward passes per attacked sample


def test_default_list_is_autoattack_and_renders_without_times(digits):
    net, x, y = digits
    assert list(autoattack_list(0.1)) == ["APGD-CE", "APGD-T (DLR)", "Square"]
    assert list(autoattack_list(0.5, norm=2.0)) == ["APGD-CE", "APGD-T (DLR)", "Square"]
    assert autoattack_list(0.5, norm=2.0)["Square"]["norm"] == 2.0
    result = worst_case(net, x[:24], y[:24], autoattack_list(0.1, steps=10, max_queries=50))
    text = str(result)
    assert "worst case" in text and "seconds" not in text and "seconds" in result.table(seconds=True)
    assert result._repr_html_().count("<tr>") == len(result.rows) + 3
    assert result.plot().axes
    with pytest.raises(ValueError, match="eps: the default attack list needs a budget"):
        worst_case(net, x, y)


def test_bad_input(digits):
    net, x, y = digits
    with pytest.raises(ValueError, match="y: the worst case needs the true labels"):
        worst_case(net, x, None, eps=0.1)
    with pytest.raises(ValueError, match="attacks: the entry 'x' needs an 'attack' key"):
        worst_case(net, x, y, {"x": {"eps": 0.1}})


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_runs_on_cuda(digits):
    net, x, y = digits
    result = worst_case(net.cuda(), x.cuda(), y.cuda(), autoattack_list(0.1, steps=5, max_queries=20))
    net.cpu()
    assert result.x_adv.device.type == "cuda" and 0 <= result.robust_accuracy <= result.clean_accuracy
