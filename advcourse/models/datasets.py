"""A small, real image data set that works offline: scikit-learn's handwritten digits.

Taught in 08_defences, where a model has to be *trained* (adversarial training, negative images)
in seconds on a CPU. ImageNet-sized training is out of reach there, so the course trains on the
UCI "Optical Recognition of Handwritten Digits" test set as shipped inside the scikit-learn wheel
(``sklearn/datasets/data/digits.csv.gz``, read by :func:`sklearn.datasets.load_digits`): 1797
greyscale 8×8 images of the digits 0–9 written by 43 people, 16 grey levels per pixel.
Provenance: E. Alpaydin & C. Kaynak, UCI Machine Learning Repository (1998), CC BY 4.0;
see ``sklearn.datasets.load_digits``. Nothing is downloaded.

    >>> digits = load_digits()
    >>> digits.x_train.shape, digits.x_test.shape
    (torch.Size([1348, 1, 8, 8]), torch.Size([449, 1, 8, 8]))
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor
from torch.utils.data import DataLoader, TensorDataset

from advcourse.core.formatting import rounded_repr

__all__ = ["Digits", "load_digits", "make_loader", "DIGIT_CLASSES"]

#: Class names of the digits data set, index = digit.
DIGIT_CLASSES: tuple[str, ...] = tuple(str(d) for d in range(10))

_GREY_LEVELS = 16.0  # the data set's pixels are integers 0..16


class Digits(NamedTuple):
    """A fixed train/test split of the digits: images (N, 1, 8, 8) float32 in [0, 1], labels (N,) int64."""

    __repr__ = rounded_repr  # floats rounded: the same on every CPU

    x_train: Tensor
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor


def load_digits(test_fraction: float = 0.25, seed: int = 0) -> Digits:
    """The 1797 scikit-learn digits as tensors, split into train and test by a seeded shuffle.

    Args:
        test_fraction: share of the images held out for testing, in (0, 1). The default gives
            1348 training and 449 test images.
        seed: seed of the permutation; the same seed always gives the same split.

    Returns:
        :class:`Digits`: ``x`` (N, 1, 8, 8) float32 in [0, 1] (white ink on black, as shipped),
        ``y`` (N,) int64 in 0..9.
    """
    if not isinstance(test_fraction, float) or not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction: expected a float in (0, 1), got {test_fraction!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed: expected an int, got {type(seed).__name__}")
    from sklearn.datasets import load_digits as sk_load_digits  # reads the CSV shipped in the wheel

    raw = sk_load_digits()
    x = torch.as_tensor(raw.images, dtype=torch.float32).unsqueeze(1) / _GREY_LEVELS
    y = torch.as_tensor(raw.target, dtype=torch.long)
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    n_test = round(len(y) * test_fraction)
    test, train = order[:n_test], order[n_test:]
    return Digits(x[train], y[train], x[test], y[test])


def make_loader(x: Tensor, y: Tensor, *, batch_size: int = 64, shuffle: bool = True, seed: int = 0) -> DataLoader:
    """A ``DataLoader`` over ``(x, y)`` that is ready for distributed training.

    When a ``torch.distributed`` process group is initialised (e.g. under ``torchrun``), each
    process gets its own shard through a ``DistributedSampler`` (seeded, so every process agrees
    on the shuffle); otherwise a seeded shuffle on one process.

    Args:
        x: (N, C, H, W) images; y: (N,) labels.
        batch_size: images per batch on each process.
        shuffle: reshuffle every epoch (call ``sampler.set_epoch`` — the training loop does).
        seed: seed of the shuffle.
    """
    from advcourse.core.checks import check_bool, check_count, check_labels, check_tensor

    check_tensor(x, "x")
    check_labels(y, x)
    batch_size = check_count(batch_size, "batch_size", minimum=1)
    check_bool(shuffle, "shuffle")
    seed = check_count(seed, "seed")
    data = TensorDataset(x, y)
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        from torch.utils.data.distributed import DistributedSampler

        sampler = DistributedSampler(data, shuffle=shuffle, seed=seed)
        return DataLoader(data, batch_size=batch_size, sampler=sampler)
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(data, batch_size=batch_size, shuffle=shuffle, generator=generator)
