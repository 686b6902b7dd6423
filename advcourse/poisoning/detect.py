"""Finding the poisons: defences that look at a trained model's view of its own training data.

Taught in 12_poisoning. A backdoored model files its poisons with the target class, but it reads
them by the trigger, not by the class's own features, and that leaves traces:

* :func:`spectral_signatures` (Tran, Li & Madry 2018): within a class, the poisons' penultimate
  activations stand out along the top singular direction; the score is the squared projection;
* :func:`activation_clustering` (Chen et al. 2018): within a class, two-means on the activations
  splits poisons from the rest, and the small cluster is flagged;
* :func:`strip` (Gao et al. 2019): at test time, an input blended with random clean images keeps
  the target answer when it carries the trigger, so its predictions' entropy stays low.

:func:`detection` turns flags and the ground truth into a confusion matrix with TPR and FPR.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from advcourse.attacks import _core
from advcourse.core import checks
from advcourse.core.formatting import rounded_repr

__all__ = ["features", "spectral_signatures", "activation_clustering", "strip", "Detection", "detection",
           "flag_top", "check_flags"]


def _last_linear(model: nn.Module) -> nn.Linear:
    layers = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not layers:
        raise ValueError("model: expected a network ending in an nn.Linear layer (its input is the representation)")
    return layers[-1]


def features(model: nn.Module, x: Tensor, *, batch_size: int = 512) -> Tensor:
    """The representation the defences read: the input of ``model``'s last ``nn.Linear`` layer.

    Args:
        model: ``nn.Module`` mapping (N, C, H, W) in [0, 1] to logits, with a final ``nn.Linear``
            (for the DigitsCNN: the 64 activations after its hidden layer). Left exactly as found.
        x: (N, C, H, W) images in [0, 1].
        batch_size: images per forward pass.

    Returns:
        (N, D) float tensor on ``x``'s device.
    """
    checks.check_model(model)
    checks.check_images(x)
    batch_size = checks.check_count(batch_size, "batch_size", minimum=1)
    seen: list[Tensor] = []
    hook = _last_linear(model).register_forward_hook(lambda m, args, out: seen.append(args[0].detach().flatten(1)))
    try:
        with checks.frozen(model, x), torch.no_grad():
            for chunk in x.split(batch_size):
                _core.logits_of(model, chunk)
    finally:
        hook.remove()
    return torch.cat(seen)


def _per_class(y: Tensor) -> list[Tensor]:
    """Row indices of each class present in ``y``, smallest class first."""
    return [(y == c).nonzero().squeeze(1) for c in y.unique().tolist()]


def _check_xy(model: nn.Module, x: Tensor, y: object) -> Tensor:
    checks.check_model(model)
    checks.check_images(x)
    y = checks.check_labels(y, x)
    return y


def spectral_signatures(model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
    """Outlier scores (N,) >= 0: each row's squared projection on its class's top singular direction.

    Paper: Tran, Li & Madry, 2018, "Spectral Signatures in Backdoor Attacks", NeurIPS (Algorithm 1).

    For every class c (by the labels ``y``, poisons included): centre the class's representations
    :func:`features`, take the top right singular vector v of that matrix, and score each row by
    ``((r − mean_c) · v)²``. Poisons sit far out along v; the paper removes the 1.5·ε·n_c
    highest-scoring rows of each class (:func:`flag_top`).

    Args:
        model: the trained (possibly backdoored) model, left exactly as found.
        x: (N, C, H, W) the training images in [0, 1]; y: (N,) their (possibly poisoned) labels.

    Returns:
        (N,) float scores on ``x``'s device; comparable within a class.
    """
    y = _check_xy(model, x, y)
    reps = features(model, x).double()
    scores = torch.zeros(len(y), dtype=torch.float64, device=reps.device)
    for rows in _per_class(y):
        centred = reps[rows] - reps[rows].mean(0)
        if len(rows) > 1:
            v = torch.linalg.svd(centred, full_matrices=False).Vh[0]
            scores[rows] = (centred @ v) ** 2
    return scores.float()


def activation_clustering(model: nn.Module, x: Tensor, y: Tensor, *, components: int = 10,
                          max_fraction: float = 0.35, seed: int = 0) -> Tensor:
    """Flags (N,) bool: per class, the smaller of two activation clusters, if it is small enough.

    Paper: Chen, Carvalho, Baracaldo, Ludwig, Edwards, Lee, Molloy & Srivastava, 2018, "Detecting
        Backdoor Attacks on Deep Neural Networks by Activation Clustering", arXiv:1811.03728.

    For every class: project its centred representations (:func:`features`) on their top
    ``components`` principal directions (the paper uses ICA to 10 dimensions), split them with
    2-means (scikit-learn, seeded), and flag the smaller cluster when it holds at most
    ``max_fraction`` of the class (the paper's relative-size rule; a clean class splits evenly or
    not at all).

    Args:
        model, x, y: as :func:`spectral_signatures`.
        components: dimensions kept before clustering (>= 1).
        max_fraction: largest share of a class that can be flagged, in (0, 0.5].
        seed: seed of the 2-means initialisation.

    Returns:
        (N,) bool on ``x``'s device, True = flagged as poison.
    """
    from sklearn.cluster import KMeans  # imported here: scikit-learn's import costs a second

    y = _check_xy(model, x, y)
    components = checks.check_count(components, "components", minimum=1)
    max_fraction = checks.check_positive(max_fraction, "max_fraction")
    if max_fraction > 0.5:
        raise ValueError(f"max_fraction: expected at most 0.5 (the smaller cluster), got {max_fraction:g}")
    seed = checks.check_count(seed, "seed")
    reps = features(model, x).double()
    flagged = torch.zeros(len(y), dtype=torch.bool, device=reps.device)
    for rows in _per_class(y):
        if len(rows) < 4:
            continue
        centred = reps[rows] - reps[rows].mean(0)
        basis = torch.linalg.svd(centred, full_matrices=False).Vh[:components]
        points = (centred @ basis.T).cpu().numpy()
        labels = torch.as_tensor(KMeans(2, n_init=10, random_state=seed).fit_predict(points), device=reps.device)
        small = int(labels.sum() * 2 < len(labels))  # the cluster with fewer members
        if float((labels == small).float().mean()) <= max_fraction:
            flagged[rows[labels == small]] = True
    return flagged


def strip(model: nn.Module, x: Tensor, x_clean: Tensor, *, n: int = 20,
          generator: torch.Generator | None = None) -> Tensor:
    """STRIP entropies (N,): how unsure ``model`` is about ``x`` blended with random clean images.

    Paper: Gao, Xu, Wang, Chen, Ranasinghe & Nepal, 2019, "STRIP: A Defence Against Trojan Attacks
        on Deep Neural Networks", ACSAC.

    Each input is superimposed on ``n`` images drawn from ``x_clean`` — added pixel by pixel and
    clipped to [0, 1], as the paper's code overlays two pictures at full weight, so a trigger keeps
    its strength — and the Shannon entropy (nats) of each blend's softmax is averaged. A clean input loses its
    identity under the blending and the answers scatter (high entropy); an input carrying a trigger
    keeps answering the target (low entropy). Flag inputs below a threshold chosen on clean data.

    Args:
        model: left exactly as found. x: (N, C, H, W) inputs to test, in [0, 1].
        x_clean: (M, C, H, W) clean images held by the defender, in [0, 1].
        n: blends per input (>= 1).
        generator: ``torch.Generator`` on the CPU for the clean images drawn.

    Returns:
        (N,) float entropies in [0, log K] on ``x``'s device.
    """
    checks.check_model(model)
    checks.check_images(x)
    checks.check_images(x_clean, name="x_clean")
    if tuple(x_clean.shape[1:]) != tuple(x.shape[1:]):
        raise ValueError(f"x_clean: expected images shaped like x, {tuple(x.shape[1:])}, got {tuple(x_clean.shape[1:])}")
    n = checks.check_count(n, "n", minimum=1)
    checks.check_generator(generator)
    picks = torch.randint(len(x_clean), (len(x), n), generator=generator).to(x_clean.device)
    entropy = torch.zeros(len(x), device=x.device)
    with checks.frozen(model, x), torch.no_grad():
        for j in range(n):
            blend = (x + x_clean[picks[:, j]].to(x.device)).clamp(0.0, 1.0)
            logp = _core.logits_of(model, blend).log_softmax(1)
            entropy += -(logp.exp() * logp).sum(1) / n
    return entropy


def flag_top(scores: Tensor, y: Tensor, fraction: float) -> Tensor:
    """Flags (N,) bool: in each class of ``y``, the ``round(fraction · n_c)`` highest ``scores``.

    Tran et al. remove ``1.5 · ε`` of each class for a poisoning rate ε.
    """
    checks.check_tensor(scores, "scores")
    if scores.dim() != 1:
        raise ValueError(f"scores: expected shape (N,), got {tuple(scores.shape)}")
    y = checks.check_labels(y, scores.view(-1, 1, 1, 1))
    fraction = checks.check_nonnegative(fraction, "fraction")
    if fraction > 1:
        raise ValueError(f"fraction: expected a share of each class in [0, 1], got {fraction:g}")
    flagged = torch.zeros(len(y), dtype=torch.bool, device=scores.device)
    for rows in _per_class(y):
        k = round(fraction * len(rows))
        if k:
            flagged[rows[scores[rows].topk(k).indices]] = True
    return flagged


@dataclass
class Detection:
    """A detector's confusion matrix against the ground truth, and its rates.

    Attributes:
        tp, fp, fn, tn: poisons flagged, clean rows flagged, poisons missed, clean rows passed.
        tpr: tp / (tp + fn), the share of the poisons caught (nan without poisons).
        fpr: fp / (fp + tn), the share of clean rows thrown away (nan without clean rows).
    """

    __repr__ = rounded_repr

    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def tpr(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else float("nan")

    @property
    def fpr(self) -> float:
        return self.fp / (self.fp + self.tn) if self.fp + self.tn else float("nan")


def check_flags(flagged: object, is_poison: object) -> Tensor:
    """Check two (N,) bool tensors of the same shape; return ``is_poison`` on ``flagged``'s device."""
    for name, value in (("flagged", flagged), ("is_poison", is_poison)):
        checks.check_tensor(value, name)
        if value.dtype != torch.bool or value.dim() != 1:
            raise TypeError(f"{name}: expected a bool tensor of shape (N,), got {value.dtype} {tuple(value.shape)}")
    if flagged.shape != is_poison.shape:
        raise ValueError(f"is_poison: expected the shape of flagged, {tuple(flagged.shape)}, got {tuple(is_poison.shape)}")
    return is_poison.to(flagged.device)


def detection(flagged: Tensor, is_poison: Tensor) -> Detection:
    """Score ``flagged`` (N,) bool against ``is_poison`` (N,) bool (e.g. :attr:`Poisoned.is_poison`).

    Both must describe the same rows in the same order: a ground truth shuffled apart from the flags
    scores any detector at chance.
    """
    truth = check_flags(flagged, is_poison)
    return Detection(int((flagged & truth).sum()), int((flagged & ~truth).sum()), int((~flagged & truth).sum()),
                     int((~flagged & ~truth).sum()))
