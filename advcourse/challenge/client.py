"""The learner's side of a challenge: :func:`join` a server, attack its task, submit.

Plain HTTP with the standard library; the inputs travel as ``.npy`` files.

    >>> task = join("http://192.168.1.10:8000", "team-token")
    >>> x_adv = pgd(my_copy, task.inputs, task.labels, eps=task.eps)
    >>> task.submit(x_adv)
    {'score': 0.42, 'fooled': 42, 'of': 100, 'rank': 3, 'teams': 12}
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

import numpy as np
import torch

from advcourse.challenge.checks import MAX_QUERIES
from advcourse.core import checks
from advcourse.core.formatting import rounded_repr

__all__ = ["ChallengeError", "Task", "join", "call", "check_server"]


class ChallengeError(RuntimeError):
    """The server refused a request; the message is its reason (which check failed, by how much)."""


def call(url: str, *, data: bytes | None = None, token: str | None = None, timeout: float = 30,
         content_type: str = "application/octet-stream") -> bytes:
    """GET ``url`` (or POST ``data``) with the team's ``token``; the reply's body, or a :class:`ChallengeError`
    carrying the server's reason (or saying the server cannot be reached)."""
    _check_url(url)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if data is not None:
        headers["Content-Type"] = content_type
    req = urllib.request.Request(url, data=data, headers=headers, method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as reply:
            return reply.read()
    except urllib.error.HTTPError as err:
        try:
            reason = json.loads(err.read()).get("error", err.reason)
        except ValueError:
            reason = err.reason
        raise ChallengeError(f"the server refused it ({err.code}): {reason}") from None
    except urllib.error.URLError as err:
        raise ChallengeError(f"url: cannot reach {url} ({err.reason}); check the address the instructor gave") from None


@dataclass
class Task:
    """A joined challenge: ``inputs`` (N, 1, 8, 8) float32 tensor in [0, 1], ``labels`` (N,), the budget
    ``norm`` ("linf"/"l2") and ``eps``, and the hidden model's ``sha256``."""

    __repr__ = rounded_repr

    url: str
    token: str
    inputs: torch.Tensor
    labels: torch.Tensor
    norm: str
    eps: float
    sha256: str

    def submit(self, x_adv: torch.Tensor) -> dict:
        """Send adversarial inputs of ``inputs``' shape; returns the score (share fooled) and rank:
        ``{"id", "score", "fooled", "of", "rank", "teams"}``."""
        if not isinstance(x_adv, torch.Tensor):
            raise TypeError(f"x_adv: expected a tensor of shape {tuple(self.inputs.shape)}, got {type(x_adv).__name__}")
        if x_adv.shape != self.inputs.shape:
            raise ValueError(f"x_adv: expected shape {tuple(self.inputs.shape)}, got {tuple(x_adv.shape)}")
        return json.loads(call(f"{self.url}/api/submissions", data=_npy(x_adv), token=self.token))

    @property
    def p(self) -> float:
        """The budget's norm as the course's attacks take it: ``math.inf`` (L∞) or 2.0 (L2)."""
        return math.inf if self.norm == "linf" else 2.0

    def query(self, x: torch.Tensor) -> tuple[torch.Tensor, int]:
        """The hidden model's probabilities (k, classes) for images ``x`` (k, 1, 8, 8) in [0, 1], k >= 1 (sent
        100 at a time), and the queries your team has left: each image counts one."""
        shape = tuple(self.inputs.shape[1:])
        if not isinstance(x, torch.Tensor) or x.dim() != len(shape) + 1 or tuple(x.shape[1:]) != shape or not len(x):
            got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"x: expected a tensor of shape (k, {', '.join(map(str, shape))}) with k >= 1, got {got}")
        probs, left = [], None
        for chunk in x.split(MAX_QUERIES):
            reply = json.loads(call(f"{self.url}/api/query", data=_npy(chunk), token=self.token))
            probs.append(torch.tensor(reply["probabilities"], dtype=torch.float32))
            left = int(reply["remaining"])
        return torch.cat(probs), left

    def hidden_model(self) -> torch.nn.Module:
        """The hidden model, once the instructor publishes its weights (white box, or after the reveal),
        checked against the SHA-256 committed at the start: anyone can then re-score every submission."""
        from safetensors.torch import load

        from advcourse.models.nets import DigitsCNN

        weights = call(f"{self.url}/api/model.safetensors")
        if hashlib.sha256(weights).hexdigest() != self.sha256:
            raise ChallengeError("model: the published weights do not match the SHA-256 committed at the start")
        return DigitsCNN.from_weights(load(weights))

    def submit_defence(self, model: torch.nn.Module, *, wait: float = 600.0) -> dict:
        """Defence track: send ``model``'s weights (a ``DigitsCNN(width=16)``, as safetensors) to be scored.

        The server checks the architecture and the clean-accuracy floor, then attacks the model with the
        course's attacks at the task's budget. Waits up to ``wait`` seconds for the result (0: do not
        wait) and returns ``{"id", "status", "clean", "robust", "reason"}`` (status "queued" while it waits).
        """
        from safetensors.torch import save

        if not isinstance(model, torch.nn.Module):
            raise TypeError(f"model: expected a DigitsCNN (torch.nn.Module), got {type(model).__name__}")
        wait = checks.check_nonnegative(wait, "wait")
        weights = save({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()})
        reply = json.loads(call(f"{self.url}/api/defences", data=weights, token=self.token))
        deadline = time.monotonic() + wait
        while reply["status"] == "queued" and time.monotonic() < deadline:
            time.sleep(1.0)
            reply = json.loads(call(f"{self.url}/api/defences/{reply['id']}", token=self.token))
        return reply

    def standing(self) -> dict:
        """Your team's record: ``{"team", "submissions", "best", "of", "standing", "defences"}`` (``standing``:
        the indices of the inputs your best submission did not fool), as on the page :attr:`page`."""
        return json.loads(call(f"{self.url}/api/team", token=self.token))

    @property
    def page(self) -> str:
        """Your team's page (history, inputs still standing): open it in a browser."""
        return f"{self.url}/team#{self.token}"


def _check_url(url: object) -> None:
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ValueError(f"url: expected the server's address, like 'http://192.168.1.10:8000', got {url!r}")


def _npy(x: torch.Tensor) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, x.detach().cpu().float().numpy(), allow_pickle=False)
    return buffer.getvalue()


def check_server(url: str, token: str) -> tuple[str, str]:
    """``url`` without a trailing slash and ``token`` stripped, or a ValueError naming the argument."""
    _check_url(url)
    if not isinstance(token, str) or not token.strip():
        raise ValueError("token: expected your team's join code (the instructor prints it), got an empty one")
    return url.rstrip("/"), token.strip()


def join(url: str, token: str) -> Task:
    """Fetch the task of the challenge served at ``url`` (e.g. ``"http://192.168.1.10:8000"``) for the
    team whose token is ``token``."""
    url, token = check_server(url, token)
    info = json.loads(call(f"{url}/api/task"))
    call(f"{url}/api/team", token=token)  # a mistyped join code is refused now, not at the first submission
    inputs = np.load(io.BytesIO(call(f"{url}/api/task/inputs.npy")), allow_pickle=False)
    return Task(url, token, torch.from_numpy(inputs), torch.tensor(info["labels"]), info["norm"],
                float(info["eps"]), info["sha256"])
