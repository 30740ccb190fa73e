"""Jacobians of any layer kind, derived; their chains; the compact route; and the proofs.

Mirrors :mod:`derivations.chains` for networks of layers. Every Jacobian is *derived* by
``sympy.Matrix.jacobian`` of a node's local map (numerator layout, row-major ``vec``:
``size(out) × size(in)``), by the names of :func:`jacobians.chains.example_jacobians`
(``J_L_a4``, ``J_a4_z4``, ``J_z4_a3``, ``J_a2_a1``, ``J_z1_W1``, ``J_z1_b1``, ``J_z1_a0`` — the
first node's input Jacobian too — and ``J_L_z4`` for a fused output pair).

The chain of a parameter ``θ`` of node ``j`` is that of :func:`jacobians.paths.chain_names`
(unfused: ``∂L/∂a[L] · ∂a[L]/∂z[L] ⋯``): ``∂L/∂vec(θ) = ∂L/∂out_j · ∂out_j/∂vec(θ)``, with
``∂L/∂out_j`` the product of the input Jacobians of the nodes after ``j`` (reverse
accumulation, shared by every chain).

The compact route (:func:`compact_route`) starts from ``∂L/∂a[L]`` (the loss differentiated
entry by entry) and calls every layer's own backward formulas, last node first — ``g ⊙ g'(z)``,
the selection, ``Wᵀ δ``, ``Δ U``, the transposed correlation — never a Jacobian.

The proof (:func:`prove_network`): for every parametric node, chain minus compact formula,
entry by entry, expanded by ``sympy.expand``; a statement holds when every entry is exactly 0.
Nothing is evaluated at numbers. :func:`structure_checks` compares every derived Jacobian with
the matrix its layer builds by the index rule (``I ⊗ U``, the Toeplitz matrix, …) in the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp

from jacobians.paths import Target, chain_names, fused_name, loss_name

from .base import Tensor, is_zero, unvec, vec
from .model import SymbolicModel

PARAMS = ("W", "b", "delta", "input")
"""What a derivation can be of: a parameter's gradient, ``δ[l]``, or the gradient with respect
to the layer's input (``∂L/∂a[l-1]``: the transposed correlation for a convolution)."""


def jacobians(model: SymbolicModel) -> dict[str, sp.Matrix]:
    """Every Jacobian of one example by its NOTATION name, derived from the local maps."""
    net = model.net
    out = {loss_name(net): sp.Matrix([model.loss_expr()]).jacobian(vec(model.last))}
    for j in range(len(net.nodes) - 1, -1, -1):
        node, layer = net.nodes[j], model.layers[j]
        local = vec(model.local(j))
        for role in ("input", *node.kind.roles):
            derived = local.jacobian(model.wrt(j, role))
            out[node.jacobian_name(role)] = layer.jacobian(
                role, derived, model.input(j), model.output(j), model.of(j)
            )
    if net.fused is not None:
        out[fused_name(net)] = (vec(model.last) - vec(model.y)).T
    return out


def product(factors: list[sp.Matrix]) -> sp.Matrix:
    """``F_1 · F_2 ⋯ F_K`` from the left (reverse order), left unexpanded."""
    result = factors[0]
    for f in factors[1:]:
        result = result * f
    return result


def rows_to_outputs(model: SymbolicModel, jac: dict[str, sp.Matrix]) -> dict[int, sp.Matrix]:
    """``∂L/∂vec(out_j)`` for every node ``j``: the loss row times the input Jacobians of the
    nodes after ``j`` (unfused), ``1 × size(out_j)``."""
    nodes = model.net.nodes
    rows: dict[int, sp.Matrix] = {}
    row = jac[loss_name(model.net)]
    for j in range(len(nodes) - 1, -1, -1):
        rows[j] = row
        row = row * jac[nodes[j].jacobian_name("input")]
    return rows


def chain_of(model: SymbolicModel, j: int, param: str) -> list[str]:
    """The factors of node ``j``'s ``param`` chain (``W``, ``b``, ``delta`` or ``input``)."""
    node = model.net.nodes[j]
    role = None if param == "delta" else param
    names = chain_names(model.net, Target(param, node, role, node.out_shape), fused=False)
    return names


@dataclass(frozen=True)
class Compact:
    """The compact route: ``outputs[j]`` is ``∂L/∂out_j``, ``inputs[j]`` is ``∂L/∂in_j`` (in
    their tensors' shapes), ``params`` the gradients by name (``W1`` → ``dW1``)."""

    outputs: dict[int, Tensor]
    inputs: dict[int, Tensor]
    params: dict[str, Tensor]


def compact_route(model: SymbolicModel) -> Compact:
    """``∂L/∂a[L]`` by differentiating the loss entry by entry, then every layer's compact
    backward formulas from the last node to the first."""
    loss = model.loss_expr()
    last = model.last
    g = unvec([loss.diff(s) for s in np.asarray(last).reshape(-1)], last.shape)
    outputs: dict[int, Tensor] = {}
    inputs: dict[int, Tensor] = {}
    params: dict[str, Tensor] = {}
    for j in range(len(model.net.nodes) - 1, -1, -1):
        outputs[j] = g
        result = model.layers[j].backward(model.input(j), model.output(j), model.of(j), g)
        for role, value in result.params.items():
            params[model.net.nodes[j].parameters[role]] = value
        inputs[j] = result.input
        g = result.input
    return Compact(outputs, inputs, params)


@dataclass(frozen=True)
class Claim:
    """One proved (or refuted) statement: chain − compact formula, for node ``node``'s
    ``param`` (``W``, ``b``, ``delta``, ``input``) of layer ``layer``."""

    node: int
    layer: int
    param: str
    chain: tuple[str, ...]
    statement: str
    holds: bool


def claim_difference(
    model: SymbolicModel,
    jac: dict[str, sp.Matrix],
    rows: dict[int, sp.Matrix],
    compact: Compact,
    j: int,
    param: str,
) -> sp.Matrix:
    """The chain's row minus the compact formula's ``vec`` (a row): zero when the claim holds."""
    node = model.net.nodes[j]
    if param == "delta":
        return rows[j] - vec(compact.outputs[j]).T
    if param == "input":
        return rows[j] * jac[node.jacobian_name("input")] - vec(compact.inputs[j]).T
    chain = rows[j] * jac[node.jacobian_name(param)]
    return chain - vec(compact.params[node.parameters[param]]).T


def prove_network(
    model: SymbolicModel,
    jac: dict[str, sp.Matrix] | None = None,
    params: tuple[str, ...] = PARAMS,
) -> list[Claim]:
    """For every parametric node (last first) and every ``param``: chain − compact formula,
    expanded entry by entry to the zero matrix or not."""
    jac = jacobians(model) if jac is None else jac
    rows = rows_to_outputs(model, jac)
    compact = compact_route(model)
    claims = []
    for j in range(len(model.net.nodes) - 1, -1, -1):
        node, layer = model.net.nodes[j], model.layers[j]
        if not node.kind.roles:
            continue
        for param in params:
            if param == "delta":
                statement = f"∂L/∂{layer.out_name} − δ[{node.layer}]ᵀ = 0 (the compact backward)"
            else:
                statement = layer.statement(param)
            names = chain_of(model, j, param)
            difference = claim_difference(model, jac, rows, compact, j, param)
            claims.append(Claim(j, node.layer, param, tuple(names), statement, is_zero(difference)))
    return claims


@dataclass(frozen=True)
class Check:
    """A derived Jacobian compared with the matrix its layer's index rule builds."""

    name: str
    text: str
    holds: bool


def structure_checks(model: SymbolicModel, jac: dict[str, sp.Matrix]) -> dict[str, Check]:
    """Every Jacobian a layer knows the structure of, by name: derived − index rule = 0?"""
    out: dict[str, Check] = {}
    for j, node in enumerate(model.net.nodes):
        layer = model.layers[j]
        structures = layer.structures(model.input(j), model.output(j), model.of(j))
        for role, structure in structures.items():
            name = node.jacobian_name(role)
            derived = jac[name]
            same = derived.shape == structure.matrix.shape and is_zero(derived - structure.matrix)
            out[name] = Check(name, structure.text, same)
    return out
