"""Interactive controls for the notebooks, built on pure render functions.

Every app here is ``interactive_output(render_fn, controls)``: the render function takes plain
values and returns a matplotlib Figure, so pytest can call it directly (no browser), and a
browser test only has to check that moving a control changes what is drawn. Model outputs are
cached so a control answers in well under a second on a CPU.
"""

from __future__ import annotations

import hashlib
import html
from collections import OrderedDict
from typing import Any, Callable

import torch
from matplotlib.figure import Figure
from torch import nn

from advcourse.models.images import load_image, sample_info, samples
from advcourse.one_call import Predictions, predict
from advcourse.core.viz import figure_function, new_figure, to_hwc, topk_bars

__all__ = ["make_app", "app_box", "live_note", "LIVE_NOTE", "APP_TEXT", "render_classification", "classify_app", "cached_predict",
           "upload_bytes"]

#: The line every app shows under its controls. A notebook opened without running draws the app
#: from its saved widget state: the controls are there, but nothing answers until the kernel has
#: run the cells above.
LIVE_NOTE = ("This app comes alive once the cells above have run (Run ▸ Run All Above Selected Cell); "
             "until then it shows the view saved with the notebook.")


# ----------------------------------------------------------------------------- shared plumbing
_PREDICTIONS: OrderedDict[tuple, Predictions] = OrderedDict()


def cached_predict(model: nn.Module, x: torch.Tensor, topk: int = 5) -> Predictions:
    """``predict(model, x)[0]`` for one image, remembered by (model, pixels, topk).

    Moving a slider back to a value already seen answers without running the model.
    """
    key = (id(model), hashlib.sha1(x.detach().cpu().contiguous().numpy().tobytes()).hexdigest(), topk)
    if key not in _PREDICTIONS:
        _PREDICTIONS[key] = predict(model, x, topk)[0]
        if len(_PREDICTIONS) > 512:
            _PREDICTIONS.popitem(last=False)
    return _PREDICTIONS[key]


def live_note():
    """An ``ipywidgets.HTML`` line with :data:`LIVE_NOTE`, small and grey, under an app's controls."""
    import ipywidgets as W

    return W.HTML(f'<small style="color:#57606a">{html.escape(LIVE_NOTE)}</small>')


def app_box(children: list[Any]):
    """An ``ipywidgets.VBox`` whose plain-text form is a line saying what it is, not its repr.

    Where widgets cannot be drawn (an untrusted notebook, GitHub, a terminal) the saved output
    falls back to this text, so a learner reads "interactive app…" instead of ``VBox(children=…``.
    """
    import ipywidgets as W

    global _AppBox
    if _AppBox is None:
        class _AppBox(W.VBox):  # noqa: N801 — the front end sees a plain VBox
            def __repr__(self) -> str:
                return APP_TEXT

    return _AppBox(children)


_AppBox = None
#: What an app is, in plain text (the text/plain of its saved output; ipywidgets cuts it at 110 characters).
APP_TEXT = "Interactive app: it comes alive once the cells above have run."


def make_app(render: Callable[..., Figure], controls: dict[str, Any],
             caption: Callable[..., str] | None = None):
    """A VBox of ``controls``, the :func:`live_note` line, and the figure drawn by ``render(**values)``.

    ``caption(**values)``, when given, is printed under the figure: the same verdict in words, which
    a screen reader (and the browser test) can read. Sliders should be created with
    ``continuous_update=False`` so the model runs once per move.
    """
    import ipywidgets as W
    from IPython.display import display

    def show(**values: Any) -> None:
        display(render(**values))
        if caption is not None:
            print(caption(**values))

    out = W.interactive_output(show, controls)
    return app_box([W.HBox(list(controls.values())), live_note(), out])


def upload_bytes(value: Any) -> bytes | None:
    """The bytes of the first file in an ``ipywidgets.FileUpload`` value (v7 dict or v8 tuple)."""
    if not value:
        return None
    first = next(iter(value.values())) if isinstance(value, dict) else value[0]
    return bytes(first["content"])


# ----------------------------------------------------------------------------- 00_welcome
@figure_function
def render_classification(src: Any, model: nn.Module, topk: int = 5) -> Figure:
    """The picture on the left, the model's top-k probabilities on the right.

    Args:
        src: a shipped sample name, path, URL, bytes or PIL image (see ``load_image``).
        model: a [0,1]-pixel classifier.
    """
    x = load_image(src)
    preds = cached_predict(model, x, topk)
    fig = new_figure(8.5, 3.2)
    ax_img, ax_bar = fig.subplots(1, 2, width_ratios=[1, 1.4])
    ax_img.imshow(to_hwc(x))
    ax_img.axis("off")
    if isinstance(src, str) and src in samples():
        truth = sample_info(src)
        verdict = "right" if preds[0].index in truth.labels else "wrong"
        ax_img.set_title(f"{src}\ntrue class: {truth['label']} ({verdict})")
    topk_bars([p.label for p in preds], [p.prob for p in preds], ax=ax_bar, title=f"top-{topk} prediction")
    return fig


def classify_app(model: nn.Module):
    """Pick a shipped photo, or upload your own, and see what the model thinks it is."""
    import ipywidgets as W

    choice = W.Dropdown(options=samples(), description="photo")
    upload = W.FileUpload(accept="image/*", multiple=False, description="or upload")

    def forget_upload(_change: Any) -> None:  # picking a photo again replaces the upload
        upload.value = ()

    choice.observe(forget_upload, "value")

    def render(photo: str, uploaded: Any) -> Figure:
        data = upload_bytes(uploaded)
        return render_classification(data if data is not None else photo, model)

    return make_app(render, {"photo": choice, "uploaded": upload})
