"""Small fixed models for tests, benchmarks and hand-checkable notebook examples.

Not part of the course's API: seeded random weights, no training. ``tiny_cnn`` has BatchNorm and
dropout on purpose (the model-state tests need both); ``linear`` is an affine classifier whose
FGSM and DeepFool answers are known in closed form. The trained model the reference tests and
benchmarks compare attacks on is the course's one digits model,
:func:`advcourse.defences.digits.clean_digits_cnn`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["tiny_cnn", "Linear", "linear"]


def tiny_cnn(seed: int = 0, num_classes: int = 10, channels: int = 3, width: int = 8,
             dtype: torch.dtype = torch.float32) -> nn.Module:
    """Conv-BN-ReLU-pool ×2 → dropout → linear, for (N, ``channels``, H, W) inputs with H, W >= 4.

    Weights and BatchNorm statistics come from ``seed``; returned in eval mode.
    """
    g = torch.Generator().manual_seed(seed)
    net = nn.Sequential(
        nn.Conv2d(channels, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(width, 2 * width, 3, padding=1), nn.BatchNorm2d(2 * width), nn.ReLU(),
        nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Dropout(0.5), nn.Linear(8 * width, num_classes),
    )
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * (0.5 if p.dim() > 1 else 0.1))
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
    return net.to(dtype).eval()


class Linear(nn.Module):
    """Affine classifier ``logits = flatten(x) @ W.T + b`` with fixed ``W`` (K, D) and ``b`` (K,)."""

    def __init__(self, weight: Tensor, bias: Tensor):
        super().__init__()
        self.weight = nn.Parameter(weight.clone())
        self.bias = nn.Parameter(bias.clone())

    def forward(self, x: Tensor) -> Tensor:
        return x.flatten(1) @ self.weight.T + self.bias


def linear(in_shape: tuple[int, int, int] = (1, 4, 4), num_classes: int = 2, seed: int = 0,
           dtype: torch.dtype = torch.float64) -> Linear:
    """A seeded :class:`Linear` for inputs of shape (N, *in_shape)."""
    g = torch.Generator().manual_seed(seed)
    d = in_shape[0] * in_shape[1] * in_shape[2]
    return Linear(torch.randn(num_classes, d, generator=g, dtype=dtype),
                  torch.randn(num_classes, generator=g, dtype=dtype) * 0.1)
