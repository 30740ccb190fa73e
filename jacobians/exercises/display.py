r"""A symbolic answer shown back as it was read: a sympy matrix expression built from the parsed
tree (never from the text), printed in unicode and LaTeX.

Names become ``MatrixSymbol`` (``delta2`` prints as δ₂, ``yhat`` as ŷ), ``@`` a ``MatMul``,
``*`` a Hadamard product, ``.T`` a transpose, ``kron`` a Kronecker product, ``eye`` an
identity; the activation functions and ``vec``, ``reshape``, ``diag``, ``sum``, ``ones``,
``exp``, ``log``, ``softmax`` are printed as named functions (``relu_prime`` as relu′).

>>> from jacobians.exercises.expression import parse
>>> print(latex(parse("(W3.T @ delta3) * relu_prime(z2)")))
\left(W_{3}^{T} \delta_{3}\right) \circ \operatorname{relu}'\left(z_{2}\right)
"""

from __future__ import annotations

from typing import Any

import sympy as sp
from sympy.printing.pretty.stringpict import prettyForm

from .expression import Node

_SIZE = sp.Symbol("n")
SCALARS = frozenset({"m"})
"""Names that are numbers, not matrices (the batch size)."""


class Call(sp.MatrixExpr):  # type: ignore[misc]
    """``name(args)`` printed as a function, with the shape of a matrix."""

    def __new__(cls, name: str | sp.Symbol, *args: Any) -> Call:
        label = sp.Symbol(name) if isinstance(name, str) else name
        return sp.Basic.__new__(cls, label, *args)  # type: ignore[no-any-return]

    @property
    def shape(self) -> tuple[Any, Any]:
        return (_SIZE, _SIZE)

    @property
    def label(self) -> str:
        name = str(self.args[0])
        return name.removesuffix("_prime") + ("′" if name.endswith("_prime") else "")

    def _latex(self, printer: Any) -> str:
        name = str(self.args[0])
        base = name.removesuffix("_prime").replace("_", r"\_")
        prime = "'" if name.endswith("_prime") else ""
        inner = ", ".join(printer._print(a) for a in self.args[1:])
        return rf"\operatorname{{{base}}}{prime}\left({inner}\right)"

    def _pretty(self, printer: Any) -> prettyForm:
        return printer._helper_print_function(
            sp.Function(self.label), self.args[1:], func_name=self.label
        )

    def _sympystr(self, printer: Any) -> str:
        return f"{self.label}({', '.join(printer._print(a) for a in self.args[1:])})"


def to_sympy(tree: Node) -> Any:
    """The sympy expression of a parsed answer (sizes are symbolic: only the form is shown)."""
    kind = tree.kind
    if kind == "num":
        value = float(tree.value)  # type: ignore[arg-type]
        return sp.Integer(int(value)) if value.is_integer() else sp.Float(value, 6)
    if kind == "name":
        if tree.value in SCALARS:
            return sp.Symbol(str(tree.value))
        return sp.MatrixSymbol(str(tree.value), _SIZE, _SIZE)
    args = [to_sympy(a) for a in tree.args]
    if kind == "neg":
        return -args[0] if not isinstance(args[0], sp.MatrixExpr) else sp.MatMul(-1, args[0])
    if kind == "T":
        return args[0].T if isinstance(args[0], sp.MatrixExpr) else args[0]
    if kind == "call":
        return _call(str(tree.value), args)
    a, b = args
    matrices = isinstance(a, sp.MatrixExpr) and isinstance(b, sp.MatrixExpr)
    if kind == "@":
        return sp.MatMul(a, b)
    if kind == "+":
        return sp.MatAdd(a, b) if matrices else _scalar_mixed("+", a, b)
    if kind == "-":
        return sp.MatAdd(a, sp.MatMul(-1, b)) if matrices else _scalar_mixed("-", a, b)
    if kind == "*":
        return (
            sp.HadamardProduct(a, b)
            if matrices
            else sp.MatMul(a, b)
            if _any_matrix(a, b)
            else a * b
        )
    if kind == "/":
        if matrices:
            return sp.HadamardProduct(a, sp.HadamardPower(b, -1))
        return sp.MatMul(a, 1 / b) if isinstance(a, sp.MatrixExpr) else a / b
    return sp.HadamardPower(a, b) if isinstance(a, sp.MatrixExpr) else a**b


def _any_matrix(a: Any, b: Any) -> bool:
    return isinstance(a, sp.MatrixExpr) or isinstance(b, sp.MatrixExpr)


def _scalar_mixed(op: str, a: Any, b: Any) -> Any:
    """``1 - ŷ``: a number next to a matrix stands for a matrix of that number."""
    a = sp.MatrixSymbol(str(a), _SIZE, _SIZE) if not isinstance(a, sp.MatrixExpr) else a
    b = sp.MatrixSymbol(str(b), _SIZE, _SIZE) if not isinstance(b, sp.MatrixExpr) else b
    return sp.MatAdd(a, b) if op == "+" else sp.MatAdd(a, sp.MatMul(-1, b))


def _call(name: str, args: list[Any]) -> Any:
    if name == "kron":
        return sp.KroneckerProduct(*args)
    if name == "eye":
        return sp.MatrixSymbol(f"I_{{{args[0]}}}", _SIZE, _SIZE)
    return Call(name, *args)


def unicode(tree: Node) -> str:
    """The answer in unicode, as sympy pretty-prints it (may span lines)."""
    return str(sp.pretty(to_sympy(tree), use_unicode=True))


def latex(tree: Node) -> str:
    """The answer in LaTeX."""
    return str(sp.latex(to_sympy(tree)))
