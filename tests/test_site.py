"""The course website, built and read offline in a real Chromium (``make site``, scripts/build_site.py).

The site is built first (incremental: Sphinx redoes only what changed since the last ``make site``),
with the network blocked like the rest of the suite. A local HTTP server on 127.0.0.1 serves
``build/site/``, and Chromium opens every page at desktop and at phone width with every request to
another host aborted and counted. A page fails on: any request to a non-local host, a local file
that does not load (a broken link, image, script or font), a JavaScript error, raw ``$$`` / ``\\(``
left in the text (math MathJax did not render), a stored widget view that was not drawn, a solution
in view, or a page wider than a phone. Notebook pages must also carry their *Launch in Colab*
link (the same URL as the notebook's badge) and a download link that serves the committed
``.ipynb`` byte for byte, and link to the previous and next notebook; the search page must find
a notebook. Screenshots of each page at both widths go to ``test-artifacts/site/``
(``ADVCOURSE_ARTIFACTS`` overrides the folder), with a ``report.json`` of what was checked.
The checks themselves are tried on a page that has every fault (the last test).
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import nbformat
import pytest

from labserver import ROOT, chromium, need

sys.path.insert(0, str(ROOT / "scripts"))
from build_site import OUT, assets_ready, notebooks  # noqa: E402
from notebook_tools import exercises  # noqa: E402
from stamp_notebooks import colab_url, project_settings  # noqa: E402

ARTIFACTS = Path(os.environ.get("ADVCOURSE_ARTIFACTS", ROOT / "test-artifacts")) / "site"
WIDTHS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
NOTEBOOK_PAGES = [f"notebooks/{p.stem}.html" for p in notebooks()]

# The text a reader sees, without code, math already typeset, and folded content.
VISIBLE_PROSE = """() => {
  const body = document.querySelector('main') || document.body;
  const copy = body.cloneNode(true);
  copy.querySelectorAll('pre, code, script, style, mjx-container, details:not([open]) > :not(summary)')
      .forEach(e => e.remove());
  return copy.textContent;
}"""
# Every widget view stored on the page, and how many of them the HTML manager drew.
WIDGETS = """() => ({
  stored: document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]').length,
  drawn: [...document.querySelectorAll('.widget-subarea')].filter(e => e.querySelector('.jupyter-widgets')).length,
  errors: document.body.innerText.includes('Error displaying widget'),
})"""
LINKS = """() => [...document.querySelectorAll('a[href], img[src], link[href], script[src]')]
  .map(e => e.href || e.src)"""


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # no request log on the test's output
        pass


@contextlib.contextmanager
def _serve(root: Path):
    """``root`` served on a free port of 127.0.0.1 (its base URL), for as long as the block runs."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def site():
    """Build the site (offline: the suite's network guard covers this subprocess too); serve it on 127.0.0.1."""
    need(importlib.util.find_spec("myst_nb") is not None, "the site's packages are not installed (make site)")
    need(assets_ready(), "the site's JavaScript is not unpacked yet (make site fetches it once)")
    build = subprocess.run([sys.executable, "scripts/build_site.py"], cwd=ROOT, capture_output=True, text=True)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    with _serve(OUT) as base:
        yield base


def _pages() -> list[str]:
    """Every page of the site, as a path relative to build/site/ (theme templates excluded)."""
    return sorted(str(p.relative_to(OUT)) for p in OUT.rglob("*.html") if "_static" not in p.parts)


def _local_file(url: str, base: str, root: Path = OUT) -> Path | None:
    """The file under ``root`` (build/site/) that a local ``url`` names (None for another host)."""
    parts = urlsplit(url)
    if not url.startswith(base):
        return None
    path = root / unquote(parts.path[len(urlsplit(base).path):])
    return path / "index.html" if path.is_dir() else path


def _anchor_exists(url: str, base: str, root: Path) -> bool:
    parts = urlsplit(url)
    page = _local_file(url, base, root)
    if not parts.fragment or page is None or page.suffix != ".html":
        return True
    text = page.read_text(encoding="utf-8")
    return re.search(rf'id="{re.escape(unquote(parts.fragment))}"', text) is not None


def _visit(context, base: str, page_path: str, width: str, root: Path = OUT, shots: Path = ARTIFACTS) -> dict:
    """Open one page of the site in ``root``, let its math and widgets render, report what went wrong
    (screenshots into ``shots``)."""
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"JavaScript error: {exc}"))
    page.on("console", lambda msg: problems.append(f"console error: {msg.text}") if msg.type == "error" else None)
    page.on("response", lambda r: problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)
    page.goto(base + page_path, wait_until="load")
    page.evaluate("async () => { if (window.MathJax?.startup?.promise) await MathJax.startup.promise; }")
    widgets = page.evaluate(WIDGETS)
    if widgets["stored"]:
        try:
            page.wait_for_function(f"() => ({WIDGETS})().drawn >= {widgets['stored']}", timeout=30_000)
        except Exception:
            pass
        widgets = page.evaluate(WIDGETS)
    if widgets["drawn"] < widgets["stored"] or widgets["errors"]:
        problems.append(f"widgets: {widgets['drawn']} of {widgets['stored']} stored views drawn"
                        + (" ('Error displaying widget')" if widgets["errors"] else ""))
    prose = page.evaluate(VISIBLE_PROSE)
    for raw in ("$$", "\\(", "\\["):
        if raw in prose:
            at = prose.index(raw)
            problems.append(f"raw math {raw!r} left unrendered: ...{prose[max(0, at - 60):at + 60]!r}...")
    for url in page.evaluate(LINKS):
        target = _local_file(url.split("#")[0].split("?")[0], base, root)
        if target is not None and not target.exists():
            problems.append(f"broken link: {url}")
        elif target is not None and not _anchor_exists(url, base, root):
            problems.append(f"broken anchor: {url}")
    broken_images = page.evaluate("() => [...document.images].filter(i => i.complete && i.naturalWidth === 0)"
                                  ".map(i => i.src)")
    problems += [f"image did not load: {src}" for src in broken_images]
    if width == "phone":
        overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        if overflow > 2:
            problems.append(f"the page is {overflow}px wider than a phone screen")
    facts = {"widgets": widgets["stored"], "math": page.locator("mjx-container").count()}
    if page_path in NOTEBOOK_PAGES:
        facts.update(_notebook_facts(page, base, page_path, problems))
    name = page_path.removesuffix(".html").replace("/", "_")
    page.screenshot(path=str(shots / f"{name}-{width}.png"))
    if width == "desktop" and widgets["drawn"]:
        app = page.locator(".widget-subarea").first
        app.scroll_into_view_if_needed()
        app.screenshot(path=str(shots / f"{name}-app.png"))
    page.close()
    return {"problems": problems, **facts}


def _notebook_facts(page, base: str, page_path: str, problems: list[str]) -> dict:
    """A notebook page's own promises: Colab and download links, solutions folded, previous/next."""
    name = Path(page_path).stem + ".ipynb"
    repo, ref = project_settings()
    colab = page.locator("a.nb-colab").get_attribute("href")
    if colab != colab_url(repo, ref, name):
        problems.append(f"Launch in Colab links to {colab}, the notebook's badge to {colab_url(repo, ref, name)}")
    download = urljoin(base + page_path, page.locator("a.nb-download").get_attribute("href"))
    served = _local_file(download, base)
    if served is None or served.read_bytes() != (ROOT / "notebooks" / name).read_bytes():
        problems.append(f"the download link {download} does not serve the committed {name}")
    text = page.evaluate("() => document.body.innerText")
    for shown in ("✔ correct", "Solution."):
        if shown in text:
            problems.append(f"a solution is in view ({shown!r})")
    folded = page.locator("details").count()
    if page.locator("details[open]").count():
        problems.append("a folded block is open when the page loads")
    k = NOTEBOOK_PAGES.index(page_path)
    for selector, want in (("a.left-prev", NOTEBOOK_PAGES[k - 1] if k else "index.html"),
                           ("a.right-next", NOTEBOOK_PAGES[k + 1] if k + 1 < len(NOTEBOOK_PAGES) else None)):
        link = page.locator(selector)
        if want is not None and (not link.count() or not urljoin(base + page_path, link.first.get_attribute("href"))
                                 .startswith(base + want)):
            problems.append(f"{selector} should lead to {want}")
    return {"folded": folded}


def _blocking(context, blocked: list[str]) -> None:
    """Abort (and record) every request that would leave this machine."""
    def route(r):
        if urlsplit(r.request.url).hostname in LOCAL_HOSTS or r.request.url.startswith(("data:", "blob:")):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()
    context.route("**/*", route)


@pytest.mark.slow
@pytest.mark.browser
def test_every_page_renders_offline_at_desktop_and_phone_width(site, tmp_path):
    shutil.rmtree(ARTIFACTS, ignore_errors=True)  # only this run's screenshots
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pages = _pages()
    assert "index.html" in pages and set(NOTEBOOK_PAGES) <= set(pages), pages
    blocked: list[str] = []
    report: dict = {"pages": len(pages), "widths": WIDTHS, "results": {}}
    with chromium(tmp_path) as browser:
        for width, viewport in WIDTHS.items():
            context = browser.new_context(viewport=viewport)
            _blocking(context, blocked)
            for page_path in pages:
                report["results"][f"{page_path} @ {width}"] = _visit(context, site, page_path, width)
            context.close()
    report["non_local_requests"] = len(blocked)
    report["blocked"] = sorted(set(blocked))
    (ARTIFACTS / "report.json").write_text(json.dumps(report, indent=1))
    failures = {k: v["problems"] for k, v in report["results"].items() if v["problems"]}
    print(f"site: {len(pages)} pages x {len(WIDTHS)} widths, {len(blocked)} non-local requests, "
          f"{sum(not v['problems'] for v in report['results'].values())} clean page views; "
          f"screenshots in {ARTIFACTS}")
    assert not blocked, f"{len(blocked)} requests to non-local hosts: {sorted(set(blocked))[:10]}"
    assert not failures, json.dumps(failures, indent=1)[:6000]
    # what the pages must hold, not only what they must not
    results = report["results"]
    assert all(results[f"{p} @ desktop"]["widgets"] for p in NOTEBOOK_PAGES)  # every notebook has an app
    assert sum(results[f"{p} @ desktop"]["math"] for p in NOTEBOOK_PAGES) > 0  # math typeset somewhere
    assert all(results[f"{p} @ desktop"]["folded"] >= len(exercises(nbformat.read(ROOT / "notebooks" / (Path(p).stem
               + ".ipynb"), as_version=4))) for p in NOTEBOOK_PAGES)  # a folded block per solution


@pytest.mark.slow
@pytest.mark.browser
def test_search_finds_a_notebook_offline(site, tmp_path):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    blocked: list[str] = []
    with chromium(tmp_path) as browser:
        context = browser.new_context(viewport=WIDTHS["desktop"])
        _blocking(context, blocked)
        page = context.new_page()
        page.goto(site + "search.html?q=DeepFool")
        page.wait_for_function("() => document.querySelectorAll('#search-results li').length > 0", timeout=30_000)
        hits = page.evaluate("() => [...document.querySelectorAll('#search-results li a')].map(a => a.href)")
        page.screenshot(path=str(ARTIFACTS / "search-results-desktop.png"))
        context.close()
    assert any("notebooks/07_deepfool.html" in h for h in hits), hits
    assert not blocked, blocked


BROKEN_PAGE = """<!doctype html><html><head><script src="https://cdn.example.org/lib.js"></script></head>
<body><main><p>Loss $$J(x)$$ and \\(x\\) never typeset.</p>
<img src="missing.png"><a href="nowhere.html">a link to no page</a><a href="#no-such-anchor">an anchor</a>
<pre>$$ inside code is fine</pre><div style="width: 900px">too wide for a phone</div>
<script>undefinedFunction();</script></main></body></html>"""


@pytest.mark.browser
def test_the_page_checks_catch_what_they_promise_to(tmp_path):
    """The checks above, on one page with every fault: each is reported, and the CDN script is blocked."""
    root = tmp_path / "broken"
    root.mkdir()
    (root / "page.html").write_text(BROKEN_PAGE)
    blocked: list[str] = []
    with _serve(root) as base, chromium(tmp_path) as browser:
        context = browser.new_context(viewport=WIDTHS["phone"])
        _blocking(context, blocked)
        problems = "\n".join(_visit(context, base, "page.html", "phone", root, shots=tmp_path)["problems"])
        context.close()
    assert blocked == ["https://cdn.example.org/lib.js"]
    for fault in ("raw math '$$'", "raw math '\\\\('", "broken link: " + base + "missing.png",
                  "broken link: " + base + "nowhere.html", "broken anchor: " + base + "page.html#no-such-anchor",
                  "JavaScript error: undefinedFunction is not defined", "wider than a phone screen"):
        assert fault in problems, f"{fault!r} not reported:\n{problems}"
    assert "inside code" not in problems


def test_links_to_repository_files_work_on_the_site(tmp_path):
    """A notebook's link to a package file leads to the release on the repository; an image is staged."""
    from build_site import outside_links

    repo, ref = project_settings()
    pages = {"notebooks/05_fgsm.ipynb", "docs/teaching.md"}
    text = ("[the code](../advcourse/attacks/pgd.py#L10) [next](05_fgsm.ipynb) [guide](../docs/teaching.md) "
            "[paper](https://arxiv.org/abs/1706.06083) [gone](../no/such/file.py) ![cat](../advcourse/data/samples/"
            "chelsea_cat.jpg)")
    out = outside_links(text, "notebooks", repo, ref, pages, stage_dir=tmp_path)
    assert f"[the code]({repo}/blob/{ref}/advcourse/attacks/pgd.py#L10)" in out
    for kept in ("[next](05_fgsm.ipynb)", "[guide](../docs/teaching.md)", "(https://arxiv.org/abs/1706.06083)",
                 "[gone](../no/such/file.py)", "![cat](../advcourse/data/samples/chelsea_cat.jpg)"):
        assert kept in out, kept
    staged = tmp_path / "advcourse" / "data" / "samples" / "chelsea_cat.jpg"
    assert staged.read_bytes() == (ROOT / "advcourse" / "data" / "samples" / "chelsea_cat.jpg").read_bytes()
