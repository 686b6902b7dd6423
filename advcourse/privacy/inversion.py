"""Model inversion: what does the model think a typical member of each class looks like?

Taught in 13_privacy. Fredrikson, Jha & Ristenpart (2015) recovered recognisable faces of people
from a face recogniser that had only their names: starting from a blank image, gradient descent
drives the model's confidence in one name up, and what comes out resembles that person's training
photos. The attacker sees no training example, only the model (white box) and a rough idea of what
inputs look like.

- :func:`invert` — batched gradient descent on the pixels of one image per target class, kept in
  [0, 1], with an image prior: total variation (neighbouring pixels alike: smooth strokes) and an
  ink penalty (dark background; ink costs more near the frame, where digits are never drawn).
  Without the prior the same descent finds a black-and-white pattern the model is just as sure of
  but that nobody reads as a digit: the most confident input of a classifier is an adversarial
  example. It still carries the class's template (on the course's digits model it correlates 0.4
  with its class average, against 0.7 with the prior and 0.84 for a real training digit); the
  prior is what turns that leak into a picture.
- :func:`inversion_study` and :class:`InversionResult` — every class inverted with and without the
  prior, set beside the class averages of the training digits (which the attacker never saw), with
  the numbers that say how close the inversions come and :meth:`InversionResult.plot`.

Paper: Fredrikson, Jha & Ristenpart, 2015, "Model Inversion Attacks that Exploit Confidence
Information and Basic Countermeasures", ACM CCS (Algorithm 1, MI-Face).
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from torch import Tensor, nn

from advcourse.attacks import _core
from advcourse.core import checks
from advcourse.core.formatting import rounded_repr
from advcourse.core.viz import figure_function, new_figure, wrap_title

__all__ = ["LOSSES", "invert", "total_variation", "correlation", "InversionResult", "inversion_study"]

#: What :func:`invert` minimises for the target class t (z: logits, p: softmax probabilities).
LOSSES = ("margin", "ce", "1-p")


def total_variation(x: Tensor) -> Tensor:
    """Squared differences of neighbouring pixels (across and down), summed per image: (N,) from (N, C, H, W).

    0 for a flat image; large for noise. Squared (not absolute) differences favour smooth strokes.
    """
    checks.check_tensor(x, "x")
    if x.dim() != 4 or not x.is_floating_point():
        raise ValueError(f"x: expected float images of shape (N, C, H, W), got {x.dtype} of shape {tuple(x.shape)}")
    return _tv(x)


def _tv(x: Tensor) -> Tensor:
    across = (x[..., :, 1:] - x[..., :, :-1]).pow(2).flatten(1).sum(1)
    down = (x[..., 1:, :] - x[..., :-1, :]).pow(2).flatten(1).sum(1)
    return across + down


def _edge_profile(shape: tuple[int, int, int], edge_weight: float, like: Tensor) -> Tensor:
    """(1, C, H, W) ink cost per pixel: 1 at the centre, rising as r² to ``1 + edge_weight`` in the corners."""
    _, h, w = shape
    rows = torch.arange(h, dtype=like.dtype, device=like.device) - (h - 1) / 2
    cols = torch.arange(w, dtype=like.dtype, device=like.device) - (w - 1) / 2
    r2 = rows.view(-1, 1) ** 2 + cols.view(1, -1) ** 2
    corner = ((h - 1) / 2) ** 2 + ((w - 1) / 2) ** 2
    profile = 1 + edge_weight * r2 / corner if corner > 0 else torch.ones_like(r2)
    return profile.expand(shape).unsqueeze(0)


def _objective(logits: Tensor, targets: Tensor, loss: str) -> Tensor:
    """(N,) the quantity to minimise for each image's target class."""
    if loss == "ce":
        return F.cross_entropy(logits, targets, reduction="none")
    if loss == "1-p":  # the paper's cost, c(x) = 1 - f_label(x)
        return 1 - logits.softmax(1).gather(1, targets.view(-1, 1)).squeeze(1)
    own = logits.gather(1, targets.view(-1, 1)).squeeze(1)
    others = logits.scatter(1, targets.view(-1, 1), float("-inf")).amax(1)
    return others - own  # minus the logit margin


def _check_targets(targets: object) -> Tensor:
    if isinstance(targets, Tensor):
        if targets.dim() != 1:
            raise ValueError(f"targets: expected a 1-D tensor of class indices (K,), got shape {tuple(targets.shape)}")
        if targets.is_floating_point() or targets.is_complex() or targets.dtype == torch.bool:
            raise TypeError(f"targets: expected integer class indices (torch.long), got {targets.dtype}")
        if targets.device.type == "meta":
            raise ValueError("targets: is on the 'meta' device (a shape without values)")
        values = targets.detach().cpu().long()
    else:
        items = checks.check_sequence(targets, "targets", "[0, 1, 2] or torch.arange(10)")
        bad = [v for v in items if isinstance(v, bool) or not isinstance(v, numbers.Integral)]
        if bad:
            raise TypeError(f"targets: expected int class indices, got {type(bad[0]).__name__} {bad[0]!r}")
        values = torch.tensor([int(v) for v in items], dtype=torch.long)
    if not len(values):
        raise ValueError("targets: expected at least one class index, got none")
    if int(values.min()) < 0:
        raise ValueError(f"targets: class indices must be >= 0, got {int(values.min())}")
    return values


def _check_shape(shape: object) -> tuple[int, int, int]:
    if isinstance(shape, (str, bytes)) or not isinstance(shape, (tuple, list, torch.Size)):
        raise TypeError(f"shape: expected a tuple (C, H, W) such as (1, 8, 8), got {type(shape).__name__}")
    if len(shape) != 3:
        raise ValueError(f"shape: expected 3 numbers (C, H, W) such as (1, 8, 8), got {tuple(shape)}")
    return tuple(checks.check_count(s, "shape", minimum=1) for s in shape)  # type: ignore[return-value]


def _check_loss(loss: object) -> str:
    if not isinstance(loss, str):
        raise TypeError(f"loss: expected one of {', '.join(LOSSES)}, got {type(loss).__name__}")
    if loss not in LOSSES:
        raise ValueError(f"loss: expected one of {', '.join(LOSSES)}, got {loss!r}")
    return loss


def _start(start: object, k: int, shape: tuple[int, int, int], dtype: torch.dtype, device: torch.device) -> Tensor:
    """The (K, C, H, W) first images: a constant grey, or the caller's images (copied)."""
    if start is None:
        start = 0.5
    if isinstance(start, Tensor) and start.dim() == 4:
        checks.check_images(start, name="start")
        if tuple(start.shape) != (k, *shape):
            raise ValueError(f"start: expected shape {(k, *shape)} (one image per target), got {tuple(start.shape)}")
        return start.detach().to(device=device, dtype=dtype).clone()
    if isinstance(start, Tensor) and start.numel() != 1:
        raise ValueError(f"start: expected a grey level in [0, 1] or images of shape {(k, *shape)}, "
                         f"got shape {tuple(start.shape)}")
    try:
        level = checks.check_finite(start, "start")
    except TypeError:
        raise TypeError(f"start: expected a grey level in [0, 1], images of shape {(k, *shape)} or None, "
                        f"got {type(start).__name__}") from None
    if not 0 <= level <= 1:
        raise ValueError(f"start: expected a grey level in [0, 1], got {level:g}")
    return torch.full((k, *shape), level, dtype=dtype, device=device)


def _first_logits(model: nn.Module, x: Tensor, targets: Tensor, shape: tuple[int, int, int]) -> Tensor:
    """The model's logits on the first images, with the checks that need them."""
    try:
        logits = model(x)
    except RuntimeError as exc:  # e.g. a linear layer sized for other images
        detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ValueError(f"shape: the model cannot take images of shape {shape} ({detail})") from None
    checks.check_logits(logits, len(x))
    if int(targets.max()) >= logits.shape[1]:
        raise ValueError(f"targets: expected class indices < {logits.shape[1]} (the model's classes), got "
                         f"{int(targets.max())}")
    return logits


def invert(model: nn.Module, targets: Tensor | list[int], *, steps: int = 300, lr: float = 0.05,
           tv_weight: float = 0.3, ink_weight: float = 0.1, edge_weight: float = 4.0, loss: str = "margin",
           start: Tensor | float | None = None, shape: tuple[int, int, int] = (1, 8, 8)) -> Tensor:
    """One image per target class that ``model`` is confident about, found by projected gradient descent.

    Paper: Fredrikson, Jha & Ristenpart, 2015, "Model Inversion Attacks that Exploit Confidence
        Information and Basic Countermeasures", ACM CCS (Algorithm 1, MI-Face: gradient descent on
        the pixels from a blank image, cost ``1 − p_label`` plus an auxiliary term).

    Threat model: white box (the model's gradients) and a prior on what inputs look like; no
    training example. Each image ``x`` minimises, with Adam on its pixels and a clip to [0, 1]
    after every step (the images of a batch never interact)::

        objective(x, t) + tv_weight · TV(x) + ink_weight · Σ_pixels (1 + edge_weight · r²/r_max²) · x

    where TV is :func:`total_variation` (smooth strokes) and the last term is the ink, dearer with
    the squared distance r from the centre (digits are light strokes on black, drawn in the middle).
    ``tv_weight = ink_weight = 0`` is a plain descent on the objective: adversarial patterns.

    Args:
        model: a classifier taking (N, C, H, W) pixels in [0, 1], left exactly as found.
        targets: (K,) class indices, a list of ints or an integer tensor; one image per entry.
        steps: Adam steps, >= 1. lr: Adam's learning rate, in pixel units per step, > 0.
        tv_weight, ink_weight, edge_weight: the prior's weights, >= 0 (0, 0: no prior).
        loss: the objective for target t: ``"margin"`` (default) minus the logit margin
            ``z_t − max_{j≠t} z_j``; ``"ce"`` the cross-entropy ``−log p_t``; ``"1-p"`` the
            paper's ``1 − p_t``. On a confident network ``p_t`` reaches 1 within a few steps and
            the gradients of ``1 − p_t`` and of the cross-entropy vanish, so the prior alone fades
            the image; the margin keeps pulling (as Simonyan et al. 2014 ascend the class score).
        start: None (a constant grey image, 0.5: deterministic), a grey level in [0, 1], or
            (K, C, H, W) images in [0, 1] to start from.
        shape: (C, H, W) of one image; the course's digits are (1, 8, 8).

    Returns:
        (K, C, H, W) images in [0, 1], detached, on the model's device in its dtype (float32 for a
        model without parameters).

    Notes:
        Batched: image k depends only on ``targets[k]``. The model's modes, ``requires_grad``
        flags, ``.grad`` and buffers are as before, even on an error.

    Example:
        >>> x = invert(clean_digits_cnn(), torch.arange(10))       # (10, 1, 8, 8): one per digit
    """
    checks.check_model(model)
    targets = _check_targets(targets)
    steps = checks.check_count(steps, "steps", minimum=1)
    lr = checks.check_positive(lr, "lr")
    tv_weight = checks.check_nonnegative(tv_weight, "tv_weight")
    ink_weight = checks.check_nonnegative(ink_weight, "ink_weight")
    edge_weight = checks.check_nonnegative(edge_weight, "edge_weight")
    loss = _check_loss(loss)
    shape = _check_shape(shape)
    param = next((p for p in model.parameters() if p.is_floating_point()), None)
    dtype = param.dtype if param is not None else torch.float32
    device = param.device if param is not None else torch.device("cpu")
    conv = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    if conv is not None and conv.in_channels != shape[0]:
        raise ValueError(f"shape: the model's first convolution takes {conv.in_channels} channel(s), got "
                         f"shape {shape}; pass shape=({conv.in_channels}, H, W)")
    x = _start(start, len(targets), shape, dtype, device)
    targets = targets.to(device)
    ink_cost = ink_weight * _edge_profile(shape, edge_weight, x)
    with checks.frozen(model, x):
        x.requires_grad_(True)
        opt = torch.optim.Adam([x], lr=lr)
        for step in range(steps):
            logits = _first_logits(model, x, targets, shape) if step == 0 else model(x)
            cost = _objective(logits, targets, loss)
            if tv_weight:
                cost = cost + tv_weight * _tv(x)
            if ink_weight:
                cost = cost + (ink_cost * x).flatten(1).sum(1)
            opt.zero_grad(set_to_none=True)
            cost.sum().backward()  # a sum: each image gets its own gradient, whatever K is
            opt.step()
            with torch.no_grad():
                x.clamp_(0, 1)  # project back onto the pixel box
    return x.detach()


def correlation(a: Tensor, b: Tensor) -> Tensor:
    """Pearson correlation of every image of ``a`` (N, ...) with every image of ``b`` (M, ...): (N, M) float64.

    Each image is centred on its own mean pixel and scaled to unit length, so brightness and
    contrast do not count, only the pattern; 1 is the same picture, 0 unrelated. A flat image
    correlates 0 with everything.
    """
    for name, t in (("a", a), ("b", b)):
        checks.check_tensor(t, name)
        if t.dim() < 2 or not t.numel() or t.is_complex():
            raise ValueError(f"{name}: expected a non-empty batch of real images (N, ...), got shape {tuple(t.shape)}")
    if a[0].numel() != b[0].numel():
        raise ValueError(f"b: expected images of {a[0].numel()} values like a's, got {b[0].numel()}")
    flat = [t.detach().double().cpu().flatten(1) for t in (a, b)]
    a, b = (F.normalize(t - t.mean(1, keepdim=True), dim=1) for t in flat)
    return a @ b.T


@dataclass
class InversionResult:
    """Every class inverted without and with the prior, beside the class averages of the training digits.

    Attributes:
        plain: (K, C, H, W) inversions without the prior, in [0, 1].
        prior: (K, C, H, W) inversions with it.
        averages: (K, C, H, W) the average training image of each class (the attacker never sees them).
        confidence_plain, confidence_prior: (K,) the model's probability of each target class on its
            inversion.
        similarity_plain, similarity_prior: (K, K) :func:`correlation` of inversion i with class average j.
        typical: the mean correlation of a training image with its own class average (how close a
            real example comes), for scale.
    """

    __repr__ = rounded_repr

    plain: Tensor
    prior: Tensor
    averages: Tensor
    confidence_plain: Tensor
    confidence_prior: Tensor
    similarity_plain: Tensor
    similarity_prior: Tensor
    typical: float

    @property
    def nearest_plain(self) -> Tensor:
        """(K,) the class whose average each inversion without the prior correlates with most."""
        return self.similarity_plain.argmax(1)

    @property
    def nearest_prior(self) -> Tensor:
        """(K,) the same for the inversions with the prior."""
        return self.similarity_prior.argmax(1)

    @property
    def matches_plain(self) -> int:
        """How many inversions without the prior are closest to their own class's average."""
        return int((self.nearest_plain == torch.arange(len(self.plain))).sum())

    @property
    def matches_prior(self) -> int:
        """How many inversions with the prior are closest to their own class's average."""
        return int((self.nearest_prior == torch.arange(len(self.prior))).sum())

    @property
    def own_plain(self) -> float:
        """Mean correlation of an inversion without the prior with its own class's average."""
        return float(self.similarity_plain.diagonal().mean())

    @property
    def own_prior(self) -> float:
        """Mean correlation of an inversion with the prior with its own class's average."""
        return float(self.similarity_prior.diagonal().mean())

    def __str__(self) -> str:
        k = len(self.plain)
        return (f"closest to their own class's average: {self.matches_plain} of {k} inversions without the prior, "
                f"{self.matches_prior} of {k} with it\n"
                f"correlation with their own class's average: {self.own_plain:.2f} without the prior, "
                f"{self.own_prior:.2f} with it (a training image: {self.typical:.2f})\n"
                f"the model's lowest confidence in the target class: {self.confidence_plain.min():.2f} without "
                f"the prior, {self.confidence_prior.min():.2f} with it")

    @figure_function
    def plot(self) -> Figure:
        """Three rows, one column per class: inversions without the prior, with it (each titled with the
        model's confidence; a red label names the class average it is closest to when that is another
        class's), and the class averages of the training images. One grey scale for all, with its bar."""
        k = len(self.plain)
        width = min(10.4, 0.82 * k + 1.6)
        fig = new_figure(width, 4.1)
        axes = fig.subplots(3, k, squeeze=False)
        rows = (("no prior", self.plain, self.confidence_plain, self.nearest_plain),
                ("with prior", self.prior, self.confidence_prior, self.nearest_prior),
                ("class\naverage", self.averages, None, None))
        image = None
        for r, (name, images, confidence, nearest) in enumerate(rows):
            for c in range(k):
                ax = axes[r, c]
                picture = images[c].detach().float().cpu().clamp(0, 1)
                picture = picture[0] if picture.shape[0] == 1 else picture.mean(0)
                image = ax.imshow(picture.numpy(), cmap="gray", vmin=0, vmax=1)
                ax.set_xticks([])
                ax.set_yticks([])
                ax.spines[:].set_visible(True)
                ax.spines[:].set_color("#999999")
                ax.set_title(f"{c}: {100 * float(confidence[c]):.0f} %" if confidence is not None else str(c),
                             fontsize=10)
                if nearest is not None and int(nearest[c]) != c:
                    ax.set_xlabel(f"near {int(nearest[c])}", color="#c44e52", fontsize=10)
            axes[r, 0].set_ylabel(name)
        fig.colorbar(image, ax=axes.ravel().tolist(), label="pixel value", ticks=[0, 0.5, 1], shrink=0.9)
        fig.suptitle(wrap_title(f"Inversions (titles: the model's confidence) and class averages. Closest to their "
                                f"own class's average: {self.matches_plain} of {k} without the prior, "
                                f"{self.matches_prior} of {k} with it; mean correlation with it {self.own_plain:.2f} "
                                f"and {self.own_prior:.2f} (a training image: {self.typical:.2f})", width - 0.3, 12))
        return fig


def inversion_study(model: nn.Module, x_train: Tensor, y_train: Tensor, *, steps: int = 300, lr: float = 0.05,
                    tv_weight: float = 0.3, ink_weight: float = 0.1, edge_weight: float = 4.0,
                    loss: str = "margin") -> InversionResult:
    """Invert every class of ``model`` with and without the prior and compare with the class averages.

    Args:
        model: a classifier of K classes taking (N, C, H, W) pixels in [0, 1], left exactly as found.
        x_train, y_train: (N, C, H, W) training images in [0, 1] and (N,) labels in [0, K), every
            class present: only for the class averages, the attacker's unseen ground truth.
        steps, lr, tv_weight, ink_weight, edge_weight, loss: as :func:`invert` (the weights for the
            run with the prior; the run without it sets ``tv_weight = ink_weight = 0``).

    Returns:
        :class:`InversionResult`.

    Example:
        >>> digits = load_digits()
        >>> study = inversion_study(clean_digits_cnn(), digits.x_train, digits.y_train)
        >>> print(study); study.plot()
    """
    checks.check_model(model)
    checks.check_images(x_train, name="x_train")
    if y_train is None:
        raise TypeError("y_train: expected a LongTensor of labels, shape (N,), got None")
    y_train = checks.check_labels(y_train, x_train, name="y_train")
    shape = tuple(x_train.shape[1:])
    param = next((p for p in model.parameters() if p.is_floating_point()), None)
    probe = x_train[:1].to(device=param.device, dtype=param.dtype) if param is not None else x_train[:1]
    checks.check_model_input(model, probe, name="x_train")
    with checks.frozen(model, probe), torch.no_grad():
        try:
            out = model(probe)
        except RuntimeError as exc:  # e.g. a linear layer sized for other images
            detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise ValueError(f"x_train: the model cannot take images of shape {shape} ({detail})") from None
        k = checks.check_logits(out, 1).shape[1]
    if int(y_train.max()) >= k:
        raise ValueError(f"y_train: expected labels of the model's {k} classes, got {int(y_train.max())}")
    counts = torch.bincount(y_train.cpu(), minlength=k)
    if (counts == 0).any():
        raise ValueError(f"y_train: expected every class of the model, class {int((counts == 0).nonzero()[0])} has "
                         "no training image")
    options = {"steps": steps, "lr": lr, "edge_weight": edge_weight, "loss": loss, "shape": shape}
    targets = torch.arange(k)
    prior = invert(model, targets, tv_weight=tv_weight, ink_weight=ink_weight, **options)
    plain = invert(model, targets, tv_weight=0.0, ink_weight=0.0, **options)
    x64, labels = x_train.detach().double().cpu(), y_train.cpu()
    averages = torch.zeros(k, *shape, dtype=torch.float64).index_add_(0, labels, x64) / counts.view(-1, 1, 1, 1)
    with checks.frozen(model, plain), torch.no_grad():
        confidence = [_core.logits_of(model, x).double().softmax(1).diagonal().cpu() for x in (plain, prior)]
    own = correlation(x64, averages).gather(1, labels.view(-1, 1))
    return InversionResult(plain.cpu(), prior.cpu(), averages.float(), confidence[0], confidence[1],
                           correlation(plain, averages), correlation(prior, averages), float(own.mean()))
