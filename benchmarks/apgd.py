"""Time the course's APGD against the authors' own ``autoattack`` APGDAttack at equal steps.

Not a test: run it by hand and read the ratio (measured in this one run)::

    .venv/bin/python benchmarks/apgd.py                 # writes benchmarks/results/apgd-<date>.{json,md}
    .venv/bin/python benchmarks/apgd.py --steps 100 --repeats 5 --threads 1

On the course's digits CNN (``defences.digits.clean_digits_cnn``) and the first
``--digits`` test digits, both attacks run ``--steps`` steps, one restart, the same eps, norm and
loss, attacking the true labels. Reported per setting: the median wall time of each over
``--repeats`` interleaved rounds, the ratio ours / reference, and both robust accuracies.
The reference only attacks the digits the model gets right; ours attacks all of them.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from attacks import save_results  # noqa: E402

from advcourse.attacks import apgd  # noqa: E402

SETTINGS = [("Linf", 0.1, "ce"), ("Linf", 0.1, "dlr"), ("L2", 0.5, "ce"), ("L2", 0.5, "dlr")]


def digits_model(n: int):
    """(model, x, y): the trained DigitsCNN and ``n`` test digits with their true labels."""
    from advcourse.defences.digits import clean_digits_cnn
    from advcourse.models.datasets import load_digits

    digits = load_digits()
    return clean_digits_cnn(), digits.x_test[:n], digits.y_test[:n]


def _timed(fn) -> tuple[float, torch.Tensor]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def run_setting(net, x, y, norm: str, eps: float, loss: str, steps: int, repeats: int) -> dict:
    from autoattack.autopgd_pt import APGDAttack

    p = float("inf") if norm == "Linf" else 2.0
    ours_t, ref_t = [], []
    for r in range(repeats):  # interleaved, so load changes hit both
        t, x_ours = _timed(lambda: apgd(net, x, y, eps=eps, steps=steps, loss=loss, norm=p,
                                        generator=torch.Generator().manual_seed(r)))
        ours_t.append(t)
        ref = APGDAttack(net, n_iter=steps, norm=norm, eps=eps, loss=loss, n_restarts=1, seed=r, device="cpu")
        t, (_, x_ref) = _timed(lambda: ref.perturb(x, y, cheap=True))
        ref_t.append(t)
    with torch.no_grad():
        robust = [int((net(a).argmax(1) == y).sum()) for a in (x_ours, x_ref)]
    ours, theirs = statistics.median(ours_t), statistics.median(ref_t)
    return {"norm": norm, "eps": eps, "loss": loss, "ours_s": ours, "reference_s": theirs,
            "ratio": ours / theirs, "ours_robust": robust[0], "reference_robust": robust[1]}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--digits", type=int, default=128)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", category=UserWarning)  # the reference's deprecated loss arguments
    net, x, y = digits_model(args.digits)
    with torch.no_grad():
        correct = int((net(x).argmax(1) == y).sum())
    rows = [run_setting(net, x, y, *s, args.steps, args.repeats) for s in SETTINGS]
    res = {"digits": args.digits, "correct": correct, "steps": args.steps, "repeats": args.repeats,
           "threads": torch.get_num_threads(), "torch": torch.__version__, "rows": rows}
    lines = [f"APGD vs autoattack APGDAttack: DigitsCNN, {args.digits} digits ({correct} right), "
             f"{args.steps} steps, 1 restart, median of {args.repeats} interleaved rounds, "
             f"{res['threads']} thread(s)", "",
             "| norm | eps | loss | ours | reference | ratio | robust ours / reference |",
             "|---|---:|---|---:|---:|---:|---:|"]
    lines += [f"| {r['norm']} | {r['eps']:g} | {r['loss']} | {r['ours_s']:.2f} s | {r['reference_s']:.2f} s | "
              f"{r['ratio']:.2f}× | {r['ours_robust']} / {r['reference_robust']} |" for r in rows]
    save_results(res, "apgd", "\n".join(lines) + "\n")
    return res


if __name__ == "__main__":
    main()
