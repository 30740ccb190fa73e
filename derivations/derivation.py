"""A derivation: titled steps of text and equations, rendered as unicode, LaTeX or Markdown.

The mathematics is built elsewhere (:mod:`derivations.derive`, :mod:`derivations.general`);
this module only lays it out. Symbols print under their display names (``W[2]₁₁`` in a
terminal, ``W^{[2]}_{11}`` in LaTeX) through :class:`~derivations.network.Names`.
In Jupyter a derivation shows as rendered math (``_repr_latex_``, ``_repr_markdown_``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import sympy as sp

from .network import Names

FORMATS = ("unicode", "latex", "markdown")


@dataclass(frozen=True)
class Equation:
    """``lhs = rhs``; ``lhs`` is usually a label symbol such as ``∂z[2]/∂vec(W[2])``."""

    lhs: sp.Basic
    rhs: sp.Basic
    shape: tuple[int, int] | None = None


@dataclass(frozen=True)
class Step:
    """A titled step: prose (unicode; LaTeX output converts it) and equations."""

    title: str
    text: str = ""
    equations: tuple[Equation, ...] = ()


@dataclass
class Derivation:
    """A derivation with a verdict: ``holds`` is True when every proof in it holds."""

    title: str
    names: Names
    steps: list[Step] = field(default_factory=list)
    holds: bool = True

    def add(self, step: Step) -> None:
        """Append a step."""
        self.steps.append(step)

    # unicode -----------------------------------------------------------------------------
    def _pretty(self, e: Equation) -> str:
        eq = sp.Eq(
            e.lhs.xreplace(self.names.unicode), e.rhs.xreplace(self.names.unicode), evaluate=False
        )
        text = str(sp.pretty(eq, use_unicode=True, wrap_line=False))
        if e.shape is not None:
            text += f"    ({e.shape[0]} × {e.shape[1]})"
        return text

    def unicode(self) -> str:
        """Plain text for a terminal: sympy's pretty printer, no LaTeX."""
        out = [self.title, "=" * len(self.title)]
        for step in self.steps:
            out += ["", step.title, "-" * len(step.title)]
            if step.text:
                out.append(step.text)
            for e in step.equations:
                out += ["", self._pretty(e)]
        return "\n".join(out) + "\n"

    # LaTeX -------------------------------------------------------------------------------
    def _latex(self, e: Equation) -> str:
        eq = sp.Eq(e.lhs, e.rhs, evaluate=False)
        text = str(sp.latex(eq, symbol_names=self.names.latex, mat_delim="("))
        if e.shape is not None:
            text += rf"\qquad ({e.shape[0]} \times {e.shape[1]})"
        return text

    def latex(self) -> str:
        """A LaTeX fragment: ``\\subsection*`` for the title, ``\\paragraph`` per step, one
        ``\\[ … \\]`` line per equation; plain ASCII, it needs the ``amsmath`` and ``amssymb``
        packages (``\\checkmark``). :func:`latex_document` makes it a complete document."""
        out = [rf"\subsection*{{{_latex_text(self.title)}}}"]
        for step in self.steps:
            out.append(rf"\paragraph{{{_latex_text(step.title)}}}")
            if step.text:
                out.append(_latex_text(step.text))
            out += [rf"\[ {self._latex(e)} \]" for e in step.equations]
        return "\n".join(out) + "\n"

    # Markdown ----------------------------------------------------------------------------
    def markdown(self) -> str:
        """Markdown with ``$$`` blocks (GitHub, MyST, Jupyter)."""
        out = [f"## {_markdown_text(self.title)}"]
        for step in self.steps:
            out += ["", f"### {_markdown_text(step.title)}"]
            if step.text:
                out += ["", _markdown_text(step.text).replace("\n", "  \n")]
            for e in step.equations:
                out += ["", "$$", self._latex(e), "$$"]
        return "\n".join(out) + "\n"

    def render(self, fmt: str) -> str:
        """``unicode``, ``latex`` or ``markdown``."""
        if fmt == "unicode":
            return self.unicode()
        if fmt == "latex":
            return self.latex()
        if fmt == "markdown":
            return self.markdown()
        raise ValueError(f"format: expected one of {', '.join(FORMATS)}, got {fmt!r}")

    def _repr_latex_(self) -> str:
        rows = r" \\ ".join(self._latex(e) for s in self.steps for e in s.equations)
        return rf"$$\begin{{gathered}} {rows} \end{{gathered}}$$"

    def _repr_markdown_(self) -> str:
        return self.markdown()


# Characters that Markdown would read as markup in our prose: `g[3](z[3])` is a link to a
# CommonMark reader, `$` opens math for MyST and Jupyter. A backslash makes each literal.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>$|])")


def _markdown_text(text: str) -> str:
    r"""Prose for Markdown: every character with a Markdown meaning escaped by a backslash.

    >>> print(_markdown_text("a[3] = g[3](z[3])"))
    a\[3\] = g\[3\](z\[3\])
    """
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


# Prose characters and what LaTeX writes for them: as text (escapes, dashes) or as math (a
# command, set inline). Unicode subscripts (ᵢ, ₁) are read as runs by _SUBSCRIPTS instead.
_TEXT = {"−": "-", "–": "--", "—": "---", "′": "'", "_": r"\_", "&": r"\&", "%": r"\%"}
_TEXT |= {"#": r"\#", "$": r"\$", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}"}
_TEXT |= {"^": r"\textasciicircum{}", "\\": r"\textbackslash{}", "…": r"\ldots{}"}
_MATH = {
    "∂": r"\partial",
    "δ": r"\delta",
    "σ": r"\sigma",
    "ᵀ": r"^\top",
    "⊗": r"\otimes",
    "⊙": r"\odot",
    "·": r"\cdot",
    "×": r"\times",
    "Σ": r"\Sigma",
    "→": r"\to",
    "⇒": r"\Rightarrow",
    "≤": r"\le",
    "≥": r"\ge",
    "ŷ": r"\hat y",
    "∈": r"\in",
    "✓": r"\checkmark",
    "✗": r"\times",
    "⋯": r"\cdots",
    "α": r"\alpha",
    "ℓ": r"\ell",
    "≠": r"\neq",
    "∘": r"\circ",
    "Λ": r"\Lambda",
    "Δ": r"\Delta",
    "γ": r"\gamma",
    "β": r"\beta",
    "μ": r"\mu",
    "ε": r"\varepsilon",
    "λ": r"\lambda",
    "η": r"\eta",
    "√": r"\surd",
    "°": r"^\circ",
    "∞": r"\infty",
    "<": "<",  # the text font (OT1) has ¡ and ¿ there
    ">": ">",
    "|": "|",
}
_SUBSCRIPT_CHARS = dict(zip("ᵢⱼₖₗₚₜᵤ₀₁₂₃₄₅₆₇₈₉", "ijklptu0123456789", strict=True))
_SUPERSCRIPT_CHARS = dict(zip("⁽⁾ᵇ⁰¹²³⁴⁵⁶⁷⁸⁹", "()b0123456789", strict=True))

# Names with underscores in the prose, tried in this order (each a named group):
# - a Jacobian's key, J_<output>_<input> (``J_L_a3``, ``J_a2_1_z2_1``, ``J_z1_gamma1``): its two
#   parts as one subscript, J$_{L,a3}$;
# - a code identifier, two or more words of two or more letters (``leaky_relu``,
#   ``init_parameters``): \texttt, its underscores kept;
# - a subscript after any character but a space: ``I_1``, ``W_pq``, ``Σ_(c,u,v)``, ``pad_(k-1)``,
#   ``H_α``, a layer ``a[2_1]``: set as math, a word of three or more letters (``C_out``) upright;
# - a run of unicode subscripts (``₁₁``, ``ᵢ``): one math subscript; of superscripts (an
#   example's ``⁽²⁾``): one math superscript;
# - a letter with a combining circumflex (``x̂``, batch norm's normalized input): ``\hat x``.
_PART = r"(?:L|f|[azQKVSAWbE]|Wq|Wk|Wv|gamma|beta)\d*(?:_\d+)*"
_PROSE_NAMES = re.compile(
    rf"\bJ_(?P<out>{_PART})_(?P<into>{_PART})\b"
    r"|\b(?P<code>[a-z]{2,}\w*(?:_[a-z]{2,}\w*)+)\b"
    r"|(?<=\S)_(?P<sub>\([A-Za-z0-9,+\-−]+\)|[A-Za-z0-9]+|[αδσℓ])"
    rf"|(?P<unisub>[{''.join(_SUBSCRIPT_CHARS)}]+)"
    rf"|(?P<unisup>[{''.join(_SUPERSCRIPT_CHARS)}]+)"
    "|(?P<hat>[A-Za-z])\u0302"
)
_GREEK_PART = re.compile(r"(gamma|beta)")
_SCRIPT_END = re.compile(r"[_^](?:\{[^{}]*\}|\\[A-Za-z]+|\w)$")


def _subscript(sub: str) -> str:
    r"""A subscript as math: ``pq`` → ``_{pq}``, ``(k−1)`` → ``_{(k-1)}``, ``α`` → ``_{\alpha}``; a
    word of three or more letters upright: ``out`` → ``_{\mathrm{out}}``."""
    if sub.isalpha() and sub.isascii() and len(sub) >= 3:
        return rf"_{{\mathrm{{{sub}}}}}"
    return f"_{{{''.join(_MATH.get(c, _TEXT.get(c, c)) for c in sub)}}}"


def _prose_pieces(text: str) -> list[tuple[bool, str]]:
    """Prose cut into ``(is_math, LaTeX)`` pieces, in order; a math piece has no ``$``."""
    pieces: list[tuple[bool, str]] = []
    at = 0
    for m in _PROSE_NAMES.finditer(text):
        pieces += _char_pieces(text[at : m.start()])
        at = m.end()
        if m["out"] is not None:
            parts = ",".join(_GREEK_PART.sub(r"\\\1 ", p) for p in m.group("out", "into"))
            pieces += [(False, "J"), (True, f"_{{{parts}}}")]
        elif m["code"] is not None:
            pieces.append((False, r"\texttt{" + m["code"].replace("_", r"\_") + "}"))
        elif m["sub"] is not None:
            pieces.append((True, _subscript(m["sub"])))
        elif m["unisub"] is not None:
            pieces.append((True, f"_{{{''.join(_SUBSCRIPT_CHARS[c] for c in m['unisub'])}}}"))
        elif m["unisup"] is not None:  # an example's ⁽²⁾
            pieces.append((True, f"^{{{''.join(_SUPERSCRIPT_CHARS[c] for c in m['unisup'])}}}"))
        else:  # x̂: x and a combining circumflex
            pieces.append((True, rf"\hat {m['hat']}"))
    return pieces + _char_pieces(text[at:])


def _char_pieces(text: str) -> list[tuple[bool, str]]:
    """Character by character: mathematical characters as math pieces, the rest as text."""
    return [(c in _MATH, _MATH.get(c) or _TEXT.get(c, c)) for c in text]


def _latex_text(text: str) -> str:
    r"""Unicode prose as LaTeX text: mathematical characters and subscripts become inline math.

    Consecutive math pieces share one ``$…$``; ``{}`` keeps two scripts apart (``W_pq₁`` would
    otherwise be a double subscript). No ``_`` is left outside math but inside ``\texttt``.

    >>> print(_latex_text("J_L_a3 · J_a3_z3 = ∂L/∂z[3], I_2 ⊗ a[1]ᵀ"))
    J$_{L,a3}$ $\cdot$ J$_{a3,z3}$ = $\partial$L/$\partial$z[3], I$_{2}$ $\otimes$ a[1]$^\top$
    >>> print(_latex_text("Σ_(i,j) Δ[1]₁₂, C_out, leaky_relu ✓"))
    $\Sigma_{(i,j)}$ $\Delta$[1]$_{12}$, C$_{\mathrm{out}}$, \texttt{leaky\_relu} $\checkmark$
    """
    out: list[str] = []
    math: list[str] = []
    for is_math, piece in [*_prose_pieces(text), (False, "")]:
        if is_math:
            if math and piece[0] in "_^" and _SCRIPT_END.search(math[-1]):
                piece = "{}" + piece
            elif math and piece[0].isalpha() and math[-1][-1].isalpha():
                piece = " " + piece
            math.append(piece)
            continue
        if math:
            out.append(f"${''.join(math)}$")
            math = []
        out.append(piece)
    return "".join(out)


LATEX_PACKAGES = ("amsmath", "amssymb", "graphicx", "geometry")
"""What :func:`latex_document` loads: ``amsmath`` (matrices, ``\\operatorname``, ``\\text``),
``amssymb`` (``\\checkmark``), ``graphicx`` (``\\resizebox``, to fit wide equations), ``geometry``
(2 cm margins: wide matrices need less scaling); all are in every LaTeX distribution (Debian's
``texlive-latex-base`` and the ``texlive-base`` it depends on)."""

_PREAMBLE = rf"""\documentclass{{article}}
\usepackage{{{",".join(LATEX_PACKAGES[:-1])}}}
\usepackage[margin=2cm]{{geometry}}
% \fitline{{math}}: displayed math, scaled down to the line's width when it is wider and then to
% the page's height when it is taller (as wide matrices and long entries are); else as it is.
\newsavebox{{\fitbox}}
\newcommand{{\fitline}}[1]{{%
  \sbox{{\fitbox}}{{$\displaystyle #1$}}%
  \ifdim\wd\fitbox>\linewidth
    \sbox{{\fitbox}}{{\resizebox{{\linewidth}}{{!}}{{\usebox{{\fitbox}}}}}}%
  \fi
  \ifdim\dimexpr\ht\fitbox+\dp\fitbox\relax>0.8\textheight
    \sbox{{\fitbox}}{{\resizebox*{{!}}{{0.8\textheight}}{{\usebox{{\fitbox}}}}}}%
  \fi
  \usebox{{\fitbox}}}}
\sloppy
\begin{{document}}
"""

_DISPLAY_LINE = re.compile(r"^\\\[ (.*) \\\]$", flags=re.M)


def latex_document(derivations: Iterable[Derivation]) -> str:
    r"""A complete LaTeX document of the derivations' fragments (:meth:`Derivation.latex`), for
    ``pdflatex``: the packages of :data:`LATEX_PACKAGES`, and every displayed equation, a line
    ``\[ … \]``, set through ``\fitline``, which measures it and scales it down to fit the
    line (and the page) only when it does not. The text is plain ASCII.

    >>> from derivations.general import general_derivation
    >>> doc = latex_document([general_derivation()])
    >>> doc.startswith(r"\documentclass{article}"), doc.endswith("\\end{document}\n")
    (True, True)
    """
    body = "".join(d.latex() for d in derivations)
    body = _DISPLAY_LINE.sub(lambda m: rf"\[ \fitline{{{m[1]}}} \]", body)
    return _PREAMBLE + body + "\\end{document}\n"
