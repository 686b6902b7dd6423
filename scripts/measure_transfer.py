"""Measure how well attacks made on Lite0 (and on a Lite0+Lite1 ensemble) transfer to Lite1 and Lite2.

Writes docs/transfer.md with the tables of :func:`advcourse.evasion.transfer.transfer_table`. The attacker
differentiates only the surrogate(s); Lite2 is never touched by any attack. Run:
``.venv/bin/python scripts/measure_transfer.py [--photos 8] [--threads 2]``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from advcourse import load_model, load_samples
from advcourse.evasion.transfer import Ensemble, transfer_table

EPS = [4 / 255, 16 / 255]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--photos", type=int, default=8)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    photos = load_samples()
    x, accepted = photos.x[: args.photos], photos.accepted[: args.photos]
    lite = {n: load_model(f"efficientnet_lite{n[-1]}", device="cpu") for n in ("lite0", "lite1", "lite2")}
    # The attacks push away from Lite0's own answer (right for every photo, e.g. "Egyptian cat" for
    # the tabby): pushing away from the file's label alone could end on a near-synonym, still right.
    with torch.no_grad():
        y = lite["lite0"](x).argmax(1)
    start = time.perf_counter()
    single = transfer_table({"lite0": lite["lite0"]}, lite, x, y, eps=EPS, accepted=accepted)
    ensemble = transfer_table({"lite0+lite1": Ensemble([lite["lite0"], lite["lite1"]])}, {"lite2": lite["lite2"]},
                              x, y, eps=EPS, attacks=["PGD", "MI-FGSM", "DI-MI-FGSM"], accepted=accepted)
    took = time.perf_counter() - start
    clean = ", ".join(f"{v} {a:.0%}" for v, a in single.clean.items())
    text = f"""# Transfer attacks between the offline models

Each cell: of the photos a victim classifies right, the share it gets wrong after an L∞ attack made
on the surrogate alone (`advcourse.evasion.transfer.transfer_table`; untargeted, away from Lite0's answer; 10
steps for PGD and MI-FGSM, DI with probability 0.5). The surrogate's own column is the white-box
rate; the others never saw a gradient. {args.photos} shipped photos (clean accuracy: {clean}), so
one photo is {100 / args.photos:.1f} points: read the table for its large differences only.

## Surrogate Lite0

```
{single}
```

## Surrogate: the Lite0 + Lite1 ensemble (average of logits), victim Lite2

```
{ensemble}
```

Measured in {took:.0f} s on the course machine's CPU. Reproduce:
`.venv/bin/python scripts/measure_transfer.py --photos {args.photos}` (rewrites this file).
"""
    out = Path(__file__).resolve().parents[1] / "docs" / "transfer.md"
    out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
