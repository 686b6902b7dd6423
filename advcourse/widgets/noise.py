"""The noise slider of 02_noise: one photo, a noise level, the model's answer and confidence.

:func:`render_noise` is a pure function of its arguments that returns a Figure; the model's
outputs are cached per (model, photo, kind, level, seed), so going back to a level already seen
answers without running the model, and a new level costs one forward pass of one image.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Sequence

import torch
from matplotlib.figure import Figure
from torch import nn

from advcourse.core import checks
from advcourse.models.images import load_image, sample_info, samples
from advcourse.models.labels import IMAGENET_CLASSES
from advcourse.foundations.noise_study import KINDS, add_noise, probabilities
from advcourse.core.viz import figure_function, new_figure, to_hwc, topk_bars
from advcourse.widgets import make_app

__all__ = ["DEFAULT_LEVELS", "noisy_outputs", "describe_noise", "render_noise", "noise_app"]

#: Slider positions, in pixel units: 0 to 128/255.
DEFAULT_LEVELS: tuple[float, ...] = tuple(k / 255 for k in (0, 2, 4, 8, 12, 16, 24, 32, 48, 64, 96, 128))

_CACHE: OrderedDict[tuple, tuple[torch.Tensor, torch.Tensor]] = OrderedDict()


def noisy_outputs(model: nn.Module, photo: str, level: float, kind: str = "uniform",
                  seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """The noisy photo (1, 3, 224, 224) and the model's probabilities (1000,) on it, cached."""
    checks.check_model(model)
    sample_info(photo)  # a typo gets "did you mean" before any work
    level = checks.check_budget(level, "level")
    seed = checks.check_count(seed, "seed")
    if kind not in KINDS:
        raise ValueError(f"kind: expected one of {KINDS}, got {kind!r}")
    key = (id(model), photo, kind, round(float(level), 9), seed)
    if key not in _CACHE:
        device = next((p.device for p in model.parameters()), torch.device("cpu"))
        x_adv = add_noise(load_image(photo).to(device), level, kind=kind, seed=seed)
        _CACHE[key] = (x_adv.cpu(), probabilities(model, x_adv)[0].cpu())
        if len(_CACHE) > 256:
            _CACHE.popitem(last=False)
    return _CACHE[key]


def _level_text(kind: str, level: float) -> str:
    """``eps = 16/255`` (uniform noise) or ``sigma = 16/255`` (Gaussian)."""
    return f"{'eps' if kind == 'uniform' else 'sigma'} = {level * 255:.0f}/255"


def _verdict(model: nn.Module, photo: str, level: float, kind: str, seed: int) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """The noisy photo, the probabilities on it, and whether its top-1 answer differs from the clean one."""
    x_adv, probs = noisy_outputs(model, photo, level, kind, seed)
    _, clean = noisy_outputs(model, photo, 0.0, kind, seed)
    return x_adv, probs, int(probs.argmax()) != int(clean.argmax())


def describe_noise(model: nn.Module, photo: str, level: float, kind: str = "uniform", seed: int = 0) -> str:
    """One line saying what :func:`render_noise` draws: the noise, the top-1 answer and the verdict."""
    _, probs, changed = _verdict(model, photo, level, kind, seed)
    top, truth = int(probs.argmax()), sample_info(photo)
    return (f"{photo}, {kind} noise {_level_text(kind, level)}: top-1 '{IMAGENET_CLASSES[top]}' "
            f"{float(probs[top]):.1%}, true class '{truth['label']}' {float(probs[truth['index']]):.1%} "
            f"({'answer changed' if changed else 'answer unchanged'})")


@figure_function
def render_noise(model: nn.Module, photo: str, level: float, kind: str = "uniform", seed: int = 0) -> Figure:
    """The photo with noise (left) and the model's top-5 probabilities on it (right).

    Args:
        photo: a shipped sample name (its true class is shown, with the model's confidence in it).
        level: eps (uniform, noise in [-eps, eps]) or sigma (Gaussian), in pixel units, e.g. 16/255.
        kind: "uniform" or "gaussian".
    """
    if kind not in KINDS:
        raise ValueError(f"kind: expected one of {KINDS}, got {kind!r}")
    x_adv, probs, changed = _verdict(model, photo, level, kind, seed)
    truth = sample_info(photo)
    p, idx = probs.topk(5)
    fig = new_figure(8.5, 3.2)
    ax_img, ax_bar = fig.subplots(1, 2, width_ratios=[1, 1.4])
    ax_img.imshow(to_hwc(x_adv))
    ax_img.axis("off")
    ax_img.set_title(f"{kind} noise, {_level_text(kind, level)}\n"
                     f"{'answer changed!' if changed else 'answer unchanged'}",
                     color="#b30000" if changed else "black")
    topk_bars([IMAGENET_CLASSES[int(i)] for i in idx], [float(v) for v in p], ax=ax_bar,
              title=f"true class '{truth['label']}': {float(probs[truth['index']]):.1%}")
    return fig


#: Layout of the app's controls: the picker and the noise buttons at fixed widths, and a level
#: slider 360-600 px wide that shares their row on a wide screen and takes a row of its own (never
#: squeezed) on a narrower one, e.g. JupyterLab at 1400 px with the file browser open.
CONTROL_LAYOUT = {"photo": {"width": "230px"}, "kind": {"width": "290px"},
                  "level": {"width": "100%", "min_width": "360px", "max_width": "600px"}}

_KIND_NAMES = {"gaussian": "Gaussian"}


def noise_app(model: nn.Module, photo: str = "chelsea_cat", levels: Sequence[float] = DEFAULT_LEVELS):
    """A photo picker, a noise-kind toggle and a level slider (labelled in /255) over :func:`render_noise`."""
    import ipywidgets as W

    options = [(f"{v * 255:.0f}/255", float(v)) for v in levels]
    controls = {
        "photo": W.Dropdown(options=samples(), value=photo, description="photo",
                            layout=W.Layout(**CONTROL_LAYOUT["photo"]), style={"description_width": "45px"}),
        "kind": W.ToggleButtons(options=[(f"{_KIND_NAMES.get(k, k)} noise", k) for k in KINDS], value="uniform",
                                layout=W.Layout(**CONTROL_LAYOUT["kind"]), style={"button_width": "135px"}),
        "level": W.SelectionSlider(options=options, value=options[0][1], description="eps / sigma",
                                   continuous_update=False, layout=W.Layout(**CONTROL_LAYOUT["level"]),
                                   style={"description_width": "80px"}),
    }

    def render(photo: str, kind: str, level: float) -> Figure:
        return render_noise(model, photo, level, kind)

    def caption(photo: str, kind: str, level: float) -> str:
        return describe_noise(model, photo, level, kind)

    app = make_app(render, controls, caption)
    app.children[0].layout.flex_flow = "row wrap"  # never squeeze a control: wrap it whole
    return app
