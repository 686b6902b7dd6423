"""Train the adversarial patch that ships with the course, and write it with its recipe.

Writes ``advcourse/data/patches/<name>.pt`` (the (3, size, size) patch, float32 in [0, 1]) and
``<name>.json`` beside it: the recipe (seed, steps, lr, EOT ranges, model), the photo split (the
photos it was trained on and the ones held out for evaluation), the torch version, the run time,
the loss at the first steps (``tests/test_patch.py`` re-runs them and compares) and at the end.

Everything is seeded: one ``torch.Generator`` draws the starting noise, the photo split and every
random placement. Run on the CPU, one thread (about 1 s a step for 12 photos on a quiet machine):

    OMP_NUM_THREADS=1 python scripts/train_patches.py            # the shipped patch
    OMP_NUM_THREADS=1 python scripts/train_patches.py --steps 5 --dry-run   # first steps only, writes nothing
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from advcourse import load_model
from advcourse.attacks.patch import PATCH_DIR, PatchInfo, train_patch
from advcourse.models.images import load_samples, samples
from advcourse.models.labels import class_index

#: The shipped patch's recipe. ``recorded_steps`` losses are stored for the reproducibility test.
RECIPE = {
    "name": "toaster",
    "target": "toaster",
    "model": "efficientnet_lite0",
    "seed": 0,
    "train_photos": 12,  # of the 20 shipped photos; the other 8 are held out
    "size": 64,
    "steps": 300,
    "lr": 0.05,
    "scale": [0.05, 0.12],
    "angle": [-20.0, 20.0],
    "brightness": [0.8, 1.2],
    "samples": 1,
    "recorded_steps": 5,
}


def split(seed: int, train_photos: int) -> tuple[list[str], list[str]]:
    """A seeded split of the shipped photos: (training names, held-out names), each in file order."""
    names = samples()
    order = torch.randperm(len(names), generator=torch.Generator().manual_seed(seed)).tolist()
    train = sorted(order[:train_photos])
    return [names[i] for i in train], [names[i] for i in range(len(names)) if i not in train]


def run(recipe: dict, steps: int | None = None, progress: bool = True) -> tuple[torch.Tensor, PatchInfo]:
    """Train the patch of ``recipe`` on its training photos (``steps`` overrides the recipe's count)."""
    train, _ = split(recipe["seed"], recipe["train_photos"])
    model = load_model(recipe["model"], device="cpu")
    x = load_samples(train).x
    generator = torch.Generator().manual_seed(recipe["seed"])
    return train_patch(model, x, class_index(recipe["target"]), size=recipe["size"],
                       steps=recipe["steps"] if steps is None else steps, lr=recipe["lr"],
                       scale=tuple(recipe["scale"]), angle=tuple(recipe["angle"]),
                       brightness=tuple(recipe["brightness"]), samples=recipe["samples"],
                       generator=generator, progress=progress, return_info=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=None, help="override the recipe's step count")
    ap.add_argument("--dry-run", action="store_true", help="train and print the losses, write nothing")
    ap.add_argument("--out", type=Path, default=PATCH_DIR)
    args = ap.parse_args()
    recipe = dict(RECIPE, steps=args.steps or RECIPE["steps"])
    start = time.perf_counter()
    patch, info = run(recipe)
    took = time.perf_counter() - start
    k = recipe["recorded_steps"]
    print(f"{recipe['steps']} steps in {took:.0f} s; first losses {[round(v, 4) for v in info.losses[:k]]}, "
          f"last 20 steps: loss {sum(info.losses[-20:]) / 20:.3f}, hit rate {sum(info.hits[-20:]) / 20:.0%}")
    if args.dry_run:
        return
    train, held_out = split(recipe["seed"], recipe["train_photos"])
    record = dict(recipe, train=train, held_out=held_out, torch=torch.__version__,
                  threads=torch.get_num_threads(), device="cpu", seconds=round(took),
                  first_losses=info.losses[:k], final_loss=sum(info.losses[-20:]) / 20,
                  final_hit_rate=sum(info.hits[-20:]) / 20)
    args.out.mkdir(parents=True, exist_ok=True)
    torch.save(patch.to(torch.float32).contiguous(), args.out / f"{recipe['name']}.pt")
    (args.out / f"{recipe['name']}.json").write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {args.out / recipe['name']}.pt and .json")


if __name__ == "__main__":
    main()
