"""The workshop challenge (first slice): folder, store, submission checks, the web app and the client.

The app is driven through Starlette's test client, and once through a real uvicorn server on a free
port with the learner's client (plain HTTP). Every rejection must be a 4xx naming the failed check.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import torch

from advcourse.attacks import pgd
from advcourse.challenge import ChallengeError, add_team, init_challenge, join
from advcourse.challenge.folder import load_challenge
from advcourse.cli import main
from challenge_server import live_challenge

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


def test_the_hidden_model_is_a_fresh_secret_draw(tmp_path):
    """The course's own digits model can be rebuilt by anyone from the package; the hidden one cannot."""
    first, second = (init_challenge(tmp_path / name, model="clean", n_inputs=5) for name in ("a", "b"))
    assert first != second


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


def test_learner_client_against_a_live_server(room):
    folder, sha, tokens = room
    with live_challenge(folder) as url:
        task = join(url + "/", tokens["owls"])
        assert task.sha256 == sha and task.inputs.shape == (30, 1, 8, 8) and task.eps == 0.2
        reply = task.submit(torch.from_numpy(_adversarial(folder)))
        assert reply["score"] > 0.5 and set(reply) >= {"score", "rank", "fooled", "of"}
        assert json.loads(json.dumps(reply)) == reply  # plain JSON types
        with pytest.raises(ChallengeError, match="budget"):
            task.submit((task.inputs + 0.5).clamp(0, 1))
        with pytest.raises(ValueError, match="x_adv"):
            task.submit(task.inputs[:3])
        with pytest.raises(ChallengeError, match="token"):
            join(url, "wrong")
        assert join(url, tokens["owls"].lower().replace("-", " ")).standing()["team"] == "owls"  # typed loosely
    with pytest.raises(ChallengeError, match="url"):
        join(url, "x")  # the server has stopped


def test_black_box_queries_are_counted_against_the_team_budget(tmp_path):
    from advcourse.challenge.server import create_app

    folder = tmp_path / "bb"
    init_challenge(folder, model="clean", eps=0.2, n_inputs=10, queries=25)
    token = add_team(folder, "owls")
    client = starlette_testclient.TestClient(create_app(load_challenge(folder), rate=(1000, 1.0)))
    auth = {"Authorization": f"Bearer {token}"}
    inputs = load_challenge(folder).inputs
    reply = client.post("/api/query", content=_npy(inputs), headers=auth)
    assert reply.status_code == 200 and reply.json()["remaining"] == 15
    probs = np.array(reply.json()["probabilities"])
    assert probs.shape == (10, 10) and np.allclose(probs.sum(1), 1, atol=1e-4)
    assert (probs.argmax(1) == load_challenge(folder).labels).all()
    assert client.post("/api/query", content=_npy(inputs), headers=auth).json()["remaining"] == 5
    over = client.post("/api/query", content=_npy(inputs), headers=auth)
    assert over.status_code == 429 and "budget" in over.json()["error"]  # 10 more would pass 25: none counted
    assert client.post("/api/query", content=_npy(inputs[:5]), headers=auth).json()["remaining"] == 0
    bad = client.post("/api/query", content=_npy(inputs[:, :, :4]), headers=auth)
    assert bad.status_code == 400 and "shape" in bad.json()["error"]


def test_team_page_admin_actions_and_the_reveal(room):
    from advcourse.challenge.server import create_app

    folder, sha, tokens = room
    app = create_app(load_challenge(folder), rate=(2, 60.0))
    client = starlette_testclient.TestClient(app)
    owls = {"Authorization": f"Bearer {tokens['owls']}"}
    admin = {"Authorization": f"Bearer {(folder / 'admin_token').read_text().strip()}"}
    mine = client.get("/api/team", headers=owls).json()
    best = max([sub["score"] for sub in mine["submissions"]], default=0.0)
    assert mine["team"] == "owls" and len(mine["standing"]) == round(30 * (1 - best))  # inputs its best left standing
    assert set(mine["standing"]) <= set(range(30))
    assert client.get("/api/team").status_code == 401
    assert client.get("/api/model.safetensors").status_code == 403
    assert client.post("/api/admin/close", headers=owls).status_code == 403  # a team is not the instructor
    assert client.post("/api/admin/close", headers=admin).json()["round"] == "closed"
    clean = _npy(load_challenge(folder).inputs)
    closed = client.post("/api/submissions", content=clean, headers=owls)
    assert closed.status_code == 403 and "round" in closed.json()["error"]
    assert client.post("/api/admin/open", headers=admin).json()["round"] == "open"
    assert client.post("/api/submissions", content=clean, headers=owls).status_code == 200
    limited = client.post("/api/submissions", content=clean, headers=owls)  # the third request in a minute
    assert limited.status_code == 429 and "rate" in limited.json()["error"]
    csv_text = client.get("/api/admin/export.csv", headers=admin).text
    assert csv_text.splitlines()[0] == "id,team,score,created" and ",owls," in csv_text
    assert client.post("/api/admin/reveal", headers=admin).json()["revealed"]
    weights = client.get("/api/model.safetensors").content
    import hashlib

    assert hashlib.sha256(weights).hexdigest() == sha  # anyone can now check the scores
    assert client.post("/api/admin/delete-all", headers=admin).status_code == 404


def test_team_command_prints_a_join_code_a_link_and_a_qr_code(room, capsys):
    from advcourse.challenge.store import ALPHABET

    assert main(["challenge", "team", str(room[0]), "herons", "--url", "http://10.0.0.5:8000/"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    code = lines[-1]
    assert len(code) == 19 and code.count("-") == 3 and set(code.replace("-", "")) <= set(ALPHABET)
    assert any(line.endswith(f"http://10.0.0.5:8000/team#{code}") for line in lines)
    assert sum("█" in line for line in lines) >= 15  # the QR code's rows
    assert load_challenge(room[0]).store.team_of(code.lower()) == "herons"


def test_learner_queries_and_standing_through_the_client(tmp_path):
    folder = tmp_path / "bb"
    init_challenge(folder, model="clean", eps=0.2, n_inputs=12, queries=20)
    token = add_team(folder, "owls")
    with live_challenge(folder) as url:
        task = join(url, token)
        probs, left = task.query(task.inputs[:8])
        assert probs.shape == (8, 10) and left == 12 and (probs.argmax(1) == task.labels[:8]).all()
        with pytest.raises(ChallengeError, match="budget of 20"):
            task.query(torch.cat([task.inputs, task.inputs[:1]]))  # 13 more would pass the budget
        with pytest.raises(ValueError, match="x: expected a tensor of shape"):
            task.query(task.inputs[0])
        assert task.standing()["standing"] == list(range(12)) and task.standing()["best"] is None
        assert task.page == f"{url}/team#{token}"


def test_room_progress_counts_learners_per_exercise_and_never_breaks_a_check(tmp_path):
    from advcourse.challenge.server import create_app
    from advcourse.exercises import room
    from advcourse.exercises.threat_models import check_app_store

    folder = tmp_path / "progress"
    init_challenge(folder, model="clean", eps=0.2, n_inputs=5)
    owls, foxes = add_team(folder, "owls"), add_team(folder, "foxes")
    admin = {"Authorization": f"Bearer {(folder / 'admin_token').read_text().strip()}"}
    try:
        with live_challenge(folder) as url:
            for token, learner, answers in [(owls, "ada", [("white", "targeted"), ("black", "untargeted")]),
                                            (owls, "bob", [("white", "targeted")]),
                                            (foxes, "cy", [...])]:
                assert room.join_room(url, token, learner=learner) in ("owls", "foxes")
                verdicts = [bool(check_app_store(answer)) for answer in answers]
            assert verdicts == [False]
            counts = starlette_testclient.TestClient(create_app(load_challenge(folder))).get(
                "/api/admin/progress", headers=admin).json()
            assert counts == [{"notebook": "01_threat_models", "exercise": "check_app_store", "tried": 3,
                               "passed": 2}]  # ada passed, then failed: a pass stays
            with pytest.raises(ChallengeError, match="token"):
                room.join_room(url, "WRONG-CODE", learner="eve")
            with pytest.raises(ValueError, match="learner"):
                room.join_room(url, owls, learner="x" * 41)
        with pytest.warns(UserWarning, match="room: progress reporting stopped"):  # the server is gone
            assert not check_app_store(...)
        assert room._room is None and not check_app_store(...)  # reporting is off: no second warning
    finally:
        room.leave_room()


def test_progress_reports_are_checked_and_reset_forgets_them(room):
    from advcourse.challenge.server import create_app

    folder, _, tokens = room
    client = starlette_testclient.TestClient(create_app(load_challenge(folder)))
    owls = {"Authorization": f"Bearer {tokens['owls']}"}
    admin = {"Authorization": f"Bearer {(folder / 'admin_token').read_text().strip()}"}
    good = {"learner": "ada", "notebook": "05_fgsm", "exercise": "check_fgsm_by_hand", "passed": True}
    for change, field in [({"notebook": "../../etc"}, "notebook"), ({"exercise": "rm -rf"}, "exercise"),
                          ({"passed": "yes"}, "passed"), ({"learner": ""}, "learner"), ({"extra": 1}, "keys")]:
        reply = client.post("/api/progress", content=json.dumps({**good, **change}), headers=owls)
        assert reply.status_code == 400 and field in reply.json()["error"], (change, reply.text)
    assert client.post("/api/progress", content=b"{", headers=owls).status_code == 400
    assert client.post("/api/progress", content=json.dumps(good), headers=owls).json() == {"recorded": True}
    assert client.post("/api/progress", content=json.dumps(good)).status_code == 401
    assert client.get("/api/admin/progress", headers=owls).status_code == 403
    assert client.get("/api/admin/progress", headers=admin).json()[0]["passed"] == 1
    for path in ("/", "/team", "/room"):
        page = client.get(path)
        assert page.status_code == 200 and "http://" not in page.text and "https://" not in page.text
    assert client.post("/api/admin/reset", headers=admin).status_code == 200
    assert client.get("/api/admin/progress", headers=admin).json() == []
    assert client.get("/api/leaderboard").json() == [] and load_challenge(folder).store.team_of(tokens["owls"]) == "owls"


def test_every_exercise_check_reports_to_the_room():
    import importlib
    import pkgutil

    import advcourse.exercises as exercises
    from advcourse.exercises.room import NOTEBOOKS
    from labserver import ROOT

    modules = {m.name for m in pkgutil.iter_modules(exercises.__path__)} - {"room"}
    assert modules == set(NOTEBOOKS)
    assert set(NOTEBOOKS.values()) <= {p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")}
    for name in modules:
        module = importlib.import_module(f"advcourse.exercises.{name}")
        checks = [getattr(module, n) for n in module.__all__ if n.startswith("check_")]
        assert checks and all(getattr(check, "notebook", None) == NOTEBOOKS[name] for check in checks), name


def test_hidden_model_is_published_only_after_the_reveal_and_matches_its_commitment(tmp_path):
    folder = tmp_path / "reveal"
    init_challenge(folder, model="clean", eps=0.2, n_inputs=150, queries=400)
    token = add_team(folder, "owls")
    admin = (folder / "admin_token").read_text().strip()
    with live_challenge(folder) as url:
        task = join(url, token)
        probs, left = task.query(task.inputs)  # 150 images: sent as two requests of at most 100
        assert probs.shape == (150, 10) and left == 250 and task.p == float("inf")
        with pytest.raises(ChallengeError, match="model: the weights are published"):
            task.hidden_model()
        from advcourse.challenge.client import call

        call(f"{url}/api/admin/reveal", data=b"", token=admin)
        hidden = task.hidden_model()
        with torch.no_grad():
            assert torch.allclose(torch.softmax(hidden(task.inputs), 1), probs, atol=1e-5)
        task.sha256 = "0" * 64  # a server that swapped its model after committing
        with pytest.raises(ChallengeError, match="do not match"):
            task.hidden_model()


def test_the_leaderboard_reads_each_teams_best_through_an_index(room):
    """Every submission's reply ranks the team: without the index that query reads every stored row per team
    (300 ms at 2000 submissions on the 2-core machine, 1 ms with it)."""
    import sqlite3

    with sqlite3.connect(room[0] / "challenge.db") as db:
        plan = " ".join(str(row) for row in db.execute(
            "EXPLAIN QUERY PLAN SELECT MAX(score) FROM submissions WHERE team = 'owls'").fetchall())
    assert "submissions_by_team" in plan, plan


def test_admin_command_acts_on_a_running_server(tmp_path, capsys):
    from advcourse.challenge.server import create_app

    folder = tmp_path / "admin"
    init_challenge(folder, model="clean", eps=0.2, n_inputs=5)
    auth = {"Authorization": f"Bearer {add_team(folder, 'owls')}"}
    client = starlette_testclient.TestClient(create_app(load_challenge(folder)))
    clean = _npy(load_challenge(folder).inputs)
    assert client.post("/api/submissions", content=clean, headers=auth).status_code == 200
    assert main(["challenge", "admin", str(folder), "close"]) == 0
    assert client.post("/api/submissions", content=clean, headers=auth).status_code == 403  # at once, no restart
    assert main(["challenge", "admin", str(folder), "export"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].split(",")[1] == "owls"
    assert main(["challenge", "admin", str(folder), "reveal"]) == 0
    assert client.get("/api/model.safetensors").status_code == 200
    assert main(["challenge", "admin", str(folder), "reset"]) == 0 and client.get("/api/leaderboard").json() == []
