"""The notebooks as committed: stamped, executed, clean — checked without running them.

nbval (``pytest --nbval``) re-executes every notebook and compares outputs; these checks catch
what it cannot: a stale Colab badge, a cell never run, an error or a warning stored as an output,
a notebook missing from the README's course map, a cell that grew into hidden logic.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
MAX_CELL_LINES = 25  # cells are short calls into advcourse; logic lives in the package


def _read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def test_the_course_starts_with_the_welcome_notebook():
    assert NOTEBOOKS and NOTEBOOKS[0].name == "00_welcome.ipynb"
    numbers = [int(p.name[:2]) for p in NOTEBOOKS]
    assert numbers == list(range(len(NOTEBOOKS))), f"notebook numbers have gaps: {numbers}"


def test_badges_and_install_cells_are_current():
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "stamp_notebooks.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, f"run scripts/stamp_notebooks.py: {result.stdout}{result.stderr}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_executed_and_clean(path):
    nb = _read(path)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    counts = [c.execution_count for c in code]
    assert all(n is not None for n in counts), f"{path.name}: cells never executed (run `make notebooks`)"
    assert counts == sorted(counts), f"{path.name}: cells were executed out of order: {counts}"
    for cell in code:
        for out in cell.get("outputs", []):
            assert out.output_type != "error", f"{path.name}: stored error in cell {cell.source[:60]!r}"
            if out.output_type == "stream" and out.name == "stderr":
                pytest.fail(f"{path.name}: stderr stored in cell {cell.source[:60]!r}: {out.text[:200]!r}")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_cells_stay_short(path):
    for cell in _read(path).cells:
        if cell.cell_type == "code":
            lines = [ln for ln in cell.source.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
            assert len(lines) <= MAX_CELL_LINES, f"{path.name}: a {len(lines)}-line cell; move logic into advcourse"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_readme_links_every_notebook_and_its_colab_page(path):
    readme = (ROOT / "README.md").read_text()
    assert f"(notebooks/{path.name})" in readme, f"README's course map does not link {path.name}"
    assert re.search(rf"colab\.research\.google\.com/github/[^)]*/notebooks/{re.escape(path.name)}\)", readme), \
        f"README has no Colab link for {path.name}"
