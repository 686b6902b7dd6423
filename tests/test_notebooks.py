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
from notebook_tools import (SOLUTION_TAGS, SOLUTIONS_HEADING, exercises, gather_solutions,  # noqa: E402
                            is_exercise, is_solution_note)

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
    nbformat.validate(nb)
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
def test_every_exercise_has_a_hidden_solution_that_passes_its_own_check(path):
    nb = _read(path)
    found = exercises(nb)  # raises, naming the cell, when a solution is missing or checks another thing
    assert found, f"{path.name} has no checked exercise"
    for k, (exercise, note, code) in enumerate(found, start=1):
        # as committed (and as nbval re-runs it): the placeholder fails, the solution passes
        assert "✘ not yet" in _text(nb.cells[exercise]), f"{path.name} cell {exercise}: the placeholder should fail"
        assert "✔" not in _text(nb.cells[exercise]), f"{path.name} cell {exercise}: the placeholder passes"
        assert "✔ correct" in _text(nb.cells[code]), f"{path.name} cell {code}: the solution does not pass its check"
        # and nothing of it shows until asked for: collapsed reasoning, a folded cell with a neutral first line
        assert nb.cells[note].source.startswith(f"<details><summary>Show solution {k}</summary>")
        assert nb.cells[note].source.rstrip().endswith("</details>")
        cell = nb.cells[code]
        assert cell.source.splitlines()[0] == f"# Solution {k}", f"{path.name} cell {code}: first line shows code"
        assert cell.metadata.get("jupyter", {}) | {"source_hidden": True, "outputs_hidden": True} \
            == cell.metadata.get("jupyter"), f"{path.name} cell {code}: not folded (run scripts/stamp_notebooks.py)"
        assert set(SOLUTION_TAGS) <= set(cell.metadata.get("tags", [])), f"{path.name} cell {code}: tags missing"
    heading = found[0][1] - 1
    assert nb.cells[heading].source.startswith(SOLUTIONS_HEADING)
    assert not any(c.cell_type == "code" and "✔" in _text(c) for c in nb.cells[:heading]), \
        f"{path.name}: a check passes above the Solutions section"


def _exercise_notebook(*solution_forms: str) -> nbformat.NotebookNode:
    """Two exercises, solved right after themselves ("inline") or already at the back ("back")."""
    nb = nbformat.v4.new_notebook()
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    cells, back = [md("# a lesson")], []
    for k, form in enumerate(solution_forms, start=1):
        solution = [md(f"**Solution.** why {k}"), code(f"answer = {k}\ncheck_{k}(answer)")]
        cells += [md(f"**{k}. exercise**"), code(f"answer = ...  # a number\ncheck_{k}(answer)")]
        cells += solution if form == "inline" else []
        back += solution if form == "back" else []
    cells.append(md("## What we saw"))
    if back:
        cells += [md(SOLUTIONS_HEADING), *back]
    nb.cells = cells
    return nb


@pytest.mark.parametrize("forms", [("inline", "inline"), ("back", "inline"), ("back", "back")])
def test_gathering_moves_solutions_to_the_back_folded_and_is_idempotent(forms):
    nb = _exercise_notebook(*forms)
    assert gather_solutions(nb) is True
    assert [c.source.split("\n")[0] for c in nb.cells] == [
        "# a lesson", "**1. exercise**", "answer = ...  # a number", "**2. exercise**", "answer = ...  # a number",
        "## What we saw", SOLUTIONS_HEADING, "<details><summary>Show solution 1</summary>", "# Solution 1",
        "<details><summary>Show solution 2</summary>", "# Solution 2"]
    assert "**Solution.** why 2" in nb.cells[9].source and nb.cells[10].source == "# Solution 2\nanswer = 2\ncheck_2(answer)"
    assert exercises(nb) == [(2, 7, 8), (4, 9, 10)]
    assert all(nb.cells[c].metadata["jupyter"] == {"source_hidden": True, "outputs_hidden": True} for c in (8, 10))
    assert gather_solutions(nb) is False  # stamping twice changes nothing
    nbformat.validate(nb)
    old = _exercise_notebook(*forms)
    old.nbformat_minor = 4  # a notebook from before cell ids
    for cell in old.cells:
        cell.pop("id", None)
    gather_solutions(old)
    nbformat.validate(old)


def test_a_missing_or_mismatched_solution_is_named():
    nb = _exercise_notebook("inline", "inline")
    del nb.cells[7:9]  # exercise 2 loses its solution
    with pytest.raises(ValueError, match="exercise 2 .*check_2.*no solution"):
        gather_solutions(nb)
    nb = _exercise_notebook("inline", "inline")
    gather_solutions(nb)
    nb.cells[-1].source = nb.cells[-1].source.replace("check_2", "check_1")
    with pytest.raises(ValueError, match="solution calls check_1, the exercise check_2"):
        exercises(nb)


def test_student_copies_drop_the_solutions_and_keep_everything_else(tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "student_copy.py"), str(tmp_path)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    for path in NOTEBOOKS:
        full, student = _read(path), _read(tmp_path / path.name)
        found = exercises(full)
        assert len(student.cells) == len(full.cells) - (2 * len(found) + 1 if found else 0)
        assert not any(is_solution_note(c) or c.source.startswith(SOLUTIONS_HEADING) for c in student.cells)
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
    assert nb.metadata.widgets == state  # widget state is kept
    assert nb.metadata.language_info["version"] == "3.11.9"  # as the kernel reports it: JupyterLab rewrites it
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


@pytest.mark.parametrize("path", NOTEBOOKS[1:], ids=lambda p: p.stem)
def test_each_solution_sees_what_its_exercise_saw(path):
    """Solutions run at the back of the notebook: no cell after an exercise may rebind a name its
    solution reads, or the solution would check against other values than the learner had."""
    nb = _read(path)
    found = exercises(nb)
    for exercise, _, code in found:
        binds, reads = _names(nb.cells[code].source)
        rebound = set()
        for cell in nb.cells[exercise + 1:found[0][1]]:
            if cell.cell_type == "code":
                rebound |= _names(cell.source)[0]
        clash = (reads - binds) & rebound - {"answer"}
        assert not clash, f"{path.name}: {sorted(clash)} change between exercise cell {exercise} and its solution"


def test_every_ignored_output_says_why():
    """`# NBVAL_IGNORE_OUTPUT` only with a reason on the next comment line, and no more of them.

    The budget: the 16 of notebooks 00–08 (11 live apps, 2 over-precise tables, 3 training printouts)
    and at most two for each later notebook (its live app, one random-by-nature printout).
    """
    markers = 0
    for path in NOTEBOOKS:
        for cell in _read(path).cells:
            lines = cell.source.splitlines()
            for i, line in enumerate(lines):
                if line.strip() == "# NBVAL_IGNORE_OUTPUT":
                    markers += 1
                    reason = lines[i + 1].strip() if i + 1 < len(lines) else ""
                    assert reason.startswith("# (") and len(reason) > 20, \
                        f"{path.name}: an ignored output without a reason: {cell.source[:80]!r}"
    budget = 16 + 2 * sum(1 for path in NOTEBOOKS if path.name[:2] > "08")
    assert markers <= budget, f"{markers} NBVAL_IGNORE_OUTPUT markers: hiding a brittle output is not a fix"


def test_course_map_names_each_notebooks_attack_class():
    """README's course map, the site's (scripts/build_site.py) and notebook 01's table of NIST AI
    100-2's classes agree with ATTACK_CLASSES, which names one class for every notebook."""
    from advcourse.foundations.threat_models import ATTACK_CLASSES

    assert sorted(ATTACK_CLASSES) == [p.stem for p in NOTEBOOKS]
    readme = (ROOT / "README.md").read_text()
    for stem, kind in ATTACK_CLASSES.items():
        assert re.search(rf"\(notebooks/{stem}\.ipynb\) \| {re.escape(kind)} \|", readme), \
            f"README's course map does not give {stem} the class {kind!r}"
    taxonomy = next(c.source for c in _read(ROOT / "notebooks" / "01_threat_models.ipynb").cells
                    if c.cell_type == "markdown" and "NIST AI 100-2" in c.source)
    for kind in {k.split(" ")[0] for k in ATTACK_CLASSES.values()} - {"—"}:
        assert f"| {kind} |" in taxonomy, f"01's table of attack classes has no row for {kind}"
