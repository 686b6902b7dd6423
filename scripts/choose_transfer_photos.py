"""Choose the photos of 09_black_box's transfer table where no result sits on a knife edge.

The table in notebook 09 reports, for six photos, which of them each attack crafted on Lite0 fools on
Lite0, Lite1 and Lite2, at 4/255 and 16/255. With six photos one photo is 17 points of a rate, so a
photo whose victim barely decides (its right class and its best wrong class almost tied on the
adversarial image) can flip on a learner's CPU and change a printed rate. This script measures, for
every shipped photo, every attack, budget and victim, the victim's *margin* on the adversarial image:
the best logit among the photo's right classes minus the best among the others (positive: still
right, negative: fooled). It does so on three machines — this CPU, and the two nudged machines of
the knife-edge audit (``tests/startup/cpu_nudge.py``) — and ranks the photos by their smallest
``|margin|`` over all their results, also reporting any outcome that differs between the machines.

    .venv/bin/python scripts/choose_transfer_photos.py [--threads 2]

Writes ``benchmarks/results/transfer_photos.json`` and prints the ranking; notebook 09 uses the six
photos at the top whose results hold on every machine (it names them).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "startup"))
import cpu_nudge  # noqa: E402

from advcourse import load_model, load_samples  # noqa: E402
from advcourse.evasion.transfer import TRANSFER_ATTACKS  # noqa: E402

EPS = [4 / 255, 16 / 255]
MACHINES = [0, 1, 2]  # 0: this CPU as it is; 1, 2: the audit's nudges


def margins(model: torch.nn.Module, x: torch.Tensor, accepted: list[set[int]]) -> torch.Tensor:
    """(N,) best logit among each image's right classes minus the best among the others."""
    with torch.no_grad():
        z = model(x)
    right = torch.zeros_like(z, dtype=torch.bool)
    for i, ok in enumerate(accepted):
        right[i, sorted(ok)] = True
    return z.masked_fill(~right, -torch.inf).amax(1) - z.masked_fill(right, -torch.inf).amax(1)


def measure(seed: int, x: torch.Tensor, y: torch.Tensor, accepted: list[set[int]], lite: dict) -> dict[str, list]:
    """result name -> per-photo victim margin, on the machine of nudge ``seed`` (0: none)."""
    with cpu_nudge.machine(seed):
        out = {f"clean → {v}": margins(m, x, accepted).tolist() for v, m in lite.items()}
        for attack, fn in TRANSFER_ATTACKS.items():
            for eps in EPS:
                x_adv = fn(lite["lite0"], x, y, eps, torch.Generator().manual_seed(0))
                for v, m in lite.items():
                    out[f"{attack} {eps * 255:.0f}/255 → {v}"] = margins(m, x_adv, accepted).tolist()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    photos = load_samples()
    lite = {f"lite{k}": load_model(f"efficientnet_lite{k}") for k in (0, 1, 2)}
    with torch.no_grad():
        y = lite["lite0"](photos.x).argmax(1)  # as in notebook 09: away from the surrogate's own answers
    runs = {seed: measure(seed, photos.x, y, photos.accepted, lite) for seed in MACHINES}
    ranking = []
    for i, name in enumerate(photos.names):
        results = {r: [runs[s][r][i] for s in MACHINES] for r in runs[0]}
        worst = min(min(abs(m) for m in ms) for ms in results.values())
        flips = [r for r, ms in results.items() if len({m > 0 for m in ms}) > 1]
        tight = min(results, key=lambda r: min(abs(m) for m in results[r]))
        clean_right = all(results[f"clean → {v}"][0] > 0 for v in lite)
        ranking.append({"photo": name, "index": i, "smallest_margin": worst, "at": tight, "flips": flips,
                        "read_right_by_all": clean_right})
    ranking.sort(key=lambda r: -r["smallest_margin"])
    out = ROOT / "benchmarks" / "results" / "transfer_photos.json"
    out.write_text(json.dumps({"machines": MACHINES, "ranking": ranking, "runs": runs}, indent=1))
    print(f"{'photo':<18} {'index':>5} {'smallest |margin|':>17}  at (attack budget -> victim)  flips between machines")
    for r in ranking:
        ok = "" if r["read_right_by_all"] else "  (a model misreads it clean)"
        print(f"{r['photo']:<18} {r['index']:>5} {r['smallest_margin']:>17.3f}  {r['at']:<28} {r['flips'] or ''}{ok}")
    print(f"written: {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
