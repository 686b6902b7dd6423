"""Notebooks 01–04, the ideas every attack builds on.

- :mod:`~advcourse.foundations.threat_models` — 01: goals, knowledge and budgets; the taxonomy.
- :mod:`~advcourse.foundations.noise_study` — 02: how much random noise a model shrugs off.
- :mod:`~advcourse.foundations.calculus` — 04: derivatives and gradient descent on a bowl.
- :mod:`~advcourse.foundations.explain` — 04–07: input gradients, saliency, and the source behind a call.
"""
