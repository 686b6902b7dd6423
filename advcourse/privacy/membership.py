"""Membership inference: was this example in the model's training set?

Taught in 13_privacy. Every attack here turns a model and a labelled example into a *score*, higher
meaning "more likely a member"; a threshold on the score is the attack. Following Carlini et al.
(2022), attacks are compared by their ROC curve and above all by the true-positive rate at a low
false-positive rate (:func:`tpr_at_fpr`): an attack that is right about a few examples with
certainty leaks more than one that is slightly better than chance on all of them, and accuracy hides
the difference (and depends on how many members the test set holds).

- :func:`loss_scores` — Yeom et al. (2018): members have low loss; the score is minus the loss.
- :func:`lira_scores` — the likelihood-ratio attack: for each example, the target model's
  logit-scaled confidence is compared with Gaussians fitted to the shadow models that trained on it
  (IN) and those that did not (OUT); :func:`likelihood_ratio` is that math on its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from advcourse.attacks import _core
from advcourse.core import checks
from advcourse.core.formatting import rounded_repr
from advcourse.privacy.shadows import Shadows

__all__ = ["loss_scores", "confidence_logits", "likelihood_ratio", "lira_scores", "balanced", "Roc", "roc",
           "tpr_at_fpr"]


def _logits(model: nn.Module, x: Tensor, y: object, batch_size: int = 1024) -> tuple[Tensor, Tensor]:
    checks.check_model(model)
    checks.check_images(x)
    if y is None:
        raise TypeError("y: expected a LongTensor of labels, shape (N,), got None")
    y = checks.check_labels(y, x)
    if not len(x):
        raise ValueError("x: expected at least one image")
    with checks.frozen(model, x), torch.no_grad():
        logits = torch.cat([_core.logits_of(model, chunk) for chunk in x.split(batch_size)])
    if int(y.max()) >= logits.shape[1]:
        raise ValueError(f"y: expected labels of the model's {logits.shape[1]} classes, got {int(y.max())}")
    return logits.double(), y


def loss_scores(model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
    """Minus the cross-entropy loss of each example, (N,) float64 (higher = more likely a member).

    Paper: Yeom, Giacomelli, Fredrikson & Jha, 2018, "Privacy Risk in Machine Learning: Analyzing
        the Connection to Overfitting", CSF.

    Args:
        model: a classifier, left exactly as found; x: (N, C, H, W) inputs in [0, 1]; y: (N,) labels.
    """
    logits, y = _logits(model, x, y)
    return -torch.nn.functional.cross_entropy(logits, y, reduction="none")


def confidence_logits(model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
    """LiRA's statistic (N,) float64: ``log(p / (1 − p))`` of the true class's probability p.

    Computed from the logits as ``z_y − logsumexp(z_other)``, which stays finite where p rounds to 1.
    """
    logits, y = _logits(model, x, y)
    true = logits.gather(1, y.view(-1, 1)).squeeze(1)
    others = logits.scatter(1, y.view(-1, 1), float("-inf"))
    return true - others.logsumexp(1)


def likelihood_ratio(phi: Tensor, phi_shadow: Tensor, is_in: Tensor, *, online: bool = True,
                     fixed_variance: bool = True, use: Tensor | None = None) -> Tensor:
    """LiRA's score of each example from its statistic on the target and on the shadow models.

    Paper: Carlini, Chien, Nasr, Song, Terzis & Tramèr, 2022, "Membership Inference Attacks From
        First Principles", IEEE S&P (Algorithm 1).

    For example i, Gaussians are fitted to ``phi_shadow[:, i]`` over the shadows that trained on it
    (IN) and those that did not (OUT). Online: the score is ``log N(phi_i; μ_in, σ_in) −
    log N(phi_i; μ_out, σ_out)``. Offline (OUT models only): ``log Φ((phi_i − μ_out) / σ_out)``, how
    far above the OUT models the target is. ``fixed_variance`` uses one σ per side for all examples (the
    paper's choice with few shadows), else one per example.

    Args:
        phi: (N,) the target model's statistic. phi_shadow: (M, N) the shadows'. is_in: (M, N) bool.
        online, fixed_variance: as above.
        use: optional (M, N) bool: which shadows count for each example (default: all; see :func:`balanced`).

    Returns:
        (N,) float64 scores, higher = more likely a member.
    """
    for name, value in (("phi", phi), ("phi_shadow", phi_shadow)):
        checks.check_tensor(value, name)
    checks.check_tensor(is_in, "is_in")
    if phi.dim() != 1 or phi_shadow.shape != is_in.shape or phi_shadow.dim() != 2 or phi_shadow.shape[1] != len(phi):
        raise ValueError(f"phi_shadow: expected shape (M, {len(phi)}) like is_in, got {tuple(phi_shadow.shape)} and "
                         f"{tuple(is_in.shape)}")
    if is_in.dtype != torch.bool:
        raise TypeError(f"is_in: expected a bool tensor, got {is_in.dtype}")
    checks.check_bool(online, "online")
    if use is not None:
        checks.check_tensor(use, "use")
        if use.shape != is_in.shape or use.dtype != torch.bool:
            raise ValueError(f"use: expected a bool tensor of shape {tuple(is_in.shape)}, got {use.dtype} of shape "
                             f"{tuple(use.shape)}")
    stats = phi_shadow.double()
    sides = [is_in, ~is_in] if online else [~is_in]
    if use is not None:
        sides = [side & use.to(side.device) for side in sides]
    if any((side.sum(0) < (1 if fixed_variance else 2)).any() for side in sides):
        raise ValueError("is_in: every example needs shadow models on both sides (IN and OUT), "
                         "two each for a per-example variance")
    fitted = []
    for side in sides:
        w = side.double()
        mean = (stats * w).sum(0) / w.sum(0)
        dev = (stats - mean) ** 2 * w
        var = dev.sum() / (w.sum() - w.shape[1]).clamp(min=1) if fixed_variance else dev.sum(0) / (w.sum(0) - 1)
        fitted.append(torch.distributions.Normal(mean, var.clamp(min=1e-12).sqrt().expand_as(mean)))
    target = phi.double().to(stats.device)
    if online:
        return fitted[0].log_prob(target) - fitted[1].log_prob(target)
    z = (target - fitted[0].loc) / fitted[0].scale
    return torch.special.log_ndtr(z)


def lira_scores(model: nn.Module, x: Tensor, y: Tensor, shadows: Shadows, *, online: bool = True,
                fixed_variance: bool = True) -> Tensor:
    """LiRA's membership scores (N,) for ``model`` on ``(x, y)``, from ``shadows`` trained on ``(x, y)``.

    A shadow model that *is* ``model`` (the same object) is left out, so a shadow can be attacked with
    the others as its references. See :func:`likelihood_ratio` for the score.
    """
    checks.check_instance(shadows, Shadows, "shadows", "made by advcourse.privacy.train_shadow_models")
    if shadows.members.shape[1] != len(x):
        raise ValueError(f"x: the shadows were trained on {shadows.members.shape[1]} examples, got {len(x)}")
    keep = [m for m, s in enumerate(shadows.models) if s is not model]
    phi = confidence_logits(model, x, y)
    phi_shadow = torch.stack([confidence_logits(shadows.models[m], x, y) for m in keep])
    is_in = shadows.members[keep].to(phi_shadow.device)
    return likelihood_ratio(phi, phi_shadow, is_in, online=online, fixed_variance=fixed_variance,
                            use=balanced(is_in))


def balanced(is_in: Tensor) -> Tensor:
    """(M, N) bool: for each example, its first k IN and first k OUT shadows, k = the smaller count.

    Every example is IN for exactly half of :func:`~advcourse.privacy.train_shadow_models`' models, so
    when the target is one of them and is left out, a member keeps one IN shadow fewer than OUT ones
    and a non-member one OUT shadow fewer. A mean fitted to fewer models is noisier, which lowers the
    likelihood it gives on average: membership alone would tilt the score (LiRA scores below chance
    on models that leak nothing). Judging every example by as many IN as OUT shadows removes the tilt.
    """
    n_in = is_in.sum(0)
    k = torch.minimum(n_in, len(is_in) - n_in)
    return torch.where(is_in, is_in.long().cumsum(0) <= k, (~is_in).long().cumsum(0) <= k)


def _check_scores(scores: object, is_member: object) -> tuple[np.ndarray, np.ndarray]:
    checks.check_tensor(scores, "scores")
    checks.check_tensor(is_member, "is_member")
    if scores.dim() != 1 or is_member.shape != scores.shape:
        raise ValueError(f"is_member: expected the shape of scores, {tuple(scores.shape)}, got {tuple(is_member.shape)}")
    if is_member.dtype != torch.bool:
        raise TypeError(f"is_member: expected a bool tensor, got {is_member.dtype}")
    if not torch.isfinite(scores.double()).all():
        raise ValueError("scores: expected finite values (a NaN or inf would be ranked arbitrarily)")
    if is_member.all() or not is_member.any():
        raise ValueError("is_member: expected both members and non-members")
    return scores.detach().double().cpu().numpy(), is_member.cpu().numpy()


@dataclass
class Roc:
    """An attack's ROC curve: ``fpr`` and ``tpr`` (numpy arrays, increasing), and the area ``auc``."""

    __repr__ = rounded_repr

    fpr: np.ndarray
    tpr: np.ndarray
    auc: float


def roc(scores: Tensor, is_member: Tensor) -> Roc:
    """The ROC curve of thresholding ``scores`` (N,) against the truth ``is_member`` (N,) bool
    (scikit-learn's ``roc_curve`` and ``auc``)."""
    from sklearn.metrics import auc, roc_curve

    s, truth = _check_scores(scores, is_member)
    fpr, tpr, _ = roc_curve(truth, s)
    return Roc(fpr, tpr, float(auc(fpr, tpr)))


def tpr_at_fpr(scores: Tensor, is_member: Tensor, fpr: float) -> float:
    """The highest true-positive rate of any threshold whose false-positive rate is at most ``fpr``."""
    fpr = checks.check_nonnegative(fpr, "fpr")
    if fpr > 1:
        raise ValueError(f"fpr: expected a false-positive rate in [0, 1], got {fpr:g}")
    curve = roc(scores, is_member)
    return float(curve.tpr[curve.fpr <= fpr].max())
