"""Adversarial patch (Brown et al.): one visible sticker that makes a model answer a chosen class.

Taught in 10_physical_world. Every attack before it changes a whole photo by an invisible amount,
and the change only works on that photo, at that exact pixel grid. A patch turns the threat model
around: the change is *local* (a square in the scene), *visible* (any pixel values), and
*universal* (the same square works on photos it has never seen, wherever it lands). It is trained
by Expectation over Transformation: the loss is averaged over random placements (location, size,
rotation, brightness), so the optimiser cannot rely on any one of them. :class:`PatchScene` is
that random placement as an ``nn.Module`` and :class:`~advcourse.core.transforms.EOT` averages it,
the same machinery notebook 08 used against a randomised defence.

    >>> patch = train_patch(model, x, target=class_index("toaster"), size=64, steps=200)
    >>> x_patched = apply_patch(x, patch, scale=0.1)      # random location, 10 % of the image area
    >>> patch = load_patch("toaster")                     # the patch shipped with the course
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from advcourse.core import checks
from advcourse.core.transforms import EOT
from advcourse.core.formatting import rounded_repr
from advcourse.core.progress import progress_bar

__all__ = ["Placement", "PatchScene", "PatchInfo", "apply_patch", "random_placement", "train_patch", "load_patch",
           "patch_names", "PATCH_DIR"]

#: Where the shipped patches live: ``<name>.pt`` (the patch tensor) beside ``<name>.json`` (its recipe).
PATCH_DIR = Path(__file__).resolve().parent.parent / "data" / "patches"

Range = float | tuple[float, float] | Tensor


# ----------------------------------------------------------------------------- placing a patch
@dataclass
class Placement:
    """Where and how a patch lands on each image of a batch (all tensors have N rows).

    Attributes:
        scale: (N,) patch area as a fraction of the image area, in (0, 1].
        angle: (N,) rotation about the patch centre, degrees (counter-clockwise as displayed).
        top, left: (N,) pixel row/column of the unrotated patch's top-left corner.
        brightness: (N,) factor the patch's pixels are multiplied by (then clipped to [0, 1]).
    """

    __repr__ = rounded_repr

    scale: Tensor
    angle: Tensor
    top: Tensor
    left: Tensor
    brightness: Tensor = field(default=None)  # type: ignore[assignment]

    def sides(self, height: int, width: int, patch_h: int, patch_w: int) -> tuple[Tensor, Tensor]:
        """(N,) placed height and width in pixels: area ``scale·H·W`` with the patch's aspect ratio."""
        area = self.scale * height * width
        return torch.sqrt(area * patch_h / patch_w), torch.sqrt(area * patch_w / patch_h)


def _per_sample(value: Range, name: str, n: int, device: torch.device, generator: torch.Generator | None,
                low: float, high: float) -> Tensor:
    """A float, a ``(lo, hi)`` range (uniform draw per sample) or an (N,) tensor, as (N,) float64."""
    if isinstance(value, Tensor):
        if value.dim() == 0:
            value = value.item()
        else:
            if tuple(value.shape) != (n,):
                raise ValueError(f"{name}: expected a number, a (low, high) range or shape ({n},), "
                                 f"got shape {tuple(value.shape)}")
            value = value.detach().to(torch.float64).cpu()
            if not bool(torch.isfinite(value).all()) or value.min() < low or value.max() > high:
                raise ValueError(f"{name}: expected values in [{low:g}, {high:g}]")
            return value.to(device)
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{name}: expected a (low, high) range, got {len(value)} values")
        lo, hi = (checks.check_finite(v, name) for v in value)
        if not low <= lo <= hi <= high:
            raise ValueError(f"{name}: expected low <= high within [{low:g}, {high:g}], got ({lo:g}, {hi:g})")
        gen_device = generator.device if generator is not None else torch.device("cpu")
        u = torch.rand(n, generator=generator, device=gen_device, dtype=torch.float64)
        return (lo + (hi - lo) * u).to(device)
    v = checks.check_finite(value, name)
    if not low <= v <= high:
        raise ValueError(f"{name}: expected a value in [{low:g}, {high:g}], got {v:g}")
    return torch.full((n,), v, dtype=torch.float64, device=device)


def random_placement(x: Tensor, patch: Tensor, *, scale: Range = 0.1, angle: Range = 0.0,
                     location: tuple[float, float] | Tensor | None = None, brightness: Range = 1.0,
                     generator: torch.Generator | None = None) -> Placement:
    """A :class:`Placement` per image of ``x``: each argument fixed, a ``(low, high)`` range, or (N,).

    Ranges are drawn uniformly, per image, from ``generator`` in this order: scale, angle, location,
    brightness. ``location=None`` puts the patch anywhere its unrotated square fits inside the image;
    ``(top, left)`` pins it (pixels); an (N, 2) tensor gives each image its own.
    """
    checks.check_images(x)
    _check_patch(patch)
    checks.check_generator(generator)
    n, (height, width), dev = x.shape[0], x.shape[-2:], torch.device("cpu")
    scale_t = _per_sample(scale, "scale", n, dev, generator, 1e-6, 1.0)
    angle_t = _per_sample(angle, "angle", n, dev, generator, -360.0, 360.0)
    placed = Placement(scale_t, angle_t, scale_t, scale_t)
    side_h, side_w = placed.sides(height, width, patch.shape[-2], patch.shape[-1])
    if bool((side_h > height + 1e-6).any()) or bool((side_w > width + 1e-6).any()):
        raise ValueError("scale: the patch would be larger than the image; use a smaller scale")
    room_h, room_w = (height - side_h).clamp_min(0), (width - side_w).clamp_min(0)
    if location is None:
        gen_device = generator.device if generator is not None else dev
        u = torch.rand(n, 2, generator=generator, device=gen_device, dtype=torch.float64).cpu()
        top, left = u[:, 0] * room_h, u[:, 1] * room_w
    else:
        top, left = _location(location, n)
    placed.top, placed.left = top, left
    placed.brightness = _per_sample(brightness, "brightness", n, dev, generator, 0.0, 10.0)
    return placed


def _location(location: object, n: int) -> tuple[Tensor, Tensor]:
    if isinstance(location, Tensor):
        if tuple(location.shape) not in ((2,), (n, 2)):
            raise ValueError(f"location: expected (top, left) or shape ({n}, 2), got shape {tuple(location.shape)}")
        loc = location.detach().to(torch.float64).cpu().expand(n, 2)
    elif isinstance(location, (tuple, list)) and len(location) == 2:
        loc = torch.tensor([[checks.check_finite(v, "location") for v in location]], dtype=torch.float64).expand(n, 2)
    else:
        raise TypeError(f"location: expected None, (top, left) in pixels or an (N, 2) tensor, got {location!r}")
    if not bool(torch.isfinite(loc).all()):
        raise ValueError("location: expected finite pixel coordinates")
    return loc[:, 0].clone(), loc[:, 1].clone()


def apply_patch(x: Tensor, patch: Tensor, *, scale: Range = 0.1, angle: Range = 0.0,
                location: tuple[float, float] | Tensor | None = None, brightness: Range = 1.0,
                generator: torch.Generator | None = None) -> Tensor:
    """Paste ``patch`` onto every image of ``x``: resized, rotated, brightened, at a place.

    Paper: Brown, Mané, Roy, Abadi & Gilmer, 2017, "Adversarial Patch", arXiv:1712.09665 (Eq. 1's
        patch application operator A(p, x, l, t)).

    Args:
        x: (N, C, H, W) images in [0, 1].
        patch: (C, h, w) patch in [0, 1] (may require grad: the result is differentiable in it and in x).
        scale: patch area as a fraction of the image area, in (0, 1] (0.1 = 10 %): a number, a
            ``(low, high)`` range drawn per image, or an (N,) tensor.
        angle: rotation in degrees, same forms (default 0).
        location: ``None`` (default) = a random place per image where the unrotated patch fits;
            ``(top, left)`` pixel coordinates of its top-left corner; or an (N, 2) tensor.
        brightness: factor on the patch's pixels (lighting), same forms (default 1).
        generator: ``torch.Generator`` for every random draw (reproducible placements).

    Returns:
        (N, C, H, W) in [0, 1]: ``x`` outside the patch, the patch inside. At ``angle=0`` with the
        placed size equal to the patch's own size and an integer ``location``, the patch's pixels are
        copied exactly (bilinear sampling at pixel centres); edges of resized or rotated patches blend.

    Example:
        >>> apply_patch(x, patch, scale=0.1, angle=(-20, 20), generator=torch.Generator().manual_seed(0))
    """
    checks.check_generator(generator)
    where = random_placement(x, patch, scale=scale, angle=angle, location=location, brightness=brightness,
                             generator=generator)
    return place(x, patch, where)


def place(x: Tensor, patch: Tensor, where: Placement) -> Tensor:
    """Paste ``patch`` at ``where`` (one :class:`Placement` row per image): one batched ``grid_sample``.

    Each output pixel centre, in the image's [-1, 1] coordinates, is mapped into the patch's [-1, 1]
    coordinates by undoing the placement: shift to the patch centre, rotate back, divide by its size.
    Pixels that map outside the patch keep the image (the sampled mask is 0 there).
    """
    n, c, height, width = x.shape
    side_h, side_w = where.sides(height, width, patch.shape[-2], patch.shape[-1])
    cy, cx = where.top + side_h / 2, where.left + side_w / 2  # patch centre, pixels
    rad = torch.deg2rad(where.angle)
    cos, sin = torch.cos(rad), torch.sin(rad)
    # image pixel u = (x_n + 1)·W/2; d = u − c; patch coords p = R(−angle)·d; normalised 2p/side
    ax, bx, ay, by = width / 2, width / 2 - cx, height / 2, height / 2 - cy
    theta = torch.stack([
        torch.stack([2 * cos * ax / side_w, -2 * sin * ay / side_w, 2 * (cos * bx - sin * by) / side_w], -1),
        torch.stack([2 * sin * ax / side_h, 2 * cos * ay / side_h, 2 * (sin * bx + cos * by) / side_h], -1),
    ], 1).to(device=x.device, dtype=x.dtype)  # (N, 2, 3)
    grid = F.affine_grid(theta, [n, c, height, width], align_corners=False)
    ones = torch.ones_like(patch[:1])
    source = torch.cat([patch, ones]).to(x.dtype).unsqueeze(0).expand(n, -1, -1, -1)
    sampled = F.grid_sample(source, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    pasted, mask = sampled[:, :c], sampled[:, c:]
    bright = where.brightness.to(device=x.device, dtype=x.dtype).view(n, 1, 1, 1)
    # bilinear edges: ``pasted`` is already weighted by the covered fraction ``mask``
    return (x * (1 - mask) + torch.minimum(pasted * bright, mask)).clamp(0.0, 1.0)


def _check_patch(patch: object) -> Tensor:
    if not isinstance(patch, Tensor):
        raise TypeError(f"patch: expected a torch.Tensor of shape (C, h, w), got {type(patch).__name__}")
    if patch.dim() != 3:
        raise ValueError(f"patch: expected shape (C, h, w), got {patch.dim()}-D shape {tuple(patch.shape)}")
    checks.check_images(patch.unsqueeze(0), name="patch")
    return patch


# ----------------------------------------------------------------------------- the random scene
class PatchScene(nn.Module):
    """``model(apply_patch(x, patch, <random placement>))``: a randomised model, fresh draw per call.

    The randomness is the attacker's EOT distribution T of Brown et al. (location, scale, rotation,
    brightness); wrapping it in :class:`~advcourse.core.transforms.EOT` averages over draws. ``patch``
    is a plain tensor attribute, so gradients of the output reach it (it is not a parameter of the
    scene: the model's own parameters stay as they are).

    Shape: x (N, C, H, W) in [0, 1] -> logits (N, K).
    """

    def __init__(self, model: nn.Module, patch: Tensor, *, scale: Range = (0.05, 0.15), angle: Range = (-20.0, 20.0),
                 brightness: Range = (0.8, 1.2), generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.model = checks.check_model(model)
        self.patch = _check_patch(patch)
        self.scale, self.angle, self.brightness = scale, angle, brightness
        self.generator = checks.check_generator(generator)

    def forward(self, x: Tensor) -> Tensor:
        return self.model(apply_patch(x, self.patch, scale=self.scale, angle=self.angle,
                                      brightness=self.brightness, generator=self.generator))


# ----------------------------------------------------------------------------- training
@dataclass
class PatchInfo:
    """What :func:`train_patch` saw: ``losses[t]`` is the EOT loss (mean target cross-entropy) at step t,
    ``hits[t]`` the fraction of that step's random scenes the model answered with the target.
    10_physical_world draws it with :func:`advcourse.evasion.physical.plot_patch_training`."""

    __repr__ = rounded_repr

    losses: list[float]
    hits: list[float]


def train_patch(model: nn.Module, x: Tensor, target: int, *, size: int = 64, steps: int = 100, lr: float = 0.05,
                scale: Range = (0.05, 0.15), angle: Range = (-20.0, 20.0), brightness: Range = (0.8, 1.2),
                samples: int = 1, init: Tensor | None = None, generator: torch.Generator | None = None,
                progress: bool = True, return_info: bool = False) -> Tensor | tuple[Tensor, PatchInfo]:
    """Train a universal patch that makes ``model`` answer ``target`` wherever it lands on ``x``.

    Paper: Brown, Mané, Roy, Abadi & Gilmer, 2017, "Adversarial Patch", arXiv:1712.09665 (Eq. 2:
        p̂ = argmax_p E_{x∼X, t∼T, l∼L} log Pr(ŷ | A(p, x, l, t))); the expectation is Athalye et
        al.'s EOT (arXiv:1707.07397), here :class:`~advcourse.core.transforms.EOT` over :class:`PatchScene`.

    Each step draws, for every photo, ``samples`` random scenes (location anywhere, area fraction in
    ``scale``, rotation in ``angle`` degrees, lighting in ``brightness``), takes the cross-entropy of
    the EOT-averaged prediction against ``target``, and makes one Adam step on the patch's pixels,
    which are then clipped back to [0, 1].

    Args:
        model: ``nn.Module`` mapping (N, C, H, W) in [0, 1] to (N, K) logits (left as found).
        x: (N, C, H, W) training photos in [0, 1], on the model's device.
        target: the class the patch should make the model answer, in [0, K).
        size: side of the square patch in pixels (its resolution; its size *in the scene* is ``scale``).
        steps: optimiser steps (>= 0); lr: Adam learning rate (> 0) in pixel units.
        scale, angle, brightness: the EOT ranges (``(low, high)``) or fixed values, as in :func:`apply_patch`.
        samples: random scenes per photo and step, averaged by EOT (>= 1).
        init: (C, size, size) starting patch in [0, 1]; default uniform noise from ``generator``.
        generator: ``torch.Generator`` (CPU or the model's device) for the start and every placement.
        progress: show a progress bar (:func:`~advcourse.core.progress.progress_bar`).
        return_info: also return a :class:`PatchInfo` with the loss and hit rate per step.

    Returns:
        patch: (C, size, size) detached, in [0, 1], on ``x``'s device. With ``return_info``: ``(patch, info)``.

    Notes:
        The model's modes, ``requires_grad`` flags and grads are restored, even if this raises.

    Example:
        >>> patch = train_patch(model, x, class_index("toaster"), size=64, steps=200,
        ...                     generator=torch.Generator().manual_seed(0))
    """
    checks.check_model(model)
    checks.check_images(x)
    target = checks.check_count(target, "target")
    size = checks.check_count(size, "size", minimum=1)
    steps = checks.check_count(steps, "steps")
    lr = checks.check_positive(lr, "lr")
    samples = checks.check_count(samples, "samples", minimum=1)
    checks.check_generator(generator)
    checks.check_bool(progress, "progress")
    checks.check_bool(return_info, "return_info")
    if init is None:
        gen_device = generator.device if generator is not None else torch.device("cpu")
        init = torch.rand(x.shape[1], size, size, generator=generator, device=gen_device)
    elif tuple(_check_patch(init).shape) != (x.shape[1], size, size):
        raise ValueError(f"init: expected shape ({x.shape[1]}, {size}, {size}), got {tuple(init.shape)}")
    x = x.detach()
    patch = init.detach().to(device=x.device, dtype=x.dtype).clone().requires_grad_(True)
    optimiser = torch.optim.Adam([patch], lr=lr)
    goal = torch.full((x.shape[0],), target, dtype=torch.long, device=x.device)
    info = PatchInfo([], [])
    with checks.frozen(model, x):
        scene = EOT(PatchScene(model, patch, scale=scale, angle=angle, brightness=brightness,
                               generator=generator), samples=samples)
        for _ in progress_bar(range(steps), enabled=progress, desc="patch", leave=False):
            logits = checks.check_logits(scene(x), x.shape[0], goal)
            loss = F.cross_entropy(logits, goal)  # −mean log E_t[p_target], Brown et al. Eq. 2
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            with torch.no_grad():
                patch.clamp_(0.0, 1.0)  # a printable patch: valid pixels only
            info.losses.append(loss.item())
            info.hits.append(float((logits.argmax(1) == goal).float().mean()))
    patch = patch.detach()
    return (patch, info) if return_info else patch



# ----------------------------------------------------------------------------- shipped patches
def patch_names() -> list[str]:
    """Names of the patches shipped in ``advcourse/data/patches`` (e.g. ``["toaster"]``)."""
    return sorted(p.stem for p in PATCH_DIR.glob("*.pt"))


def load_patch(name: str = "toaster", *, device: str | torch.device = "cpu", with_recipe: bool = False
               ) -> Tensor | tuple[Tensor, dict]:
    """A shipped patch, (3, h, w) float32 in [0, 1] on ``device``; with ``with_recipe`` also its recipe
    (the JSON written beside it by ``scripts/train_patches.py``: seed, steps, photos, losses...)."""
    if not isinstance(name, str):
        raise TypeError(f"name: expected a patch name string, got {type(name).__name__}")
    path = PATCH_DIR / f"{name}.pt"
    if not path.is_file():
        raise ValueError(f"name: no shipped patch called {name!r}; choose one of {', '.join(patch_names()) or 'none'}")
    checks.check_bool(with_recipe, "with_recipe")
    patch = torch.load(path, map_location="cpu", weights_only=True).to(device)
    if not with_recipe:
        return patch
    return patch, json.loads(path.with_suffix(".json").read_text())
