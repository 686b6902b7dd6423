"""How the maintenance scripts recognise the parts of a course notebook.

An exercise is a code cell with a line ``answer = ...`` and a call to a ``check_*`` function. Its
solution follows it: a markdown cell that starts with ``**Solution.**`` (the reasoning), then one
code cell that sets ``answer`` and calls the same check (which nbval runs, so it must pass).
"""

from __future__ import annotations

import re

import nbformat

SOLUTION_MARK = "**Solution.**"
_PLACEHOLDER = re.compile(r"^answer = \.\.\.", re.M)
_CHECK = re.compile(r"\b(check_\w+)\(")


def is_exercise(cell: nbformat.NotebookNode) -> bool:
    return cell.cell_type == "code" and bool(_PLACEHOLDER.search(cell.source)) and bool(_CHECK.search(cell.source))


def check_name(cell: nbformat.NotebookNode) -> str | None:
    """The last ``check_*`` function a cell calls, or None."""
    found = _CHECK.findall(cell.source)
    return found[-1] if found else None


def exercises(nb: nbformat.NotebookNode) -> list[tuple[int, int, int]]:
    """(exercise, solution note, solution code) cell indices for every exercise, in order.

    Raises ValueError naming the exercise when its solution is missing or checks something else.
    """
    found = []
    for i, cell in enumerate(nb.cells):
        if not is_exercise(cell):
            continue
        note, code = i + 1, i + 2
        if (code >= len(nb.cells) or nb.cells[note].cell_type != "markdown"
                or not nb.cells[note].source.startswith(SOLUTION_MARK) or nb.cells[code].cell_type != "code"):
            raise ValueError(f"cell {i} ({check_name(cell)}): expected a '{SOLUTION_MARK}' markdown cell "
                             "and a solution code cell right after the exercise")
        if check_name(nb.cells[code]) != check_name(cell):
            raise ValueError(f"cell {i}: the solution calls {check_name(nb.cells[code])}, "
                             f"the exercise {check_name(cell)}")
        found.append((i, note, code))
    return found


def fold_solutions(nb: nbformat.NotebookNode) -> bool:
    """Fold (hide the source of) every solution code cell, as JupyterLab's 'collapse input' does.

    The learner sees the exercise, the reasoning and a folded cell to open when ready. Returns True
    when anything changed.
    """
    changed = False
    for _, _, code in exercises(nb):
        meta = nb.cells[code].metadata.setdefault("jupyter", {})
        if meta.get("source_hidden") is not True:
            meta["source_hidden"] = True
            changed = True
    return changed


def without_solutions(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` with every solution (note and code) removed and exercise outputs cleared."""
    nb = nbformat.from_dict(nb)
    triples = exercises(nb)
    drop = {j for _, note, code in triples for j in (note, code)}
    for i, _, _ in triples:
        nb.cells[i].outputs, nb.cells[i].execution_count = [], None
    nb.cells = [c for j, c in enumerate(nb.cells) if j not in drop]
    return nb
