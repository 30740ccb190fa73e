"""The network of the numeric core in the row layout: ``layout="row"``.

Observations are rows: ``X`` is ``B × n_0``, ``W[l]`` is ``n_{l-1} × n_l``, ``b[l]`` a row, and
``Z[l] = A[l-1] W[l] + b[l]`` (``B × n_l``). For one observation, a row ``a`` (``1 × m``), the
Jacobians (row-major ``vec``) are

- ``∂z/∂vec(W) = a ⊗ I_n`` (``n × m·n``): ``z_j = Σ_k a_k W_kj`` and ``vec(W)[k·n + j] = W[k, j]``;
- ``∂z/∂a = Wᵀ`` (``n × m``), ``∂z/∂b = I_n``, and ``∂a/∂z`` as in the column layout.

The gradients are the transposes of the column layout's: ``dW_row[l] = dW[l]ᵀ``, computed
here by their own chains (Jacobian route) and by ``dW = (1/B) A[l-1]ᵀ Δ[l]``,
``Δ[l] = (Δ[l+1] W[l+1]ᵀ) ⊙ g'(Z[l])`` (vectorized route).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._typing import Matrix, Vector
from .chains import chain, output_factors
from .compose import multiply, row_to_matrix, row_to_vector
from .errors import unknown_name
from .layers import jacobian_a_z
from .network import Network
from .parameters import Parameters

LAYOUTS = ("column", "row")


@dataclass(frozen=True)
class RowParameters:
    """``W[l]`` (``n_{l-1} × n_l``), ``b[l]`` (``n_l``), ``X`` (``B × n_0``), ``Y`` (``B × n_L``
    or ``None``)."""

    W: tuple[Matrix, ...]
    b: tuple[Vector, ...]
    X: Matrix
    Y: Matrix | None


def to_row(params: Parameters) -> RowParameters:
    """The same numbers in the row layout: every ``W``, ``x`` and ``y`` transposed."""
    Y = None if params.y is None else params.y.T.copy()
    return RowParameters(tuple(W.T.copy() for W in params.W), params.b, params.x.T.copy(), Y)


def row_forward(net: Network, rp: RowParameters) -> tuple[list[Matrix], list[Matrix]]:
    """``Z[l] = A[l-1] W[l] + b[l]``, ``A[l] = g(Z[l])`` (rows); lists indexed by ``l``
    (``Z[0]`` unused, ``A[0] = X``)."""
    Z: list[Matrix] = [np.empty((rp.X.shape[0], 0))]
    A: list[Matrix] = [rp.X]
    for l, g in enumerate(net.activations, start=1):
        z = A[-1] @ rp.W[l - 1] + rp.b[l - 1]
        Z.append(z)
        A.append(g(z.T).T)  # activations act on columns: one softmax per observation
    return Z, A


def _target(net: Network, rp: RowParameters) -> Matrix:
    return rp.Y if rp.Y is not None else np.zeros((rp.X.shape[0], net.sizes[-1]))


def row_example_jacobians(net: Network, rp: RowParameters, i: int = 0) -> dict[str, Matrix]:
    """Observation ``i``'s Jacobians by NOTATION name, in the row layout (``J_z2_W2`` is
    ``a[1] ⊗ I_2``)."""
    Z, A = row_forward(net, rp)
    y = _target(net, rp)[i]
    L = net.depth
    out: dict[str, Matrix] = {}
    with np.errstate(divide="ignore", invalid="ignore"):
        out[f"J_L_a{L}"] = net.loss.row(A[L][i], y)
    for l in range(L, 0, -1):
        n = net.sizes[l]
        out[f"J_a{l}_z{l}"] = jacobian_a_z(net.activations[l - 1], Z[l][i])
        if l > 1:
            out[f"J_z{l}_a{l - 1}"] = rp.W[l - 1].T.copy()
        out[f"J_z{l}_W{l}"] = np.kron(A[l - 1][i].reshape(1, -1), np.eye(n))
        out[f"J_z{l}_b{l}"] = np.eye(n)
    if net.fused is not None:
        out[f"J_L_z{L}"] = net.fused.row(A[L][i], y)
    return out


def row_jacobian_route(
    net: Network, rp: RowParameters, order: str = "reverse"
) -> dict[str, Matrix]:
    """``dW1, db1, …`` in the row layout (``dW[l]`` is ``n_{l-1} × n_l``) by Jacobian chains,
    averaged over the observations."""
    B, L = rp.X.shape[0], net.depth
    grads = {
        f"d{p}{l}": 0.0 * (rp.W[l - 1] if p == "W" else rp.b[l - 1])
        for l in range(1, L + 1)
        for p in "Wb"
    }
    for i in range(B):
        jac = row_example_jacobians(net, rp, i)
        head, _ = output_factors(net, jac)
        for l in range(1, L + 1):
            m, n = rp.W[l - 1].shape
            dW = multiply(chain(net, jac, head, l, "W"), order).value
            db = multiply(chain(net, jac, head, l, "b"), order).value
            grads[f"dW{l}"] = grads[f"dW{l}"] + row_to_matrix(dW, (m, n)) / B
            grads[f"db{l}"] = grads[f"db{l}"] + row_to_vector(db) / B
    return grads


def row_vectorized_route(net: Network, rp: RowParameters) -> dict[str, Matrix]:
    """``Δ[L]`` (``B × n_L``), ``Δ[l] = (Δ[l+1] W[l+1]ᵀ) ⊙ g'(Z[l])``, ``dW = (1/B) A[l-1]ᵀ Δ[l]``,
    ``db = (1/B) 1ᵀ Δ[l]``."""
    Z, A = row_forward(net, rp)
    B, L = rp.X.shape[0], net.depth
    Y = _target(net, rp)
    if net.fused is not None:
        delta = net.fused.delta(A[L], Y)
    else:
        delta = net.activations[-1].vjp(Z[L].T, net.loss.gradient(A[L], Y).T).T
    grads: dict[str, Matrix] = {}
    for l in range(L, 0, -1):
        grads[f"dW{l}"] = A[l - 1].T @ delta / B
        grads[f"db{l}"] = delta.sum(axis=0) / B
        if l > 1:
            back = delta @ rp.W[l - 1].T
            delta = net.activations[l - 2].vjp(Z[l - 1].T, back.T).T
    return {k: grads[k] for k in sorted(grads, key=lambda k: (int(k[2:]), k[1]))}


def gradients(
    net: Network,
    params: Parameters,
    layout: str = "column",
    route: str = "jacobian",
    order: str = "reverse",
) -> dict[str, Matrix]:
    """``dW1, db1, …`` of ``params`` in the ``column`` or ``row`` layout, by the ``jacobian``
    or ``vectorized`` route."""
    if layout not in LAYOUTS:
        raise unknown_name("layout", layout, LAYOUTS)
    if route not in ("jacobian", "vectorized"):
        raise unknown_name("route", route, ("jacobian", "vectorized"))
    if layout == "column":
        from .backprop import vectorized_route
        from .chains import jacobian_route

        if route == "jacobian":
            return jacobian_route(net, params, order).gradients
        return vectorized_route(net, params).gradients
    rp = to_row(params)
    return (
        row_jacobian_route(net, rp, order) if route == "jacobian" else row_vectorized_route(net, rp)
    )
