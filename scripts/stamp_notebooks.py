"""Write the Colab badge and the guarded install cell into every course notebook; gather solutions.

The repository URL and the git ref live in pyproject.toml only ([project.urls].Repository and
[tool.advcourse].colab-ref); this script stamps them into notebooks/NN_*.ipynb so nobody edits
URLs by hand. It also gathers every exercise's solution into the notebook's closing Solutions
section, collapsed and folded (see notebook_tools.py), so a learner opens it on purpose. ``--check`` exits 1 when a notebook is out of date (used by the test suite).
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

import nbformat

from notebook_tools import gather_solutions

ROOT = Path(__file__).resolve().parents[1]
BADGE_MARK = "<!-- colab-badge -->"
INSTALL_MARK = "# colab-install"


def project_settings(pyproject: Path = ROOT / "pyproject.toml") -> tuple[str, str]:
    data = tomllib.loads(pyproject.read_text())
    return data["project"]["urls"]["Repository"].rstrip("/"), data["tool"]["advcourse"]["colab-ref"]


def colab_url(repo: str, ref: str, notebook: str = "") -> str:
    """Colab's page for ``notebooks/<notebook>`` of the GitHub ``repo`` at ``ref`` (the folder if no name)."""
    path = repo.replace("https://github.com/", "github/")
    return f"https://colab.research.google.com/{path}/blob/{ref}/notebooks/{notebook}"


def badge_source(repo: str, ref: str, notebook: str) -> str:
    url = colab_url(repo, ref, notebook)
    # A text link, not Colab's badge image: the image is fetched from the web, and a workshop room or a
    # train with no internet would show a broken picture at the top of every notebook.
    return f"{BADGE_MARK}\n**[Open in Colab ↗]({url})**"


def install_source(repo: str, ref: str) -> str:
    return (f"{INSTALL_MARK}: in Colab only, install the course package (torch and ipywidgets stay as they are)\n"
            "import sys\n"
            "if \"google.colab\" in sys.modules:\n"
            f"    %pip install -q \"advcourse @ git+{repo}@{ref}\"")


def stamp(nb: nbformat.NotebookNode, name: str, repo: str, ref: str) -> bool:
    """Make cell 0 the badge and cell 1 the install cell; return True when anything changed."""
    before = [c.source for c in nb.cells[:2]]
    cells = [c for c in nb.cells if not (c.source.startswith(BADGE_MARK) or c.source.startswith(INSTALL_MARK))]
    def existing(mark: str):
        return next((c for c in nb.cells[:2] if c.source.startswith(mark)), None)

    badge = existing(BADGE_MARK) or nbformat.v4.new_markdown_cell()
    install = existing(INSTALL_MARK) or nbformat.v4.new_code_cell()
    badge.source, install.source = badge_source(repo, ref, name), install_source(repo, ref)
    nb.cells = [badge, install, *cells]
    return [c.source for c in nb.cells[:2]] != before


def stamp_readme(text: str, repo: str, ref: str) -> str:
    """The README with every Colab link to a course notebook pointing at ``repo`` and ``ref``."""
    return re.sub(r"https://colab\.research\.google\.com/github/[^)\s]*?/blob/[^/)\s]+/notebooks/",
                  colab_url(repo, ref), text)


def main(argv: list[str]) -> int:
    check = "--check" in argv
    repo, ref = project_settings()
    stale = []
    readme = ROOT / "README.md"
    text = readme.read_text()
    stamped = stamp_readme(text, repo, ref)
    if stamped != text:
        stale.append(readme.name)
        if not check:
            readme.write_text(stamped)
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        if stamp(nb, path.name, repo, ref) | gather_solutions(nb):
            stale.append(path.name)
            if not check:
                nbformat.write(nb, path)
    if stale:
        print(("out of date: " if check else "stamped: ") + ", ".join(stale))
    return 1 if (check and stale) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
