"""Build the course website (``make site``): ``build/site/``, a static site that works offline.

Every page comes from a committed file; no notebook is executed (the outputs readers see are the
outputs nbval checks). Two steps:

    python scripts/build_site.py assets   # once: the pinned JavaScript, from the npm registry
    python scripts/build_site.py          # stage the sources, run Sphinx, add the .ipynb downloads

``assets`` reads ``site/web-assets.json`` (MathJax 3 and the ipywidgets HTML manager, exact
versions), fetches each package with ``npm pack``, refuses it unless its sha512 matches the pinned
integrity, and unpacks the files the site serves into ``build/site-assets/``. It is the only step
that needs a network (a package registry); the build itself reads nothing but this repository,
the installed Python packages and ``build/site-assets/``.

The build stages its sources in ``build/site-src/`` (only files whose content changed are
rewritten, so Sphinx rebuilds only what changed):

- ``index.md``, the landing page, from ``site/index.md`` plus the course map, generated from every
  ``notebooks/NN_*.ipynb`` (a new notebook appears on the site with no edit here);
- each notebook as committed, except that its Colab badge cell (a remote image) gives way to a
  header under the title: *Launch in Colab* (the URL of the notebook's own badge, from
  ``stamp_notebooks.py`` and ``pyproject.toml``: one source of truth), *Download the notebook*,
  and a note that the apps are drawn from stored widget state; the Colab-only install cell is
  left off the page, and links in stored outputs to another notebook lead to its page;
- in notebooks and docs pages, a link to a repository file that is not a page (``../advcourse/...``)
  leads to that file in the repository at the release; an image outside ``docs/images`` is staged;
- the docs pages in :data:`DOCS` and ``docs/images/``.

Sphinx (MyST-NB, ``site/conf.py``) writes ``build/site/``; then each committed ``.ipynb`` is
copied next to its page, for the download link.
"""

from __future__ import annotations

import argparse
import base64
import fnmatch
import hashlib
import json
import posixpath
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stamp_notebooks import BADGE_MARK, INSTALL_MARK, colab_url, project_settings  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "site"
BUILD = ROOT / "build"
ASSETS = BUILD / "site-assets"
STAGE = BUILD / "site-src"
OUT = BUILD / "site"
DOCTREES = BUILD / "site-doctrees"
ASSETS_SPEC = SITE / "web-assets.json"
#: The docs pages on the site, in the order of its navigation (docs/NAME.md).
DOCS = ("teaching", "pitfalls", "site", "model", "transfer", "smoothing", "benchmarks")
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
HEADER_MARK = "<!-- site-header -->"
_MD_LINK = re.compile(r"(!?)\[([^\]]*)\]\(([^)\s#]+)(#[^)\s]*)?\)")
_NOTEBOOK_LINK = re.compile(r"""<a href=(['"])(\d\d_[\w-]+)\.ipynb\1>""")


# ----------------------------------------------------------------------------- assets (npm)
def _wanted(path: str, patterns: list[str]) -> bool:
    """``path`` (inside the package) is one of ``patterns``: a file, a folder ending in '/', or a glob."""
    return any(path.startswith(p) if p.endswith("/") else fnmatch.fnmatchcase(path, p) for p in patterns)


def _sri(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def fetch_assets(spec_path: Path = ASSETS_SPEC, dest: Path = ASSETS) -> None:
    """Fetch, verify and unpack every package of ``spec_path`` into ``dest`` (replacing it)."""
    spec = json.loads(spec_path.read_text())
    if shutil.which("npm") is None:
        sys.exit("build_site: npm not found; install Node.js (Debian: apt-get install npm) "
                 "to fetch the site's JavaScript")
    tmp_dest = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp_dest, ignore_errors=True)
    with tempfile.TemporaryDirectory() as tmp:
        for pkg in spec["packages"]:
            ref = f"{pkg['name']}@{pkg['version']}"
            out = subprocess.run(["npm", "pack", ref, "--json", "--pack-destination", tmp],
                                 capture_output=True, text=True, check=False)
            if out.returncode != 0:
                sys.exit(f"build_site: npm pack {ref} failed:\n{out.stderr[-2000:]}")
            tarball = Path(tmp) / json.loads(out.stdout)[0]["filename"]
            got = _sri(tarball.read_bytes())
            if got != pkg["integrity"]:
                sys.exit(f"build_site: {ref}: integrity {got} differs from the pinned {pkg['integrity']}")
            with tarfile.open(tarball) as tar:
                for member in tar.getmembers():
                    inner = member.name.removeprefix("package/")
                    if member.isfile() and _wanted(inner, pkg["files"]):
                        target = tmp_dest / pkg["into"] / inner
                        target.parent.mkdir(parents=True, exist_ok=True)
                        target.write_bytes(tar.extractfile(member).read())
            print(f"site assets: {ref} ({pkg['into']}/)")
    (tmp_dest / ".installed").write_text(spec_path.read_text())
    shutil.rmtree(dest, ignore_errors=True)
    tmp_dest.rename(dest)


def assets_ready(spec_path: Path = ASSETS_SPEC, dest: Path = ASSETS) -> bool:
    """The unpacked assets are those ``spec_path`` pins."""
    stamp = dest / ".installed"
    return stamp.exists() and stamp.read_text() == spec_path.read_text()


# ----------------------------------------------------------------------------- staging
def _write_if_changed(path: Path, data: bytes) -> None:
    """Write ``data`` unless ``path`` already holds it (an unchanged file keeps its mtime)."""
    if path.exists() and path.read_bytes() == data:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def notebooks() -> list[Path]:
    return sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def title(nb: nbformat.NotebookNode) -> str:
    """The notebook's first level-1 heading (its page title)."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    raise ValueError("a course notebook needs a '# Title' heading")


def has_widgets(nb: nbformat.NotebookNode) -> bool:
    return bool(nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state"))


def header(name: str, repo: str, ref: str, widgets: bool) -> str:
    """The page header that replaces the notebook's Colab badge on the site."""
    lines = [HEADER_MARK,
             f'<p class="nb-links"><a class="nb-colab" href="{colab_url(repo, ref, name)}">Launch in Colab</a>'
             f' <a class="nb-download" href="{name}" download>Download the notebook (.ipynb)</a></p>']
    if widgets:
        lines += ["", ":::{note}",
                  "The apps on this page (sliders, menus) are drawn from the widget state stored by a real run",
                  "of the notebook, so they show the values it was saved with. They become live when you run",
                  "the notebook in Jupyter (`make lab`) or in Colab.", ":::"]
    return "\n".join(lines)


def _link_pages(nb: nbformat.NotebookNode, course: set[str], name: str) -> None:
    """In stored HTML outputs, a link to a course notebook leads to its page (``NN_x.ipynb`` -> ``NN_x.html``).

    A link to a notebook the course does not hold (yet) is shown as plain text, with a warning:
    it would be a broken link on the site.
    """
    missing = set()

    def repl(m: re.Match) -> str:
        target = m.group(2)
        if f"{target}.ipynb" in course:
            return f"<a href={m.group(1)}{target}.html{m.group(1)}>"
        missing.add(f"{target}.ipynb")
        return "<a>"
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "text/html" in data:
                data["text/html"] = _NOTEBOOK_LINK.sub(repl, data["text/html"])
    for target in sorted(missing):
        print(f"site: {name}: a stored output links to {target}, which is not in notebooks/ "
              "(shown as text until it is)", file=sys.stderr)


def stage_notebook(path: Path, repo: str, ref: str, course: set[str], pages: set[str]) -> str:
    """Write the site's copy of ``path`` into the stage; return its title.

    The Colab badge cell (a remote image) goes; the page header takes its place right under the
    title; the Colab-only install cell is left out of the page (Launch in Colab runs it).
    """
    nb = nbformat.read(path, as_version=4)
    _link_pages(nb, course, path.name)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = outside_links(cell.source, "notebooks", repo, ref, pages)
    badges = [c for c in nb.cells if c.cell_type == "markdown" and c.source.startswith(BADGE_MARK)]
    if not badges:
        raise ValueError(f"{path.name}: no Colab badge cell (run scripts/stamp_notebooks.py)")
    nb.cells = [c for c in nb.cells if c is not badges[0]]
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.source.startswith(INSTALL_MARK):
            cell.metadata["tags"] = sorted(set(cell.metadata.get("tags", [])) | {"remove-cell"})
    heading = title(nb)
    first = next(c for c in nb.cells if c.cell_type == "markdown" and f"# {heading}" in c.source.splitlines())
    before, _, after = first.source.partition(f"# {heading}")
    first.source = f"{before}# {heading}\n\n{header(path.name, repo, ref, has_widgets(nb))}\n{after}"
    _write_if_changed(STAGE / "notebooks" / path.name, nbformat.writes(nb).encode())
    return heading


def course_map(entries: list[tuple[str, str]], repo: str, ref: str) -> str:
    """The landing page's table: one row per notebook (page, Colab, download)."""
    from advcourse.foundations.threat_models import ATTACK_CLASSES

    rows = ["| notebook | attack class (NIST AI 100-2) | run it | get it |", "|---|---|---|---|"]
    for name, heading in entries:
        stem = name.removesuffix(".ipynb")
        rows.append(f"| [{heading}](notebooks/{stem}.ipynb) | {ATTACK_CLASSES.get(stem, '')} "
                    f"| [Launch in Colab]({colab_url(repo, ref, name)}) "
                    f"| <a href=\"notebooks/{name}\" download>{name}</a> |")
    return "\n".join(rows) + "\n"


def outside_links(text: str, folder: str, repo: str, ref: str, pages: set[str], stage_dir: Path = STAGE) -> str:
    """Markdown ``text`` (in the repository's ``folder``) with its links to repository files that are
    not on the site made to work there: an image is staged beside the pages (so it is served, not
    fetched), any other file links to its copy in the repository at the release ``ref``.

    ``pages`` holds the site's sources (``notebooks/05_fgsm.ipynb``, ``docs/teaching.md``...); links
    to them, to other hosts and to files that do not exist are left as they are (Sphinx reports
    the last).
    """
    def repl(m: re.Match) -> str:
        bang, label, target, anchor = m.group(1), m.group(2), m.group(3), m.group(4) or ""
        if ":" in target or target.startswith("/"):
            return m.group(0)
        rel = posixpath.normpath(posixpath.join(folder, target))
        if rel.startswith("..") or rel in pages or not (ROOT / rel).is_file():
            return m.group(0)
        if bang:
            _write_if_changed(stage_dir / rel, (ROOT / rel).read_bytes())
            return m.group(0)
        return f"[{label}]({repo}/blob/{ref}/{rel}{anchor})"
    return _MD_LINK.sub(repl, text)


def stage() -> list[Path]:
    """Stage every source of the site; return the notebooks staged."""
    repo, ref = project_settings()
    books = notebooks()
    course = {p.name for p in books}
    pages = ({"index.md"} | {f"notebooks/{p.name}" for p in books} | {f"docs/{name}.md" for name in DOCS}
             | {str(p.relative_to(ROOT)) for p in (ROOT / "docs" / "images").rglob("*") if p.is_file()})
    entries = [(p.name, stage_notebook(p, repo, ref, course, pages)) for p in books]
    stale = {p.name for p in (STAGE / "notebooks").glob("*.ipynb")} - {p.name for p in books}
    for name in stale:  # a notebook renamed or removed since the last build
        (STAGE / "notebooks" / name).unlink()
    landing = (SITE / "index.md").read_text().replace("{{ repository }}", repo)
    _write_if_changed(STAGE / "index.md", landing.encode())
    _write_if_changed(STAGE / "_course_map.md", course_map(entries, repo, ref).encode())
    for name in DOCS:
        text = outside_links((ROOT / "docs" / f"{name}.md").read_text(), "docs", repo, ref, pages)
        _write_if_changed(STAGE / "docs" / f"{name}.md", text.encode())
    for image in (ROOT / "docs" / "images").rglob("*"):
        if image.is_file():
            _write_if_changed(STAGE / "docs" / "images" / image.relative_to(ROOT / "docs" / "images"),
                              image.read_bytes())
    return books


# ----------------------------------------------------------------------------- build
def build(quiet: bool = True) -> float:
    """Stage, run Sphinx into build/site/, add the downloads; return the seconds it took."""
    if not assets_ready():
        sys.exit("build_site: the site's JavaScript is missing or stale: run `make site` "
                 "(or `python scripts/build_site.py assets`) once with access to the npm registry")
    start = time.perf_counter()
    books = stage()
    cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-c", str(SITE), "-d", str(DOCTREES),
           "--fail-on-warning", "--keep-going", str(STAGE), str(OUT)]
    if quiet:
        cmd.insert(3, "-q")
    result = subprocess.run(cmd, cwd=ROOT, check=False)
    if result.returncode != 0:
        sys.exit(f"build_site: sphinx-build failed (exit {result.returncode})")
    for path in books:  # the committed notebook, byte for byte, next to its page
        shutil.copyfile(path, OUT / "notebooks" / path.name)
    _prune(books)
    (OUT / ".nojekyll").touch()  # GitHub Pages: serve _static/ and _images/ as they are
    return time.perf_counter() - start


def _prune(books: list[Path]) -> None:
    """Delete pages and downloads that an earlier build wrote and this one has no source for
    (a notebook renamed or removed, a docs page dropped): Sphinx never deletes an output."""
    keep = {"index.html", "search.html"} | {f"docs/{name}.html" for name in DOCS}
    keep |= {f"notebooks/{p.stem}.html" for p in books} | {f"notebooks/{p.name}" for p in books}
    for path in [*OUT.glob("*.html"), *OUT.glob("docs/*.html"), *OUT.glob("notebooks/*")]:
        if str(path.relative_to(OUT)) not in keep:
            path.unlink()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", nargs="?", choices=["assets", "build"], default="build")
    parser.add_argument("--verbose", action="store_true", help="show Sphinx's progress")
    args = parser.parse_args(argv)
    if args.step == "assets":
        fetch_assets()
        return 0
    seconds = build(quiet=not args.verbose)
    print(f"site: {OUT.relative_to(ROOT)}/ built in {seconds:.0f} s "
          f"({len(notebooks())} notebooks, {len(DOCS)} docs pages); open {OUT.relative_to(ROOT)}/index.html")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
