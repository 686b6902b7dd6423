"""The course's attacks, one module per attack, and a registry to look them up by name.

Taught across 01_threat_models (the taxonomy table built from :data:`ATTACKS`) to 07_deepfool;
:func:`apgd` and :func:`cw` are taught in 11_evaluation.

    >>> from advcourse.attacks import fgsm, pgd, deepfool, noise, semantic
    >>> x_adv = pgd(model, x, y, eps=8/255, step_size=2/255, steps=10)

Every attack takes and returns float pixels in [0, 1] (N, C, H, W), returns a new detached tensor
inside the box, and leaves the model exactly as it found it. Shared plumbing: :mod:`._core`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal

from advcourse.attacks._blackbox import QueryCounter, QueryInfo
from advcourse.attacks._core import INF, AttackInfo
from advcourse.attacks.apgd import apgd
from advcourse.attacks.cw import cw
from advcourse.attacks.deepfool import deepfool
from advcourse.attacks.fgsm import fgsm
from advcourse.attacks.hopskipjump import hopskipjump
from advcourse.attacks.mifgsm import mifgsm
from advcourse.attacks.noise import gaussian_noise, noise
from advcourse.attacks.pgd import pgd
from advcourse.attacks.semantic import semantic
from advcourse.attacks.simba import simba
from advcourse.attacks.square import square
from advcourse.core.formatting import rounded_repr

__all__ = ["noise", "gaussian_noise", "semantic", "fgsm", "pgd", "deepfool", "mifgsm", "square", "simba",
           "hopskipjump", "apgd", "cw", "AttackInfo", "QueryInfo", "QueryCounter", "AttackSpec", "ATTACKS", "get_attack"]


@dataclass(frozen=True)
class AttackSpec:
    """What the course says about one attack (a row of the taxonomy table).

    Attributes:
        name: registry key, also the function's name.
        fn: the attack function.
        box: ``"white"`` (needs gradients) or ``"black"`` (needs no model internals).
        targeted: whether the attack supports ``targeted=True``.
        norms: the perturbation norms it supports (``float("inf")``, ``2.0``, ``1.0``).
        paper: short citation with arXiv id.
        year: year of the paper.
        needs_model: whether ``fn`` takes ``model`` as its first argument.
        summary: one line for tables.
    """

    __repr__ = rounded_repr

    name: str
    fn: Callable
    box: Literal["white", "black"]
    targeted: bool
    norms: tuple[float, ...]
    paper: str
    year: int
    needs_model: bool
    summary: str


ATTACKS: dict[str, AttackSpec] = {
    spec.name: spec
    for spec in (
        AttackSpec("noise", noise, "black", False, (INF,), "Szegedy et al., arXiv:1312.6199 (random baseline)",
                   2014, False, "Uniform random noise in [-eps, eps]: the baseline real attacks must beat."),
        AttackSpec("semantic", semantic, "black", False, (), "Hosseini & Poovendran, arXiv:1703.06857",
                   2017, False, "The negative image: same meaning to us, often a new label to the model."),
        AttackSpec("fgsm", fgsm, "white", True, (INF, 2.0, 1.0), "Goodfellow, Shlens & Szegedy, arXiv:1412.6572",
                   2015, True, "One step along the sign of the loss gradient (targeted: T-FGSM)."),
        AttackSpec("pgd", pgd, "white", True, (INF, 2.0), "Madry et al., arXiv:1706.06083",
                   2018, True, "Many small gradient steps, each projected back into the eps-ball (I-FGSM with early_stop)."),
        AttackSpec("deepfool", deepfool, "white", False, (2.0,), "Moosavi-Dezfooli, Fawzi & Frossard, arXiv:1511.04599",
                   2016, True, "Smallest L2 step to the nearest linearised decision boundary, repeated."),
        AttackSpec("mifgsm", mifgsm, "white", True, (INF,), "Dong et al., arXiv:1710.06081",
                   2018, True, "I-FGSM with momentum (and optional input diversity): made on a surrogate to transfer."),
        AttackSpec("square", square, "black", True, (INF, 2.0), "Andriushchenko et al., arXiv:1912.00833",
                   2020, True, "Random square updates (±eps in L∞), kept when the margin drops: scores only."),
        AttackSpec("simba", simba, "black", True, (2.0,), "Guo et al., arXiv:1905.07121",
                   2019, True, "±eps along one random pixel or low-frequency direction at a time: scores only."),
        AttackSpec("hopskipjump", hopskipjump, "black", True, (2.0,), "Chen, Jordan & Wainwright, arXiv:1904.02144",
                   2020, True, "Walks along the decision boundary towards x: top-1 labels only."),
        AttackSpec("apgd", apgd, "white", True, (INF, 2.0), "Croce & Hein, arXiv:2003.01690",
                   2020, True, "PGD whose step size halves itself when the loss stalls; CE or DLR loss, restarts."),
        AttackSpec("cw", cw, "white", True, (2.0,), "Carlini & Wagner, arXiv:1608.04644",
                   2017, True, "Smallest L2 change that wins a logit margin, found with Adam in tanh space."),
    )
}


def get_attack(name: str) -> AttackSpec:
    """The :class:`AttackSpec` called ``name`` (case-insensitive); ``ValueError`` lists the choices."""
    if not isinstance(name, str):
        raise TypeError(f"name: expected an attack name (str), got {type(name).__name__}")
    key = name.strip().lower().replace("-", "_")
    if key not in ATTACKS:
        raise ValueError(f"name: unknown attack {name!r}; choose one of {', '.join(ATTACKS)}")
    return ATTACKS[key]
