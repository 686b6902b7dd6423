"""scripts/run_notebooks.py --model: every lesson notebook that loads an ImageNet model names it on
one ``MODEL = "..."`` line, which the script can point at another model on an in-memory copy."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
WITH_MODEL = [p for p in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
              if any(c.source.startswith('MODEL = "') or '\nMODEL = "' in c.source
                     for c in nbformat.read(p, as_version=4).cells if c.cell_type == "code")]


def test_most_notebooks_have_a_model_line():
    assert len(WITH_MODEL) >= 5 and any(p.name.startswith("09") for p in WITH_MODEL)


@pytest.mark.parametrize("path", WITH_MODEL, ids=lambda p: p.stem)
def test_swap_model_changes_exactly_the_model_line(path):
    from run_notebooks import swap_model

    nb = nbformat.read(path, as_version=4)
    before = [c.source for c in nb.cells]
    assert swap_model(nb, "efficientnet_lite2") == 1
    changed = [(a, c.source) for a, c in zip(before, nb.cells) if a != c.source]
    assert len(changed) == 1
    old, new = changed[0]
    assert 'MODEL = "efficientnet_lite2"' in new
    assert old.replace('MODEL = "efficientnet_lite0"', 'MODEL = "efficientnet_lite2"') == new
    assert nbformat.read(path, as_version=4).cells[0].source == before[0]  # the file is untouched


def test_swap_model_reports_a_notebook_without_one():
    from run_notebooks import swap_model

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    assert swap_model(nb, "efficientnet_lite2") == 0
