"""The challenge's projector page in a real Chromium: it updates within seconds of a submission, in type
large enough for the back of a room, with nothing fetched from outside. Screenshots go to
``test-artifacts/browser/`` (``ADVCOURSE_ARTIFACTS`` overrides the folder)."""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

import pytest

from advcourse.attacks import pgd
from advcourse.challenge import add_team, init_challenge, join
from advcourse.challenge.folder import load_challenge
from advcourse.defences.digits import clean_digits_cnn
from challenge_server import live_challenge
from labserver import ROOT, chromium

ARTIFACTS = Path(os.environ.get("ADVCOURSE_ARTIFACTS", ROOT / "test-artifacts")) / "browser"


@pytest.mark.browser
def test_leaderboard_page_updates_live_and_reads_from_the_back(tmp_path):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    folder = tmp_path / "room"
    init_challenge(folder, model="clean", eps=0.2, n_inputs=20)
    tokens = {name: add_team(folder, name) for name in ("owls", "foxes")}
    outside = []
    with live_challenge(folder) as url, chromium(tmp_path) as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 720})
        page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(url) else None)
        page.goto(url + "/")
        page.wait_for_selector("#empty:not([hidden])")
        owls, foxes = join(url, tokens["owls"]), join(url, tokens["foxes"])
        owls.submit(owls.inputs)  # clean digits: nothing fooled
        model = load_challenge(folder).model
        sent = time.monotonic()
        foxes.submit(pgd(model, foxes.inputs, foxes.labels, eps=foxes.eps, step_size=0.05, steps=20))
        page.wait_for_function("document.querySelectorAll('#board tr').length === 2", timeout=5000, polling=100)
        delay = time.monotonic() - sent
        rows = page.locator("#board tr").all_inner_texts()
        page.screenshot(path=str(ARTIFACTS / "challenge-leaderboard.png"))
        size = page.evaluate("parseFloat(getComputedStyle(document.querySelector('#board td')).fontSize)")
    assert delay < 4, f"the page showed the submission after {delay:.1f} s"
    assert rows[0].split()[1] == "foxes" and rows[1].split()[1] == "owls", rows
    assert size >= 32, f"table text {size}px: too small for a projector"
    assert not outside, f"the page fetched from outside the server: {outside}"


@pytest.mark.browser
def test_team_page_shows_history_and_the_inputs_that_still_stand(tmp_path):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    folder = tmp_path / "room"
    init_challenge(folder, model="clean", eps=0.15, n_inputs=24, defence_floor=0.5)
    token = add_team(folder, "owls")
    outside = []
    with live_challenge(folder) as url, chromium(tmp_path) as browser:
        task = join(url, token)
        model = load_challenge(folder).model
        task.submit(task.inputs)  # nothing fooled
        reply = task.submit(pgd(model, task.inputs, task.labels, eps=task.eps, step_size=0.03, steps=10))
        defence = task.submit_defence(clean_digits_cnn(), wait=60)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(url) else None)
        page.goto(task.page)
        page.wait_for_selector("#team:not([hidden])")
        page.wait_for_function("document.querySelectorAll('#digits figure').length === 24", timeout=5000)
        fooled = page.locator("#digits figure.fooled").count()
        borders = page.evaluate("""() => [...document.querySelectorAll('#digits canvas')].map(
            c => getComputedStyle(c).borderTopColor)""")
        history = page.locator("#history tr").all_inner_texts()
        summary = page.inner_text("#summary")
        ink = page.evaluate("""() => { const c = document.querySelector('#digits canvas');
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let dark = 0; for (let i = 0; i < d.length; i += 4) dark += d[i] < 128; return dark; }""")
        page.wait_for_selector("#defence-box:not([hidden])")
        defences = page.locator("#defences tr").all_inner_texts()
        page.screenshot(path=str(ARTIFACTS / "challenge-team.png"), full_page=True)
        projector = browser.new_page(viewport={"width": 1280, "height": 720})
        projector.goto(url + "/")
        projector.wait_for_selector("#defence-box:not([hidden])")
        board = projector.locator("#defences tr").all_inner_texts()
        projector.screenshot(path=str(ARTIFACTS / "challenge-leaderboard-defences.png"))
        size = page.evaluate("parseFloat(getComputedStyle(document.querySelector('#history td')).fontSize)")
        wrong = browser.new_page()
        wrong.goto(url + "/team#NOT-A-CODE")
        wrong.wait_for_selector("#error:not([hidden])")
        refused = wrong.inner_text("#error")
    assert 0 < reply["fooled"] < 24, reply  # some inputs stand, some fall: both kinds are drawn
    assert fooled == reply["fooled"]
    assert sorted(set(borders)) == ["rgb(224, 83, 61)", "rgb(76, 175, 80)"], set(borders)  # drawn, not just named
    assert len(history) == 2 and history[0].split()[0] == str(reply["id"])  # newest first
    assert f"{reply['fooled']} of 24 inputs fooled" in summary and "owls" in summary
    assert ink > 0, "the first digit was drawn blank"
    assert size >= 16, f"history text {size}px"
    assert "token" in refused and not outside, (refused, outside)
    assert defence["status"] == "scored", defence
    shown = math.floor(100 * defence["robust"] + 0.5)  # the page's toFixed(0) rounds halves up (3 of 24: 13 %)
    assert len(defences) == 1 and "scored" in defences[0] and f"{shown} %" in defences[0]
    assert len(board) == 1 and "owls" in board[0]


@pytest.mark.browser
def test_room_page_shows_progress_per_exercise_to_the_instructor_only(tmp_path):
    from advcourse.exercises import room
    from advcourse.exercises.threat_models import check_app_store, check_usable_attacks

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    folder = tmp_path / "room"
    init_challenge(folder, model="clean", eps=0.15, n_inputs=5)
    token = add_team(folder, "owls")
    admin = (folder / "admin_token").read_text().strip()
    try:
        with live_challenge(folder) as url, chromium(tmp_path) as browser:
            for learner in ("ada", "bob", "cy"):
                room.join_room(url, token, learner=learner)
                check_app_store(("white", "targeted") if learner != "cy" else ("black", "targeted"))
            check_usable_attacks(...)
            page = browser.new_page(viewport={"width": 1280, "height": 720})
            page.goto(f"{url}/room#{admin}")
            page.wait_for_function("document.querySelectorAll('#rows tr').length === 2", timeout=5000)
            rows = page.locator("#rows tr").all_inner_texts()
            page.screenshot(path=str(ARTIFACTS / "challenge-room.png"))
            learner_view = browser.new_page()
            learner_view.goto(f"{url}/room#{token}")
            learner_view.wait_for_selector("#error:not([hidden])")
            refused = learner_view.inner_text("#error")
    finally:
        room.leave_room()
    assert rows[0].split() == ["01_threat_models", "check_app_store", "2", "/", "3"], rows
    assert rows[1].split() == ["01_threat_models", "check_usable_attacks", "0", "/", "1"], rows
    assert "instructor token" in refused
