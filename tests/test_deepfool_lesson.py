"""07_deepfool's lesson code: render functions, apps (by setting control values), checks, replay."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from advcourse.evasion import geometry
from advcourse.evaluation.evaluate import Report, Table, compare
from advcourse.exercises import deepfool as ex
from advcourse.widgets import deepfool as lesson


# ----------------------------------------------------------------------------- 2-D pictures
def _legend(fig: Figure) -> list[str]:
    return [t.get_text() for t in fig.legends[0].get_texts()]


def test_render_binary_shows_the_distance_and_the_crossing():
    fig = lesson.render_binary(2.0, 1.5, overshoot=0.02)
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    dist = geometry.distance_to_hyperplane(lesson.BINARY_W, lesson.BINARY_B, [2.0, 1.5])
    assert f"= {dist:.2f}" in fig.axes[0].get_title()
    legend = _legend(fig)
    assert "f(x) = +3.00" in legend[1] and "f = -0.06" in legend[3]  # −overshoot · f(x): the other side


def test_render_binary_follows_the_point_and_the_overshoot():
    before = lesson.render_binary(2.0, 1.5, overshoot=0.02)
    after = lesson.render_binary(-0.5, 0.0, overshoot=0.5)
    assert before.axes[0].get_title() != after.axes[0].get_title()
    assert "f = +1.25" in _legend(after)[3]  # f(x) = −2.5, times −0.5


def test_render_multiclass_names_the_nearest_boundary():
    fig = lesson.render_multiclass(1.0, 0.2)
    assert "x is A; nearest boundary: B" in fig.axes[0].get_title()
    fig = lesson.render_multiclass(*ex.LANDING_POINT)
    assert "nearest boundary: C" in fig.axes[0].get_title()
    assert any("class C" in t for t in _legend(fig))  # the overshoot point lies in C


def test_binary_app_rerenders_when_a_slider_moves(monkeypatch):
    seen = []
    monkeypatch.setattr(lesson, "render_binary", lambda **v: seen.append(v) or Figure())
    app = lesson.binary_app()
    px, py, overshoot = app.children[0].children
    assert all(not s.continuous_update for s in (px, py, overshoot))
    px.value = 3.0
    assert seen[-1]["px"] == 3.0
    overshoot.value = 0.5
    assert seen[-1] == {"px": 3.0, "py": 1.5, "overshoot": 0.5}


def test_multiclass_app_rerenders_when_a_slider_moves(monkeypatch):
    seen = []
    monkeypatch.setattr(lesson, "render_multiclass", lambda **v: seen.append(v) or Figure())
    app = lesson.multiclass_app()
    px, py, _ = app.children[0].children
    py.value = 2.0
    assert seen[-1]["py"] == 2.0 and seen[-1]["px"] == 0.5


# ----------------------------------------------------------------------------- photos (small fakes)
def _fake_photos(n: int = 3):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(n, 3, 16, 16, generator=g) * 0.9
    x_adv = (x + (torch.rand(x.shape, generator=g) - 0.5) * 2 / 255).clamp(0, 1)
    x_adv[0, 0, 0, 0] = x[0, 0, 0, 0] + 3 / 255  # a known maximum
    y, pred, rank = torch.tensor([281, 1, 2]), torch.tensor([282, 3, 4]), torch.tensor([2, 3, 40])
    return x[:n], x_adv[:n], y[:n], pred[:n], rank[:n], [f"photo{i}" for i in range(n)]


def test_show_deepfool_titles_the_difference_range_and_the_landing():
    x, x_adv, y, pred, rank, names = _fake_photos()
    fig = lesson.show_deepfool(x, x_adv, y, pred, rank, names, photos=[0, 2])
    assert len(fig.axes) == 6
    assert "3.00] /255" in fig.axes[1].get_title()
    assert "tiger cat" in fig.axes[2].get_title() and "rank 2" in fig.axes[2].get_title()
    assert "rank 40" in fig.axes[5].get_title() and "photo2" in fig.axes[3].get_title()


def test_show_deepfool_rejects_bad_indices():
    x, x_adv, y, pred, rank, names = _fake_photos()
    with pytest.raises(ValueError, match="photo: expected an index"):
        lesson.show_deepfool(x, x_adv, y, pred, rank, names, photos=[3])
    with pytest.raises(ValueError, match="photos: expected at least one"):
        lesson.show_deepfool(x, x_adv, y, pred, rank, names, photos=[])


def test_photo_app_shows_the_chosen_photo(monkeypatch):
    args = _fake_photos()
    seen = []
    monkeypatch.setattr(lesson, "render_photo", lambda photo, *a: seen.append(photo) or Figure())
    app = lesson.photo_app(*args)
    (dropdown,) = app.children[0].children
    dropdown.value = 2
    assert seen[-1] == 2


def test_render_photo_draws_one_row():
    fig = lesson.render_photo(1, *_fake_photos())
    assert len(fig.axes) == 3 and "photo1" in fig.axes[0].get_title()


def test_show_distances_draws_found_and_missing_bars():
    names = ["a", "b", "c"]
    fig = lesson.show_distances(names, {"DeepFool": torch.tensor([0.1, 0.2, 0.3]),
                                        "FGSM": torch.tensor([1.0, math.nan, 2.0])}, grid_max=5.0)
    ax = fig.axes[0]
    widths = sorted(round(p.get_width(), 3) for p in ax.patches)
    assert widths == [0.1, 0.2, 0.3, 1.0, 2.0, 5.0]  # the hollow bar marks "not fooled up to 5"
    legend = [t.get_text() for t in fig.legends[0].get_texts()]  # below the plot, covering no bar
    assert any("median 1.50" in t for t in legend)
    assert any("not fooled up to L2 = 5.00" in t for t in legend)  # the hatched bar is explained
    with pytest.raises(ValueError, match="distances"):
        lesson.show_distances(names, {"x": torch.zeros(2)})


def _report(name: str, robust: float) -> Report:
    return Report(name=name, n=20, clean_accuracy=1.0, robust_accuracy=robust, success_rate=1 - robust,
                  l2_median=0.1, l2_mean=0.1, linf_median=0.01, linf_mean=0.01)


def test_accuracy_figure_puts_measured_and_reported_side_by_side():
    table = Table([_report("noise", 0.95), _report("DeepFool", 0.0)])
    fig = lesson.accuracy_figure(table)
    ax = fig.axes[0]
    heights = sorted(round(p.get_height(), 1) for p in ax.patches)
    # ours: clean 100, noise 95, DeepFool 0; ResNet18: 69, 10; LeNet: six numbers
    assert heights == sorted([100.0, 95.0, 0.0, 69.0, 10.0, 98.6, 98.4, 23.3, 50.9, 18.7, 1.2])
    assert [t.get_text() for t in ax.get_xticklabels()] == list(lesson._CATEGORIES)
    with pytest.raises(ValueError, match="table"):
        lesson.accuracy_figure(Table([]))


def test_replay_hands_back_the_stored_result_in_any_order():
    x, x_adv, *_ = _fake_photos()
    attack = lesson.replay(x, x_adv)
    torch.testing.assert_close(attack(None, x[[2, 0]]), x_adv[[2, 0]])
    with pytest.raises(ValueError, match="xb: an image"):
        attack(None, torch.zeros(1, 3, 16, 16))
    with pytest.raises(ValueError, match="x_adv"):
        lesson.replay(x, x_adv[:2])


def test_replay_inside_compare_measures_the_stored_attack(model):
    x = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        y = model(x).argmax(1)
    table = compare(model, x, y, {"stored": {"attack": lesson.replay(x, x.clone())}}, progress=False)
    assert table["stored"].robust_accuracy == 1.0 and table["stored"].l2_median == 0.0


# ----------------------------------------------------------------------------- checks
def test_check_projection_distance_right_and_wrong():
    assert not ex.check_projection_distance(...)
    assert ex.check_projection_distance(2.4)
    assert ex.check_projection_distance(np.float64(2.404))
    assert ex.check_projection_distance(torch.tensor(2.4))
    assert "a score" in ex.check_projection_distance(12).message  # |f(x)| without dividing
    assert "‖w‖²" in ex.check_projection_distance(0.48).message
    assert "never negative" in ex.check_projection_distance(-2.4).message
    assert not ex.check_projection_distance(3.0)
    assert "expected a number" in ex.check_projection_distance("2.4").message


def test_check_projection_distance_agrees_with_geometry():
    right = geometry.distance_to_hyperplane(ex.LINE_W, ex.LINE_B, ex.LINE_POINT)
    assert ex.check_projection_distance(right)


def test_check_landing_class_right_and_wrong():
    assert not ex.check_landing_class(...)
    assert ex.check_landing_class("C") and ex.check_landing_class(" c ") and ex.check_landing_class(2)
    assert "second-highest score" in ex.check_landing_class("B").message
    assert "own class" in ex.check_landing_class("A").message
    assert "expected one of" in ex.check_landing_class("Z").message
    assert not ex.check_landing_class(True)
