"""Shared fixtures (the suite-wide setup — offline, headless, nbval tolerance — is the root conftest.py)."""

from __future__ import annotations

import pytest


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
