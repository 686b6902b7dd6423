"""13's membership attacks against an independent reference: ART's rule-based membership inference.

ART's ``MembershipInferenceBlackBoxRuleBased`` calls an example a member when the model classifies it
correctly: one fixed operating point, not a score. Known value: its decisions are exactly "the
model is right" as computed by the course. Property: the course's loss attack, given the same
false-positive rate, finds at least as many members (a loss threshold contains that rule as a
special case only approximately, so the loss ROC should pass on or above ART's point), and LiRA
finds far more members than the rule at a low false-positive rate, which the rule cannot even
reach (its FPR is the model's accuracy on non-members).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from advcourse.models.datasets import load_digits
from advcourse.privacy import loss_scores, membership_game, train_shadow_models

art = pytest.importorskip("art")


@pytest.fixture(scope="module")
def setting():
    d = load_digits()
    x, y = torch.cat([d.x_train, d.x_test])[:400], torch.cat([d.y_train, d.y_test])[:400]
    shadows = train_shadow_models(x, y, n_models=8, epochs=40, generator=torch.Generator().manual_seed(0),
                                  progress=False)
    return x, y, shadows


def _art_rule_based(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    from art.attacks.inference.membership_inference import MembershipInferenceBlackBoxRuleBased
    from art.estimators.classification import PyTorchClassifier

    classifier = PyTorchClassifier(model=model, loss=nn.CrossEntropyLoss(), input_shape=(1, 8, 8), nb_classes=10,
                                   clip_values=(0.0, 1.0))
    return MembershipInferenceBlackBoxRuleBased(classifier).infer(x.numpy(), y.numpy()).astype(bool).ravel()


def _rates(flags: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    return float(flags[truth].mean()), float(flags[~truth].mean())


def test_art_rule_based_is_the_model_being_right(setting):
    x, y, shadows = setting
    model = shadows.models[0]
    flags = _art_rule_based(model, x, y)
    with torch.no_grad():
        right = (model(x).argmax(1) == y).numpy()
    assert np.array_equal(flags, right)


def test_loss_attack_matches_or_beats_art_rule_based_at_its_fpr(setting):
    x, y, _ = setting
    # Barely trained models (2 epochs): the rule's point sits inside the ROC square, not in its corner.
    shadows = train_shadow_models(x, y, n_models=3, epochs=2, generator=torch.Generator().manual_seed(1),
                                  progress=False)
    for m in range(3):
        model, truth = shadows.models[m], shadows.members[m].numpy()
        tpr_art, fpr_art = _rates(_art_rule_based(model, x, y), truth)
        scores = loss_scores(model, x, y).numpy()
        members, outsiders = scores[truth], scores[~truth]
        threshold = np.sort(outsiders)[::-1][int(np.floor(fpr_art * len(outsiders)))]
        tpr_ours = float((members > threshold).mean())  # at most ART's FPR on the non-members
        print(f"model {m}: ART rule-based TPR {tpr_art:.3f} at FPR {fpr_art:.3f}; loss attack TPR {tpr_ours:.3f}")
        assert fpr_art < 0.95, "a model right on (almost) everything makes the comparison empty"
        assert tpr_ours >= tpr_art - 0.01, (m, tpr_ours, tpr_art, fpr_art)


def test_lira_finds_members_where_the_rule_cannot(setting):
    x, y, shadows = setting
    game = membership_game(shadows, x, y, targets=4, progress=False)
    flags = np.concatenate([_art_rule_based(shadows.models[m], x, y) for m in range(4)])
    tpr_art, fpr_art = _rates(flags, game.is_member.numpy())
    assert fpr_art > 0.5, "the rule accuses every non-member the model reads right"
    assert game.tpr("LiRA", 0.01) > 0.03, game.tpr("LiRA", 0.01)  # measured 0.06–0.08; chance is 0.01
