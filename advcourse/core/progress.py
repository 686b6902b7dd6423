"""Progress bars for long work (training, evaluation): shown to a person, never stored in a notebook.

Every bar in the package comes from :func:`progress_bar`. Setting the environment variable
``ADVCOURSE_PROGRESS=0`` turns them all off: ``make notebooks`` and the test suite do, so the
notebooks are stored without a bar frozen at 0 % (which reads as "stalled" when a learner opens
them) while a learner who runs a cell sees the bar move.
"""

from __future__ import annotations

import os
from typing import Any, Iterable

from tqdm.auto import tqdm

__all__ = ["progress_bar", "progress_enabled"]


def progress_enabled() -> bool:
    """False when ``ADVCOURSE_PROGRESS`` is ``0`` (or ``false``/``no``/``off``)."""
    return os.environ.get("ADVCOURSE_PROGRESS", "1").strip().lower() not in {"0", "false", "no", "off"}


def progress_bar(iterable: Iterable | None = None, *, enabled: bool = True, **kwargs: Any) -> tqdm:
    """A ``tqdm`` bar (notebook widget in Jupyter, text in a terminal) that is off unless both
    ``enabled`` and :func:`progress_enabled`; ``kwargs`` go to ``tqdm`` (``total``, ``desc``, ...)."""
    return tqdm(iterable, disable=not (enabled and progress_enabled()), **kwargs)
