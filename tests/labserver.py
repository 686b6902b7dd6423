"""Start ``make lab`` on a free loopback port for the tests that need a real JupyterLab server."""

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
