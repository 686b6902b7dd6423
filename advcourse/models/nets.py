"""A small convolutional network for the 8×8 digits, trainable in seconds on a CPU.

Taught in 08_defences (adversarial training). Like every model in the course it takes pixels in
[0, 1] — here (N, 1, 8, 8) — and returns (N, 10) logits, so every attack in
:mod:`advcourse.attacks` works on it unchanged.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["DigitsCNN", "digits_cnn"]


class DigitsCNN(nn.Module):
    """Two 3×3 convolutions, a 2×2 max-pool and two linear layers (85 k parameters).

    No batch norm and no dropout: its output depends only on its input and weights, in train and
    in eval mode alike, which keeps adversarial training (and its distributed version) simple.

    Shape: (N, 1, 8, 8) pixels in [0, 1] -> (N, 10) logits.
    """

    def __init__(self, num_classes: int = 10, width: int = 32) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, width, 3, padding=1), nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2),  # 8×8 -> 4×4
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(2 * width * 16, 64), nn.ReLU(), nn.Linear(64, num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))

    @classmethod
    def from_weights(cls, state: dict[str, Tensor]) -> DigitsCNN:
        """A DigitsCNN holding the weights ``state`` (a ``state_dict``; the width is read from the first
        convolution), in eval mode."""
        if not isinstance(state, dict) or not {"features.0.weight", "classifier.3.weight"} <= set(state):
            raise ValueError("state: expected a DigitsCNN state_dict (with features.0.weight and classifier.3.weight)")
        net = cls(num_classes=state["classifier.3.weight"].shape[0], width=state["features.0.weight"].shape[0])
        net.load_state_dict(state)
        return net.eval()


def digits_cnn(seed: int = 0) -> DigitsCNN:
    """A freshly initialised :class:`DigitsCNN`; the same ``seed`` gives the same weights."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return DigitsCNN()
