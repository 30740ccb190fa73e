"""Symbolic derivations of networks of layers: convolutions, pooling, flatten, dense layers,
activations, batch norm, layer norm, dropout and residual blocks, every Jacobian derived by sympy
and every compact formula proved equal to its chain.

Mirrors :mod:`jacobians.layers`, one module per layer kind
(:mod:`derivations.layers.dense`, :mod:`derivations.layers.activation`,
:mod:`derivations.layers.conv2d`, :mod:`derivations.layers.pool`,
:mod:`derivations.layers.flatten`, :mod:`derivations.layers.batchnorm` and
:mod:`derivations.layers.layernorm` on :mod:`derivations.layers.norm`,
:mod:`derivations.layers.dropout`, :mod:`derivations.layers.residual`), on the protocol of
:mod:`.base` with the registry of :mod:`.registry`; :mod:`.model` writes a network in symbols
(a batch of examples for a network with batch norm), :mod:`.chains` derives, chains and proves,
:mod:`.derive` prints. The entry point:

    derive_network(net, params=("W", "b"), example=None, layer=None, batch=1)
        -> list[Derivation]
"""

from __future__ import annotations

from .chains import Claim, compact_route, jacobians, prove_network, structure_checks
from .derive import MAX_ENTRIES, MAX_PARAMETERS, derive_network
from .model import SymbolicModel

__all__ = [
    "MAX_ENTRIES",
    "MAX_PARAMETERS",
    "Claim",
    "SymbolicModel",
    "compact_route",
    "derive_network",
    "jacobians",
    "prove_network",
    "structure_checks",
]
