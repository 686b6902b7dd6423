"""Input gradients and saliency maps: what the model's loss is most sensitive to. Taught in 04_gradients.

Every gradient attack of the course starts from one quantity, the gradient of the loss with respect
to the *input pixels* (not the weights). This module computes it and turns it into pictures:

* :func:`input_gradient`: ∇x of the summed cross-entropy, (N, C, H, W);
* :func:`gradient_sign`: its sign, the L∞ steepest-ascent direction FGSM steps along;
* :func:`saliency` / :func:`show_saliency`: max |gradient| over colour channels, per pixel, as a map;
* :func:`show_source`: any course function's code (docstrings cut to their first line),
  highlighted in a notebook, plain in a terminal.

The model is left exactly as found (eval mode inside, modes and ``requires_grad`` flags restored,
no parameter ``.grad`` written): the same guard, :func:`advcourse.attacks.checks.frozen`, as the attacks.
"""

from __future__ import annotations

import ast
import html
import inspect
import textwrap
from typing import Callable, Sequence

import torch
from matplotlib.figure import Figure
from torch import Tensor, nn

from advcourse.core import checks
from advcourse.core import viz
from advcourse.attacks import _core

__all__ = ["input_gradient", "gradient_sign", "saliency", "show_saliency", "Source", "show_source"]


def _gradient(model: nn.Module, x: Tensor, y: Tensor | None, targeted: bool) -> tuple[Tensor, Tensor]:
    """(∇x of the attack objective, labels used); validation and the model guard from ``_core``."""
    checks.check_model(model)
    checks.check_images(x)
    y = checks.check_labels(y, x, targeted=targeted)
    x = x.detach()
    with checks.frozen(model, x):
        x_in = x.clone().requires_grad_(True)
        logits = _core.logits_of(model, x_in, y)
        y = logits.argmax(1).detach() if y is None else y
        grad = _core.input_grad(_core.loss(logits, y, targeted), x_in)
    return grad.detach(), y


def input_gradient(model: nn.Module, x: Tensor, y: Tensor | None = None, *, targeted: bool = False) -> Tensor:
    """Gradient of the summed cross-entropy with respect to the input pixels.

    ``g = ∇x Σ_i CE(f(x_i), y_i)``; because the loss is summed (not averaged), ``g[i]`` is sample
    ``i``'s own gradient, independent of the batch. With ``targeted=True`` the sign is flipped
    (``∇x −CE``, the direction that walks *towards* the classes ``y``), so in both cases the
    returned gradient points where the attack wants to go.

    Args:
        model: ``nn.Module`` mapping (N, C, H, W) pixels in [0, 1] to (N, K) logits.
        x: (N, C, H, W) float tensor in [0, 1] on the model's device.
        y: (N,) int64 labels; ``None`` = the model's own predictions. Targeted: the target classes.
        targeted: return the gradient of −CE (towards ``y``) instead of CE (away from ``y``).

    Returns:
        (N, C, H, W) tensor, same dtype and device as ``x``, detached; any real value (often ~1e-3).

    Notes:
        One forward and one backward pass to the input. Parameters are never differentiated.

    Example:
        >>> g = input_gradient(model, x, y)
    """
    return _gradient(model, x, y, targeted)[0]


def gradient_sign(model: nn.Module, x: Tensor, y: Tensor | None = None, *, targeted: bool = False) -> Tensor:
    """``sign(input_gradient(model, x, y))``: the direction of an L∞ FGSM step.

    Args / Notes: as :func:`input_gradient`.

    Returns:
        (N, C, H, W) tensor with values in {-1, 0, 1}, same dtype and device as ``x``.
        ``clip(x + eps * gradient_sign(model, x, y), 0, 1)`` is exactly ``fgsm(model, x, y, eps=eps)``.

    Example:
        >>> x_adv = (x + 2/255 * gradient_sign(model, x, y)).clamp(0, 1)
    """
    return input_gradient(model, x, y, targeted=targeted).sign()


def _saliency_from(grad: Tensor) -> Tensor:
    s = grad.abs().amax(dim=1)  # (N, H, W): the strongest channel at each pixel
    peak = s.flatten(1).amax(dim=1).clamp_min(torch.finfo(s.dtype).tiny)
    return s / peak.view(-1, 1, 1)


def saliency(model: nn.Module, x: Tensor, y: Tensor | None = None) -> Tensor:
    """Saliency map (Simonyan, Vedaldi & Zisserman, 2014, arXiv:1312.6034): max |∇x CE| over channels.

    Args:
        model, x, y: as :func:`input_gradient`.

    Returns:
        (N, H, W) tensor in [0, 1], scaled per sample so its largest value is 1 (all zeros when the
        gradient vanishes).

    Example:
        >>> s = saliency(model, x)   # s[i].max() == 1
    """
    return _saliency_from(input_gradient(model, x, y))


@viz.figure_function
def show_saliency(model: nn.Module, x: Tensor, y: Tensor | None = None,
                  titles: Sequence[str] | None = None, percentile: float = 99.0) -> Figure:
    """A figure with the photos on the top row and their saliency maps below, with a colour bar.

    A few pixels have gradients far larger than the rest, so a map scaled by its maximum is almost
    black; each map is scaled by its own ``percentile`` instead (values above it are drawn at 1).

    Args:
        model, x, y: as :func:`input_gradient`.
        titles: one per photo; by default the class used (its ImageNet name for 1000-class models).
        percentile: in (0, 100], the value of each map drawn at full brightness.

    Returns:
        ``matplotlib.figure.Figure`` (2 rows × N columns), built without pyplot.

    Example:
        >>> show_saliency(model, x[:4])
    """
    if not isinstance(percentile, (int, float)) or isinstance(percentile, bool) or not 0 < percentile <= 100:
        raise ValueError(f"percentile: expected a number in (0, 100], got {percentile!r}")
    grad, y = _gradient(model, x, y, targeted=False)
    maps = _saliency_from(grad).cpu().float().flatten(1)
    top = maps.quantile(percentile / 100, dim=1, keepdim=True).clamp_min(torch.finfo(maps.dtype).tiny)
    maps = (maps / top).clamp(max=1).view(-1, *x.shape[-2:])
    n = x.shape[0]
    if titles is None:
        titles = [_class_title(int(k)) for k in y]
    elif len(titles) != n:
        raise ValueError(f"titles: expected {n} titles (one per photo), got {len(titles)}")
    size = min(2.2, 9.6 / n)  # the figure stays under 11 in wide, so a notebook shows it unscaled
    fig = viz.new_figure(size * n + 1.2, 2 * size + 0.6)
    axes = fig.subplots(2, n, squeeze=False)
    im = None
    for i in range(n):
        axes[0, i].imshow(viz.to_hwc(x[i]))
        axes[0, i].set_title(viz.wrap_title(titles[i], size))
        im = axes[1, i].imshow(maps[i].numpy(), cmap="inferno", vmin=0, vmax=1)
        for ax in axes[:, i]:
            ax.set_xticks([])
            ax.set_yticks([])
            ax.spines[:].set_visible(False)
    axes[0, 0].set_ylabel("photo")
    axes[1, 0].set_ylabel("saliency")
    fig.colorbar(im, ax=list(axes[1]), shrink=0.9,
                 label=f"max |∇x loss| over colours\n÷ its {percentile:g}th percentile")
    return fig


def _class_title(k: int) -> str:
    from advcourse.models.labels import IMAGENET_CLASSES, class_name

    return class_name(k) if k < len(IMAGENET_CLASSES) else f"class {k}"


class Source:
    """A function's source code: highlighted HTML in a notebook, plain text everywhere else.

    Attributes:
        name: the function's qualified name.
        code: its source text.
    """

    def __init__(self, name: str, code: str):
        self.name, self.code = name, code

    def __str__(self) -> str:
        return self.code

    def __repr__(self) -> str:
        return self.code

    def _repr_html_(self) -> str:
        try:
            from pygments import highlight
            from pygments.formatters import HtmlFormatter
            from pygments.lexers import PythonLexer
        except ImportError:  # pragma: no cover - pygments ships with IPython
            return f"<pre>{html.escape(self.code)}</pre>"
        return highlight(self.code, PythonLexer(), HtmlFormatter(noclasses=True, style="friendly"))


def show_source(fn: Callable, *, full: bool = False) -> Source:
    """The code of ``fn`` (a function, method or class) as a :class:`Source` to display.

    Notebooks use it to show the short code behind a call, e.g. ``show_source(advcourse.attacks.fgsm)``,
    instead of copying it into a cell. The signature and the body come in full; every docstring
    in it is cut to its first line (ending in " …"), so the lines that do the work are on screen.

    Args:
        fn: a function, method or class whose Python source is available.
        full: ``True`` keeps the docstrings whole.

    Raises:
        TypeError: ``fn`` has no retrievable Python source (a builtin, a lambda typed in a shell…).
    """
    try:
        code = textwrap.dedent(inspect.getsource(fn))
    except (TypeError, OSError) as e:
        raise TypeError(f"fn: expected a Python function or class with source code, got {fn!r}") from e
    return Source(getattr(fn, "__qualname__", repr(fn)), code if full else _short_docstrings(code))


def _short_docstrings(code: str) -> str:
    """``code`` with the docstring of every function and class in it cut to its first line."""
    try:
        tree = ast.parse(code)
    except SyntaxError:  # pragma: no cover - source that inspect found always parses
        return code
    lines = code.splitlines()
    docs = [node.body[0] for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.body
            and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)
            and isinstance(node.body[0].value.value, str)]
    for doc in sorted(docs, key=lambda d: d.lineno, reverse=True):  # bottom-up keeps line numbers valid
        text = inspect.cleandoc(doc.value.value)
        first = text.splitlines()[0].strip() if text.strip() else ""
        if doc.end_lineno == doc.lineno and "\n" not in text:
            continue  # already one line
        indent = lines[doc.lineno - 1][:doc.col_offset]
        quote = "\"\"\"" if '"""' not in first else "\'\'\'"
        lines[doc.lineno - 1:doc.end_lineno] = [f"{indent}{quote}{first} …{quote}"]
    return "\n".join(lines) + "\n"
