"""Plumbing shared by the query (black-box) attacks: the query counter, the margin loss, checks.

Used by :mod:`.square`, :mod:`.simba` and :mod:`.hopskipjump` (taught in 09_black_box). A query
attack sees only the model's outputs — scores, or just the top-1 label — and pays for every image it
sends; :class:`QueryCounter` counts them from outside the attack, so the attack's own bookkeeping
(``info.queries``) can be checked against it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from advcourse.attacks import _core
from advcourse.attacks._core import AttackInfo

__all__ = ["QueryCounter", "QueryInfo", "check_probability", "margin", "query_info"]


class QueryCounter(nn.Module):
    """Wraps a model and counts every image that goes through it (forward calls and images).

    Shape: (N, C, H, W) -> the wrapped model's output; ``images`` grows by N per call, ``calls`` by 1.
    It adds nothing to the computation and has no parameters of its own, so attacks can be run on
    the wrapper exactly as on the model.

    Example:
        >>> counted = QueryCounter(model)
        >>> x_adv, info = square(counted, x, eps=8/255, max_queries=100, return_info=True)
        >>> counted.images == int(info.queries.sum()) + len(x)   # + the forward that reads the labels
    """

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = _core.check_model(model)
        self.training = model.training  # the wrapper's own flag follows the model (its submodules untouched)
        self.images = 0
        self.calls = 0

    def forward(self, x: Tensor) -> Tensor:
        self.images += int(x.shape[0])
        self.calls += 1
        return self.model(x)

    def reset(self) -> None:
        """Set both counts back to zero."""
        self.images = self.calls = 0


@dataclass(repr=False)  # keeps AttackInfo's rounded repr
class QueryInfo(AttackInfo):
    """:class:`~advcourse.attacks._core.AttackInfo` plus ``queries``: (N,) int64, the images each
    sample sent to the model during the attack (its first, clean query included; the extra forward
    that builds this record is not)."""

    queries: Tensor = None  # type: ignore[assignment]

    def success_within(self, budget: int) -> float:
        """Fraction of all samples that succeeded using at most ``budget`` queries: one point of a
        success-rate-vs-queries curve (``budget`` >= the attack's ``max_queries`` gives ``success_rate``)."""
        return float((self.success & (self.queries <= budget)).float().mean())

    def median_queries(self) -> float:
        """Median of ``queries`` over the successful samples (``nan`` when none succeeded)."""
        q = self.queries[self.success].float()
        return float(q.median()) if q.numel() else math.nan


def query_info(model: nn.Module, x: Tensor, x_adv: Tensor, y: Tensor, queries: Tensor, iterations: Tensor,
               targeted: bool, logits: Tensor | None = None) -> QueryInfo:
    """Build :class:`QueryInfo`. Pass the ``logits`` at ``x_adv`` when the attack has them; otherwise
    this runs one extra no-grad forward, not counted in ``queries``."""
    base = _core.make_info(model, x, x_adv, y, iterations, targeted, logits)
    return QueryInfo(**vars(base), queries=queries.detach().to(torch.long))


def check_probability(value: object, name: str) -> float:
    """A number in [0, 1] (``diversity_prob``, ``p_init``)."""
    v = _core.check_nonnegative(value, name)
    if v > 1:
        raise ValueError(f"{name}: expected a number in [0, 1], got {v}")
    return v


def margin(logits: Tensor, y: Tensor, targeted: bool) -> Tensor:
    """Per-sample margin, (N,): below 0 exactly when the attack has succeeded.

    Untargeted: ``z_y − max_{k≠y} z_k`` (Square's and SimBA's objective to push down); targeted:
    ``max_{k≠t} z_k − z_t``. Logits, not probabilities, so it does not saturate.
    """
    true = logits.gather(1, y[:, None]).squeeze(1)
    others = logits.scatter(1, y[:, None], -math.inf).amax(1)
    return others - true if targeted else true - others
