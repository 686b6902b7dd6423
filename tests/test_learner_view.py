"""What a learner sees on opening each notebook in JupyterLab, before running anything.

One JupyterLab serves a copy of the course; Chromium opens every notebook (its kernel starts, as
for a learner, but no cell runs), scrolls through it a screen at a time and reads the text that is
actually drawn. It fails on a widget shown as its Python repr (``VBox(``: the stored widget state
is missing), on a stored progress bar, on a solution in view (a passing check "✔ correct", the
reasoning of a collapsed solution, the code of a folded one), and on a notebook marked modified
after opening (JupyterLab would autosave it). Every screen is saved as
``test-artifacts/learner-view/NN_name-SS.png`` (``ADVCOURSE_ARTIFACTS`` overrides the folder), so a
reviewer can page through the course as a learner meets it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import urllib.request
from pathlib import Path

import nbformat
import pytest

from labserver import QUIET, ROOT, chromium, make_lab

sys.path.insert(0, str(ROOT / "scripts"))
from notebook_tools import exercises  # noqa: E402

ARTIFACTS = Path(os.environ.get("ADVCOURSE_ARTIFACTS", ROOT / "test-artifacts")) / "learner-view"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
VIEWPORT = {"width": 1400, "height": 900}
MAX_SCREENS = 80  # a guard against a scroller that never reaches the end
FORBIDDEN = {
    "a widget drawn as its Python repr (no stored widget state)": re.compile(r"\b[VH]Box\(|Error displaying widget"),
    "a stored progress bar": re.compile(r"\d+%\||\d+/\d+ \[\d+:\d+"),  # tqdm's text: "0%|", "0/1 [00:00<?"
    "a passing check, i.e. a solution's output": re.compile(r"✔ correct"),
    "the reasoning of a solution": re.compile(r"\bSolution\."),
}
PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"
SCROLLER = f"{PANEL} .jp-WindowedPanel-outer"
BARS = f"{PANEL} .jp-OutputArea-output :is(.widget-hprogress, progress)"  # tqdm drawn as a widget


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """One JupyterLab for every notebook, serving a copy (so nothing can touch the committed files)."""
    tmp = tmp_path_factory.mktemp("learner-view")
    course = shutil.copytree(ROOT / "notebooks", tmp / "notebooks")
    with make_lab(tmp, f"--LabApp.expose_app_in_browser=True {QUIET}", notebook_dir=course) as server:
        server.course = course
        yield server


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with chromium(tmp_path_factory.mktemp("chromium-home")) as b:
        yield b


def _hidden_solution_code(path: Path) -> list[str]:
    """A telling line of every solution cell (its second line: the first is '# Solution k')."""
    nb = nbformat.read(path, as_version=4)
    lines = [nb.cells[code].source.splitlines()[1:2] for _, _, code in exercises(nb)]
    return [ln[0].strip() for ln in lines if ln and len(ln[0].strip()) > 12]


def _shut_down_kernels(lab) -> None:
    for session in lab.api("api/sessions"):
        request = urllib.request.Request(lab.url(f"api/sessions/{session['id']}"), method="DELETE")
        urllib.request.urlopen(request, timeout=10).close()


def _open(page, lab, name: str) -> None:
    page.goto(lab.url(f"lab/tree/{name}?reset"))
    page.wait_for_function("window.jupyterapp && document.querySelector('.jp-Notebook .jp-Cell')", timeout=120_000)
    page.wait_for_function(  # the kernel a learner gets has started: any metadata it rewrites is rewritten
        "() => { const w = window.jupyterapp.shell.currentWidget; const s = w && w.sessionContext;"
        " return s && s.isReady && s.kernelDisplayStatus === 'idle'; }", timeout=120_000, polling=250)
    no_news = page.get_by_role("button", name="No", exact=True)  # JupyterLab's "get news?" toast
    if no_news.count():
        no_news.first.click()
    page.wait_for_timeout(500)  # widget views are restored from the notebook's stored state


def _read_screen_by_screen(page, stem: str) -> tuple[str, int, int]:
    """Scroll from top to bottom; screenshot every screen. Returns the drawn text, the number of
    screens, and the most progress-bar widgets seen on one screen."""
    seen, screen, bars = [], 0, 0
    page.evaluate("(sel) => { document.querySelector(sel).scrollTop = 0; }", SCROLLER)
    while screen < MAX_SCREENS:
        page.wait_for_timeout(150)
        page.screenshot(path=str(ARTIFACTS / f"{stem}-{screen:02d}.png"))
        seen.append(page.evaluate("(sel) => document.querySelector(sel).innerText", f"{PANEL} .jp-Notebook"))
        bars = max(bars, page.locator(BARS).count())
        screen += 1
        at_end = page.evaluate(  # the last cell is in view (what follows is padding), or no scroll is left
            "(sel) => { const s = document.querySelector(sel); const cells = s.querySelectorAll('.jp-Cell');"
            " const last = cells[cells.length - 1];"
            " if (last && last.getBoundingClientRect().bottom <= s.getBoundingClientRect().bottom) return true;"
            " const before = s.scrollTop; s.scrollTop = before + 0.9 * s.clientHeight;"
            " return s.scrollTop <= before + 1; }", SCROLLER)
        if at_end:
            break
    return "\n".join(seen), screen, bars


def _dirty(page) -> tuple[bool, bool]:
    """(the document model's dirty flag, the dirty mark on the notebook's tab)."""
    return page.evaluate(
        "() => [window.jupyterapp.shell.currentWidget.context.model.dirty,"
        " !!document.querySelector('.lm-TabBar-tab.jp-mod-current.jp-mod-dirty')]")


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_a_notebook_opened_without_running_looks_finished_and_hides_its_solutions(path, lab, browser):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob(f"{path.stem}-*.png"):
        old.unlink()
    page = browser.new_page(viewport=VIEWPORT)
    try:
        _open(page, lab, path.name)
        text, screens, bars = _read_screen_by_screen(page, path.stem)
        dirty = _dirty(page)
    finally:
        page.close()
        _shut_down_kernels(lab)
    problems = [f"{what}: {m.group(0)!r} in …{text[max(0, m.start() - 80):m.end() + 40]!r}…"
                for what, pattern in FORBIDDEN.items() if (m := pattern.search(text))]
    problems += [f"the code of a folded solution: {line!r}" for line in _hidden_solution_code(path) if line in text]
    if bars:
        problems.append(f"a stored progress bar: {bars} progress widget(s) in the outputs")
    if any(dirty):
        problems.append(f"marked modified after opening (model dirty, tab dirty) = {dirty}")
    if json.loads((lab.course / path.name).read_text()) != json.loads(path.read_text()):
        problems.append("JupyterLab rewrote the notebook on opening")
    assert screens >= 2 and len(text) > 500, f"{path.name}: the notebook did not render ({screens} screens)"
    assert not problems, f"{path.name} ({screens} screens, see {ARTIFACTS}):\n  " + "\n  ".join(problems)
