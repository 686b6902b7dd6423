"""Checks on the files the course writes (figures), without importing PyTorch.

The command line validates ``--out`` before any work and must answer at once, so this module
imports nothing heavy; :meth:`advcourse.one_call.AttackResult.save` uses the same check.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["check_figure_path"]


def check_figure_path(path: object, name: str) -> Path:
    """``path`` as a :class:`~pathlib.Path` a figure can be written to, else one error naming ``name``.

    A str or path-like; not an existing folder; an extension matplotlib writes (``.png``, ``.pdf``,
    ``.svg`` …); inside a folder that exists and is writable. An existing file is replaced.
    """
    if isinstance(path, bytes) or not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name}: expected a file path such as 'attack.png', got {type(path).__name__}")
    target = Path(path).expanduser()
    if target.is_dir():
        raise ValueError(f"{name}: {path} is a folder; give a file name such as {os.path.join(path, 'attack.png')}")
    from matplotlib.backend_bases import FigureCanvasBase  # no pyplot, no backend: cheap

    kinds = FigureCanvasBase.get_supported_filetypes()
    ext = target.suffix.lower().lstrip(".")
    if ext not in kinds:
        what = f"the extension .{ext}" if ext else "no extension"
        raise ValueError(f"{name}: {path} has {what}; name the figure with one of "
                         f"{', '.join('.' + k for k in sorted(kinds))}")
    folder = target.absolute().parent
    if not folder.is_dir():
        raise ValueError(f"{name}: the folder {folder} does not exist; create it first")
    if not os.access(folder, os.W_OK):
        raise ValueError(f"{name}: the folder {folder} is not writable")
    return target
