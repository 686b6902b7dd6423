"""The workshop notebook (notebooks/workshop/attack_my_model.ipynb), run top to bottom by a learner's
kernel against a live challenge server, as in a room: the server must have stored its submissions and
counted its queries, and the query-guided mix must score at least as well as either candidate."""

from __future__ import annotations

import json

import nbformat
import pytest
from nbclient import NotebookClient

from advcourse.challenge import add_team, init_challenge
from advcourse.challenge.folder import load_challenge
from challenge_server import live_challenge
from labserver import ROOT

NOTEBOOK = ROOT / "notebooks" / "workshop" / "attack_my_model.ipynb"


def test_the_stored_workshop_notebook_is_a_clean_worksheet():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert all(not cell.outputs and cell.execution_count is None for cell in code)  # no stored room results
    assert nb.metadata.kernelspec.name == "python3"


@pytest.mark.slow
def test_workshop_notebook_runs_against_a_local_server(tmp_path, monkeypatch):
    folder = tmp_path / "room"
    init_challenge(folder, eps=0.15, n_inputs=60, queries=200)  # the default: an adversarially trained model
    code = add_team(folder, "owls")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    with live_challenge(folder) as url:
        monkeypatch.setenv("ADVCOURSE_CHALLENGE_URL", url)
        monkeypatch.setenv("ADVCOURSE_CHALLENGE_CODE", code.lower())  # typed loosely, as learners do
        NotebookClient(nb, timeout=300, kernel_name="python3",
                       resources={"metadata": {"path": str(tmp_path)}}).execute()
    store = load_challenge(folder).store
    scores = [row["score"] for row in store.submissions("owls")]
    assert len(scores) == 3, scores
    assert scores[2] >= max(scores[:2])  # the mix keeps, per digit, a candidate the hidden model misreads
    assert store.spend_queries("owls", 0, 200) == 200 - 2 * 60
    text = "".join(out.get("text", "") for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs)
    assert "60 digits to attack; budget: linf ε = 0.15" in text and f"{url}/team#" in text
    assert not any(out.output_type == "error" for cell in nb.cells if cell.cell_type == "code"
                   for out in cell.outputs)
    print(json.dumps({"scores": scores}))
