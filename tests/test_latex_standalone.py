"""``jacobians derive --format latex --standalone`` prints documents that pdflatex compiles and
that fit the page.

Which commands: every ``jacobians derive …`` command the docs show — in a fenced block or an
inline code span of ``docs/*.md`` or ``README.md`` (a span may wrap over lines), and the
examples of ``jacobians derive --help`` (but ``--help`` itself) — each with its own
``--format`` and ``--standalone`` dropped and ``--format latex --standalone`` added; a command
with no options stands for the default walk-through. Each document is compiled by
``pdflatex -interaction=nonstopmode -halt-on-error`` in a scratch folder: it must exit 0, and
no line may stick out of the margin by more than ``MAX_OVERFULL_PT`` (an ``Overfull \\hbox``
in the log).

Without pdflatex these tests skip, except in CI (the environment variable ``CI`` set), where
they fail: CI installs it (Debian: ``apt-get install --no-install-recommends
texlive-latex-base``).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from derivations.derivation import (
    LATEX_PACKAGES,
    _latex_text,
    latex_document,
)
from derivations.general import general_derivation
from derivations.layers import derive_network
from jacobians.cli import DERIVE_EPILOG, main
from jacobians.network import Network

ROOT = Path(__file__).resolve().parent.parent
PAGES = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]
MAX_OVERFULL_PT = 5.0
"""How far (in points) a line may stick out of the margin: TeX's rounding, not a matrix."""
_OVERFULL = re.compile(r"Overfull \\hbox \((\d+(?:\.\d+)?)pt too wide\)")


def _shown_commands() -> list[str]:
    """The options of every ``jacobians derive`` command in the docs and ``--help``, deduplicated
    in order, without ``--format X`` and ``--standalone``."""
    found: list[str] = []
    for page in PAGES:
        text = page.read_text()
        spans = re.findall(r"`(jacobians derive[^`]*)`", text)  # inline, may wrap
        lines = re.findall(r"^\$? ?(jacobians derive.*)$", text, flags=re.M)  # in blocks
        found += spans + lines
    found += re.findall(r"^  (jacobians derive.*?)(?:  +\S.*)?$", DERIVE_EPILOG, flags=re.M)
    commands: dict[str, None] = {}
    for command in found:
        argv = shlex.split(" ".join(command.split()))[2:]
        if "--help" in argv:  # not a derivation
            continue
        if "--format" in argv:
            at = argv.index("--format")
            del argv[at : at + 2]
        commands[shlex.join(a for a in argv if a != "--standalone")] = None
    return list(commands)


COMMANDS = _shown_commands()


def _pdflatex() -> str:
    """The pdflatex to run; skip without one, or fail when in CI."""
    found = shutil.which("pdflatex")
    if found is None:
        message = (
            "pdflatex is not installed: apt-get install -y --no-install-recommends "
            "texlive-latex-base"
        )
        if os.environ.get("CI"):
            pytest.fail(f"{message} (CI must compile the LaTeX documents)")
        pytest.skip(message)
    return found


def _derive(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["derive", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def _compile(document: str, folder: Path) -> tuple[int, str]:
    """pdflatex's exit status and its log."""
    (folder / "doc.tex").write_text(document, encoding="ascii")
    run = subprocess.run(
        [_pdflatex(), "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return run.returncode, (folder / "doc.log").read_text(errors="replace")


def test_the_docs_show_the_commands_expected() -> None:
    # the discovery finds the walk-through, the general proof and every kind of network
    assert "" in COMMANDS and "--general" in COMMANDS and "--abstract" in COMMANDS
    assert any("attention(2)" in c for c in COMMANDS) and any("batchnorm" in c for c in COMMANDS)
    assert any("maxpool(2)" in c and "sigmoid" in c for c in COMMANDS)  # a span wrapped over lines
    assert not any("--format" in c for c in COMMANDS)


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c or "default")
def test_every_shown_derivation_compiles_and_fits_the_page(
    command: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _pdflatex()
    code, document, _ = _derive(
        [*shlex.split(command), "--format", "latex", "--standalone"], capsys
    )
    assert code == 0, command
    assert document.startswith(r"\documentclass") and document.endswith("\\end{document}\n")
    assert document.isascii(), sorted({c for c in document if not c.isascii()})
    assert not _stray_underscores(document), _stray_underscores(document)[:3]
    status, log = _compile(document, tmp_path)
    errors = re.findall(r"^!.*", log, flags=re.M)
    assert status == 0 and not errors, f"{command}: pdflatex exited {status}: {errors}"
    too_wide = [float(w) for w in _OVERFULL.findall(log) if float(w) > MAX_OVERFULL_PT]
    assert not too_wide, f"{command}: lines stick out of the margin by {too_wide} pt"


def test_the_overfull_check_can_fail(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # the same document with the equations set as they are, unscaled: the 2 × 8 block matrix
    # of layer 2 and the longer rows stick out, and the log says by how much
    _pdflatex()
    _, document, _ = _derive(["--layer", "1", "--format", "latex", "--standalone"], capsys)
    unscaled = document.replace(r"\[ \fitline{", r"\[ {")
    assert unscaled != document
    status, log = _compile(unscaled, tmp_path)
    assert status == 0
    assert max(float(w) for w in _OVERFULL.findall(log)) > MAX_OVERFULL_PT


@pytest.mark.parametrize("fmt", ["unicode", "markdown"])
def test_standalone_needs_format_latex(fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _derive(["--general", "--format", fmt, "--standalone"], capsys)
    assert code == 2 and out == ""
    assert "--standalone: only with --format latex" in err and f"got --format {fmt}" in err
    assert "Traceback" not in err
    code, out, err = _derive(["--general", "--standalone"], capsys)
    assert code == 2 and "got --format unicode; add --format latex" in err


def test_standalone_is_a_document_with_the_packages_it_uses(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, document, _ = _derive(["--general", "--format", "latex", "--standalone"], capsys)
    assert code == 0
    preamble, _, body = document.partition("\\begin{document}\n")
    assert preamble.startswith("\\documentclass{article}\n")
    loaded = [
        p
        for group in re.findall(r"\\usepackage(?:\[[^]]*\])?\{([^}]*)\}", preamble)
        for p in group.split(",")
    ]
    assert r"\checkmark" in body and "amssymb" in loaded and "amsmath" in loaded
    assert sorted(loaded) == sorted(LATEX_PACKAGES)
    # the fragment is the body, each displayed equation set through \fitline
    fragment = general_derivation().latex()
    assert body.removesuffix("\\end{document}\n") == fragment.replace(
        r"\[ ", r"\[ \fitline{"
    ).replace(r" \]", r"} \]")
    code, out, _ = _derive(["--general", "--format", "latex"], capsys)
    assert out == fragment and not out.startswith(r"\documentclass")
    assert latex_document([]).endswith("\\begin{document}\n\\end{document}\n")


# Prose with underscores in every form the derivations write, and what LaTeX must make of it.
PROSE = [
    ("J_L_a3 · J_a3_z3", r"J$_{L,a3}$ $\cdot$ J$_{a3,z3}$"),
    ("J_a2_1_z2_1 and J_z2_gamma2", r"J$_{a2_1,z2_1}$ and J$_{z2,\gamma 2}$"),
    ("I_1 ⊗ a[2]ᵀ", r"I$_{1}$ $\otimes$ a[2]$^\top$"),
    ("W_pq, [I_n]_ip", r"W$_{pq}$, [I$_{n}$]$_{ip}$"),
    ("C_out × H'W'", r"C$_{\mathrm{out}}$ $\times$ H'W'"),
    ("Σ_(c,u,v) W[1]", r"$\Sigma_{(c,u,v)}$ W[1]"),
    ("pad_(k−1)(dilate_s(x))", r"pad$_{(k-1)}$(dilate$_{s}$(x))"),
    ("H_α(z)", r"H$_{\alpha}$(z)"),
    ("a[2_1]", r"a[2$_{1}$]"),
    ("W[2]₁₁ W_pq₁", r"W[2]$_{11}$ W$_{pq}{}_{1}$"),
    (
        "leaky_relu:0.1 and init_parameters(net)",
        r"\texttt{leaky\_relu}:0.1 and \texttt{init\_parameters}(net)",
    ),
    ("z > 0, z < 1, |x|, 5% & $", r"z $>$ 0, z $<$ 1, $|$x$|$, 5\% \& \$"),
    ("a _ b", r"a \_ b"),
]


@pytest.mark.parametrize(("prose", "latex"), PROSE, ids=[p for p, _ in PROSE])
def test_prose_subscripts_are_math(prose: str, latex: str) -> None:
    assert _latex_text(prose) == latex


def test_greek_letters_of_the_layers_are_math() -> None:
    # the prose of batch norm, layer norm and attention names Δ, γ, β, μ, ε: pdflatex reads
    # ASCII only, so each must become a command
    assert _latex_text("Δ γ β μ ε λ η") == (
        r"$\Delta$ $\gamma$ $\beta$ $\mu$ $\varepsilon$ $\lambda$ $\eta$"
    )
    # batch norm's x̂ (x and a combining circumflex) and an example's ⁽²⁾, ₜ
    assert _latex_text("x̂[2] = (a[1] − μ)/√(σ² + ε), y⁽ᵇ⁾ₜ …") == (
        r"$\hat x$[2] = (a[1] - $\mu$)/$\surd$($\sigma^{2}$ + $\varepsilon$), y$^{(b)}{}_{t}$"
        r" \ldots{}"
    )


def _stray_underscores(latex: str) -> list[str]:
    """The prose lines (not ``\\[ … \\]`` equations) with an ``_`` outside ``$…$`` and
    ``\\texttt{…}``: a literal underscore where a subscript was meant."""
    prose = [line for line in latex.splitlines() if not line.startswith(r"\[ ")]
    return [line for line in prose if "_" in re.sub(r"\$[^$]*\$|\\texttt\{[^}]*\}", "", line)]


def test_the_underscore_check_can_fail() -> None:
    assert _stray_underscores("I\\_1 and $I_1$\n\\[ I_1 \\]") == ["I\\_1 and $I_1$"]
    assert _stray_underscores("$I_{1}$ and \\texttt{leaky\\_relu}\n\\[ x_1 \\]") == []


def test_without_pdflatex_the_tests_skip_but_fail_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install"):
        _pdflatex()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"texlive-latex-base.*CI must compile"):
        _pdflatex()


DOUBLE_SUPERSCRIPT = re.compile(r"\^\{[^{}]*\}\^")


@pytest.mark.parametrize(
    ("layers", "shape"),
    [("dense(2), relu, dense(1), sigmoid", "3"), ("attention(2), flatten, dense(1)", "2x2")],
)
def test_no_label_has_two_superscripts_on_one_base(layers: str, shape: str) -> None:
    # a[1]ᵀ and vec(K[1]ᵀ) were written a^{[1]}^\top: a double superscript, an error for TeX
    net = Network.from_layers(layers, shape)
    text = "".join(d.latex() for d in derive_network(net))
    assert r"^\top" in text
    assert DOUBLE_SUPERSCRIPT.findall(text) == []
    assert DOUBLE_SUPERSCRIPT.findall(r"a^{[3]}^\top") == ["^{[3]}^"]  # the check can fail
