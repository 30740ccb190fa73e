"""The Jacobian route for a whole batch as one chain, through batch Jacobians.

The cost ``J = (1/B) Σ_b L(ŷ_b, y_b)`` is a function of every layer's whole batch, ``vec`` taken
row-major over the batch-last array (``vec(Z[l])[i·B + b] = Z[l][i, b]`` for vectors), and its
chain has the factors

- ``∂J/∂vec(A[L])`` (``1 × n_L·B``): ``(1/B) ∂L/∂ŷ_b`` for every example; for a fused pair
  ``∂J/∂vec(Z[L]) = vec(A[L] − Y)ᵀ / B``;
- each layer's batch Jacobians, from its kind (:meth:`jacobians.layers.base.Kind.jacobians`
  with the whole batch): for a dense layer ``∂vec(Z)/∂vec(A) = W ⊗ I_B``,
  ``∂vec(Z)/∂vec(W) = I_n ⊗ Aᵀ`` (NOTATION.md's batch Jacobian) and ``∂vec(Z)/∂b = I_n ⊗ 1_B``;
  for an activation ``diag(vec g'(Z))`` or softmax's per-example blocks; for a convolution
  ``I ⊗ U`` with the examples' im2row rows interleaved.

Multiplied in reverse order, ``vᵀ (I_n ⊗ Aᵀ)`` is ``vec(V Aᵀ)`` — the batch formula
``dW = (1/B) Δ Aᵀ`` appears as the product of the chain. The same gradients as the mean of
per-example chains (:func:`jacobians.chains.jacobian_route`), with factors ``B`` times as tall.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._typing import FloatArray
from .chains import _result, node_jacobians, output_factors, target_factors
from .columnvec import ORDER, check_column, check_vec
from .compose import multiply
from .network import Network, flat, forward
from .parameters import Parameters
from .paths import fused_name, loss_name, targets
from .structured import to_dense


def batch_jacobians(
    net: Network,
    params: Parameters,
    representation: str,
    first_input: bool = False,
    vec: str = "row",
) -> dict[str, Any]:
    """The batch chain's factors by name (``J_L_a3``, ``J_a3_z3``, ``J_z3_a2``, ``J_z3_W3``, …;
    the first layer's input Jacobian only with ``first_input``). ``vec="column"`` (a dense
    network): every batch matrix flattened column-major, the examples one after the other
    (``Aᵀ ⊗ I_n``, ``I_B ⊗ W``, …; :mod:`jacobians.columnvec`)."""
    cache = forward(net, params)
    B = params.batch
    Y, A = params.target(net), cache.output
    out: dict[str, Any] = {}
    with np.errstate(divide="ignore", invalid="ignore"):
        gradient = net.loss.gradient(flat(A), flat(Y)).reshape(A.shape)
        out[loss_name(net)] = (gradient / B).reshape(1, -1, order=ORDER[vec])
    if net.fused is not None:
        out[fused_name(net)] = (net.fused.delta(A, Y) / B).reshape(1, -1, order=ORDER[vec])
    out.update(node_jacobians(net, params, cache, slice(None), representation, first_input, vec))
    return out


def batch_route(
    net: Network,
    params: Parameters,
    order: str = "reverse",
    representation: str = "structured",
    vec: str = "row",
) -> dict[str, FloatArray]:
    """``dW1, db1, …`` by one chain per gradient over the whole batch; ``vec="column"`` (a
    dense network) flattens column-major and reshapes in Fortran order."""
    if vec != "row":
        check_vec(vec)
        check_column(net)
    jac = batch_jacobians(net, params, representation, vec=vec)
    head, _ = output_factors(net, jac)
    grads: dict[str, FloatArray] = {}
    for target in targets(net):
        if target.role is None:
            continue
        row = to_dense(multiply(target_factors(net, jac, head, target), order).value)
        grads[target.name] = _result(target, row, vec=vec)
    return grads


__all__ = ["batch_jacobians", "batch_route"]
