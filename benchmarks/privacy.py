"""Time 13's training: shadow models at once (``torch.func``) vs one by one, and a DP-SGD step vs a plain one.

Not a test: run it by hand and read the ratios (each pair measured in this one run, interleaved)::

    .venv/bin/python benchmarks/privacy.py                     # 16 models on all 1797 digits, 4 epochs
    .venv/bin/python benchmarks/privacy.py --models 64 --threads 2
    .venv/bin/python benchmarks/privacy.py --only dp           # only the DP-SGD step ratio

Shadows: both sides train the same models on exactly the same batches (``train_shadow_models(...,
batched=...)``; tests/test_privacy.py checks they agree to 1e-5), so the ratio is the cost of the
loop, not of different work. DP-SGD: ``dp_train`` at ε = 1 (Opacus: per-example gradients, clipping,
noise, Poisson batches) against the same call without privacy (same model, optimiser, expected batch
size and number of steps), on the 1348 training digits; the ratio is per step, the accountant's
search for the noise multiplier included.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from attacks import interleaved, machine, save_results  # noqa: E402

from advcourse.models.datasets import load_digits  # noqa: E402
from advcourse.privacy import DP_RECIPE, dp_train, train_shadow_models  # noqa: E402


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", type=int, default=16)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--only", choices=["shadows", "dp"], default=None)
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    digits = load_digits()
    x, y = torch.cat([digits.x_train, digits.x_test]), torch.cat([digits.y_train, digits.y_test])

    def run(batched: bool):
        return lambda: train_shadow_models(x, y, n_models=args.models, epochs=args.epochs, batched=batched,
                                           generator=torch.Generator().manual_seed(0), progress=False)

    res = {"machine": machine(), "repeats": args.repeats, "threads": torch.get_num_threads()}
    text = ""
    if args.only in (None, "shadows"):
        seconds = interleaved({"stacked": run(True), "one by one": run(False)}, args.repeats, warmup=False)
        ratio = seconds["one by one"] / seconds["stacked"]
        res["shadows"] = {"models": args.models, "epochs": args.epochs, "seconds": seconds, "speedup": ratio}
        text += (f"{args.models} shadow DigitsCNNs, {args.epochs} epochs on halves of {len(y)} digits, "
                 f"{torch.get_num_threads()} thread(s), median of {args.repeats}:\n\n"
                 f"| stacked (torch.func) | one by one | speed-up |\n|---:|---:|---:|\n"
                 f"| {seconds['stacked']:.1f} s | {seconds['one by one']:.1f} s | {ratio:.2f}× |\n\n")
    if args.only in (None, "dp"):
        res["dp"] = dp_step_ratio(digits.x_train, digits.y_train, args.repeats)
        d = res["dp"]
        text += (f"DP-SGD (Opacus {d['opacus']}, ε = 1, {d['steps']} steps of expected batch {DP_RECIPE['batch_size']}) "
                 f"vs the same training without privacy, {torch.get_num_threads()} thread(s), median of "
                 f"{args.repeats}:\n\n| DP-SGD step | plain step | ratio |\n|---:|---:|---:|\n"
                 f"| {d['ms_per_step']['DP-SGD']:.1f} ms | {d['ms_per_step']['plain']:.1f} ms | {d['ratio']:.2f}× |\n")
    save_results(res, "privacy", text)
    return res


def dp_step_ratio(x: torch.Tensor, y: torch.Tensor, repeats: int) -> dict:
    """Milliseconds per step of ``dp_train`` at ε = 1 and without privacy, and their ratio."""
    import opacus

    steps = DP_RECIPE["epochs"] * math.ceil(len(y) / DP_RECIPE["batch_size"])
    seconds = interleaved({"DP-SGD": lambda: dp_train(x, y, epsilon=1.0),
                           "plain": lambda: dp_train(x, y, epsilon=None)}, repeats, warmup=True)
    ms = {name: 1000 * s / steps for name, s in seconds.items()}
    return {"opacus": opacus.__version__, "steps": steps, "ms_per_step": ms, "ratio": ms["DP-SGD"] / ms["plain"]}


if __name__ == "__main__":
    main()
