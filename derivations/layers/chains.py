"""Jacobians of any layer kind, derived; their chains; the compact route; and the proofs.

Mirrors :mod:`derivations.chains` for networks of layers. Every Jacobian is *derived* by
``sympy.Matrix.jacobian`` of a node's local map (numerator layout, row-major ``vec``:
``size(out) × size(in)``), by the names of :func:`jacobians.chains.example_jacobians`
(``J_L_a4``, ``J_a4_z4``, ``J_z4_a3``, ``J_a2_a1``, ``J_z1_W1``, ``J_z1_b1``, ``J_z1_a0`` — the
first node's input Jacobian too — and ``J_L_z4`` for a fused output pair); for a batch, the
batch Jacobians of :func:`jacobians.batchchain.batch_jacobians` under the same names.

A residual block ``y = x + f(x)`` has two: ``∂y/∂f = I`` (``J_a2_a2_2``, derived from its local
map ``x + f``) and its input Jacobian (``J_a2_a1``), derived from ``x + f(x)`` with its own
layers substituted into each other, then written ``I + J_f`` — ``J_f`` the product of its layers'
input Jacobians — once that is shown to be the same matrix.

The chain of a parameter ``θ`` of node ``j`` is that of :func:`jacobians.paths.chain_names`
(unfused: ``∂L/∂a[L] · ∂a[L]/∂z[L] ⋯``): ``∂L/∂vec(θ) = ∂L/∂out_j · ∂out_j/∂vec(θ)``, with
``∂L/∂out_j`` the product of the input Jacobians on the way from the loss (through ``∂y/∂f = I``
into a block; reverse accumulation, shared by every chain).

The compact route (:func:`compact_route`) starts from ``∂L/∂a[L]`` (the loss differentiated
entry by entry) and calls every layer's own backward formulas, last node first — ``g ⊙ g'(z)``,
the selection, ``Wᵀ δ``, ``Δ U``, the transposed correlation, the three-term formula of a norm,
and at a block ``g`` plus its own layers' backward of ``g`` — never a Jacobian.

The proof (:func:`prove_network`): for every parametric node, chain minus compact formula,
entry by entry, decided by :func:`~derivations.layers.base.vanishes` (``sympy.expand`` after a
norm's ``x̂ = (x − μ)/σ`` is substituted); a statement holds when every entry is exactly 0.
Nothing is evaluated at numbers. :func:`structure_checks` compares every derived Jacobian with
the matrix its layer builds by the index rule (``I ⊗ U``, the Toeplitz matrix, …) in the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from jacobians.network import Node
from jacobians.paths import Target, below, chain_names, fused_name, head_names, loss_name, skip_name

from ..network import Names
from .base import (
    Block,
    Stepped,
    Tensor,
    name_of,
    route_product,
    route_text,
    tensor_symbols,
    unvec,
    vanishes,
    vec,
)
from .model import SymbolicModel

PARAMS = ("W", "b", "gamma", "beta", "Wq", "Wk", "Wv", "E", "delta", "input")
"""What a derivation can be of: a parameter's gradient, ``δ[l]``, or the gradient with respect
to the layer's input (``∂L/∂a[l-1]``: the transposed correlation for a convolution). For a
norm, ``W`` and ``b`` also name its scale ``γ`` and shift ``β``; ``W`` names attention's three
weights (each by its own name too: ``Wq``, ``Wk``, ``Wv``) and an embedding's table ``E``
(:func:`roles_of`)."""


def roles_of(node: Node, param: str) -> tuple[str, ...]:
    """The roles ``param`` names on ``node``: a role by its own name; ``W`` a layer's weights —
    its first role (``γ`` of a norm, ``E`` of an embedding), or all of them when it has several
    (attention's ``Wq``, ``Wk``, ``Wv``); ``b`` its second role when that is not a weight (``β``
    of a norm); ``delta``; ``input`` unless the input is token ids; ``()`` when none.

    >>> from jacobians.network import Network
    >>> attention, norm = Network.from_layers("attention(2), layernorm", "2x2").nodes
    >>> roles_of(attention, "W"), roles_of(attention, "b"), roles_of(norm, "b")
    (('Wq', 'Wk', 'Wv'), (), ('beta',))
    """
    roles = node.kind.roles
    if param == "input":
        return ("input",) if node.kind.differentiable_input else ()
    if param == "delta" or param in roles:
        return (param,)
    weights = tuple(r for r in roles if r.startswith("W"))
    if param == "W":
        return weights if len(weights) > 1 else roles[:1]
    if param == "b" and len(weights) <= 1:
        return roles[1:2]
    return ()


def role_of(node: Node, param: str) -> str | None:
    """The first of :func:`roles_of`, or ``None``."""
    roles = roles_of(node, param)
    return roles[0] if roles else None


def jacobians(model: SymbolicModel) -> dict[str, sp.Matrix]:
    """Every Jacobian by its NOTATION name, derived from the local maps (a batch's, with
    ``model.batch``); the matrices as ``Matrix.jacobian`` gave them go to ``model.derived``."""
    net = model.net
    out = {loss_name(net): sp.Matrix([model.loss_expr()]).jacobian(vec(model.last))}
    for j in model.compute_order():
        node = model.nodes[j]
        if node.inner:
            out.update(block_jacobians(model, j, out))
            continue
        if isinstance(model.layers[j], Stepped):
            out.update(stepped_jacobians(model, j))
            continue
        local = vec(model.local(j))
        for role in model.roles(j):
            name = node.jacobian_name(role)
            derived = model.written(j, local.jacobian(model.wrt(j, role)))
            model.derived[name] = derived
            out[name] = model.jacobian(j, role, derived)
    if net.fused is not None:
        out[fused_name(net)] = (vec(model.last) - vec(model.y)).T / model.batch
    return out


def stepped_jacobians(model: SymbolicModel, j: int) -> dict[str, sp.Matrix]:
    """A layer made of steps: each step's Jacobian derived from its own map (and written as the
    layer says, attention's softmax in ``A``); the layer's own, the chain rule over the steps
    (:meth:`~derivations.layers.base.Stepped.route`). Its own are derived once more from the
    composed map and kept in ``model.derived`` for :func:`structure_checks`."""
    node, layer = model.nodes[j], model.layers[j]
    assert isinstance(layer, Stepped)
    a, params, output = model.input(j), model.of(j), model.output(j)
    steps: dict[str, sp.Matrix] = {}
    out: dict[str, sp.Matrix] = {}
    for key in layer.keys:
        made, of = key.split("_", 1)
        derived = vec(layer.step(made, a, params)).jacobian(vec(layer.part(of, a, params)))
        name = node.jacobian_name(key)
        model.derived[name] = derived
        steps[key] = out[name] = layer.jacobian(key, derived, a, output, params)
    whole = vec(model.local(j))
    for role in model.roles(j):
        if role in steps:
            continue
        name = node.jacobian_name(role)
        derived = whole.jacobian(model.wrt(j, role))
        model.derived[name] = layer.composed(derived, a, params)
        out[name] = route_product(layer.route(role), steps)
    return out


def block_jacobians(
    model: SymbolicModel, j: int, jac: dict[str, sp.Matrix]
) -> dict[str, sp.Matrix]:
    """A block's ``∂y/∂f`` and its input Jacobian: derived from ``x + f(x)`` (its own layers
    substituted), written as its form ``I + J_f`` when the two are the same matrix (its own
    layers' Jacobians must be in ``jac`` already)."""
    node, layer = model.nodes[j], model.layers[j]
    assert isinstance(layer, Block)
    local = vec(model.local(j))
    skip = local.jacobian(vec(model.tensors[node.inner[-1].output]))
    composed = local.xreplace(model.block_substitution(j))
    derived = model.in_block(j, composed.jacobian(model.wrt(j, "input")))
    name = node.jacobian_name("input")
    model.derived[name] = derived
    form = block_form(model, j, jac)
    same = vanishes(derived - model.in_block(j, form), model.definitions, model.meanings)
    return {skip_name(node): skip, name: form if same else derived}


def block_form(model: SymbolicModel, j: int, jac: dict[str, sp.Matrix]) -> sp.Matrix:
    """A block's input Jacobian by its rule, from its own layers' input Jacobians."""
    layer = model.layers[j]
    assert isinstance(layer, Block)
    inner = [jac[m.jacobian_name("input")] for m in reversed(model.nodes[j].inner)]
    return layer.form(product(inner))


def product(factors: list[sp.Matrix]) -> sp.Matrix:
    """``F_1 · F_2 ⋯ F_K`` from the left (reverse order), left unexpanded."""
    result = factors[0]
    for f in factors[1:]:
        result = result * f
    return result


def path_of(model: SymbolicModel, j: int) -> list[str]:
    """The factors of ``∂L/∂vec(out_j)``: the loss row (and the output pair's second factor),
    then the input Jacobians on the way down to node ``j`` (``∂y/∂f = I`` into a block)."""
    net = model.net
    out = model.nodes[j].output
    paths = below(net)
    if out not in paths:  # the last node of a fused pair: its row is the loss's
        return [loss_name(net)]
    return head_names(net, fused=False) + paths[out]


def rows_to_outputs(model: SymbolicModel, jac: dict[str, sp.Matrix]) -> dict[int, sp.Matrix]:
    """``∂L/∂vec(out_j)`` for every node ``j``: the loss row times the input Jacobians on the
    way from the loss (unfused), ``1 × size(out_j)``; shared prefixes multiplied once."""
    done: dict[tuple[str, ...], sp.Matrix] = {}

    def row(names: tuple[str, ...]) -> sp.Matrix:
        if names not in done:
            done[names] = jac[names[0]] if len(names) == 1 else row(names[:-1]) * jac[names[-1]]
        return done[names]

    return {j: row(tuple(path_of(model, j))) for j in range(len(model.nodes))}


def chain_of(model: SymbolicModel, j: int, param: str) -> list[str]:
    """The factors of node ``j``'s ``param`` chain (a role, ``delta`` or ``input``)."""
    node = model.nodes[j]
    role = None if param == "delta" else param
    return chain_names(model.net, Target(param, node, role, node.out_shape), fused=False)


@dataclass(frozen=True)
class Compact:
    """The compact route: ``outputs[j]`` is ``∂L/∂out_j``, ``inputs[j]`` is ``∂L/∂in_j`` (in
    their tensors' shapes), ``params`` the gradients by name (``W1`` → ``dW1``)."""

    outputs: dict[int, Tensor]
    inputs: dict[int, Tensor]
    params: dict[str, Tensor]


def compact_route(model: SymbolicModel) -> Compact:
    """``∂L/∂a[L]`` by differentiating the loss entry by entry, then every layer's compact
    backward formulas from the last node to the first; at a block, its own layers' (from
    ``∂L/∂y``, since ``∂y/∂f = I``) combined with ``∂L/∂y`` by the block's rule."""
    loss = model.loss_expr()
    last = model.last
    g = unvec([loss.diff(s) for s in np.asarray(last).reshape(-1)], last.shape)
    outputs: dict[int, Tensor] = {}
    inputs: dict[int, Tensor] = {}
    params: dict[str, Tensor] = {}

    def back(nodes: tuple[Node, ...], g: Tensor) -> Tensor:
        for node in reversed(nodes):
            j = model.index[node.output]
            outputs[j] = g
            layer = model.layers[j]
            if node.inner:
                assert isinstance(layer, Block)
                g = layer.combine(g, back(node.inner, g))
            else:
                result = model.backward(j, g)
                for role, value in result.params.items():
                    params[node.parameters[role]] = value
                g = result.input
            inputs[j] = g
        return g

    back(model.net.nodes, g)
    return Compact(outputs, inputs, params)


@dataclass(frozen=True)
class Claim:
    """One proved (or refuted) statement: chain − compact formula, for node ``node``'s
    ``param`` (a role such as ``W`` or ``gamma``, ``delta``, ``input``) of layer ``layer``
    (``label`` ``2_1`` inside a block)."""

    node: int
    layer: int
    param: str
    chain: tuple[str, ...]
    statement: str
    holds: bool
    label: str = ""
    layerwise: bool = False
    """Whether it was established layer by layer (:class:`Decider`), not multiplied out."""


def claim_difference(
    model: SymbolicModel,
    jac: dict[str, sp.Matrix],
    rows: dict[int, sp.Matrix],
    compact: Compact,
    j: int,
    param: str,
) -> sp.Matrix:
    """The chain's row minus the compact formula's ``vec`` (a row): zero when the claim holds."""
    node = model.nodes[j]
    if param == "delta":
        return rows[j] - vec(compact.outputs[j]).T
    if param == "input":
        return rows[j] * jac[node.jacobian_name("input")] - vec(compact.inputs[j]).T
    chain = rows[j] * jac[node.jacobian_name(param)]
    return chain - vec(compact.params[node.parameters[param]]).T


def block_statement(model: SymbolicModel, j: int) -> str:
    """What a block's claim says: ``∂L/∂x − (g + f's backward of g)ᵀ = 0``."""
    node = model.nodes[j]
    return (
        f"∂{model.cost}/∂{model.layers[j].in_name} − (g + f's compact backward of g)ᵀ = 0, "
        f"g = ∂{model.cost}/∂{model.layers[j].out_name} (the residual block {node.kind.spec()})"
    )


def compact_input(model: SymbolicModel, k: int, g: Tensor) -> Tensor:
    """Node ``k``'s compact backward at its input for the output gradient ``g``; a block's is
    ``g`` combined with its own layers' backward of ``g``."""
    node, layer = model.nodes[k], model.layers[k]
    if not node.inner:
        return model.backward(k, g).input
    through = g
    for inner in reversed(node.inner):
        through = compact_input(model, model.index[inner.output], through)
    assert isinstance(layer, Block)
    return layer.combine(g, through)


@dataclass
class Decider:
    """Decides the claims of a network: each claim's chain − compact formula multiplied out and
    expanded (:func:`~derivations.layers.base.vanishes`) or, with ``layerwise``, layer by layer
    first.

    Layer by layer (for a network with a layer made of steps, whose claims multiplied out take
    long): ``∂L/∂out_j`` equals the compact route's gradient at node ``j``'s output when it does
    at the output of the node ``k`` after it and ``sᵀ J_k − (k's compact input formula of s)ᵀ``
    expands to 0 with ``s`` a tensor of symbols (``δ[l]`` of a parametric node) — both sides are
    linear in ``s``, so the identity holds for every value of it; at the loss the two are the
    same derivative. A claim of node ``j`` then holds when ``δᵀ J − (its compact formula of
    δ)ᵀ`` expands to 0 too. Every step is exact; what this cannot establish is decided
    multiplied out, which decides every claim."""

    model: SymbolicModel
    jac: dict[str, sp.Matrix]
    layerwise: bool = False
    rows: dict[int, sp.Matrix] = field(init=False)
    compact: Compact = field(init=False)
    _agrees: dict[int, bool] = field(default_factory=dict, init=False)
    _inductive_at: dict[int, bool] = field(default_factory=dict, init=False)
    _local: dict[tuple[int, str], bool] = field(default_factory=dict, init=False)
    _symbols: dict[int, Tensor] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self.rows = rows_to_outputs(self.model, self.jac)
        self.compact = compact_route(self.model)

    def zero(self, M: sp.Matrix) -> bool:
        """``M = 0`` (:func:`~derivations.layers.base.vanishes` with the model's definitions)."""
        return vanishes(M, self.model.definitions, self.model.meanings)

    def multiplied_out(self, j: int, param: str) -> bool:
        """The claim decided with every factor multiplied out (no symbols for ``δ``)."""
        model = self.model
        return self.zero(claim_difference(model, self.jac, self.rows, self.compact, j, param))

    def decide(self, j: int, param: str) -> tuple[bool, bool]:
        """The claim's verdict, and whether it was established layer by layer."""
        if self.layerwise:
            agrees = self.agrees(j)
            inductive = self._inductive_at[j]
            if param == "delta":
                return agrees, agrees and inductive
            if agrees and self.local(j, param):
                return True, inductive
        return self.multiplied_out(j, param), False

    def symbols(self, j: int) -> Tensor:
        """Symbols for the gradient at node ``j``'s output: ``δ[l]``, or ``g[l]`` (never shown)."""
        model = self.model
        if j in model.delta:
            return model.delta[j]
        if j not in self._symbols:
            node = model.nodes[j]
            B = model.batch if model.batched else None
            self._symbols[j] = tensor_symbols(
                Names(), "g", node.label, node.out_shape, "_g", batch=B
            )
        return self._symbols[j]

    def local(self, j: int, role: str) -> bool:
        """``sᵀ J − (compact formula of s)ᵀ = 0`` for node ``j``'s Jacobian ``role`` and symbols
        ``s`` at its output."""
        if (j, role) not in self._local:
            model, node = self.model, self.model.nodes[j]
            s = self.symbols(j)
            if role == "input":
                back = compact_input(model, j, s)
            else:
                back = model.backward(j, s).params[role]
            chain = vec(s).T * self.jac[node.jacobian_name(role)]
            self._local[(j, role)] = self.zero(chain - vec(back).T)
        return self._local[(j, role)]

    def agrees(self, j: int) -> bool:
        """``∂L/∂out_j`` (the chain) equals the compact route's gradient at node ``j``'s output:
        by induction from the loss, or else multiplied out."""
        if j not in self._agrees:
            inductive = self._inductive(j)
            self._inductive_at[j] = inductive
            self._agrees[j] = inductive or self.multiplied_out(j, "delta")
        return self._agrees[j]

    def _inductive(self, j: int) -> bool:
        model = self.model
        path = path_of(model, j)
        if len(path) == 1:  # the loss row: ∂L/∂a[L] both ways
            return self.multiplied_out(j, "delta")
        for k, node in enumerate(model.nodes):
            if k == j or path_of(model, k) != path[:-1]:
                continue
            if node.inner and path[-1] == skip_name(node):
                return self.agrees(k)  # ∂y/∂f = I: the block's gradient passes to f
            if path[-1] == node.jacobian_name("input"):
                return self.agrees(k) and self.local(k, "input")
        return False


def prove_network(
    model: SymbolicModel,
    jac: dict[str, sp.Matrix] | None = None,
    params: tuple[str, ...] = PARAMS,
) -> list[Claim]:
    """For every parametric node (last first) and every ``param``: chain − compact formula,
    decided entry by entry (:func:`~derivations.layers.base.vanishes`); and with ``input``, for
    every block, its input gradient against ``g`` plus its own layers' backward of ``g``. In a
    network with a layer made of steps (attention) each claim is decided layer by layer first
    (:class:`Decider`)."""
    jac = jacobians(model) if jac is None else jac
    layerwise = any(isinstance(layer, Stepped) for layer in model.layers)
    decider = Decider(model, jac, layerwise)
    claims = []
    for j in range(len(model.nodes) - 1, -1, -1):
        node = model.nodes[j]
        if node.inner and "input" in params:
            holds, by_layer = decider.decide(j, "input")
            claims.append(
                Claim(
                    j,
                    node.layer,
                    "input",
                    tuple(chain_of(model, j, "input")),
                    block_statement(model, j),
                    holds,
                    node.label,
                    by_layer,
                )
            )
        if not node.kind.roles:
            continue
        roles = dict.fromkeys(r for p in params for r in roles_of(node, p))
        for role in roles:  # W and gamma name the same role of a norm: proved once
            if role == "delta":
                out = model.layers[j].out_name
                statement = f"∂{model.cost}/∂{out} − δ[{node.label}]ᵀ = 0 (the compact backward)"
            else:
                statement = model.statement(j, role)
            holds, by_layer = decider.decide(j, role)
            names = tuple(chain_of(model, j, role))
            claims.append(Claim(j, node.layer, role, names, statement, holds, node.label, by_layer))
    return claims


@dataclass(frozen=True)
class Check:
    """A derived Jacobian compared with the matrix its layer's index rule builds."""

    name: str
    text: str
    holds: bool


def structure_checks(model: SymbolicModel, jac: dict[str, sp.Matrix]) -> dict[str, Check]:
    """Every Jacobian a layer knows the structure of, by name: derived − index rule = 0? (A
    block's: derived from ``x + f(x)`` against ``I + J_f`` with its own layers' values written
    in ``x``.)"""
    out: dict[str, Check] = {}
    for j, node in enumerate(model.nodes):
        if node.inner:
            layer = model.layers[j]
            assert isinstance(layer, Block)
            name = node.jacobian_name("input")
            inner = " · ".join(
                f"∂{name_of(m.output)[0]}/∂{name_of(m.input)[0]}" for m in reversed(node.inner)
            )
            form = model.in_block(j, block_form(model, j, jac))
            derived = model.derived[name]
            same = form.shape == derived.shape and vanishes(
                derived - form, model.definitions, model.meanings
            )
            out[name] = Check(name, layer.form_text(inner), same)
            skip = skip_name(node)
            identity = jac[skip] == sp.eye(int(jac[skip].rows))
            out[skip] = Check(skip, "I (∂y/∂f: f's output passes to y unchanged)", identity)
            continue
        layer = model.layers[j]
        if isinstance(layer, Stepped):
            out.update(stepped_checks(model, j, jac))
        for role, structure in model.structures(j).items():
            name = node.jacobian_name(role)
            derived = jac[name]
            same = derived.shape == structure.matrix.shape and vanishes(
                derived - structure.matrix, model.definitions, model.meanings
            )
            out[name] = Check(name, structure.text, same)
    return out


def stepped_checks(model: SymbolicModel, j: int, jac: dict[str, sp.Matrix]) -> dict[str, Check]:
    """A stepped layer's own Jacobians: derived from its composed map against the chain rule
    over its steps, both written in the layer's input (:meth:`SymbolicLayer.composed`)."""
    node, layer = model.nodes[j], model.layers[j]
    assert isinstance(layer, Stepped)
    a, params = model.input(j), model.of(j)
    out: dict[str, Check] = {}
    for role in model.roles(j):
        if role in layer.keys:
            continue
        name = node.jacobian_name(role)
        difference = model.derived[name] - layer.composed(jac[name], a, params)
        holds = vanishes(difference, model.definitions, model.meanings)
        text = f"{route_text(layer.route(role), layer.step_text)}, the chain rule over the steps"
        out[name] = Check(name, text, holds)
    return out
