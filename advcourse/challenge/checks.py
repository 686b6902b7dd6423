"""What a submission must be, checked against the server's own copy of the clean inputs.

Nothing the client says is trusted: the body is parsed as ``.npy`` without pickle, and every check
names what failed and by how much, so a learner can fix it.
"""

from __future__ import annotations

import io
import math

import numpy as np
from numpy.lib import format as npy_format

__all__ = ["MAX_BYTES", "MAX_QUERIES", "Rejected", "parse_submission", "parse_queries"]

#: Uploads larger than this are refused before parsing (a 449-digit float32 task is 115 kB).
MAX_BYTES = 2_000_000
#: The most images one query request may hold.
MAX_QUERIES = 100
#: Slack on the budget for float32 rounding of x + δ.
TOLERANCE = 1e-5


class Rejected(ValueError):
    """A submission that fails a check; ``str()`` says which and by how much."""


def _load(body: bytes) -> np.ndarray:
    """The one array of an ``.npy`` body. The header is read first and must promise exactly the bytes that
    follow, so a header claiming a huge shape is refused before any memory is set aside for it."""
    if len(body) > MAX_BYTES:
        raise Rejected(f"upload: {len(body)} bytes, more than the {MAX_BYTES} allowed")
    if not body.startswith(b"\x93NUMPY"):
        kind = ("a zip archive (np.savez or torch.save)" if body.startswith(b"PK")
                else f"{len(body)} bytes of something else")
        raise Rejected(f"upload: not an .npy file, got {kind}; save one array with np.save")
    stream = io.BytesIO(body)
    try:
        version = npy_format.read_magic(stream)
        read_header = {(1, 0): npy_format.read_array_header_1_0, (2, 0): npy_format.read_array_header_2_0}.get(version)
        if read_header is None:  # 3.0 only differs for arrays with named fields (never float32 pixels)
            raise ValueError(f"format {version[0]}.{version[1]}; np.save writes 1.0 for a plain float32 array")
        shape, fortran, dtype = read_header(stream)
    except Exception as err:  # numpy raises several kinds on a foreign or broken header
        raise Rejected(f"upload: not a readable .npy header ({str(err)[:120] or type(err).__name__})") from None
    if dtype.hasobject:
        raise Rejected("upload: pickled objects are refused; send a plain float32 array (np.save)")
    data = body[stream.tell():]
    promised = math.prod(shape) * dtype.itemsize
    if promised != len(data):
        raise Rejected(f"upload: the header promises {promised} bytes of {shape} {dtype}, the file holds {len(data)}")
    return np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C").copy(order="C")


def _pixels(x: np.ndarray) -> None:
    if x.dtype != np.float32:
        raise Rejected(f"dtype: expected float32, got {x.dtype}")
    if not np.isfinite(x).all():
        bad = int((~np.isfinite(x)).sum())
        raise Rejected(f"values: {bad} {'entry is' if bad == 1 else 'entries are'} NaN or infinite")
    low, high = float(x.min()), float(x.max())
    if low < 0 or high > 1:
        raise Rejected(f"range: pixels must lie in [0, 1], got min {low:.4g} and max {high:.4g}")


def parse_submission(body: bytes, clean: np.ndarray, *, norm: str, eps: float) -> np.ndarray:
    """``body`` (an ``.npy`` file) as a float32 array, checked: the shape of ``clean``, float32, finite,
    in [0, 1], and within ``eps`` of ``clean`` in ``norm`` ("linf" or "l2", per input)."""
    x = _load(body)
    if x.shape != clean.shape:
        raise Rejected(f"shape: expected {clean.shape}, got {x.shape}")
    _pixels(x)
    delta = (x - clean).reshape(len(x), -1).astype(np.float64)
    size = np.abs(delta).max(1) if norm == "linf" else np.sqrt((delta ** 2).sum(1))
    worst = int(size.argmax())
    if size[worst] > eps + TOLERANCE:
        over = int((size > eps + TOLERANCE).sum())
        exceed = "input exceeds" if over == 1 else "inputs exceed"
        raise Rejected(f"budget: {over} {exceed} the {norm} budget {eps:g}; the largest, input {worst}, by "
                       f"{size[worst] - eps:.4g} ({size[worst]:.4g})")
    return x


def parse_queries(body: bytes, image_shape: tuple[int, ...], *, most: int = MAX_QUERIES) -> np.ndarray:
    """``body`` (an ``.npy`` file) as a float32 batch of 1 to ``most`` images of ``image_shape`` in [0, 1]."""
    x = _load(body)
    if x.ndim != len(image_shape) + 1 or x.shape[1:] != tuple(image_shape) or not 1 <= len(x) <= most:
        raise Rejected(f"shape: expected (k, {', '.join(map(str, image_shape))}) with 1 <= k <= {most}, got {x.shape}")
    _pixels(x)
    return x
