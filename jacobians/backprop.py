"""The vectorized route: the compact formulas of backpropagation on a whole batch.

Each layer kind applies its own compact backward pass (:meth:`jacobians.layers.base.Kind.backward`)
from the last layer to the first, without building a Jacobian. For dense layers these are

- ``δ[L] = a[L] − y`` for a fused output pair (sigmoid with bce, softmax with ce); otherwise
  ``δ[L] = (∂a[L]/∂z[L])ᵀ (∂L/∂ŷ)ᵀ``, which is ``∂L/∂ŷ ⊙ g'(z[L])`` for an elementwise ``g`` and
  ``s ⊙ (v − (sᵀv) 1)`` for softmax — applied per column, no Jacobian built;
- ``δ[l] = (W[l+1]ᵀ δ[l+1]) ⊙ g'[l](z[l])`` (softmax: its transposed Jacobian applied the same way);
- ``dW[l] = (1/B) Δ[l] A[l-1]ᵀ`` and ``db[l] = (1/B) Δ[l] 1``, where ``Δ[l]`` holds the examples'
  ``δ[l]`` as columns;

and for a convolution ``dW = (1/B) Δ U``, ``db`` the sums of ``Δ``, and the input gradient the
transposed correlation; for pooling, the gradient routed to each window's maximum or spread
over it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._typing import FloatArray, Matrix
from .network import Network, flat, forward
from .parameters import Parameters


@dataclass(frozen=True)
class VectorizedRoute:
    """Gradients ``dW1, db1, …`` (their parameters' shapes) and deltas ``delta1, …`` (each
    layer's output shape × ``B``) by the compact formulas."""

    gradients: dict[str, FloatArray]
    deltas: dict[str, FloatArray]


def output_delta(net: Network, params: Parameters, z: Matrix, a: Matrix) -> Matrix:
    """``Δ[L]``: ``A[L] − Y`` for a fused pair, else ``g'ᵀ`` applied to ``∂L/∂ŷ`` (vectors
    ``n_L × B``)."""
    y = params.target(net)
    if net.fused is not None:
        return net.fused.delta(a, y)
    gradient = net.loss.gradient(flat(a), flat(y)).reshape(a.shape)
    return net.activations[-1].vjp(z, gradient)


def vectorized_route(net: Network, params: Parameters) -> VectorizedRoute:
    """Backpropagation by each layer's compact backward pass, ``dθ = (1/B) Σ_examples``.

    >>> import numpy as np
    >>> net = Network.from_spec("1-1", "identity", "mse")
    >>> W, b, x, y = np.array([[2.0]]), np.array([0.0]), np.array([[3.0]]), np.array([[1.0]])
    >>> p = Parameters((W,), (b,), x, y)
    >>> vectorized_route(net, p).gradients["dW1"].tolist()   # (2·3 − 1)·3
    [[15.0]]
    """
    cache = forward(net, params)
    B = params.batch
    nodes = list(net.nodes)
    if net.fused is not None:
        g = net.fused.delta(cache.output, params.target(net))
        nodes = nodes[:-1]  # δ[L] = a[L] − y is the gradient at the last activation's input
    else:
        A = cache.output
        g = net.loss.gradient(flat(A), flat(params.target(net))).reshape(A.shape)
    lowest = min((j for j, node in enumerate(nodes) if node.kind.roles), default=0)
    sums: dict[str, FloatArray] = {}
    deltas: dict[str, FloatArray] = {}
    for j in range(len(nodes) - 1, lowest - 1, -1):
        node = nodes[j]
        if node.kind.roles:
            deltas[f"delta{node.layer}"] = g
        a, out = cache.values[node.input], cache.values[node.output]
        back, grads = node.kind.backward(params.of(node), a, out, g, need_input=j > lowest)
        for role, value in grads.items():
            sums[f"d{node.parameters[role]}"] = value
        if back is not None:
            g = back
    gradients = {f"d{name}": sums[f"d{name}"] for name in net.parameter_names}
    if B > 1:
        for value in gradients.values():
            value /= B  # in place: fresh sums, and no second array of their size
    ordered = {f"delta{n.layer}": deltas[f"delta{n.layer}"] for n in net.parametric}
    return VectorizedRoute(gradients, ordered)
