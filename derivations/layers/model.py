"""A network of any layer kinds in symbols: every entry of every tensor is a sympy Symbol.

Mirrors :mod:`jacobians.network` as :mod:`derivations.network` does for dense networks, and
writes every tensor in one example's shape (NOTATION.md, "Beyond dense layers"): ``x = a[0]``
(``C × H × W`` or ``n``), each node's output ``z[l]`` or ``a[l]``, each parameter (``W[1]`` of a
convolution is ``C_out × C × k × k``, its entries ``W[1]₁₁₂₂``), ``y``, and ``δ[l]`` (the
symbols a derivation writes for ``∂L/∂z[l]`` — never used in a proof).

Each node is a *local* map from the symbols of its input tensor to its output
(:meth:`SymbolicModel.local`), as a reader writes the chain rule by hand: a factor is a
derivative evaluated at the values flowing into it. :meth:`SymbolicModel.forward_substitution`
composes them when the whole function is wanted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import sympy as sp

from jacobians.network import Network

from ..network import Names, loss_expression
from .base import Context, SymbolicLayer, Tensor, tensor_symbols, vec
from .registry import symbolic_layer


@dataclass
class SymbolicModel:
    """The symbols and local maps of a numeric :class:`~jacobians.network.Network`.

    ``tensors`` maps ``a0``, ``z1``, ``a1``, … to their symbols; ``params`` maps ``W1``, ``b1``,
    … to theirs; ``delta`` maps each parametric node's index in ``net.nodes`` to the symbols
    ``δ[l]`` of its output gradient; ``layers[j]`` is node ``j`` in symbols."""

    net: Network
    example: Mapping[str, object] | None = None
    names: Names = field(default_factory=Names)
    tensors: dict[str, Tensor] = field(default_factory=dict)
    params: dict[str, Tensor] = field(default_factory=dict)
    delta: dict[int, Tensor] = field(default_factory=dict)
    layers: tuple[SymbolicLayer, ...] = ()
    _local: dict[int, Tensor] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        net, names = self.net, self.names
        context = Context(net) if self.example is None else Context(net, self.example)
        self.tensors["a0"] = tensor_symbols(names, "x", None, net.input_shape)
        for j, node in enumerate(net.nodes):
            base = re.match(r"[A-Za-z]+", node.output)
            assert base is not None  # tensor names are letters then the layer
            self.tensors[node.output] = tensor_symbols(
                names, base.group(0), node.layer, node.out_shape
            )
            for role, name in node.parameters.items():
                shape = net.parameter_shapes[name]
                self.params[name] = tensor_symbols(names, role, node.layer, shape)
            if node.kind.roles:
                self.delta[j] = tensor_symbols(
                    names, "δ", node.layer, node.out_shape, "delta", r"\delta"
                )
        self.y = tensor_symbols(names, "y", None, net.output_shape)
        self.layers = tuple(symbolic_layer(node, context) for node in net.nodes)

    # --- one node --------------------------------------------------------------------------
    def input(self, j: int) -> Tensor:
        """The symbols of node ``j``'s input."""
        return self.tensors[self.net.nodes[j].input]

    def output(self, j: int) -> Tensor:
        """The symbols of node ``j``'s output."""
        return self.tensors[self.net.nodes[j].output]

    def of(self, j: int) -> dict[str, Tensor]:
        """Node ``j``'s parameter symbols by role (``{"W": W[1], "b": b[1]}``)."""
        return {role: self.params[name] for role, name in self.net.nodes[j].parameters.items()}

    def local(self, j: int) -> Tensor:
        """Node ``j``'s output in the symbols of its input and parameters (its local map)."""
        if j not in self._local:
            self._local[j] = self.layers[j].forward(self.input(j), self.of(j))
        return self._local[j]

    def wrt(self, j: int, role: str) -> sp.Matrix:
        """``vec`` of what node ``j``'s Jacobian ``role`` differentiates by: its input, or a
        parameter."""
        return vec(self.input(j) if role == "input" else self.of(j)[role])

    # --- the whole network ---------------------------------------------------------------------
    @property
    def last(self) -> Tensor:
        """The symbols of ``ŷ = a[L]``."""
        return self.output(len(self.net.nodes) - 1)

    def loss_expr(self) -> sp.Expr:
        """``L(a[L], y)`` in the symbols of ``a[L]`` and ``y``."""
        return loss_expression(self.net.loss.name, list(vec(self.last)), list(vec(self.y)))

    def forward_substitution(self) -> dict[sp.Symbol, sp.Expr]:
        """Every tensor symbol → its value in ``x`` and the parameters: the composed network."""
        subs: dict[sp.Symbol, sp.Expr] = {}
        for j in range(len(self.net.nodes)):
            value = vec(self.local(j)).xreplace(subs)
            subs.update(zip(vec(self.output(j)), value, strict=True))
        return subs
