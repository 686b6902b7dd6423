"""Result objects print rounded: no raw float32 digits in a REPL or a stored notebook output."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
import re

import numpy as np
import pytest
import torch

import advcourse
from advcourse.core.formatting import rounded, rounded_repr
from advcourse.one_call import Prediction, Predictions

RAW_FLOAT = re.compile(r"\d\.\d{5,}")


def _result_classes() -> list[type]:
    """Every dataclass and named tuple of the package with a float, tensor or array field."""
    found = {}
    for info in pkgutil.walk_packages(advcourse.__path__, "advcourse."):
        if info.name.startswith(("advcourse.cli", "advcourse.doctor")):
            continue
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module.__name__:
                continue
            if dataclasses.is_dataclass(cls) or (issubclass(cls, tuple) and hasattr(cls, "_fields")):
                hints = " ".join(map(str, getattr(cls, "__annotations__", {}).values()))
                if re.search(r"float|Tensor|ndarray", hints):
                    found[cls.__qualname__] = cls
    return list(found.values())


@pytest.mark.parametrize("cls", _result_classes(), ids=lambda c: c.__qualname__)
def test_result_objects_have_a_rounded_repr(cls):
    code = cls.__repr__.__code__.co_filename
    # dataclasses' generated repr runs from dataclasses.py, namedtuple's from collections/__init__.py
    generated = code == "<string>" or code.endswith(("dataclasses.py", "collections/__init__.py"))
    assert not generated, f"{cls.__qualname__} prints raw floats: give it __repr__ = rounded_repr (advcourse.core.formatting)"


def test_prediction_prints_a_percentage_with_one_decimal():
    p = Prediction("Egyptian cat", 285, 0.4393742084503174)
    assert repr(p) == "Prediction(label='Egyptian cat', index=285, prob=43.9%)"
    table = repr(Predictions([p, Prediction("tabby", 281, 0.17969462275505066)]))
    assert "43.9%" in table and "18.0%" in table and not RAW_FLOAT.search(table)


def test_rounded_values():
    assert rounded(0.4393742084503174) == "0.439"
    assert rounded(np.float32(3.14159)) == "3.14" and rounded(np.int64(3)) == "3" and rounded(True) == "True"
    assert rounded(torch.tensor([0.1234567, 2.0])) == "tensor([0.123, 2])"
    assert rounded(torch.zeros(20, 3, 4, 4)) == "tensor(shape=(20, 3, 4, 4), float32)"
    assert rounded(list(range(8))) == "[0, 1, 2, 3, 4, 5, … (8 items)]"
    assert rounded({"regular": [0.98123, 0.2]}) == "{'regular': [0.981, 0.2]}"
    assert rounded(float("nan")) == "nan"


def test_rounded_repr_of_a_dataclass():
    @dataclasses.dataclass
    class Curve:
        __repr__ = rounded_repr
        accuracy: torch.Tensor
        eps: float
        name: str

    text = repr(Curve(torch.rand(100), 1 / 255, "uniform"))
    assert text == "Curve(accuracy=tensor(shape=(100,), float32), eps=0.00392, name='uniform')"
