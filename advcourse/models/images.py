"""Loading pictures as attackable tensors: ``load_image(src) -> (1, 3, size, size)`` in [0, 1].

Taught in 00_welcome. ``src`` may be a sample name (see :func:`samples`), a file path, an
http(s) URL, a ``data:`` URI, a PIL image or raw bytes. Every failure raises one
:class:`ImageLoadError` naming the source and what went wrong.

What a picture becomes, whatever its file format:

* the EXIF orientation is applied (a phone photo taken upright is upright);
* transparency (RGBA, LA, palette with a transparent colour) is composited on a **white**
  background, the way a browser shows it, so hidden colour under transparent pixels never leaks in;
* 16-bit images keep their full range (65535 is white), palette, grey, CMYK and other modes are
  converted to RGB;
* sizes are checked from the header *before* decoding: at most :data:`MAX_PIXELS` pixels, at most
  :data:`MAX_SIDE` pixels on a side, and (when resizing) at most :data:`MAX_ASPECT` times longer
  than wide, so a hostile or odd file cannot exhaust memory;
* a URL must deliver the whole picture within ``timeout`` seconds (one deadline for the download,
  not one per read, so a server that drips bytes cannot stall a notebook).
"""

from __future__ import annotations

import base64
import binascii
import io
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import warnings
from pathlib import Path
from typing import NamedTuple, Sequence, Union

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from torchvision.transforms.v2 import functional as TF

from advcourse.models.catalog import Sample, _manifest, _unknown, sample_info, samples
from advcourse.core.checks import check_positive
from advcourse.core.formatting import rounded_repr

__all__ = ["load_image", "load_samples", "samples", "sample_info", "ImageLoadError", "Sample", "SampleBatch",
           "MAX_PIXELS", "MAX_BYTES", "MAX_SIDE", "MAX_ASPECT"]

#: Images with more pixels than this are refused before decoding (decompression bombs).
MAX_PIXELS = 40_000_000
#: Images longer than this on either side are refused before decoding.
MAX_SIDE = 20_000
#: When resizing, images more than this many times longer than wide are refused (the shorter side
#: is scaled to ``size``, so a 1 x 100000 strip would become 224 x 22 400 000 pixels).
MAX_ASPECT = 20
#: Downloads (and files) larger than this are cut off and refused.
MAX_BYTES = 20 * 1024 * 1024
#: Seconds a URL has to deliver the whole picture.
URL_TIMEOUT = 10.0

ImageSource = Union[str, Path, bytes, Image.Image]


class ImageLoadError(ValueError):
    """An image source could not be turned into a picture; the message names the source."""


# ----------------------------------------------------------------------------- reading bytes
def _download(url: str, timeout: float, deadline: float) -> bytes:
    """The body of ``url``; raises :class:`ImageLoadError`. Stops reading at ``deadline``."""
    request = urllib.request.Request(url, headers={"User-Agent": "advcourse"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            kind = response.headers.get_content_type()
            if not kind.startswith("image/") and kind != "application/octet-stream":
                raise ImageLoadError(f"{url}: the server sent {kind!r}, not an image (is it a web page?)")
            length = response.headers.get("Content-Length")
            if length is not None and length.isdigit() and int(length) > MAX_BYTES:
                raise ImageLoadError(f"{url}: {int(length)} bytes is over the {MAX_BYTES}-byte limit")
            chunks, size = [], 0
            while size <= MAX_BYTES:
                if time.monotonic() > deadline:
                    raise TimeoutError
                chunk = response.read1(65536)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
            data = b"".join(chunks)
    except ImageLoadError:
        raise
    except urllib.error.HTTPError as exc:
        raise ImageLoadError(f"{url}: the server answered HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(exc, TimeoutError) or isinstance(reason, TimeoutError) or "timed out" in str(reason):
            raise ImageLoadError(f"{url}: no answer within {timeout:g} s") from None
        raise ImageLoadError(f"{url}: could not download ({reason})") from None
    if len(data) > MAX_BYTES:
        raise ImageLoadError(f"{url}: more than {MAX_BYTES} bytes, refused")
    return data


def _fetch_url(url: str, timeout: float) -> bytes:
    """Download ``url`` with one overall deadline of ``timeout`` seconds (connection, headers, body).

    The download runs in a daemon thread so that even a server that drips its headers one byte at a
    time cannot keep the caller waiting past the deadline.
    """
    deadline = time.monotonic() + timeout
    result: dict[str, object] = {}

    def work() -> None:
        try:
            result["data"] = _download(url, timeout, deadline)
        except BaseException as exc:  # handed to the caller's thread
            result["error"] = exc

    worker = threading.Thread(target=work, name="advcourse-download", daemon=True)
    worker.start()
    worker.join(timeout + 0.25)
    if worker.is_alive() or "data" not in result and "error" not in result:
        raise ImageLoadError(f"{url}: no answer within {timeout:g} s")
    if "error" in result:
        raise result["error"]  # type: ignore[misc]
    return result["data"]  # type: ignore[return-value]


def _decode_data_uri(uri: str) -> bytes:
    header, sep, payload = uri.partition(",")
    if not sep:
        raise ImageLoadError("data: URI without a ',' separating header and payload")
    if not header.strip().lower().endswith(";base64"):
        return urllib.parse.unquote_to_bytes(payload)
    try:  # line breaks and spaces are common in pasted or e-mailed base64: drop them
        return base64.b64decode("".join(payload.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ImageLoadError("data: URI payload is not valid base64") from None


_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]+):")


def _read_source(src: str | Path | bytes, timeout: float) -> tuple[bytes, str]:
    """The raw bytes of ``src`` and a short name for it, for error messages."""
    if isinstance(src, bytes):
        return src, "<bytes>"
    if isinstance(src, Path):
        path = src
    else:
        text = src.strip()
        if not text:
            raise ImageLoadError("src: an empty string is not a picture; give a path, URL or sample name")
        scheme = _SCHEME.match(text)
        kind = scheme.group(1).lower() if scheme else ""
        if kind in ("http", "https"):
            url = kind + text[len(kind):]
            return _fetch_url(url, timeout), url
        if kind == "data":
            return _decode_data_uri(text), text[:40] + ("..." if len(text) > 40 else "")
        if scheme and text[scheme.end():].startswith("//"):
            hint = (f"; for a file on this machine pass its path ({urllib.parse.unquote(text[7:])!r})"
                    if kind == "file" else "")
            raise ImageLoadError(f"{text}: unsupported URL scheme {kind!r}; give an http(s) URL, a data: URI, "
                                 f"a file path or a sample name{hint}")
        if text in _manifest():
            path = _manifest()[text].path
        else:
            path = Path(text).expanduser()
    if path.is_dir():
        raise ImageLoadError(f"{src}: is a folder, not an image file")
    if not path.is_file():
        hint = "" if path.suffix else f" (and {_unknown(str(src))})"
        raise ImageLoadError(f"{src}: no such file{hint}")
    if path.stat().st_size > MAX_BYTES:
        raise ImageLoadError(f"{src}: {path.stat().st_size} bytes is over the {MAX_BYTES}-byte limit")
    return path.read_bytes(), str(src)


def _check_dimensions(img: Image.Image, name: str, resizing: bool) -> None:
    """Refuse, from the header alone, pictures too large to decode or to resize."""
    w, h = img.size
    if w * h > MAX_PIXELS:
        raise ImageLoadError(f"{name}: {w}x{h} pixels is over the {MAX_PIXELS} limit")
    if max(w, h) > MAX_SIDE:
        raise ImageLoadError(f"{name}: {w}x{h} pixels; a side of more than {MAX_SIDE} pixels is over the limit")
    if resizing and max(w, h) > MAX_ASPECT * min(w, h):
        raise ImageLoadError(f"{name}: {w}x{h} pixels is more than {MAX_ASPECT} times longer than wide; "
                             "crop it to the part to classify")


def _open_image(data: bytes, name: str, resizing: bool = True) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            _check_dimensions(img, name, resizing)
            img.load()
    except ImageLoadError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageLoadError(f"{name}: not a readable image ({type(exc).__name__})") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageLoadError(f"{name}: the image data is damaged ({exc})") from None
    return img


# ----------------------------------------------------------------------------- pixels
_SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N", "I")
_ALPHA = ("RGBA", "RGBa", "LA", "La", "PA")


def to_rgb(img: Image.Image, name: str = "<image>") -> np.ndarray:
    """A PIL image as an (H, W, 3) float32 array in [0, 1], upright and opaque.

    EXIF orientation applied; transparency composited on white; 16-bit grey scaled by 65535.
    """
    try:
        img = ImageOps.exif_transpose(img)
    except Exception:  # a damaged EXIF block: keep the pixels as stored  # noqa: BLE001
        pass
    if img.mode in _SIXTEEN_BIT:  # 16-bit grey (PNG): 0-65535
        grey = np.asarray(img, dtype=np.float32) / 65535.0
        return np.repeat(np.clip(grey, 0.0, 1.0)[..., None], 3, axis=2)
    if img.mode == "F":
        raise ImageLoadError(f"{name}: 32-bit float images have no agreed pixel range; save it as 8- or 16-bit")
    if img.mode in _ALPHA or (img.mode in ("P", "L", "RGB", "1") and "transparency" in img.info):
        rgba = img.convert("RGBA")
        img = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    try:
        rgb = img.convert("RGB")
    except (ValueError, OSError) as exc:
        raise ImageLoadError(f"{name}: colour mode {img.mode!r} cannot be converted to RGB ({exc})") from None
    return np.asarray(rgb, dtype=np.float32) / 255.0


def to_tensor(img: Image.Image, size: int | None = 224, name: str = "<image>") -> torch.Tensor:
    """PIL image -> (1, 3, size, size) float in [0, 1]: resize shorter side, then centre crop.

    ``size=None`` keeps the original resolution (shape (1, 3, H, W)). Pixels as :func:`to_rgb`.
    """
    x = torch.from_numpy(to_rgb(img, name)).permute(2, 0, 1).contiguous()
    if size is not None:
        x = TF.center_crop(TF.resize(x, size, antialias=True), [size, size])
    return x.clamp_(0, 1).unsqueeze(0)


# ----------------------------------------------------------------------------- public API
def load_image(src: ImageSource, size: int | None = 224, *, timeout: float = URL_TIMEOUT) -> torch.Tensor:
    """Load a picture as a float tensor of shape (1, 3, size, size) with values in [0, 1].

    Args:
        src: a shipped sample name (``samples()``), a file path, an ``http(s)://`` URL, a
            ``data:image/...;base64,...`` URI (line breaks allowed), raw image bytes or a PIL image.
        size: output side in pixels (shorter side resized to it, then a centre crop), or None
            to keep the original size.
        timeout: seconds a URL has to deliver the whole picture (> 0).

    Returns:
        (1, 3, size, size) float32 in [0, 1]: EXIF orientation applied, transparency composited
        on white, 16-bit images at full range (see the module notes).

    Raises:
        ImageLoadError (a ValueError): missing file, not an image, download failure or deadline,
            HTML page, unsupported URL scheme, over-size download or decompression bomb; the message
            names ``src``. ``TypeError`` / ``ValueError`` naming ``size`` or ``timeout``.
    """
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 8):
        raise ValueError(f"size: expected an integer >= 8 or None, got {size!r}")
    if size is not None and size > MAX_SIDE:
        raise ValueError(f"size: expected at most {MAX_SIDE}, got {size}")
    timeout = check_positive(timeout, "timeout")
    if isinstance(src, Image.Image):
        _check_dimensions(src, "<PIL image>", size is not None)
        return to_tensor(src, size, "<PIL image>")
    if not isinstance(src, (str, Path, bytes)):
        raise TypeError(f"src: expected a path, URL, data: URI, sample name, bytes or PIL image, got {type(src).__name__}")
    data, name = _read_source(src, timeout)
    return to_tensor(_open_image(data, name, size is not None), size, name)


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
    """Load shipped photos (all by default) as one :class:`SampleBatch`.

    Args:
        names: a list of sample names, e.g. ``["chelsea_cat", "peacock"]`` (None: all of them).
        size: side of each square picture.
    """
    if isinstance(names, (str, bytes)):
        raise TypeError(f"names: expected a list of sample names such as [{names!r}], got the single str {names!r}")
    if names is not None and not hasattr(names, "__iter__"):
        raise TypeError(f"names: expected a list of sample names, got {type(names).__name__}")
    names = list(samples() if names is None else names)
    if not names:
        raise ValueError("names: expected at least one sample name, got an empty list")
    infos = [sample_info(n) for n in names]
    x = torch.cat([load_image(n, size) for n in names])
    y = torch.tensor([i["index"] for i in infos], dtype=torch.long)
    return SampleBatch(x, y, names, [i.labels for i in infos])
