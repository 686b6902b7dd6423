"""The query-budget app of 09_black_box: how far each score-based attack gets within a budget.

Taught in 09_black_box. :func:`render_budget` draws one image (a colour photo or a greyscale digit) as
the first attack leaves it within the chosen budget, next to the success-rate-vs-queries curves with
the budget marked, from a precomputed :class:`~advcourse.evasion.black_box_study.QueryCurves`, so moving the
slider runs no model. An attack stops each image at its first success, so an image fooled within the
budget is shown as it was then; one not fooled within it is shown clean.
"""

from __future__ import annotations

from typing import Any, Sequence

from matplotlib.figure import Figure

from advcourse.core import checks
from advcourse.evasion.black_box_study import QueryCurves
from advcourse.models.labels import class_name
from advcourse.core.viz import figure_function, new_figure, to_hwc
from advcourse.widgets import make_app

__all__ = ["render_budget", "budget_caption", "budget_app"]


def _class_name(k: int, classes: Sequence[str] | None) -> str:
    return class_name(k) if classes is None else str(classes[k])


def _show(ax: Any, image: Any, fig: Figure) -> None:
    """A colour image as it is; a greyscale one on a grey scale with its colour bar."""
    if image.shape[0] == 1:
        im = ax.imshow(image[0].detach().float().cpu().clamp(0, 1).numpy(), cmap="gray", vmin=0, vmax=1)
        fig.colorbar(im, ax=ax, label="pixel value", ticks=[0, 0.5, 1], shrink=0.8)
    else:
        ax.imshow(to_hwc(image))


def _check(curves: Any, budget: Any, photo: Any) -> tuple[int, int]:
    checks.check_instance(curves, QueryCurves, "curves", "made by advcourse.evasion.black_box_study.query_curves")
    budget = checks.check_count(budget, "budget", minimum=1)
    n = next(iter(curves.x_adv.values())).shape[0]
    return budget, checks.check_index(photo, "photo", n)


@figure_function
def render_budget(curves: QueryCurves, x: Any, budget: int, photo: int = 0,
                  names: Sequence[str] | None = None, classes: Sequence[str] | None = None) -> Figure:
    """Image ``photo`` after the first attack of ``curves`` with ``budget`` queries, and the curves.

    Args:
        curves: the precomputed runs; x: (N, C, H, W) the clean images they attacked, in [0, 1]
            (C = 3 photos, C = 1 greyscale digits).
        budget: queries per image, >= 1; photo: index into the images; names: optional image names.
        classes: the model's class names (default: ImageNet's; ``[str(d) for d in range(10)]`` for digits).
    """
    budget, photo = _check(curves, budget, photo)
    x = checks.check_images(x)
    attack = next(iter(curves.infos))
    info = curves.infos[attack]
    fooled = bool(curves.fooled_within(attack, budget)[photo])
    fig = new_figure(9.5, 3.6)
    ax_img, ax_curve = fig.subplots(1, 2, width_ratios=[1, 1.6])
    shown = curves.x_adv[attack][photo] if fooled else x[photo]
    _show(ax_img, shown, fig)
    ax_img.axis("off")
    name = names[photo] if names is not None and len(names) > photo else f"{curves.images[:-1]} {photo}"
    verdict = (f"fooled after {int(info.queries[photo])} queries:\nnow '{_class_name(int(info.pred[photo]), classes)}'"
               if fooled else f"not fooled within {budget} queries:\nstill '{_class_name(int(info.y[photo]), classes)}'")
    ax_img.set_title(f"{name}, {attack.split(' ')[0]}\n{verdict}")
    curves._draw(ax_curve, budget)
    fig.legend(loc="outside lower center", ncols=len(curves.infos) + 1)
    return fig


def budget_caption(curves: QueryCurves, budget: int) -> str:
    """The curves at ``budget`` in words: each attack's share of images fooled."""
    budget, _ = _check(curves, budget, 0)
    parts = [f"{name}: {float(curves.fooled_within(name, budget).float().mean()):.0%}" for name in curves.infos]
    return f"within {budget} queries per {curves.images[:-1]} — " + ", ".join(parts)


def budget_app(curves: QueryCurves, x: Any, names: Sequence[str] | None = None,
               classes: Sequence[str] | None = None) -> Any:
    """A query-budget slider (values of ``curves.budgets``) and an image dropdown over :func:`render_budget`."""
    import ipywidgets as W

    budget = W.SelectionSlider(options=[(str(b), b) for b in curves.budgets], value=curves.budgets[-1],
                               description="queries", continuous_update=False)
    n = next(iter(curves.x_adv.values())).shape[0]
    noun = curves.images[:-1]
    labels = list(names)[:n] if names is not None else [f"{noun} {k}" for k in range(n)]
    photo = W.Dropdown(options=[(name, k) for k, name in enumerate(labels)], value=0, description=noun)
    return make_app(lambda budget, photo: render_budget(curves, x, budget, photo, labels, classes),
                    {"budget": budget, "photo": photo}, caption=lambda budget, photo: budget_caption(curves, budget))
