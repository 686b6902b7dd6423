"""Validation shared by every entry point, and the guard that hands a user's model back unchanged.

Taught in 04_gradients (the guard) and used everywhere: attacks, the one-call API, images,
evaluate, explain, defences, widgets, exercises and the command line all raise the errors written
here, so one mistake reads the same wherever it is made. Every check either returns the value
(converted where that is safe, e.g. an ``int`` eps to ``float``) or raises ``TypeError`` (wrong
kind of value) / ``ValueError`` (right kind, wrong value) with a message that starts with the
argument's name and says what was expected, e.g.::

    eps: 8 is larger than the whole pixel range [0, 1] (an L∞ budget is in pixel units); did you mean 8/255?

The model guard :func:`frozen` runs a model in eval mode with frozen parameters and puts back,
on exit by return or by exception, each submodule's own ``training`` flag, each parameter's
``requires_grad`` flag and ``.grad`` (never ``model.train(was_training)``, which would flatten a
model that keeps one BatchNorm in eval mode).
"""

from __future__ import annotations

import functools
import inspect
import math
import numbers
from contextlib import contextmanager
from typing import Callable, Iterator, TypeVar

import torch
from torch import Tensor, nn

__all__ = [
    "INF", "RANGE_TOLERANCE", "check_model", "check_images", "check_clip", "check_nonnegative", "check_positive",
    "check_count", "check_norm", "check_labels", "check_generator", "check_bool", "check_budget",
    "check_model_input", "check_logits", "check_finite", "check_index", "check_sequence", "check_tensor",
    "check_instance", "shared_attack_checks", "frozen",
]

INF = float("inf")

#: Slack allowed on the pixel-range check: float round trips (e.g. normalise then un-normalise)
#: land a few ulps outside [0, 1], and rejecting -3e-8 helps nobody (torchattacks #136).
RANGE_TOLERANCE = 1e-6

_NORM_NAMES = {"inf": INF, "linf": INF, "l_inf": INF, "2": 2.0, "l2": 2.0, "1": 1.0, "l1": 1.0}


# ----------------------------------------------------------------------------- scalars
def _number(value: object, name: str) -> float:
    """A real number as ``float`` (a one-element tensor is accepted); never a bool, never NaN."""
    if isinstance(value, Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a real number, got {type(value).__name__}")
    try:
        value = float(value)
    except OverflowError:  # a huge Fraction or int
        raise ValueError(f"{name}: expected a finite number, got one too large for a float") from None
    if math.isnan(value):
        raise ValueError(f"{name}: expected a number, got nan")
    return value


def check_bool(value: object, name: str) -> bool:
    """``value`` itself when it is a ``bool``; anything else (``'no'``, ``1``, ``None``) is a ``TypeError``.

    Strings are the trap: ``bool('no')`` is ``True``.
    """
    if not isinstance(value, bool):
        raise TypeError(f"{name}: expected True or False, got {type(value).__name__} {value!r}")
    return value


def check_nonnegative(value: object, name: str) -> float:
    """A finite real number >= 0 (budgets such as ``eps``, ``step_size``, ``overshoot``)."""
    v = _number(value, name)
    if v < 0 or math.isinf(v):
        raise ValueError(f"{name}: expected a finite number >= 0, got {v}")
    return v


def check_finite(value: object, name: str) -> float:
    """Any finite real number (a coordinate, a starting point)."""
    v = _number(value, name)
    if math.isinf(v):
        raise ValueError(f"{name}: expected a finite number, got {v}")
    return v


def check_positive(value: object, name: str) -> float:
    """A finite real number > 0 (a ``timeout``, a learning rate)."""
    v = check_nonnegative(value, name)
    if v == 0:
        raise ValueError(f"{name}: expected a number > 0, got 0")
    return v


def check_budget(value: object, name: str, norm: float = INF, clip_min: float = 0.0, clip_max: float = 1.0) -> float:
    """A budget >= 0 in pixel units; for L∞, no larger than the pixel range ``clip_max - clip_min``.

    ``eps=8`` on [0, 1] pixels is the most common slip of all (8 meant 8/255): an L∞ ball wider
    than the pixel range lets the attack set every pixel anywhere, so it "succeeds" with nonsense.
    The error suggests ``value/255``.
    """
    v = check_nonnegative(value, name)
    width = clip_max - clip_min
    if norm == INF and v > width * (1 + RANGE_TOLERANCE):
        raise ValueError(
            f"{name}: {v:g} is larger than the whole pixel range [{clip_min:g}, {clip_max:g}] (an L∞ budget is "
            f"in pixel units); did you mean {v:g}/255 = {v / 255:.4f}?"
        )
    return v


def check_count(value: object, name: str, minimum: int = 0) -> int:
    """An ``int`` >= ``minimum`` (``steps``, ``max_iter``, ``num_classes``)."""
    if isinstance(value, Tensor) and value.numel() == 1 and not value.is_floating_point():
        value = int(value.item())
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name}: expected an int >= {minimum}, got {value}")
    return int(value)


def check_norm(norm: object, allowed: tuple[float, ...]) -> float:
    """Canonical norm as a float (``inf``, ``2.0`` or ``1.0``); accepts ``"inf"``, ``"l2"``, ``2``…"""
    if isinstance(norm, str):
        key = norm.strip().lower()
        if key not in _NORM_NAMES:
            raise ValueError(f"norm: expected one of {_names(allowed)}, got {norm!r}")
        p = _NORM_NAMES[key]
    elif isinstance(norm, numbers.Real) and not isinstance(norm, bool):
        p = float(norm)
    else:
        raise TypeError(f"norm: expected a number such as float('inf') or 2, got {type(norm).__name__}")
    if p not in allowed:
        raise ValueError(f"norm: expected one of {_names(allowed)}, got {norm!r}")
    return p


def _names(allowed: tuple[float, ...]) -> str:
    return ", ".join("float('inf')" if p == INF else str(int(p)) for p in allowed)


def check_index(value: object, name: str, n: int) -> int:
    """An ``int`` in ``[0, n)`` (a photo of a batch, a class)."""
    if isinstance(value, Tensor) and value.numel() == 1 and not value.is_floating_point():
        value = int(value.item())
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 0 <= value < n:
        raise ValueError(f"{name}: expected an index in [0, {n - 1}], got {value!r}")
    return int(value)


def check_sequence(value: object, name: str, example: str) -> list:
    """A list, tuple or other iterable (never a single str or number) as a ``list``."""
    if isinstance(value, (str, bytes, Tensor)) and not (isinstance(value, Tensor) and value.dim() == 1):
        raise TypeError(f"{name}: expected a sequence such as {example}, got {type(value).__name__} {value!r}")
    if not hasattr(value, "__iter__"):
        raise TypeError(f"{name}: expected a sequence such as {example}, got {type(value).__name__}")
    return list(value)


def check_tensor(value: object, name: str, like: Tensor | None = None) -> Tensor:
    """A ``torch.Tensor``; with ``like``, of the same shape."""
    if not isinstance(value, Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(value).__name__}")
    if like is not None and value.shape != like.shape:
        raise ValueError(f"{name}: expected shape {tuple(like.shape)}, got {tuple(value.shape)}")
    return value


def check_instance(value: object, cls: type, name: str, how: str) -> object:
    """``value`` if it is a ``cls``; ``how`` says where such a value comes from."""
    if not isinstance(value, cls):
        raise TypeError(f"{name}: expected a {cls.__name__} ({how}), got {type(value).__name__}")
    return value


def check_generator(generator: object) -> torch.Generator | None:
    """``None`` or a ``torch.Generator``."""
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator: expected a torch.Generator or None, got {type(generator).__name__}")
    return generator


# ----------------------------------------------------------------------------- tensors
def check_clip(clip_min: float, clip_max: float) -> tuple[float, float]:
    """Validate the pixel box; returns ``(clip_min, clip_max)`` as floats."""
    lo, hi = _number(clip_min, "clip_min"), _number(clip_max, "clip_max")
    if not lo < hi:
        raise ValueError(f"clip_min/clip_max: expected clip_min < clip_max, got {lo} and {hi}")
    return lo, hi


def check_images(x: object, clip_min: float = 0.0, clip_max: float = 1.0, name: str = "x",
                 channels: int | None = None) -> Tensor:
    """Check that ``x`` is a float (N, C, H, W) tensor with finite values inside the clip box.

    A slack of :data:`RANGE_TOLERANCE` (relative to the box width) is allowed for float noise.
    ``channels``, when given, is the number of colour channels required (3 for the ImageNet models).
    The usual slips get their own hint: 0-255 bytes (uint8, or floats up to 255), a grey (N, 1, H, W)
    image for an RGB model, a tensor on the ``meta`` device (shapes only, no values).
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        hint = "; for 0-255 bytes use x.float() / 255" if x.dtype == torch.uint8 else ""
        raise TypeError(f"{name}: expected a floating-point tensor (pixels as floats), got {x.dtype}{hint}")
    if x.dim() != 4:
        raise ValueError(f"{name}: expected shape (N, C, H, W), got {x.dim()}-D shape {tuple(x.shape)}")
    if x.shape[0] == 0:
        raise ValueError(f"{name}: expected at least one sample, got an empty batch")
    if channels is not None and x.shape[1] != channels:
        hint = "; repeat a grey image with x.expand(-1, 3, -1, -1)" if x.shape[1] == 1 and channels == 3 else ""
        raise ValueError(f"{name}: expected {channels} colour channels (N, {channels}, H, W), got shape "
                         f"{tuple(x.shape)}{hint}")
    if x.device.type == "meta":
        raise ValueError(f"{name}: is on the 'meta' device (a shape without pixel values); create it on 'cpu' or 'cuda'")
    lo, hi = check_clip(clip_min, clip_max)
    xmin, xmax = (v.item() for v in torch.aminmax(x.detach()))
    if math.isnan(xmin) or math.isnan(xmax) or math.isinf(xmin) or math.isinf(xmax):
        raise ValueError(f"{name}: contains NaN or infinite values")
    tol = RANGE_TOLERANCE * max(1.0, hi - lo if math.isfinite(hi - lo) else 1.0)
    if xmin < lo - tol or xmax > hi + tol:
        hint = ("; these look like 0-255 values: divide by 255" if (lo, hi) == (0.0, 1.0) and xmin >= 0
                and 1 < xmax <= 255 else "; feed un-normalised pixels (the model normalises inside)")
        raise ValueError(
            f"{name}: pixels must lie in [clip_min, clip_max] = [{lo:g}, {hi:g}], got values in "
            f"[{xmin:.4g}, {xmax:.4g}]{hint}"
        )
    return x


def check_labels(y: object, x: Tensor, *, targeted: bool = False, name: str = "y") -> Tensor | None:
    """Check ``y`` against the batch ``x``: int64-like tensor of shape (N,), moved to ``x.device``.

    ``None`` is allowed for untargeted attacks (the model's predictions are used); a targeted attack
    needs its target labels. The upper end of the range is checked once the logits are known
    (:func:`check_logits`).
    """
    check_bool(targeted, "targeted")
    if y is None:
        if targeted:
            raise ValueError(f"{name}: a targeted attack needs the target labels, got None")
        return None
    if not isinstance(y, Tensor):
        raise TypeError(f"{name}: expected a LongTensor of shape (N,), got {type(y).__name__}")
    if y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
        raise TypeError(f"{name}: expected integer class indices (torch.long), got {y.dtype}")
    n = x.shape[0]
    if tuple(y.shape) != (n,):
        raise ValueError(f"{name}: expected shape ({n},) to match x, got {tuple(y.shape)}")
    if y.device.type == "meta":
        raise ValueError(f"{name}: is on the 'meta' device (a shape without values)")
    y = y.detach().to(device=x.device, dtype=torch.long)
    if int(y.min()) < 0:
        raise ValueError(f"{name}: class indices must be >= 0, got {int(y.min())}")
    return y


# ----------------------------------------------------------------------------- every attack's arguments
_FLAGS = ("targeted", "random_start", "early_stop", "return_info", "center")
_BUDGETS = ("eps", "step_size", "sigma")
_LINF_NAMES = ("inf", "linf", "l_inf")

Attack = TypeVar("Attack", bound=Callable)


def shared_attack_checks(attack: Attack) -> Attack:
    """``attack`` with the checks all attacks share run first, each attack keeping its own after.

    * every flag (``targeted``, ``random_start``, ``early_stop``, ``return_info``, ``center``) must
      be a ``bool``: ``bool('no')`` is ``True``;
    * an L∞ budget (``eps``, ``step_size``, ``sigma``) must fit in the pixel box
      (:func:`check_budget`): ``eps=8`` on [0, 1] pixels meant ``8/255``.

    Arguments of the wrong kind for these checks (a str norm that is not a norm, a missing
    argument) are left to the attack's own checks and to Python. The wrapper keeps the attack's
    name, docstring, signature and source (``functools.wraps``), so ``show_source(fgsm)`` shows
    the attack itself.
    """
    signature = inspect.signature(attack)

    @functools.wraps(attack)
    def checked(*args, **kwargs):
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError:  # a missing or unknown argument: Python's own message names it
            return attack(*args, **kwargs)
        bound.apply_defaults()
        given = bound.arguments
        for flag in _FLAGS:
            if flag in given:
                check_bool(given[flag], flag)
        norm = given.get("norm", INF)
        linf = norm == INF if not isinstance(norm, str) else norm.strip().lower() in _LINF_NAMES
        lo, hi = given.get("clip_min", 0.0), given.get("clip_max", 1.0)
        box = all(isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v) for v in (lo, hi))
        for budget in _BUDGETS:
            value = given.get(budget)
            if linf and box and lo < hi and isinstance(value, (numbers.Real, Tensor)) and not isinstance(value, bool):
                check_budget(value, budget, INF, float(lo), float(hi))
        return attack(*args, **kwargs)

    return checked  # type: ignore[return-value]


# ----------------------------------------------------------------------------- model and input
def check_model(model: object) -> nn.Module:
    """Raise ``TypeError`` unless ``model`` is an ``nn.Module``."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    return model


def _first_conv(model: nn.Module) -> nn.Conv2d | None:
    return next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)


def check_model_input(model: nn.Module, x: Tensor, name: str = "x") -> None:
    """``x`` fits ``model``: same device and dtype as its parameters, and as many channels as its
    first convolution takes (when it has one). Each mismatch would otherwise be a raw torch error."""
    p = next(model.parameters(), None)
    if p is not None:
        if p.device != x.device:
            raise ValueError(
                f"{name}: is on {x.device} but the model's parameters are on {p.device}; "
                f"move it with {name}.to({str(p.device)!r})"
            )
        if p.is_floating_point() and p.dtype != x.dtype:
            raise TypeError(f"{name}: is {x.dtype} but the model's parameters are {p.dtype}; "
                            f"convert it with {name}.to({p.dtype})")
    conv = _first_conv(model)
    if conv is not None and x.dim() == 4 and x.shape[1] != conv.in_channels:
        raise ValueError(f"{name}: has {x.shape[1]} channel(s) but the model's first convolution takes "
                         f"{conv.in_channels}; got shape {tuple(x.shape)}")


def check_logits(logits: object, n: int, y: Tensor | None = None) -> Tensor:
    """What a model returned must be finite (N, K) logits; also checks ``y < K`` when labels are given."""
    if not isinstance(logits, Tensor) or logits.dim() != 2 or logits.shape[0] != n:
        got = f"shape {tuple(logits.shape)}" if isinstance(logits, Tensor) else f"a {type(logits).__name__}"
        hint = "; a model returning several outputs needs a wrapper that returns only the logits" \
            if isinstance(logits, (tuple, list, dict)) else ""
        raise ValueError(f"model: expected 2-D logits of shape ({n}, num_classes) as its output, got {got}{hint}")
    if not bool(torch.isfinite(logits.detach()).all()):
        raise ValueError("model: returned NaN or infinite logits")
    if y is not None and y.numel() and int(y.max()) >= logits.shape[1]:
        raise ValueError(f"y: class indices must be < num_classes = {logits.shape[1]}, got {int(y.max())}")
    return logits


# ----------------------------------------------------------------------------- the model guard
@contextmanager
def frozen(model: nn.Module, x: Tensor | None = None) -> Iterator[nn.Module]:
    """Run ``model`` in eval mode with frozen parameters; restore everything after, even on an error.

    Inside the block: every submodule is in eval mode (BatchNorm uses, and never updates, its running
    statistics; dropout is off), every parameter has ``requires_grad=False`` (so backward passes stop
    at the input and no parameter ``.grad`` is ever written) and autograd is enabled even when the
    caller is under ``torch.no_grad()``. On exit, normal or by exception, each submodule's
    ``training`` flag, each parameter's ``requires_grad`` flag and its ``.grad`` are put back
    exactly as found. ``x``, when given, is checked to fit the model (:func:`check_model_input`).
    """
    check_model(model)
    if x is not None:
        check_model_input(model, x)
    modes = [(m, m.training) for m in model.modules()]
    params = [(p, p.requires_grad, p.grad) for p in model.parameters()]
    try:
        model.eval()
        for p, _, _ in params:
            p.requires_grad_(False)
        with torch.enable_grad():
            yield model
    finally:
        for p, flag, grad in params:
            p.requires_grad_(flag)
            p.grad = grad
        for m, mode in modes:
            m.training = mode
