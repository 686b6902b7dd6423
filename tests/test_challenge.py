"""The workshop challenge (first slice): folder, store, submission checks, the web app and the client.

The app is driven through Starlette's test client, and once through a real uvicorn server on a free
port with the learner's client (plain HTTP). Every rejection must be a 4xx naming the failed check.
"""

from __future__ import annotations

import io
import json
import socket
import threading
import time

import numpy as np
import pytest
import torch

from advcourse.attacks import pgd
from advcourse.challenge import ChallengeError, add_team, init_challenge, join
from advcourse.challenge.folder import load_challenge
from advcourse.cli import main

starlette_testclient = pytest.importorskip("starlette.testclient")


@pytest.fixture(scope="module")
def room(tmp_path_factory):
    folder = tmp_path_factory.mktemp("room") / "challenge"
    sha = init_challenge(folder, model="clean", eps=0.2, n_inputs=30)
    tokens = {name: add_team(folder, name) for name in ("owls", "foxes", "bears")}
    return folder, sha, tokens


@pytest.fixture()
def client(room):
    from advcourse.challenge.server import create_app

    return starlette_testclient.TestClient(create_app(load_challenge(room[0])))


def _npy(x) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, x, allow_pickle=True)
    return buffer.getvalue()


def _adversarial(folder) -> np.ndarray:
    challenge = load_challenge(folder)
    x = torch.from_numpy(challenge.inputs)
    y = torch.from_numpy(challenge.labels)
    return pgd(challenge.model, x, y, eps=challenge.eps, step_size=challenge.eps / 4, steps=20).numpy()


def test_folder_commits_to_the_model_and_keeps_secrets_hashed(room):
    folder, sha, tokens = room
    challenge = load_challenge(folder)
    assert challenge.sha256 == sha and len(sha) == 64
    assert challenge.inputs.shape == (30, 1, 8, 8) and challenge.inputs.dtype == np.float32
    with torch.no_grad():  # the inputs are digits the hidden model reads right
        assert (challenge.model(torch.from_numpy(challenge.inputs)).argmax(1).numpy() == challenge.labels).all()
    db = (folder / "challenge.db").read_bytes()
    assert all(token.encode() not in db for token in tokens.values())
    assert (folder / "admin_token").stat().st_mode & 0o077 == 0


def test_task_and_inputs(client, room):
    info = client.get("/api/task").json()
    assert info["shape"] == [30, 1, 8, 8] and info["norm"] == "linf" and info["eps"] == 0.2 and len(info["labels"]) == 30
    inputs = np.load(io.BytesIO(client.get("/api/task/inputs.npy").content), allow_pickle=False)
    assert np.array_equal(inputs, load_challenge(room[0]).inputs)


def test_scores_are_the_share_fooled_and_ranked(client, room):
    folder, _, tokens = room
    clean = load_challenge(folder).inputs
    auth = {"Authorization": f"Bearer {tokens['owls']}"}
    reply = client.post("/api/submissions", content=_npy(clean), headers=auth)
    assert reply.status_code == 200 and reply.json()["score"] == 0.0
    x_adv = _adversarial(folder)
    reply = client.post("/api/submissions", content=_npy(x_adv), headers={"Authorization": f"Bearer {tokens['foxes']}"})
    assert reply.status_code == 200, reply.text
    strong = reply.json()
    assert strong["score"] > 0.5 and strong["rank"] == 1
    # the same score later ranks lower: ties go to whoever reached the score first
    reply = client.post("/api/submissions", content=_npy(x_adv), headers={"Authorization": f"Bearer {tokens['bears']}"})
    assert reply.json()["rank"] == 2
    board = client.get("/api/leaderboard").json()
    assert [row["team"] for row in board] == ["foxes", "bears", "owls"]
    assert [s["score"] for s in load_challenge(folder).store.submissions("owls")] == [0.0]


@pytest.mark.parametrize("name, body, headers, status, words", [
    ("no token", "clean", {}, 401, "token"),
    ("unknown token", "clean", {"Authorization": "Bearer not-a-team"}, 401, "token"),
    ("basic auth", "clean", {"Authorization": "Basic b3dsczpvd2xz"}, 401, "token"),
    ("wrong shape", lambda c: c[:5], None, 400, "shape"),
    ("float64", lambda c: c.astype(np.float64), None, 400, "dtype"),
    ("nan", lambda c: np.where(np.arange(c.size).reshape(c.shape) == 3, np.float32("nan"), c), None, 400, "NaN"),
    ("out of range", lambda c: c + np.float32(0.0) - np.float32(0.1) * (c == 0), None, 400, "range"),
    ("over budget", lambda c: np.clip(c + np.float32(0.3), 0, 1), None, 400, "budget"),
    ("pickle", lambda c: np.array([{"a": 1}], dtype=object), None, 400, "pickle"),
    ("not npy", b"GIF89a not an array", None, 400, "npy"),
    ("empty", b"", None, 400, "npy"),
    ("oversized", b"\x93NUMPY" + b"0" * 2_100_000, None, 413, "bytes"),
])
def test_every_bad_submission_gets_a_clear_4xx(client, room, name, body, headers, status, words):
    folder, _, tokens = room
    clean = load_challenge(folder).inputs
    if body == "clean":
        payload = _npy(clean)
    elif callable(body):
        payload = _npy(body(clean))
    else:
        payload = body
    before = len(load_challenge(folder).store.submissions("owls"))
    reply = client.post("/api/submissions", content=payload,
                        headers={"Authorization": f"Bearer {tokens['owls']}"} if headers is None else headers)
    assert reply.status_code == status, (name, reply.status_code, reply.text)
    assert words in reply.json()["error"], (name, reply.json())
    assert len(load_challenge(folder).store.submissions("owls")) == before  # nothing stored
    assert client.get("/api/task").status_code == 200  # and the server keeps serving


def test_the_projector_page_needs_no_internet(client):
    page = client.get("/").text
    assert "/api/leaderboard" in page and "setInterval" in page
    assert "http://" not in page and "https://" not in page and "<link" not in page


def test_a_tampered_model_is_refused(room, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(room[0], copy)
    data = bytearray((copy / "model.safetensors").read_bytes())
    data[-1] ^= 1
    (copy / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(ValueError, match="SHA-256"):
        load_challenge(copy)


def test_init_and_team_refuse_bad_requests(room, tmp_path, capsys):
    with pytest.raises(ValueError, match="directory"):
        init_challenge(room[0])  # not empty
    with pytest.raises(ValueError, match="model"):
        init_challenge(tmp_path / "x", model="resnet")
    with pytest.raises(ValueError, match="name"):
        add_team(room[0], "owls")  # exists
    with pytest.raises(ValueError, match="name"):
        add_team(room[0], "")
    assert main(["challenge", "team", str(room[0]), "hawks"]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    assert load_challenge(room[0]).store.team_of(token) == "hawks"
    assert main(["challenge", "team", str(tmp_path / "nothing"), "hawks"]) == 2
    assert "directory" in capsys.readouterr().err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_learner_client_against_a_live_server(room):
    import uvicorn

    from advcourse.challenge.server import create_app

    folder, sha, tokens = room
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(load_challenge(folder)), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(100):
            if server.started:
                break
            time.sleep(0.05)
        task = join(f"http://127.0.0.1:{port}/", tokens["owls"])
        assert task.sha256 == sha and task.inputs.shape == (30, 1, 8, 8) and task.eps == 0.2
        reply = task.submit(torch.from_numpy(_adversarial(folder)))
        assert reply["score"] > 0.5 and set(reply) >= {"score", "rank", "fooled", "of"}
        with pytest.raises(ChallengeError, match="budget"):
            task.submit((task.inputs + 0.5).clamp(0, 1))
        with pytest.raises(ValueError, match="x_adv"):
            task.submit(task.inputs[:3])
        with pytest.raises(ChallengeError, match="token"):
            join(f"http://127.0.0.1:{port}", "wrong").submit(task.inputs)
        with pytest.raises(ChallengeError, match="url"):
            join(f"http://127.0.0.1:{_free_port()}", "x")
        assert json.loads(json.dumps(reply))  # plain JSON types
    finally:
        server.should_exit = True
        thread.join(timeout=10)
