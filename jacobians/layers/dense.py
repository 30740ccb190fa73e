"""``dense(units)``: ``z = W a + b``, and its Jacobians as explicit matrices.

With ``n = n_l`` outputs, ``m = n_{l-1}`` inputs and ``a = a[l-1]`` (NOTATION.md):

=====================  ============  ===========================================
Jacobian               shape          value
=====================  ============  ===========================================
``∂z/∂vec(W)``         ``n × n·m``    ``I_n ⊗ aᵀ`` (row-major ``vec``)
``∂z/∂b``              ``n × n``      ``I_n``
``∂z/∂a[l-1]``         ``n × m``      ``W``
``∂a/∂z``              ``n × n``      ``diag(g'(z))``, or ``diag(s) − s sᵀ`` for softmax
=====================  ============  ===========================================

(``∂a/∂z`` belongs to the activation, :mod:`jacobians.layers.activation`; it is here for the
functions that compute one example's matrices directly.)

Why ``I_n ⊗ aᵀ``: ``z_i = Σ_k W_ik a_k + b_i`` depends on row ``i`` of ``W`` only, and on it
through ``aᵀ``; with ``vec(W)[i·m + k] = W[i, k]`` that row occupies columns ``i·m … i·m+m−1``.

For a batch ``A`` (``m × B``, one example per column) the batch Jacobians are ``I_n ⊗ Aᵀ``,
``I_n ⊗ 1_B`` and ``W ⊗ I_B``; the compact backward is ``dW = Δ Aᵀ``, ``db = Δ 1``,
``∂L/∂A = Wᵀ Δ``.

On a sequence ``X`` (``T × m``, one token per row: NOTATION.md's row layout) the layer acts on
each token, ``Y = X Wᵀ + 1 bᵀ``, and with the row-major ``vec``

    ∂vec(Y)/∂vec(X) = I_T ⊗ W,   ∂vec(Y)/∂vec(W) = (X ⊗ I_n) C,   ∂vec(Y)/∂b = 1_T ⊗ I_n,

``C`` the commutation matrix (``vec(Wᵀ) = C vec(W)``: the transpose in ``X Wᵀ``); the compact
backward is ``dW = dYᵀ X``, ``db = dYᵀ 1``, ``dX = dY W`` (summed over the batch).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod
from typing import ClassVar

import numpy as np

from .._typing import FloatArray, Matrix, Vector
from ..activations import Activation
from ..errors import ShapeError, message, shape_str
from ..structured import (
    Commutation,
    Identity,
    KronIdentity,
    KronIdentityBatch,
    KronIdentityRow,
    KronOnesBatch,
    KronWeightBatch,
    Product,
    Structured,
    per_example,
)
from ..structured import (
    Dense as DenseMatrix,
)
from .base import Kind, NodeNames, Params, Shape, argument, batch_of, need, show


@dataclass(frozen=True)
class Dense(Kind):
    """``dense(units)``: ``z = W a + b`` with ``W`` ``units × m`` and ``b`` of ``units``, on a
    vector input of ``m`` or on each token of a sequence ``T × m``."""

    units: int = argument(minimum=1, help="outputs n")
    name: ClassVar[str] = "dense"
    summary: ClassVar[str] = (
        "z = W a + b on a vector (per token on a sequence: Y = X Wᵀ + 1bᵀ); ∂z/∂vec(W) = I ⊗ aᵀ, "
        "∂z/∂b = I, ∂z/∂a = W"
    )
    parametric: ClassVar[bool] = True
    roles: ClassVar[tuple[str, ...]] = ("W", "b")

    def out_shape(self, in_shape: Shape) -> Shape:
        need(
            len(in_shape) in (1, 2),
            "input",
            "a vector or a sequence T×d",
            show(in_shape),
            "add flatten before dense",
        )
        return (*in_shape[:-1], self.units)

    def parameter_shapes(self, in_shape: Shape) -> dict[str, Shape]:
        return {"W": (self.units, in_shape[-1]), "b": (self.units,)}

    def forward_cost(self, in_shape: Shape) -> int:
        """``n·m`` (per token for a sequence)."""
        return self.units * prod(in_shape)

    def init(self, role: str, in_shape: Shape, rng: np.random.Generator) -> FloatArray:
        """``W ~ N(0, 1/m)``, ``b ~ N(0, 0.1²)``."""
        if role == "W":
            m = in_shape[-1]
            return np.asarray(rng.standard_normal((self.units, m)) / np.sqrt(m))
        return np.asarray(0.1 * rng.standard_normal(self.units))

    def forward(self, params: Params, a: FloatArray) -> FloatArray:
        """``Z = W A + b 1ᵀ``, ``n × B``; on sequences ``Y = X Wᵀ + 1 bᵀ`` per example."""
        if a.ndim == 3:  # (n, m) @ (T, m, B): one product per token, B examples at once
            return np.asarray(np.matmul(params["W"], a) + params["b"][None, :, None])
        return preactivation(params["W"], params["b"], a)

    def jacobians(self, params: Params, a: FloatArray, out: FloatArray) -> dict[str, Structured]:
        """One example: ``I_n ⊗ aᵀ``, ``I_n``, ``W``; a batch: ``I_n ⊗ Aᵀ``, ``I_n ⊗ 1_B``,
        ``W ⊗ I_B``."""
        W, B = params["W"], batch_of(a)
        if a.ndim == 3:
            return self._sequence_jacobians(W, a)
        if B == 1:
            return {
                "input": DenseMatrix(W),
                "W": KronIdentityRow(self.units, a[:, 0]),
                "b": Identity(self.units),
            }
        return {
            "input": KronWeightBatch(W, B),
            "W": KronIdentityBatch(self.units, a),
            "b": KronOnesBatch(self.units, B),
        }

    def _sequence_jacobians(self, W: Matrix, X: FloatArray) -> dict[str, Structured]:
        """Per example ``b`` (``X_b`` its ``T × m`` tokens): ``I_T ⊗ W``, ``(X_b ⊗ I_n) C``,
        ``1_T ⊗ I_n``; side by side over the batch."""
        (T, m, B), n = X.shape, self.units
        ones = np.ones((T, 1))
        return {
            "input": per_example([KronIdentity(T, W)] * B),
            "W": per_example(
                [Product((KronWeightBatch(X[:, :, b], n), Commutation(n, m))) for b in range(B)],
                shared=True,
            ),
            "b": per_example([KronWeightBatch(ones, n)] * B, shared=True),
        }

    def backward(
        self, params: Params, a: FloatArray, out: FloatArray, g: FloatArray, need_input: bool = True
    ) -> tuple[FloatArray | None, dict[str, FloatArray]]:
        """``∂L/∂A = Wᵀ Δ``, ``dW = Δ Aᵀ``, ``db = Δ 1`` (sums over the batch); on sequences
        ``dX = dY W``, ``dW = Σ dYᵀ X``, ``db = Σ dYᵀ 1``."""
        W = params["W"]
        if a.ndim == 3:
            back = np.matmul(W.T, g) if need_input else None
            dW = np.tensordot(g, a, axes=([0, 2], [0, 2]))  # Σ over tokens and examples
            return back, {"W": dW, "b": g.sum(axis=(0, 2))}
        back = W.T @ g if need_input else None
        return back, {"W": g @ a.T, "b": np.add.reduce(g, axis=1)}  # g.sum(axis=1), no wrapper

    mistakes: ClassVar[dict[str, str]] = {
        "wrong_layer_activation": "a[l] is used where a[l-1] belongs",
    }

    def mistaken_backward(
        self,
        mistake: str,
        params: Params,
        a: FloatArray,
        out: FloatArray,
        g: FloatArray,
        after: FloatArray | None = None,
    ) -> tuple[FloatArray, dict[str, FloatArray]]:
        """``wrong_layer_activation``: ``dW = Δ a[l]ᵀ``, the layer's own activation for its
        input (only where an activation follows)."""
        if mistake != "wrong_layer_activation" or after is None or a.ndim != 2:
            raise KeyError(mistake)
        back, grads = self.backward(params, a, out, g)
        assert back is not None
        return back, {**grads, "W": g @ after.T}

    def structure(self, role: str, node: NodeNames) -> str:
        n, B = self.units, node.batch
        if len(node.in_shape) == 2:
            T, each = node.in_shape[0], "" if B == 1 else " per example"
            return {
                "W": f"({node.input} ⊗ I_{n}) C, C: vec(Wᵀ) = C vec(W){each}",
                "b": f"1_{T} ⊗ I_{n}{each}",
            }.get(role, f"I_{T} ⊗ {node.parameters['W']}{each}")
        if role == "W":
            return f"I_{n} ⊗ {node.input}ᵀ" if B == 1 else f"I_{n} ⊗ {node.input.upper()}ᵀ"
        if role == "b":
            return f"I_{n}" if B == 1 else f"I_{n} ⊗ 1_{B}"
        return node.parameters["W"] if B == 1 else f"{node.parameters['W']} ⊗ I_{B}"


# --- one example's matrices, directly --------------------------------------------------


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
    z = np.asarray(W @ a_prev, dtype=np.float64)
    z += b if a_prev.ndim == 1 else b[:, np.newaxis]  # in place: W a is a fresh array
    return z


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


def jacobian_a_z(g: Activation, z: Vector) -> Matrix:
    """``∂a/∂z``: ``diag(g'(z))`` for an elementwise ``g``, ``diag(s) − s sᵀ`` for softmax;
    shape ``(n, n)``."""
    return g.jacobian(np.asarray(z, dtype=np.float64))
