"""Suite-wide pytest setup, loaded by every run (also `pytest --nbval notebooks/` on its own).

- No network: this process and every Python subprocess it starts (notebook kernels, CLI runs)
  may only reach loopback addresses (tests/startup/).
- Headless matplotlib, and no progress bars (the stored notebooks hold none).
- nbval compares stored notebook outputs strictly, except for a one-unit difference in the last
  printed decimal of a number, the float noise between CPUs (tests/nbval_numbers.py).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).parent / "tests"
STARTUP_DIR = TESTS_DIR / "startup"


def pytest_configure(config: pytest.Config) -> None:
    os.environ["ADVCOURSE_OFFLINE"] = "1"
    os.environ["ADVCOURSE_PROGRESS"] = "0"  # kernels print no progress bar (none is stored to compare with)
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(STARTUP_DIR), os.environ.get("PYTHONPATH")]))
    sys.path.insert(0, str(STARTUP_DIR))
    sys.path.insert(0, str(TESTS_DIR))  # tests/labserver.py, tests/nbval_numbers.py
    import nbval_numbers
    import netguard

    netguard.install()
    nbval_numbers.install()
    os.environ.setdefault("MPLBACKEND", "Agg")

# The workshop notebook talks to a live challenge server: tests/test_workshop_notebook.py runs it against one
# (nbval over notebooks/ would run it without a server).
collect_ignore_glob = ["notebooks/workshop/*"]
