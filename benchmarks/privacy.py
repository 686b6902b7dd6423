"""Time training many shadow models at once (``torch.func``) against training them one by one.

Not a test: run it by hand and read the ratio (both measured in this one run, interleaved)::

    .venv/bin/python benchmarks/privacy.py                     # 16 models on all 1797 digits, 4 epochs
    .venv/bin/python benchmarks/privacy.py --models 64 --threads 2

Both sides train the same models on exactly the same batches (``train_shadow_models(..., batched=...)``;
tests/test_privacy.py checks they agree to 1e-5), so the ratio is the cost of the loop, not of
different work.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from attacks import interleaved, machine, save_results  # noqa: E402

from advcourse.models.datasets import load_digits  # noqa: E402
from advcourse.privacy import train_shadow_models  # noqa: E402


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", type=int, default=16)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    digits = load_digits()
    x, y = torch.cat([digits.x_train, digits.x_test]), torch.cat([digits.y_train, digits.y_test])

    def run(batched: bool):
        return lambda: train_shadow_models(x, y, n_models=args.models, epochs=args.epochs, batched=batched,
                                           generator=torch.Generator().manual_seed(0), progress=False)

    seconds = interleaved({"stacked": run(True), "one by one": run(False)}, args.repeats, warmup=False)
    ratio = seconds["one by one"] / seconds["stacked"]
    res = {"machine": machine(), "models": args.models, "epochs": args.epochs, "repeats": args.repeats,
           "seconds": seconds, "speedup": ratio}
    text = (f"{args.models} shadow DigitsCNNs, {args.epochs} epochs on halves of {len(y)} digits, "
            f"{torch.get_num_threads()} thread(s), median of {args.repeats}:\n\n"
            f"| stacked (torch.func) | one by one | speed-up |\n|---:|---:|---:|\n"
            f"| {seconds['stacked']:.1f} s | {seconds['one by one']:.1f} s | {ratio:.2f}× |\n")
    save_results(res, "privacy", text)
    return res


if __name__ == "__main__":
    main()
