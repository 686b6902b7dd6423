"""The noise slider of 02_noise: render function, cache and app."""

from __future__ import annotations

import torch
from matplotlib.figure import Figure

from advcourse.models.images import sample_info
from advcourse.foundations.noise_study import add_noise
from advcourse.widgets import noise as wn


def test_render_noise_shows_the_noisy_photo_and_top5(model):
    fig = wn.render_noise(model, "chelsea_cat", 0.0)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    assert "eps = 0/255" in fig.axes[0].get_title() and "unchanged" in fig.axes[0].get_title()
    assert f"true class '{sample_info('chelsea_cat')['label']}'" in fig.axes[1].get_title()
    assert len(fig.axes[1].patches) == 5
    big = wn.render_noise(model, "chelsea_cat", 128 / 255, "gaussian")
    assert "sigma = 128/255" in big.axes[0].get_title()


def test_noisy_outputs_are_cached_and_match_add_noise(model, monkeypatch):
    from advcourse import load_image

    x_adv, probs = wn.noisy_outputs(model, "flamingo", 16 / 255)
    assert torch.equal(x_adv, add_noise(load_image("flamingo"), 16 / 255))
    assert probs.shape == (1000,) and abs(float(probs.sum()) - 1) < 1e-4
    wn.noisy_outputs(model, "flamingo", 0.0)  # the clean answer, which render_noise also shows
    monkeypatch.setattr(wn, "probabilities", lambda *a: (_ for _ in ()).throw(AssertionError("model ran")))
    again = wn.noisy_outputs(model, "flamingo", 16 / 255)  # answered from the cache
    assert again[1] is probs
    wn.render_noise(model, "flamingo", 16 / 255)


def test_describe_noise_says_in_words_what_the_figure_shows(model):
    from advcourse.models.labels import IMAGENET_CLASSES

    clean = wn.describe_noise(model, "chelsea_cat", 0.0)
    _, probs = wn.noisy_outputs(model, "chelsea_cat", 0.0)
    top = IMAGENET_CLASSES[int(probs.argmax())]
    assert clean.startswith("chelsea_cat, uniform noise eps = 0/255: top-1 ") and f"'{top}'" in clean
    assert clean.endswith("(answer unchanged)")
    for level in (64 / 255, 128 / 255):  # the verdict follows the top-1 answer, as in the figure's title
        _, noisy = wn.noisy_outputs(model, "chelsea_cat", level, "gaussian")
        changed = int(noisy.argmax()) != int(probs.argmax())
        words = wn.describe_noise(model, "chelsea_cat", level, "gaussian")
        assert f"sigma = {level * 255:.0f}/255" in words
        assert words.endswith("(answer changed)" if changed else "(answer unchanged)")
        assert ("changed!" in wn.render_noise(model, "chelsea_cat", level, "gaussian").axes[0].get_title()) == changed


def test_render_noise_rejects_an_unknown_kind(model):
    import pytest

    with pytest.raises(ValueError, match="kind"):
        wn.render_noise(model, "chelsea_cat", 0.0, "salt")


def test_noise_app_rerenders_when_controls_move(model, monkeypatch):
    seen = []
    monkeypatch.setattr(wn, "render_noise", lambda m, photo, level, kind: seen.append((photo, kind, level)) or Figure())
    monkeypatch.setattr(wn, "describe_noise", lambda m, photo, level, kind: f"{photo} {kind} {level}")
    app = wn.noise_app(model, photo="flamingo")
    photo, kind, level = app.children[0].children
    assert seen[-1] == ("flamingo", "uniform", 0.0) and level.continuous_update is False
    level.value = 16 / 255
    assert seen[-1] == ("flamingo", "uniform", 16 / 255)
    kind.value = "gaussian"
    photo.value = "pig"
    assert seen[-1] == ("pig", "gaussian", 16 / 255)
    assert [lab for lab, _ in level.options][:3] == ["0/255", "2/255", "4/255"]


def test_noise_app_controls_have_room(model, monkeypatch):
    monkeypatch.setattr(wn, "render_noise", lambda m, photo, level, kind: Figure())
    monkeypatch.setattr(wn, "describe_noise", lambda m, photo, level, kind: "")
    app = wn.noise_app(model, photo="flamingo")
    row = app.children[0]
    photo, kind, level = row.children
    assert row.layout.flex_flow == "row wrap"  # a control that does not fit moves down whole
    assert level.layout.min_width == "360px" and level.layout.width == "100%"  # never a 120 px slider
    assert photo.layout.width and kind.layout.width and kind.style.button_width
    assert level.style.description_width == "80px"
    assert [v for _, v in kind.options] == ["uniform", "gaussian"] and "noise" in kind.options[0][0]
