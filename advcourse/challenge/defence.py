"""The defence track: teams upload weights for the course's DigitsCNN, the server attacks them.

A team trains its own defended model (08's adversarial training, say) and uploads its weights as
safetensors — never pickle: the file is a header of names, dtypes and shapes, then raw numbers, and
nothing in it can run. The server checks that the weights fit the fixed architecture (DigitsCNN,
width 16), that the model reads at least ``floor`` of the challenge's digits right (a model that
refuses every answer is not a defence), and scores its worst case over the course's attacks at the
challenge's budget (:func:`~advcourse.evaluation.evaluate.worst_case`: APGD-CE, APGD-T, Square).

Scoring takes seconds to minutes of CPU, so it runs in a separate process with a time limit,
one defence at a time, while the server keeps answering everyone else.
"""

from __future__ import annotations

import math
import multiprocessing
import queue
import threading
import time
from typing import Any

import numpy as np
import torch

from advcourse.challenge.checks import Rejected

__all__ = ["WIDTH", "MAX_WEIGHT_BYTES", "parse_weights", "score_defence", "score_with_time_limit"]

#: The fixed architecture every team's weights must fit: ``DigitsCNN(width=WIDTH)``.
WIDTH = 16
#: Uploads larger than this are refused before parsing (the model's float32 weights are about 153 kB).
MAX_WEIGHT_BYTES = 1_000_000


def _expected() -> dict[str, tuple[int, ...]]:
    from advcourse.models.nets import DigitsCNN

    return {name: tuple(t.shape) for name, t in DigitsCNN(width=WIDTH).state_dict().items()}


def parse_weights(body: bytes) -> dict[str, torch.Tensor]:
    """``body`` (a safetensors file) as a DigitsCNN state dict, checked: the architecture's names and shapes
    exactly, float32, finite. Raises :class:`~advcourse.challenge.checks.Rejected` naming what is wrong."""
    from safetensors import SafetensorError
    from safetensors.torch import load

    if len(body) > MAX_WEIGHT_BYTES:
        raise Rejected(f"upload: {len(body)} bytes, more than the {MAX_WEIGHT_BYTES} allowed")
    try:
        state = load(body)
    except (SafetensorError, ValueError, OverflowError, UnicodeDecodeError) as err:
        if body.startswith(b"PK") or (body[:1] == b"\x80" and body[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05")):
            raise Rejected("weights: a pickle or torch.save file is refused; save with safetensors.torch.save_file") \
                from None
        raise Rejected(f"weights: not a readable safetensors file ({str(err)[:120]})") from None
    expected = _expected()
    missing, extra = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
    if missing or extra:
        raise Rejected(f"weights: DigitsCNN(width={WIDTH}) needs exactly its tensors; missing {missing or 'none'}, "
                       f"unexpected {extra[:5] or 'none'}")
    for name, shape in expected.items():
        tensor = state[name]
        if tuple(tensor.shape) != shape:
            raise Rejected(f"weights: {name} has shape {tuple(tensor.shape)}, DigitsCNN(width={WIDTH}) needs {shape}")
        if tensor.dtype != torch.float32:
            raise Rejected(f"weights: {name} is {tensor.dtype}, expected torch.float32")
        if not torch.isfinite(tensor).all():
            raise Rejected(f"weights: {name} holds NaN or infinite values")
    return state


def score_defence(state: dict[str, torch.Tensor], x: np.ndarray, y: np.ndarray, *, eps: float, norm: str,
                  floor: float) -> dict[str, Any]:
    """Clean accuracy of the weights on ``x`` (N, 1, 8, 8) with labels ``y`` (N,), and — when it reaches
    ``floor`` — their worst-case accuracy over the course's attacks at ``eps`` in ``norm``.

    Returns ``{"status": "scored", "clean", "robust"}`` or ``{"status": "rejected", "clean", "reason"}``.
    """
    from advcourse.evaluation.evaluate import worst_case
    from advcourse.models.nets import DigitsCNN

    net = DigitsCNN.from_weights(state)
    inputs, labels = torch.from_numpy(x), torch.from_numpy(y)
    with torch.no_grad():
        clean = float((net(inputs).argmax(1) == labels).float().mean())
    if clean < floor:
        return {"status": "rejected", "clean": clean,
                "reason": f"clean accuracy {clean:.1%} is below the floor of {floor:.0%}"}
    result = worst_case(net, inputs, labels, eps=eps, norm=math.inf if norm == "linf" else 2.0, seed=0)
    return {"status": "scored", "clean": clean, "robust": result.robust_accuracy}


def _child(out: multiprocessing.Queue, weights: bytes, kwargs: dict) -> None:
    torch.set_num_threads(1)  # this worker process only: leave the other core to the server
    try:
        out.put(score_defence(parse_weights(weights), **kwargs))
    except Exception as err:  # a crash in scoring is reported, never raised into the server
        out.put({"status": "rejected", "reason": f"scoring failed ({type(err).__name__}: {str(err)[:120]})"})


def score_with_time_limit(weights: bytes, x: np.ndarray, y: np.ndarray, *, eps: float, norm: str, floor: float,
                          seconds: float, stop: threading.Event | None = None) -> dict[str, Any] | None:
    """:func:`score_defence` of the safetensors ``weights`` in a fresh process, killed after ``seconds``;
    None if ``stop`` is set first (the server is shutting down: the defence waits for the next start)."""
    context = multiprocessing.get_context("spawn")  # a clean interpreter: no threads or locks inherited
    out = context.Queue()
    kwargs = {"x": x, "y": y, "eps": eps, "norm": norm, "floor": floor}
    proc = context.Process(target=_child, args=(out, weights, kwargs), daemon=True)
    proc.start()
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            if stop is not None and stop.is_set():
                return None
            try:
                return out.get(timeout=0.2)
            except queue.Empty:
                if not proc.is_alive() and out.empty():
                    return {"status": "rejected", "reason": f"scoring failed (the worker exited with {proc.exitcode})"}
        return {"status": "rejected", "reason": f"time: scoring took more than the {seconds:g} s allowed"}
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join(timeout=10)
