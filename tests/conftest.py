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
    import netguard

    netguard.install()
    os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def model():
    """The embedded EfficientNet-Lite0 on CPU (loaded once per session)."""
    from advcourse import load_model

    return load_model(device="cpu")
