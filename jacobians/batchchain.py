"""The Jacobian route for a whole batch as one chain, through batch Jacobians.

The cost ``J = (1/B) Σ_b L(ŷ_b, y_b)`` is a function of ``vec(Z[l])`` (row-major over
``Z[l]``, ``n_l × B``), and its chain has the factors

- ``∂J/∂vec(A[L])`` (``1 × n_L·B``): ``(1/B) ∂L/∂ŷ_b`` for every example; for a fused pair
  ``∂J/∂vec(Z[L]) = vec(A[L] − Y)ᵀ / B``;
- ``∂vec(A)/∂vec(Z)``: ``diag(vec g'(Z))``, or softmax's per-example blocks;
- ``∂vec(Z[l])/∂vec(A[l-1]) = W[l] ⊗ I_B``;
- ``∂vec(Z[l])/∂vec(W[l]) = I_n ⊗ A[l-1]ᵀ`` (NOTATION.md's batch Jacobian) and
  ``∂vec(Z[l])/∂b[l] = I_n ⊗ 1_B``.

Multiplied in reverse order, ``vᵀ (I_n ⊗ Aᵀ)`` is ``vec(V Aᵀ)`` — the batch formula
``dW = (1/B) Δ Aᵀ`` appears as the product of the chain. The same gradients as the mean of
per-example chains (:func:`jacobians.chains.jacobian_route`), with factors ``B`` times as tall.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._typing import Matrix
from .compose import Factor, multiply, row_to_matrix, row_to_vector
from .network import Network, forward
from .parameters import Parameters
from .structured import (
    Dense,
    Diagonal,
    KronIdentityBatch,
    KronOnesBatch,
    KronWeightBatch,
    SoftmaxBatch,
    Structured,
    represent,
    to_dense,
)


def batch_jacobians(net: Network, params: Parameters, representation: str) -> dict[str, Any]:
    """The batch chain's factors by name (``J_L_a3``, ``J_a3_z3``, ``J_z3_a2``, ``J_z3_W3``, …)."""
    cache = forward(net, params)
    L, B = net.depth, params.batch
    Y = params.target(net)
    out: dict[str, Any] = {}
    with np.errstate(divide="ignore", invalid="ignore"):
        out[f"J_L_a{L}"] = (net.loss.gradient(cache.a[L], Y) / B).reshape(1, -1)
    if net.fused is not None:
        out[f"J_L_z{L}"] = (net.fused.delta(cache.a[L], Y) / B).reshape(1, -1)
    for l in range(L, 0, -1):
        g = net.activations[l - 1]
        n = net.sizes[l]
        a_z: Structured
        if g.elementwise:
            a_z = Diagonal(np.asarray(g.vjp(cache.z[l], np.ones_like(cache.z[l]))).reshape(-1))
        else:
            a_z = SoftmaxBatch(cache.a[l])
        factors: dict[str, Structured] = {
            f"J_a{l}_z{l}": a_z,
            f"J_z{l}_W{l}": KronIdentityBatch(n, cache.a[l - 1]),
            f"J_z{l}_b{l}": KronOnesBatch(n, B),
        }
        if l > 1:
            factors[f"J_z{l}_a{l - 1}"] = KronWeightBatch(params.W[l - 1], B)
        out.update({k: represent(v, representation) for k, v in factors.items()})
    return out


def batch_route(
    net: Network, params: Parameters, order: str = "reverse", representation: str = "structured"
) -> dict[str, Matrix]:
    """``dW1, db1, …`` by one chain per gradient over the whole batch."""
    from .chains import chain, output_factors

    jac = batch_jacobians(net, params, representation)
    head, _ = output_factors(net, jac)
    grads: dict[str, Matrix] = {}
    for l in range(1, net.depth + 1):
        for end in ("W", "b"):
            factors: list[Factor] = chain(net, jac, head, l, end)
            row = to_dense(multiply(factors, order).value)
            if end == "W":
                grads[f"dW{l}"] = row_to_matrix(row, net.weight_shape(l))
            else:
                grads[f"db{l}"] = row_to_vector(row)
    return grads


__all__ = ["Dense", "batch_jacobians", "batch_route"]
