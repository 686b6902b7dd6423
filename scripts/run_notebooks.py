"""Re-execute the course notebooks in order and store their outputs (``make notebooks``).

Outputs are kept, execution counts renumbered from 1, and volatile metadata (timings, widget
state) dropped, so a refresh changes only what the code really prints. Usage:

    python scripts/run_notebooks.py                 # every notebook
    python scripts/run_notebooks.py 00 02_noise     # some (prefix match)
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"


def tidy(nb: nbformat.NotebookNode) -> None:
    """Strip what changes run to run but is not an output (nbstripout --keep-output --keep-count)."""
    nb.metadata.pop("widgets", None)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata.get("language_info", {}).pop("version", None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        cell.metadata.pop("ExecuteTime", None)


def run(path: Path, timeout: int = 900) -> float:
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    # store_widget_state stays on: nbclient's Output-widget hook needs it (an app's first render
    # raised KeyError without it); tidy() drops the stored state afterwards.
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    took = time.perf_counter() - start
    tidy(nb)
    nbformat.write(nb, path)
    return took


def main(argv: list[str]) -> int:
    os.environ.setdefault("PYTHONHASHSEED", "0")
    chosen = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    if argv:
        chosen = [p for p in chosen if any(p.name.startswith(a) for a in argv)]
    for path in chosen:
        print(f"{path.name:<28} {run(path):6.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
