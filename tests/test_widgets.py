"""Widget apps are tested through their pure render functions and by setting control values."""

from __future__ import annotations

import io
from datetime import datetime

from matplotlib.figure import Figure
from PIL import Image

from advcourse import widgets
from advcourse.models.images import samples


def test_render_classification_draws_photo_and_bars(model):
    fig = widgets.render_classification("chelsea_cat", model)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    title = fig.axes[0].get_title()
    assert "chelsea_cat" in title and "(right)" in title
    assert len(fig.axes[1].patches) == 5  # five probability bars


def test_render_is_cached(model, monkeypatch):
    widgets.render_classification("chelsea_cat", model)
    calls = []
    monkeypatch.setattr(widgets, "predict", lambda *a, **k: calls.append(a) or [])
    widgets.render_classification("chelsea_cat", model)  # answered from the cache
    assert calls == []


def test_upload_bytes_handles_both_ipywidgets_formats():
    assert widgets.upload_bytes(()) is None
    assert widgets.upload_bytes(({"name": "a.png", "content": memoryview(b"abc")},)) == b"abc"  # v8
    assert widgets.upload_bytes({"a.png": {"content": b"xyz"}}) == b"xyz"  # v7


def test_classify_app_rerenders_when_the_photo_changes(model, monkeypatch):
    seen = []
    monkeypatch.setattr(widgets, "render_classification", lambda src, m, topk=5: seen.append(src) or Figure())
    app = widgets.classify_app(model)
    dropdown, upload = app.children[0].children
    dropdown.value = samples()[1]
    assert seen[-1] == samples()[1]
    buf = io.BytesIO()
    Image.new("RGB", (30, 30), (0, 90, 0)).save(buf, format="PNG")
    upload.value = ({"name": "mine.png", "type": "image/png", "size": len(buf.getvalue()),
                     "content": memoryview(buf.getvalue()), "last_modified": datetime.now()},)
    assert seen[-1] == buf.getvalue()
    dropdown.value = samples()[2]  # picking a photo again forgets the upload
    assert seen[-1] == samples()[2]


def _texts(widget) -> list[str]:
    """Every HTML/Label value inside a widget tree."""
    found = [widget.value] if isinstance(getattr(widget, "value", None), str) else []
    for child in getattr(widget, "children", ()):
        found += _texts(child)
    return found


def test_every_app_says_it_comes_alive_once_the_cells_above_have_run():
    from pathlib import Path

    from ipywidgets import IntSlider

    from advcourse.widgets.deepfool import binary_app, multiclass_app
    from advcourse.widgets.gradients import descent_app
    from advcourse.widgets.threat_models import quiz_app

    assert "cells above" in widgets.LIVE_NOTE
    app = widgets.make_app(lambda n: Figure(), {"n": IntSlider(1, 0, 2)})
    assert app.children[1].value.endswith(f"{widgets.LIVE_NOTE}</small>")  # right under the controls
    for built in (quiz_app(), binary_app(), multiclass_app(), descent_app()):
        assert any(widgets.LIVE_NOTE in t for t in _texts(built))
        assert repr(built) == widgets.APP_TEXT and len(widgets.APP_TEXT) <= 110  # the text/plain of its output
        assert built._repr_mimebundle_()["text/plain"] == widgets.APP_TEXT
    # every other app is a make_app too: the only boxes of apps are app_box's (make_app and the quiz)
    boxes = {p.name: p.read_text().count("app_box(") for p in Path(widgets.__file__).parent.glob("*.py")}
    assert {k: v for k, v in boxes.items() if v} == {"__init__.py": 2, "threat_models.py": 1}, boxes
    assert not any("W.VBox([" in p.read_text() for p in Path(widgets.__file__).parent.glob("*.py"))
