"""Training on negative images: what it buys on negatives and what it costs on regular images.

Taught in 08_defences, answering 03_semantic. Hosseini & Poovendran showed that networks trained on
regular images fail on their negatives (``1 − x``), although a person reads both the same way, and
that adding negatives to the training data helps. :func:`negative_tradeoff` measures both sides
on the digits: starting from one trained model it fine-tunes copies on a growing number ``n`` of
negative training images, either *alone* or *mixed* with the regular training set, and records
accuracy on regular and on negative test images.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Sequence

import torch
from matplotlib.figure import Figure
from torch import Tensor, nn
from torch.utils.data import DataLoader, RandomSampler, TensorDataset

from advcourse.core import checks
from advcourse.attacks import semantic
from advcourse.defences.training import evaluate, train
from advcourse.core.formatting import rounded_repr
from advcourse.core.progress import progress_bar
from advcourse.core.viz import figure_function, new_figure

__all__ = ["NegativeTradeoff", "negative_tradeoff"]

MODES = ("negatives only", "mixed")


@dataclass
class NegativeTradeoff:
    """Test accuracy (in [0, 1]) after fine-tuning on ``counts[i]`` negative training images.

    ``regular[mode][i]`` / ``negative[mode][i]``: accuracy on the regular / negative test images,
    for ``mode`` in ``"negatives only"`` and ``"mixed"`` (regular training set + the negatives).
    """

    __repr__ = rounded_repr  # floats rounded: the same on every CPU

    counts: list[int]
    regular: dict[str, list[float]] = field(default_factory=lambda: {m: [] for m in MODES})
    negative: dict[str, list[float]] = field(default_factory=lambda: {m: [] for m in MODES})

    @figure_function
    def plot(self) -> Figure:
        """Accuracy on regular (solid) and negative (dashed) test images against ``n``."""
        fig = new_figure(6.5, 3.4)
        ax = fig.subplots()
        for i, mode in enumerate(MODES):
            ax.plot(self.counts, self.regular[mode], "-o", color=f"C{i}", ms=4, label=f"{mode}: regular test")
            ax.plot(self.counts, self.negative[mode], "--s", color=f"C{i}", ms=4, label=f"{mode}: negative test")
        ax.set_xscale("symlog", linthresh=max(1, min(c for c in self.counts if c > 0) if any(self.counts) else 1))
        ax.set_xlabel("negative training images n")
        ax.set_ylabel("test accuracy")
        ax.set_ylim(0, 1.02)
        fig.legend(loc="outside lower center", ncols=2)
        return fig


def negative_tradeoff(model: nn.Module, train_data: tuple[Tensor, Tensor], test_data: tuple[Tensor, Tensor],
                      counts: Sequence[int], *, steps: int = 60, batch_size: int = 64, lr: float = 1e-3,
                      seed: int = 0, progress: bool = True) -> NegativeTradeoff:
    """Fine-tune copies of ``model`` on ``n`` negatives (alone / mixed with regular images) for each ``n``.

    Paper: Hosseini & Poovendran, 2017, "On the Limitation of Convolutional Neural Networks in
        Recognizing Negative Images", arXiv:1703.06857.

    Args:
        model: a trained classifier of (N, C, H, W) pixels in [0, 1]; it is copied, never changed.
        train_data: regular training images and labels; the first ``n`` are negated for each ``n``.
        test_data: regular test images and labels (their negatives are computed here).
        counts: numbers of negative training images, e.g. ``[0, 10, 100, 1000]``.
        steps: optimiser steps per fine-tune (the same for every ``n`` and mode, so only the data
            differs); batch_size, lr: of those steps (Adam).
        seed: seeds sampling (each fine-tune starts from the same state).

    Returns:
        :class:`NegativeTradeoff`.
    """
    checks.check_model(model)
    x, y = _pair(train_data, "train_data")
    x_test, y_test = _pair(test_data, "test_data")
    steps = checks.check_count(steps, "steps", minimum=1)
    checks.check_bool(progress, "progress")
    counts = [checks.check_count(n, "counts", minimum=0) for n in checks.check_sequence(counts, "counts", "[0, 10, 100]")]
    if not counts or max(counts) > x.shape[0]:
        raise ValueError(f"counts: expected numbers in [0, {x.shape[0]}], got {counts}")
    negatives_test = semantic(x_test)
    result = NegativeTradeoff(counts)
    bar = progress_bar(total=len(counts) * len(MODES), desc="negative fine-tuning", enabled=progress, leave=False)
    for n in counts:
        for mode in MODES:
            xs = semantic(x[:n]) if n else x[:0]
            ys = y[:n]
            if mode == "mixed":
                xs, ys = torch.cat([x, xs]), torch.cat([y, ys])
            tuned = copy.deepcopy(model)
            if xs.shape[0]:
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(seed)
                    train(tuned, _loader(xs, ys, steps, batch_size, seed), epochs=1, lr=lr, progress=False,
                          dtype=torch.float64)  # the same fine-tune on every CPU (see train)
            result.regular[mode].append(evaluate(tuned, x_test, y_test)[0])
            result.negative[mode].append(evaluate(tuned, negatives_test, y_test)[0])
            bar.update(1)
    bar.close()
    return result


def _pair(data: object, name: str) -> tuple[Tensor, Tensor]:
    """``(x, y)``: images in [0, 1] and their labels."""
    if not (isinstance(data, (tuple, list)) and len(data) == 2):
        raise TypeError(f"{name}: expected a pair (x, y) of images and labels, got {type(data).__name__}")
    x, y = data
    checks.check_images(x, name=name)
    return x, checks.check_labels(y, x, name=name)


def _loader(x: Tensor, y: Tensor, steps: int, batch_size: int, seed: int) -> DataLoader:
    """Exactly ``steps`` batches drawn with replacement (so tiny and large sets get the same steps)."""
    sampler = RandomSampler(TensorDataset(x, y), replacement=True, num_samples=steps * batch_size,
                            generator=torch.Generator().manual_seed(seed))
    return DataLoader(TensorDataset(x, y), batch_size=batch_size, sampler=sampler)
