"""Which part of ``advcourse`` imports which: the package's floor plan, read from its source.

Every ``import`` statement counts, including those inside functions (imported on first use), so a
lazy import cannot hide a layer running the wrong way. A *part* is a subpackage (``attacks``,
``defences`` …) or a module at the package's top level.

    python scripts/import_graph.py              # the graph as a markdown table
    python scripts/import_graph.py --modules    # one row per module instead of per part
    python scripts/import_graph.py --check      # exit 1 and name every import that breaks the rules

``tests/test_layout.py`` runs the check, so a new import against the rules fails the suite.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "advcourse"

#: The floors, bottom first: a part may import the parts on its own floor and below, never above.
#: (The package docstring and the README's table list them in this order.)
FLOORS = [
    ["core"],
    ["models"],
    ["attacks"],
    ["foundations"],
    ["defences"],
    ["evasion"],
    ["evaluation"],
    ["poisoning", "privacy", "challenge"],
    ["one_call", "cli", "doctor"],
    ["widgets", "exercises"],
]
FLOOR = {part: level for level, parts in enumerate(FLOORS) for part in parts}
#: modules a part may not import although their part is allowed: attacks return tensors and records,
#: never figures (a progress bar on long work is plumbing, not a figure: ``train_patch`` shows one)
FORBIDDEN_MODULES = {"attacks": {"advcourse.core.viz"}}


def module_name(path: Path) -> str:
    """``advcourse/attacks/fgsm.py`` -> ``advcourse.attacks.fgsm`` (a package's ``__init__`` -> the package)."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def part_of(module: str) -> str:
    """The part a module belongs to: its subpackage, or itself at the top level."""
    pieces = module.split(".")
    return pieces[1] if len(pieces) > 1 else "__init__"


def imports_of(path: Path) -> set[str]:
    """Every ``advcourse`` module that ``path`` imports, resolved to module names."""
    this = module_name(path)
    package = this if path.name == "__init__.py" else this.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("advcourse"))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative import: climb from this module's package
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            if not base.startswith("advcourse"):
                continue
            for alias in node.names:  # ``from advcourse import checks`` names a module
                candidate = f"{base}.{alias.name}"
                found.add(candidate if _is_module(candidate) else base)
    found.discard(this)
    return found


def _is_module(name: str) -> bool:
    relative = Path(*name.split(".")[1:])
    return (PACKAGE / relative).with_suffix(".py").exists() or (PACKAGE / relative / "__init__.py").exists()


def graph(by_module: bool = False) -> dict[str, set[str]]:
    """``{importer: {imported, …}}`` over the package, per part or per module."""
    edges: dict[str, set[str]] = defaultdict(set)
    for path in sorted(PACKAGE.rglob("*.py")):
        source = module_name(path)
        key = source if by_module else part_of(source)
        for target in imports_of(path):
            other = target if by_module else part_of(target)
            if other != key:
                edges[key].add(other)
        edges.setdefault(key, set())
    return dict(edges)


def violations() -> list[str]:
    """Every import that breaks the floor plan, as ``importer -> imported`` lines."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        source = module_name(path)
        part = part_of(source)
        for target in sorted(imports_of(path)):
            above = FLOOR.get(part_of(target), -1) > FLOOR.get(part, len(FLOORS))
            if above or target in FORBIDDEN_MODULES.get(part, ()):
                found.append(f"{source} -> {target}")
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--modules", action="store_true", help="one row per module")
    parser.add_argument("--check", action="store_true", help="fail on imports against the floor plan")
    args = parser.parse_args()
    if args.check:
        bad = violations()
        print("\n".join(bad) or "the floor plan holds: no import runs against the layers")
        return 1 if bad else 0
    print("| part | imports |\n|---|---|")
    for source, targets in sorted(graph(args.modules).items()):
        print(f"| {source} | {', '.join(sorted(targets)) or '—'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
