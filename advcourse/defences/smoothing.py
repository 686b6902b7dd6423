"""Randomized smoothing: a classifier whose answer provably cannot change within an L2 radius.

Taught in 11_evaluation. The defences of 08 resist the attacks we tried; this one comes with a
proof. The *smoothed* classifier ``g`` answers, for an image ``x``, the class that a base
classifier ``f`` gives most often when Gaussian noise is added to ``x``::

    g(x) = argmax_c  P( f(x + ε) = c ),   ε ~ N(0, σ² I)

Cohen, Rosenfeld & Kolter (2019, Theorem 1) prove: if the top class ``c_A`` has probability at
least ``p_A > 1/2``, then ``g`` gives ``c_A`` at every point within the L2 distance
``R = σ · Φ⁻¹(p_A)`` of ``x`` (Φ⁻¹: the standard normal quantile). ``p_A`` is unknown, so it is
estimated from noise samples and replaced by a lower confidence bound; when that bound is not
above 1/2 the classifier *abstains* rather than guess. The guarantee then holds with
probability at least ``1 − alpha`` over the noise.

This module has the whole pipeline on the course's digits:

* :class:`GaussianNoise` — ``f(x + ε)`` as an ``nn.Module`` (train on it; attack it with
  :class:`~advcourse.defences.EOT`);
* :func:`train_digits_cnn` — a digits CNN trained on noisy images (noise makes ``f`` right
  *under* noise, which is what ``g`` needs), with the course's own training loop;
* :func:`predict` and :func:`certify` — Cohen et al.'s ``PREDICT`` and ``CERTIFY`` (Alg. 2 and 1);
* :func:`certified_accuracy` and :func:`pgd_accuracy` — accuracy against the L2 radius, proven
  and attacked, as :class:`AccuracyCurve` objects drawn by :func:`plot_accuracy_curves`.

Noise draws are shared by the images of a batch (every image sees the same ``ε₁ … ε_n``): each
image's test is exactly Cohen et al.'s, and a batch gives the same answers as its images one by
one under the same seed.

    >>> net = train_digits_cnn(sigma=0.25)
    >>> cert = certify(net, x, sigma=0.25, n=1000, generator=torch.Generator().manual_seed(0))
    >>> certified_accuracy(cert, y, radii=[0, 0.25, 0.5])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from matplotlib.figure import Figure
from torch import Tensor, nn

from advcourse.core import checks
from advcourse.attacks import _core, pgd
from advcourse.core.transforms import EOT
from advcourse.core.formatting import rounded_repr
from advcourse.core.viz import figure_function, new_figure

__all__ = [
    "ABSTAIN", "GaussianNoise", "train_digits_cnn", "predict", "certify", "Certificate", "certified_accuracy",
    "pgd_accuracy", "AccuracyCurve", "plot_accuracy_curves", "clopper_pearson_lower",
]

#: The label :func:`predict` and :func:`certify` give when they abstain.
ABSTAIN = -1

#: Noise vectors are drawn this many at a time, whatever the batch size, so that the draws (and
#: hence every answer) do not depend on ``batch_size``.
NOISE_BLOCK = 1000


# ----------------------------------------------------------------------------- checks
def _check_sigma(sigma: object) -> float:
    return checks.check_positive(sigma, "sigma")


def _check_alpha(alpha: object) -> float:
    a = checks.check_finite(alpha, "alpha")
    if not 0.0 < a < 1.0:
        raise ValueError(f"alpha: expected a probability of error in (0, 1) such as 0.001, got {a}")
    return a


def _check_common(model: object, x: object, sigma: object, alpha: object, batch_size: object,
                  generator: object) -> tuple[float, float, int]:
    checks.check_model(model)
    checks.check_images(x)
    checks.check_generator(generator)
    return _check_sigma(sigma), _check_alpha(alpha), checks.check_count(batch_size, "batch_size", minimum=1)


# ----------------------------------------------------------------------------- the noisy base classifier
class GaussianNoise(nn.Module):
    """``model(x + σ·ε)`` with ``ε ~ N(0, I)`` drawn anew for every image and call, in train and eval mode.

    Used to train the base classifier of a smoothed one (Cohen et al. 2019, Sec. 3.3: train with
    the noise it will be smoothed with) and, wrapped in :class:`~advcourse.defences.EOT`, as the
    target of an adaptive attack on the smoothed classifier. The noisy image is *not* clipped to
    [0, 1]: the certificate is about exactly this Gaussian.

    Args:
        model: ``nn.Module`` mapping (N, C, H, W) to (N, K) logits.
        sigma: noise level σ > 0, in pixel units.
        generator: ``torch.Generator`` for the noise (on ``x``'s device or the CPU), or ``None``.

    Shape: x (N, C, H, W) -> logits (N, K).
    """

    def __init__(self, model: nn.Module, *, sigma: float, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.model = checks.check_model(model)
        self.sigma = _check_sigma(sigma)
        self.generator = checks.check_generator(generator)

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x + self.sigma * _core._rand(x.shape, x, self.generator, normal=True))


def train_digits_cnn(sigma: float = 0.25, *, width: int = 16, epochs: int = 20, lr: float = 3e-3,
                     seed: int = 0) -> nn.Module:
    """08_defences' ``DigitsCNN`` trained on the digits with Gaussian noise σ on every training image.

    The course's training loop (:func:`advcourse.defences.train`) runs on
    ``GaussianNoise(net, sigma)``, so the network learns to classify noisy digits; ``sigma=0``
    trains on clean digits (the undefended baseline, same recipe). Seeded: the same arguments give
    the same weights; the global random state is left untouched. About 5 s on one CPU thread.

    Args:
        sigma: training noise σ >= 0 (pixel units); use the σ you will smooth with.
        width, epochs, lr, seed: network width, passes over the 1348 training digits, Adam's
            learning rate, seed of the weights, the shuffle and the noise.

    Returns:
        The trained ``DigitsCNN`` in eval mode: (N, 1, 8, 8) in [0, 1] -> (N, 10) logits.
    """
    from advcourse.models.datasets import load_digits, make_loader
    from advcourse.defences.training import train
    from advcourse.models.nets import DigitsCNN

    sigma = checks.check_nonnegative(sigma, "sigma")
    width = checks.check_count(width, "width", minimum=1)
    seed = checks.check_count(seed, "seed")
    digits = load_digits()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = DigitsCNN(width=width)
        trained = GaussianNoise(net, sigma=sigma, generator=torch.Generator().manual_seed(seed)) if sigma > 0 else net
        train(trained, make_loader(digits.x_train, digits.y_train, seed=seed), epochs=epochs, lr=lr, progress=False)
    return net.eval()


# ----------------------------------------------------------------------------- Monte Carlo counts
def _sample_counts(model: nn.Module, x: Tensor, n: int, sigma: float, batch_size: int,
                   generator: torch.Generator | None) -> Tensor:
    """How often ``model(x_i + ε_j)`` says each class over ``n`` noise draws: (N, K) int64.

    Cohen et al.'s ``SAMPLEUNDERNOISE``. The draws ``ε_j`` are shared by all images and drawn
    :data:`NOISE_BLOCK` at a time; images × draws go through the model ``batch_size`` at a time.
    """
    counts: Tensor | None = None
    for start in range(0, n, NOISE_BLOCK):
        eps = sigma * _core._rand(torch.Size([min(NOISE_BLOCK, n - start), *x.shape[1:]]), x, generator, normal=True)
        for j in range(0, eps.shape[0], batch_size):  # a slice of the draws ...
            e = eps[j:j + batch_size]
            per = max(1, batch_size // e.shape[0])
            for i in range(0, x.shape[0], per):       # ... times a slice of the images
                xi = x[i:i + per]
                logits = _core.logits_of(model, (xi.unsqueeze(1) + e.unsqueeze(0)).flatten(0, 1))
                votes = logits.argmax(1).view(xi.shape[0], e.shape[0])
                if counts is None:
                    counts = torch.zeros(x.shape[0], logits.shape[1], dtype=torch.long, device=x.device)
                counts[i:i + per].scatter_add_(1, votes, torch.ones_like(votes))
    assert counts is not None  # n >= 1
    return counts


def _counts(model: nn.Module, x: Tensor, n: int, sigma: float, batch_size: int,
            generator: torch.Generator | None) -> Tensor:
    """:func:`_sample_counts` with the model frozen (eval mode, no grads; restored after)."""
    with checks.frozen(model, x), torch.no_grad():
        counts = _sample_counts(model, x.detach(), n, sigma, batch_size, generator)
    if counts.shape[1] < 2:
        raise ValueError(f"model: a smoothed classifier needs at least 2 classes, got logits of width "
                         f"{counts.shape[1]}")
    return counts


def clopper_pearson_lower(successes: int, trials: int, alpha: float) -> float:
    """One-sided ``(1 − alpha)`` lower confidence bound on a binomial proportion (Clopper–Pearson).

    Cohen et al.'s ``LOWERCONFBOUND``: the lower end of the exact two-sided ``1 − 2·alpha``
    interval, from :meth:`scipy.stats.binomtest`'s ``proportion_ci(method="exact")``.
    """
    from scipy import stats  # imported here: scipy.stats costs a second at import time

    ci = stats.binomtest(int(successes), int(trials)).proportion_ci(confidence_level=1 - 2 * alpha, method="exact")
    return float(ci.low)


# ----------------------------------------------------------------------------- PREDICT and CERTIFY
def predict(model: nn.Module, x: Tensor, *, sigma: float, n: int = 1000, alpha: float = 0.001,
            batch_size: int = 1000, generator: torch.Generator | None = None) -> Tensor:
    """The smoothed classifier's answer for each image, or :data:`ABSTAIN` when the vote is too close.

    Paper: Cohen, Rosenfeld & Kolter, 2019, "Certified Adversarial Robustness via Randomized
        Smoothing", arXiv:1902.02918 (Alg. 1, ``PREDICT``).

    Counts ``f(x + ε)`` over ``n`` draws of ``ε ~ N(0, σ² I)``; with the two most frequent classes
    counted ``n_A >= n_B`` times, answers the top class when a two-sided binomial test of
    ``n_A`` out of ``n_A + n_B`` against 1/2 gives a p-value <= ``alpha``, else abstains. A
    returned class differs from ``g(x)`` with probability at most ``alpha`` (Cohen et al., Prop. 1).

    Args:
        model: base classifier ``f``: (N, C, H, W) -> (N, K) logits, K >= 2.
        x: (N, C, H, W) float tensor on the model's device, pixels in [0, 1].
        sigma: noise level σ > 0 (pixel units).
        n: noise draws per image, >= 1.
        alpha: allowed probability of a wrong answer, in (0, 1).
        batch_size: noisy images per forward pass, >= 1.
        generator: ``torch.Generator`` for the noise (on ``x``'s device or the CPU); seed it for
            reproducible answers.

    Returns:
        (N,) int64 on ``x``'s device: a class in [0, K) or :data:`ABSTAIN` (−1).

    Notes:
        The model's mode, ``requires_grad`` flags and grads are restored, even if this raises.

    Example:
        >>> pred = predict(net, x, sigma=0.25, n=1000, generator=torch.Generator().manual_seed(0))
    """
    sigma, alpha, batch_size = _check_common(model, x, sigma, alpha, batch_size, generator)
    n = checks.check_count(n, "n", minimum=1)
    from scipy import stats  # imported here: scipy.stats costs a second at import time

    top = _counts(model, x, n, sigma, batch_size, generator).topk(2, dim=1)
    n_a, n_b = top.values[:, 0].tolist(), top.values[:, 1].tolist()
    p_values = [stats.binomtest(a, a + b, 0.5).pvalue if a + b else 1.0 for a, b in zip(n_a, n_b)]
    sure = torch.tensor(p_values, device=x.device) <= alpha
    return torch.where(sure, top.indices[:, 0], torch.full_like(top.indices[:, 0], ABSTAIN))


@dataclass
class Certificate:
    """What :func:`certify` proves about each image of a batch.

    Attributes:
        prediction: (N,) int64, the smoothed classifier's class, or :data:`ABSTAIN` (−1).
        radius: (N,) float64, the certified L2 radius ``σ·Φ⁻¹(p_A_lower)`` (0 where abstained): with
            probability >= ``1 − alpha`` over the noise, ``g(x + δ) = prediction`` for all ‖δ‖₂ < radius.
        p_a_lower: (N,) float64, the Clopper–Pearson lower bound on ``p_A``.
        count_a: (N,) int64, how many of the ``n`` estimation draws gave the selected class.
        sigma, n0, n, alpha: the settings used.
    """

    __repr__ = rounded_repr  # floats rounded: the same on every CPU

    prediction: Tensor
    radius: Tensor
    p_a_lower: Tensor
    count_a: Tensor
    sigma: float
    n0: int
    n: int
    alpha: float


# certify's docstring closes like predict's, and both start with _check_common: one Monte Carlo contract.
def certify(model: nn.Module, x: Tensor, *, sigma: float, n0: int = 100, n: int = 1000, alpha: float = 0.001,
            batch_size: int = 1000, generator: torch.Generator | None = None) -> Certificate:
    """Certify each image: the smoothed class and an L2 radius within which it provably holds.

    Paper: Cohen, Rosenfeld & Kolter, 2019, "Certified Adversarial Robustness via Randomized
        Smoothing", arXiv:1902.02918 (Alg. 1, ``CERTIFY``; Theorem 1). The paper's defaults are
        ``n0=100, n=100_000, alpha=0.001``; ``n=1000`` caps the provable ``p_A_lower`` at
        ``alpha^(1/n) ≈ 0.9931``, i.e. radii up to about ``2.46·σ``.

    Threat model: any perturbation δ with ‖δ‖₂ < radius (pixel units), chosen knowing everything
    but the noise.

    The algorithm: guess the top class ``c_A`` from ``n0`` selection draws; count it over ``n``
    *fresh* draws (``n_A`` times); ``p_A_lower`` = one-sided ``1 − alpha`` Clopper–Pearson lower
    bound of ``n_A / n``; if ``p_A_lower > 1/2`` return ``c_A`` and radius ``σ·Φ⁻¹(p_A_lower)``,
    else abstain.

    Args:
        model: base classifier ``f``: (N, C, H, W) -> (N, K) logits, K >= 2.
        x: (N, C, H, W) float tensor on the model's device, pixels in [0, 1].
        sigma: noise level σ > 0 (pixel units), the σ the model was trained with.
        n0: selection draws per image, >= 1. n: estimation draws per image, >= 1.
        alpha: allowed probability that a certificate is wrong, in (0, 1).
        batch_size: noisy images per forward pass, >= 1.
        generator: ``torch.Generator`` for the noise (on ``x``'s device or the CPU).

    Returns:
        :class:`Certificate` with tensors on the CPU.

    Notes:
        The model's mode, ``requires_grad`` flags and grads are restored, even if this raises.

    Example:
        >>> cert = certify(net, x, sigma=0.25, n=1000, generator=torch.Generator().manual_seed(0))
    """
    sigma, alpha, batch_size = _check_common(model, x, sigma, alpha, batch_size, generator)
    n0 = checks.check_count(n0, "n0", minimum=1)
    n = checks.check_count(n, "n", minimum=1)
    c_a = _counts(model, x, n0, sigma, batch_size, generator).argmax(1)                 # selection
    count_a = _counts(model, x, n, sigma, batch_size, generator).gather(1, c_a[:, None])[:, 0].cpu()  # estimation
    p_a_lower = torch.tensor([clopper_pearson_lower(k, n, alpha) for k in count_a.tolist()], dtype=torch.float64)
    certified = p_a_lower > 0.5
    radius = (sigma * torch.special.ndtri(p_a_lower)).where(certified, torch.zeros(()))  # σ·Φ⁻¹(p_A_lower)
    prediction = torch.where(certified, c_a.cpu(), torch.full_like(count_a, ABSTAIN))
    return Certificate(prediction, radius, p_a_lower, count_a, sigma, n0, n, alpha)


# ----------------------------------------------------------------------------- accuracy against radius
@dataclass
class AccuracyCurve:
    """Accuracy in [0, 1] at each L2 radius, proven (``kind="certified"``) or attacked (``"PGD"``).

    Attributes:
        label: what is measured, e.g. ``"smoothed, σ=0.25"``.
        kind: ``"certified"`` (a lower bound that holds against every attack, with probability
            >= 1 − alpha) or ``"PGD"`` (accuracy under one attack: an upper bound on the true
            robust accuracy).
        radius: the L2 radii (pixel units), ascending.
        accuracy: the accuracy at each radius; abstentions count as wrong.
    """

    __repr__ = rounded_repr  # floats rounded: the same on every CPU

    label: str
    kind: str
    radius: list[float]
    accuracy: list[float]

    def __str__(self) -> str:
        cells = "  ".join(f"r={r:g}: {a:.0%}" for r, a in zip(self.radius, self.accuracy))
        return f"{self.label} ({self.kind}): {cells}"


def _check_radii(radii: object) -> list[float]:
    values = checks.check_sequence(radii, "radii", "[0, 0.25, 0.5]")
    if not values:
        raise ValueError("radii: expected at least one L2 radius")
    values = [checks.check_nonnegative(r, "radii") for r in values]
    if values != sorted(values):
        raise ValueError(f"radii: expected ascending radii, got {values}")
    return values


def certified_accuracy(certificate: Certificate, y: Tensor, radii: Sequence[float], *,
                       label: str | None = None) -> AccuracyCurve:
    """Share of images certified correct at each radius: ``prediction == y`` and ``radius >= r``.

    Cohen et al.'s "approximate certified test accuracy" (Sec. 4): an image counts at radius ``r``
    when the smoothed classifier is right and its certificate reaches at least ``r``; abstentions
    count as wrong. Non-increasing in ``r`` by construction.

    Args:
        certificate: from :func:`certify`. y: (N,) int64 true labels.
        radii: ascending L2 radii >= 0, e.g. ``[0, 0.25, 0.5, 0.75, 1.0]``.
        label: the curve's name (default ``"smoothed, σ=…"``).
    """
    checks.check_instance(certificate, Certificate, "certificate", "what certify returns")
    if not isinstance(y, Tensor) or tuple(y.shape) != tuple(certificate.prediction.shape):
        got = tuple(y.shape) if isinstance(y, Tensor) else type(y).__name__
        raise ValueError(f"y: expected a LongTensor of shape {tuple(certificate.prediction.shape)} "
                         f"(one label per certified image), got {got}")
    radii = _check_radii(radii)
    right = certificate.prediction == y.detach().cpu()
    accuracy = [float((right & (certificate.radius >= r)).double().mean()) for r in radii]
    return AccuracyCurve(label or f"smoothed, σ={certificate.sigma:g}", "certified", radii, accuracy)


def pgd_accuracy(model: nn.Module, x: Tensor, y: Tensor, radii: Sequence[float], *, steps: int = 20,
                 sigma: float | None = None, eot_samples: int = 8, n: int = 1000, alpha: float = 0.001,
                 batch_size: int = 1000, label: str | None = None,
                 generator: torch.Generator | None = None) -> AccuracyCurve:
    """Accuracy under L2 PGD of budget ``eps = r`` at each radius ``r``: an empirical upper bound.

    ``sigma=None``: PGD (``step_size = 2.5·eps/steps``, random start) attacks ``model`` itself and
    ``model``'s own answers are scored. ``sigma=σ``: the honest attack on the smoothed classifier
    — PGD on ``EOT(GaussianNoise(model, σ), eot_samples)``, the base classifier averaged over its
    noise (Salman et al., 2019, arXiv:1906.04584) — scored by :func:`predict` (``n``, ``alpha``;
    abstentions count as wrong). At the same radius, a certified accuracy can only be lower (up to
    the ``alpha`` chance of a wrong certificate): a proof holds against *every* attack, PGD is one.

    Args:
        model: base classifier (N, C, H, W) -> (N, K) logits. x: (N, C, H, W) in [0, 1];
            y: (N,) true labels.
        radii: ascending L2 budgets >= 0 (0 gives the clean accuracy).
        steps: PGD steps >= 1. eot_samples: noise draws averaged per PGD step (with ``sigma``).
        n, alpha, batch_size: :func:`predict`'s settings (with ``sigma``).
        generator: ``torch.Generator`` for PGD's random start and all noise (CPU or ``x``'s device).
    """
    checks.check_model(model)
    checks.check_images(x)
    y = checks.check_labels(y, x)
    radii = _check_radii(radii)
    steps = checks.check_count(steps, "steps", minimum=1)
    checks.check_generator(generator)
    target = model
    if sigma is not None:  # predict's settings checked now, not after the attack
        _check_sigma(sigma), _check_alpha(alpha)
        checks.check_count(n, "n", minimum=1)
        checks.check_count(batch_size, "batch_size", minimum=1)
        target = EOT(GaussianNoise(model, sigma=sigma, generator=generator), samples=eot_samples)
    accuracy = []
    for r in radii:
        x_adv = pgd(target, x, y, eps=r, step_size=2.5 * r / steps, steps=steps, norm=2, generator=generator) \
            if r > 0 else x
        if sigma is None:
            with checks.frozen(model, x_adv), torch.no_grad():
                pred = _core.logits_of(model, x_adv).argmax(1)
        else:
            pred = predict(model, x_adv, sigma=sigma, n=n, alpha=alpha, batch_size=batch_size, generator=generator)
        accuracy.append(float((pred == y).double().mean()))
    name = label or ("base classifier" if sigma is None else f"smoothed, σ={sigma:g}")
    return AccuracyCurve(name, "PGD", radii, accuracy)


@figure_function
def plot_accuracy_curves(curves: Sequence[AccuracyCurve], title: str = "") -> Figure:
    """Accuracy against L2 radius: certified curves solid, PGD curves dashed; one colour per label.

    A curve of more than 12 radii (e.g. a certified accuracy on a fine grid, which shows its
    steps) is drawn without markers.
    """
    if isinstance(curves, AccuracyCurve):
        curves = [curves]
    curves = [checks.check_instance(c, AccuracyCurve, "curves", "from certified_accuracy or pgd_accuracy")
              for c in checks.check_sequence(curves, "curves", "[certified_accuracy(...), pgd_accuracy(...)]")]
    fig = new_figure(6.5, 3.6)
    ax = fig.subplots()
    colours: dict[str, str] = {}
    for c in curves:
        colour = colours.setdefault(c.label, f"C{len(colours)}")
        line, marker = ("-", "o") if c.kind == "certified" else ("--", "s")
        ax.plot(c.radius, c.accuracy, line + ("" if len(c.radius) > 12 else marker), color=colour, ms=4,
                label=f"{c.label}: {c.kind}")
    ax.set_xlabel("L2 radius ε (pixel units)")
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0, 1.02)
    if title:
        ax.set_title(title)
    fig.legend(loc="outside lower center", ncols=2)
    return fig

