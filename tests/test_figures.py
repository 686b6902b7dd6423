"""Every figure of the package keeps the course's figure standards (docs/figures.md).

Each public figure function is called on tiny inputs (a 1000-class linear toy model, 32 px images)
and its figure is drawn as a notebook stores it; then: every drawn text is >= ``MIN_FONT_PT`` points,
no two texts overlap, no legend covers a bar, a line vertex or a marker, every colour-mapped image
has a colour bar, and the stored picture is at most ``MAX_WIDTH_IN`` inches wide (so JupyterLab
shows it unscaled or nearly). A test also checks that the list below covers every figure function.
"""

from __future__ import annotations

import importlib
import inspect
import math
import pkgutil
from typing import Callable

import numpy as np
import pytest
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import Collection
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.patches import Rectangle
from matplotlib.text import Text
from matplotlib.transforms import Bbox
from torch import nn

import advcourse
from advcourse.core import viz

MAX_WIDTH_IN = 11.0  # 990 px at 90 dpi: unscaled in JupyterLab at 1400 px (side panel closed)
N, SIZE = 3, 32


@pytest.fixture(scope="module", autouse=True)
def _one_thread(single_thread):
    yield


def _toy_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(12, 1000)).eval()


def _images() -> torch.Tensor:
    return torch.rand(N, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(0))


NAMES = ["grace_hopper_uniform", "chelsea_cat", "coffee_espresso"]


# ----------------------------------------------------------------------------- the cases
def _fgsm_sweep():
    from advcourse.widgets import fgsm as lesson

    model, x = _toy_model(), _images()
    y = model(x).argmax(1)
    return lesson, model, x, y, lesson.sweep(model, x, y, [0, 1 / 255, 8 / 255, 64 / 255], attack="fgsm")


def _pgd_trace(**kw):
    from advcourse.widgets import pgd as lesson

    model, x = _toy_model(), _images()
    y = model(x).argmax(1)
    return lesson, lesson.pgd_trace(model, x, y, eps=8 / 255, step_size=2 / 255, steps=3, **kw)


def _noise_curve(kind="uniform"):
    from advcourse.models.images import SampleBatch
    from advcourse.foundations.noise_study import noise_curve

    x = _images()
    batch = SampleBatch(x, torch.tensor([0, 1, 2]), NAMES, [{0}, {1}, {2}])
    return noise_curve(_toy_model(), batch, [0, 8 / 255, 32 / 255], kind=kind, seed=0)


def case_image_grid():
    return viz.image_grid(_images(), [f"{n} (random resize & pad)" for n in NAMES], ncols=3)


def case_triptych():
    x = _images()[:1]
    return viz.triptych(x, (x + 2 / 255).clamp(0, 1))


def case_topk_bars():
    return viz.topk_bars(["tabby", "tiger cat", "Egyptian cat"], [0.5, 0.3, 0.1], title="top-3")


def case_show_digits():
    from advcourse.models.datasets import load_digits

    d = load_digits()
    return viz.show_digits(d.x_test[:8], d.y_test[:8])


def case_attack_result():
    from advcourse.one_call import AttackResult, Prediction, Predictions

    x = _images()[:1]
    before = Predictions([Prediction("hog", 341, 0.77)])
    after = Predictions([Prediction("Pembroke", 263, 0.99)])
    return AttackResult(x, (x + 2 / 255).clamp(0, 1), before, after, "pgd").figure()


def case_knowledge_figure():
    from advcourse.foundations.threat_models import knowledge_figure

    return knowledge_figure()


def case_goal_figure():
    from advcourse.foundations.threat_models import goal_figure

    return goal_figure()


def case_taxonomy_figure():
    from advcourse.foundations.threat_models import taxonomy_figure

    return taxonomy_figure()


def case_plot_noise_curves():
    from advcourse.foundations.noise_study import plot_noise_curves

    return plot_noise_curves(_noise_curve(), _noise_curve("gaussian"), against="l2")


def case_noise_gallery():
    from advcourse.foundations.noise_study import noise_gallery

    return noise_gallery(_toy_model(), _images()[:1], [0, 16 / 255, 48 / 255, 96 / 255, 128 / 255])


def case_noise_histograms():
    from advcourse.foundations.noise_study import noise_histograms

    return noise_histograms(16 / 255, 16 / 255, n=2000)


def case_render_noise():
    from advcourse.widgets.noise import render_noise

    return render_noise(_toy_model(), "flamingo", 16 / 255)


def case_render_classification():
    from advcourse.widgets import render_classification

    return render_classification("chelsea_cat", _toy_model())


def case_show_negatives():
    from advcourse.models.images import SampleBatch
    from advcourse.widgets.semantic import negation_table, show_negatives

    x = torch.rand(6, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(0))
    names = NAMES + ["summer_palace", "cameraman_tripod", "sumatran_tiger"]  # six, as 03 shows
    batch = SampleBatch(x, torch.arange(6) + 650, names, [{650 + k} for k in range(6)])  # long class names
    return show_negatives(batch, negation_table(_toy_model(), batch))


def case_render_blend():
    from advcourse.widgets.semantic import blend_path, render_blend

    x = _images()[:1]
    path = blend_path(_toy_model(), x, 0, [0], steps=5)
    return render_blend(x, path, 0.5, title="peacock")


def case_show_tangents():
    from advcourse.foundations.calculus import bowl, show_tangents

    return show_tangents(bowl, [0.5, 3.5])


def case_show_descent():
    from advcourse.foundations.calculus import bowl, show_descent

    return show_descent(bowl, -1.0, lr=1.1, steps=6)


def case_render_descent():
    from advcourse.widgets.gradients import render_descent

    return render_descent(0.1)


def case_show_step_comparison():
    from advcourse.foundations.calculus import StepComparison, show_step_comparison

    cmp = StepComparison(1 / 255, torch.tensor([0.5, 0.2, 0.9]), torch.tensor([0.01, -0.02, 0.0]),
                         torch.tensor([0.6, 0.3, 1.0]))
    return show_step_comparison(cmp, NAMES)


def case_show_saliency():
    from advcourse.foundations.explain import show_saliency

    return show_saliency(_toy_model(), _images())


def case_accuracy_curves():
    lesson, model, x, y, sw = _fgsm_sweep()
    return lesson.accuracy_curves({"FGSM": sw, "uniform noise": sw}, y)


def case_render_eps():
    lesson, model, x, y, sw = _fgsm_sweep()
    return lesson.render_eps(sw, photo=0, eps=1 / 255, names=NAMES)


def case_show_landing():
    lesson, model, x, y, sw = _fgsm_sweep()
    land = lesson.Landing(1 / 255, torch.tensor([True, True, True]), torch.tensor([2, 7, 40]),
                          torch.tensor([5, 6, 7]), 1 / 3, 5)
    return lesson.show_landing(land, y, NAMES)


def case_show_fgsm_steps():
    from advcourse.foundations.explain import input_gradient
    from advcourse.widgets import fgsm as lesson

    model, x = _toy_model(), _images()[:1]
    grad = input_gradient(model, x, torch.tensor([0]))
    return lesson.show_fgsm_steps(x, grad, 2 / 255, (x + 2 / 255 * grad.sign()).clamp(0, 1))


def case_show_norms():
    from advcourse.widgets import fgsm as lesson

    x = _images()[:1]
    g = torch.randn(x.shape, generator=torch.Generator().manual_seed(1))
    d_inf = (x + 2 / 255 * g.sign()).clamp(0, 1) - x
    d_l2 = (x + 0.5 * g / g.norm()).clamp(0, 1) - x
    return lesson.show_norms(x, {"L∞ step, eps = 2/255": d_inf, "L2 step, eps = 0.50": d_l2})


def case_loss_curves():
    lesson, tr = _pgd_trace()
    return lesson.loss_curves({"start at x (I-FGSM)": tr, "random start (PGD)": tr})


def case_show_iterations():
    from advcourse.widgets import pgd as lesson

    return lesson.show_iterations(torch.tensor([1, 4, 2]), NAMES, budget=4)


def case_render_pgd():
    from advcourse.widgets import pgd as lesson

    model, x = _toy_model(), _images()[:1]
    grid = lesson.step_grid(model, x, torch.tensor([3]), eps=8 / 255, step_sizes=[1 / 255, 2 / 255], steps=3,
                            targeted=True)
    return lesson.render_pgd(grid, step_size=1 / 255, steps=2)


def case_render_binary():
    from advcourse.widgets import deepfool as lesson

    return lesson.render_binary(px=2.0, py=1.5)


def case_render_multiclass():
    from advcourse.widgets import deepfool as lesson

    return lesson.render_multiclass(px=1.0, py=0.2)


def case_show_deepfool():
    from advcourse.widgets import deepfool as lesson

    x = _images()
    return lesson.show_deepfool(x, (x + 0.01).clamp(0, 1), torch.tensor([0, 1, 2]), torch.tensor([3, 4, 5]),
                                torch.tensor([2, 3, 4]), NAMES, photos=[0, 1])


def case_render_photo():
    from advcourse.widgets import deepfool as lesson

    x = _images()
    return lesson.render_photo(1, x, (x + 0.01).clamp(0, 1), torch.tensor([0, 1, 2]), torch.tensor([3, 4, 5]),
                               torch.tensor([2, 3, 4]), NAMES)


def case_show_distances():
    from advcourse.widgets import deepfool as lesson

    return lesson.show_distances(NAMES, {"DeepFool": torch.tensor([0.04, 0.1, 0.3]),
                                         "FGSM, smallest eps that works": torch.tensor([0.4, float("nan"), 2.0])},
                                 grid_max=16 / 255 * (3 * 224 * 224) ** 0.5)


def case_accuracy_figure():
    from advcourse.evaluation.evaluate import Report, Table
    from advcourse.widgets import deepfool as lesson

    def row(name, acc):
        return Report(name, 20, 1.0, acc, 1 - acc, 0.1, 0.1, 0.01, 0.01)

    return lesson.accuracy_figure(Table([row("noise", 0.95), row("semantic", 0.85), row("FGSM", 0.2),
                                         row("PGD", 0.0), row("DeepFool", 0.0)]))


def case_plot_histories():
    from advcourse.defences.training import History, plot_histories

    a = History([0, 1, 2], [math.nan, 1.0, 0.5], [0.1, 0.9, 0.95], [0.0, 0.1, 0.15], "pgd")
    b = History([0, 1, 2], [math.nan, 0.9, 0.7], [0.95, 0.93, 0.94], [0.15, 0.45, 0.55], "pgd")
    return plot_histories({"clean training": a, "adversarial fine-tuning": b})


def case_negative_tradeoff():
    from advcourse.defences.negatives import NegativeTradeoff

    t = NegativeTradeoff([0, 10, 50, 200, 1348])
    t.regular = {"negatives only": [0.98, 0.22, 0.08, 0.01, 0.02], "mixed": [0.98] * 5}
    t.negative = {"negatives only": [0.0, 0.4, 0.84, 0.93, 0.96], "mixed": [0.0, 0.19, 0.69, 0.92, 0.97]}
    return t.plot()


def case_render_transfer():
    from advcourse.defences.randomization import TransferSweep
    from advcourse.widgets.defences import render_transfer

    x = _images()
    sweep = TransferSweep([0, 4 / 255, 16 / 255], [1.0, 0.3, 0.0], [0.95, 0.9, 0.6], [x, x, x],
                          [torch.tensor([0, 1, 2])] * 3, [torch.tensor([0, 1, 2])] * 3)
    return render_transfer(sweep, 4 / 255, 0, NAMES)


def case_plot_accuracy_curves():
    from advcourse.defences.smoothing import AccuracyCurve, plot_accuracy_curves

    radii = [0, 0.25, 0.5, 0.75, 1.0]
    return plot_accuracy_curves([
        AccuracyCurve("plain CNN", "PGD", radii, [0.98, 0.7, 0.3, 0.1, 0.02]),
        AccuracyCurve("smoothed, σ=0.25", "certified", radii, [0.95, 0.8, 0.45, 0.0, 0.0]),
        AccuracyCurve("smoothed, σ=0.25", "PGD", radii, [0.95, 0.88, 0.7, 0.5, 0.3]),
        AccuracyCurve("smoothed, σ=0.5", "certified", radii, [0.85, 0.65, 0.4, 0.1, 0.0]),
        AccuracyCurve("smoothed, σ=0.5", "PGD", radii, [0.85, 0.75, 0.6, 0.5, 0.35]),
    ], title="certified vs attacked")


def case_patch_training():
    from advcourse.attacks.patch import PatchInfo
    from advcourse.evasion.physical import plot_patch_training

    return plot_patch_training(PatchInfo([9.5, 8.1, 6.0, 4.2, 3.9], [0.0, 0.0, 0.17, 0.5, 0.67]))


def case_patch_sweep():
    from advcourse.evasion.physical import PatchSweep

    return PatchSweep([0.02, 0.05, 0.1, 0.2], [0.1, 0.45, 0.8, 0.97], [0.0, 0.0, 0.02, 0.04], 859, 2).plot(
        "held-out photos, flips and crops")


def case_camera_study():
    from advcourse.core.transforms import CAMERA
    from advcourse.evasion.physical import CameraStudy

    effects = {name: list(strengths) for name, (_, strengths, _) in CAMERA.items()}
    pgd = {name: [1.0, 0.33, 0.17, 0.0] for name in effects}
    eot = {name: [0.67, 1.0, 1.0, 0.83] for name in effects}
    x = _images()
    return CameraStudy(effects, pgd, eot, 16 / 255, 10, 4, x, x).plot()


def case_render_patch():
    from advcourse.widgets.physical import render_patch

    patch = torch.rand(3, 8, 8, generator=torch.Generator().manual_seed(1))
    return render_patch(_toy_model(), _images(), patch, 859, photo=1, area=20, down=0.2, across=0.9, names=NAMES)


def _digits_toy():
    from advcourse.defences.digits import clean_digits_cnn
    from advcourse.models.datasets import load_digits

    digits = load_digits()
    return clean_digits_cnn(), digits.x_test[:16], digits.y_test[:16]


def case_loss_comparison():
    from advcourse.evaluation.losses import compare_losses

    net, x, y = _digits_toy()
    return compare_losses(net, x, y, c=[0.3, 3.0], steps=5, lr=0.05).plot()


def case_render_losses():
    from advcourse.evaluation.losses import LossComparison
    from advcourse.widgets.evaluation import render_losses

    comparison = LossComparison([0.1, 1.0, 10.0], {"margin": [0.1, 0.6, 1.0], "ce": [0.0, 0.4, 1.0]},
                                {"margin": [0.2, 0.4, 0.6], "ce": [math.nan, 0.5, 0.8]},
                                {"margin": [1.0, -0.1, -0.5], "ce": [1.2, 0.2, -3.0]})
    return render_losses(comparison, 1.0)


def case_worst_case():
    from advcourse.evaluation.evaluate import worst_case

    net, x, y = _digits_toy()
    return worst_case(net, x, y, {"FGSM": {"attack": "fgsm", "eps": 0.1},
                                  "APGD-CE": {"attack": "apgd", "eps": 0.1, "steps": 3}}).plot()


def case_plot_checklists():
    from advcourse.evaluation.checklist import Quantise, checklist, plot_checklists

    net, x, y = _digits_toy()
    reports = [checklist(m, x, y, eps=0.15, steps=2, restarts=2, max_queries=5, name=name)
               for m, name in [(net, "adversarial training"), (Quantise(net), "resize & pad, EOT"),
                               (net, "resize & pad"), (Quantise(net), "rounding pixels")]]
    return plot_checklists(reports)


def _query_curves():
    from advcourse.attacks import QueryInfo
    from advcourse.evasion.black_box_study import QueryCurves

    x = _images()
    curves = QueryCurves([1, 2, 5, 10, 20, 50, 100])
    for name, queries in {"Square (L∞ 8/255)": [3, 40, 100], "SimBA-DCT (step 0.2)": [12, 100, 100]}.items():
        q = torch.tensor(queries)
        success = q < 100
        curves.infos[name] = QueryInfo(success, q, torch.ones(N), torch.full((N,), 8 / 255), torch.tensor([0, 1, 2]),
                                       torch.tensor([5, 6, 2]), queries=q)
        curves.x_adv[name] = x
    return curves


def case_query_curves():
    return _query_curves().plot(20)


def case_render_budget():
    from advcourse.widgets.black_box import render_budget

    return render_budget(_query_curves(), _images(), 20, 1, NAMES)


def case_render_budget_digits():
    from advcourse.widgets.black_box import render_budget

    curves = _query_curves()
    curves.images = "digits"
    digits = torch.rand(N, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    curves.x_adv = {name: digits for name in curves.x_adv}
    return render_budget(curves, digits, 20, 0, classes=[str(d) for d in range(10)])


def case_distance_curve():
    from advcourse.evasion.black_box_study import DistanceCurve

    curve = DistanceCurve([30, 100, 300, 1000], [torch.tensor([3.0, 4.0, 5.0]), torch.tensor([2.0, 2.5, 3.0]),
                                                 torch.tensor([1.0, 1.5, 2.5]), torch.tensor([0.6, 0.9, 1.4])])
    return curve.plot()


def case_transfer_table():
    from advcourse.evasion.transfer import TransferTable

    table = TransferTable([4 / 255, 16 / 255], ["lite0", "lite1", "lite2"], {"lite0": 1.0, "lite1": 1.0, "lite2": 1.0})
    for k, attack in enumerate(["FGSM", "PGD", "MI-FGSM", "DI-MI-FGSM"]):
        table.rates[("lite0", attack)] = {"lite0": [0.9, 1.0], "lite1": [0.2 + 0.1 * k, 0.9], "lite2": [0.3, 1.0]}
    return table.plot()


def _poison_sweep():
    from advcourse.poisoning.study import PoisonSweep

    rates = [0.0, 0.01, 0.03, 0.1]
    x = torch.rand(8, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    return PoisonSweep(rates, [0, 13, 40, 135], {"clean accuracy": [0.98, 0.97, 0.99, 0.96],
                                                 "attack success": [0.0, 0.24, 0.98, 1.0]},
                       x, torch.tensor([[1, 2, 3, 4, 5, 6, 7, 8]] * 4) % 10, torch.arange(1, 9) % 10,
                       "BadNets 3×3 backdoor into class 0")


def case_poison_sweep():
    return _poison_sweep().plot()


def case_render_rate():
    from advcourse.widgets.poisoning import render_rate

    return render_rate(_poison_sweep(), 0.03)


def case_defence_table():
    from advcourse.poisoning import BackdoorScores, Detection
    from advcourse.poisoning.study import DEFENCES, DefenceRow, DefenceTable

    rows = []
    for k, name in enumerate(["BadNets 3 %", "blended 3 %", "clean-label 5 %"]):
        after = {d: BackdoorScores(0.9, 0.1 + 0.2 * j + 0.05 * k, 0.5, 223) for j, d in enumerate(DEFENCES)}
        found = {d: Detection(30 - 5 * j, 100 * j + 10, 10 + 5 * j, 1200) for j, d in enumerate(DEFENCES[:3])}
        rows.append(DefenceRow(name, 40, BackdoorScores(0.98, 0.95, 0.02, 223), found, after))
    return DefenceTable(rows).plot()


def case_plot_trigger_key():
    from advcourse.models.nets import DigitsCNN
    from advcourse.poisoning import badnets_trigger
    from advcourse.poisoning.study import plot_trigger_key

    x = torch.rand(8, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    return plot_trigger_key(DigitsCNN(width=4).eval(), x, badnets_trigger())


def _game(n: int = 200, models: int = 3):
    from advcourse.privacy import MembershipGame

    g = torch.Generator().manual_seed(0)
    truth = torch.rand(models * n, generator=g) < 0.5
    scores = {name: torch.randn(models * n, generator=g, dtype=torch.float64) + shift * truth
              for name, shift in (("LiRA", 1.0), ("loss", 0.3))}
    return MembershipGame(scores, truth, 0.9)


def case_plot_roc():
    from advcourse.privacy import plot_roc

    game = _game()
    return plot_roc({name: game.roc(name) for name in ("LiRA", "loss")}, "Membership inference on the digits CNN")


def case_privacy_tradeoff():
    from advcourse.privacy.study import ATTACKS, FPRS, PrivacyTradeoff, TradeoffRow

    rows = [TradeoffRow(eps, acc, {a: {f: tpr for f in FPRS} for a in ATTACKS}, {a: 0.5 for a in ATTACKS}, _game())
            for eps, acc, tpr in ((1.0, 0.35, 0.011), (8.0, 0.85, 0.009), (float("inf"), 0.97, 0.025))]
    return PrivacyTradeoff(rows, 1e-5).plot()


def case_plot_exposure():
    from advcourse.privacy import plot_exposure

    x = torch.rand(40, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    return plot_exposure(x, torch.arange(40) % 10, torch.linspace(-4, 63, 40))


def case_extraction_curve():
    from advcourse.privacy.extraction import ExtractionCurve

    labels = [0.71, 0.81, 0.9, 0.93, 0.955, 0.976, 0.955]
    return ExtractionCurve([25, 50, 100, 200, 400, 800, 1348], [0.82, 0.89, 0.95, 0.958, 0.964, 0.984, 0.982], labels,
                           [0.76, 0.82, 0.9, 0.93, 0.97, 0.978, 0.976], list(labels), 1).plot()


def case_inversion_result():
    from advcourse.models.nets import digits_cnn
    from advcourse.privacy.inversion import inversion_study

    x = torch.rand(20, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    return inversion_study(digits_cnn(seed=0).eval(), x, torch.arange(20) % 10, steps=5).plot()


def case_render_threshold():
    from advcourse.widgets.privacy import render_threshold

    return render_threshold(_game(), 0.01)


CASES: dict[str, Callable[[], Figure]] = {
    name[len("case_"):]: fn for name, fn in dict(globals()).items() if name.startswith("case_")
}


# Figure functions drawn by another one listed above (same code path, other arguments).
COVERED_BY = {
    "AttackResult.figure": "attack_result", "NegativeTradeoff.plot": "negative_tradeoff",
    "History.plot": "plot_histories", "plot_patch_training": "patch_training", "PatchSweep.plot": "patch_sweep",
    "CameraStudy.plot": "camera_study", "LossComparison.plot": "loss_comparison", "WorstCase.plot": "worst_case",
    "ChecklistReport.plot": "plot_checklists", "QueryCurves.plot": "query_curves", "DistanceCurve.plot": "distance_curve",
    "TransferTable.plot": "transfer_table", "PoisonSweep.plot": "poison_sweep", "DefenceTable.plot": "defence_table",
    "PrivacyTradeoff.plot": "privacy_tradeoff", "ExtractionCurve.plot": "extraction_curve",
    "InversionResult.plot": "inversion_result",
}

# Figure functions that only call a styled one (AttackResult.figure keeps matplotlib out of
# ``import advcourse`` and draws with viz.triptych).
DELEGATES = {"AttackResult.figure"}


# ----------------------------------------------------------------------------- the checks
def _drawn_texts(fig: Figure) -> list[Text]:
    """Every text a renderer actually draws (non-empty, visible, tick labels inside the view)."""
    axis_texts, drawn = set(), set()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            for tick in axis.majorTicks + axis.minorTicks:
                axis_texts.update({tick.label1, tick.label2})
            axis_texts.update({axis.label, axis.offsetText})
            if not (ax.axison and axis.get_visible()):
                continue
            for tick in axis._update_ticks():  # the ticks inside the view, as Axis.draw uses them
                drawn.update({t for t in (tick.label1, tick.label2) if t.get_visible()})
            drawn.update({axis.label, axis.offsetText})

    def shown(t: Text) -> bool:
        if not t.get_visible() or not t.get_text().strip() or (t.axes is not None and not t.axes.get_visible()):
            return False
        return t not in axis_texts or t in drawn

    return [t for t in fig.findobj(Text) if shown(t)]


def _draw(fig: Figure):
    """Draw ``fig`` with Agg, as IPython does when it stores a PNG in a notebook."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return canvas.get_renderer()


def _overlap(a: Bbox, b: Bbox, tol: float = 1.0) -> bool:
    return (min(a.x1, b.x1) - max(a.x0, b.x0) > tol) and (min(a.y1, b.y1) - max(a.y0, b.y0) > tol)


def _any_inside(xy: np.ndarray, box: Bbox) -> bool:
    """Does any display point of ``xy`` (M, 2) lie strictly inside ``box``?"""
    return bool(((xy[:, 0] > box.x0) & (xy[:, 0] < box.x1) & (xy[:, 1] > box.y0) & (xy[:, 1] < box.y1)).any())


def _legend_hides_data(fig: Figure, renderer) -> list[str]:
    hidden = [f"figure legend over the axes {ax.get_title()!r}" for legend in fig.legends for ax in fig.axes
              if _overlap(legend.get_window_extent(renderer), ax.get_window_extent(renderer))]
    for ax in fig.axes:
        legend = ax.get_legend()
        if legend is None:
            continue
        box = legend.get_window_extent(renderer)
        inside = ax.get_window_extent(renderer)
        for line in ax.lines:
            xy = line.get_transform().transform(np.column_stack(line.get_data()).astype(float))
            xy = xy[np.isfinite(xy).all(1)]
            if line.get_linestyle() not in ("None", "", " ") and len(xy) > 1:  # the segments too, not just the vertices
                t = np.linspace(0, 1, 25)[:, None, None]
                xy = (xy[:-1] * (1 - t) + xy[1:] * t).reshape(-1, 2)
            keep = (xy[:, 0] >= inside.x0) & (xy[:, 0] <= inside.x1) & (xy[:, 1] >= inside.y0) & (xy[:, 1] <= inside.y1)
            if _any_inside(xy[keep], box):
                hidden.append(f"line {line.get_label()!r}")
        for patch in ax.patches:
            if isinstance(patch, Rectangle) and _overlap(patch.get_window_extent(renderer), box, tol=0.5):
                hidden.append(f"bar {patch.get_label()!r}")
        for coll in ax.collections:
            if not isinstance(coll, Collection) or not len(coll.get_offsets()):
                continue
            if _any_inside(coll.get_offset_transform().transform(np.asarray(coll.get_offsets(), dtype=float)), box):
                hidden.append(f"markers {coll.get_label()!r}")
    return hidden


@pytest.mark.parametrize("name", sorted(CASES))
def test_figure_meets_the_standards(name):
    fig = CASES[name]()
    assert isinstance(fig, viz.CourseFigure), "figures come from viz.new_figure"
    renderer = _draw(fig)
    texts = _drawn_texts(fig)
    assert texts, "a course figure says what it shows"
    small = [(t.get_text(), t.get_fontsize()) for t in texts if t.get_fontsize() < viz.MIN_FONT_PT - 1e-6]
    assert not small, f"text below {viz.MIN_FONT_PT} pt: {small}"
    boxes = [(t, t.get_window_extent(renderer)) for t in texts]
    clashes = [(a.get_text(), b.get_text()) for i, (a, ba) in enumerate(boxes) for b, bb in boxes[i + 1:]
               if _overlap(ba, bb)]
    assert not clashes, f"overlapping texts: {clashes}"
    hidden = _legend_hides_data(fig, renderer)
    assert not hidden, f"a legend covers data: {hidden}"
    for ax in fig.axes:
        for im in ax.images:
            if isinstance(im, AxesImage) and im.get_array().ndim == 2 and im.get_cmap().name != "gray":
                assert im.colorbar is not None or _has_colorbar(fig, im), \
                    f"colour map without a colour bar in {ax.get_title()!r}"
    width = fig.get_tightbbox(renderer).width
    assert width <= MAX_WIDTH_IN, f"{width:.1f} in wide: JupyterLab would shrink its text"


def _has_colorbar(fig: Figure, im: AxesImage) -> bool:
    """True when a colour bar in ``fig`` uses the same colour map and scale as ``im``."""
    for ax in fig.axes:
        cb = getattr(ax, "_colorbar", None)
        if cb is not None and cb.cmap.name == im.get_cmap().name and \
                (cb.norm.vmin, cb.norm.vmax) == (im.norm.vmin, im.norm.vmax):
            return True
    return False


def _figure_functions() -> dict[str, Callable]:
    """Every public function or method of advcourse annotated to return a Figure."""
    found = {}
    for info in pkgutil.walk_packages(advcourse.__path__, "advcourse."):
        if info.name.startswith(("advcourse.exercises", "advcourse.cli")):
            continue
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if name.startswith("_") or getattr(obj, "__module__", None) != info.name:
                continue
            members = [(name, obj)] if inspect.isfunction(obj) else \
                [(f"{name}.{m}", f) for m, f in vars(obj).items() if inspect.isfunction(f) and not m.startswith("_")] \
                if inspect.isclass(obj) else []
            for qual, fn in members:
                if qual == "new_figure":  # the blank canvas every figure function starts from
                    continue
                ret = inspect.signature(fn).return_annotation
                if ret in (Figure, "Figure") or qual == "AttackResult.figure":
                    found[qual] = fn
    return found


def test_every_figure_function_is_styled_and_tested():
    functions = _figure_functions()
    assert len(functions) >= 30
    unstyled = [q for q, fn in functions.items() if not getattr(fn, "course_figure", False) and q not in DELEGATES]
    assert not unstyled, f"figure functions without @viz.figure_function: {unstyled}"
    untested = [q for q in functions if q.split(".")[-1] not in CASES and COVERED_BY.get(q) not in CASES]
    assert not untested, f"figure functions without a case in this file: {untested}"


def test_style_is_not_a_global_side_effect():
    import matplotlib as mpl

    before = dict(mpl.rcParams)
    case_topk_bars()
    assert dict(mpl.rcParams) == before  # the style is on only while a figure is built or drawn


def test_show_digits_draws_digits_and_negatives():
    x = torch.linspace(0, 1, 2 * 8 * 8).view(2, 1, 8, 8)
    fig = viz.show_digits(x, [3, 7])
    images = [ax.images[0] for ax in fig.axes if ax.images]
    assert len(images) == 4
    top, bottom = images[:2], images[2:]
    for i in range(2):
        np.testing.assert_allclose(top[i].get_array(), x[i, 0].numpy())
        np.testing.assert_allclose(bottom[i].get_array(), 1 - x[i, 0].numpy(), atol=1e-6)
    assert [ax.get_title() for ax in fig.axes[:2]] == ["3", "7"]
    assert any(getattr(ax, "_colorbar", None) is not None for ax in fig.axes)
    only = viz.show_digits(x[:, 0], negatives=False)
    assert sum(bool(ax.images) for ax in only.axes) == 2


@pytest.mark.parametrize("bad, message", [
    (torch.zeros(2, 3, 8, 8), "x: expected greyscale digits"),
    (torch.zeros(17, 8, 8), "x: expected 1 to 16 digits"),
    ([[0.0]], "x: expected greyscale digits"),
])
def test_show_digits_bad_input(bad, message):
    with pytest.raises(ValueError, match=message):
        viz.show_digits(bad)


def test_show_digits_label_count():
    with pytest.raises(ValueError, match="y: expected 2 labels"):
        viz.show_digits(torch.zeros(2, 8, 8), [1])


def test_image_grid_wraps_long_titles():
    fig = viz.image_grid(_images()[:2], ["grace_hopper_uniform (random resize & pad)", "short"], ncols=2, size=2.4)
    titles = [ax.get_title() for ax in fig.axes]
    assert "\n" in titles[0] and titles[1] == "short"
    assert titles[0].replace("\n", " ") == "grace_hopper_uniform (random resize & pad)"
