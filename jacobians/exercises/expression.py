"""Matrix expressions typed by students: read safely, shape-checked, evaluated by our own code.

The language: names of the exercise (``W3``, ``delta3``, ``z2``, ``a1``, ``x``, ``y``, ``m``, …),
numbers, ``@`` (matrix product), ``*`` and ``/`` (elementwise), ``+``, ``-``, ``**`` with a
constant exponent (elementwise), ``.T``, and the functions of :data:`FUNCTIONS`: the activation
registry and its derivatives (``relu(z)``, ``relu_prime(z)``, …), ``softmax`` (per column),
``exp``, ``log``, ``sum``, ``diag``, ``eye(n)``, ``ones(n)``/``ones(n, k)``, ``kron``,
``vec`` (row-major, a column) and ``reshape(A, r, c)`` (row-major).

Student text is untrusted. Nothing here calls ``eval``, ``exec``, ``compile``, ``sympify`` or
``lambdify``: the text is checked for length and characters (ASCII only; Python folds
full-width letters into names), parsed by :func:`ast.parse`, walked without recursion to
count nodes and depth, and then only whitelisted nodes become a small tree of our own
(:class:`Node`). Shapes are inferred from that tree before any arithmetic, with a cap on the
size of every intermediate and on the work of every product, and the tree is evaluated over
float64 arrays by :func:`evaluate`. Every refusal is an :class:`ExpressionError` whose message
says what to change.

Shapes: every name is a matrix (a vector is a column ``n × 1``); a number is a scalar ``()``.
Elementwise operations need equal shapes, a scalar or ``1 × 1`` operand, or a column (row)
that repeats across the columns (rows) of the other operand, as ``W a + b`` adds ``b`` to every
example.

>>> import numpy as np
>>> tree = parse("delta2 @ a1.T / m")
>>> shape(tree, {"delta2": (2, 1), "a1": (4, 1), "m": ()})
(2, 4)
>>> env = {"delta2": np.array([[1.0], [2.0]]), "a1": np.ones((4, 1)), "m": np.float64(2.0)}
>>> evaluate(tree, env).tolist()
[[0.5, 0.5, 0.5, 0.5], [1.0, 1.0, 1.0, 1.0]]
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from .._typing import FloatArray
from ..activations import ACTIVATIONS, DEFAULT_LEAKY_SLOPE
from ..errors import JacobiansError
from ..logistic import expit

MAX_LENGTH = 1000
"""Characters in one answer."""
MAX_NODES = 200
"""Names, numbers, operators and calls in one answer."""
MAX_DEPTH = 40
"""Nesting of operations in one answer."""
MAX_ELEMENTS = 1_000_000
"""Entries of any intermediate result (8 MB of float64)."""
MAX_WORK = 50_000_000
"""Multiply–adds of any one product ``@`` or ``kron``."""
MAX_CONSTANT = 1e12
"""Largest magnitude of a number in an answer."""
MAX_EXPONENT = 10
"""Largest magnitude of a constant exponent in ``**``."""

Shape = tuple[int, ...]
"""``()`` for a scalar, ``(rows, columns)`` for a matrix."""


class ExpressionError(JacobiansError, ValueError):
    """An answer expression that cannot be read or evaluated; the message says how to fix it."""


# --- the tree ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    """One node: ``kind`` is ``num``, ``name``, ``neg``, ``T``, ``call`` or a binary operator
    (``+ - * / @ **``); ``value`` holds the number, name or function name."""

    kind: str
    args: tuple[Node, ...] = ()
    value: float | str | None = None


_BINARY: dict[type[ast.operator], str] = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.MatMult: "@",
    ast.Pow: "**",
}

_REFUSED: dict[type[ast.AST], str] = {
    ast.Lambda: "a lambda",
    ast.ListComp: "a comprehension",
    ast.SetComp: "a comprehension",
    ast.DictComp: "a comprehension",
    ast.GeneratorExp: "a comprehension",
    ast.Subscript: "indexing with [ ]",
    ast.Compare: "a comparison",
    ast.BoolOp: "and/or",
    ast.IfExp: "if/else",
    ast.List: "a list [ ]",
    ast.Tuple: "a tuple",
    ast.Dict: "a dictionary",
    ast.Set: "a set",
    ast.NamedExpr: "an assignment :=",
    ast.JoinedStr: "a string",
    ast.Starred: "a starred argument",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
}

_ALLOWED_CHARACTERS = re.compile(r"[A-Za-z0-9_ \t\n+\-*/@().,]*")


def parse(text: str) -> Node:
    """Read ``text`` into a :class:`Node` tree, or raise :class:`ExpressionError`.

    Checks, in this order, before any recursive work: length, characters, Python syntax,
    node count and nesting depth; then the whitelist of nodes, names and constants.

    >>> parse("W3.T @ delta3").kind
    '@'
    >>> parse("__import__('os')")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    jacobians.exercises.expression.ExpressionError: answer: character "'" at position 12 is ...
    """
    if not isinstance(text, str):
        raise ExpressionError(f"answer: expected a text expression, got {type(text).__name__}")
    if not text.strip():
        raise ExpressionError("answer: the expression is empty; write a formula such as W3.T")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(
            f"answer: expected at most {MAX_LENGTH} characters, got {len(text)}; shorten it"
        )
    bad = _ALLOWED_CHARACTERS.fullmatch(text)
    if bad is None:
        i = next(i for i, c in enumerate(text) if not _ALLOWED_CHARACTERS.fullmatch(c))
        raise ExpressionError(
            f"answer: character {text[i]!r} at position {i + 1} is not allowed;"
            " use names, numbers, spaces, ( ) , . and + - * / @ **"
        )
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as e:
        raise ExpressionError(f"answer: not a formula ({e.msg}); check the brackets") from None
    except (ValueError, RecursionError, MemoryError, OverflowError):
        raise ExpressionError("answer: the expression cannot be read; simplify it") from None
    _check_size(tree)
    return _convert(tree.body)


def _check_size(tree: ast.AST) -> None:
    """Count nodes and measure depth with an explicit stack (no recursion)."""
    count, stack = 0, [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, ast.expr_context | ast.operator | ast.unaryop):
            continue
        count += 1
        if count > MAX_NODES:
            raise ExpressionError(
                f"answer: expected at most {MAX_NODES} names, numbers and operations, got more;"
                " simplify it"
            )
        if depth > MAX_DEPTH:
            raise ExpressionError(
                f"answer: expected nesting at most {MAX_DEPTH} deep, got deeper; simplify it"
            )
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))


def _convert(node: ast.expr) -> Node:
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        op = _BINARY[type(node.op)]
        left, right = _convert(node.left), _convert(node.right)
        if op == "**":
            exponent = _constant_value(right)
            if exponent is None:
                raise ExpressionError(
                    "answer: ** needs a number as exponent, such as z2 ** 2 (elementwise)"
                )
            if abs(exponent) > MAX_EXPONENT:
                raise ExpressionError(
                    f"answer: expected an exponent between -{MAX_EXPONENT} and {MAX_EXPONENT},"
                    f" got {exponent:g}"
                )
        return Node(op, (left, right))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        inner = _convert(node.operand)
        return Node("neg", (inner,)) if isinstance(node.op, ast.USub) else inner
    if isinstance(node, ast.Constant):
        return Node("num", value=_number(node.value))
    if isinstance(node, ast.Name):
        _check_name(node.id)
        if node.id in FUNCTIONS:
            raise ExpressionError(f"answer: {node.id} is a function; call it, as in {node.id}(z2)")
        return Node("name", value=node.id)
    if isinstance(node, ast.Attribute):
        if node.attr != "T":
            raise ExpressionError(
                f"answer: attribute .{node.attr} is not allowed; .T (transpose) is the only one"
            )
        return Node("T", (_convert(node.value),))
    if isinstance(node, ast.Call):
        return _convert_call(node)
    what = _REFUSED.get(type(node), type(node).__name__)
    raise ExpressionError(f"answer: {what} is not allowed in a formula")


def _check_name(name: str) -> None:
    if name.startswith("_"):
        raise ExpressionError(f"answer: name {name!r} is not allowed (names never start with _)")


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        kind = "text" if isinstance(value, str) else type(value).__name__
        raise ExpressionError(f"answer: expected real numbers only, got {kind}")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number) or abs(number) > MAX_CONSTANT:
        raise ExpressionError(
            f"answer: expected numbers of magnitude at most {MAX_CONSTANT:g}, got a larger one"
        )
    return number


def _constant_value(node: Node) -> float | None:
    if node.kind == "num":
        return float(node.value)  # type: ignore[arg-type]
    if node.kind == "neg" and node.args[0].kind == "num":
        return -float(node.args[0].value)  # type: ignore[arg-type]
    return None


def _convert_call(node: ast.Call) -> Node:
    if not isinstance(node.func, ast.Name):
        raise ExpressionError("answer: only the listed functions can be called, by name")
    name = node.func.id
    _check_name(name)
    if name not in FUNCTIONS:
        raise ExpressionError(
            f"answer: unknown function {name!r}; the functions are {', '.join(sorted(FUNCTIONS))}"
        )
    if node.keywords:
        raise ExpressionError(f"answer: {name}( ) takes no keyword arguments")
    low, high = FUNCTIONS[name].arity
    if not low <= len(node.args) <= high:
        count = str(low) if low == high else f"{low} to {high}"
        raise ExpressionError(
            f"answer: {name}( ) takes {count} argument{'s' if high > 1 else ''},"
            f" got {len(node.args)}"
        )
    return Node("call", tuple(_convert(a) for a in node.args), name)


# --- functions ------------------------------------------------------------------------


@dataclass(frozen=True)
class Function:
    """A callable of the language: how many arguments, which are whole numbers (sizes), its
    shape rule and its value."""

    arity: tuple[int, int]
    shape: Callable[[list[Shape], list[int | None]], Shape]
    value: Callable[[list[FloatArray], list[int | None]], FloatArray]
    sizes: tuple[int, ...] = ()
    """Positions of arguments that must be whole numbers known before evaluation."""


def _same(shapes: list[Shape], sizes: list[int | None]) -> Shape:
    return shapes[0]


def _elementwise(f: Callable[[FloatArray], FloatArray]) -> Function:
    return Function((1, 1), _same, lambda v, s: f(v[0]))


def _leaky(derivative: bool) -> Function:
    def value(v: list[FloatArray], s: list[int | None]) -> FloatArray:
        slope = float(v[1]) if len(v) > 1 else DEFAULT_LEAKY_SLOPE
        if derivative:
            return np.where(v[0] > 0, 1.0, slope)
        return np.where(v[0] > 0, v[0], slope * v[0])

    def shape(shapes: list[Shape], sizes: list[int | None]) -> Shape:
        if len(shapes) > 1 and shapes[1] not in ((), (1, 1)):
            raise ExpressionError("answer: the slope of leaky_relu(z, slope) must be a number")
        return shapes[0]

    return Function((1, 2), shape, value)


def _softmax(z: FloatArray) -> FloatArray:
    """``softmax`` of every column."""
    if z.ndim < 2:
        return np.ones_like(z)
    e = np.exp(z - np.max(z, axis=0, keepdims=True))
    return np.asarray(e / np.sum(e, axis=0, keepdims=True), dtype=np.float64)


def _diag_shape(shapes: list[Shape], sizes: list[int | None]) -> Shape:
    s = shapes[0]
    if s == ():
        return (1, 1)
    r, c = s
    if r == 1 or c == 1:
        return (r * c, r * c)
    if r == c:
        return (r, 1)
    raise ExpressionError(
        f"answer: diag( ) takes a vector (to make a diagonal matrix) or a square matrix"
        f" (to take its diagonal), got {r}×{c}"
    )


def _diag(v: list[FloatArray], s: list[int | None]) -> FloatArray:
    a = np.atleast_2d(v[0])
    if a.shape[0] == 1 or a.shape[1] == 1:
        return np.diag(a.reshape(-1))
    return np.diag(a).reshape(-1, 1).copy()


def _size_shape(shapes: list[Shape], sizes: list[int | None]) -> Shape:
    rows = sizes[0]
    cols = sizes[1] if len(sizes) > 1 else 1
    assert rows is not None and cols is not None  # checked by _size_argument
    return (rows, cols)


def _eye_shape(shapes: list[Shape], sizes: list[int | None]) -> Shape:
    n = _size_shape(shapes, sizes)[0]
    return (n, n)


def _kron_shape(shapes: list[Shape], sizes: list[int | None]) -> Shape:
    (a, b), (c, d) = (s if s else (1, 1) for s in shapes)
    return (a * c, b * d)


def _vec_shape(shapes: list[Shape], sizes: list[int | None]) -> Shape:
    s = shapes[0] or (1, 1)
    return (s[0] * s[1], 1)


def _reshape_shape(shapes: list[Shape], sizes: list[int | None]) -> Shape:
    s = shapes[0] or (1, 1)
    r, c = sizes[0], sizes[1]
    assert r is not None and c is not None
    if r * c != s[0] * s[1]:
        raise ExpressionError(
            f"answer: reshape( ) of a {s[0]}×{s[1]} matrix needs {s[0] * s[1]} entries,"
            f" got {r}×{c} = {r * c}"
        )
    return (r, c)


def _registry_functions() -> dict[str, Function]:
    out: dict[str, Function] = {}
    for name, g in ACTIVATIONS.items():
        if name == "leaky_relu":
            continue
        out[name] = _elementwise(g)
        out[f"{name}_prime"] = _elementwise(g.derivative)
    out["leaky_relu"] = _leaky(derivative=False)
    out["leaky_relu_prime"] = _leaky(derivative=True)
    out["sigmoid"] = _elementwise(lambda z: expit(z))
    return out


FUNCTIONS: dict[str, Function] = {
    **_registry_functions(),
    "softmax": _elementwise(_softmax),
    "exp": _elementwise(np.exp),
    "log": _elementwise(np.log),
    "sum": Function((1, 1), lambda s, n: (), lambda v, n: np.asarray(np.sum(v[0]))),
    "diag": Function((1, 1), _diag_shape, _diag),
    "eye": Function((1, 1), _eye_shape, lambda v, n: np.eye(_size_shape([], n)[0]), sizes=(0,)),
    "ones": Function((1, 2), _size_shape, lambda v, n: np.ones(_size_shape([], n)), sizes=(0, 1)),
    "kron": Function(
        (2, 2),
        _kron_shape,
        lambda v, n: np.kron(np.atleast_2d(v[0]), np.atleast_2d(v[1])).astype(np.float64),
    ),
    "vec": Function((1, 1), _vec_shape, lambda v, n: np.reshape(v[0], (-1, 1))),
    "reshape": Function(
        (3, 3),
        _reshape_shape,
        lambda v, n: np.reshape(np.atleast_2d(v[0]), _reshape_shape([v[0].shape], n)),
        sizes=(1, 2),
    ),
}
"""Every function an answer may call, by name."""


# --- shapes -----------------------------------------------------------------------------


def names(tree: Node) -> set[str]:
    """The variable names a tree uses (function names excluded)."""
    out: set[str] = set()
    stack = [tree]
    while stack:
        node = stack.pop()
        if node.kind == "name":
            out.add(str(node.value))
        stack.extend(node.args)
    return out


def shape(
    tree: Node, shapes: Mapping[str, Shape], integers: Mapping[str, int] | None = None
) -> Shape:
    """The shape of ``tree``'s value given the names' shapes, or :class:`ExpressionError` naming
    the first operation whose shapes do not fit. ``integers`` gives names usable as sizes
    (``m`` in ``ones(m)``)."""
    return _Shapes(shapes, integers or {}).of(tree)


class _Shapes:
    def __init__(self, shapes: Mapping[str, Shape], integers: Mapping[str, int]) -> None:
        self.shapes, self.integers = shapes, integers

    def of(self, node: Node) -> Shape:
        kind = node.kind
        if kind == "num":
            return ()
        if kind == "name":
            name = str(node.value)
            if name not in self.shapes:
                raise ExpressionError(
                    f"answer: unknown name {name!r}; this question's names are"
                    f" {', '.join(sorted(self.shapes, key=_natural))}"
                )
            return self.shapes[name]
        args = [self.of(a) for a in node.args] if kind != "call" else []
        if kind == "neg":
            return args[0]
        if kind == "T":
            return args[0][::-1]
        if kind == "call":
            return self._call(node)
        if kind == "**":
            return args[0]
        if kind == "@":
            return self._matmul(node, *args)
        return _check_size_limit(broadcast(kind, args[0], args[1]))

    def _matmul(self, node: Node, a: Shape, b: Shape) -> Shape:
        if a == () or b == ():
            raise ExpressionError("answer: @ multiplies two matrices; to scale by a number use *")
        if a[1] != b[0]:
            raise ExpressionError(
                f"answer: {render(node.args[0])} @ {render(node.args[1])} multiplies"
                f" {_fmt(a)} by {_fmt(b)}: the inner sizes {a[1]} and {b[0]} differ"
            )
        if a[0] * a[1] * b[1] > MAX_WORK:
            raise ExpressionError("answer: a product in the expression is too large to evaluate")
        return _check_size_limit((a[0], b[1]))

    def _call(self, node: Node) -> Shape:
        f = FUNCTIONS[str(node.value)]
        sizes: list[int | None] = []
        shapes: list[Shape] = []
        for i, arg in enumerate(node.args):
            if i in f.sizes:
                sizes.append(self._size_argument(str(node.value), arg))
            else:
                shapes.append(self.of(arg))
        return _check_size_limit(f.shape(shapes, sizes))

    def _size_argument(self, function: str, node: Node) -> int:
        value: float | None
        if node.kind == "name" and str(node.value) in self.integers:
            value = float(self.integers[str(node.value)])
        else:
            value = _constant_value(node)
        if value is None or value != int(value) or value < 1:
            raise ExpressionError(
                f"answer: the sizes in {function}( ) must be whole numbers ≥ 1, such as 3 or m"
            )
        if value > MAX_ELEMENTS:
            raise ExpressionError(f"answer: the size {value:g} in {function}( ) is too large")
        return int(value)


def broadcast(op: str, a: Shape, b: Shape) -> Shape:
    """The shape of an elementwise ``a op b``: equal shapes, a scalar or ``1 × 1`` operand, or a
    column (row) repeated across the other's columns (rows)."""
    if a == b:
        return a
    for x, y in ((a, b), (b, a)):
        if x in ((), (1, 1)):
            return y if y != () else (1, 1)
    if a[0] == b[0] and 1 in (a[1], b[1]):
        return (a[0], max(a[1], b[1]))
    if a[1] == b[1] and 1 in (a[0], b[0]):
        return (max(a[0], b[0]), a[1])
    hint = ""
    if op == "*" and (a[1] == b[0] or b[1] == a[0]):
        hint = "; * is elementwise: for a matrix product use @"
    raise ExpressionError(
        f"answer: {op} is elementwise and needs matching shapes, got {_fmt(a)} and {_fmt(b)}{hint}"
    )


def _check_size_limit(s: Shape) -> Shape:
    if s and s[0] * s[1] > MAX_ELEMENTS:
        raise ExpressionError(
            f"answer: an intermediate result of {_fmt(s)} is larger than the limit of"
            f" {MAX_ELEMENTS:,} entries; simplify the expression"
        )
    return s


def _fmt(s: Shape) -> str:
    return "×".join(map(str, s)) if s else "a number"


def _natural(name: str) -> tuple[str, int]:
    m = re.fullmatch(r"(.*?)(\d*)", name)
    assert m is not None
    return m.group(1), int(m.group(2) or 0)


# --- values -----------------------------------------------------------------------------


def evaluate(
    tree: Node, env: Mapping[str, FloatArray], integers: Mapping[str, int] | None = None
) -> FloatArray:
    """The value of ``tree`` with the names bound by ``env`` (call :func:`shape` first: this
    function trusts that the shapes fit). Raises :class:`ExpressionError` for a result that is
    not finite (a division by zero, a log of a negative number)."""
    with np.errstate(all="ignore"):
        value = _Values(env, integers or {}).of(tree)
    if not np.all(np.isfinite(value)):
        raise ExpressionError(
            "answer: the expression is not finite here (a division by zero, or a log or power"
            " of a negative number?)"
        )
    return np.asarray(value, dtype=np.float64)


class _Values:
    def __init__(self, env: Mapping[str, FloatArray], integers: Mapping[str, int]) -> None:
        self.env, self.integers = env, integers

    def of(self, node: Node) -> FloatArray:
        kind = node.kind
        if kind == "num":
            return np.asarray(float(node.value))  # type: ignore[arg-type]
        if kind == "name":
            return np.asarray(self.env[str(node.value)], dtype=np.float64)
        if kind == "call":
            return self._call(node)
        args = [self.of(a) for a in node.args]
        if kind == "neg":
            return -args[0]
        if kind == "T":
            return args[0].T
        a, b = args
        if kind == "@":
            return a @ b
        result: FloatArray
        if kind == "+":
            result = a + b
        elif kind == "-":
            result = a - b
        elif kind == "*":
            result = a * b
        elif kind == "/":
            result = a / b
        else:
            result = np.power(a, b)
        return result

    def _call(self, node: Node) -> FloatArray:
        f = FUNCTIONS[str(node.value)]
        sizes: list[int | None] = []
        values: list[FloatArray] = []
        for i, arg in enumerate(node.args):
            if i in f.sizes:
                v = self.integers[str(arg.value)] if arg.kind == "name" else _constant_value(arg)
                sizes.append(int(v) if v is not None else None)
            else:
                values.append(self.of(arg))
        return np.asarray(f.value(values, sizes), dtype=np.float64)


# --- text -------------------------------------------------------------------------------

_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2, "@": 2, "neg": 3, "**": 4}


def render(tree: Node) -> str:
    """The tree written back in the answer language, with only the brackets it needs.

    >>> render(parse("((W3.T) @ (delta3)) * relu_prime(z2)"))
    '(W3.T @ delta3) * relu_prime(z2)'
    """
    kind = tree.kind
    if kind == "num":
        value = float(tree.value)  # type: ignore[arg-type]
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if kind == "name":
        return str(tree.value)
    if kind == "call":
        return f"{tree.value}({', '.join(render(a) for a in tree.args)})"
    if kind == "T":
        inner = tree.args[0]
        text = render(inner)
        return f"{text}.T" if inner.kind in ("name", "call", "T") else f"({text}).T"
    if kind == "neg":
        return "-" + _wrap(tree.args[0], _PRECEDENCE["neg"], right=False)
    p = _PRECEDENCE[kind]
    left = _wrap(tree.args[0], p + (1 if kind == "**" else 0), right=False, kind=kind)
    right = _wrap(tree.args[1], p, right=True, kind=kind)
    return f"{left} {kind} {right}"


def _wrap(node: Node, parent: int, right: bool, kind: str = "") -> str:
    text = render(node)
    mine = _PRECEDENCE.get(node.kind, 5)
    if mine < parent or (mine == parent and (right or node.kind != kind)):
        return f"({text})"  # a mixed A @ B * C reads ambiguously: keep its brackets
    return text
