"""The challenge's projector page in a real Chromium: it updates within seconds of a submission, in type
large enough for the back of a room, with nothing fetched from outside. Screenshots go to
``test-artifacts/browser/`` (``ADVCOURSE_ARTIFACTS`` overrides the folder)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from advcourse.attacks import pgd
from advcourse.challenge import add_team, init_challenge, join
from advcourse.challenge.folder import load_challenge
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
