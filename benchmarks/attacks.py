"""Time the course's attacks against the physical limit and against torchattacks / foolbox.

Not a test: run it by hand and read the ratios (all measured in this one run)::

    .venv/bin/python benchmarks/attacks.py                 # writes benchmarks/results/attacks-<date>.{json,md}
    .venv/bin/python benchmarks/attacks.py --repeats 5 --threads 2

What it measures:

1. FGSM and PGD-k on the embedded EfficientNet-Lite0 at batch 8 (224 px), as a ratio to k × one
   forward+backward pass to the input (the least any gradient attack can cost); torchattacks'
   and foolbox's FGSM / PGD beside ours.
2. DeepFool at batch 8 on the embedded model: ours vs foolbox ``L2DeepFoolAttack(candidates=10)``.
3. DeepFool at batch 32 on two small 10-class CNNs: ours vs torchattacks and foolbox, with success
   rate and median L2. ``deepfool_digits`` is the course's one digits model
   (``defences.digits.clean_digits_cnn``, via ``references.digits_victim``) on 32 test digits;
   ``deepfool_cnn`` is ``_toy.tiny_cnn`` (random weights) on 32 random 3×32×32 images.
4. DeepFool per image on the ImageNet model vs torchattacks' DeepFool, which takes one backward
   pass per class (1000) per iteration for one image at a time. Running it to the end takes many
   minutes, so by default the peer's time is a measured lower bound: ``1000 ×`` the median of one
   of its backward passes at batch 1 (what a single iteration costs at the very least); ``--full``
   runs torchattacks' DeepFool on 1 image instead.

Timing: every contender is warmed up once, then the contenders take turns (interleaved) for
``--repeats`` rounds and the median is kept, so a busy machine slows them all alike.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from advcourse import load_model, load_samples  # noqa: E402
from advcourse.attacks import deepfool, fgsm, pgd  # noqa: E402
from advcourse.attacks._core import per_sample_norm  # noqa: E402
from advcourse.attacks._toy import tiny_cnn  # noqa: E402
from references import digits_victim  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def interleaved(contenders: dict[str, Callable[[], object]], repeats: int, warmup: bool = True) -> dict[str, float]:
    """Median seconds per call of each contender: one warm-up each, then ``repeats`` interleaved rounds."""
    for fn in contenders.values() if warmup else ():
        fn()
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, fn in contenders.items():
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    return {name: statistics.median(ts) for name, ts in times.items()}


def forward_backward(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> Callable[[], torch.Tensor]:
    """The physical limit of one gradient step: one forward and one backward pass to the input."""
    def run() -> torch.Tensor:
        x_in = x.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(F.cross_entropy(model(x_in), y, reduction="sum"), x_in)
        return g
    return run


def frozen_copy_of_flags(model: torch.nn.Module) -> None:
    """The baseline runs with the parameters frozen, as inside the attacks (no weight gradients)."""
    for p in model.parameters():
        p.requires_grad_(False)


def frozen_digits(n: int = 32) -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor]:
    """The course's digits model (parameters frozen), its first ``n`` test digits and its own answers."""
    net, x, y = digits_victim(n)
    frozen_copy_of_flags(net)
    return net, x, y


def fgsm_pgd(model, x, y, steps: int, repeats: int) -> list[dict]:
    import foolbox as fb
    import torchattacks

    fmodel = fb.PyTorchModel(model, bounds=(0, 1))
    eps, alpha = 4 / 255, 1 / 255
    ta_fgsm, ta_pgd = torchattacks.FGSM(model, eps=eps), torchattacks.PGD(model, eps=eps, alpha=alpha, steps=steps,
                                                                          random_start=False)
    fb_fgsm, fb_pgd = fb.attacks.FGSM(), fb.attacks.LinfPGD(abs_stepsize=alpha, steps=steps, random_start=False)
    one = forward_backward(model, x, y)

    def k_times() -> None:
        for _ in range(steps):
            one()
    t = interleaved({
        "fwd+bwd": one,
        "k x fwd+bwd": k_times,
        "ours FGSM": lambda: fgsm(model, x, y, eps=eps),
        "torchattacks FGSM": lambda: ta_fgsm(x, y),
        "foolbox FGSM": lambda: fb_fgsm(fmodel, x, y, epsilons=eps),
        "ours PGD": lambda: pgd(model, x, y, eps=eps, step_size=alpha, steps=steps, random_start=False),
        "torchattacks PGD": lambda: ta_pgd(x, y),
        "foolbox PGD": lambda: fb_pgd(fmodel, x, y, epsilons=eps),
    }, repeats)
    rows = []
    for who in ("ours", "torchattacks", "foolbox"):
        rows.append({"what": f"{who} FGSM", "seconds": t[f"{who} FGSM"], "limit_seconds": t["fwd+bwd"],
                     "ratio_to_limit": t[f"{who} FGSM"] / t["fwd+bwd"]})
        rows.append({"what": f"{who} PGD-{steps}", "seconds": t[f"{who} PGD"], "limit_seconds": t["k x fwd+bwd"],
                     "ratio_to_limit": t[f"{who} PGD"] / t["k x fwd+bwd"]})
    return rows


def deepfool_runs(model, x, y, repeats: int, with_torchattacks: bool, warmup: bool = True) -> dict:
    """Time and quality of DeepFool: ours vs foolbox (and torchattacks on small models).

    Each peer is timed in its own interleaved pair with ours, so one peer's run (torchattacks'
    per-image Jacobians allocate thousands of small tensors) cannot slow the other pair's timings.
    """
    import foolbox as fb
    import torchattacks

    fmodel = fb.PyTorchModel(model, bounds=(0, 1))
    fb_df = fb.attacks.L2DeepFoolAttack(steps=50, candidates=10, overshoot=0.02)
    out: dict[str, torch.Tensor] = {}
    peers = {"foolbox": lambda: out.__setitem__("foolbox", fb_df(fmodel, x, y, epsilons=None)[1])}
    if with_torchattacks:
        ta_df = torchattacks.DeepFool(model, steps=50, overshoot=0.02)
        peers["torchattacks"] = lambda: out.__setitem__("torchattacks", ta_df(x, y))
    ours = lambda: out.__setitem__("ours", deepfool(model, x, y, num_classes=10, overshoot=0.02, max_iter=50))  # noqa: E731
    result: dict[str, dict] = {}
    for name, peer in peers.items():
        t = interleaved({"ours": ours, name: peer}, repeats, warmup)
        result[name] = {"seconds": t[name], "ours_seconds": t["ours"], "ours_speedup": t[name] / t["ours"]}
        result.setdefault("ours", {"seconds": t["ours"], "ours_speedup": 1.0})
    success, l2 = {}, {}
    for name, x_adv in out.items():
        with torch.no_grad():
            success[name] = model(x_adv).argmax(1) != y
        l2[name] = per_sample_norm(x_adv - x, 2.0)
        result[name].update(success_rate=float(success[name].float().mean()),
                            median_l2=float(l2[name][success[name]].median()) if success[name].any() else float("nan"))
    for name in peers:  # the fair L2 comparison: over the images both attacks broke
        both = success["ours"] & success[name]
        if both.any():
            result[name]["median_l2_both_broke"] = [float(l2["ours"][both].median()), float(l2[name][both].median())]
    return result


def torchattacks_deepfool_per_image(model, x, y, repeats: int, full: bool, t_batch: float | None) -> dict:
    """Seconds per image: ours at batch 8 (``t_batch`` if already timed) vs torchattacks' DeepFool on one
    image (1000 backward passes per iteration)."""
    if t_batch is None:
        t_batch = interleaved({"ours": lambda: deepfool(model, x, y, num_classes=10)}, repeats)["ours"]
    t_ours = t_batch / len(x)
    if full:
        import torchattacks

        ta = torchattacks.DeepFool(model, steps=50, overshoot=0.02)
        start = time.perf_counter()
        ta(x[:1], y[:1])
        t_ta, how = time.perf_counter() - start, "torchattacks.DeepFool on image 0, run to the end"
        # the same image for ours, alone (batch 1): both walk the same number of linearisation steps
        t_ours = interleaved({"ours": lambda: deepfool(model, x[:1], y[:1], num_classes=10)}, repeats)["ours"]
        how += "; ours on the same image at batch 1"
    else:
        x1 = x[:1].clone().requires_grad_(True)
        logits = model(x1)[0]
        samples = []
        for k in range(21):  # exactly its _construct_jacobian step: backward of one logit, graph kept
            start = time.perf_counter()
            torch.autograd.grad(logits[k], x1, retain_graph=True)
            samples.append(time.perf_counter() - start)
        t_ta = logits.numel() * statistics.median(samples[1:])
        how = (f"lower bound: {logits.numel()} x median of 20 single-logit backward passes at batch 1 "
               "(the cost of one torchattacks DeepFool iteration, which needs at least one)")
    return {"ours_seconds_per_image": t_ours, "torchattacks_seconds_per_image": t_ta, "torchattacks_method": how,
            "ours_speedup": t_ta / t_ours}


def save_results(res: dict, prefix: str, table: str) -> Path:
    """Write ``res`` as JSON and ``table`` as markdown to benchmarks/results/<prefix>-<UTC time>.{json,md},
    print the table, and return the path stem (shared by every benchmark script)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = RESULTS / f"{prefix}-{dt.datetime.now(dt.timezone.utc):%Y%m%d-%H%M%S}"
    stem.with_suffix(".json").write_text(json.dumps(res, indent=1) + "\n")
    stem.with_suffix(".md").write_text(table)
    print(table)
    print(f"wrote {stem}.json", file=sys.stderr)
    return stem

def machine() -> dict:
    return {"python": platform.python_version(), "torch": torch.__version__, "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(), "threads": torch.get_num_threads(),
            "cpu_count": __import__("os").cpu_count()}


def markdown(res: dict) -> str:
    lines = [f"Run {res['when']} on {res['machine']['processor']}, {res['machine']['threads']} thread(s), "
             f"torch {res['machine']['torch']}; medians of {res['repeats']} interleaved rounds.", "",
             "| measurement | seconds | reference | ratio | target |", "|---|---:|---|---:|---|"]
    for r in res.get("fgsm_pgd", []):
        target = "≤ 1.10" if r["what"].startswith("ours") else ""
        ref = "k × fwd+bwd" if "PGD" in r["what"] else "1 × fwd+bwd"
        lines.append(f"| {r['what']} (batch 8, Lite0) | {r['seconds']:.2f} | {ref} = {r['limit_seconds']:.2f} s "
                     f"| {r['ratio_to_limit']:.2f}× | {target} |")
    for key, label, target in (("deepfool_lite0", "batch 8, Lite0", "≥ 1.8× vs foolbox"),
                               ("deepfool_digits", "batch 32, trained digits CNN", "≥ 2.5× vs both"),
                               ("deepfool_cnn", "batch 32, random tiny CNN", "≥ 2.5× vs both")):
        d = res.get(key, {})
        for name, v in d.items():
            if name == "ours":
                continue
            common = v.get("median_l2_both_broke", [float("nan")] * 2)
            lines.append(f"| DeepFool {label}: ours vs {name} | {v['ours_seconds']:.2f} vs {v['seconds']:.2f} "
                         f"| success {d['ours']['success_rate']:.0%} vs {v['success_rate']:.0%}, median L2 "
                         f"{d['ours']['median_l2']:.4f} vs {v['median_l2']:.4f} (where both succeed: "
                         f"{common[0]:.4f} vs {common[1]:.4f}) | {v['ours_speedup']:.2f}× faster | {target} |")
    p = res.get("deepfool_per_image")
    lines.append(f"| DeepFool per image, Lite0: ours vs torchattacks | {p['ours_seconds_per_image']:.2f} vs "
                 f"{p['torchattacks_seconds_per_image']:.1f} | {p['torchattacks_method']} | "
                 f"{p['ours_speedup']:.0f}× faster | ≥ 50× |") if p else None
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3, help="interleaved timing rounds (median kept)")
    ap.add_argument("--steps", type=int, default=10, help="k for PGD-k")
    ap.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    ap.add_argument("--full", action="store_true", help="run torchattacks' ImageNet DeepFool to the end on 1 image")
    ap.add_argument("--only", choices=["fgsm_pgd", "deepfool_lite0", "deepfool_digits", "deepfool_cnn",
                                       "deepfool_per_image"],
                    nargs="*", help="run only these parts")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    parts = set(args.only or ["fgsm_pgd", "deepfool_lite0", "deepfool_digits", "deepfool_cnn", "deepfool_per_image"])

    model = load_model("efficientnet_lite0", device="cpu")
    frozen_copy_of_flags(model)
    photos = load_samples()
    x = photos.x[:8]
    with torch.no_grad():  # attack the model's own predictions (a photo may have several right labels)
        y = model(x).argmax(1)
    cnn = tiny_cnn(seed=0)
    frozen_copy_of_flags(cnn)
    xs = torch.rand(32, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ys = cnn(xs).argmax(1)

    res: dict = {"when": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "machine": machine(),
                 "repeats": args.repeats, "command": "python benchmarks/attacks.py " + " ".join(argv or sys.argv[1:])}
    steps: list[tuple[str, Callable[[], object]]] = [
        ("fgsm_pgd", lambda: fgsm_pgd(model, x, y, args.steps, args.repeats)),
        ("deepfool_digits", lambda: deepfool_runs(*frozen_digits(), max(args.repeats, 5), with_torchattacks=True)),
        ("deepfool_cnn", lambda: deepfool_runs(cnn, xs, ys, max(args.repeats, 5), with_torchattacks=True)),
        # the model is warm from the FGSM/PGD part, and each run here is long: no extra warm-up round
        ("deepfool_lite0", lambda: deepfool_runs(model, x, y, args.repeats, with_torchattacks=False, warmup=False)),
        ("deepfool_per_image", lambda: torchattacks_deepfool_per_image(
            model, x, y, args.repeats, args.full, res.get("deepfool_lite0", {}).get("ours", {}).get("seconds"))),
    ]
    for key, run in steps:
        if key in parts:
            start = time.perf_counter()
            res[key] = run()
            print(f"{key}: done in {time.perf_counter() - start:.0f} s", file=sys.stderr)
            print(json.dumps(res[key], indent=1), file=sys.stderr)
    save_results(res, "attacks", markdown(res))
    return res


if __name__ == "__main__":
    main()
