"""jacobians: the linear algebra of backpropagation, made explicit.

Every layer's full Jacobian as a real matrix (``∂z/∂vec(W) = I_n ⊗ aᵀ``, ``∂a/∂z``,
``∂z/∂b = I``, ``∂z/∂a[l-1] = W``), chained and reshaped into ``dW`` and ``db``, next to the
compact formulas (``dW = δ aᵀ``) and finite differences.

>>> import numpy as np
>>> from jacobians import Network, init_parameters, jacobian_route, vectorized_route
>>> net = Network.from_spec("3-4-2-1", "relu,relu,sigmoid", "bce")
>>> params = init_parameters(net, seed=8)
>>> jac, vec = jacobian_route(net, params), vectorized_route(net, params)
>>> bool(np.allclose(jac.gradients["dW2"], vec.gradients["dW2"], rtol=1e-12, atol=0))
True

The names are imported lazily, so ``import jacobians`` (and the CLI's ``--help``) stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Network": "network",
    "forward": "network",
    "cost": "network",
    "Parameters": "parameters",
    "init_parameters": "parameters",
    "parameters_from_arrays": "parameters",
    "jacobian_route": "chains",
    "example_jacobians": "chains",
    "jacobian_shapes": "chains",
    "vectorized_route": "backprop",
    "numerical_route": "numerical",
    "compare": "comparison",
    "multiply": "compose",
    "get_activation": "activations",
    "get_loss": "losses",
    "JacobiansError": "errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'jacobians' has no attribute {name!r}")
