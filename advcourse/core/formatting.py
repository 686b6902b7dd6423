"""How the package's result objects print: rounded, so the same everywhere.

PyTorch's float32 results differ in their last digits between CPUs, thread counts and GPUs, so a
raw ``repr`` (``prob=0.4393742084503174``) changes from one learner's machine to the next and
buries the number that matters. Every result object of the package (predictions, attack details,
curves, histories, sweeps) uses :func:`rounded_repr`: its fields with floats at 3 significant
digits, short sequences written out, tensors and arrays summarised by shape and dtype.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import numbers
from typing import Any

import numpy as np
import torch

__all__ = ["rounded", "rounded_repr"]

#: Sequences up to this length are written out; longer ones show their first values and length.
SHOWN = 6


def _number(x: float) -> str:
    if math.isnan(x) or math.isinf(x):
        return str(x)
    return f"{x:.3g}"


def _sequence(values: list, open_: str, close: str) -> str:
    shown = ", ".join(rounded(v) for v in values[:SHOWN])
    more = f", … ({len(values)} items)" if len(values) > SHOWN else ""
    return f"{open_}{shown}{more}{close}"


def rounded(value: Any) -> str:
    """A short, rounded text for one value (floats to 3 significant digits, arrays by shape)."""
    if value is None or isinstance(value, (bool, str)):
        return repr(value)
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return _number(float(value))
    if isinstance(value, (torch.Tensor, np.ndarray)):
        kind = "tensor" if isinstance(value, torch.Tensor) else "array"
        if value.ndim == 0:
            return rounded(value.item())
        if value.ndim == 1 and value.shape[0] <= SHOWN:
            return f"{kind}({_sequence(value.tolist(), '[', ']')})"
        dtype = str(value.dtype).replace("torch.", "")
        return f"{kind}(shape={tuple(value.shape)}, {dtype})"
    if isinstance(value, (list, tuple)):
        return _sequence(list(value), *("[]" if isinstance(value, list) else "()"))
    if isinstance(value, (set, frozenset)):
        return _sequence(sorted(value, key=repr), "{", "}") if value else "set()"
    if inspect.isroutine(value):
        return f"<function {value.__qualname__}>"  # no memory address
    if isinstance(value, dict):
        items = list(value.items())
        shown = ", ".join(f"{k!r}: {rounded(v)}" for k, v in items[:SHOWN])
        return "{" + shown + (f", … ({len(items)} items)" if len(items) > SHOWN else "") + "}"
    return repr(value)


def rounded_repr(self: Any) -> str:
    """``Name(field=value, ...)`` for a dataclass or named tuple, every value :func:`rounded`.

    Use as ``__repr__ = rounded_repr`` in the class body (a dataclass then keeps it).
    """
    if dataclasses.is_dataclass(self):
        names = [f.name for f in dataclasses.fields(self) if f.repr]
    else:
        names = list(self._fields)
    body = ", ".join(f"{name}={rounded(getattr(self, name))}" for name in names)
    return f"{type(self).__name__}({body})"
