"""How the maintenance scripts recognise the parts of a course notebook.

An exercise is a code cell with a line ``answer = ...`` and a call to a ``check_*`` function; the
placeholder fails its check, so its stored output is a "not yet" nudge and never the answer.

Its solution lives in the notebook's last section, ``## Solutions`` — the back of the book, so
that no renderer (JupyterLab, GitHub, a static site) shows an answer under its exercise. For the
k-th exercise it holds two cells:

- a markdown cell ``<details><summary>Show solution k</summary> … **Solution.** reasoning …
  </details>``: collapsed everywhere HTML is drawn;
- the solution code cell, which sets ``answer`` and calls the same check (nbval runs it, so it must
  pass). Its first line is the comment ``# Solution k`` (JupyterLab previews a folded cell's first
  line); its source and outputs are folded (``jupyter.source_hidden`` / ``outputs_hidden``) and it
  is tagged ``solution`` + ``hide-cell`` (a Sphinx/MyST-NB site draws such a cell as a toggle).

Authors may write a solution right after its exercise (a ``**Solution.**`` markdown cell, then
the code cell); ``gather_solutions`` (run by scripts/stamp_notebooks.py) moves it to the back and
folds it. Solutions run last, so no later lesson cell may depend on them (tests/test_notebooks.py
checks that).
"""

from __future__ import annotations

import re

import nbformat

SOLUTION_MARK = "**Solution.**"
SOLUTIONS_HEADING = "## Solutions"
SOLUTION_TAGS = ("solution", "hide-cell")
SOLUTIONS_INTRO = (
    f"{SOLUTIONS_HEADING}\n\n"
    "Try each exercise first: its check tells you *not yet* or *correct* without giving the answer away.\n"
    "When you want a solution, open it below: **Show solution k** holds the reasoning, and the folded\n"
    "cell under it (click its bar in JupyterLab) holds the code, which runs the same check.")
_SUMMARY = re.compile(r"^<details>\s*<summary>Show solution (\d+)</summary>")
_PLACEHOLDER = re.compile(r"^answer = \.\.\.", re.M)
_CHECK = re.compile(r"\b(check_\w+)\(")
_FIRST_LINE = re.compile(r"^# Solution \d+[^\n]*\n")


def is_exercise(cell: nbformat.NotebookNode) -> bool:
    return cell.cell_type == "code" and bool(_PLACEHOLDER.search(cell.source)) and bool(_CHECK.search(cell.source))


def is_solution_note(cell: nbformat.NotebookNode) -> bool:
    """A solution's reasoning, in either form: authored (``**Solution.**``) or gathered (``<details>``)."""
    return cell.cell_type == "markdown" and (cell.source.startswith(SOLUTION_MARK) or bool(_SUMMARY.match(cell.source)))


def check_name(cell: nbformat.NotebookNode) -> str | None:
    """The last ``check_*`` function a cell calls, or None."""
    found = _CHECK.findall(cell.source)
    return found[-1] if found else None


def _heading(nb: nbformat.NotebookNode) -> int | None:
    return next((i for i, c in enumerate(nb.cells) if c.cell_type == "markdown"
                 and c.source.startswith(SOLUTIONS_HEADING)), None)


def exercises(nb: nbformat.NotebookNode) -> list[tuple[int, int, int]]:
    """(exercise, solution note, solution code) cell indices for every exercise, in order.

    Solutions are read from the ``## Solutions`` section, in the order of the exercises. Raises
    ValueError naming the exercise when its solution is missing, out of place or checks something else.
    """
    found = []
    quiz = [i for i, c in enumerate(nb.cells) if is_exercise(c)]
    start = _heading(nb)
    if start is None:
        if quiz:
            raise ValueError(f"cell {quiz[0]} ({check_name(nb.cells[quiz[0]])}): no '{SOLUTIONS_HEADING}' "
                             "section (run scripts/stamp_notebooks.py)")
        return found
    if quiz and quiz[-1] > start:
        raise ValueError(f"cell {quiz[-1]}: an exercise below '{SOLUTIONS_HEADING}', which must close the notebook")
    rest = nb.cells[start + 1:]
    if len(rest) != 2 * len(quiz):
        raise ValueError(f"'{SOLUTIONS_HEADING}' holds {len(rest)} cells for {len(quiz)} exercises; "
                         "expected a note and a code cell per exercise, and nothing else")
    for k, i in enumerate(quiz):
        note, code = start + 1 + 2 * k, start + 2 + 2 * k
        if not (_SUMMARY.match(nb.cells[note].source) and nb.cells[code].cell_type == "code"
                and _SUMMARY.match(nb.cells[note].source).group(1) == str(k + 1)):
            raise ValueError(f"cell {i} ({check_name(nb.cells[i])}): expected 'Show solution {k + 1}' "
                             "and its code cell in the Solutions section")
        if check_name(nb.cells[code]) != check_name(nb.cells[i]):
            raise ValueError(f"cell {i}: the solution calls {check_name(nb.cells[code])}, "
                             f"the exercise {check_name(nb.cells[i])}")
        found.append((i, note, code))
    return found


def _reasoning(note: nbformat.NotebookNode) -> str:
    """The reasoning of a solution note, without its wrapper (either form)."""
    text = note.source
    if _SUMMARY.match(text):
        text = _SUMMARY.sub("", text).rsplit("</details>", 1)[0]
    return text.strip()


def note_source(k: int, reasoning: str) -> str:
    """The collapsed markdown of solution ``k``: reasoning inside ``<details>`` (blank lines keep markdown live)."""
    reasoning = reasoning.strip()
    if not reasoning.startswith(SOLUTION_MARK):
        reasoning = f"{SOLUTION_MARK} {reasoning}".strip()
    if reasoning == SOLUTION_MARK:
        reasoning += " The code is in the folded cell below."
    return f"<details><summary>Show solution {k}</summary>\n\n{reasoning}\n\n</details>"


def fold(cell: nbformat.NotebookNode, k: int) -> None:
    """Make ``cell`` solution ``k``'s folded code cell: a neutral first line, source and outputs hidden, tags."""
    body = _FIRST_LINE.sub("", cell.source, count=1)
    cell.source = f"# Solution {k}\n{body}"
    cell.metadata.setdefault("jupyter", {}).update(source_hidden=True, outputs_hidden=True)
    cell.metadata["tags"] = sorted(set(cell.metadata.get("tags", [])) | set(SOLUTION_TAGS))


def gather_solutions(nb: nbformat.NotebookNode) -> bool:
    """Bring every solution into the closing ``## Solutions`` section, collapsed and folded.

    Solutions written right after their exercise are moved there (outputs kept: they are the
    same cells, run later). Idempotent; returns True when anything changed.
    """
    before = nbformat.writes(nb)
    start = _heading(nb)
    back = list(nb.cells[start + 1:]) if start is not None else []
    cells = list(nb.cells[:start] if start is not None else nb.cells)
    solved: dict[int, tuple[nbformat.NotebookNode, nbformat.NotebookNode]] = {}
    body, j = [], 0
    while j < len(cells):
        c = cells[j]
        body.append(c)
        if (is_exercise(c) and j + 2 < len(cells) and is_solution_note(cells[j + 1])
                and cells[j + 2].cell_type == "code"):
            solved[id(c)] = (cells[j + 1], cells[j + 2])
            j += 3
            continue
        j += 1
    quiz = [c for c in body if is_exercise(c)]
    pairs = iter(zip(back[0::2], back[1::2]))  # solutions already at the back, in exercise order
    section = []
    for k, c in enumerate(quiz, start=1):
        note, code = solved.get(id(c)) or next(pairs, (None, None))
        if note is None:
            raise ValueError(f"exercise {k} ({check_name(c)}): no solution written for it")
        note.source = note_source(k, _reasoning(note))
        fold(code, k)
        section += [note, code]
    if quiz or start is not None:
        heading = nb.cells[start] if start is not None else nbformat.v4.new_markdown_cell()
        if nb.nbformat_minor < 5:  # cell ids arrived with nbformat 4.5; older notebooks must not carry one
            heading.pop("id", None)
        heading.source = SOLUTIONS_INTRO
        nb.cells = [*body, heading, *section] if quiz else body
    return nbformat.writes(nb) != before


def without_solutions(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` without its Solutions section, and with exercise outputs cleared."""
    nb = nbformat.from_dict(nb)
    triples = exercises(nb)
    for i, _, _ in triples:
        nb.cells[i].outputs, nb.cells[i].execution_count = [], None
    start = _heading(nb)
    if start is not None:
        nb.cells = nb.cells[:start]
    return nb
