"""The vectorized route: the compact formulas of backpropagation on a whole batch.

- ``δ[L] = a[L] − y`` for a fused output pair (sigmoid with bce, softmax with ce); otherwise
  ``δ[L] = (∂a[L]/∂z[L])ᵀ (∂L/∂ŷ)ᵀ``, which is ``∂L/∂ŷ ⊙ g'(z[L])`` for an elementwise ``g`` and
  ``s ⊙ (v − (sᵀv) 1)`` for softmax — applied per column, no Jacobian built.
- ``δ[l] = (W[l+1]ᵀ δ[l+1]) ⊙ g'[l](z[l])`` (softmax: its transposed Jacobian applied the same way).
- ``dW[l] = (1/B) Δ[l] A[l-1]ᵀ`` and ``db[l] = (1/B) Δ[l] 1``, where ``Δ[l]`` holds the examples'
  ``δ[l]`` as columns.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._typing import Matrix
from .network import Network, forward
from .parameters import Parameters


@dataclass(frozen=True)
class VectorizedRoute:
    """Gradients ``dW1, db1, …`` and deltas ``delta1, …`` (``n_l × B``) by the compact formulas."""

    gradients: dict[str, Matrix]
    deltas: dict[str, Matrix]


def output_delta(net: Network, params: Parameters, z: Matrix, a: Matrix) -> Matrix:
    """``Δ[L]`` (``n_L × B``): ``A[L] − Y`` for a fused pair, else ``g'ᵀ`` applied to ``∂L/∂ŷ``."""
    y = params.target(net)
    if net.fused is not None:
        return net.fused.delta(a, y)
    return net.activations[-1].vjp(z, net.loss.gradient(a, y))


def vectorized_route(net: Network, params: Parameters) -> VectorizedRoute:
    """Backpropagation by ``δ[l] = (W[l+1]ᵀ δ[l+1]) ⊙ g'(z[l])`` and ``dW = (1/B) Δ Aᵀ``.

    >>> import numpy as np
    >>> net = Network.from_spec("1-1", "identity", "mse")
    >>> W, b, x, y = np.array([[2.0]]), np.array([0.0]), np.array([[3.0]]), np.array([[1.0]])
    >>> p = Parameters((W,), (b,), x, y)
    >>> vectorized_route(net, p).gradients["dW1"].tolist()   # (2·3 − 1)·3
    [[15.0]]
    """
    cache = forward(net, params)
    L, B = net.depth, params.batch
    deltas: dict[str, Matrix] = {f"delta{L}": output_delta(net, params, cache.z[L], cache.a[L])}
    for l in range(L - 1, 0, -1):
        back = params.W[l].T @ deltas[f"delta{l + 1}"]
        deltas[f"delta{l}"] = net.activations[l - 1].vjp(cache.z[l], back)
    gradients: dict[str, Matrix] = {}
    for l in range(1, L + 1):
        D = deltas[f"delta{l}"]
        gradients[f"dW{l}"] = (D @ cache.a[l - 1].T) / B
        gradients[f"db{l}"] = D.sum(axis=1) / B
    ordered = {f"delta{l}": deltas[f"delta{l}"] for l in range(1, L + 1)}
    return VectorizedRoute(gradients, ordered)
