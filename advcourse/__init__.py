"""advcourse — a hands-on course in adversarial machine learning, and its small attack library.

The notebooks in ``notebooks/`` teach; this package computes. Start with::

    import advcourse
    model = advcourse.load_model()                 # embedded EfficientNet-Lite0, no download
    advcourse.classify("chelsea_cat", model=model)
    advcourse.attack("chelsea_cat", "fgsm", model=model, eps=2/255)

The package reads as the course's table of contents, its floor first. Layers run one way: a part
imports only the parts on its line or above it (``scripts/import_graph.py --check`` holds that).

- ``core``         the floor: argument checks and the model guard, rounded reprs, progress bars,
                   the figure style, transforms that attacks and defences share (resize & pad, EOT)
- ``models``       what is attacked: the ImageNet models, the sample photos, the digits and their CNN
- ``attacks``      evasion attacks, one module each: tensors in, adversarial tensors (and info) out
- ``foundations``  01–04: threat models, noise, calculus and input gradients
- ``defences``     08: adversarial training, randomisation, randomized smoothing, and the
                   course's one digits model
- ``evasion``      07–10: what the lessons measure about attacks (geometry, transfer, queries, patches)
- ``evaluation``   11: worst case over attacks, the evaluation checklist, CW's loss comparison
- ``poisoning``    12: training-time attacks — label flipping, backdoors (BadNets, blended, clean-label)
- ``privacy``      13: membership inference (loss, LiRA; shadow models trained at once), DP-SGD, extraction, inversion
- ``challenge``    workshops: an "attack my model" server (teams, checked submissions and defences, a live
                   leaderboard, team and room pages) and its client
- ``one_call``, ``cli``, ``doctor``   classify/attack in one call, the command line, the setup check
- ``widgets``, ``exercises``   one module per notebook: sliders, and ``check_…`` helpers with hints

The names below are imported on first use (PEP 562), so ``import advcourse`` and the command
line's ``--help`` answer at once instead of waiting seconds for PyTorch.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: public name -> the module that defines it
_HOMES = {
    "ImageLoadError": "models.images", "load_image": "models.images", "load_samples": "models.images",
    "sample_info": "models.images", "samples": "models.images",
    "IMAGENET_CLASSES": "models.labels", "class_index": "models.labels", "class_name": "models.labels",
    "available_models": "models.zoo", "load_model": "models.zoo",
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
