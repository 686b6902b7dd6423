"""The notebooks' output comparison: tolerant of last-digit float noise, blind to nothing else."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import nbformat
import pytest

from nbval_numbers import NUMBER, numbers_close, texts_match

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("ref, test", [
    ("3.76", "3.77"), ("43.9", "44.0"), ("-0.06", "−0.05"), ("5.85", "5.86"), ("1.0e-3", "1.1e-3"),
    ("1.966", "1.976"), ("99.8", "100.0"), ("7.406", "7.404"),
])
def test_float_noise_passes(ref, test):
    assert numbers_close(ref, test)


@pytest.mark.parametrize("ref, test", [
    ("3.76", "3.80"),     # four units, 1.06 %
    ("0.13", "0.15"),     # two units
    ("1.966", "1.996"),   # 1.5 %
    ("43.9", "46.1"),   # 5 %
    ("9", "8"),           # counts are exact
    ("17", "18"),
    ("0.5", "-0.5"),
    ("1e-3", "2e-3"),     # one significant digit: one unit is a 100 % change
])
def test_anything_larger_fails(ref, test):
    assert not numbers_close(ref, test)


def test_text_around_the_numbers_must_be_identical():
    stored = "eps  32/255: accuracy  90%, true-class probability 0.64, labels changed  20%"
    assert texts_match(stored, stored.replace("0.64", "0.65"))
    assert not texts_match(stored, stored.replace("0.64", "0.66"))
    assert not texts_match(stored, stored.replace("90%", "85%"))
    assert not texts_match(stored, stored.replace("accuracy", "accurary"))
    assert not texts_match(stored, stored + "\nextra line")
    assert not texts_match(stored, stored.replace("0.64, ", "0.64 "))


def test_numbers_inside_names_are_not_split():
    text = "efficientnet_lite0 on 00_welcome, x (20, 3, 224, 224), L2 0.13, 9x smaller, 43.9%, at t = 0.40."
    assert NUMBER.findall(text) == ["20", "3", "224", "224", "0.13", "9", "43.9", "0.40"]


def _outcomes(junit: Path) -> dict[str, str]:
    """Test name -> 'passed' / 'failed' from a JUnit XML report."""
    out = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        failed = case.find("failure") is not None or case.find("error") is not None
        out[case.get("name")] = "failed" if failed else "passed"
    return out


def _nbval(path: Path, tmp_path: Path) -> dict[str, str]:
    junit = tmp_path / f"{path.stem}.xml"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")])}
    subprocess.run([sys.executable, "-m", "pytest", "--nbval", "-p", "nbval_numbers", "-p", "no:cacheprovider",
                    "-q", f"--junitxml={junit}", f"--rootdir={tmp_path}", "-c", os.devnull, str(path)],
                   cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    return _outcomes(junit)


def _stored(source: str, text: str) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source, execution_count=1)
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)]
    return cell


@pytest.mark.slow
def test_nbval_passes_last_digit_noise_and_fails_real_changes(tmp_path):
    printed = 'print(f"probability {0.5:.2f}, fooled 17 of 20")'
    nb = nbformat.v4.new_notebook(cells=[
        _stored(printed, "probability 0.51, fooled 17 of 20\n"),  # one unit off: float noise
        _stored(printed, "probability 0.53, fooled 17 of 20\n"),  # three units off
        _stored(printed, "probability 0.50, fooled 18 of 20\n"),  # a count off by one
        _stored(printed, "probability 0.50, fooled 17 of 20\n"),  # exact
    ])
    for i, cell in enumerate(nb.cells, 1):
        cell.execution_count = i
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    path = tmp_path / "noise.ipynb"
    nbformat.write(nb, path)
    outcomes = sorted(_nbval(path, tmp_path).items(), key=lambda kv: int(re.search(r"\d+", kv[0]).group()))
    assert [o for _, o in outcomes] == ["passed", "failed", "failed", "passed"], outcomes


def _first_decimal(nb: nbformat.NotebookNode) -> tuple[int, int, str]:
    """(cell index, output index, number) of the first decimal number in a stored stream output."""
    for i, cell in enumerate(nb.cells):
        for j, out in enumerate(cell.get("outputs", [])):
            if out.output_type == "stream":
                for token in NUMBER.findall(out.text):
                    if "." in token and abs(float(token)) >= 1:
                        return i, j, token
    raise AssertionError("no decimal number printed in the notebook")


@pytest.mark.slow
def test_a_stored_number_changed_by_five_percent_fails_nbval(tmp_path):
    nb = nbformat.read(ROOT / "notebooks" / "00_welcome.ipynb", as_version=4)
    i, j, token = _first_decimal(nb)
    decimals = len(token.partition(".")[2])
    mutated = f"{float(token) * 1.05:.{decimals}f}"
    assert not numbers_close(token, mutated)
    out = nb.cells[i].outputs[j]
    out.text = out.text.replace(token, mutated, 1)
    path = tmp_path / "00_welcome.ipynb"
    nbformat.write(nb, path)
    outcomes = _nbval(path, tmp_path)
    failed = [name for name, o in outcomes.items() if o == "failed"]
    code_index = sum(c.cell_type == "code" for c in nb.cells[:i])  # nbval numbers code cells only
    # exactly the altered cell fails; every other cell of the real notebook still matches
    assert failed == [f"Cell {code_index}"], (token, mutated, outcomes)
