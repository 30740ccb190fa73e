"""The composer: multiply a chain of Jacobians in a chosen order, count the cost, reshape.

A chain ``F_1 · F_2 ⋯ F_K`` of shapes ``d_0 × d_1, d_1 × d_2, …, d_{K-1} × d_K`` has the same
product in every order; the orders differ in cost. Multiplying a ``p × q`` by a ``q × r``
matrix takes ``p·q·r`` multiply–adds.

- ``reverse`` multiplies from the left (the loss side): ``((F_1 F_2) F_3) ⋯``. For a scalar
  loss ``d_0 = 1`` and every step is a vector–Jacobian product: this is backpropagation.
- ``forward`` multiplies from the right (the parameter side): ``F_1 (F_2 (⋯ F_K))``, every
  step a Jacobian–Jacobian product: forward accumulation.
- ``optimal`` takes the parenthesisation with the fewest multiply–adds (the matrix-chain
  problem, solved by dynamic programming in ``O(K³)``); it never costs more than the others.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass
from functools import reduce
from itertools import pairwise
from typing import Any, Literal

from ._typing import FloatArray, Matrix
from .errors import ShapeError, message, shape_str, unknown_name

ORDERS = ("reverse", "forward", "optimal")


@dataclass(frozen=True)
class Factor:
    """One named Jacobian of a chain, e.g. ``Factor('J_z2_W2', <2×8 array>)``; ``matrix`` is a
    numpy array, a scipy.sparse array or a :mod:`jacobians.structured` object."""

    name: str
    matrix: Any

    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, columns)`` = (outputs, inputs)."""
        r, c = self.matrix.shape
        return int(r), int(c)


@dataclass(frozen=True)
class Product:
    """A chain's product, the order used, its multiply–add count (of dense factors) and
    parenthesisation; ``value`` is in the factors' representation (a numpy array for dense)."""

    value: Any
    order: str
    multiply_adds: int
    expression: str


def dimensions(factors: Sequence[Factor]) -> list[int]:
    """``[d_0, d_1, …, d_K]`` of a chain; raise :class:`ShapeError` where neighbours do not fit."""
    if not factors:
        raise ShapeError(message("chain", "at least one Jacobian", "none"))
    dims = [factors[0].shape[0]]
    for left, right in pairwise(factors):
        if left.shape[1] != right.shape[0]:
            raise ShapeError(
                message(
                    f"chain {left.name}·{right.name}",
                    f"{right.name} with {left.shape[1]} rows",
                    f"shapes {shape_str(left.shape)} and {shape_str(right.shape)}",
                )
            )
    dims.extend(f.shape[1] for f in factors)
    return dims


def order_cost(dims: Sequence[int], order: str) -> int:
    """Multiply–adds of the ``reverse`` or ``forward`` order for a chain of dimensions ``dims``.

    reverse: ``Σ_{k=2}^{K} d_0·d_{k-1}·d_k``; forward: ``Σ_{k=1}^{K-1} d_{k-1}·d_k·d_K``.

    >>> order_cost([1, 2, 2, 8], "reverse"), order_cost([1, 2, 2, 8], "forward")
    (20, 48)
    """
    K = len(dims) - 1
    if order == "reverse":
        return sum(dims[0] * dims[k - 1] * dims[k] for k in range(2, K + 1))
    if order == "forward":
        return sum(dims[k - 1] * dims[k] * dims[K] for k in range(1, K))
    raise unknown_name("order", order, ("reverse", "forward"))


def optimal_splits(dims: Sequence[int]) -> tuple[int, list[list[int]]]:
    """The matrix-chain dynamic programme: least multiply–adds, and the split table.

    ``cost[i][j] = min_{i ≤ s < j} cost[i][s] + cost[s+1][j] + d_i·d_{s+1}·d_{j+1}`` over
    factors ``i..j`` (0-based); ``split[i][j]`` is the best ``s``.
    """
    K = len(dims) - 1
    cost = [[0] * K for _ in range(K)]
    split = [[0] * K for _ in range(K)]
    for length in range(2, K + 1):
        for i in range(K - length + 1):
            j = i + length - 1
            best = None
            for s in range(i, j):
                c = cost[i][s] + cost[s + 1][j] + dims[i] * dims[s + 1] * dims[j + 1]
                if best is None or c < best:
                    best, split[i][j] = c, s
            cost[i][j] = int(best) if best is not None else 0
    return cost[0][K - 1], split


def _evaluate(
    factors: Sequence[Factor], split: list[list[int]], i: int, j: int
) -> tuple[Matrix, str]:
    if i == j:
        return factors[i].matrix, factors[i].name
    s = split[i][j]
    left, le = _evaluate(factors, split, i, s)
    right, re = _evaluate(factors, split, s + 1, j)
    return left @ right, f"({le}·{re})"


def plan(names: Sequence[str], dims: Sequence[int], order: str) -> tuple[int, str]:
    """The multiply–add count and parenthesisation of a chain in ``order``, from its names and
    dimensions alone (no multiplication): what :func:`multiply` would report.

    >>> plan(["A", "B", "C"], [1, 3, 3, 3], "forward")
    (36, '(A·(B·C))')
    """
    if order == "reverse":
        return order_cost(dims, order), reduce(lambda acc, n: f"({acc}·{n})", names)
    if order == "forward":
        return order_cost(dims, order), reduce(lambda acc, n: f"({n}·{acc})", reversed(names))
    if order != "optimal":
        raise unknown_name("order", order, ORDERS)
    cost, split = optimal_splits(dims)

    def text(i: int, j: int) -> str:
        if i == j:
            return names[i]
        s = split[i][j]
        return f"({text(i, s)}·{text(s + 1, j)})"

    return cost, text(0, len(names) - 1)


def multiply(factors: Sequence[Factor], order: str = "reverse") -> Product:
    """The product ``F_1 · F_2 ⋯ F_K`` in the given order, with its multiply–add count.

    >>> import numpy as np
    >>> a, b = Factor("A", np.ones((1, 3))), Factor("B", np.ones((3, 3)))
    >>> c = Factor("C", np.eye(3))
    >>> p = multiply([a, b, c], "forward"); p.value.tolist(), p.multiply_adds, p.expression
    ([[3.0, 3.0, 3.0]], 36, '(A·(B·C))')
    >>> multiply([a, b, c], "reverse").multiply_adds
    18
    """
    if order not in ORDERS:
        raise unknown_name("order", order, ORDERS)
    dims = dimensions(factors)
    names = [f.name for f in factors]
    if order == "reverse":
        value = reduce(operator.matmul, (f.matrix for f in factors))
        expression = reduce(lambda acc, n: f"({acc}·{n})", names)
        return Product(value, order, order_cost(dims, order), expression)
    if order == "forward":
        value = reduce(lambda acc, m: m @ acc, (f.matrix for f in reversed(factors)))
        expression = reduce(lambda acc, n: f"({n}·{acc})", reversed(names))
        return Product(value, order, order_cost(dims, order), expression)
    cost, split = optimal_splits(dims)
    value, expression = _evaluate(factors, split, 0, len(factors) - 1)
    return Product(value, order, cost, expression)


def row_to_matrix(row: Matrix, shape: tuple[int, int], order: Literal["C", "F"] = "C") -> Matrix:
    """``∂L/∂vec(W)`` (``1 × n·m``) reshaped in C order to ``dW`` (``n × m``); with
    ``order="F"``, ``∂L/∂vec_col(W)`` in Fortran order
    (:func:`jacobians.columnvec.column_to_matrix`).

    >>> import numpy as np
    >>> row_to_matrix(np.array([[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]]), (2, 3)).tolist()
    [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    """
    n, m = shape
    if row.shape != (1, n * m):
        raise ShapeError(
            message("row", f"shape 1×{n * m} to reshape into {n}×{m}", shape_str(row.shape))
        )
    return row.reshape(n, m, order=order)


def row_to_tensor(row: Matrix, shape: tuple[int, ...]) -> FloatArray:
    """``∂L/∂vec(θ)`` (``1 × size``) reshaped in C order to ``θ``'s shape: a vector for a bias,
    ``n × m`` for a dense ``W``, ``C_out × C_in × k × k`` for a convolution's.

    >>> import numpy as np
    >>> row_to_tensor(np.arange(8.0).reshape(1, 8), (2, 1, 2, 2))[1, 0].tolist()
    [[4.0, 5.0], [6.0, 7.0]]
    """
    if len(shape) == 1:
        return row_to_vector(row)
    if len(shape) == 2:
        return row_to_matrix(row, (shape[0], shape[1]))
    size = 1
    for s in shape:
        size *= s
    if row.shape != (1, size):
        raise ShapeError(
            message(
                "row", f"shape 1×{size} to reshape into {shape_str(shape)}", shape_str(row.shape)
            )
        )
    return row.reshape(shape, order="C")


def row_to_vector(row: Matrix) -> Matrix:
    """``∂L/∂b`` (``1 × n``) as ``db`` (``n``): a gradient has the shape of what it
    differentiates."""
    if row.ndim != 2 or row.shape[0] != 1:
        raise ShapeError(message("row", "shape 1×n", shape_str(row.shape)))
    return row.reshape(-1)
