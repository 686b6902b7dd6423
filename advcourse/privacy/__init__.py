"""Notebook 13: privacy attacks — what a trained model gives away about its data and about itself.

NIST AI 100-2's third attack class. The attacker changes nothing; they query a trained model and
infer something it should not reveal: whether an example was in its training set (membership
inference), the model itself (extraction), or what its classes look like (inversion).

- :mod:`~advcourse.privacy.shadows` — :func:`train_shadow_models`: many small digits models at once,
  each on a random half of the data (``torch.func``: one stacked model, one optimiser step for all),
  the raw material of LiRA;
- :mod:`~advcourse.privacy.membership` — scores: :func:`loss_scores` (Yeom et al.'s loss threshold),
  :func:`lira_scores` (Carlini et al.'s likelihood-ratio attack, online and offline) and its math
  :func:`likelihood_ratio`; judged by :func:`roc` and :func:`tpr_at_fpr` — the true-positive rate at
  a low false-positive rate, not accuracy;
- :mod:`~advcourse.privacy.dp` — :func:`dp_train`: DP-SGD with Opacus to a target ε, and what ε
  promises (:func:`tpr_bound`); :func:`dp_shadow_models` for attacking private models;
- :mod:`~advcourse.privacy.study` — :func:`membership_game` (every model attacked with the others
  as shadows, scores pooled), :func:`exposure` (which examples leak), :func:`privacy_tradeoff`
  (accuracy and attack success at each ε), :func:`plot_roc` on log-log axes;
- :mod:`~advcourse.privacy.extraction` — copying a model through its API (:func:`steal`,
  :func:`extraction_curve`), an output defence, and the copy as a transfer surrogate;
- :mod:`~advcourse.privacy.inversion` — :func:`invert`: a class's typical input from the model alone.

    >>> shadows = train_shadow_models(x, y, n_models=16, generator=torch.Generator().manual_seed(0))
    >>> target = shadows.models[0]                       # attack one of them, with the others as shadows
    >>> scores = lira_scores(target, x, y, shadows)
    >>> tpr_at_fpr(scores, shadows.members[0], 0.01)
    >>> model, epsilon = dp_train(x, y, epsilon=1.0)     # DP-SGD (Opacus): the model and the ε spent
"""

from advcourse.privacy.dp import DP_RECIPE, DPTrained, dp_shadow_models, dp_train, tpr_bound
from advcourse.privacy.extraction import ExtractionCurve, agreement, extraction_curve, query, steal, transfer_rate
from advcourse.privacy.inversion import InversionResult, inversion_study, invert
from advcourse.privacy.membership import Roc, likelihood_ratio, lira_scores, loss_scores, roc, tpr_at_fpr
from advcourse.privacy.shadows import Shadows, train_shadow_models
from advcourse.privacy.study import (MembershipGame, PrivacyTradeoff, best_accuracy, exposure, membership_game,
                                     plot_exposure, plot_roc, privacy_tradeoff)

__all__ = ["Shadows", "train_shadow_models", "loss_scores", "lira_scores", "likelihood_ratio", "Roc", "roc",
           "tpr_at_fpr", "DP_RECIPE", "DPTrained", "dp_train", "dp_shadow_models", "tpr_bound", "MembershipGame",
           "membership_game", "best_accuracy", "exposure", "plot_exposure", "plot_roc", "PrivacyTradeoff",
           "privacy_tradeoff", "query", "steal", "agreement", "ExtractionCurve", "extraction_curve", "transfer_rate",
           "invert", "InversionResult", "inversion_study"]
