"""What an exercise can ask for: every quantity by its NOTATION.md name, its shape and why,
its reference value, and the names a symbolic answer may use.

Two kinds of problem:

- :class:`ColumnProblem`, a network in the column layout with ``B`` examples (``m = B`` in
  formulas): ``W1 b1 … x y z1 a1 … yhat L delta1 dW1 db1 …`` and, for one example, its
  Jacobians ``J_L_a3 J_a3_z3 J_z3_a2 J_z3_W3 J_z3_b3 J_z3_z2 J_L_z2 J_L_W2 J_L_b2 …``;
- :class:`RowProblem`, the foundations chapter's matrix function ``L = Σ g(X W)`` in the row
  layout: ``X W N S L dLdN dLdX dLdW J_L_S J_S_N J_N_X J_N_W J_L_N J_L_X J_L_W``.

Vectors are columns (``b2`` is ``2 × 1``) and a number is ``1 × 1``: every value here is 2-D,
the form the answer language computes with. The reference values come from the numeric
package's routes (:mod:`jacobians.chains`, :mod:`jacobians.backprop`,
:mod:`jacobians.rowlayout`), not from the formulas the checker's mistake models use.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from math import inf, prod
from typing import TypeAlias

import numpy as np

from .._typing import Matrix
from ..columnvec import VECS
from ..errors import InvalidValueError, message, unknown_name
from ..network import Network, cost, forward
from ..parameters import Parameters, init_parameters

Shape: TypeAlias = tuple[int, ...]


@dataclass(frozen=True)
class ColumnProblem:
    """A network and its values (``x`` is ``n_0 × B``)."""

    net: Network
    params: Parameters

    @property
    def batch(self) -> int:
        """``B`` (``m`` in formulas)."""
        return self.params.batch


@dataclass(frozen=True)
class RowProblem:
    """``N = X W``, ``S = g(N)``, ``L = Σ S`` with ``X`` ``B × n`` and ``W`` ``n × p``."""

    activation: str
    X: Matrix
    W: Matrix


Problem: TypeAlias = ColumnProblem | RowProblem


@dataclass(frozen=True)
class Quantity:
    """A name an exercise can ask for: its shape, why it has that shape, and its kind
    (``given``, ``forward``, ``gradient``, ``jacobian``)."""

    name: str
    shape: Shape
    why: str
    kind: str


# --- names and shapes -------------------------------------------------------------------


def quantities(problem: Problem) -> dict[str, Quantity]:
    """Every quantity of ``problem`` by name, in the order a derivation meets them."""
    if isinstance(problem, RowProblem):
        return _row_quantities(problem)
    return _column_quantities(problem)


def quantity(problem: Problem, name: str, what: str = "question") -> Quantity:
    """The quantity called ``name``, or :class:`~jacobians.errors.UnknownNameError` listing
    the valid names."""
    table = quantities(problem)
    if name not in table:
        raise unknown_name(what, name, table)
    return table[name]


def _column_quantities(problem: ColumnProblem) -> dict[str, Quantity]:
    if not problem.net.is_dense:
        from .layered import layer_quantities

        table = layer_quantities(problem.net, problem.batch, problem.params.y is not None)
        return {k: Quantity(k, e.shape, e.why, e.kind) for k, e in table.items()}
    n, L, B = problem.net.sizes, problem.net.depth, problem.batch
    cols = "one column" if B == 1 else f"one column per example (m = {B})"
    out: dict[str, Quantity] = {}

    def add(name: str, shape: Shape, why: str, kind: str) -> None:
        out[name] = Quantity(name, shape, why, kind)

    add("x", (n[0], B), f"x has n_0 = {n[0]} rows and {cols}", "given")
    add("a0", (n[0], B), f"a0 = x has n_0 = {n[0]} rows and {cols}", "given")
    if problem.params.y is not None:
        add("y", (n[L], B), f"y has n_{L} = {n[L]} rows and {cols}", "given")
    for l in range(1, L + 1):
        add(f"W{l}", (n[l], n[l - 1]), f"W{l} is n_{l} × n_{l - 1}", "given")
        add(f"b{l}", (n[l], 1), f"b{l} is a column of n_{l} = {n[l]}", "given")
    for l in range(1, L + 1):
        add(f"z{l}", (n[l], B), f"z{l} has n_{l} = {n[l]} rows and {cols}", "forward")
        add(f"a{l}", (n[l], B), f"a{l} has n_{l} = {n[l]} rows and {cols}", "forward")
    add("yhat", (n[L], B), f"yhat = a{L} has n_{L} = {n[L]} rows and {cols}", "forward")
    add("L", (1, 1), "the cost L is a number", "forward")
    for l in range(L, 0, -1):
        add(
            f"delta{l}",
            (n[l], B),
            f"delta{l} = (∂L/∂z{l})ᵀ has the shape of z{l}: n_{l} = {n[l]} rows and {cols}",
            "gradient",
        )
        add(
            f"dW{l}",
            (n[l], n[l - 1]),
            f"a gradient has the shape of its parameter: dW{l} is n_{l} × n_{l - 1} like W{l}",
            "gradient",
        )
        add(
            f"db{l}",
            (n[l], 1),
            f"a gradient has the shape of its parameter: db{l} is a column of n_{l} = {n[l]}"
            f" like b{l}",
            "gradient",
        )
    if B == 1:
        for name, (rows, columns) in column_jacobian_shapes(problem.net).items():
            out_, in_ = name.split("_")[1:]
            add(
                name,
                (rows, columns),
                f"a Jacobian has one row per output and one column per input: {_entries(out_)}"
                f" has {rows}, {_entries(in_)} has {columns}",
                "jacobian",
            )
    return out


def _entries(symbol: str) -> str:
    if symbol == "L":
        return "L (a number)"
    if symbol[0] in "Wb":
        return f"vec({symbol})" if symbol[0] == "W" else symbol
    return symbol


def column_jacobian_shapes(net: Network) -> dict[str, Shape]:
    """``J_L_a3: (1, 1)``, ``J_a3_z3``, ``J_z3_a2``, ``J_z3_z2``, ``J_z3_W3``, ``J_z3_b3``,
    ``J_L_z3``, ``J_L_W3``, ``J_L_b3``, … for one example of ``net``."""
    n, L = net.sizes, net.depth
    out: dict[str, Shape] = {f"J_L_a{L}": (1, n[L])}
    for l in range(L, 0, -1):
        out[f"J_a{l}_z{l}"] = (n[l], n[l])
        if l > 1:
            out[f"J_z{l}_a{l - 1}"] = (n[l], n[l - 1])
            out[f"J_z{l}_z{l - 1}"] = (n[l], n[l - 1])
        out[f"J_z{l}_W{l}"] = (n[l], n[l] * n[l - 1])
        out[f"J_z{l}_b{l}"] = (n[l], n[l])
        out[f"J_L_z{l}"] = (1, n[l])
        out[f"J_L_W{l}"] = (1, n[l] * n[l - 1])
        out[f"J_L_b{l}"] = (1, n[l])
    return out


def _row_quantities(problem: RowProblem) -> dict[str, Quantity]:
    (B, n), p = problem.X.shape, problem.W.shape[1]
    table: list[tuple[str, Shape, str, str]] = [
        ("X", (B, n), "X has one row per observation", "given"),
        ("W", (n, p), "W is n_in × n_out", "given"),
        ("N", (B, p), f"N = X W is ({B}×{n})({n}×{p})", "forward"),
        ("S", (B, p), "S = g(N) has the shape of N", "forward"),
        ("L", (1, 1), "L = Σ S is a number", "forward"),
        (
            "dLdN",
            (B, p),
            "a gradient has the shape of what it differentiates: dLdN is like N",
            "gradient",
        ),
        (
            "dLdX",
            (B, n),
            "a gradient has the shape of what it differentiates: dLdX is like X",
            "gradient",
        ),
        (
            "dLdW",
            (n, p),
            "a gradient has the shape of what it differentiates: dLdW is like W",
            "gradient",
        ),
    ]
    why = "a Jacobian has one row per output and one column per input"
    for name, rows, cols in (
        ("J_L_S", 1, B * p),
        ("J_S_N", B * p, B * p),
        ("J_N_X", B * p, B * n),
        ("J_N_W", B * p, n * p),
        ("J_L_N", 1, B * p),
        ("J_L_X", 1, B * n),
        ("J_L_W", 1, n * p),
    ):
        out_, in_ = name.split("_")[1:]
        table.append(
            (name, (rows, cols), f"{why}: {out_} has {rows}, vec({in_}) has {cols}", "jacobian")
        )
    return {name: Quantity(name, shape, w, kind) for name, shape, w, kind in table}


# --- values -----------------------------------------------------------------------------


def environment(problem: Problem) -> dict[str, Matrix]:
    """The values a symbolic answer may name, every one 2-D: for a network ``W1 b1 … x a0 y
    z1 a1 … yhat delta1 …`` (and ``m``, the batch size, as a number); for the matrix function
    ``X W N S``."""
    if isinstance(problem, RowProblem):
        N = problem.X @ problem.W
        from ..activations import get_activation

        return {"X": problem.X, "W": problem.W, "N": N, "S": get_activation(problem.activation)(N)}
    from ..backprop import vectorized_route

    net, params = problem.net, problem.params
    if not net.is_dense:
        from .layered import layer_environment

        return layer_environment(net, params)
    cache = forward(net, params)
    env: dict[str, Matrix] = {"x": params.x, "a0": params.x}
    if params.y is not None:
        env["y"] = params.y
    for l in range(1, net.depth + 1):
        env[f"W{l}"] = params.W[l - 1]
        env[f"b{l}"] = params.b[l - 1].reshape(-1, 1)
        env[f"z{l}"] = cache.z[l]
        env[f"a{l}"] = cache.a[l]
    env["yhat"] = cache.a[-1]
    env.update(vectorized_route(net, params).deltas)
    env["m"] = np.asarray(float(params.batch))
    return env


def references(problem: Problem, vec: str = "row") -> dict[str, Matrix]:
    """The reference value of every quantity (2-D), from the numeric routes; with
    ``vec = "column"`` every Jacobian of a flattened matrix re-indexed to the column-major
    ``vec`` of each side (:func:`to_column_vec`)."""
    if vec not in VECS:
        raise InvalidValueError(message("vec", '"row" or "column"', repr(vec)))
    if isinstance(problem, RowProblem):
        refs = _row_references(problem)
    else:
        refs = _column_references(problem)
    if vec == "row":
        return refs
    if isinstance(problem, ColumnProblem) and not problem.net.is_dense:
        raise InvalidValueError(
            message(
                "vec",
                '"row" for a network of layers (every tensor is flattened row-major)',
                '"column"',
            )
        )
    out = dict(refs)
    for name, (rows, columns) in flattened_sides(problem).items():
        out[name] = to_column_vec(refs[name], rows, columns)
    return out


def flattened_sides(problem: Problem) -> dict[str, tuple[Shape, Shape]]:
    """The Jacobians between flattened matrices whose entries depend on the flattening, with
    the shapes of what they differentiate and by what (``J_z2_W2``: ``(2,)`` and ``(2, 4)``;
    ``J_N_X``: ``N``'s and ``X``'s shapes). Only dense networks and the row layout; a vector's
    ``vec`` is the same in both orders, so the other Jacobians are left out."""
    if isinstance(problem, RowProblem):
        (B, n), p = problem.X.shape, problem.W.shape[1]
        N, X, W = (B, p), (B, n), (n, p)
        return {
            "J_S_N": (N, N),
            "J_N_X": (N, X),
            "J_N_W": (N, W),
            "J_L_S": ((), N),
            "J_L_N": ((), N),
            "J_L_X": ((), X),
            "J_L_W": ((), W),
        }
    if problem.batch != 1 or not problem.net.is_dense:
        return {}
    n = problem.net.sizes
    out: dict[str, tuple[Shape, Shape]] = {}
    for l in range(1, problem.net.depth + 1):
        W = (n[l], n[l - 1])
        out[f"J_z{l}_W{l}"] = ((n[l],), W)
        out[f"J_L_W{l}"] = ((), W)
    return out


def column_order(shape: Shape) -> np.ndarray:
    """The row-major ``vec`` index of each entry of the column-major ``vec`` of an array of
    ``shape``: ``vec_col(M) = vec_row(M)[column_order(M.shape)]``.

    >>> column_order((2, 3))
    array([0, 3, 1, 4, 2, 5])
    """
    return np.arange(prod(shape), dtype=np.intp).reshape(shape).reshape(-1, order="F")


def to_column_vec(J: Matrix, rows: Shape, columns: Shape) -> Matrix:
    """``∂vec_col(Y)/∂vec_col(X)`` from ``J = ∂vec_row(Y)/∂vec_row(X)``, ``Y`` of shape
    ``rows`` and ``X`` of shape ``columns``: the same entries, rows and columns permuted by
    :func:`column_order` (``P_Y J P_Xᵀ``)."""
    return np.asarray(J[np.ix_(column_order(rows), column_order(columns))], dtype=np.float64)


def _column_references(problem: ColumnProblem) -> dict[str, Matrix]:
    from ..chains import example_jacobians, jacobian_route

    net, params = problem.net, problem.params
    if not net.is_dense:
        from .layered import layer_references

        return layer_references(net, params)
    env = environment(problem)
    out = {k: v for k, v in env.items() if k != "m"}
    out["L"] = np.array([[cost(net, params)]])
    route = jacobian_route(net, params)
    for l in range(1, net.depth + 1):
        out[f"dW{l}"] = route.gradients[f"dW{l}"]
        out[f"db{l}"] = route.gradients[f"db{l}"].reshape(-1, 1)
    if problem.batch == 1:
        jac = example_jacobians(net, params, forward(net, params))
        for name in column_jacobian_shapes(net):
            if name in jac and not name.startswith("J_L_z"):
                out[name] = np.asarray(jac[name], dtype=np.float64)
        for l in range(1, net.depth + 1):
            out[f"J_L_z{l}"] = out[f"delta{l}"].T
            out[f"J_L_W{l}"] = out[f"dW{l}"].reshape(1, -1)
            out[f"J_L_b{l}"] = out[f"db{l}"].T
            if l > 1:
                out[f"J_z{l}_z{l - 1}"] = jac[f"J_z{l}_a{l - 1}"] @ jac[f"J_a{l - 1}_z{l - 1}"]
    return out


def _row_references(problem: RowProblem) -> dict[str, Matrix]:
    from ..rowlayout import matrix_function

    f = matrix_function(problem.X, problem.W, problem.activation)
    dLdN = f.jacobians["J_S_N"].diagonal().reshape(f.N.shape)
    return {
        "X": f.X,
        "W": f.W,
        "N": f.N,
        "S": f.S,
        "L": np.array([[f.L]]),
        "dLdN": dLdN,
        "dLdX": f.dLdX_jacobian,
        "dLdW": f.dLdW_jacobian,
        **f.jacobians,
        "J_L_N": dLdN.reshape(1, -1),
        "J_L_X": f.dLdX_jacobian.reshape(1, -1),
        "J_L_W": f.dLdW_jacobian.reshape(1, -1),
    }


def instantiate(problem: Problem, rng: np.random.Generator) -> Problem:
    """The same problem with random values: what a symbolic answer is evaluated at."""
    if isinstance(problem, RowProblem):
        X = rng.standard_normal(problem.X.shape)
        W = rng.standard_normal(problem.W.shape)
        return RowProblem(problem.activation, X, W)
    seed = int(rng.integers(2**32))
    params = init_parameters(problem.net, seed, problem.batch)
    return ColumnProblem(problem.net, params)


# --- what a symbolic answer may use -----------------------------------------------------

_LAYER = re.compile(r"^(delta|dW|db|J_L_z|J_L_a|J_L_W|J_L_b)(\d+(?:_\d+)*)$")  # 2, 2_1, …


def layer_key(label: str) -> tuple[float, ...]:
    """Where the forward pass meets layer ``label``, as a key that sorts in that order:
    ``'2'`` → ``(2, ∞)``, ``'2_1'`` → ``(2, 1, ∞)``. A block's own layers (``2_1``, ``2_2``,
    nested ``2_1_1``) come after layer 1 and before the block's output ``2``, and after each
    other in their order. (``int`` would read ``'2_1'`` as 21, above layer 3.)

    >>> sorted(["3", "2", "2_1", "1", "2_1_1", "2_2"], key=layer_key)
    ['1', '2_1_1', '2_1', '2_2', '2', '3']
    """
    return (*(int(part) for part in label.split("_")), inf)


def allowed_names(
    problem: Problem, name: str, env: Mapping[str, Matrix] | None = None
) -> list[str]:
    """The names a symbolic answer to ``name`` may use by default: the given and forward
    values, and the deltas of deeper layers (for ``dW2``, ``db2``, ``J_L_W2``, ``J_L_b2``, also
    ``delta2``; a block's own layers, ``2_1``, are deeper than layer 1 and below the block's
    output ``2``: :func:`layer_key`); inside a layer made of steps, the gradients its backward
    pass meets first (``dS1`` may use ``delta1`` and ``dA1``, ``dWq1`` also ``dQ1``); never the
    quantity itself or another name for it. ``env``: :func:`environment` of ``problem``, when
    already built."""
    env = environment(problem) if env is None else env
    if isinstance(problem, RowProblem):
        return [k for k in env if k != name]
    L = problem.net.depth
    same = {name, *{"yhat": [f"a{L}"], f"a{L}": ["yhat"], "x": ["a0"], "a0": ["x"]}.get(name, [])}
    inside: dict[str, tuple[tuple[float, ...], int]] = {}
    if not problem.net.is_dense:  # dWq1 and dV1 may use delta1; dS1 dA1, but not dQ1
        from .layered import gradient_order

        inside = gradient_order(problem.net)
    # the layer of the answer (a delta's and a gradient's own layer lies above it for dW, db,
    # J_L_W, J_L_b, and below it for delta, J_L_z, J_L_a), and its place inside that layer
    level: tuple[float, ...] = (inf,)  # any other name: no delta, no gradient
    own_layer_below, place = False, len(inside)
    match = _LAYER.match(name)
    if match:
        level = layer_key(match.group(2))
        own_layer_below = match.group(1) not in ("dW", "db", "J_L_W", "J_L_b")
    if name in inside:
        (level, place), own_layer_below = inside[name], False

    def below(key: tuple[float, ...]) -> bool:
        return key < level or (own_layer_below and key == level)

    out = []
    for k in env:
        if k in same:
            continue
        if k.startswith("delta") and below(layer_key(k[5:])):
            continue
        if k in inside:
            layer, at = inside[k]
            if below(layer) or (layer == level and at >= place):
                continue  # a gradient inside a layer below, or one met after this one
        out.append(k)
    return out
