"""Notebook 12: training-time attacks — label flipping and backdoors — and how they are scored.

Evasion attacks (:mod:`advcourse.attacks`) change an input at test time; these change the *training
data*, so the model learns the attacker's rule. NIST AI 100-2 calls this class poisoning.

- :mod:`~advcourse.poisoning.triggers` — backdoor triggers: a BadNets corner patch, a blended
  whole-image pattern, and :func:`add_trigger` that stamps either on a batch;
- :mod:`~advcourse.poisoning.poison` — :func:`flip_labels` (availability and targeted label
  flipping), :func:`backdoor` (BadNets / blended: triggered copies relabelled as the target) and
  :func:`clean_label_backdoor` (Turner et al.: target-class images made hard, then triggered, labels
  kept);
- :mod:`~advcourse.poisoning.metrics` — :func:`backdoor_scores`: clean accuracy, attack success and
  robust accuracy, as BackdoorBench reports them;
- :mod:`~advcourse.poisoning.detect` — defences that look for the poisons: :func:`spectral_signatures`,
  :func:`activation_clustering`, :func:`strip`, and :func:`detection` (TPR / FPR against the truth);
- :mod:`~advcourse.poisoning.prune` — a defence that removes instead: :func:`fine_prune` (Liu et al.).
- :mod:`~advcourse.poisoning.study` — the notebook's experiments: poisoning-rate sweeps
  (:func:`~advcourse.poisoning.study.backdoor_sweep`, :func:`~advcourse.poisoning.study.flip_sweep`)
  and the defences table (:func:`~advcourse.poisoning.study.defence_table`), with their figures.

    >>> from advcourse.poisoning import backdoor, badnets_trigger, backdoor_scores
    >>> poisoned = backdoor(x_train, y_train, target=0, rate=0.05, trigger=badnets_trigger(),
    ...                     generator=torch.Generator().manual_seed(0))
    >>> net = fit_digits_cnn(poisoned.x, poisoned.y)        # advcourse.defences.digits
    >>> backdoor_scores(net, x_test, y_test, target=0, trigger=poisoned.trigger)
"""

from advcourse.poisoning.detect import (Detection, activation_clustering, detection, features, flag_top,
                                       spectral_signatures, strip)
from advcourse.poisoning.metrics import BackdoorScores, backdoor_scores
from advcourse.poisoning.poison import FlippedLabels, Poisoned, backdoor, clean_label_backdoor, flip_labels
from advcourse.poisoning.prune import channel_activity, fine_prune
from advcourse.poisoning.triggers import Trigger, add_trigger, badnets_trigger, blended_trigger

__all__ = ["Trigger", "badnets_trigger", "blended_trigger", "add_trigger", "FlippedLabels", "flip_labels",
           "Poisoned", "backdoor", "clean_label_backdoor", "BackdoorScores", "backdoor_scores", "features",
           "spectral_signatures", "activation_clustering", "strip", "flag_top", "Detection", "detection",
           "channel_activity", "fine_prune"]
