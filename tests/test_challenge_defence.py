"""The defence track: weights uploaded as safetensors, checked against the fixed DigitsCNN, held to a
clean-accuracy floor and scored by the worst case of the course's attacks in a worker process with a
time limit — while the server keeps answering."""

from __future__ import annotations

import time
import urllib.request

import pytest
import torch

from advcourse.challenge import ChallengeError, add_team, init_challenge, join
from advcourse.challenge.checks import Rejected
from advcourse.challenge.defence import parse_weights, score_defence
from advcourse.challenge.folder import load_challenge
from advcourse.defences.digits import adversarial_digits_cnn, clean_digits_cnn
from advcourse.models.nets import DigitsCNN
from challenge_server import live_challenge


def _weights(model: torch.nn.Module) -> bytes:
    from safetensors.torch import save

    return save({k: v.contiguous() for k, v in model.state_dict().items()})


def test_weights_must_fit_the_architecture_and_never_unpickle(tmp_path):
    import io
    import pickle

    good = DigitsCNN(width=16)
    assert set(parse_weights(_weights(good))) == set(good.state_dict())
    wide = _weights(DigitsCNN(width=32))
    with pytest.raises(Rejected, match=r"features.0.weight has shape \(32, 1, 3, 3\)"):
        parse_weights(wide)
    state = good.state_dict()
    from safetensors.torch import save

    with pytest.raises(Rejected, match="missing"):
        parse_weights(save({k: v for k, v in state.items() if k != "classifier.3.bias"}))
    with pytest.raises(Rejected, match="float64"):
        parse_weights(save({k: v.double() for k, v in state.items()}))
    broken = {k: v.clone() for k, v in state.items()}
    broken["classifier.1.weight"][0, 0] = float("nan")
    with pytest.raises(Rejected, match="NaN"):
        parse_weights(save(broken))
    buffer = io.BytesIO()
    torch.save(state, buffer)
    with pytest.raises(Rejected, match="pickle or torch.save"):
        parse_weights(buffer.getvalue())
    with pytest.raises(Rejected, match="pickle or torch.save"):
        parse_weights(pickle.dumps(state))
    with pytest.raises(Rejected, match="safetensors"):
        parse_weights(b"\xff" * 8 + b"{}")
    with pytest.raises(Rejected, match="bytes"):
        parse_weights(bytes(2_000_000))


def test_scoring_holds_the_floor_and_ranks_robust_models_higher():
    from advcourse.models.datasets import load_digits

    digits = load_digits()
    x, y = digits.x_test[:60].numpy(), digits.y_test[:60].numpy()
    clean = clean_digits_cnn()
    threads = torch.get_num_threads()
    plain = score_defence(clean.state_dict(), x, y, eps=0.15, norm="linf", floor=0.9)
    robust = score_defence(adversarial_digits_cnn(clean).state_dict(), x, y, eps=0.15, norm="linf", floor=0.9)
    untrained = score_defence(DigitsCNN(width=16).state_dict(), x, y, eps=0.15, norm="linf", floor=0.9)
    assert plain["status"] == robust["status"] == "scored" and min(plain["clean"], robust["clean"]) >= 0.9
    assert robust["robust"] > plain["robust"] + 0.15, (plain, robust)  # 08's adversarial training pays off
    assert untrained["status"] == "rejected" and "below the floor of 90%" in untrained["reason"]
    assert torch.get_num_threads() == threads  # scoring in this process leaves its thread count alone


@pytest.mark.slow
def test_defences_are_scored_in_a_worker_while_the_server_answers(tmp_path):
    folder = tmp_path / "room"
    init_challenge(folder, model="clean", eps=0.15, n_inputs=40, defence_seconds=120)
    owls, foxes = add_team(folder, "owls"), add_team(folder, "foxes")
    clean = clean_digits_cnn()
    with live_challenge(folder) as url:
        task = join(url, owls)
        queued = task.submit_defence(adversarial_digits_cnn(clean), wait=0)
        assert queued["status"] == "queued"
        with pytest.raises(ChallengeError, match="still being scored"):
            task.submit_defence(clean, wait=0)  # one defence per team at a time
        started, answered = time.monotonic(), 0
        while time.monotonic() - started < 3:  # the server answers while the worker scores
            with urllib.request.urlopen(f"{url}/api/leaderboard", timeout=2) as reply:
                answered += reply.status == 200
        result = queued
        while result["status"] == "queued" and time.monotonic() - started < 120:
            time.sleep(0.5)
            result = task.standing()["defences"][-1]
        assert result["status"] == "scored" and result["clean"] >= 0.9 and 0 < result["robust"] <= result["clean"]
        from advcourse.challenge.client import call

        with pytest.raises(ChallengeError, match="no defence with this id"):  # a team never reads another's
            call(f"{url}/api/defences/{queued['id']}", token=foxes)
        weaker = join(url, foxes).submit_defence(clean, wait=120)
        assert weaker["status"] == "scored" and weaker["robust"] < result["robust"]
        with pytest.raises(ChallengeError, match="shape"):
            task.submit_defence(DigitsCNN(width=8))
        board = urllib.request.urlopen(f"{url}/api/defences/leaderboard", timeout=5).read().decode()
    assert answered >= 10, f"the server answered {answered} requests in 3 s while scoring"
    assert board.index("owls") < board.index("foxes")
    store = load_challenge(folder).store
    assert [row["team"] for row in store.defence_leaderboard()] == ["owls", "foxes"]


@pytest.mark.slow
def test_a_defence_past_the_time_limit_is_stopped_and_said_so(tmp_path):
    folder = tmp_path / "room"
    init_challenge(folder, model="clean", eps=0.15, n_inputs=40, defence_seconds=0.5)
    token = add_team(folder, "owls")
    with live_challenge(folder) as url:
        result = join(url, token).submit_defence(clean_digits_cnn(), wait=60)
    assert result["status"] == "rejected" and "time: scoring took more than the 0.5 s allowed" in result["reason"]
