"""Sphinx configuration of the course website (built by ``make site``: scripts/build_site.py).

Sphinx + MyST-NB + sphinx-book-theme, all from PyPI: the notebooks are rendered from their stored
outputs (``nb_execution_mode = "off"``), and everything a page loads is served from the site itself
(MathJax and the ipywidgets HTML manager come from build/site-assets/, the theme ships its fonts and
icons), so the site works with no network, when built and when read.
"""

from __future__ import annotations

import sys
from pathlib import Path

SITE = Path(__file__).resolve().parent
ROOT = SITE.parent
sys.path.insert(0, str(ROOT / "scripts"))
from build_site import ASSETS  # noqa: E402
from stamp_notebooks import project_settings  # noqa: E402

REPOSITORY, REF = project_settings()  # pyproject.toml: the one place the repository and release are named

project = "advcourse"
author = "the advcourse authors"
copyright = "the advcourse authors, MIT licence"
html_title = "advcourse: adversarial machine learning, hands-on"
root_doc = "index"

extensions = ["myst_nb"]
nb_execution_mode = "off"          # the outputs readers see are the committed, nbval-checked ones
nb_output_stderr = "show"          # none are stored; if one ever is, it shows (nothing silently dropped)
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "html_image"]
myst_heading_anchors = 3
suppress_warnings = ["myst.header"]  # notebooks may step from '#' straight to '###'
exclude_patterns = ["_course_map.md"]  # included by index.md, not a page of its own

# Served from the site, never from a CDN (build/site-assets/, see site/web-assets.json).
html_static_path = ["_static", str(ASSETS)]
mathjax_path = "mathjax/es5/tex-chtml.js"
nb_ipywidgets_js = {"widgets/dist/embed.js": {}}   # embed.js bundles the core widgets: no require.js
html_css_files = ["advcourse.css"]
# Widget labels are typeset with MathJax 2's API; this maps it onto MathJax 3 (runs after MathJax's
# deferred script, as Sphinx gives MathJax priority 500).
html_js_files = [("mathjax2-shim.js", {"defer": "defer", "priority": 510})]

html_theme = "sphinx_book_theme"
html_theme_options = {
    "repository_url": REPOSITORY,
    "repository_branch": REF,
    "use_repository_button": True,
    "use_download_button": False,   # each notebook page has its own download link (the committed .ipynb)
    "use_fullscreen_button": False,
    "show_toc_level": 2,
    "home_page_in_toc": True,
    "navigation_with_keys": False,
}
html_context = {"default_mode": "light"}  # the stored figures are drawn on white
html_use_index = False      # no API index: the site is the course, not the package reference
html_copy_source = False
html_show_sourcelink = False
html_last_updated_fmt = None
