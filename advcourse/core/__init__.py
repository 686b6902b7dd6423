"""The floor every other part stands on: nothing here knows about attacks, defences or lessons.

- :mod:`~advcourse.core.checks` — argument validation (one clear error naming the argument) and the
  guard that hands a user's model back exactly as it came in.
- :mod:`~advcourse.core.feedback` — the verdict (right or not, and why) every answer check returns.
- :mod:`~advcourse.core.files` — where a figure may be written (no PyTorch import: the command line
  checks ``--out`` at once).
- :mod:`~advcourse.core.formatting` — short, rounded reprs for everything a notebook prints.
- :mod:`~advcourse.core.progress` — progress bars that show while work runs and are never stored.
- :mod:`~advcourse.core.viz` — the package's one figure style and its figure helpers.
- :mod:`~advcourse.core.transforms` — input transformations that attacks and defences share
  (random resize & pad, the camera effects, expectation over transformation).
"""
