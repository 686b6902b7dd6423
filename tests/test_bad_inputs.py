"""Odd and bad inputs, as a new learner types them, against every public entry point.

Each row of the tables below is one case and says what the user should get:

* ``err(id, call, Error, "name")``: one clear error from advcourse: an exception of that class,
  raised by advcourse's own code (not a raw torch/PIL/Python error from deep inside), whose
  message names the argument (``name``: the argument, or the source for image errors);
* ``ok(id, call, check)``: a correct result: ``check(result)`` must hold (so a confident wrong
  answer fails the case);
* ``cli(id, argv, ...)``: the command line: status 2 and one line ``advcourse: error: ...`` naming
  the option, or status 0 with the expected output; never a traceback.

Every case runs under a deadline (a hang fails it), and every model the case touches is checked
to come back exactly as it was: each submodule's ``training`` flag, each parameter's value,
``requires_grad`` and ``.grad``, each buffer. The default model is a tiny CNN in train mode with
one BatchNorm its owner froze in eval mode, one frozen parameter and one stale ``.grad``: the model
that ``model.train(was_training)`` would break.

The last test prints the tally (``tally()``): cases, clear errors, correct results, and the four
failure kinds, which must all be 0.
"""

from __future__ import annotations

import base64
import io
import signal
import tempfile
import threading
import time
import traceback
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

import advcourse
from advcourse import ImageLoadError, cli
from advcourse.foundations import explain
from advcourse.evaluation import evaluate as ev
from advcourse.attacks import deepfool, fgsm, gaussian_noise, get_attack, noise, pgd, semantic
from advcourse.attacks._toy import tiny_cnn
from advcourse.attacks.semantic import blend
from advcourse.models.images import MAX_SIDE, load_image, load_samples, sample_info
from advcourse.models.zoo import load_model

PACKAGE = Path(advcourse.__file__).parent
DEADLINE_S = 30  # a case running longer than this is a hang


# ----------------------------------------------------------------------------- models and data
def tricky_model(seed: int = 0) -> nn.Module:
    """Train mode, one BatchNorm in eval, one frozen parameter, one stale .grad (3×8×8 in, 10 classes)."""
    net = tiny_cnn(seed=seed).train()
    net[1].eval()
    net[0].bias.requires_grad_(False)
    net[4].weight.grad = torch.full_like(net[4].weight, 0.5)
    return net


TINY = tricky_model()
FIXTURE_MODEL = tiny_cnn(seed=0)  # builds the sweeps the widget and exercise cases read (never TINY:
# a run at collection time would change TINY before its first snapshot and hide the change)
TINY64 = tiny_cnn(seed=1, dtype=torch.float64)
LINEAR = nn.Sequential(nn.Flatten(), nn.Linear(64, 2))  # takes (N, 1, 8, 8) only
G = torch.Generator().manual_seed(0)
X = torch.rand(4, 3, 8, 8, generator=G)
Y = torch.tensor([0, 1, 2, 3])
X1 = X[:1]


class Wrapper(nn.Module):
    """What a learner writes around a model (a fresh nn.Module starts in train mode)."""

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return self.inner(x)


class TupleModel(nn.Module):
    """Returns (logits, features), as many research models do."""

    def __init__(self):
        super().__init__()
        self.net = tiny_cnn(seed=2)

    def forward(self, x):
        return self.net(x), x.mean()


class NaNModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3 * 8 * 8, 10)

    def forward(self, x):
        return self.lin(x.flatten(1)) * float("nan")


TUPLE = TupleModel()
NAN = NaNModel()


_EMBEDDED: list[nn.Module] = []


def embedded() -> nn.Module:
    """The embedded model, fetched once: later cases hold the reference, as a learner's ``model`` does
    (asking ``load_model`` again would hand it back in eval mode and hide a change)."""
    if not _EMBEDDED:
        _EMBEDDED.append(load_model(device="cpu"))
    return _EMBEDDED[0]


def cat() -> torch.Tensor:
    return load_image("chelsea_cat")


# ----------------------------------------------------------------------------- images in memory
def png(mode: str, size=(32, 32), color: Any = 0, **save) -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, color).save(buf, format="PNG", **save)
    return buf.getvalue()


def png16(value: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((16, 16), value, dtype=np.uint16)).save(buf, format="PNG")
    return buf.getvalue()


def rgba_hidden() -> bytes:
    """Fully transparent pixels whose hidden RGB is pure red."""
    return png("RGBA", color=(255, 0, 0, 0))


def palette_transparent() -> bytes:
    img = Image.new("P", (16, 16), 1)
    img.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    buf = io.BytesIO()
    img.save(buf, format="PNG", transparency=1)
    return buf.getvalue()


def exif_rotated() -> bytes:
    """A 40×20 JPEG (left half black, right half white) tagged 'rotate 90° clockwise' (orientation 6)."""
    arr = np.zeros((20, 40, 3), dtype=np.uint8)
    arr[:, 20:] = 255
    img = Image.fromarray(arr)
    exif = Image.Exif()
    exif[274] = 6
    buf = io.BytesIO()
    img.save(buf, format="JPEG", exif=exif.tobytes(), quality=95)
    return buf.getvalue()


def cmyk_jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("CMYK", (16, 16), (0, 255, 255, 0)).save(buf, format="JPEG")  # red in CMYK
    return buf.getvalue()


def data_uri(data: bytes, wrap: int | None = None, mime: str = "image/png") -> str:
    text = base64.b64encode(data).decode()
    if wrap:
        text = "\n".join(text[i:i + wrap] for i in range(0, len(text), wrap))
    return f"data:{mime};base64,{text}"


# ----------------------------------------------------------------------------- local servers
class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        body = png("RGB", color=(0, 0, 255))
        if self.path == "/drip-body":  # headers at once, then one byte every 2 s
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            for byte in body:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(2)
            return
        if self.path == "/drip-headers":  # even the status line arrives one byte every 2 s
            for byte in b"HTTP/1.0 200 OK\r\nContent-Type: image/png\r\n\r\n":
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(2)
            return
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):  # a client that gave up (the deadline): expected
        pass


_SERVER: list[str] = []


def server() -> str:
    """Base URL of a loopback HTTP server (started once)."""
    if not _SERVER:
        httpd = _QuietServer(("127.0.0.1", 0), _Handler)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        _SERVER.append(f"127.0.0.1:{httpd.server_address[1]}")
    return _SERVER[0]


def timed(call: Callable[[], Any], limit: float) -> Callable[[], Any]:
    """``call`` that must also finish (raise or return) within ``limit`` seconds."""
    def run():
        start = time.monotonic()
        try:
            return call()
        finally:
            assert time.monotonic() - start < limit, f"took more than {limit} s"
    return run


# ----------------------------------------------------------------------------- the case table
@dataclass
class Case:
    id: str
    call: Callable[[], Any] | None  # None: a command-line case
    error: type[BaseException] | None = None  # expected error class, or None for a result
    names: str = ""  # what the message must name
    check: Callable[[Any], bool] | None = None  # for a result
    models: Callable[[], list[nn.Module]] = lambda: [TINY]
    argv: list[str] | None = None
    out: str = ""  # CLI: expected in stdout


def err(id: str, call, error, names: str, models=None) -> Case:
    return Case(id, call, error, names, models=models or (lambda: [TINY]))


def ok(id: str, call, check=lambda r: True, models=None) -> Case:
    return Case(id, call, None, "", check, models=models or (lambda: [TINY]))


def cli_err(id: str, argv: list[str], names: str) -> Case:
    return Case(id, None, SystemExit, names, argv=argv, models=lambda: [])


def cli_ok(id: str, argv: list[str], out: str, models=None) -> Case:
    return Case(id, None, None, "", argv=argv, out=out, models=models or (lambda: []))


T, V, IL = TypeError, ValueError, ImageLoadError


def reference_accuracy(model: nn.Module, x, y) -> float:
    """Accuracy computed by hand on an eval-mode copy (the model itself is never touched)."""
    import copy

    with torch.no_grad():
        return float((copy.deepcopy(model).eval()(x).argmax(1) == y).float().mean())


def close(a, b, tol=1e-6) -> bool:
    return bool(torch.allclose(a, b, atol=tol))


# --- shared argument sweeps: every attack, every bad value of every argument ---------------------
BAD_IMAGES = [  # (id, x, error)
    ("list", [[0.5]], T), ("numpy", np.zeros((1, 3, 8, 8), np.float32), T), ("uint8", (X * 255).to(torch.uint8), T),
    ("x255", X * 255, V), ("nan", X.clone().index_fill_(0, torch.tensor([0]), float("nan")), V),
    ("inf", X.clone().index_fill_(0, torch.tensor([1]), float("inf")), V), ("3d", X[0], V),
    ("empty", X[:0], V), ("negative", X - 0.5, V), ("meta", torch.empty(4, 3, 8, 8, device="meta"), V),
    ("float64", X.double(), T), ("1ch", X[:, :1], V), ("int64", X.long(), T),
]
BAD_LABELS = [("float", Y.float(), T), ("short", Y[:3], V), ("long", torch.arange(5), V), ("2d", Y[None], V),
              ("negative", -Y - 1, V), ("too_big", Y + 10, V), ("list", [0, 1, 2, 3], T), ("bool", Y > 1, T)]
BAD_BOOLS = [("str_no", "no"), ("str_yes", "yes"), ("int1", 1), ("none", None)]


def attack_cases() -> list[Case]:
    gradient = {
        "fgsm": lambda **k: fgsm(**{"model": TINY, "x": X, "y": Y, "eps": 2 / 255, **k}),
        "pgd": lambda **k: pgd(**{"model": TINY, "x": X, "y": Y, "eps": 2 / 255, "step_size": 1 / 255, "steps": 2, **k}),
        "deepfool": lambda **k: deepfool(**{"model": TINY, "x": X, "y": Y, "max_iter": 3, **k}),
    }
    cases = []
    for name, run in gradient.items():
        for bid, bad, error in BAD_IMAGES:
            cases.append(err(f"{name}-x-{bid}", lambda run=run, bad=bad: run(x=bad), error, "x"))
        for bid, bad, error in BAD_LABELS:
            cases.append(err(f"{name}-y-{bid}", lambda run=run, bad=bad: run(y=bad), error, "y"))
        cases += [
            err(f"{name}-model-none", lambda run=run: run(model=None), T, "model"),
            err(f"{name}-model-function", lambda run=run: run(model=lambda x: x), T, "model"),
            err(f"{name}-model-tuple", lambda run=run: run(model=TUPLE), V, "model", lambda: [TUPLE]),
            err(f"{name}-model-nan", lambda run=run: run(model=NAN), V, "model", lambda: [NAN]),
            err(f"{name}-model-float64", lambda run=run: run(model=TINY64), T, "x", lambda: [TINY64]),
            err(f"{name}-return_info-str", lambda run=run: run(return_info="yes"), T, "return_info"),
            err(f"{name}-clip-reversed", lambda run=run: run(clip_min=1.0, clip_max=0.0), V, "clip_min"),
            err(f"{name}-clip-str", lambda run=run: run(clip_max="1"), T, "clip_max"),
            ok(f"{name}-y-none", lambda run=run: run(y=None), lambda r: r.shape == X.shape),
            ok(f"{name}-y-int32", lambda run=run: run(y=Y.int()), lambda r: r.shape == X.shape),
        ]
    for name in ("fgsm", "pgd"):
        run = gradient[name]
        cases += [
            err(f"{name}-eps-8", lambda run=run: run(eps=8), V, "eps"),
            err(f"{name}-eps-255", lambda run=run: run(eps=255.0), V, "eps"),
            err(f"{name}-eps-negative", lambda run=run: run(eps=-1 / 255), V, "eps"),
            err(f"{name}-eps-nan", lambda run=run: run(eps=float("nan")), V, "eps"),
            err(f"{name}-eps-inf", lambda run=run: run(eps=float("inf")), V, "eps"),
            err(f"{name}-eps-str", lambda run=run: run(eps="8/255"), T, "eps"),
            err(f"{name}-eps-bool", lambda run=run: run(eps=True), T, "eps"),
            err(f"{name}-eps-none", lambda run=run: run(eps=None), T, "eps"),
            err(f"{name}-norm-3", lambda run=run: run(norm=3), V, "norm"),
            err(f"{name}-norm-str", lambda run=run: run(norm="manhattan"), V, "norm"),
            err(f"{name}-norm-none", lambda run=run: run(norm=None), T, "norm"),
            err(f"{name}-targeted-no-y", lambda run=run: run(y=None, targeted=True), V, "y"),
            ok(f"{name}-eps-1", lambda run=run: run(eps=1.0), lambda r: 0 <= float(r.min()) and float(r.max()) <= 1),
            ok(f"{name}-eps-tensor", lambda run=run: run(eps=torch.tensor(2 / 255)),
               lambda r: float((r - X).abs().max()) <= 2 / 255 + 1e-6),
            ok(f"{name}-l2-eps-8", lambda run=run: run(eps=8.0, norm=2, **({"step_size": 1.0} if run is gradient["pgd"] else {})),
               lambda r: float((r - X).flatten(1).norm(dim=1).max()) <= 8 + 1e-4),
            ok(f"{name}-norm-str-linf", lambda run=run: run(norm="linf"),
               lambda r: float((r - X).abs().max()) <= 2 / 255 + 1e-6),
            ok(f"{name}-eps-zero", lambda run=run: run(eps=0, **({"random_start": False} if run is gradient["pgd"] else {})),
               lambda r: torch.equal(r, X)),
        ]
        for bid, bad in BAD_BOOLS:
            cases.append(err(f"{name}-targeted-{bid}", lambda run=run, bad=bad: run(targeted=bad), T, "targeted"))
    run = gradient["pgd"]
    for flag in ("random_start", "early_stop"):
        for bid, bad in BAD_BOOLS:
            cases.append(err(f"pgd-{flag}-{bid}", lambda flag=flag, bad=bad: run(**{flag: bad}), T, flag))
    cases += [
        err("pgd-step_size-2", lambda: run(step_size=2), V, "step_size"),
        err("pgd-steps-float", lambda: run(steps=2.0), T, "steps"),
        err("pgd-steps-negative", lambda: run(steps=-1), V, "steps"),
        err("pgd-generator-int", lambda: run(generator=0), T, "generator"),
        ok("pgd-seeded-twice-equal", lambda: [run(generator=torch.Generator().manual_seed(3)) for _ in range(2)],
           lambda r: torch.equal(r[0], r[1])),
        err("deepfool-num_classes-1", lambda: gradient["deepfool"](num_classes=1), V, "num_classes"),
        err("deepfool-overshoot-negative", lambda: gradient["deepfool"](overshoot=-0.1), V, "overshoot"),
        err("deepfool-max_iter-str", lambda: gradient["deepfool"](max_iter="5"), T, "max_iter"),
        err("deepfool-num_classes-11-of-10", lambda: gradient["deepfool"](num_classes=11), V, "num_classes"),
        ok("deepfool-num_classes-default-on-2-classes",
           lambda: deepfool(tiny_cnn(num_classes=2, channels=X.shape[1]), X), lambda r: r.shape == X.shape),
    ]
    # black-box attacks
    for bid, bad, error in BAD_IMAGES:
        if bid in ("float64", "1ch"):  # no model: any float dtype and channel count is a valid image
            cases.append(ok(f"noise-x-{bid}", lambda bad=bad: (bad, noise(bad, eps=2 / 255)),
                            lambda r: r[1].dtype == r[0].dtype and float((r[1] - r[0]).abs().max()) <= 2 / 255 + 1e-6))
            continue
        cases.append(err(f"noise-x-{bid}", lambda bad=bad: noise(bad, eps=2 / 255), error, "x"))
    cases += [
        err("noise-eps-8", lambda: noise(X, eps=8), V, "eps"),
        err("noise-eps-str", lambda: noise(X, eps="2/255"), T, "eps"),
        err("noise-generator-seed", lambda: noise(X, eps=0.1, generator=0), T, "generator"),
        err("gaussian-sigma-8", lambda: gaussian_noise(X, sigma=8), V, "sigma"),
        err("gaussian-sigma-negative", lambda: gaussian_noise(X, sigma=-0.1), V, "sigma"),
        ok("noise-eps-box-255", lambda: noise(X * 255, eps=8, clip_max=255.0),
           lambda r: float((r - X * 255).abs().max()) <= 8 + 1e-4),
        err("semantic-max_val-255-on-01", lambda: semantic(X, max_val=255), V, "max_val"),
        ok("semantic-max_val-255-on-bytes", lambda: semantic(X * 255, max_val=255),
           lambda r: close(r, 255 - X * 255, 1e-4)),
        err("semantic-center-str", lambda: semantic(X, center="yes"), T, "center"),
        err("semantic-center-int", lambda: semantic(X, center=1), T, "center"),
        err("semantic-x-255", lambda: semantic(X * 255), V, "x"),
        err("semantic-max_val-0", lambda: semantic(X, max_val=0), V, "max_val"),
        err("blend-t-2", lambda: blend(X, 2.0), V, "t"),
        err("blend-t-str", lambda: blend(X, "half"), T, "t"),
        err("blend-t-wrong-length", lambda: blend(X, torch.rand(3)), V, "t"),
        ok("blend-t-half", lambda: blend(X, 0.5), lambda r: close(r, torch.full_like(X, 0.5))),
        err("get_attack-unknown", lambda: get_attack("fsgm"), V, "name"),
        err("get_attack-int", lambda: get_attack(3), T, "name"),
        ok("get_attack-upper", lambda: get_attack("PGD"), lambda r: r.name == "pgd"),
    ]
    return cases


def state_cases() -> list[Case]:
    """The model comes back exactly as it was, from every function that runs it."""
    from advcourse.one_call import predict

    bn_eval = tricky_model(seed=4)
    cases = [
        ok("predict-one-batchnorm-in-eval", lambda: predict(bn_eval, X, topk=3), lambda r: len(r) == 4,
           lambda: [bn_eval]),
        ok("predict-restores-grad-and-flags", lambda: predict(TINY, X), lambda r: len(r[0]) == 5),
        err("predict-raises-midway-state-restored", lambda: predict(TUPLE, X), V, "model", lambda: [TUPLE]),
        ok("explain-input_gradient", lambda: explain.input_gradient(TINY, X, Y), lambda r: r.shape == X.shape),
        ok("explain-saliency", lambda: explain.saliency(TINY, X), lambda r: r.shape == (4, 8, 8)),
        ok("evaluate-accuracy", lambda: ev.accuracy(TINY, X, Y), lambda r: 0 <= r <= 1),
        ok("evaluate-attack-pgd", lambda: ev.evaluate_attack(TINY, X, Y, attack="pgd", eps=2 / 255,
                                                              step_size=1 / 255, steps=2, progress=False),
           lambda r: r.n == 4),
    ]
    return cases


def tiny_result():
    """An AttackResult on an 8×8 picture and the tiny model (no photo, no embedded model)."""
    from advcourse import attack

    return attack(torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(0)), "noise", model=TINY, eps=2 / 255)


def one_call_cases() -> list[Case]:
    from advcourse import attack, classify, predict

    emb = lambda: [embedded()]  # noqa: E731

    def wrapper_leaves_cached_model():
        model = embedded()
        before = classify("chelsea_cat", model=model)[0]
        classify("chelsea_cat", model=Wrapper(model))
        modes = [m.training for m in model.modules()]
        return before, classify("chelsea_cat", model=model)[0], modes

    cases = [
        ok("classify-wrapper-of-cached-model", wrapper_leaves_cached_model,
           lambda r: r[0] == r[1] and not any(r[2]), emb),
        ok("classify-cat", lambda: classify("chelsea_cat", model=embedded(), topk=3),
           lambda r: len(r) == 3 and r[0].index in sample_info("chelsea_cat").labels, emb),
        ok("classify-tensor-equals-name", lambda: (classify(cat(), model=embedded())[0],
                                                   classify("chelsea_cat", model=embedded())[0]),
           lambda r: r[0] == r[1], emb),
        err("classify-x255", lambda: classify(cat() * 255, model=embedded()), V, "src", emb),
        err("classify-uint8", lambda: classify((cat() * 255).to(torch.uint8), model=embedded()), T, "src", emb),
        err("classify-nan", lambda: classify(cat() * float("nan"), model=embedded()), V, "src", emb),
        err("classify-1-channel", lambda: classify(cat()[:, :1], model=embedded()), V, "src", emb),
        err("classify-float64", lambda: classify(cat().double(), model=embedded()), T, "src", emb),
        err("attack-float64", lambda: attack(cat().double(), "fgsm", model=embedded()), T, "src", emb),
        err("classify-1-channel-tiny", lambda: classify(torch.rand(1, 1, 8, 8), model=TINY), V, "src"),
        err("classify-meta", lambda: classify(torch.empty(1, 3, 224, 224, device="meta"), model=embedded()), V,
            "src", emb),
        err("classify-batch-of-2", lambda: classify(torch.rand(2, 3, 32, 32), model=embedded()), V, "src", emb),
        err("classify-3d", lambda: classify(cat()[0], model=embedded()), V, "src", emb),
        err("classify-model-int", lambda: classify("chelsea_cat", model=3), T, "model"),
        err("classify-model-unknown", lambda: classify("chelsea_cat", model="vit_h_14"), V, "name"),
        err("classify-topk-0", lambda: classify("chelsea_cat", model=embedded(), topk=0), V, "topk", emb),
        err("classify-topk-str", lambda: classify("chelsea_cat", model=embedded(), topk="5"), V, "topk", emb),
        err("classify-topk-1001", lambda: classify("chelsea_cat", model=embedded(), topk=1001), V, "topk", emb),
        err("classify-device-gpu", lambda: classify("chelsea_cat", model=embedded(), device="gpu"), V, "device", emb),
        err("classify-typo-sample", lambda: classify("chelsa_cat", model=embedded()), IL, "did you mean 'chelsea_cat'",
            emb),
        err("classify-model-tuple", lambda: classify(torch.rand(1, 3, 8, 8), model=TUPLE), V, "model",
            lambda: [TUPLE]),
        err("AttackResult-save-to-folder", lambda: tiny_result().save(tempfile.mkdtemp()), V, "path"),
        err("AttackResult-save-missing-folder",
            lambda: tiny_result().save(Path(tempfile.mkdtemp()) / "no" / "such" / "result.png"), V, "path"),
        err("AttackResult-save-unknown-format", lambda: tiny_result().save(Path(tempfile.mkdtemp()) / "r.xyz"), V,
            "path"),
        err("AttackResult-save-int", lambda: tiny_result().save(3), T, "path"),
        ok("AttackResult-save-png", lambda: tiny_result().save(Path(tempfile.mkdtemp()) / "r.png"),
           lambda r: r.stat().st_size > 1000),
        err("predict-model-none", lambda: predict(None, X), T, "model"),
        err("predict-x-list", lambda: predict(TINY, [[1.0]]), T, "x"),
        err("predict-x-255", lambda: predict(TINY, X * 255), V, "x"),
        err("predict-x-nan", lambda: predict(TINY, X * float("nan")), V, "x"),
        err("predict-topk-bool", lambda: predict(TINY, X, topk=True), V, "topk"),
        err("predict-x-float64", lambda: predict(TINY, X.double()), T, "x"),
        err("predict-x-1ch", lambda: predict(TINY, X[:, :1]), V, "x"),
        ok("predict-topk-larger-than-classes", lambda: predict(TINY, X, topk=50), lambda r: len(r[0]) == 10),
        err("attack-eps-8", lambda: attack("chelsea_cat", "fgsm", model=embedded(), eps=8), V, "eps", emb),
        err("attack-pgd-eps-8", lambda: attack("chelsea_cat", "pgd", model=embedded(), eps=8), V, "eps", emb),
        err("attack-noise-eps-8", lambda: attack("chelsea_cat", "noise", model=embedded(), eps=8), V, "eps", emb),
        err("attack-random_start-no", lambda: attack("chelsea_cat", "pgd", model=embedded(), random_start="no",
                                                     steps=1), T, "random_start", emb),
        err("attack-targeted-yes", lambda: attack("chelsea_cat", "fgsm", model=embedded(), targeted="yes"), T,
            "targeted", emb),
        err("attack-unknown", lambda: attack("chelsea_cat", "fsgm", model=embedded()), V, "name", emb),
        err("attack-target-typo", lambda: attack("chelsea_cat", "fgsm", model=embedded(), target="neckbrace"), V,
            "target", emb),
        err("attack-target-1000", lambda: attack("chelsea_cat", "fgsm", model=embedded(), target=1000), V, "target",
            emb),
        err("attack-target-untargeted-attack", lambda: attack("chelsea_cat", "deepfool", model=embedded(), target=3),
            V, "target", emb),
        err("attack-x255", lambda: attack(cat() * 255, "fgsm", model=embedded()), V, "src", emb),
        err("attack-1-channel", lambda: attack(cat()[:, :1], "fgsm", model=embedded()), V, "src", emb),
        ok("attack-fgsm-cat", lambda: attack("chelsea_cat", "fgsm", model=embedded(), eps=2 / 255),
           lambda r: r.linf <= 2 / 255 + 1e-6 and r.x.shape == (1, 3, 224, 224), emb),
        ok("attack-semantic", lambda: attack("chelsea_cat", "semantic", model=embedded()),
           lambda r: close(r.x_adv, 1 - r.x), emb),
    ]
    return cases


def image_cases() -> list[Case]:
    def thin(w, h):
        return png("L", (w, h))

    base = server()
    cases = [
        ok("png-16bit-grey", lambda: load_image(png16(32768), size=None),
           lambda r: abs(float(r.mean()) - 32768 / 65535) < 1e-3, lambda: []),
        ok("png-16bit-white", lambda: load_image(png16(65535), size=None), lambda r: float(r.min()) == 1.0, lambda: []),
        ok("png-16bit-black", lambda: load_image(png16(0), size=None), lambda r: float(r.max()) == 0.0, lambda: []),
        ok("png-rgba-alpha0-white", lambda: load_image(rgba_hidden(), size=None), lambda r: float(r.min()) == 1.0,
           lambda: []),
        ok("png-rgba-half", lambda: load_image(png("RGBA", color=(0, 0, 0, 128)), size=None),
           lambda r: abs(float(r.mean()) - (1 - 128 / 255)) < 0.01, lambda: []),
        ok("png-la-alpha0-white", lambda: load_image(png("LA", color=(0, 0)), size=None), lambda r: float(r.min()) == 1.0,
           lambda: []),
        ok("png-palette", lambda: load_image(png("P", color=3), size=16), lambda r: r.shape == (1, 3, 16, 16),
           lambda: []),
        ok("png-palette-transparent-white", lambda: load_image(palette_transparent(), size=None),
           lambda r: float(r.min()) == 1.0, lambda: []),
        ok("png-1bit", lambda: load_image(png("1", color=1), size=None), lambda r: float(r.min()) == 1.0, lambda: []),
        ok("png-grey", lambda: load_image(png("L", color=51), size=None), lambda r: abs(float(r.mean()) - 0.2) < 1e-6,
           lambda: []),
        ok("jpeg-cmyk-red", lambda: load_image(cmyk_jpeg(), size=None),
           lambda r: float(r[0, 0].mean()) > 0.9 and float(r[0, 1:].mean()) < 0.1, lambda: []),
        ok("jpeg-exif-orientation", lambda: load_image(exif_rotated(), size=None),
           lambda r: r.shape == (1, 3, 40, 20) and float(r[0, :, :5].mean()) < 0.1 and float(r[0, :, -5:].mean()) > 0.9,
           lambda: []),
        ok("pil-image-exif", lambda: load_image(Image.open(io.BytesIO(exif_rotated())), size=None),
           lambda r: r.shape == (1, 3, 40, 20), lambda: []),
        err("png-1x100000", timed(lambda: load_image(thin(100000, 1)), 5), IL, "<bytes>", lambda: []),
        err("png-2x10000", timed(lambda: load_image(thin(2, 10000)), 5), IL, "longer than wide", lambda: []),
        ok("png-2x10000-original-size", lambda: load_image(thin(2, 10000), size=None),
           lambda r: r.shape == (1, 3, 10000, 2), lambda: []),
        err("png-side-over-cap", lambda: load_image(thin(MAX_SIDE + 1, 1), size=None), IL, "<bytes>", lambda: []),
        ok("png-1x1", lambda: load_image(png("RGB", (1, 1), (255, 0, 0)), size=8),
           lambda r: r.shape == (1, 3, 8, 8) and float(r[0, 0].min()) == 1.0, lambda: []),
        err("url-file-scheme", lambda: load_image("file:///tmp/cat.png"), IL, "unsupported URL scheme 'file'", lambda: []),
        err("url-ftp-scheme", lambda: load_image("ftp://example.com/cat.png"), IL, "ftp://example.com/cat.png",
            lambda: []),
        err("url-FTP-upper", lambda: load_image("FTP://example.com/cat.png"), IL, "unsupported URL scheme 'ftp'",
            lambda: []),
        err("url-s3-scheme", lambda: load_image("s3://bucket/cat.png"), IL, "s3://bucket/cat.png", lambda: []),
        ok("url-HTTP-upper", lambda: load_image(f"HTTP://{base}/blue.png", size=None, timeout=5),
           lambda r: float(r[0, 2].min()) == 1.0, lambda: []),
        ok("url-Http-mixed", lambda: load_image(f"Http://{base}/blue.png", size=None, timeout=5),
           lambda r: r.shape == (1, 3, 32, 32), lambda: []),
        err("url-drip-body", timed(lambda: load_image(f"http://{base}/drip-body", timeout=1.5), 4), IL, "/drip-body",
            lambda: []),
        err("url-drip-headers", timed(lambda: load_image(f"http://{base}/drip-headers", timeout=1.5), 4), IL,
            "/drip-headers", lambda: []),
        err("url-timeout-str", lambda: load_image(f"http://{base}/blue.png", timeout="10"), T, "timeout", lambda: []),
        err("url-timeout-zero", lambda: load_image(f"http://{base}/blue.png", timeout=0), V, "timeout", lambda: []),
        err("url-timeout-negative", lambda: load_image("chelsea_cat", timeout=-1), V, "timeout", lambda: []),
        err("url-timeout-nan", lambda: load_image("chelsea_cat", timeout=float("nan")), V, "timeout", lambda: []),
        ok("data-uri-line-breaks", lambda: load_image(data_uri(png("RGB", color=(0, 255, 0)), wrap=76), size=None),
           lambda r: float(r[0, 1].min()) == 1.0, lambda: []),
        ok("data-uri-crlf-spaces", lambda: load_image(data_uri(png("RGB"), wrap=60).replace("\n", "\r\n "), size=None),
           lambda r: r.shape == (1, 3, 32, 32), lambda: []),
        ok("data-uri-upper-header", lambda: load_image(data_uri(png("RGB")).replace("data:image/png;base64",
                                                                                     "DATA:image/png;BASE64"), size=None),
           lambda r: r.shape == (1, 3, 32, 32), lambda: []),
        err("data-uri-garbage", lambda: load_image("data:image/png;base64,@@@"), IL, "base64", lambda: []),
        err("data-uri-not-image", lambda: load_image(data_uri(b"hello world", mime="text/plain")), IL, "data:",
            lambda: []),
        err("load_samples-str", lambda: load_samples("chelsea_cat"), T, "names", lambda: []),
        err("load_samples-empty", lambda: load_samples([]), V, "names", lambda: []),
        err("load_samples-typo", lambda: load_samples(["chelsa_cat"]), V, "did you mean 'chelsea_cat'", lambda: []),
        err("load_samples-int", lambda: load_samples(3), T, "names", lambda: []),
        err("load_samples-int-name", lambda: load_samples([3]), T, "name", lambda: []),
        ok("load_samples-two", lambda: load_samples(["chelsea_cat", "peacock"], size=32),
           lambda r: r.x.shape == (2, 3, 32, 32) and r.names == ["chelsea_cat", "peacock"], lambda: []),
        err("sample_info-case", lambda: sample_info("Chelsea_Cat"), V, "did you mean 'chelsea_cat'", lambda: []),
        err("sample_info-int", lambda: sample_info(0), T, "name", lambda: []),
        err("load_image-empty-str", lambda: load_image(""), IL, "src", lambda: []),
        err("load_image-folder", lambda: load_image(str(PACKAGE)), IL, "folder", lambda: []),
        err("load_image-missing", lambda: load_image("/no/such/cat.png"), IL, "/no/such/cat.png", lambda: []),
        err("load_image-typo", lambda: load_image("Chelsea_Cat"), IL, "did you mean 'chelsea_cat'", lambda: []),
        err("load_image-int", lambda: load_image(3), T, "src", lambda: []),
        err("load_image-tensor", lambda: load_image(X), T, "src", lambda: []),
        err("load_image-size-0", lambda: load_image("chelsea_cat", size=0), V, "size", lambda: []),
        err("load_image-size-huge", lambda: load_image("chelsea_cat", size=10**6), V, "size", lambda: []),
        err("load_image-size-float", lambda: load_image("chelsea_cat", size=224.0), V, "size", lambda: []),
        err("load_image-text-bytes", lambda: load_image(b"not a picture"), IL, "<bytes>", lambda: []),
        err("load_image-truncated", lambda: load_image(png("RGB", (64, 64), (1, 2, 3))[:60]), IL, "<bytes>",
            lambda: []),
        ok("load_image-path-object", lambda: load_image(sample_info("chelsea_cat").path),
           lambda r: torch.equal(r, cat()), lambda: []),
        ok("load_image-padded-name", lambda: load_image("  chelsea_cat "), lambda r: torch.equal(r, cat()), lambda: []),
    ]
    return cases


def model_and_data_cases() -> list[Case]:
    from advcourse.models.datasets import load_digits, make_loader
    from advcourse.models.labels import class_index, class_name

    return [
        err("load_model-unknown", lambda: load_model("effnet"), V, "name", lambda: []),
        err("load_model-int", lambda: load_model(0), T, "name", lambda: []),
        err("load_model-device", lambda: load_model(device="tpu"), V, "device", lambda: []),
        err("load_model-cache-str", lambda: load_model(cache="no"), T, "cache", lambda: []),
        ok("load_model-upper", lambda: load_model("EfficientNet_Lite0", device="cpu"), lambda r: r is embedded(),
           lambda: [embedded()]),
        err("load_digits-fraction-1", lambda: load_digits(test_fraction=1.0), V, "test_fraction", lambda: []),
        err("load_digits-fraction-str", lambda: load_digits(test_fraction="0.2"), V, "test_fraction", lambda: []),
        err("load_digits-seed-float", lambda: load_digits(seed=1.5), T, "seed", lambda: []),
        err("make_loader-length", lambda: make_loader(X, Y[:3]), V, "y", lambda: []),
        err("make_loader-batch-0", lambda: make_loader(X, Y, batch_size=0), V, "batch_size", lambda: []),
        err("make_loader-shuffle-str", lambda: make_loader(X, Y, shuffle="no"), T, "shuffle", lambda: []),
        err("make_loader-x-list", lambda: make_loader([1, 2], Y), T, "x", lambda: []),
        ok("make_loader-ok", lambda: make_loader(X, Y, batch_size=3), lambda r: len(r) == 2, lambda: []),
        err("class_index-typo", lambda: class_index("neckbrace"), V, "did you mean 'neck brace'", lambda: []),
        err("class_index-int", lambda: class_index(678), T, "name", lambda: []),
        err("class_name-1000", lambda: class_name(1000), V, "index", lambda: []),
        err("class_name-str", lambda: class_name("3"), T, "index", lambda: []),
    ]


def evaluate_cases() -> list[Case]:
    return [
        err("accuracy-y-short", lambda: ev.accuracy(TINY, X, Y[:3]), V, "y"),
        err("accuracy-y-none", lambda: ev.accuracy(TINY, X, None), V, "y"),
        err("accuracy-x-255", lambda: ev.accuracy(TINY, X * 255, Y), V, "x"),
        err("accuracy-batch-0", lambda: ev.accuracy(TINY, X, Y, batch_size=0), V, "batch_size"),
        err("accuracy-model-str", lambda: ev.accuracy("tiny", X, Y), T, "model"),
        ok("accuracy-value", lambda: ev.accuracy(TINY, X, Y), lambda r: r == reference_accuracy(TINY, X, Y)),
        err("evaluate_attack-y-long", lambda: ev.evaluate_attack(TINY, X, torch.arange(5), attack="fgsm", eps=0.01,
                                                                 progress=False), V, "y"),
        err("evaluate_attack-unknown", lambda: ev.evaluate_attack(TINY, X, Y, attack="zap", progress=False), V,
            "name"),
        err("evaluate_attack-eps-8", lambda: ev.evaluate_attack(TINY, X, Y, attack="fgsm", eps=8, progress=False),
            V, "eps"),
        err("evaluate_attack-progress-str", lambda: ev.evaluate_attack(TINY, X, Y, attack="fgsm", eps=0.01,
                                                                       progress="no"), T, "progress"),
        err("evaluate_attack-target-short", lambda: ev.evaluate_attack(TINY, X, Y, attack="fgsm", eps=0.01,
                                                                       target=Y[:2], progress=False), V, "target"),
        err("evaluate_attack-data-str", lambda: ev.evaluate_attack(TINY, "images", attack="fgsm", eps=0.01,
                                                                   progress=False), T, "data"),
        err("evaluate_attack-loader-y", lambda: ev.evaluate_attack(TINY, [(X, Y)], Y, attack="fgsm", eps=0.01,
                                                                   progress=False), V, "y"),
        err("evaluate_attack-loader-bad-pairs", lambda: ev.evaluate_attack(TINY, [X], attack="fgsm", eps=0.01,
                                                                           progress=False), T, "data"),
        err("robust_accuracy-y-short", lambda: ev.robust_accuracy(TINY, X, Y[:2], attack="fgsm", eps=0.01), V, "y"),
        err("compare-attacks-list", lambda: ev.compare(TINY, X, Y, ["fgsm"]), T, "attacks"),
        err("compare-entry-no-attack", lambda: ev.compare(TINY, X, Y, {"a": {"eps": 0.1}}, progress=False), V,
            "attacks"),
        ok("evaluate_attack-noise", lambda: ev.evaluate_attack(TINY, X, Y, attack="noise", eps=0.01, progress=False),
           lambda r: r.n == 4 and r.linf_mean <= 0.01 + 1e-6),
        err("input_gradient-y-short", lambda: explain.input_gradient(TINY, X, Y[:1]), V, "y"),
        err("input_gradient-targeted-str", lambda: explain.input_gradient(TINY, X, Y, targeted="yes"), T, "targeted"),
        err("input_gradient-x-nan", lambda: explain.input_gradient(TINY, X * float("nan")), V, "x"),
        err("input_gradient-model-tuple", lambda: explain.input_gradient(TUPLE, X), V, "model", lambda: [TUPLE]),
        err("saliency-x-uint8", lambda: explain.saliency(TINY, (X * 255).to(torch.uint8)), T, "x"),
        err("gradient_sign-meta", lambda: explain.gradient_sign(TINY, torch.empty(4, 3, 8, 8, device="meta")), V, "x"),
        err("show_saliency-titles", lambda: explain.show_saliency(TINY, X, titles=["a"]), V, "titles"),
        err("show_saliency-x-1ch", lambda: explain.show_saliency(TINY, X[:, :1]), V, "x"),
        err("show_source-builtin", lambda: explain.show_source(len), T, "fn"),
        ok("show_source-fgsm", lambda: explain.show_source(fgsm), lambda r: "def fgsm" in r.code, lambda: []),
    ]


def poisoning_cases() -> list[Case]:
    from advcourse import poisoning as po

    trig = po.badnets_trigger(3, channels=3)  # for X: (4, 3, 8, 8)
    grey = po.badnets_trigger(3)
    return [
        err("badnets_trigger-size-0", lambda: po.badnets_trigger(0), V, "size"),
        err("badnets_trigger-size-9", lambda: po.badnets_trigger(9), V, "size"),
        err("badnets_trigger-size-str", lambda: po.badnets_trigger("3"), T, "size"),
        err("badnets_trigger-corner", lambda: po.badnets_trigger(corner="middle"), V, "corner"),
        err("blended_trigger-alpha-0", lambda: po.blended_trigger(0), V, "alpha"),
        err("blended_trigger-alpha-2", lambda: po.blended_trigger(2.0), V, "alpha"),
        err("blended_trigger-seed-negative", lambda: po.blended_trigger(seed=-1), V, "seed"),
        err("add_trigger-x-uint8", lambda: po.add_trigger((X * 255).to(torch.uint8), trig), T, "x"),
        err("add_trigger-x-255", lambda: po.add_trigger(X * 255, trig), V, "x"),
        err("add_trigger-trigger-str", lambda: po.add_trigger(X, "patch"), T, "trigger"),
        err("add_trigger-trigger-grey-on-colour", lambda: po.add_trigger(X, grey), V, "trigger"),
        ok("add_trigger-patch", lambda: po.add_trigger(X, trig), lambda r: r.shape == X.shape and not torch.equal(r, X)),
        err("flip_labels-rate-2", lambda: po.flip_labels(Y, rate=2.0), V, "rate"),
        err("flip_labels-rate-negative", lambda: po.flip_labels(Y, rate=-0.1), V, "rate"),
        err("flip_labels-y-list", lambda: po.flip_labels([0, 1, 2], rate=0.5), T, "y"),
        err("flip_labels-y-float", lambda: po.flip_labels(Y.float(), rate=0.5), T, "y"),
        err("flip_labels-y-over-classes", lambda: po.flip_labels(Y + 9, rate=0.5), V, "y"),
        err("flip_labels-target-10", lambda: po.flip_labels(Y, rate=0.5, target=10), V, "target"),
        err("flip_labels-source-str", lambda: po.flip_labels(Y, rate=0.5, source="1"), T, "source"),
        err("flip_labels-too-many", lambda: po.flip_labels(Y, rate=1.0, source=0), V, "rate"),
        err("flip_labels-generator-int", lambda: po.flip_labels(Y, rate=0.5, generator=0), T, "generator"),
        ok("flip_labels-half", lambda: po.flip_labels(Y, rate=0.5, generator=torch.Generator().manual_seed(0)),
           lambda r: int((r.y != Y).sum()) == 2),
        err("backdoor-trigger-str", lambda: po.backdoor(X, Y, target=0, rate=0.5, trigger="badnets"), T, "trigger"),
        err("backdoor-target-negative", lambda: po.backdoor(X, Y, target=-1, rate=0.5, trigger=trig), V, "target"),
        err("backdoor-x-255", lambda: po.backdoor(X * 255, Y, target=0, rate=0.5, trigger=trig), V, "x"),
        err("backdoor-y-short", lambda: po.backdoor(X, Y[:3], target=0, rate=0.5, trigger=trig), V, "y"),
        err("backdoor-too-many", lambda: po.backdoor(X, Y, target=0, rate=1.0, trigger=trig), V, "rate"),
        ok("backdoor-half", lambda: po.backdoor(X, Y, target=0, rate=0.5, trigger=trig),
           lambda r: len(r.indices) == 2 and (r.y[r.indices] == 0).all() and (Y[r.indices] != 0).all()),
        err("clean_label_backdoor-model-none",
            lambda: po.clean_label_backdoor(None, X, Y, target=0, rate=0.25, trigger=trig, eps=0.1), T, "model"),
        err("clean_label_backdoor-eps-8",
            lambda: po.clean_label_backdoor(TINY, X, Y, target=0, rate=0.25, trigger=trig, eps=8), V, "eps"),
        ok("clean_label_backdoor-one",
           lambda: po.clean_label_backdoor(TINY, X, Y, target=0, rate=0.25, trigger=trig, eps=0.1, steps=2),
           lambda r: torch.equal(r.y, Y) and r.indices.tolist() == [0]),
        err("backdoor_scores-target-10", lambda: po.backdoor_scores(TINY, X, Y, target=10, trigger=trig), V, "target"),
        err("backdoor_scores-trigger-none", lambda: po.backdoor_scores(TINY, X, Y, target=0, trigger=None), T, "trigger"),
        err("backdoor_scores-model-str", lambda: po.backdoor_scores("net", X, Y, target=0, trigger=trig), T, "model"),
        ok("backdoor_scores-tiny", lambda: po.backdoor_scores(TINY, X, Y, target=0, trigger=trig),
           lambda r: r.attacked == 3 and 0 <= r.attack_success <= 1),
        err("features-model-no-linear", lambda: po.features(torch.nn.Conv2d(3, 2, 3), X), V, "model"),
        err("features-x-255", lambda: po.features(TINY, X * 255), V, "x"),
        err("features-batch_size-0", lambda: po.features(TINY, X, batch_size=0), V, "batch_size"),
        ok("features-tiny", lambda: po.features(TINY, X), lambda r: r.shape[0] == 4 and r.dim() == 2),
        err("spectral_signatures-y-short", lambda: po.spectral_signatures(TINY, X, Y[:2]), V, "y"),
        err("spectral_signatures-y-float", lambda: po.spectral_signatures(TINY, X, Y.float()), T, "y"),
        ok("spectral_signatures-tiny", lambda: po.spectral_signatures(TINY, X, torch.zeros(4, dtype=torch.long)),
           lambda r: r.shape == (4,) and (r >= 0).all()),
        err("activation_clustering-max_fraction-0.9",
            lambda: po.activation_clustering(TINY, X, Y, max_fraction=0.9), V, "max_fraction"),
        err("activation_clustering-components-0", lambda: po.activation_clustering(TINY, X, Y, components=0), V,
            "components"),
        ok("activation_clustering-tiny", lambda: po.activation_clustering(TINY, X, torch.zeros(4, dtype=torch.long)),
           lambda r: r.dtype == torch.bool and r.shape == (4,)),
        err("strip-x_clean-grey", lambda: po.strip(TINY, X, X[:, :1]), V, "x_clean"),
        err("strip-n-0", lambda: po.strip(TINY, X, X, n=0), V, "n"),
        err("strip-x_clean-list", lambda: po.strip(TINY, X, [1.0]), T, "x_clean"),
        ok("strip-tiny", lambda: po.strip(TINY, X, X, n=3, generator=torch.Generator().manual_seed(0)),
           lambda r: r.shape == (4,) and (r >= 0).all()),
        err("flag_top-fraction-2", lambda: po.flag_top(torch.rand(4), Y, 2.0), V, "fraction"),
        err("flag_top-scores-2d", lambda: po.flag_top(torch.rand(4, 1), Y, 0.5), V, "scores"),
        err("detection-flagged-int", lambda: po.detection(torch.ones(4, dtype=torch.long), Y > 1), T, "flagged"),
        err("detection-shapes", lambda: po.detection(Y > 1, Y[:3] > 1), V, "is_poison"),
        err("fine_prune-fraction-1", lambda: po.fine_prune(TINY, X, Y, fraction=1.0), V, "fraction"),
        err("fine_prune-epochs-str", lambda: po.fine_prune(TINY, X, Y, epochs="2"), T, "epochs"),
        err("fine_prune-no-conv", lambda: po.fine_prune(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(192, 4)),
                                                         X, Y), V, "model"),
        err("fine_prune-y-short", lambda: po.fine_prune(TINY, X, Y[:2]), V, "y"),
        ok("fine_prune-tiny", lambda: po.fine_prune(TINY, X, Y, fraction=0.5, epochs=1), lambda r: r is not TINY),
    ] + poisoning_study_cases(grey)


def poisoning_study_cases(grey) -> list[Case]:
    """12_poisoning's sweeps, defences table, rate app and exercises: every argument checked before training."""
    from advcourse.exercises import poisoning as ep
    from advcourse.poisoning import backdoor
    from advcourse.poisoning import study as ps
    from advcourse.widgets import poisoning as wp

    g = torch.rand(6, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    gy = torch.arange(6)
    sweep = ps.PoisonSweep([0.0, 0.5], [0, 3], {"clean accuracy": [0.9, 0.8], "attack success": [0.0, 1.0]},
                           g[:2], torch.zeros(2, 2, dtype=torch.long), gy[:2], "a sweep")
    flips = ps.PoisonSweep([0.0], [0], {"clean accuracy": [0.9]}, g[:2], torch.zeros(1, 2, dtype=torch.long),
                           gy[:2], "flips")
    pz = backdoor(g, gy, target=0, rate=0.2, trigger=grey)
    wrong = lambda r: not r.ok and len(r.message) > 10  # noqa: E731  a hint, not a crash
    return [
        err("flip_sweep-x_train-colour", lambda: ps.flip_sweep(X, Y, g, gy, rates=[0]), V, "x_train"),
        err("flip_sweep-y_test-none", lambda: ps.flip_sweep(g, gy, g, None, rates=[0]), T, "y_test"),
        err("flip_sweep-y_train-short", lambda: ps.flip_sweep(g, gy[:3], g, gy, rates=[0]), V, "y_train"),
        err("flip_sweep-rates-empty", lambda: ps.flip_sweep(g, gy, g, gy, rates=[]), V, "rates"),
        err("flip_sweep-rates-decreasing", lambda: ps.flip_sweep(g, gy, g, gy, rates=[0.5, 0.1]), V, "rates"),
        err("flip_sweep-rates-2", lambda: ps.flip_sweep(g, gy, g, gy, rates=[2.0]), V, "rates"),
        err("flip_sweep-rates-float", lambda: ps.flip_sweep(g, gy, g, gy, rates=0.1), V, "rates"),
        err("flip_sweep-show-0", lambda: ps.flip_sweep(g, gy, g, gy, rates=[0], show=0), V, "show"),
        err("backdoor_sweep-trigger-str", lambda: ps.backdoor_sweep(g, gy, g, gy, trigger="patch", target=0, rates=[0]),
            T, "trigger"),
        err("backdoor_sweep-target-negative",
            lambda: ps.backdoor_sweep(g, gy, g, gy, trigger=grey, target=-1, rates=[0]), V, "target"),
        err("defend-poisoned-tuple", lambda: ps.defend((g, gy), g, gy, g, gy), T, "poisoned"),
        err("defend-class_bound-1", lambda: ps.defend(pz, g, gy, g, gy, class_bound=1.0), V, "class_bound"),
        err("defend-strip_fpr-1", lambda: ps.defend(pz, g, gy, g, gy, strip_fpr=1.0), V, "strip_fpr"),
        err("defend-x_clean-colour", lambda: ps.defend(pz, g, gy, X, Y), V, "x_clean"),
        err("defend-y_test-none", lambda: ps.defend(pz, g, None, g, gy), T, "y_test"),
        err("defence_table-attacks-list", lambda: ps.defence_table([pz], g, gy, g, gy), V, "attacks"),
        err("defence_table-attacks-empty", lambda: ps.defence_table({}, g, gy, g, gy), V, "attacks"),
        err("plot_trigger_key-x-13", lambda: ps.plot_trigger_key(TINY, torch.rand(13, 1, 8, 8), grey), V, "x"),
        err("plot_trigger_key-trigger-none", lambda: ps.plot_trigger_key(TINY, g[:2], None), T, "trigger"),
        err("PoisonSweep.at-unknown", lambda: sweep.at(0.3), V, "rate"),
        err("render_rate-sweep-dict", lambda: wp.render_rate({}, 0.0), T, "sweep"),
        err("render_rate-rate-unknown", lambda: wp.render_rate(sweep, 0.25), V, "rate"),
        err("render_rate-rate-negative", lambda: wp.render_rate(sweep, -1), V, "rate"),
        ok("rate_caption-half", lambda: wp.rate_caption(sweep, 0.5), lambda r: "(3 rows)" in r and "100 %" in r),
        err("check_poisons_needed-success-2", lambda: ep.check_poisons_needed(3, sweep, success=2.0), V, "success"),
        err("check_poisons_needed-flips", lambda: ep.check_poisons_needed(3, flips, success=0.9), V, "sweep"),
        ok("check_poisons_needed-right", lambda: ep.check_poisons_needed(3, sweep, success=0.9), lambda r: r.ok),
        ok("check_poisons_needed-a-rate", lambda: ep.check_poisons_needed(0.5, sweep, success=0.9),
           lambda r: wrong(r) and "rate" in r.message),
        ok("check_poisons_needed-str", lambda: ep.check_poisons_needed("three", sweep, success=0.9), wrong),
        err("check_tpr-flagged-int", lambda: ep.check_tpr(0.5, torch.ones(4, dtype=torch.long), Y > 1), T, "flagged"),
        err("check_tpr-shapes", lambda: ep.check_tpr(0.5, Y > 1, Y[:3] > 1), V, "is_poison"),
        ok("check_tpr-precision", lambda: ep.check_tpr(0.5, torch.tensor([True, True, False, False]),
                                                      torch.tensor([True, False, True, True])),
           lambda r: wrong(r) and "precision" in r.message),
        ok("check_tpr-right", lambda: ep.check_tpr(1 / 3, torch.tensor([True, True, False, False]),
                                                  torch.tensor([True, False, True, True])), lambda r: r.ok),
    ]


def privacy_cases() -> list[Case]:
    from advcourse import privacy as pv

    g = torch.rand(8, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    gy = torch.arange(8) % 4
    truth = torch.tensor([True, False, True, False])
    shadows = pv.Shadows([TINY, TINY], torch.tensor([[True, False, True, False], [False, True, False, True]]))
    phi = torch.zeros(4, dtype=torch.float64)
    return [
        err("train_shadow_models-n_models-1", lambda: pv.train_shadow_models(g, gy, n_models=1), V, "n_models"),
        err("train_shadow_models-n_models-str", lambda: pv.train_shadow_models(g, gy, n_models="4"), T, "n_models"),
        err("train_shadow_models-x-colour", lambda: pv.train_shadow_models(X, Y, n_models=2), V, "x"),
        err("train_shadow_models-y-none", lambda: pv.train_shadow_models(g, None, n_models=2), T, "y"),
        err("train_shadow_models-y-10", lambda: pv.train_shadow_models(g, gy + 9, n_models=2), V, "y"),
        err("train_shadow_models-epochs-0", lambda: pv.train_shadow_models(g, gy, n_models=2, epochs=0), V, "epochs"),
        err("train_shadow_models-lr-0", lambda: pv.train_shadow_models(g, gy, n_models=2, lr=0), V, "lr"),
        err("train_shadow_models-generator-int", lambda: pv.train_shadow_models(g, gy, n_models=2, generator=0), T,
            "generator"),
        err("train_shadow_models-batched-str", lambda: pv.train_shadow_models(g, gy, n_models=2, batched="yes"), T,
            "batched"),
        ok("train_shadow_models-two", lambda: pv.train_shadow_models(g, gy, n_models=2, epochs=1, progress=False),
           lambda r: len(r.models) == 2 and r.members.shape == (2, 8) and (r.members.sum(0) == 1).all()),
        err("loss_scores-model-str", lambda: pv.loss_scores("net", X, Y), T, "model"),
        err("loss_scores-y-none", lambda: pv.loss_scores(TINY, X, None), T, "y"),
        err("loss_scores-x-255", lambda: pv.loss_scores(TINY, X * 255, Y), V, "x"),
        err("loss_scores-x-empty", lambda: pv.loss_scores(TINY, X[:0], Y[:0]), V, "x"),
        err("loss_scores-y-beyond-classes", lambda: pv.loss_scores(TINY, X, Y + 100), V, "y"),
        ok("loss_scores-tiny", lambda: pv.loss_scores(TINY, X, Y), lambda r: r.shape == (4,) and (r <= 0).all()),
        err("lira_scores-shadows-list", lambda: pv.lira_scores(TINY, X, Y, [TINY]), T, "shadows"),
        err("lira_scores-x-other-size", lambda: pv.lira_scores(TINY, X[:3], Y[:3], shadows), V, "x"),
        err("likelihood_ratio-is_in-int", lambda: pv.likelihood_ratio(phi, phi.expand(2, 4), truth.long().expand(2, 4)),
            T, "is_in"),
        err("likelihood_ratio-shapes", lambda: pv.likelihood_ratio(phi, phi.expand(2, 4), truth.expand(3, 4)), V,
            "phi_shadow"),
        err("likelihood_ratio-one-side", lambda: pv.likelihood_ratio(phi, phi.expand(2, 4), truth.expand(2, 4)), V,
            "is_in"),
        err("roc-is_member-float", lambda: pv.roc(torch.rand(4), truth.float()), T, "is_member"),
        err("roc-shapes", lambda: pv.roc(torch.rand(4), truth[:3]), V, "is_member"),
        err("roc-nan", lambda: pv.roc(torch.tensor([0.1, float("nan"), 0.2, 0.3]), truth), V, "scores"),
        err("roc-all-members", lambda: pv.roc(torch.rand(4), torch.ones(4, dtype=torch.bool)), V, "is_member"),
        err("tpr_at_fpr-fpr-2", lambda: pv.tpr_at_fpr(torch.rand(4), truth, 2.0), V, "fpr"),
        err("tpr_at_fpr-fpr-negative", lambda: pv.tpr_at_fpr(torch.rand(4), truth, -0.1), V, "fpr"),
        ok("tpr_at_fpr-perfect", lambda: pv.tpr_at_fpr(torch.tensor([0.9, 0.1, 0.8, 0.2]), truth, 0.0), lambda r: r == 1.0),
    ]


def defence_cases() -> list[Case]:
    from advcourse import defences as d
    from advcourse.defences.negatives import negative_tradeoff

    rrp = d.RandomResizePad(TINY, generator=torch.Generator().manual_seed(0))
    loader = [(X, Y)]
    return [
        err("hit_rate-y-short", lambda: d.hit_rate(TINY, X, Y[:3]), V, "y"),
        err("hit_rate-y-long", lambda: d.hit_rate(TINY, X, torch.arange(6)), V, "y"),
        err("hit_rate-x-255", lambda: d.hit_rate(TINY, X * 255, Y), V, "x"),
        err("hit_rate-model-str", lambda: d.hit_rate("model", X, Y), T, "model"),
        err("hit_rate-accepted-short", lambda: d.hit_rate(TINY, X, Y, accepted=[{0}]), V, "accepted"),
        err("hit_rate-accepted-str", lambda: d.hit_rate(TINY, X, Y, accepted="0123"), T, "accepted"),
        ok("hit_rate-value", lambda: d.hit_rate(TINY, X, Y), lambda r: 0 <= r <= 1),
        err("defences.evaluate-y-short", lambda: d.evaluate(TINY, X, Y[:2]), V, "y"),
        err("defences.evaluate-y-list", lambda: d.evaluate(TINY, X, [0, 1, 2, 3]), T, "y"),
        err("defences.evaluate-x-list", lambda: d.evaluate(TINY, [[0.5]], Y), T, "x"),
        err("defences.evaluate-batch-0", lambda: d.evaluate(TINY, X, Y, batch_size=0), V, "batch_size"),
        err("defences.evaluate-attack-int", lambda: d.evaluate(TINY, X, Y, attack=3), T, "attack"),
        err("defences.evaluate-params-list", lambda: d.evaluate(TINY, X, Y, attack="fgsm", attack_params=[0.1]), T,
            "attack_params"),
        err("defences.evaluate-eps-8", lambda: d.evaluate(TINY, X, Y, attack="fgsm", attack_params={"eps": 8}), V,
            "eps"),
        ok("defences.evaluate-ok", lambda: d.evaluate(TINY, X, Y, attack="fgsm", attack_params={"eps": 0.01}),
           lambda r: all(0 <= v <= 1 for v in r)),
        err("transfer_sweep-eps-float", lambda: d.transfer_sweep(TINY, rrp, X, Y, 0.1), T, "eps"),
        err("transfer_sweep-eps-8", lambda: d.transfer_sweep(TINY, rrp, X, Y, [0, 8]), V, "eps"),
        err("transfer_sweep-eps-str", lambda: d.transfer_sweep(TINY, rrp, X, Y, "0.1"), T, "eps"),
        err("transfer_sweep-y-short", lambda: d.transfer_sweep(TINY, rrp, X, Y[:1], [0.01]), V, "y"),
        err("transfer_sweep-defended-str", lambda: d.transfer_sweep(TINY, "rrp", X, Y, [0.01]), T, "model"),
        ok("transfer_sweep-ok", lambda: d.transfer_sweep(TINY, rrp, X, Y, [0, 0.01], steps=1),
           lambda r: len(r.bare_accuracy) == 2),
        err("RandomResizePad-model-str", lambda: d.RandomResizePad("resnet"), T, "model"),
        err("RandomResizePad-mode", lambda: d.RandomResizePad(TINY, mode="cubic"), V, "mode"),
        err("RandomResizePad-out_size-str", lambda: d.RandomResizePad(TINY, out_size="10"), T, "out_size"),
        err("RandomResizePad-x-255", lambda: rrp(X * 255), V, "x"),
        err("RandomResizePad-min-over-out", lambda: d.RandomResizePad(TINY, out_size=8, min_size=9)(X), V, "min_size"),
        err("EOT-samples-0", lambda: d.EOT(TINY, samples=0), V, "samples"),
        err("EOT-samples-float", lambda: d.EOT(TINY, samples=2.0), T, "samples"),
        err("EOT-average-list", lambda: d.EOT(TINY, average=["probs"]), V, "average"),
        err("EOT-model-none", lambda: d.EOT(None), T, "model"),
        err("EOT-x-uint8", lambda: d.EOT(TINY, samples=2)((X * 255).to(torch.uint8)), T, "x"),
        err("EOT-x-255", lambda: d.EOT(TINY, samples=2)(X * 255), V, "x"),
        err("plot_histories-empty", lambda: d.plot_histories({}), V, "histories"),
        err("plot_histories-not-history", lambda: d.plot_histories({"clean": [0.9, 0.95]}), T, "histories['clean']"),
        ok("EOT-pgd", lambda: pgd(d.EOT(rrp, samples=2), X, Y, eps=2 / 255, step_size=1 / 255, steps=1),
           lambda r: float((r - X).abs().max()) <= 2 / 255 + 1e-6),
        err("train-epochs-str", lambda: d.train(TINY, loader, epochs="1", progress=False), T, "epochs"),
        err("train-adv_fraction-2", lambda: d.train(TINY, loader, adv_fraction=2.0, progress=False), V, "adv_fraction"),
        err("train-progress-str", lambda: d.train(TINY, loader, progress="no"), T, "progress"),
        err("train-loader-int", lambda: d.train(TINY, 3, progress=False), T, "loader"),
        err("train-attack-int", lambda: d.train(TINY, loader, attack=3, progress=False), T, "attack"),
        err("train-params-list", lambda: d.train(TINY, loader, attack="fgsm", attack_params=[1], progress=False), T,
            "attack_params"),
        err("train-optimizer-str", lambda: d.train(TINY, loader, optimizer="adam", progress=False), T, "optimizer"),
        err("train-eval_data-tensor", lambda: d.train(TINY, loader, eval_data=X, progress=False), T, "eval_data"),
        err("train-loader-x-255", lambda: d.train(TINY, [(X * 255, Y)], progress=False), V, "loader"),
        err("train-loader-y-short", lambda: d.train(TINY, [(X, Y[:2])], progress=False), V, "loader"),
        err("negative_tradeoff-counts-too-big", lambda: negative_tradeoff(TINY, (X, Y), (X, Y), [10], progress=False),
            V, "counts"),
        err("negative_tradeoff-counts-str", lambda: negative_tradeoff(TINY, (X, Y), (X, Y), ["1"], progress=False), T,
            "counts"),
        err("negative_tradeoff-train-tensor", lambda: negative_tradeoff(TINY, X, (X, Y), [1], progress=False), T,
            "train_data"),
        err("unwrap-none", lambda: d.unwrap(None), T, "model"),
        ok("train-keeps-each-submodule-mode", trained_modes, lambda r: r[0] == r[1], lambda: []),
        ok("negative_tradeoff-leaves-model", lambda: negative_tradeoff(TINY, (X, Y), (X, Y), [0, 2], steps=1,
                                                                       batch_size=2, progress=False),
           lambda r: r.counts == [0, 2] and all(0 <= v <= 1 for v in r.regular["mixed"])),
    ]


def trained_modes() -> tuple[list[bool], list[bool]]:
    """``train`` changes the weights (its job) but hands each submodule back in its own mode."""
    from advcourse.defences import train

    net = tricky_model(seed=9)
    before = [m.training for m in net.modules()]
    train(net, [(X, Y)], epochs=1, attack="fgsm", attack_params={"eps": 0.01}, progress=False)
    return before, [m.training for m in net.modules()]


def widget_cases() -> list[Case]:
    from advcourse.widgets import render_classification
    from advcourse.widgets.deepfool import render_binary, render_multiclass, render_photo
    from advcourse.widgets.fgsm import render_eps, sweep
    from advcourse.widgets.gradients import render_descent
    from advcourse.widgets.noise import render_noise
    from advcourse.widgets.pgd import pgd_trace, render_pgd, step_grid
    from advcourse.defences import RandomResizePad, transfer_sweep
    from advcourse.widgets.defences import render_transfer
    from advcourse.widgets.semantic import blend_path, render_blend
    from advcourse.widgets.threat_models import render_feedback, render_scenario

    sw = sweep(FIXTURE_MODEL, X, Y, [0, 1 / 255, 2 / 255])
    grid = step_grid(FIXTURE_MODEL, X, Y, eps=2 / 255, step_sizes=[1 / 255], steps=2)
    path = blend_path(FIXTURE_MODEL, X1, 3, steps=3)
    ts = transfer_sweep(FIXTURE_MODEL, RandomResizePad(FIXTURE_MODEL), X, Y, [0, 2 / 255], steps=1)
    emb = lambda: [embedded()]  # noqa: E731
    return [
        err("blend_path-y-str", lambda: blend_path(TINY, X1, "cat"), T, "y"),
        err("blend_path-batch", lambda: blend_path(TINY, X, 3), V, "x"),
        err("blend_path-steps-1", lambda: blend_path(TINY, X1, 3, steps=1), V, "steps"),
        err("render_blend-t-2", lambda: render_blend(X1, path, 2.0), V, "t"),
        err("render_blend-t-str", lambda: render_blend(X1, path, "half"), T, "t"),
        err("render_blend-path-dict", lambda: render_blend(X1, {"ts": [0]}, 0.5), T, "path"),
        ok("render_blend-ok", lambda: render_blend(X1, path, 0.5), lambda r: len(r.axes) == 3, lambda: []),
        err("render_transfer-sweep-list", lambda: render_transfer([0.1], 0.1), T, "sweep"),
        err("render_transfer-eps-off-grid", lambda: render_transfer(ts, 1 / 255), V, "eps"),
        err("render_transfer-eps-str", lambda: render_transfer(ts, "2/255"), T, "eps"),
        err("render_transfer-photo-9", lambda: render_transfer(ts, 2 / 255, photo=9), V, "photo"),
        err("render_transfer-names-short", lambda: render_transfer(ts, 2 / 255, photo=2, names=["a"]), V, "names"),
        ok("render_transfer-ok", lambda: render_transfer(ts, 2 / 255, photo=1), lambda r: len(r.axes) == 2,
           lambda: []),
        err("render_classification-typo", lambda: render_classification("chelsa_cat", embedded()), IL, "did you mean",
            emb),
        err("render_classification-model-str", lambda: render_classification("chelsea_cat", "lite0"), T, "model"),
        err("render_classification-topk-0", lambda: render_classification("chelsea_cat", embedded(), topk=0), V,
            "topk", emb),
        err("render_noise-kind", lambda: render_noise(embedded(), "chelsea_cat", 0.1, kind="salt"), V, "kind", emb),
        err("render_noise-level-8", lambda: render_noise(embedded(), "chelsea_cat", 8), V, "level", emb),
        err("render_noise-level-str", lambda: render_noise(embedded(), "chelsea_cat", "8/255"), T, "level", emb),
        err("render_noise-photo-typo", lambda: render_noise(embedded(), "chelsa_cat", 0.1), V, "did you mean", emb),
        err("render_noise-model-str", lambda: render_noise("lite0", "chelsea_cat", 0.1), T, "model"),
        err("render_eps-eps-off-grid", lambda: render_eps(sw, 0, 3 / 255), V, "eps"),
        err("render_eps-photo-9", lambda: render_eps(sw, 9, 1 / 255), V, "photo"),
        err("render_eps-sw-none", lambda: render_eps(None, 0, 1 / 255), T, "sw"),
        err("sweep-grid-decreasing", lambda: sweep(TINY, X, Y, [2 / 255, 1 / 255]), V, "eps_grid"),
        err("sweep-grid-8", lambda: sweep(TINY, X, Y, [0, 8]), V, "eps_grid"),
        err("sweep-targeted-str", lambda: sweep(TINY, X, Y, [0], targeted="no"), T, "targeted"),
        err("sweep-y-short", lambda: sweep(TINY, X, Y[:2], [0]), V, "y"),
        err("pgd_trace-eps-8", lambda: pgd_trace(TINY, X, Y, eps=8, step_size=0.01, steps=1), V, "eps"),
        err("pgd_trace-random_start-str", lambda: pgd_trace(TINY, X, Y, eps=0.01, step_size=0.01, steps=1,
                                                            random_start="no"), T, "random_start"),
        err("render_pgd-step-off-grid", lambda: render_pgd(grid, 3 / 255, 1), V, "step_size"),
        err("render_pgd-steps-too-many", lambda: render_pgd(grid, 1 / 255, 9), V, "steps"),
        err("render_pgd-photo-9", lambda: render_pgd(grid, 1 / 255, 1, photo=9), V, "photo"),
        err("render_binary-px-str", lambda: render_binary("1", 0.5), T, "px"),
        err("render_binary-overshoot-negative", lambda: render_binary(0.5, 0.5, overshoot=-1), V, "overshoot"),
        err("render_multiclass-py-nan", lambda: render_multiclass(0.5, float("nan")), V, "py"),
        err("render_photo-photo-9", lambda: render_photo(9, X, X, Y, Y, Y, list("abcd")), V, "photo"),
        err("render_descent-lr-str", lambda: render_descent("0.1"), T, "lr"),
        err("render_descent-steps-float", lambda: render_descent(0.1, steps=2.5), T, "steps"),
        err("render_scenario-unknown", lambda: render_scenario("nope"), V, "key"),
        ok("render_feedback-incomplete", lambda: render_feedback(render_keys()[0], None, "targeted"),
           lambda r: "not yet" in r, lambda: []),
        ok("render_binary-ok", lambda: render_binary(0.5, 0.5), lambda r: len(r.axes) == 1, lambda: []),
    ]


def render_keys() -> list[str]:
    from advcourse.foundations.threat_models import SCENARIOS

    return list(SCENARIOS)


def exercise_cases() -> list[Case]:
    from advcourse.exercises import deepfool as e7
    from advcourse.exercises import defences as e8
    from advcourse.exercises import fgsm as e5
    from advcourse.exercises import gradients as e4
    from advcourse.exercises import noise as e2
    from advcourse.exercises import pgd as e6
    from advcourse.exercises import semantic as e3
    from advcourse.exercises import threat_models as e1
    from advcourse.widgets.fgsm import sweep

    sw = sweep(FIXTURE_MODEL, X, Y, [0, 1 / 255, 2 / 255])
    wrong = lambda r: not r.ok and len(r.message) > 10  # noqa: E731  a hint, not a crash
    right = lambda r: r.ok  # noqa: E731
    grid = [0, 8 / 255, 64 / 255]
    return [
        # 01 threat models
        ok("ex1-app_store-int", lambda: e1.check_app_store(3), wrong, lambda: []),
        ok("ex1-app_store-unanswered", lambda: e1.check_app_store(...), wrong, lambda: []),
        ok("ex1-app_store-right", lambda: e1.check_app_store(("white", "targeted")), right, lambda: []),
        ok("ex1-usable-str", lambda: e1.check_usable_attacks("fgsm"), wrong, lambda: []),
        ok("ex1-usable-unknown", lambda: e1.check_usable_attacks({"zap"}), wrong, lambda: []),
        err("ex1-usable-scenario-str", lambda: e1.check_usable_attacks({"fgsm"}, scenario=3), T, "scenario", lambda: []),
        # 02 noise
        ok("ex2-smallest-str", lambda: e2.check_smallest_eps("8/255", model=TINY_IMAGENET(), photo="chelsea_cat",
                                                            levels=grid), wrong, lambda: [TINY_IMAGENET()]),
        err("ex2-smallest-model-str", lambda: e2.check_smallest_eps(0.1, model="lite0", photo="chelsea_cat",
                                                                   levels=grid), T, "model", lambda: []),
        err("ex2-smallest-photo-typo", lambda: e2.check_smallest_eps(0.1, model=TINY_IMAGENET(), photo="chelsa_cat",
                                                                    levels=grid), V, "did you mean",
            lambda: [TINY_IMAGENET()]),
        err("ex2-smallest-levels-float", lambda: e2.check_smallest_eps(0.1, model=TINY_IMAGENET(), photo="chelsea_cat",
                                                                      levels=0.1), T, "levels",
            lambda: [TINY_IMAGENET()]),
        err("ex2-smallest-levels-8", lambda: e2.check_smallest_eps(0.1, model=TINY_IMAGENET(), photo="chelsea_cat",
                                                                  levels=[0, 8]), V, "levels",
            lambda: [TINY_IMAGENET()]),
        err("ex2-smallest-seed-str", lambda: e2.check_smallest_eps(0.1, model=TINY_IMAGENET(), photo="chelsea_cat",
                                                                  levels=grid, seed="0"), T, "seed",
            lambda: [TINY_IMAGENET()]),
        ok("ex2-sigma-str", lambda: e2.check_matching_sigma("eps/3"), wrong, lambda: []),
        err("ex2-sigma-eps-str", lambda: e2.check_matching_sigma(0.1, eps="16/255"), T, "eps", lambda: []),
        err("ex2-sigma-eps-8", lambda: e2.check_matching_sigma(0.1, eps=8), V, "eps", lambda: []),
        ok("ex2-threat-int", lambda: e2.check_noise_threat_model(3), wrong, lambda: []),
        # 03 semantic
        ok("ex3-centred-str", lambda: e3.check_centred_negative("1 - x", X), wrong),
        ok("ex3-centred-uint8", lambda: e3.check_centred_negative((X * 255).byte(), X), wrong),
        err("ex3-centred-x-list", lambda: e3.check_centred_negative(X, [[0.5]]), T, "x", lambda: []),
        err("ex3-centred-x-255", lambda: e3.check_centred_negative(X, X * 255), V, "x", lambda: []),
        ok("ex3-centred-right", lambda: e3.check_centred_negative(1 - X, X), right, lambda: []),
        err("ex3-blend-t-str", lambda: e3.check_blend(X, X, t="0.25"), T, "t", lambda: []),
        err("ex3-blend-t-2", lambda: e3.check_blend(X, X, t=2.0), V, "t", lambda: []),
        err("ex3-blend-x-none", lambda: e3.check_blend(X, None), T, "x", lambda: []),
        # 04 gradients
        ok("ex4-derivative-str", lambda: e4.check_derivative("-3"), wrong, lambda: []),
        ok("ex4-derivative-nan", lambda: e4.check_derivative(float("nan")), wrong, lambda: []),
        err("ex4-derivative-x0-str", lambda: e4.check_derivative(-3.0, x0="0.5"), T, "x0", lambda: []),
        ok("ex4-input_gradient-list", lambda: e4.check_input_gradient([1.0], TINY, X, Y), wrong),
        ok("ex4-input_gradient-tuple", lambda: e4.check_input_gradient((X,), TINY, X, Y), wrong),
        err("ex4-input_gradient-model-str", lambda: e4.check_input_gradient(X, "model", X, Y), T, "model", lambda: []),
        err("ex4-input_gradient-y-short", lambda: e4.check_input_gradient(X, TINY, X, Y[:2]), V, "y"),
        err("ex4-input_gradient-x-255", lambda: e4.check_input_gradient(X, TINY, X * 255, Y), V, "x"),
        ok("ex4-input_gradient-right", lambda: e4.check_input_gradient(explain.input_gradient(TINY, X, Y), TINY, X, Y),
           right),
        # 05 fgsm
        ok("ex5-by_hand-str", lambda: e5.check_fgsm_by_hand("x_adv", TINY, X, Y, 2 / 255), wrong),
        err("ex5-by_hand-eps-str", lambda: e5.check_fgsm_by_hand(X, TINY, X, Y, "2/255"), T, "eps"),
        err("ex5-by_hand-eps-8", lambda: e5.check_fgsm_by_hand(X, TINY, X, Y, 8), V, "eps"),
        err("ex5-by_hand-model-str", lambda: e5.check_fgsm_by_hand(X, "model", X, Y, 2 / 255), T, "model", lambda: []),
        err("ex5-by_hand-targeted-str", lambda: e5.check_fgsm_by_hand(X, TINY, X, Y, 2 / 255, targeted="no"), T,
            "targeted"),
        ok("ex5-by_hand-right", lambda: e5.check_fgsm_by_hand(fgsm(TINY, X, Y, eps=2 / 255), TINY, X, Y, 2 / 255), right),
        ok("ex5-half-str", lambda: e5.check_half_accuracy_eps("2/255", sw, Y), wrong, lambda: []),
        err("ex5-half-sw-str", lambda: e5.check_half_accuracy_eps(1 / 255, "sweep", Y), T, "sw", lambda: []),
        err("ex5-half-y-short", lambda: e5.check_half_accuracy_eps(1 / 255, sw, Y[:2]), V, "y", lambda: []),
        # 06 pgd
        ok("ex6-projection-list", lambda: e6.check_projection([0.5], X, X, 2 / 255), wrong, lambda: []),
        err("ex6-projection-eps-str", lambda: e6.check_projection(X, X, X, "2/255"), T, "eps", lambda: []),
        err("ex6-projection-z-shape", lambda: e6.check_projection(X, X, X[:1, :1], 2 / 255), V, "z", lambda: []),
        err("ex6-projection-x-str", lambda: e6.check_projection(X, "x", X, 2 / 255), T, "x", lambda: []),
        ok("ex6-steps-float", lambda: e6.check_gradient_steps(2.5, torch.tensor([1, 2])), wrong, lambda: []),
        err("ex6-steps-iterations-list", lambda: e6.check_gradient_steps(3, [1, 2]), T, "iterations", lambda: []),
        ok("ex6-steps-right", lambda: e6.check_gradient_steps(3, torch.tensor([1, 2])), right, lambda: []),
        ok("ex6-rim-str", lambda: e6.check_steps_to_rim("4", 8 / 255, 2 / 255), wrong, lambda: []),
        err("ex6-rim-step-0", lambda: e6.check_steps_to_rim(4, 8 / 255, 0), V, "step_size", lambda: []),
        err("ex6-rim-eps-str", lambda: e6.check_steps_to_rim(4, "8/255", 2 / 255), T, "eps", lambda: []),
        ok("ex6-rim-right", lambda: e6.check_steps_to_rim(4, 8 / 255, 2 / 255), right, lambda: []),
        # 07 deepfool
        ok("ex7-distance-str", lambda: e7.check_projection_distance("2.4"), wrong, lambda: []),
        ok("ex7-distance-list", lambda: e7.check_projection_distance([2.4]), wrong, lambda: []),
        ok("ex7-landing-float", lambda: e7.check_landing_class(1.5), wrong, lambda: []),
        ok("ex7-landing-lower", lambda: e7.check_landing_class("z"), wrong, lambda: []),
        # 08 defences
        ok("ex8-robust-str", lambda: e8.check_robust_beyond_budget("0.4", TINY, X, Y, eps=0.1), wrong),
        ok("ex8-robust-percent", lambda: e8.check_robust_beyond_budget(40, TINY, X, Y, eps=0.1), wrong),
        err("ex8-robust-eps-str", lambda: e8.check_robust_beyond_budget(0.4, TINY, X, Y, eps="0.1"), T, "eps"),
        err("ex8-robust-model-str", lambda: e8.check_robust_beyond_budget(0.4, "m", X, Y, eps=0.1), T, "model",
            lambda: []),
        err("ex8-robust-y-short", lambda: e8.check_robust_beyond_budget(0.4, TINY, X, Y[:1], eps=0.1), V, "y"),
        err("ex8-robust-steps-str", lambda: e8.check_robust_beyond_budget(0.4, TINY, X, Y, eps=0.1, steps="3"), T,
            "steps"),
        ok("ex8-eot-float", lambda: e8.check_eot_cost(80.0, steps=10, samples=8), wrong, lambda: []),
        err("ex8-eot-steps-str", lambda: e8.check_eot_cost(80, steps="10", samples=8), T, "steps", lambda: []),
        err("ex8-eot-samples-0", lambda: e8.check_eot_cost(80, steps=10, samples=0), V, "samples", lambda: []),
        ok("ex8-eot-right", lambda: e8.check_eot_cost(80, steps=10, samples=8), right, lambda: []),
    ]


_TINY_IMAGENET: list[nn.Module] = []


def TINY_IMAGENET() -> nn.Module:  # noqa: N802
    """A tiny 1000-class CNN for the checks that need an ImageNet-sized output (fast at 224 px)."""
    if not _TINY_IMAGENET:
        net = tiny_cnn(seed=7, num_classes=1000).train()
        net[5].eval()
        _TINY_IMAGENET.append(net)
    return _TINY_IMAGENET[0]


def cli_cases() -> list[Case]:
    emb = lambda: [embedded()]  # noqa: E731
    return [
        cli_err("cli-eps-8", ["attack", "chelsea_cat", "--eps", "8"], "did you mean 8/255"),
        cli_err("cli-eps-255", ["attack", "chelsea_cat", "--eps", "255"], "--eps"),
        cli_err("cli-eps-1e999", ["attack", "chelsea_cat", "--eps", "1e999"], "--eps"),
        cli_err("cli-eps-nan", ["attack", "chelsea_cat", "--eps", "nan"], "--eps"),
        cli_err("cli-eps-inf", ["attack", "chelsea_cat", "--eps", "inf"], "--eps"),
        cli_err("cli-eps-negative", ["attack", "chelsea_cat", "--eps", "-1/255"], "--eps"),
        cli_err("cli-eps-word", ["attack", "chelsea_cat", "--eps", "eight"], "--eps"),
        cli_err("cli-eps-div0", ["attack", "chelsea_cat", "--eps", "8/0"], "--eps"),
        cli_err("cli-step-size-2", ["attack", "chelsea_cat", "--attack", "pgd", "--step-size", "2"], "--step-size"),
        cli_err("cli-steps-float", ["attack", "chelsea_cat", "--attack", "pgd", "--steps", "2.5"], "--steps"),
        cli_err("cli-steps-huge", ["attack", "chelsea_cat", "--attack", "pgd", "--steps", "1000000000"], "--steps"),
        cli_err("cli-seed-negative", ["attack", "chelsea_cat", "--attack", "pgd", "--seed", "-1"], "--seed"),
        cli_err("cli-seed-word", ["attack", "chelsea_cat", "--attack", "pgd", "--seed", "abc"], "--seed"),
        cli_err("cli-out-dir", ["attack", "chelsea_cat", "--out", "/tmp"], "--out"),
        cli_err("cli-out-no-ext", ["attack", "chelsea_cat", "--out", "/tmp/figure"], "--out"),
        cli_err("cli-out-bad-ext", ["attack", "chelsea_cat", "--out", "/tmp/figure.docx"], "--out"),
        cli_err("cli-out-no-folder", ["attack", "chelsea_cat", "--out", "/no/such/dir/a.png"], "--out"),
        cli_err("cli-sample-typo", ["classify", "chelsa_cat"], "did you mean 'chelsea_cat'"),
        cli_err("cli-sample-case", ["classify", "Chelsea_Cat"], "did you mean 'chelsea_cat'"),
        cli_err("cli-attack-sample-typo", ["attack", "chelsa_cat", "--out", "/tmp/x.png"], "did you mean 'chelsea_cat'"),
        cli_err("cli-sample-unknown", ["classify", "zebra_crossing"], "image"),
        cli_err("cli-missing-file", ["classify", "/no/such/file.jpg"], "no such file"),
        cli_err("cli-attack-unknown", ["attack", "chelsea_cat", "--attack", "zap"], "--attack"),
        cli_err("cli-model-unknown", ["classify", "chelsea_cat", "--model", "vit_h_14"], "--model"),
        cli_err("cli-device-bad", ["classify", "chelsea_cat", "--device", "gpu"], "--device"),
        cli_err("cli-topk-0", ["classify", "chelsea_cat", "--topk", "0"], "--topk"),
        cli_err("cli-topk-word", ["classify", "chelsea_cat", "--topk", "five"], "--topk"),
        cli_err("cli-deepfool-eps", ["attack", "chelsea_cat", "--attack", "deepfool", "--eps", "2/255"], "--eps"),
        cli_err("cli-semantic-steps", ["attack", "chelsea_cat", "--attack", "semantic", "--steps", "3"], "--steps"),
        cli_err("cli-target-1000", ["attack", "chelsea_cat", "--target", "1000"], "--target"),
        cli_err("cli-target-typo", ["attack", "chelsea_cat", "--target", "neckbrace", "--out", "/tmp/x.png",
                                    "--device", "cpu"], "did you mean 'neck brace'"),
        cli_err("cli-no-command", [], "command"),
        cli_err("cli-unknown-command", ["frobnicate"], "invalid choice"),
        cli_err("cli-unknown-option", ["classify", "chelsea_cat", "--colour"], "--colour"),
        cli_err("cli-ftp", ["classify", "ftp://example.com/cat.png"], "ftp"),
        cli_ok("cli-classify", ["classify", "chelsea_cat", "--topk", "2", "--device", "cpu"], "cat", emb),
        cli_ok("cli-samples", ["samples"], "chelsea_cat"),
        cli_ok("cli-pgd-seed-repeatable", ["attack", "chelsea_cat", "--attack", "pgd", "--steps", "2", "--seed", "5",
                                           "--device", "cpu"], "pgd:", emb),
    ]


def extraction_cases() -> list[Case]:
    """13's extraction: the API, the thief, agreement, the curve and the transfer rate."""
    from advcourse.privacy import extraction as ex

    g = torch.rand(8, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    gy = torch.arange(8) % 4
    dig = tiny_cnn(seed=2, channels=1).train()  # TINY's traps on a one-channel digits model
    dig[1].eval()
    dig[0].bias.requires_grad_(False)
    dig[4].weight.grad = torch.full_like(dig[4].weight, 0.5)
    on_dig = lambda: [dig]  # noqa: E731
    both = lambda: [dig, TINY]  # noqa: E731
    return [
        err("query-victim-str", lambda: ex.query("net", g), T, "victim"),
        err("query-x-255", lambda: ex.query(dig, g * 255), V, "x", models=on_dig),
        err("query-x-colour-for-grey-model", lambda: ex.query(dig, X), V, "x", models=on_dig),
        err("query-labels_only-str", lambda: ex.query(dig, g, labels_only="yes"), T, "labels_only", models=on_dig),
        err("query-decimals-negative", lambda: ex.query(dig, g, decimals=-1), V, "decimals", models=on_dig),
        err("query-decimals-float", lambda: ex.query(dig, g, decimals=2.0), T, "decimals", models=on_dig),
        ok("query-rounded", lambda: ex.query(dig, g, decimals=1),
           lambda r: r.shape == (8, 10) and bool(((r * 10 - (r * 10).round()).abs() < 1e-4).all()), models=on_dig),
        ok("query-labels-only", lambda: ex.query(TINY, X, labels_only=True),
           lambda r: r.shape == (4,) and r.dtype == torch.long),
        err("steal-victim-str", lambda: ex.steal("net", g), T, "victim"),
        err("steal-queries-none", lambda: ex.steal(dig, None), T, "queries", models=on_dig),
        err("steal-queries-colour", lambda: ex.steal(TINY, X), V, "queries"),
        err("steal-queries-16px", lambda: ex.steal(dig, torch.rand(4, 1, 16, 16)), V, "queries", models=on_dig),
        err("steal-queries-for-colour-victim", lambda: ex.steal(TINY, g), V, "queries"),
        err("steal-queries-float64", lambda: ex.steal(dig, g.double()), T, "queries", models=on_dig),
        err("steal-steps-0", lambda: ex.steal(dig, g, steps=0), V, "steps", models=on_dig),
        err("steal-lr-0", lambda: ex.steal(dig, g, lr=0), V, "lr", models=on_dig),
        err("steal-batch_size-float", lambda: ex.steal(dig, g, batch_size=8.0), T, "batch_size", models=on_dig),
        err("steal-width-0", lambda: ex.steal(dig, g, width=0), V, "width", models=on_dig),
        err("steal-seed-negative", lambda: ex.steal(dig, g, seed=-1), V, "seed", models=on_dig),
        ok("steal-tiny", lambda: ex.steal(dig, g, steps=2),
           lambda r: not r.training and all(p.grad is None for p in r.parameters()), models=on_dig),
        err("agreement-a-str", lambda: ex.agreement("net", dig, g), T, "a", models=on_dig),
        err("agreement-b-none", lambda: ex.agreement(dig, None, g), T, "b", models=on_dig),
        err("agreement-x-nan", lambda: ex.agreement(dig, dig, g.masked_fill(g > 0.9, float("nan"))), V, "x",
            models=on_dig),
        ok("agreement-self", lambda: ex.agreement(dig, dig, g), lambda r: r == 1.0, models=on_dig),
        err("extraction_curve-budgets-int", lambda: ex.extraction_curve(dig, g, g, 4), T, "budgets", models=on_dig),
        err("extraction_curve-budgets-empty", lambda: ex.extraction_curve(dig, g, g, []), V, "budgets", models=on_dig),
        err("extraction_curve-budgets-zero", lambda: ex.extraction_curve(dig, g, g, [0, 4]), V, "budgets",
            models=on_dig),
        err("extraction_curve-budgets-decreasing", lambda: ex.extraction_curve(dig, g, g, [8, 4]), V, "budgets",
            models=on_dig),
        err("extraction_curve-budgets-beyond-pool", lambda: ex.extraction_curve(dig, g, g, [4, 9]), V, "budgets",
            models=on_dig),
        err("extraction_curve-pool-colour", lambda: ex.extraction_curve(dig, X, g, [4]), V, "pool", models=on_dig),
        err("extraction_curve-x_test-colour", lambda: ex.extraction_curve(dig, g, X, [4]), V, "x_test", models=on_dig),
        err("extraction_curve-decimals-none", lambda: ex.extraction_curve(dig, g, g, [4], decimals=None), T,
            "decimals", models=on_dig),
        err("extraction_curve-progress-str", lambda: ex.extraction_curve(dig, g, g, [4], progress="no"), T,
            "progress", models=on_dig),
        ok("extraction_curve-tiny", lambda: ex.extraction_curve(dig, g, g, [4, 8], steps=2, progress=False),
           lambda r: r.budgets == [4, 8] and r.rounded_labels == r.labels and len(r.probabilities) == 2,
           models=on_dig),
        err("transfer_rate-surrogate-str", lambda: ex.transfer_rate("net", dig, g, gy, eps=0.1), T, "surrogate",
            models=on_dig),
        err("transfer_rate-y-none", lambda: ex.transfer_rate(dig, dig, g, None, eps=0.1), T, "y", models=on_dig),
        err("transfer_rate-y-short", lambda: ex.transfer_rate(dig, dig, g, gy[:3], eps=0.1), V, "y", models=on_dig),
        err("transfer_rate-eps-8", lambda: ex.transfer_rate(dig, dig, g, gy, eps=8), V, "eps", models=on_dig),
        err("transfer_rate-steps-0", lambda: ex.transfer_rate(dig, dig, g, gy, eps=0.1, steps=0), V, "steps",
            models=on_dig),
        err("transfer_rate-colour-surrogate", lambda: ex.transfer_rate(TINY, dig, g, gy, eps=0.1), V, "x",
            models=both),
        ok("transfer_rate-eps-0", lambda: ex.transfer_rate(dig, dig, g, ex.query(dig, g, labels_only=True), eps=0.0,
                                                           steps=1), lambda r: r == 0.0, models=on_dig),
    ]


def inversion_cases() -> list[Case]:
    """13's model inversion."""
    from advcourse.privacy import inversion as inv

    xs = torch.rand(20, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    ys = torch.arange(20) % 10
    return [
        err("invert-model-str", lambda: inv.invert("net", [0]), T, "model"),
        err("invert-targets-int", lambda: inv.invert(TINY, 3, shape=(3, 8, 8)), T, "targets"),
        err("invert-targets-float", lambda: inv.invert(TINY, torch.tensor([0.5]), shape=(3, 8, 8)), T, "targets"),
        err("invert-targets-empty", lambda: inv.invert(TINY, [], shape=(3, 8, 8)), V, "targets"),
        err("invert-targets-negative", lambda: inv.invert(TINY, [-1], shape=(3, 8, 8)), V, "targets"),
        err("invert-targets-beyond-classes", lambda: inv.invert(TINY, [0, 10], shape=(3, 8, 8), steps=2), V, "targets"),
        err("invert-steps-0", lambda: inv.invert(TINY, [0], shape=(3, 8, 8), steps=0), V, "steps"),
        err("invert-steps-float", lambda: inv.invert(TINY, [0], shape=(3, 8, 8), steps=2.5), T, "steps"),
        err("invert-lr-0", lambda: inv.invert(TINY, [0], shape=(3, 8, 8), lr=0), V, "lr"),
        err("invert-tv_weight-negative", lambda: inv.invert(TINY, [0], shape=(3, 8, 8), tv_weight=-1), V, "tv_weight"),
        err("invert-ink_weight-str", lambda: inv.invert(TINY, [0], shape=(3, 8, 8), ink_weight="0.1"), T, "ink_weight"),
        err("invert-edge_weight-inf", lambda: inv.invert(TINY, [0], shape=(3, 8, 8), edge_weight=float("inf")), V,
            "edge_weight"),
        err("invert-loss-unknown", lambda: inv.invert(TINY, [0], shape=(3, 8, 8), loss="hinge"), V, "loss"),
        err("invert-start-2", lambda: inv.invert(TINY, [0], shape=(3, 8, 8), start=2.0), V, "start"),
        err("invert-start-other-shape", lambda: inv.invert(TINY, [0, 1], shape=(3, 8, 8), start=X[:1]), V, "start"),
        err("invert-start-str", lambda: inv.invert(TINY, [0], shape=(3, 8, 8), start="grey"), T, "start"),
        err("invert-shape-2d", lambda: inv.invert(TINY, [0], shape=(8, 8)), V, "shape"),
        err("invert-shape-1-channel", lambda: inv.invert(TINY, [0]), V, "shape"),
        err("invert-shape-not-the-models", lambda: inv.invert(LINEAR, [0], shape=(1, 16, 16)), V, "shape",
            models=lambda: [LINEAR]),
        ok("invert-tiny", lambda: inv.invert(TINY, [0, 9], shape=(3, 8, 8), steps=3),
           lambda r: r.shape == (2, 3, 8, 8) and 0 <= float(r.min()) and float(r.max()) <= 1),
        err("inversion_study-y_train-none", lambda: inv.inversion_study(TINY, xs, None), T, "y_train"),
        err("inversion_study-x_train-255", lambda: inv.inversion_study(TINY, xs * 255, ys), V, "x_train"),
        err("inversion_study-x_train-1-channel", lambda: inv.inversion_study(TINY, xs[:, :1], ys), V, "x_train"),
        err("inversion_study-missing-class", lambda: inv.inversion_study(TINY, X, Y), V, "y_train"),
        err("inversion_study-y_train-beyond", lambda: inv.inversion_study(TINY, xs, ys + 1), V, "y_train"),
        err("inversion_study-steps-0", lambda: inv.inversion_study(TINY, xs, ys, steps=0), V, "steps"),
        ok("inversion_study-tiny", lambda: inv.inversion_study(TINY, xs, ys, steps=3),
           lambda r: r.prior.shape == (10, 3, 8, 8) and 0 <= r.matches_prior <= 10
           and r.similarity_plain.shape == (10, 10)),
        err("correlation-a-list", lambda: inv.correlation([[0.0]], X), T, "a"),
        err("correlation-sizes", lambda: inv.correlation(X, X[:, :1]), V, "b"),
        err("total_variation-x-2d", lambda: inv.total_variation(torch.zeros(8, 8)), V, "x"),
    ]


def dp_cases() -> list[Case]:
    """13's DP-SGD, membership game, trade-off and exercises: every argument checked before training."""
    from advcourse import privacy as pv
    from advcourse.exercises import privacy as ep
    from advcourse.widgets import privacy as wpv

    g = torch.rand(8, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    gy = torch.arange(8) % 4
    truth = torch.tensor([True, False, True, False])
    shadows = pv.Shadows([TINY, TINY], torch.tensor([[True, False, True, False], [False, True, False, True]]))
    game = pv.MembershipGame({"LiRA": torch.rand(4, dtype=torch.float64), "loss": torch.rand(4, dtype=torch.float64)},
                             truth, 0.5)
    none = lambda: []  # noqa: E731  (no user model involved)
    return [
        err("dp_train-epsilon-0", lambda: pv.dp_train(g, gy, epsilon=0), V, "epsilon", models=none),
        err("dp_train-epsilon-str", lambda: pv.dp_train(g, gy, epsilon="1"), T, "epsilon", models=none),
        err("dp_train-epsilon-unreachable", lambda: pv.dp_train(g, gy, epsilon=1e-4, epochs=50), V, "epsilon",
            models=none),
        err("dp_train-delta-1", lambda: pv.dp_train(g, gy, epsilon=1.0, delta=1.0), V, "delta", models=none),
        err("dp_train-delta-0", lambda: pv.dp_train(g, gy, epsilon=1.0, delta=0), V, "delta", models=none),
        err("dp_train-max_grad_norm-0", lambda: pv.dp_train(g, gy, epsilon=1.0, max_grad_norm=0), V, "max_grad_norm",
            models=none),
        err("dp_train-epochs-0", lambda: pv.dp_train(g, gy, epsilon=1.0, epochs=0), V, "epochs", models=none),
        err("dp_train-batch_size-float", lambda: pv.dp_train(g, gy, epsilon=1.0, batch_size=8.0), T, "batch_size",
            models=none),
        err("dp_train-seed-negative", lambda: pv.dp_train(g, gy, epsilon=1.0, seed=-1), V, "seed", models=none),
        err("dp_train-x-colour", lambda: pv.dp_train(X, Y, epsilon=1.0), V, "x", models=none),
        err("dp_train-y-none", lambda: pv.dp_train(g, None, epsilon=1.0), T, "y", models=none),
        err("dp_train-y-10", lambda: pv.dp_train(g, gy + 9, epsilon=1.0), V, "y", models=none),
        ok("dp_train-tiny", lambda: pv.dp_train(g, gy, epsilon=8.0, epochs=1),
           lambda r: not r.model.training and 0 < r.epsilon <= 8.0 and r.noise_multiplier > 0, models=none),
        ok("dp_train-no-dp", lambda: pv.dp_train(g, gy, epsilon=None, epochs=1),
           lambda r: r.epsilon == float("inf") and r.noise_multiplier == 0, models=none),
        err("dp_shadow_models-n_models-1", lambda: pv.dp_shadow_models(g, gy, n_models=1, epsilon=1.0), V, "n_models",
            models=none),
        err("dp_shadow_models-epsilon-negative", lambda: pv.dp_shadow_models(g, gy, n_models=2, epsilon=-1), V,
            "epsilon", models=none),
        err("dp_shadow_models-generator-int", lambda: pv.dp_shadow_models(g, gy, n_models=2, epsilon=1.0, generator=1),
            T, "generator", models=none),
        err("tpr_bound-epsilon-negative", lambda: pv.tpr_bound(-1.0, 0.0, 0.01), V, "epsilon", models=none),
        err("tpr_bound-fpr-str", lambda: pv.tpr_bound(1.0, 0.0, "1%"), T, "fpr", models=none),
        err("membership_game-shadows-list", lambda: pv.membership_game([TINY], X, Y), T, "shadows"),
        err("membership_game-two-models", lambda: pv.membership_game(shadows, g[:4], gy[:4]), V, "shadows"),
        err("membership_game-x-colour", lambda: pv.membership_game(shadows, X, Y), V, "x"),
        err("membership_game-targets-0",
            lambda: pv.membership_game(pv.Shadows([TINY] * 3, shadows.members[[0, 1, 0]]), g[:4], gy[:4], targets=0),
            V, "targets"),
        err("MembershipGame.tpr-attack-unknown", lambda: game.tpr("Shokri", 0.01), V, "attack", models=none),
        err("best_accuracy-is_member-float", lambda: pv.best_accuracy(torch.rand(4), truth.float()), T, "is_member",
            models=none),
        err("exposure-n-not-a-divisor", lambda: pv.exposure(game, 3), V, "n", models=none),
        err("exposure-n-0", lambda: pv.exposure(game, 0), V, "n", models=none),
        err("plot_roc-curves-list", lambda: pv.plot_roc([game.roc("LiRA")]), T, "curves", models=none),
        err("plot_roc-curves-empty", lambda: pv.plot_roc({}), V, "curves", models=none),
        err("plot_exposure-leak-short", lambda: pv.plot_exposure(g, gy, torch.rand(3)), V, "leak", models=none),
        err("plot_exposure-k-9", lambda: pv.plot_exposure(g, gy, torch.rand(8), k=9), V, "k", models=none),
        err("privacy_tradeoff-epsilons-empty", lambda: pv.privacy_tradeoff(g, gy, epsilons=[]), V, "epsilons",
            models=none),
        err("privacy_tradeoff-epsilons-float", lambda: pv.privacy_tradeoff(g, gy, epsilons=1.0), T, "epsilons",
            models=none),
        err("privacy_tradeoff-n_models-3", lambda: pv.privacy_tradeoff(g, gy, n_models=3), V, "n_models", models=none),
        err("render_threshold-game-dict", lambda: wpv.render_threshold({}, 0.01), T, "game", models=none),
        err("render_threshold-fpr-1", lambda: wpv.render_threshold(game, 1.0), V, "fpr", models=none),
        err("render_threshold-fpr-0", lambda: wpv.render_threshold(game, 0.0), V, "fpr", models=none),
        err("threshold_caption-fpr-str", lambda: wpv.threshold_caption(game, "1%"), T, "fpr", models=none),
        err("threshold_app-game-none", lambda: wpv.threshold_app(None), T, "game", models=none),
        ok("threshold_caption-game", lambda: wpv.threshold_caption(game, 0.5),
           lambda r: "LiRA finds" in r and "loss finds" in r, models=none),
        err("check_tpr_at_fpr-fpr-1", lambda: ep.check_tpr_at_fpr(0.5, torch.rand(4), truth, 1.0), V, "fpr",
            models=none),
        err("check_tpr_at_fpr-is_member-int", lambda: ep.check_tpr_at_fpr(0.5, torch.rand(4), truth.long(), 0.01), T,
            "is_member", models=none),
        ok("check_tpr_at_fpr-unanswered", lambda: ep.check_tpr_at_fpr(..., torch.rand(4), truth, 0.01),
           lambda r: not r.ok, models=none),
        ok("check_tpr_at_fpr-right", lambda: ep.check_tpr_at_fpr(1.0, torch.tensor([0.9, 0.1, 0.8, 0.2]), truth, 0.0),
           lambda r: r.ok, models=none),
        err("check_epsilon_needed-tpr-2", lambda: ep.check_epsilon_needed(1.0, tpr=2.0, fpr=0.01), V, "tpr",
            models=none),
        err("check_epsilon_needed-tpr-below-fpr", lambda: ep.check_epsilon_needed(1.0, tpr=0.01, fpr=0.05), V, "tpr",
            models=none),
        err("check_epsilon_needed-delta-negative", lambda: ep.check_epsilon_needed(1.0, tpr=0.05, fpr=0.01, delta=-1),
            V, "delta", models=none),
        ok("check_epsilon_needed-e-to-the", lambda: ep.check_epsilon_needed(5.0, tpr=0.05, fpr=0.01),
           lambda r: not r.ok and "logarithm" in r.message, models=none),
    ]


def challenge_cases() -> list[Case]:
    """The workshop challenge's folder and client: every argument checked before any work or request."""
    from advcourse import challenge as ch
    from advcourse.challenge.client import call
    from advcourse.models.nets import DigitsCNN
    from advcourse.exercises import room

    empty = Path(tempfile.mkdtemp())
    task = ch.Task("http://127.0.0.1:9", "code", torch.zeros(3, 1, 8, 8), torch.zeros(3, dtype=torch.long), "linf",
                   0.1, "0" * 64)
    none = lambda: []  # noqa: E731  (no user model involved)
    return [
        err("init_challenge-model-unknown", lambda: ch.init_challenge(empty / "a", model="resnet18"), V, "model",
            models=none),
        err("init_challenge-norm-l1", lambda: ch.init_challenge(empty / "b", norm="l1"), V, "norm", models=none),
        err("init_challenge-eps-0", lambda: ch.init_challenge(empty / "c", eps=0), V, "eps", models=none),
        err("init_challenge-eps-str", lambda: ch.init_challenge(empty / "d", eps="8/255"), T, "eps", models=none),
        err("init_challenge-n_inputs-0", lambda: ch.init_challenge(empty / "e", n_inputs=0), V, "n_inputs", models=none),
        err("init_challenge-directory-a-file", lambda: ch.init_challenge(Path(__file__)), V, "directory", models=none),
        err("init_challenge-queries-negative", lambda: ch.init_challenge(empty / "f", queries=-1), V, "queries",
            models=none),
        err("init_challenge-white_box-str", lambda: ch.init_challenge(empty / "g", white_box="yes"), T, "white_box",
            models=none),
        err("add_team-no-challenge", lambda: ch.add_team(empty, "owls"), V, "directory", models=none),
        err("join-url-no-scheme", lambda: ch.join("192.168.1.10:8000", "token"), V, "url", models=none),
        err("join-url-none", lambda: ch.join(None, "token"), V, "url", models=none),
        err("join-token-empty", lambda: ch.join("http://127.0.0.1:9", "  "), V, "token", models=none),
        err("join-unreachable", lambda: ch.join("http://127.0.0.1:9", "token"), ch.ChallengeError, "url", models=none),
        err("init_challenge-defence_floor-percent", lambda: ch.init_challenge(empty / "h", defence_floor=90), V,
            "defence_floor", models=none),
        err("init_challenge-defence_seconds-0", lambda: ch.init_challenge(empty / "i", defence_seconds=0), V,
            "defence_seconds", models=none),
        err("task-submit_defence-state-dict", lambda: task.submit_defence({"w": torch.zeros(1)}), T, "model",
            models=none),
        err("task-submit_defence-wait-negative", lambda: task.submit_defence(torch.nn.Linear(1, 1), wait=-1), V,
            "wait", models=none),
        err("DigitsCNN.from_weights-not-a-state", lambda: DigitsCNN.from_weights({"w": torch.zeros(1)}), V, "state",
            models=none),
        err("call-url-file", lambda: call("file:///etc/passwd"), V, "url", models=none),
        err("call-unreachable", lambda: call("http://127.0.0.1:9/api/task"), ch.ChallengeError, "url", models=none),
        err("task-query-one-image", lambda: task.query(task.inputs[0]), V, "x", models=none),
        err("task-query-list", lambda: task.query([[0.5]]), V, "x", models=none),
        err("task-query-wrong-size", lambda: task.query(torch.zeros(2, 1, 4, 4)), V, "x", models=none),
        err("task-submit-array", lambda: task.submit(task.inputs.numpy()), T, "x_adv", models=none),
        err("join_room-url-ftp", lambda: room.join_room("ftp://host", "code"), V, "url", models=none),
        err("join_room-token-none", lambda: room.join_room("http://127.0.0.1:9", None), V, "token", models=none),
        err("join_room-learner-long", lambda: room.join_room("http://127.0.0.1:9", "c", learner="x" * 41), V,
            "learner", models=none),
        err("join_room-learner-int", lambda: room.join_room("http://127.0.0.1:9", "c", learner=7), V, "learner",
            models=none),
        err("join_room-learner-newline", lambda: room.join_room("http://127.0.0.1:9", "c", learner="a\nb"), V,
            "learner", models=none),
        err("join_room-unreachable", lambda: room.join_room("http://127.0.0.1:9", "code", learner="ada"),
            ch.ChallengeError, "url", models=none),
    ]


def all_cases() -> list[Case]:
    return (attack_cases() + state_cases() + one_call_cases() + image_cases() + model_and_data_cases()
            + evaluate_cases() + defence_cases() + poisoning_cases() + privacy_cases()
            + extraction_cases() + inversion_cases() + dp_cases() + challenge_cases() + widget_cases() + exercise_cases() + cli_cases())


CASES = all_cases()


# ----------------------------------------------------------------------------- running a case
def snapshot(model: nn.Module) -> dict[str, Any]:
    return {
        "modes": [m.training for m in model.modules()],
        "flags": [p.requires_grad for p in model.parameters()],
        "grads": [None if p.grad is None else p.grad.clone() for p in model.parameters()],
        "params": [p.detach().clone() for p in model.parameters()],
        "buffers": [b.clone() for b in model.buffers()],
    }


def same_state(a: dict[str, Any], b: dict[str, Any]) -> str:
    """'' when equal, else what changed."""
    if a["modes"] != b["modes"]:
        return "a submodule's train/eval mode"
    if a["flags"] != b["flags"]:
        return "a parameter's requires_grad"
    for g, h in zip(a["grads"], b["grads"]):
        if (g is None) != (h is None) or (g is not None and not torch.equal(g, h)):
            return "a parameter's .grad"
    if not all(torch.equal(p, q) for p, q in zip(a["params"], b["params"])):
        return "a parameter's value"
    if not all(torch.equal(p, q) for p, q in zip(a["buffers"], b["buffers"])):
        return "a buffer (e.g. BatchNorm statistics)"
    return ""


def _raised_in_advcourse(exc: BaseException) -> bool:
    """The innermost frame of the traceback is advcourse's own code (not torch, PIL or Python)."""
    frames = traceback.extract_tb(exc.__traceback__)
    return bool(frames) and Path(frames[-1].filename).resolve().is_relative_to(PACKAGE)


class _Hang(Exception):
    pass


def _alarm(signum, frame):
    raise _Hang()


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    out_file = "/tmp/advcourse-bad-inputs.png"
    if argv and argv[0] == "attack" and "--out" not in argv and not any(a.startswith("--out") for a in argv):
        argv = argv + ["--out", out_file]
    try:
        code = cli.main(argv)
    except SystemExit as stop:
        code = stop.code
    out, err = capsys.readouterr()
    return code, out, err


def outcome(case: Case, capsys) -> tuple[str, str]:
    """(kind, detail): kind is 'clear error', 'correct result', 'unclear error', 'silent wrong', 'hang'
    or 'state change'."""
    models = case.models()
    before = [REFERENCE.get(id(m)) or snapshot(m) for m in models]
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(DEADLINE_S)
    try:
        if case.call is None:
            code, out, errtext = run_cli(case.argv, capsys)
            if case.error is None:
                if code != 0 or case.out not in out:
                    return "silent wrong", f"status {code}, stdout {out!r}, stderr {errtext!r}"
                again = run_cli(case.argv, capsys)[1] if case.id == "cli-pgd-seed-repeatable" else out
                if again != out:
                    return "silent wrong", f"the same --seed gave a different result: {out!r}, then {again!r}"
                kind, detail = "correct result", out
            else:
                lines = errtext.strip().splitlines()
                clear = (code == 2 and len(lines) == 1 and lines[0].startswith("advcourse: error:")
                         and case.names in lines[0] and "Traceback" not in errtext)
                kind, detail = ("clear error" if clear else "unclear error"), f"status {code}: {errtext!r}"
        else:
            try:
                result = case.call()
            except _Hang:
                raise
            except Exception as exc:  # noqa: BLE001
                message = str(exc)
                if case.error is None:
                    return "unclear error", f"expected a result, got {type(exc).__name__}: {message}"
                clear = (isinstance(exc, case.error) and _raised_in_advcourse(exc) and case.names in message
                         and "\n" not in message.strip())
                kind = "clear error" if clear else "unclear error"
                detail = f"{type(exc).__name__}: {message}"
            else:
                if case.error is not None:
                    return "silent wrong", f"expected {case.error.__name__} naming {case.names!r}, got a result"
                good = case.check(result) if case.check else True
                kind, detail = ("correct result" if good else "silent wrong"), repr(result)[:200]
    except _Hang:
        return "hang", f"no answer within {DEADLINE_S} s"
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    for m, b in zip(models, before):
        changed = same_state(b, snapshot(m))
        if changed:
            return "state change", changed
    return kind, detail


#: TINY as built, before any case (or collection) ran it: every case must leave it exactly so.
REFERENCE = {id(TINY): snapshot(TINY)}

TALLY: Counter = Counter()
FAILURES: list[str] = []


def tally() -> str:
    """The suite's own figure: cases tried, clear errors, correct results and the four failure kinds."""
    kinds = ("clear error", "correct result", "unclear error", "silent wrong", "hang", "state change")
    total = sum(TALLY.values())
    parts = ", ".join(f"{TALLY[k]} {k}s" if k != "silent wrong" else f"{TALLY[k]} silent wrong results"
                      for k in kinds)
    return f"bad-input suite: {total} cases: {parts}"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(case: Case, capsys):
    kind, detail = outcome(case, capsys)
    TALLY[kind] += 1
    if kind not in ("clear error", "correct result"):
        FAILURES.append(f"{case.id}: {kind}: {detail}")
    assert kind in ("clear error", "correct result"), f"{kind}: {detail}"


#: The reported examples, each with the case that covers it (the suite fails if one goes missing).
REPORTED = {
    "predict restores each submodule's mode (one BatchNorm in eval)": "predict-one-batchnorm-in-eval",
    "classify(model=Wrapper(load_model())) leaves the cached model alone": "classify-wrapper-of-cached-model",
    "16-bit PNG": "png-16bit-grey", "EXIF orientation": "jpeg-exif-orientation",
    "RGBA with alpha 0 (hidden RGB)": "png-rgba-alpha0-white", "classify(x*255)": "classify-x255",
    "classify(uint8)": "classify-uint8", "classify(NaN)": "classify-nan", "classify(1 channel)": "classify-1-channel",
    "attack(..., eps=8)": "attack-eps-8", "--eps 8": "cli-eps-8", "semantic(x, max_val=255)": "semantic-max_val-255-on-01",
    "random_start='no'": "attack-random_start-no", "targeted='yes'": "attack-targeted-yes",
    "defences.hit_rate with a wrong-length y": "hit_rate-y-short",
    "evaluate with a wrong-length y": "evaluate_attack-y-long", "defences.evaluate with a wrong-length y":
    "defences.evaluate-y-short", "--out /tmp": "cli-out-dir", "meta-device input": "classify-meta",
    "float64 input": "classify-float64", "a model returning a tuple": "fgsm-model-tuple",
    "a 1x100000 PNG": "png-1x100000", "file:// URL": "url-file-scheme", "ftp:// URL": "url-ftp-scheme",
    "upper-case scheme": "url-FTP-upper", "upper-case http scheme": "url-HTTP-upper",
    "base64 data URI with line breaks": "data-uri-line-breaks", "a str timeout": "url-timeout-str",
    "load_samples('chelsea_cat')": "load_samples-str", "wrong argument types to the defences": "transfer_sweep-eps-str",
    "wrong argument types to the exercise checkers": "ex6-steps-iterations-list", "--eps 1e999": "cli-eps-1e999",
    "a server dripping one byte every 2 s": "url-drip-body", "--seed makes pgd repeatable": "cli-pgd-seed-repeatable",
    "sample typo chelsa_cat": "cli-sample-typo", "sample typo Chelsea_Cat": "cli-sample-case",
}


def test_every_reported_example_has_its_case():
    ids = {c.id for c in CASES}
    assert not [k for k, case in REPORTED.items() if case not in ids]


def test_case_ids_are_unique():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)) and len(ids) >= 250


def test_zz_tally(capsys):
    """Runs last: prints (and writes to test-artifacts/) the tally the closing note quotes."""
    if sum(TALLY.values()) < len(CASES):
        pytest.skip("only part of the suite ran")
    line = tally()
    out = Path(__file__).resolve().parents[1] / "test-artifacts"
    out.mkdir(exist_ok=True)
    (out / "bad_inputs_tally.txt").write_text(line + "\n" + "\n".join(FAILURES) + "\n", encoding="utf-8")
    with capsys.disabled():
        print("\n" + line)
    assert TALLY["clear error"] + TALLY["correct result"] == len(CASES), "\n".join(FAILURES)
