"""Start ``make lab`` on a free loopback port, and Debian's Chromium, for the browser tests.

Both need things pip alone does not bring (``scripts/install_browser.sh``): a test that lacks them
is skipped, unless ``ADVCOURSE_REQUIRE_BROWSER=1`` (set by ``.ci/run``) makes that a failure.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
#: JupyterLab without its news and update toasts (they would cover screenshots).
QUIET = "--LabApp.news_url=None --LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"


@dataclass
class Lab:
    port: int
    token: str

    def url(self, path: str) -> str:
        sep = "&" if "?" in path else "?"
        return f"http://127.0.0.1:{self.port}/{path.lstrip('/')}{sep}token={self.token}"

    def api(self, path: str) -> object:
        with urllib.request.urlopen(self.url(path), timeout=5) as response:
            return json.load(response)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def need(condition: bool, why: str) -> None:
    """Skip the test when ``condition`` fails (a failure when ADVCOURSE_REQUIRE_BROWSER=1)."""
    import pytest

    if not condition:
        if os.environ.get("ADVCOURSE_REQUIRE_BROWSER") == "1":
            pytest.fail(f"browser test required but {why}")
        pytest.skip(why)


@contextmanager
def chromium(home: Path) -> Iterator[object]:
    """A headless Debian Chromium driven by Playwright (its ``Browser``), closed after."""
    need(CHROMIUM.exists(), "Debian's chromium is not installed (scripts/install_browser.sh)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        need(False, "playwright is not installed")
    with sync_playwright() as p:
        try:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS, env={**os.environ, "HOME": str(home)})
        except Exception as exc:  # a browser that cannot start is a failure in CI, not a skip
            need(False, f"chromium did not start: {exc}")
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def make_lab(tmp_path: Path, extra_args: str = "", notebook_dir: Path | None = None,
             timeout: float = 240) -> Iterator[Lab]:
    """Run ``make lab LAB_ARGS=...`` until the server answers; stop it (and its kernels) after."""
    lab = Lab(_free_port(), "advcourse-test")
    args = f"--no-browser --ip=127.0.0.1 --port={lab.port} --IdentityProvider.token={lab.token} {extra_args}"
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
           "JUPYTER_CONFIG_DIR": str(tmp_path / "config"), "JUPYTER_DATA_DIR": str(tmp_path / "data")}
    log = open(tmp_path / "lab.log", "wb")
    make_vars = [f"LAB_ARGS={args}"] + ([f"NOTEBOOK_DIR={notebook_dir}"] if notebook_dir else [])
    proc = subprocess.Popen(["make", "-s", "lab", *make_vars], cwd=ROOT, env=env, start_new_session=True,
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"make lab exited with {proc.returncode}:\n{(tmp_path / 'lab.log').read_text()[-3000:]}")
            try:
                lab.api("api/status")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError("JupyterLab never answered on localhost") from None
                time.sleep(1)
        yield lab
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        log.close()
