"""The package's floor plan holds: layers run one way, and the top level reads as the course's parts."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import import_graph  # noqa: E402


def test_no_import_runs_against_the_layers():
    assert import_graph.violations() == []


def test_the_check_sees_a_lazy_import(tmp_path, monkeypatch):
    """An import inside a function counts: plant one from attacks into defences and the check names it."""
    fake = tmp_path / "advcourse"
    (fake / "attacks").mkdir(parents=True)
    (fake / "defences").mkdir()
    for package in (fake, fake / "attacks", fake / "defences"):
        (package / "__init__.py").write_text("")
    (fake / "defences" / "training.py").write_text("def train():\n    pass\n")
    (fake / "attacks" / "sneaky.py").write_text("def f():\n    from advcourse.defences.training import train\n")
    monkeypatch.setattr(import_graph, "PACKAGE", fake)
    assert import_graph.violations() == ["advcourse.attacks.sneaky -> advcourse.defences.training"]


def test_top_level_names_the_course_parts():
    """Only subpackages (the parts) and the three faces sit at the top; the package docstring maps each."""
    package = ROOT / "advcourse"
    modules = sorted(p.stem for p in package.glob("*.py") if p.stem != "__init__")
    parts = sorted(p.name for p in package.iterdir() if (p / "__init__.py").exists())
    assert modules == ["cli", "doctor", "one_call"]
    assert parts == ["attacks", "challenge", "core", "defences", "evaluation", "evasion", "exercises", "foundations",
                     "models", "poisoning", "privacy", "widgets"]
    doc = importlib.import_module("advcourse").__doc__
    assert all(f"``{name}``" in doc for name in [*parts, *modules])


@pytest.mark.parametrize("name", ["attacks", "core", "defences", "evaluation", "evasion", "foundations", "models",
                                  "poisoning", "privacy", "challenge"])
def test_every_module_of_a_part_is_listed_in_its_docstring(name):
    package = importlib.import_module(f"advcourse.{name}")
    modules = [p.stem for p in (ROOT / "advcourse" / name).glob("*.py") if not p.stem.startswith("_")]
    if name == "attacks":  # the attacks' registry names them: one module per attack
        assert all(m in package.__doc__ or m in package.ATTACKS or m == "patch" for m in modules), modules
        return
    assert all(f"advcourse.{name}.{m}" in package.__doc__ for m in modules), modules
