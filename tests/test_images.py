"""load_image: every kind of source, and one clear error for every kind of failure."""

from __future__ import annotations

import base64
import io
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import torch
from PIL import Image

from advcourse.models import images
from advcourse.models.images import ImageLoadError, load_image, sample_info, samples


def _png_bytes(width=64, height=48, color=(200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, format="PNG")
    return buf.getvalue()


def _assert_picture(x: torch.Tensor, size: int = 224) -> None:
    assert x.shape == (1, 3, size, size) and x.dtype == torch.float32
    assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0


# ----------------------------------------------------------------------------- sources
def test_every_shipped_sample_loads():
    names = samples()
    assert len(names) >= 12
    for name in names:
        _assert_picture(load_image(name))
        assert 0 <= sample_info(name)["index"] < 1000


def test_file_path_and_pathlib(tmp_path):
    path = tmp_path / "red.png"
    path.write_bytes(_png_bytes())
    for src in (str(path), path):
        x = load_image(src, size=32)
        _assert_picture(x, 32)
        assert torch.allclose(x[0, :, 16, 16], torch.tensor([200, 30, 30]) / 255, atol=1e-6)


def test_resize_shorter_side_then_centre_crop():
    img = Image.new("RGB", (300, 100))
    img.paste((255, 255, 255), (0, 0, 100, 100))  # white left third
    x = load_image(img, size=50)  # 150x50, the crop keeps the middle third (black)
    _assert_picture(x, 50)
    assert float(x.mean()) < 0.05


def test_size_none_keeps_resolution():
    assert load_image(_png_bytes(64, 48), size=None).shape == (1, 3, 48, 64)


def test_data_uri_and_bytes_and_pil():
    raw = _png_bytes()
    uri = "data:image/png;base64," + base64.b64encode(raw).decode()
    a, b, c = load_image(uri, 32), load_image(raw, 32), load_image(Image.open(io.BytesIO(raw)), 32)
    assert torch.equal(a, b) and torch.equal(b, c)


def test_grayscale_and_rgba_become_rgb():
    for mode in ("L", "RGBA", "P"):
        buf = io.BytesIO()
        Image.new(mode, (20, 20)).save(buf, format="PNG")
        _assert_picture(load_image(buf.getvalue(), 16), 16)


# ----------------------------------------------------------------------------- failures
def test_missing_file_names_the_path(tmp_path):
    missing = tmp_path / "nope.jpg"
    with pytest.raises(ImageLoadError, match="nope.jpg: no such file"):
        load_image(str(missing))


def test_unknown_sample_name_lists_samples():
    with pytest.raises(ImageLoadError, match="no shipped sample"):
        load_image("no_such_sample")


def test_non_image_file(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("these are not pixels")
    with pytest.raises(ImageLoadError, match="notes.jpg: not a readable image"):
        load_image(str(path))


def test_truncated_image(tmp_path):
    path = tmp_path / "cut.png"
    path.write_bytes(_png_bytes(200, 200, (1, 2, 3))[:80])
    with pytest.raises(ImageLoadError, match="cut.png"):
        load_image(str(path))


def test_decompression_bomb_is_refused():
    buf = io.BytesIO()
    Image.new("1", (8000, 8000)).save(buf, format="PNG")  # 64 Mpx, a few KB on disk
    assert len(buf.getvalue()) < 100_000
    with pytest.raises(ImageLoadError, match="over the .* limit"):
        load_image(buf.getvalue())


def test_bad_data_uri():
    with pytest.raises(ImageLoadError, match="base64"):
        load_image("data:image/png;base64,@@@")
    with pytest.raises(ImageLoadError, match="separating"):
        load_image("data:image/png;base64")


@pytest.mark.parametrize("bad", [0, 4, 2.5, "224", True])
def test_bad_size(bad):
    with pytest.raises(ValueError, match="size"):
        load_image(_png_bytes(), size=bad)


def test_bad_source_type():
    with pytest.raises(TypeError, match="src"):
        load_image(123)


# ----------------------------------------------------------------------------- URLs (local server)
class _Handler(BaseHTTPRequestHandler):
    routes: dict = {}

    def do_GET(self):  # noqa: N802
        if self.path == "/hang":
            time.sleep(3)
            return
        status, kind, body = self.routes.get(self.path, (404, "text/plain", b"missing"))
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    _Handler.routes = {
        "/red.png": (200, "image/png", _png_bytes()),
        "/page": (200, "text/html", b"<html><body>an image search result page</body></html>"),
        "/fake.png": (200, "image/png", b"<html>not really a png</html>"),
        "/big.png": (200, "image/png", b"\0" * 5000),
    }
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_url_image(server):
    _assert_picture(load_image(f"{server}/red.png", 32), 32)


def test_url_serving_html(server):
    with pytest.raises(ImageLoadError, match=r"/page: the server sent 'text/html', not an image"):
        load_image(f"{server}/page")


def test_url_bytes_that_are_not_an_image(server):
    with pytest.raises(ImageLoadError, match="fake.png: not a readable image"):
        load_image(f"{server}/fake.png")


def test_url_http_error(server):
    with pytest.raises(ImageLoadError, match="HTTP 404"):
        load_image(f"{server}/missing.png")


def test_url_that_never_answers(server):
    start = time.perf_counter()
    with pytest.raises(ImageLoadError, match="/hang: no answer within 0.5 s"):
        load_image(f"{server}/hang", timeout=0.5)
    assert time.perf_counter() - start < 2.5


def test_url_over_size_cap(server, monkeypatch):
    monkeypatch.setattr(images, "MAX_BYTES", 1000)
    with pytest.raises(ImageLoadError, match="over the 1000-byte limit"):
        load_image(f"{server}/big.png")


def test_url_outside_is_blocked_offline():
    with pytest.raises(ImageLoadError, match="example.com/cat.jpg: could not download"):
        load_image("https://example.com/cat.jpg", timeout=1)
