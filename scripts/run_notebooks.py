"""Re-execute the course notebooks in order and store their outputs (``make notebooks``).

Outputs and the widget state of the run are kept (so JupyterLab, GitHub and the site draw the
controls before any kernel runs), execution counts renumbered from 1, cell timings dropped, and
progress bars turned off (``ADVCOURSE_PROGRESS=0``): a refresh changes only what the code really
shows. The kernelspec and ``language_info`` are stored as the kernel reports them, so opening a
notebook does not modify it. Usage:

    python scripts/run_notebooks.py                 # every notebook
    python scripts/run_notebooks.py 00 02_noise     # some (prefix match)
    python scripts/run_notebooks.py --time-only     # execute and time, write nothing (docs/teaching.md)
    python scripts/run_notebooks.py 09 --model efficientnet_lite2   # another model, write nothing

``--model`` swaps the ``MODEL = "..."`` line at the top of each chosen notebook on an in-memory copy,
executes the copy (every ``assert`` in it must pass) and writes nothing: the stored outputs always
come from the default model.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"


#: The kernel a fresh ``make lab`` offers (ipykernel's own spec). Storing exactly this keeps JupyterLab
#: from marking a notebook modified the moment it opens.
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def tidy(nb: nbformat.NotebookNode) -> None:
    """Strip what changes run to run but is not an output; keep the widget state.

    ``language_info`` stays whole, Python version included: JupyterLab rewrites it from the kernel
    it starts, and a missing or different field marks the notebook modified the moment it opens.
    """
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        cell.metadata.pop("ExecuteTime", None)


_MODEL_LINE = re.compile(r'^MODEL = "[^"]*"', re.M)


def swap_model(nb: nbformat.NotebookNode, model: str) -> int:
    """Point the notebook's ``MODEL = "..."`` line(s) at ``model`` (in place); return how many changed."""
    changed = 0
    for cell in nb.cells:
        if cell.cell_type == "code" and _MODEL_LINE.search(cell.source):
            cell.source, n = _MODEL_LINE.subn(f'MODEL = "{model}"', cell.source)
            changed += n
    return changed


def run(path: Path, timeout: int = 900, write: bool = True, model: str | None = None) -> float:
    nb = nbformat.read(path, as_version=4)
    if model is not None:
        if not swap_model(nb, model):
            raise SystemExit(f"{path.name}: no MODEL = \"...\" line to switch to {model!r}")
        write = False
    start = time.perf_counter()
    # store_widget_state: the widget models of the run go into metadata.widgets, so every app is
    # drawn from stored state when the notebook is opened (nbclient's Output-widget hook needs it too).
    NotebookClient(nb, timeout=timeout, kernel_name="python3", store_widget_state=True,
                   resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    took = time.perf_counter() - start
    if write:
        tidy(nb)
        nbformat.write(nb, path)
    return took


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("prefixes", nargs="*", help="run only notebooks whose names start with these")
    ap.add_argument("--time-only", action="store_true", help="execute and time, but keep the files as they are")
    ap.add_argument("--model", help='run a copy with MODEL = "<this>" (e.g. efficientnet_lite2); write nothing')
    args = ap.parse_args(argv)
    os.environ.setdefault("PYTHONHASHSEED", "0")
    os.environ["ADVCOURSE_PROGRESS"] = "0"  # no progress bar stored in a notebook
    chosen = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    if args.prefixes:
        chosen = [p for p in chosen if any(p.name.startswith(a) for a in args.prefixes)]
    import torch

    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"CPU, {os.cpu_count()} cores"
    model = f", MODEL = {args.model!r}" if args.model else ""
    print(f"| notebook | seconds ({device}, {platform.python_implementation()} {platform.python_version()}{model}) |")
    print("|---|---:|")
    total = 0.0
    for path in chosen:
        took = run(path, write=not args.time_only, model=args.model)
        total += took
        print(f"| {path.stem} | {took:.0f} |", flush=True)
    print(f"| all | {total:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
