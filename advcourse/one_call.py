"""One call to classify a picture, one call to attack it.

Taught in 00_welcome. ``classify(src)`` returns the top-k predictions as named tuples;
``attack(src, attack="fgsm", eps=2/255)`` returns an :class:`AttackResult` that draws itself as
original / amplified difference / adversarial, with predictions and confidences in the titles.
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import nn

from advcourse.core import checks
from advcourse.models.images import ImageSource, load_image
from advcourse.models.labels import IMAGENET_CLASSES, class_index
from advcourse.models.zoo import load_model, resolve_device

__all__ = ["Prediction", "Predictions", "predict", "classify", "attack", "AttackResult", "DEFAULT_PARAMS"]


class Prediction(NamedTuple):
    """One class guess: ImageNet ``label``, its ``index`` (0-999), and softmax ``prob`` in [0, 1]."""

    label: str
    index: int
    prob: float

    def __str__(self) -> str:
        return f"{self.label} ({self.prob:.1%})"

    def __repr__(self) -> str:
        # Percent with one decimal: the last digits of a float32 softmax differ between CPUs.
        return f"Prediction(label={self.label!r}, index={self.index}, prob={self.prob:.1%})"


class Predictions(list):
    """A list of :class:`Prediction`, highest probability first, shown as a table in notebooks."""

    def __str__(self) -> str:
        rows = [f"{'#':>2}  {'prob':>6}  {'index':>5}  label"]
        rows += [f"{k:>2}  {p.prob:>6.1%}  {p.index:>5}  {p.label}" for k, p in enumerate(self, 1)]
        return "\n".join(rows)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        cells = "".join(
            f"<tr><td>{k}</td><td>{html.escape(p.label)}</td><td>{p.index}</td>"
            f"<td style='text-align:left'><div style='background:#4c72b0;height:10px;width:{100 * p.prob:.0f}px;"
            f"display:inline-block'></div> {p.prob:.1%}</td></tr>"
            for k, p in enumerate(self, 1)
        )
        return f"<table><tr><th>#</th><th>label</th><th>index</th><th>probability</th></tr>{cells}</table>"


def _as_model(model: str | nn.Module, device: str | torch.device) -> nn.Module:
    if isinstance(model, nn.Module):
        if not (isinstance(device, str) and device == "auto"):
            resolve_device(device)  # a bad device is an error even when it is not needed
        return model
    if isinstance(model, str):
        return load_model(model, device)
    raise TypeError(f"model: expected a model name or an nn.Module, got {type(model).__name__}")


def _model_device(model: nn.Module) -> torch.device:
    first = next(model.parameters(), None)
    return first.device if first is not None else torch.device("cpu")


def predict(model: nn.Module, x: torch.Tensor, topk: int = 5) -> list[Predictions]:
    """Top-``topk`` predictions for each image of a batch ``x`` (N, C, H, W) in [0, 1].

    The model is evaluated in eval mode and left exactly as found (each submodule's mode, each
    parameter's flags and gradient: :func:`advcourse.core.checks.frozen`).
    """
    checks.check_model(model)
    if not isinstance(topk, int) or isinstance(topk, bool) or not 1 <= topk <= len(IMAGENET_CLASSES):
        raise ValueError(f"topk: expected an integer in [1, {len(IMAGENET_CLASSES)}], got {topk!r}")
    checks.check_images(x)
    x = x.detach().to(_model_device(model))
    with checks.frozen(model, x), torch.no_grad():
        probs = checks.check_logits(model(x), x.shape[0]).softmax(dim=1)
    values, indices = probs.topk(min(topk, probs.shape[1]), dim=1)
    return [
        Predictions(Prediction(_label(int(i)), int(i), float(v)) for v, i in zip(vs, ids))
        for vs, ids in zip(values.cpu(), indices.cpu())
    ]


def _label(index: int) -> str:
    return IMAGENET_CLASSES[index] if index < len(IMAGENET_CLASSES) else f"class {index}"


def classify(src: ImageSource | torch.Tensor, model: str | nn.Module = "efficientnet_lite0", topk: int = 5,
             *, device: str | torch.device = "auto") -> Predictions:
    """Classify one picture: ``classify("chelsea_cat")[0].label``.

    Args:
        src: anything :func:`advcourse.load_image` accepts, or a (1, 3, H, W) tensor in [0, 1].
        model: a name from :func:`advcourse.available_models` or any [0,1]-pixel ``nn.Module``.
        topk: how many classes to return.

    Returns:
        :class:`Predictions`, highest probability first.
    """
    net = _as_model(model, device)
    x = _one_image(src).to(_model_device(net))
    checks.check_model_input(net, x, name="src")
    return predict(net, x, topk)[0]


def _one_image(src: ImageSource | torch.Tensor) -> torch.Tensor:
    """``src`` as one checked (1, 3, H, W) image in [0, 1] (a tensor, or anything ``load_image`` reads)."""
    if not isinstance(src, torch.Tensor):
        return load_image(src)
    checks.check_images(src, name="src", channels=3)
    if src.shape[0] != 1:
        raise ValueError(f"src: expected one image of shape (1, 3, H, W), got {tuple(src.shape)}")
    return src


# Budgets used when the caller gives none: small enough to stay invisible on 224 px photos.
DEFAULT_PARAMS: dict[str, dict[str, Any]] = {
    "noise": {"eps": 16 / 255},
    "semantic": {},
    "fgsm": {"eps": 2 / 255},
    "pgd": {"eps": 2 / 255, "step_size": 0.5 / 255, "steps": 10},
    "deepfool": {},
    "mifgsm": {"eps": 2 / 255, "step_size": 0.2 / 255, "steps": 10},
    "square": {"eps": 4 / 255, "max_queries": 300},
    "simba": {"eps": 0.2, "max_queries": 500},
    "hopskipjump": {"max_queries": 500},
    "apgd": {"eps": 2 / 255, "steps": 10},
    "cw": {"c": 1.0, "steps": 50, "lr": 0.01},
}


@dataclass
class AttackResult:
    """What :func:`attack` did: the images, predictions before/after and the perturbation size.

    Attributes:
        x, x_adv: (1, 3, H, W) tensors in [0, 1] (CPU).
        before, after: top-5 :class:`Predictions` on ``x`` and ``x_adv``.
        attack: the attack's name; params: the arguments it ran with; target: target index or None.
    """

    x: torch.Tensor
    x_adv: torch.Tensor
    before: Predictions
    after: Predictions
    attack: str
    params: dict[str, Any] = field(default_factory=dict)
    target: int | None = None

    @property
    def delta(self) -> torch.Tensor:
        return self.x_adv - self.x

    @property
    def linf(self) -> float:
        """Largest change of any pixel value, in [0, 1] units."""
        return float(self.delta.abs().max())

    @property
    def l2(self) -> float:
        return float(self.delta.flatten().norm())

    @property
    def success(self) -> bool:
        """Untargeted: the top-1 class changed. Targeted: the top-1 class is the target."""
        if self.target is not None:
            return self.after[0].index == self.target
        return self.after[0].index != self.before[0].index

    def figure(self):
        """Original / amplified difference / adversarial, titled with predictions."""
        from advcourse.core.viz import triptych

        middle = f"difference x{1 / max(2 * self.linf, 1e-12):.0f}\nL∞={self.linf * 255:.1f}/255  L2={self.l2:.1f}"
        return triptych(self.x, self.x_adv, f"original\n{self.before[0]}", f"{self.attack}\n{self.after[0]}", middle)

    def __str__(self) -> str:
        # Norms at one decimal: an iterated sign-gradient attack's L2 moves by about 1 % between CPUs
        # (a near-zero gradient entry flips its sign), so a second decimal would differ from machine to machine.
        outcome = "fooled" if self.success else "not fooled"
        return (f"{self.attack}: {self.before[0]} -> {self.after[0]} ({outcome}; "
                f"L∞={self.linf * 255:.1f}/255, L2={self.l2:.1f})")

    __repr__ = __str__

    def _repr_png_(self) -> bytes:
        import io

        buf = io.BytesIO()
        self.figure().savefig(buf, format="png")
        return buf.getvalue()

    def save(self, path: str | os.PathLike) -> Path:
        """Write the three-panel figure to ``path`` (format from the extension: .png, .pdf, .svg) and
        return the path written. The folder must exist; an existing file is replaced."""
        from advcourse.core.files import check_figure_path

        target = check_figure_path(path, "path")
        self.figure().savefig(target)
        return target


def _resolve_target(target: int | str | None) -> int | None:
    if target is None:
        return None
    if isinstance(target, str):
        try:
            return class_index(target)
        except ValueError as exc:
            raise ValueError(f"target: {str(exc).removeprefix('name: ')}") from None
    if isinstance(target, bool) or not isinstance(target, int) or not 0 <= target < len(IMAGENET_CLASSES):
        raise ValueError(f"target: expected a class name or an index in [0, 999], got {target!r}")
    return target


def attack(src: ImageSource | torch.Tensor, attack: str = "fgsm", model: str | nn.Module = "efficientnet_lite0",
           *, target: int | str | None = None, device: str | torch.device = "auto", **params: Any) -> AttackResult:
    """Attack one picture with an attack from :mod:`advcourse.attacks` and report what happened.

    Args:
        src: anything :func:`advcourse.load_image` accepts, or a (1, 3, H, W) tensor in [0, 1].
        attack: "noise", "semantic", "fgsm", "pgd" or "deepfool".
        model: a model name or any [0,1]-pixel ``nn.Module``.
        target: a class name or index for a targeted attack (fgsm/pgd); None = untargeted.
        **params: the attack's keyword arguments (e.g. ``eps=4/255``); missing ones take
            :data:`DEFAULT_PARAMS`.

    Returns:
        :class:`AttackResult` (shows as the three-panel figure in a notebook).
    """
    from advcourse.attacks import get_attack

    spec = get_attack(attack)
    net = _as_model(model, device)
    dev = _model_device(net)
    x = _one_image(src).to(dev)
    checks.check_model_input(net, x, name="src")
    target_index = _resolve_target(target)
    if target_index is not None and not spec.targeted:
        raise ValueError(f"target: the {spec.name} attack is untargeted; use fgsm or pgd for a target")
    kwargs = {**DEFAULT_PARAMS.get(spec.name, {}), **params}
    if not spec.needs_model:
        x_adv = spec.fn(x, **kwargs)
    elif target_index is not None:
        y = torch.tensor([target_index], device=dev)
        x_adv = spec.fn(net, x, y, targeted=True, **kwargs)
    else:
        x_adv = spec.fn(net, x, **kwargs)
    before, after = predict(net, x)[0], predict(net, x_adv)[0]
    return AttackResult(x.cpu(), x_adv.cpu(), before, after, spec.name, kwargs, target_index)
