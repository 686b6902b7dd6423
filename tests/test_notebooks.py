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
sys.path.insert(0, str(ROOT / "scripts"))
from notebook_tools import SOLUTION_MARK, exercises, is_exercise  # noqa: E402

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


def test_colab_installs_the_release_tag_of_this_version():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["tool"]["advcourse"]["colab-ref"] == "v" + project["project"]["version"], \
        "colab-ref must be the tag of this version: bump both, then run scripts/stamp_notebooks.py"


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


def _text(cell: nbformat.NotebookNode) -> str:
    parts = []
    for out in cell.get("outputs", []):
        parts.append(out.get("text", "") if out.output_type == "stream" else out.get("data", {}).get("text/plain", ""))
    return "".join(parts)


@pytest.mark.parametrize("path", NOTEBOOKS[1:], ids=lambda p: p.stem)
def test_every_exercise_has_a_folded_solution_that_passes_its_own_check(path):
    nb = _read(path)
    found = exercises(nb)  # raises, naming the cell, when a solution is missing or checks another thing
    assert found, f"{path.name} has no checked exercise"
    for exercise, note, code in found:
        # as committed (and as nbval re-runs it): the placeholder fails, the solution passes
        assert "✘ not yet" in _text(nb.cells[exercise]), f"{path.name} cell {exercise}: the placeholder should fail"
        assert "✔ correct" in _text(nb.cells[code]), f"{path.name} cell {code}: the solution does not pass its check"
        assert nb.cells[code].metadata.get("jupyter", {}).get("source_hidden") is True, \
            f"{path.name} cell {code}: solution not folded (run scripts/stamp_notebooks.py)"


def test_student_copies_drop_the_solutions_and_keep_everything_else(tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "student_copy.py"), str(tmp_path)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    for path in NOTEBOOKS:
        full, student = _read(path), _read(tmp_path / path.name)
        found = exercises(full)
        assert len(student.cells) == len(full.cells) - 2 * len(found)
        assert not any(c.source.startswith(SOLUTION_MARK) for c in student.cells)
        assert not any("✔ correct" in _text(c) for c in student.cells)
        assert sum(map(is_exercise, student.cells)) == len(found)  # every exercise is still there, unanswered
        assert all(not c.outputs for c in student.cells if is_exercise(c))


def test_make_notebooks_stores_outputs_without_volatile_metadata():
    from run_notebooks import KERNELSPEC, tidy

    state = {"application/vnd.jupyter.widget-state+json": {"state": {}, "version_major": 2, "version_minor": 0}}
    nb = nbformat.v4.new_notebook(metadata={"widgets": state, "language_info": {"name": "python", "version": "3.11.9"},
                                            "kernelspec": {"name": "venv-kernel", "display_name": "x"}})
    cell = nbformat.v4.new_code_cell("print(1)", execution_count=1, metadata={
        "execution": {"iopub.execute_input": "2026-01-01T00:00:00"}, "ExecuteTime": {}, "jupyter": {"source_hidden": True}})
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="1\n")]
    nb.cells = [cell]
    tidy(nb)
    assert nb.metadata.widgets == state and "version" not in nb.metadata.language_info  # widget state is kept
    assert nb.metadata.kernelspec == KERNELSPEC
    assert dict(cell.metadata) == {"jupyter": {"source_hidden": True}}  # folds survive, timings do not
    assert cell.outputs[0].text == "1\n" and cell.execution_count == 1


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebook_opens_as_stored(path):
    """Widgets drawn from stored state, the kernel `make lab` offers, no timings, no progress bar."""
    from run_notebooks import KERNELSPEC

    nb = _read(path)
    assert nb.metadata.get("kernelspec") == KERNELSPEC, f"{path.name}: kernelspec differs from make lab's (run `make notebooks`)"
    assert not any("execution" in c.metadata for c in nb.cells), f"{path.name}: cell timings stored"
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            view = out.get("data", {}).get("application/vnd.jupyter.widget-view+json")
            if view:
                assert view["model_id"] in state, f"{path.name}: a widget without stored state: {cell.source[:60]!r}"
            assert not re.search(r"\d+%\|", _text_of(out)), f"{path.name}: progress bar stored: {cell.source[:60]!r}"


def _text_of(out: nbformat.NotebookNode) -> str:
    if out.output_type == "stream":
        return out.text
    return str(out.get("data", {}).get("text/plain", ""))


def test_stamping_points_every_colab_link_at_one_repository_and_ref():
    from stamp_notebooks import install_source, stamp_readme

    old = ("[open](https://colab.research.google.com/github/someone/fork/blob/main/notebooks/05_fgsm.ipynb) "
           "[other](https://example.org/blob/main/notebooks/x.ipynb)")
    new = stamp_readme(old, "https://github.com/advcourse/advcourse", "v9.9.9")
    assert "colab.research.google.com/github/advcourse/advcourse/blob/v9.9.9/notebooks/05_fgsm.ipynb" in new
    assert "https://example.org/blob/main/notebooks/x.ipynb" in new  # only Colab links change
    cell = install_source("https://github.com/advcourse/advcourse", "v9.9.9")
    assert 'if "google.colab" in sys.modules:' in cell and "git+https://github.com/advcourse/advcourse@v9.9.9" in cell
    assert "torch" not in cell.split("\n", 1)[1]  # below its comment line: no torch (re)install


def _names(source: str) -> tuple[set[str], set[str]]:
    """(names a cell binds, names it reads), from its Python source; IPython magics count as nothing."""
    import ast

    tree = ast.parse("\n".join(re.sub(r"^(\s*)[%!].*$", r"\1pass", ln) for ln in source.splitlines()))
    binds, reads = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (binds if isinstance(node.ctx, ast.Store) else reads).add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            binds |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            binds.add(node.name)
    return binds, reads


@pytest.mark.parametrize("path", NOTEBOOKS[1:], ids=lambda p: p.stem)
def test_no_cell_needs_a_name_that_only_a_solution_defines(path):
    """So a student copy (solutions removed) still runs top to bottom."""
    nb = _read(path)
    solutions = {code for _, _, code in exercises(nb)}
    only_in_solutions: set[str] = set()
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        binds, reads = _names(cell.source)
        if i in solutions:
            only_in_solutions |= binds - {"answer"}
            continue
        needed = (reads - binds) & only_in_solutions
        assert not needed, f"{path.name} cell {i} reads {sorted(needed)}, defined only in a solution cell"
        only_in_solutions -= binds
