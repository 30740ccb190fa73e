"""The column-major flattening (Magnus–Neudecker's ``vec``) for the Jacobian route of a dense
network: ``compare --vec column``.

NOTATION.md flattens row-major by default. The column-major ``vec_col`` stacks a matrix's
columns: ``vec_col(W)[k·n + i] = W[i, k]`` for ``W`` of ``n × m``, i.e. ``W.reshape(-1,
order="F")``, and a row ``1 × n·m`` reshapes back to ``n × m`` in Fortran order.

One example (``z = W a + b``, ``a`` of ``m``): ``z_i`` depends on column ``k`` of ``W``
through ``a_k`` alone, and column ``k`` occupies entries ``k·n … k·n + n − 1`` of
``vec_col(W)``, so

    ∂z/∂vec_col(W) = aᵀ ⊗ I_n = [a_1 I_n  a_2 I_n  ⋯  a_m I_n],  shape n × m·n;

every other factor of the chain is a Jacobian between vectors and is the same in both
conventions. The chain's row ``δᵀ (aᵀ ⊗ I_n) = [a_1 δᵀ ⋯ a_m δᵀ] = vec_col(δ aᵀ)ᵀ``, reshaped
in Fortran order, is ``dW = δ aᵀ``: the same ``dW`` as the row-major route's. The two
Jacobians are one permutation apart, ``(I_n ⊗ aᵀ) = (aᵀ ⊗ I_n) K`` with ``K`` the
commutation matrix (``K vec_col(W) = vec(W)``).

A batch (``Z = W A + b 1ᵀ``, ``A`` of ``m × B``, examples as columns). The batch chain
(:mod:`jacobians.batchchain`, ``--strategy batch``) flattens every batch matrix the same way:
with ``vec_col``, ``vec_col(Z)[b·n + i] = Z[i, b]`` stacks the examples one after the other
(the row-major ``vec(Z)[i·B + b]`` interleaves them). Magnus–Neudecker's
``vec(W A) = (Aᵀ ⊗ I_n) vec(W)`` gives the batch Jacobians

    ∂vec_col(Z)/∂vec_col(W) = Aᵀ ⊗ I_n       (n·B × m·n; row block b is a_bᵀ ⊗ I_n),
    ∂vec_col(Z)/∂vec_col(A) = I_B ⊗ W        (n·B × m·B; block diagonal, one W per example),
    ∂vec_col(Z)/∂b          = 1_B ⊗ I_n      (n·B × n),
    ∂vec_col(A')/∂vec_col(Z) = diag(vec_col g'(Z)), or one softmax block per example,

and the loss row ``∂J/∂vec_col(Ŷ) = (1/B) [∂L/∂ŷ_1 ⋯ ∂L/∂ŷ_B]``: in the column convention
the batch chain is the examples' chains side by side, block by block. Its row for ``W``,
``vec_col(Δ Aᵀ)ᵀ/B``, reshapes in Fortran order to ``dW = (1/B) Δ Aᵀ``; the row of ``δ``
(``∂J/∂vec_col(Z)``) reshapes in Fortran order to ``Δ/B``.

Only dense networks (``dense(n)`` layers each followed by an activation, on a vector input)
have a column-major route here; :func:`check_column` refuses the others.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np

from ._typing import FloatArray, Matrix
from .activations import Elementwise
from .compose import row_to_matrix
from .errors import InvalidValueError, ShapeError, message, shape_str, unknown_name
from .layers.activation import ActivationKind
from .layers.base import Kind, NodeNames, Params, batch_of
from .layers.dense import Dense
from .structured import (
    Dense as DenseMatrix,
)
from .structured import (
    Diagonal,
    Identity,
    KronIdentity,
    KronTransposeIdentity,
    KronWeightBatch,
    RowSoftmax,
    SoftmaxJacobian,
    Structured,
)

if TYPE_CHECKING:
    from .network import Network

VECS = ("row", "column")
"""``row``: NOTATION.md's row-major ``vec`` (C order, the default); ``column``: Magnus–
Neudecker's column-major ``vec`` (Fortran order)."""

ORDER: dict[str, Literal["C", "F"]] = {"row": "C", "column": "F"}
"""numpy's reshape order of each flattening."""


def check_vec(vec: str) -> str:
    """``vec`` itself if it is ``'row'`` or ``'column'``; else
    :class:`~jacobians.errors.UnknownNameError` listing both."""
    if vec not in VECS:
        raise unknown_name("vec", vec, VECS)
    return vec


def check_column(net: Network) -> None:
    """Refuse, naming what is supported, a network the column-major route does not cover:
    anything but ``dense(n)`` layers each followed by an activation, on a vector input."""
    if net.is_dense:
        return
    raise InvalidValueError(
        message(
            "vec",
            "a dense network for --vec column (dense(n) layers each followed by an "
            "activation, on a vector input: --sizes/--activations/--loss)",
            repr(net.spec),
            "the column-major ∂z/∂vec_col(W) = aᵀ ⊗ I_n is implemented for dense layers only, "
            "not for conv2d, pooling, flatten, batchnorm, layernorm, dropout, residual, "
            "embedding or attention; use --vec row (the default)",
        )
    )


def vec_col(M: Matrix) -> FloatArray:
    """``vec_col(M)``: the columns of ``M`` stacked, ``M.reshape(-1, order="F")``.

    >>> vec_col(np.array([[1.0, 2.0], [3.0, 4.0]])).tolist()
    [1.0, 3.0, 2.0, 4.0]
    """
    return np.asarray(M, dtype=np.float64).reshape(-1, order="F")


def column_to_matrix(row: Matrix, shape: tuple[int, int]) -> Matrix:
    """``∂L/∂vec_col(W)`` (``1 × n·m``) reshaped in Fortran order to ``dW`` (``n × m``): entry
    ``k·n + i`` of the row is ``dW[i, k]``.

    >>> column_to_matrix(np.array([[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]]), (2, 3)).tolist()
    [[1.0, 3.0, 5.0], [2.0, 4.0, 6.0]]
    """
    return row_to_matrix(row, shape, order="F")


def jacobian_z_W_column(  # noqa: N802 (W is the matrix's name)
    a_prev: FloatArray, n: int
) -> Matrix:
    """``∂z/∂vec_col(W) = aᵀ ⊗ I_n``, shape ``(n, m·n)`` for ``a`` of shape ``(m,)``; for a
    batch ``A`` of ``(m, B)``, ``∂vec_col(Z)/∂vec_col(W) = Aᵀ ⊗ I_n``, ``(n·B, m·n)``.

    >>> jacobian_z_W_column(np.array([1.0, 2.0]), 2).tolist()
    [[1.0, 0.0, 2.0, 0.0], [0.0, 1.0, 0.0, 2.0]]
    """
    a = np.asarray(a_prev, dtype=np.float64)
    if a.ndim not in (1, 2):
        raise ShapeError(message("a[l-1]", "shape (m,) or (m, B)", f"shape {shape_str(a.shape)}"))
    return KronTransposeIdentity(a.reshape(a.shape[0], -1), n).dense()


def column_jacobians(
    kind: Kind, params: Params, a: FloatArray, out: FloatArray
) -> dict[str, Structured]:
    """A dense network's node Jacobians with the column-major ``vec``, by role.

    One example (``a`` of ``m × 1``): a dense layer's ``∂z/∂vec_col(W) = aᵀ ⊗ I_n`` and, as in
    the row-major ``vec``, ``W`` and ``I_n``; an activation's as ever. A batch (``B > 1``):
    ``Aᵀ ⊗ I_n``, ``I_B ⊗ W``, ``1_B ⊗ I_n``; ``diag(vec_col g'(Z))`` or one
    ``diag(s_b) − s_b s_bᵀ`` per example, consecutive."""
    B = batch_of(a)
    if isinstance(kind, Dense):
        W, n = params["W"], kind.units
        if B == 1:
            return {
                "input": DenseMatrix(W),
                "W": KronTransposeIdentity(a, n),
                "b": Identity(n),
            }
        return {
            "input": KronIdentity(B, W),
            "W": KronTransposeIdentity(a, n),
            "b": KronWeightBatch(np.ones((B, 1)), n),
        }
    if isinstance(kind, ActivationKind):
        rule = kind.rule
        if isinstance(rule, Elementwise):
            return {"input": Diagonal(vec_col(rule.derivative(a)))}
        if B == 1:
            return {"input": SoftmaxJacobian(out[:, 0])}
        return {"input": RowSoftmax(np.ascontiguousarray(out.T))}
    raise InvalidValueError(  # check_column keeps every other kind out
        message("vec", "a dense layer or an activation for the column-major vec", kind.name)
    )


def column_structure(kind: Kind, role: str, names: NodeNames) -> str:
    """The report's structure of a Jacobian under the column-major ``vec``: a dense layer's
    ``∂z/∂vec_col(W)`` is ``a[1]ᵀ ⊗ I_4`` (a batch's ``A[1]ᵀ ⊗ I_4``); every other Jacobian
    is written as its kind writes it (:meth:`~jacobians.layers.base.Kind.structure`)."""
    if isinstance(kind, Dense) and role == "W":
        a = names.input if names.batch == 1 else names.input.upper()
        return f"{a}ᵀ ⊗ I_{kind.units} (column-major vec)"
    return kind.structure(role, names)


__all__ = [
    "ORDER",
    "VECS",
    "check_column",
    "check_vec",
    "column_jacobians",
    "column_structure",
    "column_to_matrix",
    "jacobian_z_W_column",
    "vec_col",
]
