"""The robustness checklist as code: diagnostics that catch gradient masking. Taught in 11_evaluation.

Carlini et al. (2019), "On Evaluating Adversarial Robustness" (arXiv:1902.06705), list what an
honest evaluation checks before it believes a robust accuracy. A defence that *hides* its gradients
(quantisation, randomness, saturation) makes gradient attacks look weak without making the model
robust, and it leaves fingerprints. :func:`checklist` runs six of the list's tests on a model and a
batch and returns a :class:`ChecklistReport` that draws as a table, one verdict per check:

1. **more steps and restarts still help**: a much stronger attack should not beat the standard one
   by much, or the standard one had not converged;
2. **accuracy falls to zero as eps grows**: with a budget as wide as the pixel box every image can
   be turned into any other; a model still "robust" there is hiding its gradients;
3. **black box does not beat white box**: a score-based attack (Square) or an attack transferred from
   a surrogate knows less than the gradient attack; if it breaks samples PGD could not, PGD failed;
4. **random starts agree**: PGD from different random starts should reach the same verdicts;
5. **the loss keeps rising**: the attack's loss should climb over the steps, not stay flat or zig-zag;
6. **gradients are not vanishing**: the input gradients of the loss should not be (near) zero.

A flagged check does not prove the model is weak; it says the evaluation cannot be trusted yet.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from torch import Tensor, nn

from advcourse.core import checks
from advcourse.attacks import _core, apgd, pgd, square
from advcourse.core.formatting import rounded_repr
from advcourse.core.viz import figure_function, new_figure

__all__ = ["Check", "ChecklistReport", "checklist", "plot_checklists", "Quantise"]

_VERDICT_COLOURS = {"pass": "#cfe8d5", "FLAG": "#f2c4c4"}

#: Thresholds of the verdicts (fractions of the samples, or of the loss rise): loose enough that an
#: ordinary model passes on every CPU, tight enough that a masked one is caught. "steps": PGD-10 has not
#: fully converged on an adversarially trained model, so APGD with ten times the steps and four restarts
#: breaks 5-10 % more of 100 digits (9 % for 11's model); at 8 % that ordinary gap sat on the threshold,
#: one digit from either verdict. Masking shows up as gaps of tens of points (and in the other checks).
TOLERANCE = {"steps": 0.12, "unbounded": 0.05, "black_box": 0.05, "starts": 0.15, "loss": 0.05, "gradients": 0.10}


@dataclass
class Check:
    """One line of the checklist.

    Attributes:
        name: what is checked, e.g. ``"more steps and restarts still help"``.
        flagged: ``True`` when the check points at gradient masking.
        measured: the numbers behind the verdict, as short text (lesson precision).
        value: the number compared with the threshold (a fraction in [0, 1]).
        threshold: the tolerance the value must stay under.
    """

    __repr__ = rounded_repr

    name: str
    flagged: bool
    measured: str
    value: float
    threshold: float

    @property
    def verdict(self) -> str:
        return "FLAG" if self.flagged else "pass"


@dataclass
class ChecklistReport:
    """Every check of :func:`checklist` on one model, and its robust accuracy under the strongest attack.

    Attributes:
        name: the model's name in the table.
        eps: the L∞ budget checked.
        clean_accuracy: fraction in [0, 1].
        robust_accuracy: fraction in [0, 1] right under every attack run at ``eps`` (worst case).
        checks: the :class:`Check` lines, in the order of the module docstring.
        loss_curve: mean loss of the attacked samples after each PGD step (for a picture).
    """

    name: str
    eps: float
    clean_accuracy: float
    robust_accuracy: float
    checks: list[Check]
    loss_curve: list[float] = field(repr=False)

    @property
    def flagged(self) -> list[str]:
        """Names of the flagged checks (empty: no sign of gradient masking)."""
        return [c.name for c in self.checks if c.flagged]

    @property
    def summary(self) -> str:
        """One line: robust accuracy and whether the evaluation can be trusted."""
        trust = "no sign of gradient masking" if not self.flagged else f"{len(self.flagged)} check(s) flag gradient masking"
        return (f"{self.name}: clean {self.clean_accuracy:.0%}, worst-case robust {self.robust_accuracy:.0%} "
                f"at eps {self.eps:.2g}; {trust}")

    def _rows(self) -> list[list[str]]:
        return [["check", "verdict", "measured"]] + [[c.name, c.verdict, c.measured] for c in self.checks]

    def __str__(self) -> str:
        grid = self._rows()
        widths = [max(len(r[j]) for r in grid) for j in range(3)]
        lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in grid]
        return "\n".join([self.summary, lines[0], "-" * len(lines[0]), *lines[1:]])

    __repr__ = __str__

    def _repr_html_(self) -> str:
        head, *rows = self._rows()
        body = "".join(
            f"<tr><td>{html.escape(r[0])}</td><td style='background:{_VERDICT_COLOURS[r[1]]};font-weight:600'>{r[1]}</td>"
            f"<td>{html.escape(r[2])}</td></tr>" for r in rows)
        return (f"<p>{html.escape(self.summary)}</p><table><thead><tr>"
                f"{''.join(f'<th>{h}</th>' for h in head)}</tr></thead><tbody>{body}</tbody></table>")

    @figure_function
    def plot(self) -> Figure:
        """This report's verdicts as a coloured table (:func:`plot_checklists` with one column)."""
        return plot_checklists([self])


class Quantise(nn.Module):
    """``model(round(x · levels) / levels)``: a "defence" whose gradient is zero almost everywhere.

    Rounding snaps small perturbations back to the grid and its derivative is 0, so every gradient
    attack sees a flat loss: the textbook case of masked (shattered) gradients. Used to show that
    the checklist catches it; it is not robust.
    """

    def __init__(self, model: nn.Module, levels: int = 4) -> None:
        super().__init__()
        self.model = checks.check_model(model)
        self.levels = checks.check_count(levels, "levels", minimum=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.model(torch.round(x * self.levels) / self.levels)


# ----------------------------------------------------------------------------- measurements
def _right(model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
    return _core.predicted_labels(model, x) == y


def _seed(device: torch.device, s: int) -> torch.Generator:
    return torch.Generator(device).manual_seed(s)


def _loss_curve(model: nn.Module, x: Tensor, y: Tensor, eps: float, step_size: float, steps: int,
                generator: torch.Generator) -> list[float]:
    """Mean cross-entropy of the batch at PGD's random start and after each of its steps."""
    x_adv = _core.random_start(x, eps, _core.INF, 0.0, 1.0, generator)
    curve = []
    for k in range(steps + 1):
        if k:
            x_adv = _one_step(model, x, x_adv, y, eps, step_size)
        with checks.frozen(model, x), torch.no_grad():
            curve.append(float(F.cross_entropy(_core.logits_of(model, x_adv), y)))
    return curve


def _one_step(model: nn.Module, x: Tensor, x_adv: Tensor, y: Tensor, eps: float, step_size: float) -> Tensor:
    from advcourse.attacks.pgd import pgd_step

    with checks.frozen(model, x):
        x_in = x_adv.detach().requires_grad_(True)
        grad = _core.input_grad(_core.loss(_core.logits_of(model, x_in), y), x_in)
    return pgd_step(x, x_adv, grad, step_size, eps, _core.INF, 0.0, 1.0)


def _grad_norms(model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
    """L1 norm of the input gradient of each sample's cross-entropy, (N,)."""
    with checks.frozen(model, x):
        x_in = x.detach().requires_grad_(True)
        grad = _core.input_grad(_core.loss(_core.logits_of(model, x_in), y), x_in)
    return _core.per_sample_norm(grad, 1.0)


def checklist(model: nn.Module, x: Tensor, y: Tensor, *, eps: float, attack_model: nn.Module | None = None,
              surrogate: nn.Module | None = None, steps: int = 10, restarts: int = 4, max_queries: int = 500,
              name: str = "model", seed: int = 0, loss: str = "dlr") -> ChecklistReport:
    """Run the six checks of the module docstring on ``model`` at the L∞ budget ``eps``.

    Paper: Carlini, Athalye, Papernot, Brendel, Rauber, Tsipras, Goodfellow, Madry & Kurakin, 2019,
        "On Evaluating Adversarial Robustness", arXiv:1902.06705 (Sec. 4-5 and the checklist of
        App. A); Athalye, Carlini & Wagner, 2018, arXiv:1802.00420 (obfuscated gradients).

    The standard attack is PGD (``steps`` steps, step ``eps/4``, random start). Each attack takes
    its gradients through ``attack_model`` (default ``model``; pass ``EOT(defence)`` for the
    adaptive attack on a randomised defence) and every verdict is read from ``model`` itself.

    Args:
        model: the defended classifier, (N, C, H, W) pixels in [0, 1] -> (N, K) logits.
        x: (N, C, H, W) float tensor in [0, 1]; y: (N,) int64 true labels.
        eps: L∞ budget in pixel units, in (0, 1].
        attack_model: what the gradient attacks differentiate (default ``model``).
        surrogate: optional model for a transfer attack (e.g. the bare network behind the defence).
        steps: PGD steps of the standard attack (>= 1); the stronger attack runs APGD with 10× as
            many steps and ``restarts`` restarts.
        restarts: random starts of PGD compared by check 4 (>= 2).
        max_queries: Square's budget per sample.
        name: the model's name in the report.
        seed: seeds every random start (reproducible).

    Returns:
        :class:`ChecklistReport`. Cost: about ``(restarts + 10·restarts + 5 + 2) · steps`` forward and
        backward passes on ``x`` plus ``max_queries`` forwards per sample. The model is left as found.
    """
    checks.check_model(model)
    checks.check_images(x)
    y = checks.check_labels(y, x)
    if y is None:
        raise ValueError("y: the checklist needs the true labels (N,), got None")
    eps = checks.check_budget(eps, "eps")
    if eps == 0:
        raise ValueError("eps: expected a budget > 0")
    steps = checks.check_count(steps, "steps", minimum=1)
    restarts = checks.check_count(restarts, "restarts", minimum=2)
    max_queries = checks.check_count(max_queries, "max_queries", minimum=1)
    attacker = checks.check_model(attack_model) if attack_model is not None else model
    if surrogate is not None:
        checks.check_model(surrogate)
    device = x.device
    step_size = eps / 4

    def standard(x_in: Tensor, budget: float, s: int) -> Tensor:
        return pgd(attacker, x_in, y, eps=budget, step_size=budget / 4, steps=steps, generator=_seed(device, s))

    clean = _right(model, x, y)
    runs = [_right(model, standard(x, eps, seed + r), y) for r in range(restarts)]
    base = runs[0]
    # 1. a far stronger attack: APGD, 10x the steps, restarts
    strong = _right(model, apgd(attacker, x, y, eps=eps, steps=10 * steps, restarts=restarts, loss=loss,
                                generator=_seed(device, seed)), y)
    gain = float((base & ~strong).float().mean())
    c1 = Check("more steps and restarts still help", gain > TOLERANCE["steps"],
               f"PGD-{steps} {base.float().mean():.0%}, APGD-{10 * steps}×{restarts} {strong.float().mean():.0%} "
               f"(breaks {gain:.0%} PGD left)",
               gain, TOLERANCE["steps"])
    # 2. the budget grows to the whole pixel box
    budgets = [min(eps * f, 1.0) for f in (1, 4)] + [1.0]
    accs = [float(base.float().mean())] + [float(_right(model, standard(x, b, seed), y).float().mean())
                                           for b in budgets[1:]]
    c2 = Check("accuracy falls to zero as eps grows", accs[-1] > TOLERANCE["unbounded"],
               ", ".join(f"eps {b:.2g}: {a:.0%}" for b, a in zip(budgets, accs)), accs[-1], TOLERANCE["unbounded"])
    # 3. black box and transfer against white box
    white = base & strong
    others = {"Square": _right(model, square(model, x, y, eps=eps, max_queries=max_queries,
                                             generator=_seed(device, seed)), y)}
    if surrogate is not None:
        others["transfer"] = _right(model, pgd(surrogate, x, y, eps=eps, step_size=step_size, steps=steps,
                                               generator=_seed(device, seed)), y)
    beats = {k: float((white & ~v).float().mean()) for k, v in others.items()}
    worst = max(beats.values())
    c3 = Check("black box does not beat white box", worst > TOLERANCE["black_box"],
               ", ".join(f"{k} {v.float().mean():.0%} (breaks {beats[k]:.0%} PGD left)" for k, v in others.items()),
               worst, TOLERANCE["black_box"])
    # 4. random starts
    stacked = torch.stack(runs).float()
    disagree = float(((stacked.amax(0) - stacked.amin(0)) > 0).float().mean())
    accs_r = stacked.mean(1)
    c4 = Check("random starts agree", disagree > TOLERANCE["starts"],
               f"{restarts} starts: {accs_r.min():.0%}–{accs_r.max():.0%}, verdicts differ on {disagree:.0%}",
               disagree, TOLERANCE["starts"])
    # 5. the loss curve of the standard attack, on the samples it attacks
    curve = _loss_curve(attacker, x[clean], y[clean], eps, step_size, steps, _seed(device, seed)) \
        if bool(clean.any()) else [0.0] * (steps + 1)
    rises = [b - a for a, b in zip(curve, curve[1:])]
    total = sum(abs(r) for r in rises)
    backwards = sum(-r for r in rises if r < 0) / total if total > 0 else 1.0
    flat = curve[-1] - curve[0] < 0.01
    c5 = Check("the loss keeps rising", flat or backwards > TOLERANCE["loss"],
               f"loss {curve[0]:.2f} → {curve[-1]:.2f}, {backwards:.0%} of its moves downhill", max(backwards, float(flat)),
               TOLERANCE["loss"])
    # 6. gradients
    norms = _grad_norms(attacker, x, y)
    vanished = float((norms < 1e-8 * x[0].numel()).float().mean())
    c6 = Check("gradients are not vanishing", vanished > TOLERANCE["gradients"],
               f"median ‖∇ₓ loss‖₁ {norms.median():.2g}, zero for {vanished:.0%}", vanished, TOLERANCE["gradients"])
    robust = clean & white & torch.stack(list(others.values())).all(0) & torch.stack(runs).all(0)
    return ChecklistReport(name=name, eps=eps, clean_accuracy=float(clean.float().mean()),
                           robust_accuracy=float(robust.float().mean()), checks=[c1, c2, c3, c4, c5, c6],
                           loss_curve=curve)


@figure_function
def plot_checklists(reports: list[ChecklistReport]) -> Figure:
    """The verdicts of several reports side by side: a row per check, a column per model.

    Each cell says ``pass`` or ``FLAG`` (green or red) with the number the verdict rests on; the
    last row is the worst-case robust accuracy each model kept.
    """
    reports = [checks.check_instance(r, ChecklistReport, "reports", "what checklist returns")
               for r in checks.check_sequence(reports, "reports", "[checklist(...), ...]")]
    if not reports:
        raise ValueError("reports: expected at least one ChecklistReport")
    names = [c.name for c in reports[0].checks]
    cells = [[f"{r.checks[i].verdict}  ({r.checks[i].value:.0%})" for r in reports] for i in range(len(names))]
    cells.append([f"{r.robust_accuracy:.0%}" for r in reports])
    colours = [[_VERDICT_COLOURS[r.checks[i].verdict] for r in reports] for i in range(len(names))]
    colours.append(["white"] * len(reports))
    fig = new_figure(3.2 + 1.9 * len(reports), 0.36 * (len(names) + 2) + 0.5)
    ax = fig.subplots()
    ax.axis("off")
    table = ax.table(cellText=cells, cellColours=colours, rowLabels=names + ["worst-case robust accuracy"],
                     colLabels=[r.name for r in reports], loc="center", cellLoc="center")
    table.auto_set_font_size(False)
    table.set_fontsize(10)
    table.scale(1, 1.5)
    ax.set_title(f"The checklist at eps = {reports[0].eps:.2g}: pass (green) or FLAG (red), "
                 "with the measured share", fontsize=11)
    return fig
