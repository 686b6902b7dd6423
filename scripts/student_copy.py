"""Write copies of the course notebooks without the exercise solutions (``make student-notebooks``).

For workshops where the solutions should not ship at all: the closing Solutions section (every
collapsed note and folded solution cell) is dropped, and the exercise cells lose their stored outputs. Everything else,
outputs included, stays as committed. Usage:

    python scripts/student_copy.py build/student      # writes build/student/NN_*.ipynb
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

from notebook_tools import exercises, without_solutions

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    dest = Path(argv[0])
    dest.mkdir(parents=True, exist_ok=True)
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        count = len(exercises(nb))
        nbformat.write(without_solutions(nb), dest / path.name)
        print(f"{path.name:<28} {count} exercise(s), solutions removed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
