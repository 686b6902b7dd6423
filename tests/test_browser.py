"""A real Chromium opens the course in JupyterLab, runs 00_welcome and uses its widget.

This is the one test that sees what a learner sees: the notebook runs in the browser, the
ipywidgets front end renders the app, and picking another photo redraws the figure. It needs
Debian's Chromium (``scripts/install_browser.sh``) and Playwright from PyPI; it is skipped when
they are missing, unless ``ADVCOURSE_REQUIRE_BROWSER=1`` (set by ``.ci/run``) makes that a failure.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from labserver import make_lab

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def _need(condition: bool, why: str) -> None:
    if not condition:
        if os.environ.get("ADVCOURSE_REQUIRE_BROWSER") == "1":
            pytest.fail(f"browser test required but {why}")
        pytest.skip(why)


@pytest.fixture
def page(tmp_path):
    _need(CHROMIUM.exists(), "Debian's chromium is not installed (scripts/install_browser.sh)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _need(False, "playwright is not installed")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS,
                                    env={**os.environ, "HOME": str(tmp_path)})
        try:
            yield browser.new_page(viewport={"width": 1400, "height": 1000})
        finally:
            browser.close()


@pytest.mark.slow
@pytest.mark.browser
def test_welcome_notebook_runs_and_its_widget_redraws(page, tmp_path):
    # Serve a copy: JupyterLab autosaves what the browser runs, and the committed outputs must stay.
    course = shutil.copytree(Path(__file__).resolve().parents[1] / "notebooks", tmp_path / "notebooks")
    with make_lab(tmp_path, "--LabApp.expose_app_in_browser=True", notebook_dir=course) as lab:
        try:
            _run_welcome_and_pick_another_photo(page, lab)
        finally:
            page.screenshot(path=str(tmp_path / "welcome.png"))


def _run_welcome_and_pick_another_photo(page, lab) -> None:
    page.goto(lab.url("lab/tree/00_welcome.ipynb"))
    page.wait_for_function("window.jupyterapp && document.querySelector('.jp-Notebook')", timeout=120_000)
    page.wait_for_function(  # the notebook's kernel (the .venv's python3) has started
        "() => { const s = window.jupyterapp.shell.currentWidget?.sessionContext;"
        " return s && s.isReady && s.kernelDisplayStatus === 'idle'; }", timeout=180_000, polling=1000)
    # Clear the stored outputs first, so everything checked below was drawn in this browser. The
    # commands' promises settle only when the whole run ends, so they are started, not awaited.
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs'); }")
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")

    app = page.locator(".jp-OutputArea-output .widget-dropdown select").first
    app.wait_for(timeout=300_000)  # the last code cell ran and the widget front end drew the app
    figure = page.locator(".jp-OutputArea-output .widget-output img").first
    figure.wait_for(timeout=60_000)
    before = figure.get_attribute("src")
    options = app.locator("option").all_inner_texts()
    assert len(options) >= 12 and options[0] != options[1]

    app.select_option(options[1])  # a learner picks another photo
    page.wait_for_function(
        "(old) => { const img = document.querySelector('.jp-OutputArea-output .widget-output img');"
        " return img && img.getAttribute('src') !== old; }", arg=before, timeout=60_000)
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    assert errors.count() == 0, errors.first.inner_text()
    assert page.locator(".jp-OutputArea-output .jp-RenderedText:has-text('Traceback')").count() == 0
