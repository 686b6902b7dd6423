"""Random resize and pad in front of a classifier (Xie et al.), and how well it undoes attacks.

Taught in 08_defences. The defence changes nothing in the network: every call rescales each image
to a random size, drops it at a random place on a larger black canvas and only then classifies
it. A perturbation tuned, pixel by pixel, to the bare network lands on a different grid every
time, and much of its effect is gone. Because the randomness is drawn anew on every call — in
eval mode too — an attacker who ignores it sees noisy, misleading gradients; :class:`~advcourse.
defences.eot.EOT` averages it out again (the adaptive attack).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from advcourse.core import checks
from advcourse.attacks import _core, pgd
from advcourse.core.formatting import rounded_repr

__all__ = ["RandomResizePad", "TransferSweep", "transfer_sweep", "hit_rate"]

#: Xie et al. resize 299-pixel images to a random size in [299, 331) and pad them to 331×331.
XIE_RATIO = 331 / 299


class RandomResizePad(nn.Module):
    """``model(pad(resize(x)))`` with a fresh random size and position for every image and call.

    Paper: Xie, Wang, Zhang, Ren & Yuille, 2018, "Mitigating Adversarial Effects Through
        Randomization", arXiv:1711.01991 (Sec. 3; 2nd place in the NIPS 2017 defence competition).

    Each image of an (N, C, H, W) batch is resized to a random square side ``r`` drawn uniformly
    from ``[min_size, out_size]`` and placed at a random offset on a zero (black) canvas of
    ``out_size × out_size``; the batch of canvases goes through ``model`` in one call. Resize and
    pad are a single differentiable ``grid_sample`` per batch (no Python loop over images), so
    gradients flow from the logits back to ``x``.

    Args:
        model: ``nn.Module`` mapping pixels in [0, 1] to (N, K) logits; it must accept
            ``out_size × out_size`` inputs (networks ending in global pooling do).
        out_size: side of the padded canvas; default ``ceil(H * 331/299)`` (the paper's ratio).
        min_size: smallest resized side; default ``H`` (the input's own size).
        mode: interpolation, ``"nearest"`` (default, the paper's choice) or ``"bilinear"``.
        generator: ``torch.Generator`` for the random sizes and offsets, on ``x``'s device or the
            CPU; seed it for reproducible draws.

    Shape: x (N, C, H, W) in [0, 1] -> logits (N, K). The randomness is active in train *and*
    eval mode: attacks put models in eval mode, and the defence must not switch off under them.

    Example:
        >>> defended = RandomResizePad(model, generator=torch.Generator().manual_seed(0))
        >>> defended(x).argmax(1)
    """

    def __init__(self, model: nn.Module, *, out_size: int | None = None, min_size: int | None = None,
                 mode: str = "nearest", generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.model = checks.check_model(model)
        for name, value in (("out_size", out_size), ("min_size", min_size)):
            if value is not None:
                checks.check_count(value, name, minimum=1)
        if mode not in ("bilinear", "nearest"):
            raise ValueError(f"mode: expected 'bilinear' or 'nearest', got {mode!r}")
        self.out_size, self.min_size, self.mode = out_size, min_size, mode
        self.generator = checks.check_generator(generator)

    def sizes(self, x: Tensor) -> tuple[int, int]:
        """``(min_size, out_size)`` for a batch ``x`` of side ``H``."""
        side = x.shape[-1]
        out = self.out_size if self.out_size is not None else math.ceil(side * XIE_RATIO)
        low = self.min_size if self.min_size is not None else side
        if not low <= out:
            raise ValueError(f"min_size: expected at most out_size = {out}, got {low}")
        return low, out

    def transform(self, x: Tensor) -> Tensor:
        """The randomly resized and padded batch, (N, C, out_size, out_size) in [0, 1]."""
        checks.check_images(x)
        low, out = self.sizes(x)
        n = x.shape[0]
        device = self.generator.device if self.generator is not None else torch.device("cpu")
        side = torch.randint(low, out + 1, (n,), generator=self.generator, device=device)
        room = (out - side).to(torch.float64)
        left = torch.floor(torch.rand(n, generator=self.generator, device=device, dtype=torch.float64) * (room + 1))
        top = torch.floor(torch.rand(n, generator=self.generator, device=device, dtype=torch.float64) * (room + 1))
        return _place(x, side.to(x.device), left.to(x.device), top.to(x.device), out, self.mode)

    def forward(self, x: Tensor) -> Tensor:
        return self.model(self.transform(x))


def _place(x: Tensor, side: Tensor, left: Tensor, top: Tensor, out: int, mode: str) -> Tensor:
    """Resize image i to ``side[i]`` and paste it at (``left[i]``, ``top[i]``) on an ``out``² canvas.

    One affine ``grid_sample``: output pixel centres, in the canvas' [-1, 1] coordinates, map back
    to the input's [-1, 1] coordinates by undoing the scale ``side/out`` and the shift of the
    pasted square's centre; canvas pixels outside the square are zero.
    """
    scale = out / side.to(x.dtype)  # canvas units per image unit
    cx = (2 * left.to(x.dtype) + side.to(x.dtype)) / out - 1  # centre of the pasted square
    cy = (2 * top.to(x.dtype) + side.to(x.dtype)) / out - 1
    theta = torch.zeros(x.shape[0], 2, 3, dtype=x.dtype, device=x.device)
    theta[:, 0, 0] = theta[:, 1, 1] = scale
    theta[:, 0, 2], theta[:, 1, 2] = -cx * scale, -cy * scale
    grid = F.affine_grid(theta, [x.shape[0], x.shape[1], out, out], align_corners=False)
    inside = (grid.abs() <= 1).all(-1).unsqueeze(1).to(x.dtype)  # canvas pixels covered by the image
    # "border" sampling then masking = resize exactly like F.interpolate, then pad with zeros
    return F.grid_sample(x, grid, mode=mode, padding_mode="border", align_corners=False) * inside


@dataclass
class TransferSweep:
    """PGD examples crafted on the bare model, then shown to the bare and the defended model.

    Attributes:
        eps: the budgets tried (L∞, pixel units).
        bare_accuracy, defended_accuracy: accuracy in [0, 1] per budget (index 0 is ``eps[0]``).
        x_adv: per budget, the adversarial batch (N, C, H, W) in [0, 1].
        bare_pred, defended_pred: per budget, (N,) predicted classes.
    """

    __repr__ = rounded_repr  # floats rounded: the same on every CPU

    eps: list[float]
    bare_accuracy: list[float]
    defended_accuracy: list[float]
    x_adv: list[Tensor]
    bare_pred: list[Tensor]
    defended_pred: list[Tensor]


def transfer_sweep(model: nn.Module, defended: nn.Module, x: Tensor, y: Tensor, eps: Sequence[float], *,
                   steps: int = 10, step_ratio: float = 0.25, accepted: Sequence[set[int]] | None = None,
                   **params: Any) -> TransferSweep:
    """For each budget: PGD on the bare ``model`` (it never sees the defence), then both verdicts.

    Args:
        model: the bare classifier the attacker differentiates.
        defended: the same classifier behind a defence (e.g. :class:`RandomResizePad`).
        x: (N, C, H, W) in [0, 1]; y: (N,) true labels.
        eps: L∞ budgets, e.g. ``[0, 1/255, 2/255, 4/255, 8/255]``; 0 gives the clean accuracy.
        steps: PGD steps; step_ratio: step size as a fraction of ``eps``.
        **params: more keyword arguments of :func:`~advcourse.attacks.pgd`, e.g. ``early_stop=True,
            random_start=False`` (I-FGSM) or ``generator=...``.
        accepted: optional set of right classes per image (several may be right, e.g. cat breeds,
            as in ``load_samples().accepted``); default: exactly ``y``.
    """
    checks.check_model(model)
    checks.check_model(defended)
    checks.check_images(x)
    y = checks.check_labels(y, x)
    _check_accepted(accepted, x)
    if isinstance(eps, (str, bytes)) or not hasattr(eps, "__iter__"):
        raise TypeError(f"eps: expected a list of budgets such as [0, 2/255, 4/255], got {type(eps).__name__}")
    eps = [checks.check_budget(e, "eps") for e in eps]
    if not eps:
        raise ValueError("eps: expected at least one budget")
    steps = checks.check_count(steps, "steps")
    step_ratio = checks.check_nonnegative(step_ratio, "step_ratio")
    sweep = TransferSweep([], [], [], [], [], [])
    for e in eps:
        x_adv = pgd(model, x, y, eps=e, step_size=step_ratio * e, steps=steps, **params) if e > 0 else x
        bare, defended_pred = _predict(model, x_adv), _predict(defended, x_adv)
        sweep.eps.append(e)
        sweep.x_adv.append(x_adv)
        sweep.bare_pred.append(bare)
        sweep.defended_pred.append(defended_pred)
        sweep.bare_accuracy.append(_hit_rate(bare, y, accepted))
        sweep.defended_accuracy.append(_hit_rate(defended_pred, y, accepted))
    return sweep


def _predict(model: nn.Module, x: Tensor) -> Tensor:
    with checks.frozen(model, x), torch.no_grad():
        return _core.logits_of(model, x).argmax(1)


def hit_rate(model: nn.Module, x: Tensor, y: Tensor, accepted: Sequence[set[int]] | None = None) -> float:
    """Accuracy in [0, 1] of ``model`` on ``x`` (one no-grad forward; model left as found).

    ``accepted``: optional set of right classes per image (``load_samples().accepted``); default ``y``.
    """
    checks.check_model(model)
    checks.check_images(x)
    y = checks.check_labels(y, x)
    _check_accepted(accepted, x)
    return _hit_rate(_predict(model, x), y, accepted)


def _check_accepted(accepted: object, x: Tensor) -> None:
    """``None`` or one collection of right classes per image."""
    if accepted is None:
        return
    if isinstance(accepted, (str, bytes)) or not hasattr(accepted, "__len__"):
        raise TypeError(f"accepted: expected one set of classes per image, got {type(accepted).__name__}")
    if len(accepted) != x.shape[0]:
        raise ValueError(f"accepted: expected {x.shape[0]} sets of classes (one per image), got {len(accepted)}")


def _hit_rate(pred: Tensor, y: Tensor, accepted: Sequence[set[int]] | None) -> float:
    if accepted is None:
        return float((pred == y).float().mean())
    return sum(int(p) in ok for p, ok in zip(pred.tolist(), accepted)) / len(pred)
