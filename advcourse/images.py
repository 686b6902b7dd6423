"""Loading pictures as attackable tensors: ``load_image(src) -> (1, 3, size, size)`` in [0, 1].

Taught in 00_welcome. ``src`` may be a sample name (see :func:`samples`), a file path, an
http(s) URL, a ``data:`` URI, a PIL image or raw bytes. Every failure raises one
:class:`ImageLoadError` naming the source and what went wrong.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import urllib.error
import urllib.parse
import urllib.request
import warnings
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import NamedTuple, Sequence, Union

import torch
from PIL import Image, UnidentifiedImageError
from torchvision.transforms.v2 import functional as TF

from advcourse.formatting import rounded_repr

__all__ = ["load_image", "load_samples", "samples", "sample_info", "ImageLoadError", "Sample", "SampleBatch",
           "MAX_PIXELS", "MAX_BYTES"]

#: Images with more pixels than this are refused before decoding (decompression bombs).
MAX_PIXELS = 40_000_000
#: Downloads larger than this are cut off and refused.
MAX_BYTES = 20 * 1024 * 1024
#: Seconds to wait for a URL to answer.
URL_TIMEOUT = 10.0

ImageSource = Union[str, Path, bytes, Image.Image]


class ImageLoadError(ValueError):
    """An image source could not be turned into a picture; the message names the source."""


# ----------------------------------------------------------------------------- shipped samples
class Sample(dict):
    """One shipped photo: keys name, file, label, index, also_ok, licence, credit, ..."""

    @property
    def path(self) -> Path:
        return _data_dir() / self["file"]

    @property
    def labels(self) -> set[int]:
        """Every ImageNet index counted as correct for this photo."""
        return {self["index"], *self.get("also_ok", [])}


def _data_dir() -> Path:
    return Path(str(resources.files("advcourse") / "data"))


@lru_cache(maxsize=1)
def _manifest() -> dict[str, Sample]:
    with open(_data_dir() / "samples.json", encoding="utf-8") as f:
        return {s["name"]: Sample(s) for s in json.load(f)}


def samples() -> list[str]:
    """Names of the photos shipped with the course, usable as ``load_image(name)``."""
    return list(_manifest())


def sample_info(name: str) -> Sample:
    """Provenance and ImageNet label of a shipped photo (see ``advcourse/data/README.md``)."""
    try:
        return _manifest()[name]
    except KeyError:
        raise ValueError(f"name: no shipped sample called {name!r}; choose from {', '.join(samples())}") from None


# ----------------------------------------------------------------------------- reading bytes
def _fetch_url(url: str, timeout: float) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": "advcourse"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            kind = response.headers.get_content_type()
            if not kind.startswith("image/") and kind != "application/octet-stream":
                raise ImageLoadError(f"{url}: the server sent {kind!r}, not an image (is it a web page?)")
            length = response.headers.get("Content-Length")
            if length is not None and length.isdigit() and int(length) > MAX_BYTES:
                raise ImageLoadError(f"{url}: {int(length)} bytes is over the {MAX_BYTES}-byte limit")
            data = response.read(MAX_BYTES + 1)
    except ImageLoadError:
        raise
    except urllib.error.HTTPError as exc:
        raise ImageLoadError(f"{url}: the server answered HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, TimeoutError) or "timed out" in str(reason):
            raise ImageLoadError(f"{url}: no answer within {timeout:g} s") from None
        raise ImageLoadError(f"{url}: could not download ({reason})") from None
    if len(data) > MAX_BYTES:
        raise ImageLoadError(f"{url}: more than {MAX_BYTES} bytes, refused")
    return data


def _decode_data_uri(uri: str) -> bytes:
    header, sep, payload = uri.partition(",")
    if not sep:
        raise ImageLoadError("data: URI without a ',' separating header and payload")
    if not header.endswith(";base64"):
        return urllib.parse.unquote_to_bytes(payload)
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ImageLoadError("data: URI payload is not valid base64") from None


def _read_source(src: str | Path | bytes, timeout: float) -> tuple[bytes, str]:
    """The raw bytes of ``src`` and a short name for it, for error messages."""
    if isinstance(src, bytes):
        return src, "<bytes>"
    if isinstance(src, Path) or not isinstance(src, str):
        path = Path(src)
    else:
        text = src.strip()
        if text.startswith(("http://", "https://")):
            return _fetch_url(text, timeout), text
        if text.startswith("data:"):
            return _decode_data_uri(text), text[:40] + ("..." if len(text) > 40 else "")
        if text in _manifest():
            path = _manifest()[text].path
        else:
            path = Path(text).expanduser()
    if not path.is_file():
        hint = "" if path.suffix else f" (and no shipped sample of that name: {', '.join(samples()[:6])}, ...)"
        raise ImageLoadError(f"{src}: no such file{hint}")
    return path.read_bytes(), str(src)


def _open_image(data: bytes, name: str) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            if img.width * img.height > MAX_PIXELS:
                raise ImageLoadError(f"{name}: {img.width}x{img.height} pixels is over the {MAX_PIXELS} limit")
            img.load()
    except ImageLoadError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageLoadError(f"{name}: not a readable image ({type(exc).__name__})") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageLoadError(f"{name}: the image data is damaged ({exc})") from None
    return img


# ----------------------------------------------------------------------------- public API
def to_tensor(img: Image.Image, size: int | None = 224) -> torch.Tensor:
    """PIL image -> (1, 3, size, size) float in [0, 1]: resize shorter side, then centre crop.

    ``size=None`` keeps the original resolution (shape (1, 3, H, W)).
    """
    x = TF.pil_to_tensor(img.convert("RGB")).float().div_(255)
    if size is not None:
        x = TF.center_crop(TF.resize(x, size, antialias=True), [size, size])
    return x.clamp_(0, 1).unsqueeze(0)


def load_image(src: ImageSource, size: int | None = 224, *, timeout: float = URL_TIMEOUT) -> torch.Tensor:
    """Load a picture as a float tensor of shape (1, 3, size, size) with values in [0, 1].

    Args:
        src: a shipped sample name (``samples()``), a file path, an ``http(s)://`` URL, a
            ``data:image/...;base64,...`` URI, raw image bytes or a PIL image.
        size: output side in pixels (shorter side resized to it, then a centre crop), or None
            to keep the original size.
        timeout: seconds to wait for a URL.

    Raises:
        ImageLoadError (a ValueError): missing file, not an image, download failure, HTML page,
            over-size download or decompression bomb; the message names ``src``.
    """
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 8):
        raise ValueError(f"size: expected an integer >= 8 or None, got {size!r}")
    if isinstance(src, Image.Image):
        return to_tensor(src, size)
    if not isinstance(src, (str, Path, bytes)):
        raise TypeError(f"src: expected a path, URL, data: URI, sample name, bytes or PIL image, got {type(src).__name__}")
    data, name = _read_source(src, timeout)
    return to_tensor(_open_image(data, name), size)


class SampleBatch(NamedTuple):
    """Shipped photos as one batch: ``x`` (N, 3, size, size) in [0, 1], ``y`` (N,) int64 ImageNet
    labels, their ``names``, and ``accepted``: the set of indices counted right for each photo."""

    __repr__ = rounded_repr  # floats rounded: the same on every CPU

    x: torch.Tensor
    y: torch.Tensor
    names: list[str]
    accepted: list[set[int]]

    def correct(self, predicted: Sequence[int] | torch.Tensor) -> list[bool]:
        """Per photo: is the predicted index one of its accepted labels?"""
        return [int(p) in ok for p, ok in zip(predicted, self.accepted)]


def load_samples(names: Sequence[str] | None = None, size: int = 224) -> SampleBatch:
    """Load shipped photos (all by default) as one :class:`SampleBatch`."""
    names = list(samples() if names is None else names)
    infos = [sample_info(n) for n in names]
    x = torch.cat([load_image(n, size) for n in names])
    y = torch.tensor([i["index"] for i in infos], dtype=torch.long)
    return SampleBatch(x, y, names, [i.labels for i in infos])
