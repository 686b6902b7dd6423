"""The patch app of 10_physical_world: stick the patch anywhere, at any size and angle, and watch.

Taught in 10_physical_world. :func:`render_patch` draws one photo with the patch pasted where the
sliders say and the model's top-5 answer beside it; predictions are cached
(:func:`~advcourse.widgets.cached_predict`), so returning to a setting runs no model.
"""

from __future__ import annotations

from typing import Any, Sequence

from matplotlib.figure import Figure
from torch import Tensor, nn

from advcourse.core import checks
from advcourse.attacks.patch import apply_patch, random_placement
from advcourse.models.labels import class_name
from advcourse.core.viz import figure_function, new_figure, to_hwc, topk_bars
from advcourse.widgets import cached_predict, make_app

__all__ = ["patched_photo", "render_patch", "patch_app"]


def patched_photo(x: Tensor, patch: Tensor, *, photo: int = 0, area: float = 10.0, down: float = 0.5,
                  across: float = 0.5, angle: float = 0.0) -> Tensor:
    """Photo ``photo`` of ``x`` (1, C, H, W) with ``patch`` covering ``area`` % of it, rotated by ``angle``
    degrees; ``down`` and ``across`` in [0, 1] place it from the top-left to the bottom-right corner."""
    checks.check_images(x)
    photo = checks.check_index(photo, "photo", x.shape[0])
    area = checks.check_positive(area, "area")
    for name, value in (("down", down), ("across", across)):
        if not 0 <= checks.check_finite(value, name) <= 1:
            raise ValueError(f"{name}: expected a fraction in [0, 1], got {value!r}")
    one = x[photo:photo + 1]
    where = random_placement(one, patch, scale=area / 100, angle=angle, location=(0.0, 0.0))
    side_h, side_w = where.sides(one.shape[-2], one.shape[-1], patch.shape[-2], patch.shape[-1])
    top, left = float(down * (one.shape[-2] - side_h)), float(across * (one.shape[-1] - side_w))
    return apply_patch(one, patch, scale=area / 100, angle=angle, location=(top, left))


@figure_function
def render_patch(model: nn.Module, x: Tensor, patch: Tensor, target: int, *, photo: int = 0, area: float = 10.0,
                 down: float = 0.5, across: float = 0.5, angle: float = 0.0,
                 names: Sequence[str] | None = None) -> Figure:
    """Left: the patched photo, titled with the model's answer. Right: its top-5 probabilities."""
    checks.check_model(model)
    target = checks.check_count(target, "target")
    xp = patched_photo(x, patch, photo=photo, area=area, down=down, across=across, angle=angle)
    preds = cached_predict(model, xp, 5)
    fig = new_figure(8.5, 3.2)
    ax_img, ax_bar = fig.subplots(1, 2, width_ratios=[1, 1.4])
    ax_img.imshow(to_hwc(xp))
    ax_img.axis("off")
    name = names[photo] if names is not None else f"photo {photo}"
    verdict = "target hit" if preds[0].index == target else "target missed"
    ax_img.set_title(f"{name}, patch on {area:g} % of it\nmodel: {preds[0].label} ({verdict})")
    topk_bars([p.label for p in preds], [p.prob for p in preds], ax=ax_bar,
              title=f"top-5 prediction (target: {class_name(target)})")
    return fig


def patch_app(model: nn.Module, x: Tensor, patch: Tensor, target: int, names: Sequence[str] | None = None) -> Any:
    """Sliders for the patch's size (% of the image) and place, and a photo dropdown."""
    import ipywidgets as W

    labels = list(names) if names is not None else [f"photo {k}" for k in range(x.shape[0])]
    controls = {
        "photo": W.Dropdown(options=[(n, k) for k, n in enumerate(labels)], value=0, description="photo"),
        "area": W.IntSlider(value=10, min=2, max=30, step=1, description="area %", continuous_update=False),
        "down": W.FloatSlider(value=0.5, min=0, max=1, step=0.1, description="down", continuous_update=False),
        "across": W.FloatSlider(value=0.5, min=0, max=1, step=0.1, description="across", continuous_update=False),
    }
    return make_app(lambda **v: render_patch(model, x, patch, target, names=labels, **v), controls)
