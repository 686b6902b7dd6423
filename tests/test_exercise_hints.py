"""Every exercise's first nudge (what its placeholder ``answer = ...`` prints) points the way
without dictating code: no call, no assignment, no library name. It is the text a learner sees
under the exercise before trying anything, so it must not hold the solution."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import pytest

import advcourse.exercises as exercises_pkg

CHECKS = sorted(
    (f"{info.name}.{name}", fn)
    for info in pkgutil.iter_modules(exercises_pkg.__path__)
    for name, fn in inspect.getmembers(importlib.import_module(f"advcourse.exercises.{info.name}"), inspect.isfunction)
    if name.startswith("check_") and fn.__module__ == f"advcourse.exercises.{info.name}"
)
CODE = re.compile(r"\w\(|\)\s*\.|\b[a-z_]\w* = [^,;:]*[-+*/(·−]|\btorch\b|\bF\.|\bclamp\b|reduction=|\[0\]")


def _valid_arguments() -> dict[str, object]:
    """Well-formed stand-ins for every argument a check validates before it looks at the answer."""
    import torch
    from torch import nn

    from advcourse.evasion.black_box_study import QueryCurves
    from advcourse.poisoning.study import PoisonSweep

    x = torch.zeros(2, 3, 4, 4)
    return {"model": nn.Sequential(nn.Flatten(), nn.Linear(48, 10)), "x": x, "z": x.clone(),
            "y": torch.zeros(2, dtype=torch.long), "eps": 8 / 255, "step_size": 2 / 255, "steps": 10,
            "samples": 8, "iterations": torch.tensor([1, 2]), "photo": "chelsea_cat", "levels": [0.0, 8 / 255],
            "curves": QueryCurves([1, 10]), "attack": "Square", "share": 0.5,
            "photos": 100, "queries_per_photo": 720, "per_minute": 10,
            "sweep": PoisonSweep([0.0, 0.5], [0, 3], {"clean accuracy": [0.9, 0.9], "attack success": [0.0, 1.0]},
                                 torch.zeros(1, 1, 8, 8), torch.zeros(2, 1, dtype=torch.long),
                                 torch.ones(1, dtype=torch.long), "a sweep"),
            "success": 0.9, "flagged": torch.tensor([True, False]), "is_poison": torch.tensor([True, True]),
            "scores": torch.tensor([0.9, 0.1, 0.8, 0.2]), "is_member": torch.tensor([True, False, True, False]),
            "fpr": 0.01, "tpr": 0.05}


def _placeholder_hint(fn):
    """What ``fn`` says to the placeholder ``answer = ...``, given valid other arguments."""
    given = _valid_arguments()
    params = list(inspect.signature(fn).parameters.values())[1:]
    args = [given.get(p.name) for p in params if p.default is p.empty and p.kind is p.POSITIONAL_OR_KEYWORD]
    kwargs = {p.name: given.get(p.name) for p in params if p.default is p.empty and p.kind is p.KEYWORD_ONLY}
    return fn(..., *args, **kwargs)


def test_every_module_has_checks():
    assert len(CHECKS) >= 16, [n for n, _ in CHECKS]


@pytest.mark.parametrize("name, fn", CHECKS, ids=[n for n, _ in CHECKS])
def test_placeholder_hint_nudges_without_dictating_code(name, fn):
    fb = _placeholder_hint(fn)
    assert not fb and str(fb).startswith("✘ not yet: ")
    assert not CODE.search(fb.message), f"{name}: the first hint spells out code: {fb.message!r}"
    assert "not yet" not in fb.message  # said once, by the verdict itself
