"""A network of any layer kinds in symbols: every entry of every tensor is a sympy Symbol.

Mirrors :mod:`jacobians.network` as :mod:`derivations.network` does for dense networks, and
writes every tensor in one example's shape (NOTATION.md, "Beyond dense layers"): ``x = a[0]``
(``C × H × W`` or ``n``), each node's output ``z[l]`` or ``a[l]``, each parameter (``W[1]`` of a
convolution is ``C_out × C × k × k``, its entries ``W[1]₁₁₂₂``; ``γ[2]``, ``β[2]`` of a norm),
``y``, and ``δ[l]`` (the symbols a derivation writes for ``∂L/∂z[l]`` — never used in a proof).
A residual block's own layers are nodes too, labelled ``l_1, l_2, …`` (``z[2_1]``,
``W[2_1]``), listed after their block as in :attr:`jacobians.network.Network.all_nodes`; node
``j`` of the model is ``all_nodes[j]``.

Each node is a *local* map from the symbols of its input tensor to its output
(:meth:`SymbolicModel.local`), as a reader writes the chain rule by hand: a factor is a
derivative evaluated at the values flowing into it. A block's local map joins its input and the
symbols of its sequence's output (``y = x + f``). :meth:`SymbolicModel.forward_substitution`
composes them when the whole function is wanted.

A batch (``batch = B ≥ 2``, for a network with a layer that couples the examples): every tensor
but the parameters has the batch on a new last axis (``n × B``, ``C × H × W × B``), ``vec`` is
row-major over that array (``vec(x)[i·B + b] = x[i, b]``), the loss is the batch's mean cost
``J = (1/B) Σ_b L(a[L]⁽ᵇ⁾, y⁽ᵇ⁾)``, and every Jacobian is the batch Jacobian. A layer that does
not take the batch itself (:attr:`~derivations.layers.base.SymbolicLayer.batch_aware`) maps
each example on its own, and the model stacks the examples: its batch Jacobian holds example
``b``'s Jacobian at rows ``i·B + b`` (and columns ``k·B + b``); its parameter gradients are
the sums over the examples.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property, reduce
from math import prod
from operator import add

import numpy as np
import sympy as sp

from jacobians.errors import InvalidValueError, message
from jacobians.network import Network, Node

from ..derivation import Step
from ..network import Names, loss_expression
from .base import (
    Block,
    Context,
    Gradients,
    Stepped,
    Structure,
    SymbolicLayer,
    Tensor,
    parameter_symbols,
    tensor_symbols,
    unvec,
    vec,
)
from .registry import symbolic_layer


@dataclass
class SymbolicModel:
    """The symbols and local maps of a numeric :class:`~jacobians.network.Network`.

    ``tensors`` maps ``a0``, ``z1``, ``a1``, … to their symbols; ``params`` maps ``W1``, ``b1``,
    … to theirs; ``delta`` maps each parametric node's index in ``all_nodes`` to the symbols
    ``δ[l]`` of its output gradient; ``layers[j]`` is node ``j`` in symbols; ``derived`` holds
    each Jacobian as ``Matrix.jacobian`` gave it (before a layer rewrote it in its own symbols),
    filled by :func:`derivations.layers.chains.jacobians`."""

    net: Network
    example: Mapping[str, object] | None = None
    names: Names = field(default_factory=Names)
    batch: int = 1
    tensors: dict[str, Tensor] = field(default_factory=dict)
    params: dict[str, Tensor] = field(default_factory=dict)
    delta: dict[int, Tensor] = field(default_factory=dict)
    layers: tuple[SymbolicLayer, ...] = ()
    derived: dict[str, sp.Matrix] = field(default_factory=dict)
    _local: dict[int, Tensor] = field(default_factory=dict, repr=False)
    _details: dict[int, list[Step]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        net, names = self.net, self.names
        if isinstance(self.batch, bool) or not isinstance(self.batch, int) or self.batch < 1:
            raise InvalidValueError(message("batch", "a whole number ≥ 1", repr(self.batch)))
        B = self.batch if self.batched else None
        context = Context(net, self.example or {}, self.batch, names)
        self.tensors["a0"] = tensor_symbols(names, "x", None, net.input_shape, batch=B)
        for j, node in enumerate(self.nodes):
            base = re.match(r"[A-Za-z]+", node.output)
            assert base is not None  # tensor names are letters then the layer
            self.tensors[node.output] = tensor_symbols(
                names, base.group(0), node.label, node.out_shape, batch=B
            )
            for role, name in node.parameters.items():
                shape = net.parameter_shapes[name]
                self.params[name] = parameter_symbols(names, role, node.label, shape)
            if node.kind.roles:
                self.delta[j] = tensor_symbols(
                    names, "δ", node.label, node.out_shape, "delta", r"\delta", batch=B
                )
        self.y = tensor_symbols(names, "y", None, net.output_shape, batch=B)
        self.layers = tuple(symbolic_layer(node, context) for node in self.nodes)
        if self.batched:
            for layer in self.layers:
                layer.check_batch(self.batch)

    # --- the nodes -------------------------------------------------------------------------
    @property
    def nodes(self) -> tuple[Node, ...]:
        """Every node, a block's own after it (``net.all_nodes``): node ``j`` of the model."""
        return self.net.all_nodes

    @cached_property
    def index(self) -> dict[str, int]:
        """A node's index by its output's name (``a2_1`` → 3)."""
        return {node.output: j for j, node in enumerate(self.nodes)}

    @property
    def batched(self) -> bool:
        """Whether the tensors carry a batch axis (``batch ≥ 2``)."""
        return self.batch > 1

    @property
    def cost(self) -> str:
        """How the derivation names what it differentiates: ``L`` (one example's loss), or
        ``J`` (a batch's mean cost)."""
        return "J" if self.batched else "L"

    def compute_order(self, nodes: tuple[Node, ...] | None = None) -> list[int]:
        """The nodes' indices in the order they compute: a block's own layers before it."""
        order: list[int] = []
        for node in self.net.nodes if nodes is None else nodes:
            order += self.compute_order(node.inner) if node.inner else []
            order.append(self.index[node.output])
        return order

    # --- one node --------------------------------------------------------------------------
    def input(self, j: int) -> Tensor:
        """The symbols of node ``j``'s input."""
        return self.tensors[self.nodes[j].input]

    def output(self, j: int) -> Tensor:
        """The symbols of node ``j``'s output."""
        return self.tensors[self.nodes[j].output]

    def of(self, j: int) -> dict[str, Tensor]:
        """Node ``j``'s parameter symbols by role (``{"W": W[1], "b": b[1]}``)."""
        return {role: self.params[name] for role, name in self.nodes[j].parameters.items()}

    def shape(self, tensor: Tensor) -> tuple[int, ...]:
        """One example's shape of ``tensor`` (without the batch axis)."""
        return tensor.shape[:-1] if self.batched else tensor.shape

    def local(self, j: int) -> Tensor:
        """Node ``j``'s output in the symbols of its input and parameters (its local map); a
        block's joins its input and its sequence's output symbols."""
        if j not in self._local:
            node, layer = self.nodes[j], self.layers[j]
            if node.inner:
                assert isinstance(layer, Block)
                inner = self.tensors[node.inner[-1].output]
                self._local[j] = layer.join(self.input(j), inner)
            else:
                self._local[j] = self._map(j, lambda a: layer.forward(a, self.of(j)))
        return self._local[j]

    def roles(self, j: int) -> tuple[str, ...]:
        """What node ``j`` has Jacobians of: ``input`` (unless its input is token ids), each
        role, and each step of a layer made of steps (attention's ``"A_S"``, …)."""
        node, layer = self.nodes[j], self.layers[j]
        first = ("input",) if layer.differentiable_input else ()
        steps = layer.keys if isinstance(layer, Stepped) else ()
        return (*first, *node.kind.roles, *steps)

    def wrt(self, j: int, role: str) -> sp.Matrix:
        """``vec`` of what node ``j``'s Jacobian ``role`` differentiates by: its input, or a
        parameter."""
        return vec(self.input(j) if role == "input" else self.of(j)[role])

    # --- the batch ---------------------------------------------------------------------------
    def _whole(self, t: Tensor) -> Tensor:
        """``t`` as a batch-aware layer takes it: with a batch axis (of 1 for one example)."""
        return t if self.batched else np.asarray(t, dtype=object)[..., None]

    def _one(self, t: Tensor) -> Tensor:
        """A batch-aware layer's result as the model holds it."""
        return t if self.batched else np.asarray(t, dtype=object)[..., 0]

    def _map(self, j: int, f: Callable[[Tensor], Tensor]) -> Tensor:
        """``f`` of node ``j``'s input: the whole batch at once for a batch-aware layer, else
        example by example, stacked on the last axis."""
        a = self.input(j)
        if self.layers[j].batch_aware:
            return self._one(f(self._whole(a)))
        if not self.batched:
            return f(a)
        return np.stack([f(a[..., b]) for b in range(self.batch)], axis=-1)

    def backward(self, j: int, g: Tensor) -> Gradients:
        """Node ``j``'s compact backward pass for the output gradient ``g`` (a block's is
        :func:`derivations.layers.chains.compact_route`'s): a layer that maps examples one by
        one sums its parameter gradients over the batch."""
        layer, params = self.layers[j], self.of(j)
        a, out = self.input(j), self.output(j)
        if layer.batch_aware:
            result = layer.backward(self._whole(a), self._whole(out), params, self._whole(g))
            return Gradients(self._one(result.input), result.params)
        if not self.batched:
            return layer.backward(a, out, params, g)
        each = [
            layer.backward(a[..., b], out[..., b], params, g[..., b]) for b in range(self.batch)
        ]
        inputs = np.stack([r.input for r in each], axis=-1)
        sums = {role: reduce(add, (r.params[role] for r in each)) for role in each[0].params}
        return Gradients(inputs, sums)

    def jacobian(self, j: int, role: str, derived: sp.Matrix) -> sp.Matrix:
        """The Jacobian as printed (:meth:`SymbolicLayer.jacobian`), example by example for a
        layer that maps them one by one (its blocks at rows ``i·B + b``)."""
        layer, params = self.layers[j], self.of(j)
        a, out = self.input(j), self.output(j)
        if layer.batch_aware:
            return layer.jacobian(role, derived, self._whole(a), self._whole(out), params)
        if not self.batched:
            return layer.jacobian(role, derived, a, out, params)
        result = derived.copy()
        for b in range(self.batch):
            rows, cols = self._block(j, role, b)
            block = derived.extract(rows, cols)
            new = layer.jacobian(role, block, a[..., b], out[..., b], params)
            for r, i in enumerate(rows):
                for c, k in enumerate(cols):
                    result[i, k] = new[r, c]
        return result

    def _block(self, j: int, role: str, b: int) -> tuple[list[int], list[int]]:
        """Example ``b``'s rows and columns in node ``j``'s batch Jacobian ``role``."""
        B, node = self.batch, self.nodes[j]
        rows = [i * B + b for i in range(prod(node.out_shape))]
        if role == "input":
            return rows, [k * B + b for k in range(prod(node.in_shape))]
        return rows, list(range(prod(self.net.parameter_shapes[node.parameters[role]])))

    def structures(self, j: int) -> dict[str, Structure]:
        """Node ``j``'s index rules (:meth:`SymbolicLayer.structures`); for a layer that maps
        examples one by one in a batch, each example's rule placed at its rows and columns."""
        layer, params = self.layers[j], self.of(j)
        a, out = self.input(j), self.output(j)
        if layer.batch_aware:
            return layer.structures(self._whole(a), self._whole(out), params)
        if not self.batched:
            return layer.structures(a, out, params)
        each = [layer.structures(a[..., b], out[..., b], params) for b in range(self.batch)]
        out_rules: dict[str, Structure] = {}
        for role, first in each[0].items():
            rows_n, cols_n = first.matrix.shape
            wide = cols_n * self.batch if role == "input" else cols_n
            M = sp.zeros(rows_n * self.batch, wide)
            for b, rules in enumerate(each):
                rows, cols = self._block(j, role, b)
                for r, i in enumerate(rows):
                    for c, k in enumerate(cols):
                        M[i, k] = rules[role].matrix[r, c]
            where = "rows i·B + b and columns k·B + b" if role == "input" else "rows i·B + b"
            out_rules[role] = Structure(f"{first.text} for each example b, at its {where}", M)
        return out_rules

    def written(self, j: int, M: sp.Matrix) -> sp.Matrix:
        """A derived matrix of node ``j`` in its layer's own symbols (``σ``)."""
        layer = self.layers[j]
        return layer.written(M, self._whole(self.input(j)) if layer.batch_aware else self.input(j))

    def layer_input(self, j: int) -> Tensor:
        """Node ``j``'s input as its layer takes it (with the batch axis for a batch-aware
        layer)."""
        a = self.input(j)
        return self._whole(a) if self.layers[j].batch_aware else a

    def compact_steps(self, j: int, role: str, g: Tensor) -> list[Step]:
        """Node ``j``'s compact formula of ``role`` shown for the output gradient ``g`` (``[]``
        in a batch for a layer that maps examples one by one: its formula is per example)."""
        layer = self.layers[j]
        if layer.batch_aware or not self.batched:
            gw = self._whole(g) if layer.batch_aware else g
            return layer.compact_steps(role, self.names, self.layer_input(j), self.of(j), gw)
        return []

    def detail_steps(self, j: int, holds: Mapping[str, bool]) -> list[Step]:
        """Node ``j``'s steps on how its Jacobians were derived and checked (built once)."""
        if j not in self._details:
            node, layer = self.nodes[j], self.layers[j]
            derived = {
                role: self.derived[node.jacobian_name(role)]
                for role in self.roles(j)
                if node.jacobian_name(role) in self.derived
            }
            a = self.layer_input(j)
            self._details[j] = layer.detail_steps(self.names, a, self.of(j), derived, holds)
        return self._details[j]

    def statement(self, j: int, role: str) -> str:
        """The proved statement of node ``j``'s ``role`` in words."""
        layer = self.layers[j]
        text = layer.statement(role)
        if self.batched and not layer.batch_aware:
            text = text.replace("∂L/", "∂J/") + " (each example's formula, summed over the batch)"
        return text

    @cached_property
    def definitions(self) -> dict[sp.Symbol, sp.Expr]:
        """Every layer's abbreviations (``x̂ = (x − μ)/σ``), substituted before a decision."""
        out: dict[sp.Symbol, sp.Expr] = {}
        for j, layer in enumerate(self.layers):
            out.update(layer.definitions(self.layer_input(j)))
        return out

    @cached_property
    def meanings(self) -> dict[sp.Symbol, sp.Expr]:
        """What every layer's positive symbols stand for (``σ = √(var + ε)``)."""
        out: dict[sp.Symbol, sp.Expr] = {}
        for j, layer in enumerate(self.layers):
            out.update(layer.meanings(self.layer_input(j)))
        return out

    # --- the whole network ---------------------------------------------------------------------
    @property
    def last(self) -> Tensor:
        """The symbols of ``ŷ = a[L]``."""
        return self.tensors[self.net.nodes[-1].output]

    def loss_expr(self) -> sp.Expr:
        """``L(a[L], y)`` in the symbols of ``a[L]`` and ``y``; for a batch the mean cost
        ``J = (1/B) Σ_b L(a[L]⁽ᵇ⁾, y⁽ᵇ⁾)``."""
        name = self.net.loss.name
        if not self.batched:
            return loss_expression(name, list(vec(self.last)), list(vec(self.y)))
        each = [
            loss_expression(name, list(vec(self.last[..., b])), list(vec(self.y[..., b])))
            for b in range(self.batch)
        ]
        return sp.Rational(1, self.batch) * sp.Add(*each)

    def substitution(self, order: list[int]) -> dict[sp.Symbol, sp.Expr]:
        """The outputs of the nodes ``order`` (in compute order) → their values in the symbols
        before them: the composed map."""
        subs: dict[sp.Symbol, sp.Expr] = {}
        for j in order:
            value = vec(self.local(j)).xreplace(subs)
            subs.update(zip(vec(self.output(j)), value, strict=True))
        return subs

    def block_substitution(self, j: int) -> dict[sp.Symbol, sp.Expr]:
        """A block's own outputs in the symbols of its input and the parameters."""
        return self.substitution(self.compute_order(self.nodes[j].inner))

    def in_block(self, j: int, M: sp.Matrix) -> sp.Matrix:
        """``M`` in the symbols of block ``j``'s input: its own layers' abbreviations (``x̂``)
        and outputs substituted, then every derived power its own layers write in their symbols
        (``σ`` for ``√(var + ε)``) written so again, in their composed inputs; a stepped
        layer's own symbols (attention's ``Q``, ``A``, …) written in its composed input."""
        subs = self.block_substitution(j)
        out = M.xreplace(self.definitions).xreplace(subs)
        for k in self.compute_order(self.nodes[j].inner):
            a = self.layer_input(k)
            composed = unvec([e.xreplace(subs) for e in a.reshape(-1)], a.shape)
            out = self.layers[k].written(out, composed)
            out = self.layers[k].composed(out, composed, self.of(k))
        return out

    def forward_substitution(self) -> dict[sp.Symbol, sp.Expr]:
        """Every tensor symbol → its value in ``x`` and the parameters: the composed network."""
        return self.substitution(self.compute_order())
