"""The app of 04_gradients: a learning-rate slider over gradient descent on the 1-D bowl.

``render_descent`` is pure (numbers in, Figure out) and needs no model, so every move of the
slider answers instantly.
"""

from __future__ import annotations

from matplotlib.figure import Figure

from advcourse.foundations.calculus import bowl, show_descent
from advcourse.core.viz import figure_function
from advcourse.widgets import make_app

__all__ = ["render_descent", "descent_app"]


@figure_function
def render_descent(lr: float, x0: float = -1.0, steps: int = 12) -> Figure:
    """Gradient descent on :func:`advcourse.foundations.calculus.bowl` from ``x0`` with learning rate ``lr``.

    On this bowl ``lr < 1`` converges (monotonically below 0.5, zig-zagging above), ``lr = 1``
    bounces between two points and ``lr > 1`` diverges.
    """
    return show_descent(bowl, x0, lr=lr, steps=steps)


def descent_app(lr: float = 0.1, x0: float = -1.0):
    """Sliders for the learning rate (0.05–1.2) and the start ``x0``; the figure follows them."""
    import ipywidgets as W

    controls = {
        "lr": W.FloatSlider(value=lr, min=0.05, max=1.2, step=0.05, description="lr", continuous_update=False),
        "x0": W.FloatSlider(value=x0, min=-2.0, max=6.0, step=0.5, description="x0", continuous_update=False),
    }
    return make_app(render_descent, controls)
