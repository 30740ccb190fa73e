"""Sphinx configuration: the Markdown pages under docs/ (MyST), math by MathJax, the API
reference by autodoc from the docstrings.

The site works with no network: MathJax 3 comes from the ``sphinx-mathjax-offline`` package
(the ``docs`` extra), which copies it into ``_static/mathjax/`` and points ``mathjax_path``
there, so no page loads a script, style or font from a CDN (tests/test_docs_offline.py opens
the built pages in Chromium with the network off).

Build: python -m pip install ".[docs]" && sphinx-build -W -b html docs docs/_build/html
"""

from __future__ import annotations

import jacobians

project = "jacobians"
author = "the jacobians authors"
copyright = "2026, the jacobians authors"
release = jacobians.__version__
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",  # ships MathJax 3 into _static/: no CDN
    "sphinx.ext.viewcode",
]

source_suffix = {".md": "markdown"}
root_doc = "index"
# generated/ holds the derivation included by walkthrough.md; gradescope/ holds scripts.
exclude_patterns = ["_build", "generated", "gradescope", "Thumbs.db", ".DS_Store"]

# $…$ and $$…$$ math in Markdown (jacobians derive --format markdown writes $$ blocks),
# and :::{note} fences.
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3
# a prime is a prime: g'(z) and σ' are not to be typeset as g’(z) and σ’ (curly quotes)
smartquotes = False

autodoc_default_options = {"members": True, "member-order": "bysource"}
autodoc_typehints = "description"
autodoc_typehints_format = "short"

html_theme = "alabaster"
html_title = "jacobians"
html_theme_options = {
    "description": "The linear algebra of backpropagation, made explicit.",
    "page_width": "1200px",  # the CLI transcripts and matrices are wide
}
# Wide displays and transcripts scroll inside their box instead of being cut or pushing the
# page wider (docs/_static/layout.css).
html_static_path = ["_static"]
html_css_files = ["layout.css"]
