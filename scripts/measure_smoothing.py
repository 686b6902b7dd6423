"""Measure randomized smoothing on the digits: certified accuracy against L2 radius, next to PGD.

Rewrites the measured part of docs/smoothing.md (between its ``results`` markers) and its figure,
docs/images/smoothing.png. For each training noise σ
(0 = the plain digits CNN) one seeded ``DigitsCNN`` is trained with
:func:`advcourse.defences.smoothing.train_digits_cnn`; on the whole test split it then measures:

* the base classifier alone under L2 PGD (``eps = r``, 20 steps, random start);
* for σ > 0, the smoothed classifier: certified accuracy (``certify``: n0 = 100, ``--n`` draws,
  alpha = 0.001) and accuracy under L2 PGD with EOT over the noise (8 draws per step), scored by
  ``predict`` (``--n`` draws, alpha = 0.001; abstentions count as wrong).

Run: ``OMP_NUM_THREADS=1 .venv/bin/python scripts/measure_smoothing.py [--n 1000] [--threads 1]``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from scipy import stats

from advcourse.models.datasets import load_digits
from advcourse.defences.smoothing import (
    AccuracyCurve, certified_accuracy, certify, pgd_accuracy, plot_accuracy_curves, train_digits_cnn,
)

ROOT = Path(__file__).resolve().parents[1]
RADII = [0.0, 0.25, 0.5, 0.75, 1.0]
SIGMAS = [0.0, 0.25, 0.5]
STEPS, EOT_SAMPLES, ALPHA, N0 = 20, 8, 0.001, 100
BEGIN, END = "<!-- results: written by scripts/measure_smoothing.py -->", "<!-- end of results -->"


def _seed(s: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(s)


def measure(n: int, images: int) -> tuple[list[AccuracyCurve], list[AccuracyCurve], int]:
    """The table's curves (in its order), the figure's curves and the number of test digits used."""
    digits = load_digits()
    x, y = digits.x_test[:images], digits.y_test[:images]
    curves, drawn = [], []
    for sigma in SIGMAS:
        net = train_digits_cnn(sigma)
        name = "plain CNN" if sigma == 0 else f"noise-trained σ={sigma:g}"
        curves.append(pgd_accuracy(net, x, y, RADII, steps=STEPS, label=f"{name}, alone", generator=_seed()))
        if sigma == 0:
            drawn.append(curves[-1])
            continue
        cert = certify(net, x, sigma=sigma, n0=N0, n=n, alpha=ALPHA, generator=_seed())
        curves.append(certified_accuracy(cert, y, RADII, label=f"smoothed σ={sigma:g}"))
        drawn.append(certified_accuracy(cert, y, torch.linspace(0, RADII[-1], 101).tolist(), label=curves[-1].label))
        curves.append(pgd_accuracy(net, x, y, RADII, steps=STEPS, sigma=sigma, eot_samples=EOT_SAMPLES, n=n,
                                   alpha=ALPHA, label=f"smoothed σ={sigma:g}", generator=_seed()))
        drawn.append(curves[-1])
    return curves, drawn, x.shape[0]


def table(curves: list[AccuracyCurve]) -> str:
    head = "| classifier | measured by | " + " | ".join(f"r = {r:g}" for r in RADII) + " |"
    rule = "|---|---|" + "---:|" * len(RADII)
    what = {"certified": "certificate (proof)", "PGD": "L2 PGD (attack)"}
    rows = [f"| {c.label} | {what[c.kind]} | " + " | ".join(f"{a:.1%}" for a in c.accuracy) + " |" for c in curves]
    return "\n".join([head, rule, *rows])


def _proof_vs_attack(curves: list[AccuracyCurve]) -> str:
    """Does each certified row stay at or below the attacked row of the same smoothed classifier?"""
    pairs = [(c, a) for c in curves for a in curves
             if c.label == a.label and c.kind == "certified" and a.kind == "PGD"]
    held = all(p <= q for c, a in pairs for p, q in zip(c.accuracy, a.accuracy))
    verdict = "holds" if held else "FAILS (a certificate is wrong, or the alpha chance struck)"
    return f"Certified accuracy <= attacked accuracy of the same smoothed classifier at every radius: {verdict}."


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1000, help="noise draws per image for certify and predict")
    ap.add_argument("--images", type=int, default=449, help="test digits (449 = the whole test split)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "smoothing.md")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    curves, drawn, images = measure(args.n, args.images)
    took = time.perf_counter() - start
    figure = ROOT / "docs" / "images" / "smoothing.png"
    plot_accuracy_curves(drawn, title=f"digits test split, {images} images").savefig(figure)
    text = f"""{images} test digits (one digit = {100 / images:.2f} points); accuracy at each L2 radius r (pixel
units; a digit's own L2 norm is about {float(load_digits().x_test.flatten(1).norm(dim=1).mean()):.1f}).
Certificates: n0 = {N0}, n = {args.n}, alpha = {ALPHA}; PGD: {STEPS} steps of 2.5·r/{STEPS}, random
start, one run; smoothed PGD: EOT over {EOT_SAMPLES} noise draws per step, scored by `predict` with
n = {args.n} (abstain = wrong). With n = {args.n} no certificate can exceed
σ·Φ⁻¹(alpha^(1/n)) = {stats.norm.ppf(ALPHA ** (1 / args.n)):.2f}·σ.

{table(curves)}

{_proof_vs_attack(curves)}

![certified and attacked accuracy against L2 radius](images/smoothing.png)

Measured in {took:.0f} s on {args.threads} CPU thread(s). Reproduce:
`OMP_NUM_THREADS=1 .venv/bin/python scripts/measure_smoothing.py --n {args.n} --images {images}`
(rewrites this section and the figure).
"""
    page = args.out.read_text() if args.out.exists() else f"{BEGIN}\n{END}\n"
    if BEGIN not in page or END not in page:
        raise SystemExit(f"{args.out}: expected the markers {BEGIN!r} and {END!r} around the measured section")
    head, rest = page.split(BEGIN, 1)
    args.out.write_text(f"{head}{BEGIN}\n{text}{END}{rest.split(END, 1)[1]}")
    print(text)


if __name__ == "__main__":
    main()
