"""A dense layer ``z = W a + b``, ``a' = g(z)``, and its four Jacobians as explicit matrices.

With ``n = n_l`` outputs, ``m = n_{l-1}`` inputs and ``a = a[l-1]`` (NOTATION.md):

=====================  ============  ===========================================
Jacobian               shape          value
=====================  ============  ===========================================
``∂z/∂vec(W)``         ``n × n·m``    ``I_n ⊗ aᵀ`` (row-major ``vec``)
``∂z/∂b``              ``n × n``      ``I_n``
``∂z/∂a[l-1]``         ``n × m``      ``W``
``∂a/∂z``              ``n × n``      ``diag(g'(z))``, or ``diag(s) − s sᵀ`` for softmax
=====================  ============  ===========================================

Why ``I_n ⊗ aᵀ``: ``z_i = Σ_k W_ik a_k + b_i`` depends on row ``i`` of ``W`` only, and on it
through ``aᵀ``; with ``vec(W)[i·m + k] = W[i, k]`` that row occupies columns ``i·m … i·m+m−1``.
"""

from __future__ import annotations

import numpy as np

from ._typing import FloatArray, Matrix, Vector
from .activations import Activation, Elementwise
from .errors import ShapeError, message, shape_str
from .structured import Dense, Diagonal, Identity, KronIdentityRow, SoftmaxJacobian, Structured


def preactivation(W: Matrix, b: Vector, a_prev: FloatArray) -> FloatArray:
    """``z = W a + b``: ``W`` is ``(n, m)``, ``b`` ``(n,)``, ``a`` ``(m,)`` or ``(m, B)``;
    ``z`` is ``(n,)`` or ``(n, B)``."""
    if a_prev.shape[0] != W.shape[1]:
        raise ShapeError(
            message(
                "a[l-1]",
                f"{W.shape[1]} rows to match W of shape {shape_str(W.shape)}",
                f"shape {shape_str(a_prev.shape)}",
            )
        )
    bias = b if a_prev.ndim == 1 else b[:, np.newaxis]
    return np.asarray(W @ a_prev + bias, dtype=np.float64)


def forward(
    W: Matrix, b: Vector, a_prev: FloatArray, g: Activation
) -> tuple[FloatArray, FloatArray]:
    """``z = W a + b`` and ``a' = g(z)``, each ``(n,)`` or ``(n, B)``."""
    z = preactivation(W, b, a_prev)
    return z, g(z)


def jacobian_z_W(  # noqa: N802 (W is the matrix's name)
    a_prev: Vector, n: int
) -> Matrix:
    """``∂z/∂vec(W) = I_n ⊗ aᵀ``, shape ``(n, n·m)`` for ``a`` of shape ``(m,)``.

    >>> jacobian_z_W(np.array([1.0, 2.0]), 2).tolist()
    [[1.0, 2.0, 0.0, 0.0], [0.0, 0.0, 1.0, 2.0]]
    """
    a = np.asarray(a_prev, dtype=np.float64)
    if a.ndim != 1:
        raise ShapeError(
            message("a[l-1]", "one example, shape (m,)", f"shape {shape_str(a.shape)}")
        )
    return KronIdentityRow(n, a).dense()  # a block fill: the same matrix as np.kron, faster


def jacobian_z_b(n: int) -> Matrix:
    """``∂z/∂b = I_n``, shape ``(n, n)``."""
    return np.eye(n)


def jacobian_z_a(W: Matrix) -> Matrix:
    """``∂z/∂a[l-1] = W``, shape ``(n, m)`` (a copy, so the chain never aliases a parameter)."""
    return np.array(W, dtype=np.float64)


def structured_jacobians(
    g: Activation, W: Matrix, a_prev: Vector, z: Vector
) -> dict[str, Structured]:
    """The four Jacobians of one layer as structured objects (:mod:`jacobians.structured`):
    ``z_W`` = ``I_n ⊗ aᵀ``, ``z_b`` = ``I_n``, ``z_a`` = ``W``, ``a_z`` = ``diag(g'(z))`` or
    softmax's ``diag(s) − s sᵀ``."""
    n = W.shape[0]
    zz = np.asarray(z, dtype=np.float64)
    a_z: Structured
    if isinstance(g, Elementwise):
        a_z = Diagonal(g.derivative(zz))
    else:
        a_z = SoftmaxJacobian(g(zz))
    return {
        "z_W": KronIdentityRow(n, np.asarray(a_prev, dtype=np.float64)),
        "z_b": Identity(n),
        "z_a": Dense(np.asarray(W, dtype=np.float64)),
        "a_z": a_z,
    }


def jacobian_a_z(g: Activation, z: Vector) -> Matrix:
    """``∂a/∂z``: ``diag(g'(z))`` for an elementwise ``g``, ``diag(s) − s sᵀ`` for softmax;
    shape ``(n, n)``."""
    return g.jacobian(np.asarray(z, dtype=np.float64))
