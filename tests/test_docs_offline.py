"""The docs site works with no network: every formula renders from the MathJax that the
``docs`` extra ships (``sphinx-mathjax-offline``), not from a CDN.

The site is built once per session with Sphinx, then each page with formulas is opened in
headless Chromium whose network is off (every host name resolves to nothing and every request
goes to an unroutable proxy). The proof that it is off: the same walk-through page with the
stock ``sphinx.ext.mathjax`` CDN script shows its raw LaTeX.

Needs the ``docs`` extra and Chromium (Debian: ``apt-get install chromium``). Without them the
tests skip, except under CI (the environment variable ``CI`` is set), where they fail and say
what to install. ``pytest -m "not docs_site"`` leaves them out of a quick run.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import NoReturn

import pytest

pytestmark = pytest.mark.docs_site

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
MODULES = ("sphinx", "myst_parser", "sphinx-mathjax-offline")
RAW_TEX = (r"\begin{matrix}", r"\frac", r"\left(", r"\partial")
# Every page with a formula; the walk-through alone has 93.
MATH_PAGES = (
    "walkthrough",
    "order",
    "attention",
    "batchnorm",
    "convolution",
    "index",
    "notation",
    "tensor",
)


def _missing(what: str, install: str) -> NoReturn:
    """Skip, or fail under CI, when a tool for these tests is not installed."""
    message = f"{what} is not installed: {install}"
    if os.environ.get("CI"):
        pytest.fail(f"{message} (CI must run the docs-site tests)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def chromium() -> str:
    """The Chromium executable: $CHROMIUM, else chromium or chromium-browser on PATH."""
    for name in (os.environ.get("CHROMIUM", ""), "chromium", "chromium-browser"):
        path = shutil.which(name) if name else None
        if path:
            return path
    _missing("Chromium", "apt-get install -y chromium")


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The HTML site, built once. The API reference (autodoc, no formulas, most of the build
    time) is left out; CI's ``sphinx-build -W`` builds every page."""
    for module in MODULES:
        if importlib.util.find_spec(module) is None:
            _missing(f"the Python module {module}", 'python -m pip install ".[docs]"')
    out = tmp_path_factory.mktemp("site")
    command = [sys.executable, "-m", "sphinx", "-q", "-b", "html"]
    command += ["-D", "exclude_patterns=_build,generated,gradescope,api.md"]
    command += ["-d", str(out / ".doctrees"), str(DOCS), str(out / "html")]
    build = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert build.returncode == 0, f"sphinx-build failed:\n{build.stderr}"
    return out / "html"


def _open_offline(chromium: str, page: Path, profile: Path) -> str:
    """The page's DOM after its scripts ran, in Chromium with the network off."""
    command = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--proxy-server=127.0.0.1:9",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost",
        "--virtual-time-budget=15000",
        "--dump-dom",
        page.as_uri(),
    ]
    run = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0 and "</html>" in run.stdout, f"chromium failed:\n{run.stderr}"
    return run.stdout


class _Dom(HTMLParser):
    """Counts the rendered formulas (``mjx-container``), MathJax's error marks, and keeps the
    text a reader sees (not in script, style or MathJax's hidden MathML copy)."""

    HIDDEN = frozenset({"script", "style", "noscript", "template", "mjx-assistive-mml"})

    def __init__(self, html: str) -> None:
        super().__init__()
        self.rendered = {"true": 0, "false": 0}
        self.errors = 0
        self.text: list[str] = []
        self._hidden = 0
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "mjx-container":
            self.rendered[found.get("display") or "false"] += 1
        if tag == "mjx-merror" or "data-mjx-error" in found:
            self.errors += 1
        if tag in self.HIDDEN:
            self._hidden += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in self.HIDDEN:
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.text.append(data)

    def raw_tex(self) -> list[str]:
        visible = "".join(self.text)
        return [tex for tex in RAW_TEX if tex in visible]


def _formulas(html: str) -> tuple[int, int]:
    """(display, inline) formulas in a built page, before MathJax: Sphinx's div/span.math."""
    display = len(re.findall(r'<div class="math[ "]', html))
    inline = len(re.findall(r'<span class="math[ "]', html))
    return display, inline


def test_no_page_loads_a_script_style_or_font_from_the_network(site: Path) -> None:
    pages = sorted(site.glob("*.html"))
    assert len(pages) >= len(MATH_PAGES)
    loads = re.compile(r'<(?:script|link|img|iframe)\b[^>]*?\b(?:src|href)="((?:https?:)?//[^"]*)"')
    remote = {page.name: loads.findall(page.read_text()) for page in pages}
    assert {name: urls for name, urls in remote.items() if urls} == {}
    walkthrough = (site / "walkthrough.html").read_text()
    assert '<script defer="defer" src="_static/mathjax/tex-chtml.js' in walkthrough
    assert (site / "_static" / "mathjax" / "tex-chtml.js").is_file()
    assert list((site / "_static" / "mathjax" / "output" / "chtml" / "fonts").rglob("*.woff"))


def test_primes_stay_primes(site: Path) -> None:
    # Sphinx's smart quotes turned g'(z) into g’(z) and σ' into σ’ (a closing quote)
    html = (site / "walkthrough.html").read_text()
    assert "g'(z" in html.replace("&#39;", "'") and "σ' in the form a(1 − a)" in html.replace(
        "&#39;", "'"
    )
    assert "’" not in html


def test_walkthrough_shows_every_generated_formula(site: Path) -> None:
    """The six includes of docs/generated/walkthrough.md, cut at its headings, lose nothing:
    one display per ``$$`` block; the short headings stand in for the generated ones."""
    generated = (DOCS / "generated" / "walkthrough.md").read_text()
    blocks = generated.count("\n$$\n") // 2
    html = (site / "walkthrough.html").read_text()
    assert _formulas(html) == (blocks, 0)
    headings = re.findall(r'<h2>(.*?)<a class="headerlink"', html)
    assert headings == [
        "How to read what follows",
        "dW[3]",
        "db[3]",
        "dW[2]",
        "db[2]",
        "dW[1]",
        "db[1]",
    ]
    assert not re.findall(r"<h[1-6]>[^<]*of the 3-4-2-1 network", html)


@pytest.mark.parametrize("name", MATH_PAGES)
def test_formulas_render_with_the_network_off(
    name: str, chromium: str, site: Path, tmp_path: Path
) -> None:
    page = site / f"{name}.html"
    display, inline = _formulas(page.read_text())
    assert display + inline > 0, f"{name}.html has no formula: update MATH_PAGES"
    dom = _Dom(_open_offline(chromium, page, tmp_path / "profile"))
    assert dom.rendered == {"true": display, "false": inline}
    assert dom.errors == 0
    assert dom.raw_tex() == []


def test_the_network_is_off_the_cdn_page_shows_raw_latex(
    chromium: str, site: Path, tmp_path: Path
) -> None:
    """Control: the walk-through with the stock CDN script (Sphinx's default mathjax_path,
    what the site loaded before) renders nothing and leaves its LaTeX on the page."""
    import sphinx.util.logging  # noqa: F401  (sphinx.ext.mathjax needs it loaded first)
    from sphinx.ext.mathjax import MATHJAX_URL

    html = (site / "walkthrough.html").read_text()
    local = re.compile(r'src="_static/mathjax/tex-chtml\.js[^"]*"')
    assert len(local.findall(html)) == 1
    control = site / "walkthrough_cdn.html"
    control.write_text(local.sub(f'src="{MATHJAX_URL}"', html))
    dom = _Dom(_open_offline(chromium, control, tmp_path / "profile"))
    assert dom.rendered == {"true": 0, "false": 0}
    assert dom.raw_tex() == list(RAW_TEX)
