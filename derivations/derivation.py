"""A derivation: titled steps of text and equations, rendered as unicode, LaTeX or Markdown.

The mathematics is built elsewhere (:mod:`derivations.derive`, :mod:`derivations.general`);
this module only lays it out. Symbols print under their display names (``W[2]₁₁`` in a
terminal, ``W^{[2]}_{11}`` in LaTeX) through :class:`~derivations.network.Names`.
In Jupyter a derivation shows as rendered math (``_repr_latex_``, ``_repr_markdown_``).
"""

from __future__ import annotations

import re
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
        """A LaTeX fragment (``\\section*`` per step, ``\\[ … \\]`` per equation; amsmath)."""
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


_LATEX_TEXT = {
    "∂": r"$\partial$",
    "δ": r"$\delta$",
    "σ": r"$\sigma$",
    "ᵀ": r"$^\top$",
    "⊗": r"$\otimes$",
    "⊙": r"$\odot$",
    "·": r"$\cdot$",
    "×": r"$\times$",
    "−": "-",
    "Σ": r"$\Sigma$",
    "→": r"$\to$",
    "⇒": r"$\Rightarrow$",
    "≤": r"$\le$",
    "≥": r"$\ge$",
    "ŷ": r"$\hat y$",
    "∈": r"$\in$",
    "–": "--",
    "—": "---",
    "✓": r"$\checkmark$",
    "✗": r"$\times$",
    "⋯": r"$\cdots$",
    "_": r"\_",
    "&": r"\&",
    "%": r"\%",
    "#": r"\#",
    "α": r"$\alpha$",
    "ℓ": r"$\ell$",
    "′": "'",
    "≠": r"$\neq$",
    "∘": r"$\circ$",
    "Λ": r"$\Lambda$",
    "∞": r"$\infty$",
    **{c: f"$_{c2}$" for c, c2 in zip("ᵢⱼₖₗₚ", "ijklp", strict=True)},
    **{chr(0x2080 + d): f"$_{d}$" for d in range(10)},
}


def _latex_text(text: str) -> str:
    """Unicode prose as LaTeX text: the few mathematical characters become inline math."""
    return "".join(_LATEX_TEXT.get(c, c) for c in text)
