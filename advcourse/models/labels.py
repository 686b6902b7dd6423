"""ImageNet-1k class names, from torchvision's weight metadata (ships in the wheel: no download).

Taught in 00_welcome and 05_fgsm (choosing a target class by name).
"""

from __future__ import annotations

import difflib

from torchvision.models import ResNet18_Weights

__all__ = ["IMAGENET_CLASSES", "class_name", "class_index", "search_classes"]

#: The 1000 ImageNet-1k class names in index order (``IMAGENET_CLASSES[678] == "neck brace"``).
IMAGENET_CLASSES: tuple[str, ...] = tuple(ResNet18_Weights.IMAGENET1K_V1.meta["categories"])

_BY_NAME: dict[str, list[int]] = {}
for _i, _name in enumerate(IMAGENET_CLASSES):
    _BY_NAME.setdefault(_name.lower(), []).append(_i)


def class_name(index: int) -> str:
    """Name of ImageNet class ``index`` (0-999). Accepts Python ints and 0-d integer tensors."""
    try:
        if isinstance(index, (str, bytes, float)):
            raise TypeError
        i = int(index)
    except (TypeError, ValueError):
        raise TypeError(f"index: expected an integer class index, got {index!r}") from None
    if i != index or not 0 <= i < len(IMAGENET_CLASSES):
        raise ValueError(f"index: expected an integer in [0, {len(IMAGENET_CLASSES) - 1}], got {index!r}")
    return IMAGENET_CLASSES[i]


def class_index(name: str) -> int:
    """Index of the ImageNet class called ``name`` (case-insensitive): ``class_index("neck brace") == 678``.

    Raises:
        ValueError: unknown name (with the closest names), or a name that only differs by case
            between two classes ("CARDIGAN": the corgi "Cardigan" or the sweater "cardigan").
    """
    if not isinstance(name, str):
        raise TypeError(f"name: expected a class name string, got {type(name).__name__}")
    key = " ".join(name.lower().split())
    hits = _BY_NAME.get(key, [])
    if len(hits) == 1:
        return hits[0]
    exact = [i for i in hits if IMAGENET_CLASSES[i] == " ".join(name.split())]
    if len(hits) > 1 and len(exact) == 1:  # "Cardigan" (the corgi) vs "cardigan" (the sweater)
        return exact[0]
    if len(hits) > 1:
        raise ValueError(f"name: {name!r} names several ImageNet classes {hits}; pass the index instead")
    close = difflib.get_close_matches(key, list(_BY_NAME), n=5, cutoff=0.6)
    close += [n for n in _BY_NAME if key and key in n and n not in close][: 5 - len(close)]
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise ValueError(f"name: {name!r} is not an ImageNet class name{hint}")


def search_classes(text: str) -> list[tuple[int, str]]:
    """All (index, name) pairs whose name contains ``text`` (case-insensitive)."""
    text = text.lower()
    return [(i, n) for i, n in enumerate(IMAGENET_CLASSES) if text in n.lower()]
