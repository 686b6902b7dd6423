"""11_evaluation's exercises and CW app: checks that pass the right answer, nudge the usual slips,
and a slider that only picks precomputed constants."""

from __future__ import annotations

import math

import pytest
import torch
from scipy import stats

from advcourse.evaluation.losses import LossComparison
from advcourse.evaluation.evaluate import WorstCase, WorstCaseRow
from advcourse.exercises.evaluation import check_certified_radius, check_worst_case_gap
from advcourse.widgets.evaluation import _caption, losses_app, render_losses


def _result() -> WorstCase:
    rows = [WorstCaseRow("APGD-CE", 90, 40, 0.5, 900, 1.0), WorstCaseRow("Square", 50, 5, 0.45, 5000, 2.0)]
    robust = torch.tensor([True] * 45 + [False] * 55)
    return WorstCase(100, 0.9, rows, robust, torch.full((100,), -1), torch.zeros(100, 1, 8, 8))


def test_certified_radius_passes_the_theorem_and_names_the_slips():
    assert check_certified_radius(0.25 * stats.norm.ppf(0.9))
    assert check_certified_radius(torch.tensor(0.3204))
    assert "quantile alone" in check_certified_radius(stats.norm.ppf(0.9)).message
    assert "inverse of the normal" in check_certified_radius(0.25 * 0.9).message
    assert not check_certified_radius(1.0) and not check_certified_radius("0.32")
    assert check_certified_radius(0.5 * stats.norm.ppf(0.99), sigma=0.5, p_lower=0.99)
    with pytest.raises(ValueError, match="p_lower"):
        check_certified_radius(0.1, p_lower=0.4)


def test_worst_case_gap():
    result = _result()
    assert check_worst_case_gap(0.05, result) and check_worst_case_gap(0.5 - 0.45, result)
    assert "percentage" in check_worst_case_gap(5, result).message
    assert "never above" in check_worst_case_gap(-0.05, result).message
    assert "difference" in check_worst_case_gap(0.45, result).message
    assert not check_worst_case_gap(..., result)
    with pytest.raises(TypeError, match="result"):
        check_worst_case_gap(0.05, "table")


def _comparison() -> LossComparison:
    return LossComparison([0.1, 1.0, 10.0], {"margin": [0.1, 0.6, 1.0], "ce": [0.0, 0.4, 1.0]},
                          {"margin": [0.2, 0.4, 0.6], "ce": [math.nan, 0.5, 0.8]},
                          {"margin": [1.0, -0.1, -0.5], "ce": [1.2, 0.2, -3.0]})


def test_render_and_caption_pick_a_precomputed_constant():
    comparison = _comparison()
    fig = render_losses(comparison, 10.0)
    assert len(fig.axes) == 2 and "c = 10" in fig.axes[0].get_title()
    assert _caption(comparison, 1.0) == "margin loss: 60% broken; ce loss: 40% broken at c = 1"
    with pytest.raises(ValueError, match="c: expected one of the precomputed constants"):
        render_losses(comparison, 2.0)
    with pytest.raises(TypeError, match="comparison"):
        render_losses({"c": [1.0]}, 1.0)


def test_app_has_one_slider_that_does_not_update_while_dragging():
    import ipywidgets as W

    app = losses_app(_comparison())
    sliders = [w for w in app.children[0].children if isinstance(w, W.SelectionSlider)]
    assert len(sliders) == 1 and sliders[0].continuous_update is False and sliders[0].value == 1.0
