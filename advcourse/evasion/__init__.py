"""Notebooks 07–10: studies of the evasion attacks in :mod:`advcourse.attacks`.

The attacks themselves live in :mod:`advcourse.attacks` (tensors in, tensors out); these modules
hold what a lesson measures and draws about them.

- :mod:`~advcourse.evasion.geometry` — 07: DeepFool's linear picture, boundaries and projections.
- :mod:`~advcourse.evasion.transfer` — 09: attacks made on one model, tried on another.
- :mod:`~advcourse.evasion.black_box_study` — 09: query attacks' success against queries spent.
- :mod:`~advcourse.evasion.physical` — 10: patches under camera effects and held-out views.
"""
