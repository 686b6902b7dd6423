"""Suite-wide setup: no network, headless matplotlib, few threads, shared fixtures."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

OFFLINE_DIR = Path(__file__).parent / "offline"


def pytest_configure(config: pytest.Config) -> None:
    # Offline for this process and every Python subprocess (notebook kernels, CLI runs).
    os.environ["ADVCOURSE_OFFLINE"] = "1"
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(OFFLINE_DIR), os.environ.get("PYTHONPATH")]))
    sys.path.insert(0, str(OFFLINE_DIR))
    sys.path.insert(0, str(Path(__file__).parent))  # tests/labserver.py
    import netguard

    netguard.install()
    os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def model():
    """The embedded EfficientNet-Lite0 on CPU (loaded once per session)."""
    from advcourse import load_model

    return load_model(device="cpu")


@pytest.fixture(scope="module")
def single_thread():
    """One intra-op thread for a module of tiny-model tests (restored after).

    On a small model the thread hand-offs cost more than the arithmetic, and on a busy 2-core machine
    a second thread can make a millisecond attack take seconds.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
