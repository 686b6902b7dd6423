"""Notebook 11: judging robustness honestly.

- :mod:`~advcourse.evaluation.evaluate` — worst case over attacks, per-sample comparisons.
- :mod:`~advcourse.evaluation.checklist` — the evaluation checklist run against a defence.
- :mod:`~advcourse.evaluation.losses` — which loss to climb: CW's margin against cross-entropy, measured.
"""
