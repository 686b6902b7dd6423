"""`make lab LAB_ARGS=--no-browser` starts a JupyterLab server that answers on localhost."""

from __future__ import annotations

import pytest

from labserver import make_lab


@pytest.mark.slow
def test_make_lab_serves_the_notebooks(tmp_path):
    with make_lab(tmp_path) as lab:
        names = {item["name"] for item in lab.api("api/contents")["content"]}
        assert "00_welcome.ipynb" in names  # it serves the course folder
        kernels = {k for k in lab.api("api/kernelspecs")["kernelspecs"]}
        assert "python3" in kernels  # the notebooks' kernel is there, from .venv (nothing registered globally)
