"""A real Chromium opens the course in JupyterLab, runs 02_noise and moves its eps slider.

This is the one test that sees what a learner sees: every cell of the notebook runs in the browser,
the ipywidgets front end renders the noise app, and moving the slider changes both the rendered
prediction text and the figure. Screenshots (before and after the move, or at the failure) go to
``test-artifacts/browser/`` (``ADVCOURSE_ARTIFACTS`` overrides the folder). It needs Debian's
Chromium and Playwright (see labserver.py for when it skips).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from labserver import QUIET, ROOT, chromium, make_lab

ARTIFACTS = Path(os.environ.get("ADVCOURSE_ARTIFACTS", ROOT / "test-artifacts")) / "browser"
NOTEBOOK = "02_noise.ipynb"
APP = ".jp-OutputArea-output:has(.widget-slider)"  # the noise app's output: controls above a figure


@pytest.fixture
def page(tmp_path):
    with chromium(tmp_path) as browser:
        yield browser.new_page(viewport={"width": 1400, "height": 1000})


@pytest.mark.slow
@pytest.mark.browser
def test_noise_notebook_runs_and_its_eps_slider_changes_the_answer(page, tmp_path):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    # Serve a copy: JupyterLab autosaves what the browser runs, and the committed outputs must stay.
    course = shutil.copytree(ROOT / "notebooks", tmp_path / "notebooks")
    with make_lab(tmp_path, f"--LabApp.expose_app_in_browser=True {QUIET}", notebook_dir=course) as lab:
        try:
            _run_all_cells(page, lab, NOTEBOOK)
            _move_the_slider_and_check_the_redraw(page)
        except BaseException:
            page.screenshot(path=str(ARTIFACTS / "02_noise-failure.png"), full_page=True)
            raise


def _run_all_cells(page, lab, notebook: str) -> None:
    page.goto(lab.url(f"lab/tree/{notebook}"))
    page.wait_for_function("window.jupyterapp && document.querySelector('.jp-Notebook')", timeout=120_000)
    page.wait_for_function(  # the notebook's kernel (the .venv's python3) has started
        "() => { const s = window.jupyterapp.shell.currentWidget?.sessionContext;"
        " return s && s.isReady && s.kernelDisplayStatus === 'idle'; }", timeout=180_000, polling=1000)
    # Clear the stored outputs first, so everything checked below was drawn in this browser. The
    # commands' promises settle only when the whole run ends, so they are started, not awaited.
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs'); }")
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
    page.wait_for_function(  # every code cell has run and the kernel is idle again
        "() => { const nb = window.jupyterapp.shell.currentWidget;"
        " const cells = nb.content.widgets.filter(c => c.model.type === 'code');"
        " return nb.sessionContext.kernelDisplayStatus === 'idle'"
        "   && cells.every(c => c.model.executionCount !== null); }", timeout=600_000, polling=1000)
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    assert errors.count() == 0, errors.first.inner_text()
    assert page.locator(".jp-OutputArea-output .jp-RenderedText:has-text('Traceback')").count() == 0


def _app_state(app) -> tuple[str, str]:
    """(the printed verdict, the figure's image data) as the browser shows them."""
    return (app.locator(".widget-output .jp-RenderedText").last.inner_text(),
            app.locator(".widget-output img").first.get_attribute("src"))


def _move_the_slider_and_check_the_redraw(page) -> None:
    app = page.locator(APP).first
    app.scroll_into_view_if_needed()
    app.locator(".widget-output img").first.wait_for(timeout=60_000)
    no_news = page.get_by_role("button", name="No", exact=True)  # JupyterLab's "get news?" toast
    if no_news.count():
        no_news.first.click()
    text, figure = _app_state(app)
    assert "eps = 0/255" in text and "top-1" in text, text
    app.screenshot(path=str(ARTIFACTS / "02_noise-before.png"))

    handle = app.locator(".widget-slider .noUi-handle").first
    handle.focus()
    handle.press("End")  # a learner drags the slider to the largest eps (keyboard: same change event)
    page.wait_for_function(
        "([sel, old]) => { const out = document.querySelector(sel + ' .widget-output');"
        " const texts = out ? out.querySelectorAll('.jp-RenderedText') : [];"
        " return texts.length && !texts[texts.length - 1].innerText.includes(old); }",
        arg=[APP, text], timeout=120_000)
    app.locator(".widget-output img").first.wait_for(timeout=60_000)
    new_text, new_figure = _app_state(app)
    app.screenshot(path=str(ARTIFACTS / "02_noise-after.png"))
    page.screenshot(path=str(ARTIFACTS / "02_noise-lab.png"))
    assert "eps = 0/255" not in new_text and "top-1" in new_text, new_text
    assert new_figure and new_figure != figure  # the figure was redrawn for the new eps
    assert page.locator(".jp-OutputArea-output .jp-RenderedText:has-text('Traceback')").count() == 0
