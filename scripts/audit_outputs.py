"""The knife-edge audit: re-execute the notebooks on emulated other machines and report what moves.

Learners' CPUs round float32 sums differently from the machine that stored the notebooks' outputs
(another vendor's BLAS and convolution kernels, other vector widths, other thread counts). A printed
count, a rate over a handful of photos or an assert that holds at equality can then flip on their
machine. This script finds such knife edges before a learner does (``make audit-outputs``):

1. it executes every notebook (or those named) on each emulated machine of :data:`MACHINES` — this
   CPU's kernels at 1, 2 and 3 threads, PyTorch's ``avx2`` and plain (``default``) kernels, and two
   *nudged* machines, whose every convolution and linear output is scaled by ``1 ± ~1e-6`` as a
   function of its value (``tests/startup/cpu_nudge.py``);
2. it compares every printed line with the stored one, by the rule ``make test`` uses
   (``tests/nbval_numbers.py``: words and counts exact, decimals to their last printed digit), and
   reports each line that moves beyond it, with the model call and sample whose top-1 answer changed
   first and last in that cell (against the ``native`` run);
3. it records every comparison inside an ``assert`` (``scripts/audit_probe.py``): the measured value,
   its threshold and the margin on each machine, so a claim that holds "at exactly 0.5" shows up
   even where it does not fail yet.

Usage:

    python scripts/audit_outputs.py                       # every notebook, every machine
    python scripts/audit_outputs.py 01 09 --machines native,nudge2
    python scripts/audit_outputs.py --jobs 2 --out build/audit
    python scripts/audit_outputs.py --resume              # after an interruption: only the missing runs

It writes ``report.md`` and ``report.json`` under ``--out`` (default ``build/audit``) and exits 1 when
an output moves, or comes within half of its tolerance of moving (a *near miss*: a machine that rounds
a little further away fails it), or an assert fails, on any machine. Cells marked ``# NBVAL_IGNORE_OUTPUT`` are not
compared (their asserts are). It takes about an hour on the 2-core CPU for all twelve notebooks.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from decimal import Decimal
from hashlib import sha1
from pathlib import Path
from typing import Any

import nbformat

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
SCRIPTS = ROOT / "scripts"
STARTUP = ROOT / "tests" / "startup"
sys.path.insert(0, str(ROOT / "tests"))
from nbval_numbers import NUMBER, RELATIVE, _parse, texts_match  # noqa: E402  (the rule `make test` compares by)

#: A line within the tolerance that used at least this share of it is reported as a near miss: on a
#: machine that rounds a little further away, it fails.
NEAR = 0.5

#: The emulated machines: environment variables on top of the audit's own (offline, no progress bars).
#: ``native`` is the configuration that stored the outputs and the baseline the others are traced against.
MACHINES: dict[str, dict[str, str]] = {
    "native": {"OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2"},
    "threads1": {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"},
    "avx2-threads3": {"ATEN_CPU_CAPABILITY": "avx2", "OMP_NUM_THREADS": "3", "MKL_NUM_THREADS": "3"},
    "portable": {"ATEN_CPU_CAPABILITY": "default", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                 "ADVCOURSE_NUDGE": "1"},
    "nudge2": {"OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2", "ADVCOURSE_NUDGE": "2"},
}
IGNORE = "NBVAL_IGNORE_OUTPUT"


# --------------------------------------------------------------------------------------------- run
def _digest(source: str) -> str:
    return sha1(source.encode()).hexdigest()


def run_one(machine: str, path: Path, out: Path) -> Path:
    """Execute an audited copy of one notebook in this process's environment; write its record."""
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    probe = out / f"{path.stem}.{machine}.probe.pkl"
    setup = f"import sys; sys.path.insert(0, {str(SCRIPTS)!r}); import audit_probe; audit_probe.install()"
    nb.cells.insert(0, nbformat.v4.new_code_cell(setup))
    nb.cells.append(nbformat.v4.new_code_cell(f"audit_probe.dump({str(probe)!r})"))
    start = time.perf_counter()
    # A run now and then stalls with the kernel idle, waiting on a widget cell's reply (seen with
    # nbclient 0.11 on ipykernel 6 and 7, about one run in ten under load): a cell that takes five
    # minutes fails the run, and _launch runs it once more.
    NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    seconds = time.perf_counter() - start
    with open(probe, "rb") as f:
        state = pickle.load(f)
    cells = nb.cells[1:-1]
    record = {"machine": machine, "notebook": path.stem, "seconds": seconds, "torch": state["machine"],
              "outputs": {i: _texts(c) for i, c in enumerate(cells) if c.cell_type == "code"},
              "asserts": [], "calls": {}}
    # The probe numbers cells in the order they ran (empty cells do not run): map them back by source.
    order = [i for i, c in enumerate(cells) if c.cell_type == "code" and c.source.strip()]
    ran = state["cells"][1:-1]
    index = {k + 1: i for k, (i, h) in enumerate(zip(order, ran)) if _digest(cells[i].source) == h}
    for (k, line, col), rec in state["asserts"].items():
        if k in index:
            record["asserts"].append({"cell": index[k], "line": line, "col": col, **rec})
    record["calls"] = {index[k]: [c.hex() for c in calls] for k, calls in state["calls"].items() if k in index}
    target = out / f"{path.stem}.{machine}.json"
    target.write_text(json.dumps(record))
    probe.unlink()
    return target


def _texts(cell: Any) -> list[str]:
    """A code cell's outputs as nbval compares them: streams, text/plain, and errors."""
    texts = []
    for o in cell.get("outputs", []):
        if o.output_type == "stream":
            texts.append(f"[{o.name}] " + "".join(o.text))
        elif o.output_type in ("execute_result", "display_data") and "text/plain" in o.get("data", {}):
            if o.output_type == "display_data" and any(m.startswith("image/") for m in o.data):
                continue  # a figure's text/plain is "<Figure size ...>"; nbval compares no images
            texts.append("".join(o.data["text/plain"]))
        elif o.output_type == "error":
            texts.append(f"[error] {o.ename}: {o.evalue}")
    return texts


def _launch(machine: str, path: Path, out: Path) -> Path | None:
    """Run one notebook on one emulated machine in a subprocess; None (and the log kept) if it failed."""
    env = {k: v for k, v in os.environ.items() if k not in ("ATEN_CPU_CAPABILITY", "ADVCOURSE_NUDGE")}
    env.update(MACHINES[machine])
    env.update(ADVCOURSE_OFFLINE="1", ADVCOURSE_PROGRESS="0", MPLBACKEND="Agg", PYTHONHASHSEED="0",
               PYTHONPATH=os.pathsep.join(filter(None, [str(STARTUP), os.environ.get("PYTHONPATH")])))
    log = out / f"{path.stem}.{machine}.log"
    for attempt in range(2):
        with open(log, "a" if attempt else "w") as f:
            done = subprocess.run([sys.executable, __file__, "--run-one", machine, str(path), "--out", str(out)],
                                  env=env, stdout=f, stderr=subprocess.STDOUT)
        if done.returncode == 0:
            return out / f"{path.stem}.{machine}.json"
    return None


# ------------------------------------------------------------------------------------------ compare
def tolerance_used(stored: str, now: str) -> float:
    """For two lines that ``make test`` accepts, the largest share of a number's tolerance used (0 to 1).

    Only numbers printed finer than their 1 % tolerance count: there the printed change is the value's
    own change, and one that uses half the tolerance may use all of it on another machine. A number
    printed coarser (``0.6``, ``43.9%``) flips its last digit when its value crosses a rounding
    boundary by any amount; the one-unit allowance is there for exactly that, so such a flip is noise.
    """
    used = 0.0
    for a, b in zip(NUMBER.findall(stored), NUMBER.findall(now)):
        pa, pb = _parse(a), _parse(b)
        if a == b or pa is None or pb is None:
            continue
        unit = Decimal(1).scaleb(max(pa[1], pb[1]))
        relative = RELATIVE * abs(pa[0])
        if relative > unit:
            used = max(used, float(abs(pa[0] - pb[0]) / relative))
    return used


def _lines(texts: list[str]) -> list[str]:
    return [line for t in texts for line in t.splitlines()]


def _answers(calls: list[str], other: list[str]) -> str:
    """Where two machines' top-1 answers first and last differ within a cell."""
    diffs = [k for k, (a, b) in enumerate(zip(calls, other)) if a != b]
    notes = []
    if len(calls) != len(other):
        notes.append(f"{len(other)} model calls here, {len(calls)} on native")
    for k in sorted(set(diffs[:1] + diffs[-1:])):  # the first and the last call that differ
        a, b = bytes.fromhex(calls[k]), bytes.fromhex(other[k])
        if len(a) != len(b):
            notes.append(f"call {k}: batch of {len(b) // 2} vs {len(a) // 2}")
            continue
        ya = [int.from_bytes(a[i:i + 2], "little", signed=True) for i in range(0, len(a), 2)]
        yb = [int.from_bytes(b[i:i + 2], "little", signed=True) for i in range(0, len(b), 2)]
        moved = [f"sample {i}: {p} -> {q}" for i, (p, q) in enumerate(zip(ya, yb)) if p != q]
        notes.append(f"call {k} of {len(other)} (batch of {len(ya)}): " + "; ".join(moved[:6])
                     + (f"; +{len(moved) - 6} more" if len(moved) > 6 else ""))
    return " | ".join(notes) if notes else "no top-1 answer changed"


def _get(mapping: dict, i: int, default: Any) -> Any:
    return mapping.get(str(i), mapping.get(i, default))  # JSON keys are strings, fresh records ints


def _trace(records: dict[str, dict], machine: str, i: int, cells: list) -> str:
    """Which sample's top-1 answer changed, against a machine that printed what is stored in cell
    ``i`` (``native`` first): in cell ``i``, or else in the nearest earlier cell where one did."""
    stored = _lines(_texts(cells[i]))
    bases = [m for m in sorted(records, key=lambda m: m != "native")
             if m != machine and _lines(_get(records[m]["outputs"], i, [])) == stored]
    if not bases:
        return ""
    base, here = records[bases[0]]["calls"], records[machine]["calls"]
    for j in range(i, -1, -1):
        if _get(base, j, []) != _get(here, j, []):
            where = "" if j == i else f"cell {j}, "
            return f"against {bases[0]}: {where}{_answers(_get(base, j, []), _get(here, j, []))}"
    return f"against {bases[0]}: no top-1 answer changed"


def compare(notebook: Path, records: dict[str, dict]) -> dict[str, list]:
    """Moving outputs and the asserts' margins of one notebook across the machines that ran it."""
    stored = nbformat.read(notebook, as_version=4).cells
    moves, near, noise = [], [], 0
    for machine, rec in records.items():
        for i, texts in rec["outputs"].items():
            i = int(i)
            if IGNORE in stored[i].source:
                continue
            old, new = _lines(_texts(stored[i])), _lines(texts)
            if len(old) != len(new):
                bad = [(f"{len(old)} lines", f"{len(new)} lines")]
            else:
                pairs = [(a, b) for a, b in zip(old, new) if a != b]
                bad = [(a, b) for a, b in pairs if not texts_match(a, b)]
                noise += len(pairs) - len(bad)
                near += [{"notebook": notebook.stem, "cell": i, "machine": machine, "stored": a, "now": b,
                          "used": tolerance_used(a, b)} for a, b in pairs if (a, b) not in bad
                         and tolerance_used(a, b) >= NEAR]
            for a, b in bad:
                moves.append({"notebook": notebook.stem, "cell": i, "machine": machine, "stored": a, "now": b,
                              "answers": _trace(records, machine, i, stored)})
    asserts: dict[tuple, dict] = {}
    for machine, rec in records.items():
        for a in rec["asserts"]:
            key = (a["cell"], a["line"], a["col"])
            row = asserts.setdefault(key, {"notebook": notebook.stem, "cell": a["cell"], "line": a["line"],
                                           "text": a["text"], "machines": {}})
            row["machines"][machine] = {"values": a["values"], "margin": a["margin"], "failed": a["failed"],
                                        "n": a["n"]}
    rows = sorted(asserts.values(), key=lambda r: (r["cell"], r["line"]))
    for row in rows:
        runs = list(row["machines"].values())
        margins = [m["margin"] for m in runs if m["margin"] is not None]
        columns = zip(*[m["values"] for m in runs if m["values"] and None not in m["values"]])
        spread = max((max(c) - min(c) for c in columns), default=0.0)
        row["worst_margin"] = min(margins) if margins else None
        row["spread"] = spread
        row["failed"] = sum(m["failed"] for m in runs)
        # at equality: holds with no slack at all (a rate of exactly 0.5 against <= 0.5; also a clamp's
        # bound, which is exact by construction); close: the machines disagree by at least a tenth of
        # the slack that is left, so another machine may well cross
        row["at_edge"] = row["worst_margin"] is not None and row["worst_margin"] <= 0
        row["close"] = row["worst_margin"] is not None and spread > 0 and row["worst_margin"] < 10 * spread
    return {"moves": moves, "near": near, "noise": noise, "asserts": rows}


def _fmt(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def report(results: dict[str, dict], machines: list[str], seconds: dict, records_seen: dict) -> str:
    lines = ["# Knife-edge audit", "", "Machines: " + ", ".join(
        f"`{m}` ({' '.join(f'{k}={v}' for k, v in MACHINES[m].items())})" for m in machines), ""]
    seen = {m: r["torch"] for rs in records_seen.values() for m, r in rs.items()}
    lines += ["As the kernels reported them: " + ", ".join(
        f"`{m}`: {t['capability']} kernels, {t['threads']} threads, nudge {t['nudge'] or 'off'}"
        for m, t in seen.items()) + ".", ""]
    lines += ["Run time of each notebook:", ""]
    lines += ["| notebook | " + " | ".join(machines) + " |", "|---|" + "---:|" * len(machines)]
    for nb, r in results.items():
        lines.append(f"| {nb} | " + " | ".join(f"{seconds.get((nb, m), 0):.0f} s" for m in machines) + " |")
    moves = [m for r in results.values() for m in r["moves"]]
    lines += ["", f"## Outputs that move beyond the last printed digit: {len(moves)}", ""]
    if moves:
        lines += ["| notebook | cell | machine | stored | now | first / last top-1 answer that changed |",
                  "|---|---:|---|---|---|---|"]
        lines += [f"| {m['notebook']} | {m['cell']} | {m['machine']} | `{m['stored']}` | `{m['now']}` | {m['answers']} |"
                  for m in moves]
    noise = sum(r["noise"] for r in results.values())
    near = [m for r in results.values() for m in r["near"]]
    lines += ["", f"Lines that differ within the tolerance of `make test` (one unit of the last printed decimal or "
              f"1 % of the value): {noise}; near misses, which used {NEAR:.0%} of it or more: {len(near)}.", ""]
    if near:
        lines += ["| notebook | cell | machine | stored | now | tolerance used |", "|---|---:|---|---|---|---:|"]
        lines += [f"| {m['notebook']} | {m['cell']} | {m['machine']} | `{m['stored']}` | `{m['now']}` | {m['used']:.0%} |"
                  for m in near]
        lines.append("")
    rows = [a for r in results.values() for a in r["asserts"]]
    flagged = [a for a in rows if a["failed"] or a["at_edge"] or a["close"]]
    lines += [f"## Asserted quantities: {len(rows)} comparisons; {len(flagged)} fail, hold at equality, or hold "
              "by less than ten times the spread between machines", "",
              "Values: both sides of each comparison as measured on each machine (the worst case over a loop or "
              "an `all(...)`); margin: how far the worst case is from flipping; spread: the most one side "
              "differs between machines.", ""]
    head = ["| notebook | cell | line | assert | " + " | ".join(machines) + " | worst margin | spread | flag |",
            "|---|---:|---:|---|" + "---|" * len(machines) + "---:|---:|---|"]

    def row(a: dict) -> str:
        flag = " ".join(f for f, on in (("FAILS", a["failed"]), ("AT EQUALITY", a["at_edge"]),
                                         ("CLOSE", a["close"])) if on)
        cells = [", ".join(_fmt(v) for v in (a["machines"].get(m) or {}).get("values") or []) or "—"
                 for m in machines]
        return (f"| {a['notebook']} | {a['cell']} | {a['line']} | `{a['text']}` | " + " | ".join(cells)
                + f" | {_fmt(a['worst_margin'])} | {_fmt(a['spread'])} | {flag} |")

    lines += head + [row(a) for a in flagged] + ["", "### Every asserted comparison", ""] + head + [row(a) for a in rows]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------- main
def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("prefixes", nargs="*", help="audit only notebooks whose names start with these")
    ap.add_argument("--machines", default=",".join(MACHINES), help="comma-separated, from: " + ", ".join(MACHINES))
    ap.add_argument("--jobs", type=int, default=2, help="notebook runs at a time (default 2)")
    ap.add_argument("--out", type=Path, default=ROOT / "build" / "audit")
    ap.add_argument("--run-one", nargs=2, metavar=("MACHINE", "NOTEBOOK"), help=argparse.SUPPRESS)
    ap.add_argument("--report-only", action="store_true", help="rebuild the report from the records in --out")
    ap.add_argument("--resume", action="store_true", help="run only what has no record in --out yet")
    args = ap.parse_args(argv)
    args.out = args.out.resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.run_one:
        run_one(args.run_one[0], Path(args.run_one[1]), args.out)
        return 0
    machines = args.machines.split(",")
    unknown = [m for m in machines if m not in MACHINES]
    if unknown:
        ap.error(f"--machines: unknown {unknown}; choose from {list(MACHINES)}")
    chosen = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    if args.prefixes:
        chosen = [p for p in chosen if any(p.name.startswith(a) for a in args.prefixes)]
    jobs = [(m, p) for p in chosen for m in machines
            if not (args.resume and (args.out / f"{p.stem}.{m}.json").exists())]
    if not args.report_only:
        # the slowest first (one-thread plain kernels), so the pool ends together
        jobs.sort(key=lambda j: (MACHINES[j[0]].get("OMP_NUM_THREADS") != "1", j[1].name))
        with ThreadPoolExecutor(args.jobs) as pool:
            futures = {pool.submit(_launch, m, p, args.out): (m, p) for m, p in jobs}
            for future in as_completed(futures):
                m, p = futures[future]
                print(f"{'done' if future.result() else 'FAILED (see its .log)'}: {p.stem} on {m}", flush=True)
    results, seconds, seen, missing = {}, {}, {}, []
    for p in chosen:
        records = {}
        for m in machines:
            f = args.out / f"{p.stem}.{m}.json"
            if f.exists():
                records[m] = json.loads(f.read_text())
                seconds[(p.stem, m)] = records[m]["seconds"]
            else:
                missing.append(f"{p.stem} on {m}")
        results[p.stem] = compare(p, records)
        seen[p.stem] = records
    text = report(results, machines, seconds, seen)
    if missing:
        text += "\n## Runs that did not finish\n\n" + "\n".join(f"- {m}" for m in missing) + "\n"
    (args.out / "report.md").write_text(text)
    (args.out / "report.json").write_text(json.dumps(results, indent=1))
    print(text)
    bad = bool(missing) or any(r["moves"] or r["near"] for r in results.values()) or any(a["failed"] for r in results.values() for a in r["asserts"])
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
