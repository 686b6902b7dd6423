"""Re-execute the course notebooks in order and store their outputs (``make notebooks``).

Outputs and the widget state of the run are kept (so JupyterLab, GitHub and the site draw the
controls before any kernel runs), execution counts renumbered from 1, volatile metadata (timings,
the Python patch version) dropped, and progress bars turned off (``ADVCOURSE_PROGRESS=0``): a
refresh changes only what the code really shows. Usage:

    python scripts/run_notebooks.py                 # every notebook
    python scripts/run_notebooks.py 00 02_noise     # some (prefix match)
    python scripts/run_notebooks.py --time-only     # execute and time, write nothing (docs/teaching.md)
"""

from __future__ import annotations

import argparse
import os
import platform
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
    """Strip what changes run to run but is not an output (nbstripout --keep-output --keep-count)."""
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata.get("language_info", {}).pop("version", None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        cell.metadata.pop("ExecuteTime", None)


def run(path: Path, timeout: int = 900, write: bool = True) -> float:
    nb = nbformat.read(path, as_version=4)
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
    args = ap.parse_args(argv)
    os.environ.setdefault("PYTHONHASHSEED", "0")
    os.environ["ADVCOURSE_PROGRESS"] = "0"  # no progress bar stored in a notebook
    chosen = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    if args.prefixes:
        chosen = [p for p in chosen if any(p.name.startswith(a) for a in args.prefixes)]
    import torch

    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"CPU, {os.cpu_count()} cores"
    print(f"| notebook | seconds ({device}, {platform.python_implementation()} {platform.python_version()}) |")
    print("|---|---:|")
    total = 0.0
    for path in chosen:
        took = run(path, write=not args.time_only)
        total += took
        print(f"| {path.stem} | {took:.0f} |", flush=True)
    print(f"| all | {total:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
