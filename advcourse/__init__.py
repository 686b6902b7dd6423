"""advcourse — a hands-on course in adversarial machine learning, and its small attack library.

The notebooks in ``notebooks/`` teach; this package computes. Start with::

    import advcourse
    model = advcourse.load_model()                 # embedded EfficientNet-Lite0, no download
    advcourse.classify("chelsea_cat", model=model)
    advcourse.attack("chelsea_cat", "fgsm", model=model, eps=2/255)

The names below are imported on first use (PEP 562), so ``import advcourse`` and the command
line's ``--help`` answer at once instead of waiting seconds for PyTorch.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: public name -> the module that defines it
_HOMES = {
    "ImageLoadError": "images", "load_image": "images", "load_samples": "images",
    "sample_info": "images", "samples": "images",
    "IMAGENET_CLASSES": "labels", "class_index": "labels", "class_name": "labels",
    "available_models": "models", "load_model": "models",
    "AttackResult": "one_call", "Prediction": "one_call", "Predictions": "one_call",
    "attack": "one_call", "classify": "one_call", "predict": "one_call",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'advcourse' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"advcourse.{home}"), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
