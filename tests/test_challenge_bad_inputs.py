"""Bad input over every endpoint of the challenge server, sent raw to a live uvicorn server.

Each payload (malformed, oversized, wrong shape or dtype, NaN, out of range or budget, wrong token,
pickle, path traversal, wrong method) must get a clear 4xx — a JSON ``{"error": ...}`` naming what is
wrong — store nothing, leak no secret, run nothing, and leave the server serving. The per-category
table goes to ``test-artifacts/challenge/bad_inputs.json`` (``ADVCOURSE_ARTIFACTS`` overrides the folder).
"""

from __future__ import annotations

import http.client
import io
import json
import os
import pickle
import struct
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import torch

from advcourse.challenge import add_team, init_challenge
from advcourse.challenge.folder import load_challenge
from advcourse.models.nets import DigitsCNN
from challenge_server import live_challenge
from labserver import ROOT

ARTIFACTS = Path(os.environ.get("ADVCOURSE_ARTIFACTS", ROOT / "test-artifacts")) / "challenge"
N, EPS = 12, 0.1


@dataclass
class Case:
    category: str
    name: str
    method: str
    path: str
    body: bytes = b""
    auth: str | None = "team"  # "team", "admin", "other", None (no header) or a raw header value
    want: str = ""  # a word the error must contain
    headers: dict = field(default_factory=dict)


def _npy(x: np.ndarray, **kwargs) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, x, **kwargs)
    return buffer.getvalue()


class _Exploit:
    """A pickle that, if ever unpickled, would create a file: proof that nothing was run."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _header_claiming(shape: tuple[int, ...]) -> bytes:
    """An .npy header that claims ``shape`` float32, followed by 16 bytes of data."""
    text = f"{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}".encode()
    text += b" " * (-(len(text) + 11) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text + bytes(16)


def _safetensors(width: int = 16, dtype: torch.dtype = torch.float32, nan: bool = False, extra: bool = False) -> bytes:
    from safetensors.torch import save

    state = {k: v.to(dtype).contiguous() for k, v in DigitsCNN(width=width).state_dict().items()}
    if nan:
        state["features.0.bias"][0] = float("nan")
    if extra:
        state["backdoor.trigger"] = torch.zeros(3)
    return save(state)


def _torch_save() -> bytes:
    buffer = io.BytesIO()
    torch.save(DigitsCNN(width=16).state_dict(), buffer)
    return buffer.getvalue()


def cases(clean: np.ndarray, marker: Path) -> list[Case]:
    sub, query, prog = "/api/submissions", "/api/query", "/api/progress"
    over = clean.copy()
    over[3, 0, 4, 4] = min(1.0, over[3, 0, 4, 4] + EPS + 0.02) if over[3, 0, 4, 4] < 0.5 else over[3, 0, 4, 4] - EPS - 0.02
    nan, inf = clean.copy(), clean.copy()
    nan[0, 0, 0, 0], inf[-1, 0, 7, 7] = np.nan, -np.inf
    report = {"learner": "ada", "notebook": "05_fgsm", "exercise": "check_fgsm_by_hand", "passed": True}
    progress = lambda **change: json.dumps({**report, **change}).encode()  # noqa: E731
    object_array = np.empty(N, dtype=object)
    object_array[:] = [_Exploit(marker)] * N
    return [
        # --- tokens: a team can never act as another, nor as the instructor
        Case("wrong token", "no header", "POST", sub, _npy(clean), auth=None, want="token"),
        Case("wrong token", "unknown code", "POST", sub, _npy(clean), auth="Bearer AAAA-BBBB-CCCC-DDDD", want="token"),
        Case("wrong token", "empty bearer", "POST", sub, _npy(clean), auth="Bearer ", want="token"),
        Case("wrong token", "basic auth", "POST", sub, _npy(clean), auth="Basic b3dsczpvd2xz", want="token"),
        Case("wrong token", "10 kB token", "POST", sub, _npy(clean), auth="Bearer " + "A" * 10_000, want="token"),
        Case("wrong token", "SQL in the token", "POST", sub, _npy(clean), auth="Bearer ' OR '1'='1", want="token"),
        Case("wrong token", "instructor token as a team", "POST", sub, _npy(clean), auth="admin", want="token"),
        Case("wrong token", "query without a token", "POST", query, _npy(clean[:2]), auth=None, want="token"),
        Case("wrong token", "team page without a token", "GET", "/api/team", auth=None, want="token"),
        Case("wrong token", "progress without a token", "POST", prog, progress(), auth=None, want="token"),
        Case("wrong token", "team token: close the round", "POST", "/api/admin/close", want="instructor"),
        Case("wrong token", "team token: reveal", "POST", "/api/admin/reveal", want="instructor"),
        Case("wrong token", "team token: reset", "POST", "/api/admin/reset", want="instructor"),
        Case("wrong token", "team token: export", "GET", "/api/admin/export.csv", want="instructor"),
        Case("wrong token", "no token: progress table", "GET", "/api/admin/progress", auth=None, want="instructor"),
        Case("wrong token", "weights before the reveal", "GET", "/api/model.safetensors", want="reveal"),
        # --- malformed bodies
        Case("malformed", "empty body", "POST", sub, b"", want="npy"),
        Case("malformed", "text", "POST", sub, b"0.1, 0.2, 0.3", want="npy"),
        Case("malformed", "JSON list", "POST", sub, json.dumps(clean.tolist()).encode(), want="npy"),
        Case("malformed", "npz archive", "POST", sub, b"PK\x03\x04" + bytes(100), want="zip"),
        Case("malformed", "truncated npy", "POST", sub, _npy(clean)[:200], want="promises"),
        Case("malformed", "magic only", "POST", sub, b"\x93NUMPY", want="npy"),
        Case("malformed", "garbled header", "POST", sub, b"\x93NUMPY\x01\x00\x10\x00{'descr': !!!}\n" + bytes(64),
             want="npy"),
        Case("malformed", "unknown npy version", "POST", sub, b"\x93NUMPY\x09\x00" + _npy(clean)[8:], want="npy"),
        Case("malformed", "query as text", "POST", query, b"hello", want="npy"),
        Case("malformed", "progress not JSON", "POST", prog, b"{learner: ada", want="JSON"),
        Case("malformed", "progress a list", "POST", prog, b"[1, 2]", want="keys"),
        Case("malformed", "progress in latin-1", "POST", prog, "{\"learner\": \"\xe9\"}".encode("latin-1"),
             want="JSON"),
        Case("malformed", "progress missing a key", "POST", prog, json.dumps({"learner": "ada"}).encode(),
             want="keys"),
        Case("malformed", "progress: passed as text", "POST", prog, progress(passed="yes"), want="passed"),
        Case("malformed", "progress: learner empty", "POST", prog, progress(learner=""), want="learner"),
        Case("malformed", "progress: learner with control chars", "POST", prog, progress(learner="a\x1b[2Jb"),
             want="learner"),
        # --- oversized
        Case("oversized", "3 MB submission", "POST", sub, bytes(3_000_000), want="bytes"),
        Case("oversized", "header claims 10^9 inputs", "POST", sub, _header_claiming((10**9, 1, 8, 8)),
             want="promises"),
        Case("oversized", "header claims 25 GB", "POST", sub, _header_claiming((10**8, 1, 8, 8)), want="promises"),
        Case("oversized", "header claims a huge shape", "POST", sub, _header_claiming((2**40, 2**30)), want="promises"),
        Case("oversized", "101 queries at once", "POST", query, _npy(np.zeros((101, 1, 8, 8), np.float32)),
             want="shape"),
        Case("oversized", "3 kB progress report", "POST", prog, progress(learner="a" * 3000), want="bytes"),
        Case("oversized", "learner name of 41 characters", "POST", prog, progress(learner="a" * 41), want="learner"),
        # --- shapes
        Case("wrong shape", "one input fewer", "POST", sub, _npy(clean[:-1]), want="shape"),
        Case("wrong shape", "one input more", "POST", sub, _npy(np.concatenate([clean, clean[:1]])), want="shape"),
        Case("wrong shape", "no channel axis", "POST", sub, _npy(clean[:, 0]), want="shape"),
        Case("wrong shape", "transposed images", "POST", sub, _npy(clean.transpose(0, 1, 3, 2)[:, :, :4]),
             want="shape"),
        Case("wrong shape", "flattened", "POST", sub, _npy(clean.reshape(-1)), want="shape"),
        Case("wrong shape", "a scalar", "POST", sub, _npy(np.float32(0.5)), want="shape"),
        Case("wrong shape", "empty array", "POST", sub, _npy(np.zeros((0, 1, 8, 8), np.float32)), want="shape"),
        Case("wrong shape", "query of one bare image", "POST", query, _npy(clean[0]), want="shape"),
        Case("wrong shape", "query of no image", "POST", query, _npy(clean[:0]), want="shape"),
        # --- dtypes
        Case("wrong dtype", "float64", "POST", sub, _npy(clean.astype(np.float64)), want="dtype"),
        Case("wrong dtype", "float16", "POST", sub, _npy(clean.astype(np.float16)), want="dtype"),
        Case("wrong dtype", "uint8 pixels", "POST", sub, _npy((clean * 255).astype(np.uint8)), want="dtype"),
        Case("wrong dtype", "bool", "POST", sub, _npy(clean > 0.5), want="dtype"),
        Case("wrong dtype", "complex", "POST", sub, _npy(clean.astype(np.complex64)), want="dtype"),
        Case("wrong dtype", "big-endian float32", "POST", sub, _npy(clean.astype(">f4")), want="dtype"),
        Case("wrong dtype", "query in float64", "POST", query, _npy(clean[:2].astype(np.float64)), want="dtype"),
        # --- values
        Case("NaN or inf", "one NaN", "POST", sub, _npy(nan), want="NaN"),
        Case("NaN or inf", "one -inf", "POST", sub, _npy(inf), want="NaN"),
        Case("NaN or inf", "all NaN", "POST", sub, _npy(np.full_like(clean, np.nan)), want="NaN"),
        Case("NaN or inf", "NaN in a query", "POST", query, _npy(nan[:2]), want="NaN"),
        Case("out of range", "pixels above 1", "POST", sub, _npy(np.clip(clean + EPS / 2, 0, 1.04) + 0.01),
             want="range"),
        Case("out of range", "pixels below 0", "POST", sub, _npy(clean - 0.01), want="range"),
        Case("out of range", "0-255 pixels", "POST", sub, _npy(clean * 255), want="range"),
        Case("out of range", "query above 1", "POST", query, _npy(clean[:2] + 2), want="range"),
        # --- the budget, against the server's own clean inputs
        Case("out of budget", "one pixel over", "POST", sub, _npy(over), want="budget"),
        Case("out of budget", "every pixel 2 eps away", "POST", sub, _npy(np.clip(clean + 2 * EPS, 0, 1)),
             want="budget"),
        Case("out of budget", "all zeros", "POST", sub, _npy(np.zeros_like(clean)), want="budget"),
        Case("out of budget", "another task's inputs", "POST", sub, _npy(clean[::-1].copy()), want="budget"),
        # --- pickle, never unpickled
        Case("pickle", "object array", "POST", sub, _npy(object_array, allow_pickle=True), want="pickle"),
        Case("pickle", "raw pickle of an array", "POST", sub, pickle.dumps(clean), want="npy"),
        Case("pickle", "raw pickle exploit", "POST", sub, pickle.dumps(_Exploit(marker)), want="npy"),
        Case("pickle", "object array as a query", "POST", query, _npy(object_array[:2], allow_pickle=True),
             want="pickle"),
        Case("pickle", "torch.save file", "POST", sub, b"PK\x03\x04archive/data.pkl" + pickle.dumps(clean),
             want="zip"),
        # --- path traversal: nothing outside the routes is reachable
        Case("path traversal", "dot-dot to the admin token", "GET", "/api/../admin_token", want="path"),
        Case("path traversal", "encoded dot-dot", "GET", "/api/task/..%2F..%2Fadmin_token", want="path"),
        Case("path traversal", "dot-dot in an admin action", "POST", "/api/admin/..%2F..%2Fadmin_token", auth="admin",
             want="path"),
        Case("path traversal", "the database", "GET", "/challenge.db", want="path"),
        Case("path traversal", "config.json", "GET", "/config.json", want="path"),
        Case("path traversal", "etc/passwd", "GET", "/%2e%2e/%2e%2e/%2e%2e/etc/passwd", want="path"),
        Case("path traversal", "weights by another path", "GET", "/api/model.safetensors/../../model.safetensors",
             want="path"),
        Case("path traversal", "progress names a path", "POST", prog, progress(notebook="../../admin_token"),
             want="notebook"),
        Case("path traversal", "progress names a shell command", "POST", prog, progress(exercise="check_x; rm -rf /"),
             want="exercise"),
        # --- the defence track's weights (safetensors only, the fixed architecture)
        Case("defence weights", "pickle exploit", "POST", "/api/defences", pickle.dumps(_Exploit(marker)),
             want="pickle"),
        Case("defence weights", "torch.save file", "POST", "/api/defences", _torch_save(), want="torch.save"),
        Case("defence weights", "empty body", "POST", "/api/defences", b"", want="safetensors"),
        Case("defence weights", "an .npy file", "POST", "/api/defences", _npy(clean), want="safetensors"),
        Case("defence weights", "header longer than the file", "POST", "/api/defences",
             struct.pack("<Q", 10**9) + b"{}", want="safetensors"),
        Case("defence weights", "another width", "POST", "/api/defences", _safetensors(width=32), want="shape"),
        Case("defence weights", "float64 weights", "POST", "/api/defences", _safetensors(dtype=torch.float64),
             want="float64"),
        Case("defence weights", "NaN in a weight", "POST", "/api/defences", _safetensors(nan=True), want="NaN"),
        Case("defence weights", "an extra tensor", "POST", "/api/defences", _safetensors(extra=True),
             want="unexpected"),
        Case("defence weights", "2 MB upload", "POST", "/api/defences", bytes(2_000_000), want="bytes"),
        Case("defence weights", "no token", "POST", "/api/defences", _safetensors(), auth=None, want="token"),
        Case("defence weights", "another team's result", "GET", "/api/defences/1", want="no defence"),
        Case("defence weights", "a path as the id", "GET", "/api/defences/..%2F..%2Fadmin_token", want="path"),
        # --- methods and unknown endpoints
        Case("wrong method", "GET submissions", "GET", sub, want="not allowed"),
        Case("wrong method", "PUT the task", "PUT", "/api/task", _npy(clean), want="not allowed"),
        Case("wrong method", "DELETE the leaderboard", "DELETE", "/api/leaderboard", want="not allowed"),
        Case("wrong method", "GET an admin action", "GET", "/api/admin/reveal", auth="admin", want="POST"),
        Case("wrong method", "unknown endpoint", "GET", "/api/scores", want="path"),
        Case("wrong method", "unknown admin action", "POST", "/api/admin/format", auth="admin", want="action"),
    ]


def _send(url: str, case: Case, tokens: dict) -> tuple[int, dict | str]:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    headers = dict(case.headers)
    if case.auth in tokens:
        headers["Authorization"] = f"Bearer {tokens[case.auth]}"
    elif case.auth is not None:
        headers["Authorization"] = case.auth
    conn.request(case.method, case.path, body=case.body or None, headers=headers)
    reply = conn.getresponse()
    text = reply.read().decode("utf-8", "replace")
    conn.close()
    try:
        return reply.status, json.loads(text)
    except ValueError:
        return reply.status, text


def test_every_bad_payload_gets_a_clear_4xx_and_the_server_keeps_serving(tmp_path):
    folder = tmp_path / "room"
    init_challenge(folder, model="clean", eps=EPS, n_inputs=N, queries=50)
    tokens = {"team": add_team(folder, "owls"), "other": add_team(folder, "foxes"),
              "admin": (folder / "admin_token").read_text().strip()}
    challenge = load_challenge(folder)
    marker = tmp_path / "pwned"
    table, unclear = defaultdict(Counter), []
    with live_challenge(folder, rate=(10_000, 1.0)) as url:
        for case in cases(challenge.inputs, marker):
            status, reply = _send(url, case, tokens)
            error = reply.get("error", "") if isinstance(reply, dict) else ""
            table[case.category][status] += 1
            if not (400 <= status < 500 and case.want.lower() in error.lower()):
                unclear.append((case.category, case.name, status, reply))
            assert tokens["admin"] not in json.dumps(reply), case.name  # no secret ever leaks
            board = _send(url, Case("", "", "GET", "/api/leaderboard"), tokens)
            assert board == (200, []), (case.name, board)  # still serving, nothing stored
    store = challenge.store
    assert store.all_submissions() == [] and store.progress() == [] and store.spend_queries("owls", 0, 50) == 50
    assert store.next_defence() is None and store.defences("owls") == []
    # the rate limit: a second team sends 11 valid requests in a burst against a 10-per-10-s server
    with live_challenge(folder) as url:
        statuses = [_send(url, Case("rate", "burst", "POST", "/api/submissions", _npy(challenge.inputs), "other"),
                          tokens)[0] for _ in range(11)]
        table["rate limit"][statuses[-1]] += 1
        assert statuses[:10] == [200] * 10 and statuses[-1] == 429, statuses
    assert not marker.exists(), "a pickle was executed"
    assert not unclear, "\n".join(map(repr, unclear))
    n_cases = sum(sum(c.values()) for c in table.values())
    assert n_cases >= 60 and len(table) >= 10
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    rows = {category: dict(sorted(counts.items())) for category, counts in table.items()}
    (ARTIFACTS / "bad_inputs.json").write_text(json.dumps({"payloads": n_cases, "per_category": rows}, indent=1))
    print(f"\n{n_cases} bad payloads, every one a clear 4xx:")
    for category, counts in rows.items():
        print(f"  {category:15s} {sum(counts.values()):3d}  " + ", ".join(f"{s}: {k}" for s, k in counts.items()))


def test_npy_format_two_is_read_and_three_refused():
    """Format 2.0 (a long header) is read like 1.0; 3.0 exists only for named fields, never float32 pixels."""
    from numpy.lib import format as npy_format

    from advcourse.challenge.checks import Rejected, parse_submission

    clean = np.random.default_rng(0).random((3, 1, 8, 8), dtype=np.float32)
    for version in [(1, 0), (2, 0), (3, 0)]:
        buffer = io.BytesIO()
        npy_format.write_array(buffer, clean, version=version, allow_pickle=False)
        if version == (3, 0):
            with pytest.raises(Rejected, match="format 3.0"):
                parse_submission(buffer.getvalue(), clean, norm="linf", eps=0.1)
        else:
            assert (parse_submission(buffer.getvalue(), clean, norm="linf", eps=0.1) == clean).all()
    fortran = io.BytesIO()
    np.save(fortran, np.asfortranarray(clean))
    assert (parse_submission(fortran.getvalue(), clean, norm="linf", eps=0.1) == clean).all()
