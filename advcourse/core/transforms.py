"""Input transformations that attacks and defences share: resize & pad, camera effects, EOT.

Each is a differentiable, batched wrapper around a model (or a plain function of a batch), so an
attack's gradient flows through it and a defence can put it in front of a network:

* :class:`RandomResizePad` — random resizing and padding (Xie et al. 2018): 08_defences' randomised
  defence, and MI-FGSM's input diversity (Xie et al. 2019) in :mod:`advcourse.attacks.mifgsm`;
* :data:`CAMERA` and :class:`RandomCamera` — what a camera does to a photo (rotation, distance,
  blur, JPEG), 10_physical_world's lesson and the adversarial patch's training scene;
* :class:`EOT` — Expectation over Transformation (Athalye et al. 2018): the average of a randomised
  model over its draws, which turns any attack into an adaptive one (08) or a robust one (10).

Everything here stands on :mod:`advcourse.core.checks` alone, below both
:mod:`advcourse.attacks` and :mod:`advcourse.defences`.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
import torchvision.transforms.v2.functional as TF
from torch import Tensor, nn

from advcourse.core import checks

__all__ = ["RandomResizePad", "XIE_RATIO", "CAMERA", "rotate", "rescale", "blur", "jpeg", "RandomCamera", "EOT"]


# ----------------------------------------------------------------------------- random resize & pad
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


# ----------------------------------------------------------------------------- camera effects
def rotate(x: Tensor, degrees: float) -> Tensor:
    """``x`` turned by ``degrees`` about its centre (bilinear; uncovered corners white, like the photos)."""
    # rotating x − 1 with zero fill and adding 1 back whitens the corners and stays differentiable
    # (torchvision's own ``fill`` works in place on the sampled tensor, which autograd refuses)
    return TF.rotate(x - 1, float(degrees), interpolation=TF.InterpolationMode.BILINEAR) + 1


def rescale(x: Tensor, factor: float) -> Tensor:
    """``x`` seen at ``factor`` of its resolution (antialiased shrink) and blown back up: a farther camera."""
    height, width = x.shape[-2:]
    small = [max(1, round(height * float(factor))), max(1, round(width * float(factor)))]
    if small == [height, width]:
        return x
    return TF.resize(TF.resize(x, small, antialias=True), [height, width], antialias=True).clamp(0.0, 1.0)


def blur(x: Tensor, sigma: float) -> Tensor:
    """``x`` through a Gaussian blur of standard deviation ``sigma`` pixels (an out-of-focus lens)."""
    if sigma <= 0:
        return x
    k = 2 * int(3 * sigma + 0.5) + 1
    return TF.gaussian_blur(x, [k, k], [float(sigma)] * 2)


def jpeg(x: Tensor, quality: float) -> Tensor:
    """``x`` saved as a JPEG at ``quality`` (1-100) and read back (torchvision's libjpeg); 100 = untouched."""
    if quality >= 100:
        return x
    pixels = (x.detach() * 255).round().to(torch.uint8).cpu()
    return (TF.jpeg(pixels, int(quality)).to(x.device, x.dtype) / 255)


#: Each camera effect: (function, the strengths shown, axis label). The first strength leaves x as it is.
CAMERA: dict[str, tuple[Callable[[Tensor, float], Tensor], list[float], str]] = {
    "rotation": (rotate, [0.0, 5.0, 10.0, 15.0], "rotation (degrees)"),
    "rescaling": (rescale, [1.0, 0.75, 0.6, 0.5], "resolution (fraction kept)"),
    "blur": (blur, [0.0, 0.5, 1.0, 1.5], "blur sigma (pixels)"),
    "JPEG": (jpeg, [100.0, 90.0, 75.0, 60.0], "JPEG quality"),
}


class RandomCamera(nn.Module):
    """``model(camera(x))`` with a fresh random rotation, resolution and blur on every call.

    Each call draws one angle in ``[-degrees, degrees]``, one resolution factor in ``[min_scale, 1]``
    and one blur sigma in ``[0, max_sigma]`` for the whole batch (``generator`` makes it
    reproducible) and applies :func:`rescale`, :func:`rotate` and :func:`blur`. All three are
    differentiable, so :class:`EOT` over this module is the attacker's
    expectation over camera effects. (JPEG is not differentiable and is left out on purpose: it is
    the effect the attacker did *not* train for.)

    Shape: x (N, C, H, W) in [0, 1] -> logits (N, K).
    """

    def __init__(self, model: nn.Module, *, degrees: float = 15.0, min_scale: float = 0.5, max_sigma: float = 1.5,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.model = checks.check_model(model)
        self.degrees = checks.check_nonnegative(degrees, "degrees")
        self.min_scale = checks.check_positive(min_scale, "min_scale")
        if self.min_scale > 1:
            raise ValueError(f"min_scale: expected a fraction in (0, 1], got {self.min_scale:g}")
        self.max_sigma = checks.check_nonnegative(max_sigma, "max_sigma")
        self.generator = checks.check_generator(generator)

    def forward(self, x: Tensor) -> Tensor:
        device = self.generator.device if self.generator is not None else torch.device("cpu")
        u = torch.rand(3, generator=self.generator, device=device, dtype=torch.float64).tolist()
        x = rescale(x, self.min_scale + (1 - self.min_scale) * u[0])
        x = rotate(x, self.degrees * (2 * u[1] - 1))
        return self.model(blur(x, self.max_sigma * u[2]))


# ----------------------------------------------------------------------------- expectation over transformation
class EOT(nn.Module):
    """The randomised ``model`` averaged over ``samples`` calls: log of the mean probabilities.

    Paper: Athalye, Carlini & Wagner, 2018, "Obfuscated Gradients Give a False Sense of Security:
        Circumventing Defenses to Adversarial Examples", arXiv:1802.00420 (Sec. 4.3, EOT; the
        method is from Athalye, Engstrom, Ilyas & Kwok, 2018, arXiv:1707.07397).

    Output: ``log( (1/S) Σ_s softmax(model(x))_s )``, computed stably with ``logsumexp``. These
    are valid logits (their softmax is the averaged probability vector), so:

    * ``argmax`` is the prediction of the defence in expectation (what it says most of the time);
    * the cross-entropy an attack ascends is ``−log E[p_y]``: the loss of the expected classifier,
      whose gradient is the sample average of each draw's gradient weighted by how much that draw
      still believes ``y``. Averaging probabilities, not raw logits, keeps one draw with large
      logits from outvoting the rest, and it matches how a randomised defence is scored.

    ``average="logits"`` gives the plain mean of the logits instead (then the gradient of any
    linear function of the output is exactly the mean of the per-draw gradients).

    Args:
        model: a randomised ``nn.Module`` (e.g. :class:`RandomResizePad`)
            mapping (N, C, H, W) in [0, 1] to (N, K) logits.
        samples: number of random draws averaged per call (>= 1). Cost: ``samples`` forward (and,
            under an attack, backward) passes per call.
        average: ``"probs"`` (default) or ``"logits"``.

    Shape: x (N, C, H, W) -> (N, K). Works in train and eval mode alike.

    Example:
        >>> x_adv = pgd(EOT(defended, samples=8), x, y, eps=8/255, step_size=2/255, steps=10)
    """

    def __init__(self, model: nn.Module, *, samples: int = 8, average: str = "probs") -> None:
        super().__init__()
        self.model = checks.check_model(model)
        self.samples = checks.check_count(samples, "samples", minimum=1)
        if not isinstance(average, str) or average not in ("probs", "logits"):
            raise ValueError(f"average: expected 'probs' or 'logits', got {average!r}")
        self.average = average

    def forward(self, x: Tensor) -> Tensor:
        checks.check_images(x)  # pixels in [0, 1]: a uint8 batch (0–255) is refused here, not averaged
        draws = torch.stack([self.model(x) for _ in range(self.samples)])  # (S, N, K)
        if self.average == "logits":
            return draws.mean(0)
        return torch.logsumexp(draws.log_softmax(-1), dim=0) - math.log(self.samples)
