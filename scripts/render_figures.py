"""Draw the course's main figures with the package as it is now, for docs/figures.md.

Each figure is made by the same call its notebook makes (embedded model, shipped photos, one
thread) and saved the way IPython stores it in a notebook (the figure's dpi, tight bounding box),
then reduced to a 256-colour PNG so the docs stay small. Nothing re-executes a notebook.

    python scripts/render_figures.py              # all, into docs/images/figures/<name>-after.png
    python scripts/render_figures.py --before     # the same figures as the notebooks store them now
    python scripts/render_figures.py goal landing # only these
"""

from __future__ import annotations

import argparse
import base64
import io
import json
from pathlib import Path
from typing import Callable

import torch

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "images" / "figures"

# name -> (notebook, cell id or index whose stored PNG is the "before" picture)
STORED = {
    "goal": ("01_threat_models", "44083fc5"), "knowledge": ("01_threat_models", "51a907ce"),
    "noise-histograms": ("02_noise", "1b66f5eb"), "negatives": ("03_semantic", 10),
    "blend": ("03_semantic", 20), "saliency": ("04_gradients", 19), "sign-vs-random": ("04_gradients", 21),
    "landing": ("05_fgsm", "5ac56b50"), "norms": ("05_fgsm", "6041ccba"),
    "distances": ("07_deepfool", "1c7fc248"), "accuracy": ("07_deepfool", "eb8c6b89"),
    "resize-pad": ("08_defences", "915bcf43"),
}


def _small_png(png: bytes, path: Path) -> None:
    from PIL import Image

    img = Image.open(io.BytesIO(png)).convert("RGB").quantize(256)
    img.save(path, optimize=True)


def _stored_png(notebook: str, cell: str | int) -> bytes:
    nb = json.loads((ROOT / "notebooks" / f"{notebook}.ipynb").read_text())
    cells = nb["cells"]
    c = cells[cell] if isinstance(cell, int) else next(c for c in cells if c.get("id") == cell)
    pngs = [o["data"]["image/png"] for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    return base64.b64decode(pngs[-1])


def _figures() -> dict[str, Callable]:
    from advcourse import load_model, load_samples

    cache: dict[str, object] = {}

    def model():
        if "model" not in cache:
            cache["model"] = load_model(device="cpu")
            cache["photos"] = load_samples()
        return cache["model"]

    def photos():
        model()
        return cache["photos"]

    def goal():
        from advcourse.foundations.threat_models import goal_figure
        return goal_figure()

    def knowledge():
        from advcourse.foundations.threat_models import knowledge_figure
        return knowledge_figure()

    def noise_histograms():
        from advcourse.foundations.noise_study import noise_histograms as fig
        return fig(16 / 255, 16 / 255)

    def negatives():
        from advcourse.widgets.semantic import negation_table, show_negatives
        table = negation_table(model(), photos())
        return show_negatives(photos(), table, table.failures() + ["binoculars", "brown_bear", "stethoscope"])

    def blend():
        from advcourse.widgets.semantic import blend_path, render_blend
        p = photos()
        i = p.names.index("peacock")
        path = blend_path(model(), p.x[i:i + 1], int(p.y[i]), sorted(p.accepted[i]), steps=21)
        return render_blend(p.x[i:i + 1], path, path.first_wrong(), title="peacock")

    def saliency():
        from advcourse.foundations.explain import show_saliency
        p = photos()
        sel = [p.names.index(n) for n in ["chelsea_cat", "flamingo", "binoculars", "mantis"]]
        return show_saliency(model(), p.x[sel], p.y[sel])

    def sign_vs_random():
        from advcourse.foundations.calculus import show_step_comparison, sign_vs_random as compare
        p = photos()
        cmp = compare(model(), p.x, p.y, eps=1 / 255, generator=torch.Generator().manual_seed(0))
        return show_step_comparison(cmp, p.names)

    def _fgsm_y():
        with torch.no_grad():
            return model()(photos().x).argmax(1)

    def landing():
        from advcourse.widgets import fgsm as lesson
        y = _fgsm_y()
        sweep = lesson.sweep(model(), photos().x, y, [0, 1 / 255], attack="fgsm")
        return lesson.show_landing(lesson.landing(sweep, y, eps=1 / 255), y, photos().names)

    def norms():
        from advcourse.attacks import fgsm
        from advcourse.widgets import fgsm as lesson
        x0, y0 = photos().x[:1], _fgsm_y()[:1]
        delta_inf = fgsm(model(), x0, y0, eps=2 / 255) - x0
        eps_l2 = float(delta_inf.norm())
        delta_l2 = fgsm(model(), x0, y0, eps=eps_l2, norm=2) - x0
        return lesson.show_norms(x0, {"L∞ step, eps = 2/255": delta_inf, f"L2 step, eps = {eps_l2:.2f}": delta_l2})

    def distances():
        from advcourse.evasion import geometry
        from advcourse.attacks import deepfool
        from advcourse.foundations.explain import gradient_sign
        from advcourse.widgets import deepfool as lesson
        x, y = photos().x, _fgsm_y()
        _, info = deepfool(model(), x, y, num_classes=4, overshoot=0.02, max_iter=50, return_info=True)
        grid = [k / 255 for k in (0.25, 0.5, 1, 2, 4, 8, 16)]
        first = geometry.first_crossing(model(), x, y, gradient_sign(model(), x, y), grid)
        return lesson.show_distances(photos().names, {"DeepFool": info.l2, "FGSM, smallest eps that works": first.l2},
                                     grid_max=grid[-1] * x[0].numel() ** 0.5)

    def accuracy():
        from advcourse.evaluation.evaluate import Report, Table
        from advcourse.widgets import deepfool as lesson
        # the robust accuracies 07_deepfool measures on the 20 photos (its stored table)
        measured = {"noise": 0.95, "semantic": 0.85, "FGSM": 0.20, "PGD": 0.0, "DeepFool": 0.0}
        nan = float("nan")
        return lesson.accuracy_figure(Table([Report(k, 20, 1.0, v, nan, nan, nan, nan, nan)
                                             for k, v in measured.items()]))

    def resize_pad():
        from advcourse.defences import RandomResizePad
        from advcourse.core.viz import image_grid
        p = photos()
        defended = RandomResizePad(model(), generator=torch.Generator().manual_seed(0))
        return image_grid(defended.transform(p.x[:4]), [f"{n} (random resize & pad)" for n in p.names[:4]], ncols=4)

    def digits():
        from advcourse.models.datasets import load_digits
        from advcourse.core.viz import show_digits
        d = load_digits()
        return show_digits(d.x_test[:8], d.y_test[:8])

    return {"goal": goal, "knowledge": knowledge, "noise-histograms": noise_histograms, "negatives": negatives,
            "blend": blend, "saliency": saliency, "sign-vs-random": sign_vs_random, "landing": landing,
            "norms": norms, "distances": distances, "accuracy": accuracy, "resize-pad": resize_pad,
            "digits": digits}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="figures to draw (default: all)")
    parser.add_argument("--before", action="store_true", help="copy the notebooks' stored PNGs instead")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    if args.before:
        for name in args.names or STORED:
            _small_png(_stored_png(*STORED[name]), OUT / f"{name}-before.png")
            print(f"{name}-before.png")
        return
    figures = _figures()
    for name in args.names or figures:
        fig = figures[name]()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=fig.dpi, bbox_inches="tight")
        _small_png(buf.getvalue(), OUT / f"{name}-after.png")
        print(f"{name}-after.png")


if __name__ == "__main__":
    main()
