"""03_semantic: the blend, the negation table, the blend path and app, and the checks."""

from __future__ import annotations

import pytest
import torch
from matplotlib.figure import Figure

from advcourse.attacks._toy import tiny_cnn
from advcourse.attacks.semantic import blend, semantic
from advcourse.exercises.semantic import check_blend, check_centred_negative
from advcourse.models.images import SampleBatch
from advcourse.widgets import semantic as sw


@pytest.fixture(scope="module")
def x():
    return torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(0))


# ----------------------------------------------------------------------------- blend
def test_blend_ends_at_the_photo_and_its_negative_and_is_grey_in_the_middle(x):
    assert torch.allclose(blend(x, 0.0), x)
    assert torch.allclose(blend(x, 1.0), semantic(x))
    assert torch.allclose(blend(x, 0.5), torch.full_like(x, 0.5))
    assert torch.allclose(blend(x, 0.25), 0.75 * x + 0.25 * (1 - x))


def test_blend_takes_one_t_per_image(x):
    out = blend(x, torch.tensor([0.0, 1.0]))
    assert torch.allclose(out[0], x[0]) and torch.allclose(out[1], 1 - x[1])


@pytest.mark.parametrize("t, err", [(1.5, ValueError), (-0.1, ValueError), ("a", TypeError),
                                    (torch.tensor([0.1, 0.2, 0.3]), ValueError), (torch.tensor([0.1, 2.0]), ValueError)])
def test_blend_rejects_bad_t_by_name(x, t, err):
    with pytest.raises(err, match="t"):
        blend(x, t)


def test_centred_negative_maps_back_to_one_minus_x(x):
    x_c = 2 * x - 1
    assert torch.allclose((semantic(x_c, center=True) + 1) / 2, 1 - x)
    assert torch.allclose(semantic(255 * x, max_val=255.0), 255 * (1 - x), atol=1e-4)


# ----------------------------------------------------------------------------- the table
@pytest.fixture(scope="module")
def toy():
    """A 1000-class toy model and a 3-photo batch whose labels are its predictions on the photos."""
    net = tiny_cnn(seed=0, num_classes=1000)
    xs = torch.rand(3, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        y = net(xs).argmax(1)
    return net, SampleBatch(xs, y, ["a", "b", "c"], [{int(k)} for k in y])


def test_negation_table_matches_separate_predictions(toy):
    net, photos = toy
    table = sw.negation_table(net, photos)
    with torch.no_grad():
        p_neg = net(1 - photos.x).softmax(1)
    assert [r.name for r in table.rows] == ["a", "b", "c"]
    for i, row in enumerate(table.rows):
        y = int(photos.y[i])
        assert row.prob == pytest.approx(float(p_neg[i, y]), abs=1e-6)
        assert row.rank == int((p_neg[i] > p_neg[i, y]).sum()) + 1
        assert row.survived == (int(p_neg[i].argmax()) == y) == (row.rank == 1)
    assert table.n_survived == len(table.survivors()) == 3 - len(table.failures())
    text = str(table)
    assert "label's rank" in text and f"{table.n_survived} of 3" in text and "accepted label" in text
    assert "<table>" in table._repr_html_()


def test_negation_table_marks_accepted_and_wrong_answers():
    row = sw.NegationRow("chelsea_cat", "tabby", "Egyptian cat", "lynx", 3, 0.2, survived=False, original_ok=True)
    cells = sw.NegationTable([row], torch.zeros(1, 3), torch.zeros(1, 3))._cells(row)
    assert cells[1:4] == ("tabby", "Egyptian cat  ≈", "lynx  ✘")
    same = sw.NegationRow("flamingo", "flamingo", "flamingo", "flamingo", 1, 0.9, survived=True)
    assert sw.NegationTable([same], torch.zeros(1, 3), torch.zeros(1, 3))._cells(same)[2:4] == ("flamingo", "flamingo")


def test_show_negatives_titles_and_errors(toy):
    net, photos = toy
    table = sw.negation_table(net, photos)
    fig = sw.show_negatives(photos, table, ["b", "c"])
    assert isinstance(fig, Figure) and len(fig.axes) == 4
    assert fig.axes[0].get_title().startswith("b")
    with pytest.raises(ValueError, match="names"):
        sw.show_negatives(photos, table, ["zzz"])


# ----------------------------------------------------------------------------- the slider
def test_blend_path_equals_one_forward_per_t(toy):
    net, photos = toy
    path = sw.blend_path(net, photos.x[:1], int(photos.y[0]), steps=5)
    assert torch.allclose(path.ts, torch.tensor([0, 0.25, 0.5, 0.75, 1]))
    with torch.no_grad():
        want = net(blend(photos.x[:1], 0.75)).softmax(1)[0]
    assert torch.allclose(path.probs[3], want, atol=1e-5)
    assert path.correct()[0] and path.index(0.7) == 3
    first = path.first_wrong()
    assert first is None or not path.correct()[path.index(first)]
    with pytest.raises(ValueError, match="x"):
        sw.blend_path(net, photos.x, 0)
    with pytest.raises(ValueError, match="steps"):
        sw.blend_path(net, photos.x[:1], 0, steps=1)


def test_render_blend_is_pure_and_marks_t(toy, monkeypatch):
    net, photos = toy
    path = sw.blend_path(net, photos.x[:1], int(photos.y[0]), steps=5)
    monkeypatch.setattr(sw, "_probs", lambda *a, **k: pytest.fail("render ran the model"))
    fig = sw.render_blend(photos.x[:1], path, 0.5, title="a")
    assert isinstance(fig, Figure) and len(fig.axes) == 3
    assert "t = 0.50" in fig.axes[0].get_title()
    assert len(fig.axes[1].patches) == 5


def test_blend_app_classifies_each_photo_once_and_follows_the_controls(toy, monkeypatch):
    net, photos = toy
    calls, seen = [], []
    real = sw.blend_path
    monkeypatch.setattr(sw, "blend_path", lambda *a, **k: calls.append(a[2]) or real(*a, **k))
    monkeypatch.setattr(sw, "render_blend", lambda x, path, t, title: seen.append((title, t)) or Figure())
    app = sw.blend_app(net, photos, photo="a", steps=5)
    dropdown, slider = app.children[0].children
    assert not slider.continuous_update and len(calls) == 1
    slider.value = 0.75
    assert seen[-1] == ("a", 0.75)
    dropdown.value = "b"
    assert seen[-1][0] == "b" and len(calls) == 2
    dropdown.value = "a"
    slider.value = 0.25
    assert seen[-1] == ("a", 0.25) and len(calls) == 2  # answered from the precomputed path


def test_blend_app_reuses_given_paths_and_checks_them(toy, monkeypatch):
    net, photos = toy
    path = sw.blend_path(net, photos.x[:1], int(photos.y[0]), steps=5)
    monkeypatch.setattr(sw, "blend_path", lambda *a, **k: pytest.fail("path computed again"))
    sw.blend_app(net, photos, photo="a", steps=5, paths={"a": path})
    with pytest.raises(ValueError, match="paths"):
        sw.blend_app(net, photos, photo="a", steps=21, paths={"a": path})
    with pytest.raises(ValueError, match="photo"):
        sw.blend_app(net, photos, photo="zzz", steps=5, paths={"a": path})


# ----------------------------------------------------------------------------- exercises
def test_check_centred_negative_right_and_wrong(x):
    x_c = 2 * x - 1
    assert check_centred_negative((-x_c + 1) / 2, x)
    cases = [(..., "replace"), (-x_c, "map it back"), (x, "x itself"), (-x, "centre first"),
             (1 - x_c, "mirrors around"), (x[0], "shape"), ("img", "torch.Tensor"), (x * 0 + 0.3, "not the negative"),
             ((x * 255).long(), "float")]
    for wrong, hint in cases:
        fb = check_centred_negative(wrong, x)
        assert not fb and hint in fb.message, (hint, fb)


def test_check_blend_right_and_wrong(x):
    assert check_blend(0.75 * x + 0.25 * (1 - x), x, 0.25)
    for wrong, hint in [(..., "replace"), (0.25 * x + 0.75 * (1 - x), "swapped"), (0.75 * x - 0.25 * x, "1 − x"),
                        (x, "not the blend"), (x[:1], "shape")]:
        fb = check_blend(wrong, x, 0.25)
        assert not fb and hint in fb.message, (hint, fb)
