"""The physical world: what a camera does to an adversarial example, and how honest patch numbers look.

Taught in 10_physical_world. Between a printed attack and the model sits a camera: it sees the
object from a slightly different angle and distance, through a lens that blurs, and stores a JPEG.
The camera effects themselves (:data:`~advcourse.core.transforms.CAMERA`, four effects with a
strength knob, and :class:`~advcourse.core.transforms.RandomCamera`, a random differentiable mix of
them that :class:`~advcourse.core.transforms.EOT` turns into the attacker's Expectation over
Transformation) live in :mod:`advcourse.core.transforms`, beside the tools that notebook 08 turned on
a randomised defence. This module has

* :func:`camera_study` — PGD vs EOT-PGD examples, success rate against each effect's strength;
* :func:`patch_sweep` — a patch's target hit rate against its size, beside a random patch of the
  same size (the control), on photos it was not trained on; :func:`held_out_views` makes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
import torchvision.transforms.v2.functional as TF
from matplotlib.figure import Figure
from torch import Tensor, nn

from advcourse.core import checks
from advcourse.attacks import _core, pgd
from advcourse.attacks.patch import PatchInfo, place, random_placement
from advcourse.core.formatting import rounded_repr
from advcourse.core.transforms import CAMERA, EOT, RandomCamera
from advcourse.core.viz import figure_function, new_figure

__all__ = ["CameraStudy", "camera_study", "PatchSweep", "patch_sweep", "held_out_views", "target_hits",
           "plot_patch_training"]


# ----------------------------------------------------------------------------- PGD vs EOT under the camera
def target_hits(model: nn.Module, x: Tensor, target: Tensor | int) -> float:
    """Fraction in [0, 1] of ``x`` that ``model`` classifies as ``target`` (one no-grad pass, model left as found)."""
    checks.check_model(model)
    checks.check_images(x)
    if not isinstance(target, Tensor):
        target = torch.full((x.shape[0],), checks.check_count(target, "target"), dtype=torch.long)
    target = checks.check_labels(target, x, name="target")
    with checks.frozen(model, x), torch.no_grad():
        return float((_core.logits_of(model, x, target).argmax(1) == target).float().mean())


@dataclass
class CameraStudy:
    """Targeted success of plain PGD and EOT-PGD examples under each camera effect.

    Attributes:
        effects: effect name -> the strengths tried (:data:`CAMERA`'s; the first is "no effect").
        pgd, eot: effect name -> success rate in [0, 1] per strength (fraction classified as the target).
        eps, steps, samples: the attack settings (L∞ budget, PGD steps, EOT draws per step).
        x_pgd, x_eot: the adversarial batches (N, C, H, W) in [0, 1].
    """

    __repr__ = rounded_repr

    effects: dict[str, list[float]]
    pgd: dict[str, list[float]]
    eot: dict[str, list[float]]
    eps: float
    steps: int
    samples: int
    x_pgd: Tensor
    x_eot: Tensor

    def table(self) -> str:
        """Plain-text table: one row per effect and strength, success of PGD and of EOT in percent."""
        lines = [f"{'effect':<10} {'strength':>8}  {'PGD':>5}  {'EOT':>5}"]
        for name, strengths in self.effects.items():
            for s, a, b in zip(strengths, self.pgd[name], self.eot[name]):
                lines.append(f"{name:<10} {s:>8g}  {a:>5.0%}  {b:>5.0%}")
        return "\n".join(lines)

    @figure_function
    def plot(self) -> Figure:
        """One panel per camera effect: success rate against its strength, PGD and EOT."""
        fig = new_figure(10.0, 3.2)
        axes = fig.subplots(1, len(self.effects), sharey=True)
        for ax, (name, strengths) in zip(axes, self.effects.items()):
            ticks = range(len(strengths))
            ax.plot(ticks, self.pgd[name], "-o", color="C0", label="PGD")
            ax.plot(ticks, self.eot[name], "-s", color="C1", label="EOT-PGD")
            ax.set_xticks(list(ticks), [f"{s:g}" for s in strengths])
            ax.set_xlabel(CAMERA[name][2])
            ax.set_ylim(-0.05, 1.05)
        axes[0].set_ylabel("target hit rate")
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncols=2)
        return fig


def camera_study(model: nn.Module, x: Tensor, target: Tensor, *, eps: float = 8 / 255, steps: int = 10,
                 samples: int = 4, camera: RandomCamera | None = None,
                 generator: torch.Generator | None = None) -> CameraStudy:
    """Craft targeted PGD examples twice — on the bare model and on ``EOT(camera)`` — then film them.

    Both attacks have the same budget (L∞ ``eps``), steps and step size (``eps/4``); EOT-PGD costs
    ``samples`` times more passes. Each example is then shown to the bare model through every effect
    of :data:`CAMERA` at every strength, and the study records how often the target survives.

    Args:
        model: (N, C, H, W) in [0, 1] -> (N, K) logits; left as found.
        x: (N, C, H, W) photos in [0, 1]; target: (N,) int64 target classes.
        eps, steps: the L∞ budget and number of PGD steps; samples: EOT draws per step (>= 1).
        camera: the EOT distribution (default :class:`RandomCamera` over ``model`` with ``generator``).
        generator: seeds the random starts and the camera draws.
    """
    checks.check_model(model)
    checks.check_images(x)
    target = checks.check_labels(target, x, targeted=True, name="target")
    eps = checks.check_budget(eps, "eps")
    steps = checks.check_count(steps, "steps", minimum=1)
    samples = checks.check_count(samples, "samples", minimum=1)
    checks.check_generator(generator)
    if camera is None:
        camera = RandomCamera(model, generator=generator)
    checks.check_instance(camera, RandomCamera, "camera", "advcourse.evasion.physical.RandomCamera(model)")
    settings = dict(eps=eps, step_size=eps / 4, steps=steps, targeted=True, generator=generator)
    x_pgd = pgd(model, x, target, **settings)
    x_eot = pgd(EOT(camera, samples=samples), x, target, **settings)
    effects = {name: list(strengths) for name, (_, strengths, _) in CAMERA.items()}
    rates = {kind: {name: [target_hits(model, CAMERA[name][0](x_adv, s), target) for s in strengths]
                    for name, strengths in effects.items()} for kind, x_adv in (("pgd", x_pgd), ("eot", x_eot))}
    return CameraStudy(effects, rates["pgd"], rates["eot"], eps, steps, samples, x_pgd, x_eot)


# ----------------------------------------------------------------------------- honest patch numbers
def held_out_views(x: Tensor, crop: float = 0.8) -> Tensor:
    """``x`` (N, C, H, W), its mirror images and a centre crop of each (``crop`` of the side, resized
    back): (3N, C, H, W), three views per photo the patch never saw."""
    checks.check_images(x)
    crop = checks.check_positive(crop, "crop")
    if crop > 1:
        raise ValueError(f"crop: expected a fraction in (0, 1], got {crop:g}")
    side = round(x.shape[-1] * crop)
    cropped = TF.resize(TF.center_crop(x, [side, side]), list(x.shape[-2:]), antialias=True).clamp(0.0, 1.0)
    return torch.cat([x, TF.horizontal_flip(x), cropped])


@dataclass
class PatchSweep:
    """Target hit rate of a patch against its size, next to a random-noise patch of the same size.

    Attributes:
        scales: patch areas tried, as fractions of the image area.
        patch, control: hit rate in [0, 1] per scale (fraction of photos × placements classified as the target).
        target: the class the patch was made for; placements: random placements per photo.
    """

    __repr__ = rounded_repr

    scales: list[float]
    patch: list[float]
    control: list[float]
    target: int
    placements: int

    def table(self) -> str:
        """Plain-text table: area in percent, the patch's and the control's hit rate in percent."""
        lines = [f"{'area':>5}  {'patch':>6}  {'control':>7}"]
        lines += [f"{s:>5.0%}  {p:>6.0%}  {c:>7.0%}" for s, p, c in zip(self.scales, self.patch, self.control)]
        return "\n".join(lines)

    @figure_function
    def plot(self, ax_title: str = "") -> Figure:
        """Hit rate against patch area for the trained patch and the control."""
        fig = new_figure(6.0, 3.8)
        ax = fig.subplots()
        pct = [100 * s for s in self.scales]
        ax.plot(pct, self.patch, "-o", color="C3", label="trained patch")
        ax.plot(pct, self.control, "-s", color="grey", label="random patch (control)")
        ax.set_xlabel("patch area (% of the image)")
        ax.set_ylabel("target hit rate")
        ax.set_ylim(-0.05, 1.05)
        if ax_title:
            ax.set_title(ax_title)
        fig.legend(loc="outside lower center", ncols=2)
        return fig


def patch_sweep(model: nn.Module, x: Tensor, patch: Tensor, target: int, *,
                scales: Sequence[float] = (0.02, 0.05, 0.1, 0.15, 0.2), placements: int = 4,
                angle: float | tuple[float, float] = (-20.0, 20.0), generator: torch.Generator | None = None) -> PatchSweep:
    """Hit rate of ``patch`` (and of a uniform-noise control patch) at each area in ``scales``.

    For every scale, each photo gets ``placements`` random placements (anywhere it fits, rotation
    drawn from ``angle``); the patch and the control land at the *same* places. The control's pixels
    are uniform noise from ``generator``: what covering that much of the photo does by itself.

    Args:
        model: (N, C, H, W) in [0, 1] -> (N, K) logits; left as found.
        x: (N, C, H, W) photos in [0, 1] (use photos the patch was not trained on).
        patch: (C, h, w) in [0, 1]; target: its class.
        scales: areas as fractions of the image; placements: random placements per photo (>= 1).
        generator: seeds the placements and the control patch.
    """
    checks.check_model(model)
    checks.check_images(x)
    target = checks.check_count(target, "target")
    placements = checks.check_count(placements, "placements", minimum=1)
    scales = [checks.check_positive(s, "scales") for s in checks.check_sequence(scales, "scales", "[0.05, 0.1]")]
    checks.check_generator(generator)
    gen_device = generator.device if generator is not None else torch.device("cpu")
    control = torch.rand(patch.shape, generator=generator, device=gen_device).to(patch)
    many = x.repeat(placements, 1, 1, 1)
    sweep = PatchSweep(scales, [], [], target, placements)
    for s in scales:
        where = random_placement(many, patch, scale=s, angle=angle, generator=generator)
        sweep.patch.append(target_hits(model, place(many, patch, where), target))
        sweep.control.append(target_hits(model, place(many, control, where), target))  # the very same places
    return sweep


# ----------------------------------------------------------------------------- the patch's training run
@figure_function
def plot_patch_training(info: PatchInfo) -> Figure:
    """A :func:`~advcourse.attacks.patch.train_patch` run, step by step: the EOT loss (left axis) and
    the hit rate of each step's random scenes (right axis)."""
    checks.check_instance(info, PatchInfo, "info", "returned by train_patch(..., return_info=True)")
    fig = new_figure(6.0, 3.4)
    ax = fig.subplots()
    steps = range(1, len(info.losses) + 1)
    ax.plot(steps, info.losses, color="C0", label="loss (target cross-entropy)")
    ax.set_xlabel("training step")
    ax.set_ylabel("loss")
    right = ax.twinx()
    right.plot(steps, info.hits, color="C3", ls="--", label="target hit rate of the step's scenes")
    right.set_ylabel("hit rate")
    right.set_ylim(-0.05, 1.05)
    fig.legend(loc="outside lower center", ncols=2)
    return fig
