"""A network in symbols: every entry of ``W[l]``, ``b[l]``, ``x``, ``y`` is a sympy Symbol.

Mirrors :mod:`jacobians.network`. Each layer is written as a *local* map — ``z[l]`` in terms
of the symbols ``a[l-1]``, and ``a[l]`` in terms of the symbols ``z[l]`` — exactly as a reader
writes the chain rule by hand: a factor is a derivative evaluated at the values flowing into
it. :meth:`SymbolicNetwork.forward_substitution` composes the layers when the whole function is
wanted (for a direct derivative, or to evaluate with numbers).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import sympy as sp

from jacobians.network import Network

from .functions import abstract, elementwise, ell, softmax

_SUB = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def _subscript(*indices: int) -> tuple[str, str]:
    """Unicode and LaTeX subscripts: ``(1, 2)`` → ``('₁₂', '12')``; a comma once any index ≥ 10."""
    sep = "," if any(i >= 10 for i in indices) else ""
    text = sep.join(str(i) for i in indices)
    return text.translate(_SUB), text


@dataclass
class Names:
    """Display names of symbols: unicode for the terminal, LaTeX for documents."""

    unicode: dict[sp.Symbol, sp.Symbol] = field(default_factory=dict)
    latex: dict[sp.Symbol, str] = field(default_factory=dict)

    def symbol(self, ascii_name: str, unicode_name: str, latex_name: str) -> sp.Symbol:
        """A real symbol named ``ascii_name`` that prints as the other two."""
        s = sp.Symbol(ascii_name, real=True)
        self.unicode[s] = sp.Symbol(unicode_name, real=True)
        self.latex[s] = latex_name
        return s

    def label(self, unicode_name: str, latex_name: str) -> sp.Symbol:
        """A placeholder symbol for the left side of an equation (``∂z[2]/∂vec(W[2])``)."""
        return self.symbol(f"_label_{len(self.latex)}", unicode_name, latex_name)


def vector_symbols(
    names: Names, base: str, layer: int | None, n: int, latex_base: str | None = None
) -> sp.Matrix:
    """A column of symbols ``base[layer]_i`` (or ``base_i`` when ``layer`` is None); the ASCII
    name is ``base`` unless it is not ASCII (``δ`` is ``delta``), LaTeX uses ``latex_base``."""
    ascii_base = {"δ": "delta"}.get(base, base)
    tex = latex_base or base
    entries = []
    for i in range(1, n + 1):
        uni, lat = _subscript(i)
        if layer is None:
            entries.append(names.symbol(f"{ascii_base}_{i}", f"{base}{uni}", f"{tex}_{{{lat}}}"))
        else:
            entries.append(
                names.symbol(
                    f"{ascii_base}{layer}_{i}",
                    f"{base}[{layer}]{uni}",
                    f"{tex}^{{[{layer}]}}_{{{lat}}}",
                )
            )
    return sp.Matrix(entries)


def _matrix(names: Names, base: str, layer: int, n: int, m: int) -> sp.Matrix:
    rows = []
    for i in range(1, n + 1):
        row = []
        for k in range(1, m + 1):
            uni, lat = _subscript(i, k)
            row.append(
                names.symbol(
                    f"{base}{layer}_{i}_{k}",
                    f"{base}[{layer}]{uni}",
                    f"{base}^{{[{layer}]}}_{{{lat}}}",
                )
            )
        rows.append(row)
    return sp.Matrix(rows)


Activation = Callable[[sp.Matrix], sp.Matrix]


@dataclass
class SymbolicNetwork:
    """Symbols and local layer maps of a numeric :class:`~jacobians.network.Network`.

    ``W[l]``, ``b[l]``, ``z[l]``, ``a[l]`` are keyed by ``l = 1..L`` (``a[0]`` is ``x``); vectors
    are columns. ``delta[l]`` are symbols standing for ``δ[l]`` in displayed steps (never in
    proofs). With ``abstract=True`` every elementwise activation is an undefined ``g[l]`` with
    derivative ``g[l]'`` (softmax stays softmax: it is not elementwise); with
    ``abstract_loss=True`` the loss is an undefined ``ℓ(a[L])``. ``vec`` is how ``W[l]`` is
    flattened: ``row`` (row-major, NOTATION.md's default) or ``column`` (Magnus–Neudecker's
    column-major ``vec_col``, reshaped back in Fortran order).
    """

    net: Network
    abstract: bool = False
    abstract_loss: bool = False
    vec: str = "row"
    names: Names = field(default_factory=Names)
    W: dict[int, sp.Matrix] = field(default_factory=dict)
    b: dict[int, sp.Matrix] = field(default_factory=dict)
    z: dict[int, sp.Matrix] = field(default_factory=dict)
    a: dict[int, sp.Matrix] = field(default_factory=dict)
    delta: dict[int, sp.Matrix] = field(default_factory=dict)
    activation: dict[int, Activation] = field(default_factory=dict)
    derivative: dict[int, Callable[[sp.Expr], sp.Expr] | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = self.net.sizes
        self.x = vector_symbols(self.names, "x", None, n[0])
        self.y = vector_symbols(self.names, "y", None, n[-1])
        self.a[0] = self.x
        for l in range(1, self.net.depth + 1):
            self.W[l] = _matrix(self.names, "W", l, n[l], n[l - 1])
            self.b[l] = vector_symbols(self.names, "b", l, n[l])
            self.z[l] = vector_symbols(self.names, "z", l, n[l])
            self.a[l] = vector_symbols(self.names, "a", l, n[l])
            self.delta[l] = vector_symbols(self.names, "δ", l, n[l], r"\delta")
            self._set_activation(l)

    def _set_activation(self, l: int) -> None:
        numeric = self.net.activations[l - 1]
        if not numeric.elementwise:
            self.activation[l] = softmax
            self.derivative[l] = None
            return
        g: Callable[[sp.Expr], sp.Expr] = (
            abstract(l)[0] if self.abstract else elementwise(numeric.name)
        )
        t = sp.Dummy("t", real=True)
        g_prime = sp.Lambda(t, g(t).diff(t))

        def apply(z: sp.Matrix) -> sp.Matrix:
            return z.applyfunc(g)

        def derivative(v: sp.Expr) -> sp.Expr:
            return g_prime(v)

        self.activation[l] = apply
        self.derivative[l] = derivative

    @property
    def depth(self) -> int:
        """``L``."""
        return self.net.depth

    def z_expr(self, l: int) -> sp.Matrix:
        """``z[l] = W[l] a[l-1] + b[l]`` in the symbols ``a[l-1]`` (``x`` for ``l = 1``)."""
        return self.W[l] * self.a[l - 1] + self.b[l]

    def a_expr(self, l: int) -> sp.Matrix:
        """``a[l] = g[l](z[l])`` in the symbols ``z[l]``."""
        return self.activation[l](self.z[l])

    def loss_expr(self) -> sp.Expr:
        """``L(a[L], y)`` in the symbols ``a[L]`` and ``y`` (``ℓ(a[L])`` when abstract)."""
        if self.abstract_loss:
            return ell(*self.a[self.depth])
        return loss_expression(self.net.loss.name, self.a[self.depth], self.y)

    def forward_substitution(self) -> dict[sp.Symbol, sp.Expr]:
        """``{z[l]_i: …, a[l]_i: …}`` in terms of ``W, b, x`` only: the composed network."""
        subs: dict[sp.Symbol, sp.Expr] = {}
        for l in range(1, self.depth + 1):
            z = self.z_expr(l).xreplace(subs)
            subs.update(zip(self.z[l], z, strict=True))
            a = self.activation[l](z)
            subs.update(zip(self.a[l], a, strict=True))
        return subs

    def parameters(self) -> list[sp.Symbol]:
        """Every parameter symbol, ``vec(W[1]), b[1], …, vec(W[L]), b[L]`` in order."""
        out: list[sp.Symbol] = []
        for l in range(1, self.depth + 1):
            out += list(self.W[l]) + list(self.b[l])
        return out


def loss_expression(name: str, yhat: Sequence[sp.Expr], y: Sequence[sp.Expr]) -> sp.Expr:
    """``bce``, ``ce``, ``mse`` or ``sum`` of the columns ``ŷ`` and ``y`` (NOTATION.md)."""
    pairs = list(zip(yhat, y, strict=True))
    if name == "bce":
        return -sp.Add(*[t * sp.log(p) + (1 - t) * sp.log(1 - p) for p, t in pairs])
    if name == "ce":
        return -sp.Add(*[t * sp.log(p) for p, t in pairs])
    if name == "mse":
        return sp.Rational(1, 2) * sp.Add(*[(p - t) ** 2 for p, t in pairs])
    if name == "sum":
        return sp.Add(*[p for p, _ in pairs])
    raise ValueError(f"no symbolic form for loss {name!r}")
