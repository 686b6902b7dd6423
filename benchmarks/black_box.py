"""Time and score the course's Square Attack against the physical limit and against torchattacks.

Not a test: run it by hand and read the ratios (all measured in this one run)::

    .venv/bin/python benchmarks/black_box.py        # writes benchmarks/results/black_box-<date>.{json,md}
    .venv/bin/python benchmarks/black_box.py --repeats 3 --queries 100 --threads 1

What it measures, on the embedded EfficientNet-Lite0 and the first ``--photos`` shipped photos
(224 px), L∞ ``eps = --eps``/255, attacking the model's own predictions:

1. **Overhead**: Square's wall time divided by the time of exactly the forward passes it made
   (same batch sizes, same order, replayed on the same images). A score-based attack cannot cost
   less than its queries; the ratio is what the random search and bookkeeping add (target <= 1.15).
2. **Against torchattacks 3.3.0** ``Square`` (same eps, ``p_init``, budget, margin loss): seconds
   per queried image (its own queries counted by :class:`~advcourse.attacks.QueryCounter`), and for
   both: success rate and median queries to success over ``--seeds`` seeds. torchattacks counts
   from its stripe start; ours counts the first query at ``x`` too, so 1 is subtracted from ours.

3. **HopSkipJump vs foolbox 3.3.4** ``HopSkipJumpAttack`` on the course's digits model
   (``defences.digits.clean_digits_cnn``, 32 test digits): foolbox runs 5 and 10 iterations, its queries per image are counted, and ours
   gets that many per image; success rate and median L2 of both (``--only hopskipjump``).

4. **SimBA vs ART 1.20.1** ``SimBA`` on the same 32 digits, pixel and DCT bases, eps 0.2, ART's
   ``max_iter`` of 15 and 30 (it queries both ``x ± eps·q`` for every direction: ``1 + 2·max_iter``
   images per digit) and ours with that many ``max_queries``; over ``--simba-seeds`` seeds: success
   rate (mean and per-seed range), median queries to success (the first query at ``x`` counted by
   both), and seconds per queried image (both counted by ``QueryCounter``; ours and ART take turns
   seed by seed) (``--only simba``).
4. **Square L2 vs torchattacks** ``Square(norm="L2")`` on the trained ``DigitsCNN`` (the first
   ``--digits`` test digits, L2 ``--l2-eps``, ``--queries``, ``p_init`` 0.3): success rate, success
   within 20 queries and median queries where both succeeded, per seed (``--only square_l2``).

Timing: contenders take turns (interleaved) for ``--repeats`` rounds; the median is kept.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Callable

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from attacks import interleaved, machine, save_results  # noqa: E402
from references import art_simba, digits_victim, foolbox_hopskipjump, torchattacks_square  # noqa: E402

from advcourse import load_model, load_samples  # noqa: E402
from advcourse.attacks import QueryCounter, square  # noqa: E402



class SizeRecorder(QueryCounter):
    """A :class:`QueryCounter` that also keeps the batch size of every call, in order."""

    def __init__(self, model: torch.nn.Module):
        super().__init__(model)
        self.sizes: list[int] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.sizes.append(int(x.shape[0]))
        return super().forward(x)


def replay(model: torch.nn.Module, x: torch.Tensor, sizes: list[int]) -> Callable[[], None]:
    """The physical limit: the same forward passes (batch sizes, order), nothing else."""
    def run() -> None:
        with torch.no_grad():
            for n in sizes:
                model(x[:n])
    return run


def ours(model, x, y, eps, queries, seed, norm="linf", p_init=0.05):
    return square(model, x, y, eps=eps, max_queries=queries + 2, norm=norm, p_init=p_init,
                  generator=torch.Generator().manual_seed(seed), return_info=True)


def theirs(model, x, y, eps, queries, seed, norm="linf", p_init=0.05):
    """torchattacks' Square on x: (success (N,), queries from its start point (N,))."""
    return torchattacks_square(model, x, y, eps=eps, queries=queries, seed=seed, norm=norm, p_init=p_init)


def quality(model, x, y, eps, queries, seeds) -> dict:
    rows = {"ours": [], "torchattacks": []}
    for seed in range(seeds):
        _, info = ours(model, x, y, eps, queries, seed)
        rows["ours"].append((info.success, info.queries - 1))
        rows["torchattacks"].append(theirs(model, x, y, eps, queries, seed))
    both = torch.stack([a & b for (a, _), (b, _) in zip(rows["ours"], rows["torchattacks"])])  # (seeds, N)
    out = {}
    for who, runs in rows.items():
        success = torch.stack([s for s, _ in runs]).float()
        to_success = torch.cat([q[s] for s, q in runs]).float()
        common = torch.cat([q[b] for (_, q), b in zip(runs, both)]).float()
        out[who] = {
            "success_rate_per_seed": success.mean(1).tolist(),
            "success_rate": float(success.mean()),
            "median_queries_to_success": float(to_success.median()) if to_success.numel() else None,
            "median_queries_per_seed": [float(q[s].float().median()) if s.any() else None for s, q in runs],
            "median_queries_where_both_succeeded": float(common.median()) if common.numel() else None,
            "success_per_seed_and_photo": [s.tolist() for s, _ in runs],
            "queries_per_seed_and_photo": [q.tolist() for _, q in runs],
        }
    out["noise"] = photo_bootstrap(out)
    return out


def photo_bootstrap(out: dict, draws: int = 4000, seed: int = 0) -> dict:
    """How much of the difference between ours and torchattacks is which photos were drawn.

    Resamples the photos with replacement (every seed of a drawn photo comes along) and reports 90 %
    intervals of (ours − torchattacks) success rate and of ours / torchattacks median queries over the
    runs both broke; plus the paired runs (same seed and photo, both broke): how often ours needed
    fewer queries, how often more, and the geometric mean of the query ratio.
    """
    success = {w: torch.tensor(out[w]["success_per_seed_and_photo"], dtype=torch.bool) for w in ("ours", "torchattacks")}
    queries = {w: torch.tensor(out[w]["queries_per_seed_and_photo"], dtype=torch.float64) for w in success}
    both = success["ours"] & success["torchattacks"]
    g = torch.Generator().manual_seed(seed)
    photos = both.shape[1]
    diff, ratio = [], []
    for _ in range(draws):
        idx = torch.randint(photos, (photos,), generator=g)
        diff.append(float(success["ours"][:, idx].double().mean() - success["torchattacks"][:, idx].double().mean()))
        if both[:, idx].any():
            ratio.append(_median(queries["ours"][:, idx], both[:, idx])
                         / _median(queries["torchattacks"][:, idx], both[:, idx]))
    diff_t, ratio_t = torch.tensor(diff), torch.tensor(ratio)
    searched = both & ((queries["ours"] > 1) | (queries["torchattacks"] > 1))  # not both on the stripes
    q_o, q_t = queries["ours"][searched], queries["torchattacks"][searched]
    return {
        "success_difference_90": [float(diff_t.quantile(0.05)), float(diff_t.quantile(0.95))],
        "median_ratio_where_both_90": [float(ratio_t.quantile(0.05)), float(ratio_t.quantile(0.95))],
        "paired_runs_past_the_start": int(searched.sum()),
        "ours_fewer": int((q_o < q_t).sum()), "ours_more": int((q_o > q_t).sum()),
        "geometric_mean_query_ratio": float((q_o.log() - q_t.log()).mean().exp()) if q_o.numel() else None,
        "only_ours_broke": int((success["ours"] & ~success["torchattacks"]).sum()),
        "only_torchattacks_broke": int((success["torchattacks"] & ~success["ours"]).sum()),
    }


def noise_lines(noise: dict) -> list[str]:
    lo, hi = noise["success_difference_90"]
    rlo, rhi = noise["median_ratio_where_both_90"]
    geo = noise["geometric_mean_query_ratio"]
    return ["", f"ours − torchattacks success, 90 % over resampled photos: {lo:+.1%} … {hi:+.1%}; "
                f"median queries where both broke, ours / torchattacks: {rlo:.2f} … {rhi:.2f}",
            f"paired runs past the start: {noise['paired_runs_past_the_start']} (ours fewer queries in "
            f"{noise['ours_fewer']}, more in {noise['ours_more']}; geometric mean ratio "
            f"{'–' if geo is None else f'{geo:.2f}'}); broken by ours only {noise['only_ours_broke']}, "
            f"by torchattacks only {noise['only_torchattacks_broke']}"]


def speed(model, x, y, eps, queries, repeats) -> dict:
    recorder = SizeRecorder(model)
    ours(recorder, x, y, eps, queries, 0)
    sizes = list(recorder.sizes)
    counter = QueryCounter(model)
    theirs(counter, x, y, eps, queries, 0)
    their_images = counter.images
    t = interleaved({
        "forward passes only": replay(model, x, sizes),
        "ours Square": lambda: ours(model, x, y, eps, queries, 0),
        "torchattacks Square": lambda: theirs(model, x, y, eps, queries, 0),
    }, repeats)
    return {
        "seconds": t, "our_images": sum(sizes), "our_calls": len(sizes), "torchattacks_images": their_images,
        "ours_over_forward_passes": t["ours Square"] / t["forward passes only"],
        "ours_per_image_over_torchattacks_per_image":
            (t["ours Square"] / sum(sizes)) / (t["torchattacks Square"] / their_images),
    }


def hopskipjump_vs_foolbox(steps_list=(5, 10)) -> list[dict]:
    from advcourse.attacks import hopskipjump

    net, x, y = digits_victim()
    rows = []
    for steps in steps_list:
        t = time.perf_counter()
        raw, budget = foolbox_hopskipjump(net, x, y, steps=steps)
        t_fb = time.perf_counter() - t
        with torch.no_grad():
            ok = net(raw).argmax(1) != y
        t = time.perf_counter()
        _, info = hopskipjump(net, x, y, max_queries=budget, generator=torch.Generator().manual_seed(0),
                              return_info=True)
        t_ours = time.perf_counter() - t
        rows.append({"foolbox_steps": steps, "queries_per_image": budget,
                     "foolbox_success": float(ok.float().mean()),
                     "foolbox_median_l2": float((raw - x).flatten(1).norm(dim=1)[ok].median()),
                     "ours_success": info.success_rate, "ours_median_l2": float(info.l2[info.success].median()),
                     "ours_max_queries": int(info.queries.max()), "foolbox_seconds": t_fb, "ours_seconds": t_ours})
    return rows


def simba_runs(net, x, y, basis: str, eps: float, max_iter: int, seeds: int) -> dict:
    """Ours and ART's SimBA, seed after seed, at ``1 + 2·max_iter`` queries per digit: success (seeds, N),
    queries (seeds, N) and seconds for each."""
    from advcourse.attacks import simba

    runs = {"ours": {"success": [], "queries": [], "seconds": 0.0, "images": 0},
            "art": {"success": [], "queries": [], "seconds": 0.0, "images": 0}}
    for seed in range(seeds):
        counter = QueryCounter(net)
        t = time.perf_counter()
        _, info = simba(counter, x, y, eps=eps, max_queries=1 + 2 * max_iter, basis=basis, low_freq=2, stride=2,
                        generator=torch.Generator().manual_seed(seed), return_info=True)
        runs["ours"]["seconds"] += time.perf_counter() - t
        runs["ours"]["images"] += counter.images
        runs["ours"]["success"].append(info.success)
        runs["ours"]["queries"].append(info.queries)
        t = time.perf_counter()
        x_adv, queries = art_simba(net, x, basis=basis, eps=eps, max_iter=max_iter, seed=seed)
        runs["art"]["seconds"] += time.perf_counter() - t
        runs["art"]["images"] += int(queries.sum())
        with torch.no_grad():
            runs["art"]["success"].append(net(x_adv).argmax(1) != y)
        runs["art"]["queries"].append(queries)
    return {who: {**r, "success": torch.stack(r["success"]), "queries": torch.stack(r["queries"])}
            for who, r in runs.items()}


def _median(q: torch.Tensor, mask: torch.Tensor) -> float | None:
    return float(q[mask].float().median()) if mask.any() else None


def simba_vs_art(seeds: int, eps: float = 0.2, budgets=(15, 30)) -> list[dict]:
    net, x, y = digits_victim()
    rows = []
    for basis in ("pixel", "dct"):
        for max_iter in budgets:
            runs = simba_runs(net, x, y, basis, eps, max_iter, seeds)
            both = runs["ours"]["success"] & runs["art"]["success"]
            row = {"basis": basis, "eps": eps, "art_max_iter": max_iter, "queries_per_digit": 1 + 2 * max_iter,
                   "digits": len(x), "seeds": seeds}
            for who, r in runs.items():
                rate = r["success"].float().mean(1)
                row[who] = {"success_rate": float(rate.mean()), "success_rate_per_seed": rate.tolist(),
                            "median_queries_to_success": _median(r["queries"], r["success"]),
                            "median_queries_per_seed": [_median(q, s) for q, s in zip(r["queries"], r["success"])],
                            "median_queries_where_both_succeeded": _median(r["queries"], both),
                            "seconds": r["seconds"], "images": r["images"],
                            "seconds_per_image": r["seconds"] / r["images"],
                            "success_per_seed_and_digit": r["success"].tolist(),
                            "queries_per_seed_and_digit": r["queries"].tolist()}
            row["ours_per_image_over_art_per_image"] = row["ours"]["seconds_per_image"] / row["art"]["seconds_per_image"]
            rows.append(row)
    return rows


def _rate(d: dict) -> str:
    """'mean % (lowest–highest seed %)'."""
    per_seed = d["success_rate_per_seed"]
    return f"{d['success_rate']:.1%} ({min(per_seed):.0%}–{max(per_seed):.0%})"


def simba_table(rows: list[dict]) -> list[str]:
    lines = ["", f"SimBA vs ART, digits CNN, {rows[0]['digits']} digits, eps {rows[0]['eps']:g}, "
                 f"{rows[0]['seeds']} seeds", "",
             "| basis | queries/digit | success ours (per seed) | success ART (per seed) | median queries to success "
             "ours / ART | ... where both succeeded | s per queried image ours / ART | ratio |",
             "|---|---:|---|---|---|---|---|---:|"]
    for r in rows:
        o, a = r["ours"], r["art"]
        lines.append(f"| {r['basis']} | {r['queries_per_digit']} | {_rate(o)} | {_rate(a)} | "
                     f"{o['median_queries_to_success']:g} / {a['median_queries_to_success']:g} | "
                     f"{o['median_queries_where_both_succeeded']:g} / {a['median_queries_where_both_succeeded']:g} | "
                     f"{o['seconds_per_image'] * 1e3:.3f} / {a['seconds_per_image'] * 1e3:.3f} ms | "
                     f"{r['ours_per_image_over_art_per_image']:.3f} |")
    return lines
def square_l2_vs_torchattacks(n: int, eps: float, queries: int, seeds: int, p_init: float = 0.3) -> dict:
    """Square L2, ours against torchattacks on ``n`` test digits: per-seed success, success within 20
    queries and median queries where both succeeded (queries from the start point for both)."""
    net, x, y = digits_victim(n)
    out = {"digits": n, "eps": eps, "queries": queries, "p_init": p_init, "ours": [], "torchattacks": []}
    for seed in range(seeds):
        _, info = ours(net, x, y, eps, queries, seed, norm="l2", p_init=p_init)
        runs = {"ours": (info.success, info.queries - 1),
                "torchattacks": theirs(net, x, y, eps, queries, seed, norm="l2", p_init=p_init)}
        both = runs["ours"][0] & runs["torchattacks"][0]
        for who, (success, q) in runs.items():
            out[who].append({"success": float(success.float().mean()),
                             "within_20": float((success & (q <= 20)).float().mean()),
                             "median_where_both": _median(q, both)})
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--photos", type=int, default=8)
    ap.add_argument("--eps", type=float, default=4.0, help="L∞ budget in 1/255 units")
    ap.add_argument("--queries", type=int, default=100, help="budget after the clean query (torchattacks' n_queries)")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--simba-seeds", type=int, default=10, help="seeds of the SimBA vs ART part")
    ap.add_argument("--only", choices=["quality", "speed", "hopskipjump", "simba", "square_l2"], default=None,
                    help="run one part")
    ap.add_argument("--digits", type=int, default=128, help="test digits for the Square L2 comparison")
    ap.add_argument("--l2-eps", type=float, default=0.75, help="L2 budget of the Square L2 comparison")
    ap.add_argument("--summarise", metavar="JSON", default=None,
                    help="print the photo bootstrap of an earlier --only quality result and exit")
    args = ap.parse_args(argv)
    if args.summarise:
        print("\n".join(noise_lines(photo_bootstrap(json.loads(Path(args.summarise).read_text())["quality"]))))
        return {}
    if args.threads:
        torch.set_num_threads(args.threads)
    start = time.perf_counter()
    res = {"command": " ".join(sys.argv), "machine": machine(), "photos": args.photos, "eps": args.eps,
           "queries": args.queries}
    if args.only in (None, "hopskipjump"):
        res["hopskipjump"] = hopskipjump_vs_foolbox()
    if args.only in (None, "simba"):
        res["simba"] = simba_vs_art(args.simba_seeds)
    if args.only in (None, "quality", "speed"):
        model = load_model(device="cpu")
        x = load_samples().x[: args.photos]
        with torch.no_grad():
            y = model(x).argmax(1)
        eps = args.eps / 255
    if args.only in (None, "square_l2"):
        res["square_l2"] = square_l2_vs_torchattacks(args.digits, args.l2_eps, args.queries, args.seeds)
    if args.only in (None, "quality"):
        res["quality"] = quality(model, x, y, eps, args.queries, args.seeds)
    if args.only in (None, "speed"):
        res["speed"] = speed(model, x, y, eps, args.queries, args.repeats)
    res["wall_seconds"] = time.perf_counter() - start
    lines = []
    if "quality" in res or "speed" in res:
        lines += [f"Square, Lite0, {args.photos} photos, eps {args.eps:g}/255, {args.queries} queries", ""]
    if "quality" in res:
        q = res["quality"]
        lines += [f"| {args.seeds} seeds | success | median queries to success | ... where both succeeded |",
                  "|---|---|---|---|"]
        lines += [f"| {who} | {q[who]['success_rate']:.1%} | {q[who]['median_queries_to_success']} | "
                  f"{q[who]['median_queries_where_both_succeeded']} |" for who in ("ours", "torchattacks")]
        lines += noise_lines(q["noise"])
    if "speed" in res:
        s = res["speed"]
        lines += ["", f"ours / its own forward passes: {s['ours_over_forward_passes']:.3f}; "
                      f"ours / torchattacks per queried image: {s['ours_per_image_over_torchattacks_per_image']:.3f}"]
    for r in res.get("hopskipjump", []):
        lines += [f"HopSkipJump, digits, {r['queries_per_image']} queries/image: ours success {r['ours_success']:.0%} "
                  f"median L2 {r['ours_median_l2']:.3f}; foolbox ({r['foolbox_steps']} steps) success "
                  f"{r['foolbox_success']:.0%} median L2 {r['foolbox_median_l2']:.3f}"]
    if "simba" in res:
        lines += simba_table(res["simba"])
    if "square_l2" in res:
        r = res["square_l2"]
        lines += ["", f"Square L2, digits, {r['digits']} test digits, eps {r['eps']:g}, {r['queries']} queries",
                  "", "| seed | success ours / torchattacks | within 20 queries | median queries where both "
                      "succeeded |",
                  "|---|---|---|---|"]
        lines += [f"| {s} | {o['success']:.1%} / {t['success']:.1%} | {o['within_20']:.1%} / {t['within_20']:.1%} | "
                  f"{o['median_where_both']} / {t['median_where_both']} |"
                  for s, (o, t) in enumerate(zip(r["ours"], r["torchattacks"]))]
    save_results(res, "black_box", "\n".join(lines + [""]))
    return res


if __name__ == "__main__":
    main()
