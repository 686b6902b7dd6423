"""Notebook 13 (in progress): privacy attacks — what a trained model gives away about its training data.

NIST AI 100-2's third attack class. The attacker changes nothing; they query a trained model and
infer something it should not reveal, first of all whether an example was in its training set
(membership inference).

- :mod:`~advcourse.privacy.shadows` — :func:`train_shadow_models`: many small digits models at once,
  each on a random half of the data (``torch.func``: one stacked model, one optimiser step for all),
  the raw material of LiRA;
- :mod:`~advcourse.privacy.membership` — scores: :func:`loss_scores` (Yeom et al.'s loss threshold),
  :func:`lira_scores` (Carlini et al.'s likelihood-ratio attack, online and offline) and its math
  :func:`likelihood_ratio`; judged by :func:`roc` and :func:`tpr_at_fpr` — the true-positive rate at
  a low false-positive rate, not accuracy.

    >>> shadows = train_shadow_models(x, y, n_models=16, generator=torch.Generator().manual_seed(0))
    >>> target = shadows.models[0]                       # attack one of them, with the others as shadows
    >>> scores = lira_scores(target, x, y, shadows)
    >>> tpr_at_fpr(scores, shadows.members[0], 0.01)
"""

from advcourse.privacy.membership import Roc, likelihood_ratio, lira_scores, loss_scores, roc, tpr_at_fpr
from advcourse.privacy.shadows import Shadows, train_shadow_models

__all__ = ["Shadows", "train_shadow_models", "loss_scores", "lira_scores", "likelihood_ratio", "Roc", "roc",
           "tpr_at_fpr"]
