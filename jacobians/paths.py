"""Which Jacobians make each chain, and their shapes, from the network alone (no values).

A network's nodes ``1 … K`` each have an input Jacobian ``∂out/∂in`` and one Jacobian per
parameter role (:mod:`jacobians.layers.base`). The chain of a parameter ``θ`` of node ``j``
starts at the loss and walks back through the input Jacobians of the nodes after ``j``
(NOTATION.md, reverse accumulation read left to right):

    ∂L/∂vec(θ) = ∂L/∂a[L] · ∂out_K/∂in_K ⋯ ∂out_{j+1}/∂in_{j+1} · ∂out_j/∂vec(θ),

a ``1 × size(θ)`` row that reshapes (C order) to ``dθ``; stopping before the last factor gives
``δᵀ = ∂L/∂out_j`` (``δ[l]``, for a parametric node ``z[l]``). When the network ends in a fused
pair (sigmoid with bce, softmax with ce) the loss side is either the two factors
``∂L/∂a[L] · ∂a[L]/∂z[L]`` or the fused row ``∂L/∂z[L]``.

For the walk-through network the chain of ``dW2`` is
``J_L_a3 · J_a3_z3 · J_z3_a2 · J_a2_z2 · J_z2_W2``.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod

from .compose import plan
from .layers.base import Shape
from .network import Network, Node


@dataclass(frozen=True)
class Target:
    """A gradient the routes compute: ``delta2`` (``role`` None, the node's output) or ``dW2``;
    ``node`` the layer it belongs to; ``shape`` is one example's result shape."""

    name: str
    node: Node
    role: str | None
    shape: Shape


def targets(net: Network) -> tuple[Target, ...]:
    """For every parametric node in order (a block's inside it): its ``delta`` and its
    parameters' gradients.

    >>> [t.name for t in targets(Network.from_spec("2-2-1", "relu,sigmoid", "bce"))]
    ['delta1', 'dW1', 'db1', 'delta2', 'dW2', 'db2']
    """
    out: list[Target] = []
    for node in net.parametric:
        out.append(Target(f"delta{node.label}", node, None, node.out_shape))
        for role in node.kind.roles:
            name = node.parameters[role]
            out.append(Target(f"d{name}", node, role, net.parameter_shapes[name]))
    return tuple(out)


def loss_name(net: Network) -> str:
    """``J_L_a3``: the loss row's name."""
    return f"J_L_{net.nodes[-1].output}"


def fused_name(net: Network) -> str:
    """``J_L_z3``: the fused row's name (the last node's input)."""
    return f"J_L_{net.nodes[-1].input}"


def skip_name(block: Node) -> str:
    """``J_a3_a3_2``: a block's output with respect to its own sequence's output (``I``)."""
    return f"J_{block.output}_{block.inner[-1].output}"


def head_names(net: Network, fused: bool) -> list[str]:
    """The loss end of every chain: ``[J_L_z3]`` (fused) or ``[J_L_a3, J_a3_z3]`` for a network
    that ends in a fused pair, ``[J_L_a3]`` otherwise."""
    if net.fused is None:
        return [loss_name(net)]
    if fused:
        return [fused_name(net)]
    return [loss_name(net), net.nodes[-1].jacobian_name("input")]


def chained(net: Network) -> tuple[Node, ...]:
    """The outer nodes the chains walk through after the loss end (all but a fused output)."""
    return net.nodes[:-1] if net.fused is not None else net.nodes


def below(net: Network) -> dict[str, list[str]]:
    """For every node's output, the Jacobians between the loss end and it, last layer first:
    the outer layers' input Jacobians, and inside a block ``∂y/∂f = I`` then its own layers'."""
    out: dict[str, list[str]] = {}

    def walk(nodes: tuple[Node, ...], names: list[str]) -> None:
        for node in reversed(nodes):
            out[node.output] = names
            if node.inner:
                walk(node.inner, [*names, skip_name(node)])
            names = [*names, node.jacobian_name("input")]

    walk(chained(net), [])
    return out


def chain_names(net: Network, target: Target, fused: bool = False) -> list[str]:
    """Every factor of ``target``'s chain, loss side first."""
    names = head_names(net, fused) + below(net)[target.node.output]
    if target.role is not None:
        names.extend(target.node.parameter_factors(target.role))
    return names


def jacobian_shapes(
    net: Network, first_input: bool = False, batch: int = 1
) -> dict[str, tuple[int, int]]:
    """The shape of every Jacobian of one example by name, without computing any: the loss
    row, then each node from the last (its input Jacobian — the first node's only with
    ``first_input``: it is in no chain — and its parameters'), then the fused row if any. With
    ``batch``, the batch Jacobians' shapes: every tensor ``batch`` times as long (what a
    network that couples its examples, with batch norm, multiplies).

    >>> jacobian_shapes(Network.from_spec())["J_z2_W2"]
    (2, 8)
    """
    shapes: dict[str, tuple[int, int]] = {loss_name(net): (1, prod(net.output_shape) * batch)}

    def add(nodes: tuple[Node, ...], outer: bool) -> None:
        for j in range(len(nodes) - 1, -1, -1):
            node = nodes[j]
            rows = prod(node.out_shape) * batch
            if node.inner:
                shapes[skip_name(node)] = (rows, rows)
                add(node.inner, False)
            first = j > 0 or first_input or not outer  # a block's first layer is in I + J_f
            if first and node.kind.differentiable_input:
                shapes[node.jacobian_name("input")] = (rows, prod(node.in_shape) * batch)
            for role in node.kind.roles:
                name = node.parameters[role]
                shapes[node.jacobian_name(role)] = (rows, prod(net.parameter_shapes[name]))
            shapes.update(part_shapes(net, node, batch))

    add(net.nodes, True)
    if net.fused is not None:
        shapes[fused_name(net)] = (1, prod(net.nodes[-1].in_shape) * batch)
    return shapes


def part_shapes(net: Network, node: Node, batch: int = 1) -> dict[str, tuple[int, int]]:
    """The shapes of the Jacobians of a layer's steps (:attr:`~jacobians.layers.base.Kind.parts`):
    attention's ``J_A2_S2``, …; with ``batch``, the batch Jacobians' (a parameter's columns are
    not batched)."""
    kind = node.kind
    sizes = {name: prod(shape) for name, shape in kind.part_shapes(node.in_shape).items()}
    sizes.update(Y=prod(node.out_shape), X=prod(node.in_shape))
    roles = {role: prod(net.parameter_shapes[name]) for role, name in node.parameters.items()}
    return {
        node.jacobian_name(f"{out}_{of}"): (
            sizes[out] * batch,
            roles[of] if of in roles else sizes[of] * batch,
        )
        for out, of in kind.parts
    }


def composite_cost(net: Network, batch: int = 1) -> int:
    """Multiply–adds of building, as dense matrices, the Jacobians that are products of others
    (a layer made of steps: its parameters' chains and its input's paths; a residual block:
    ``I + J_f``, its own layers' chain), left to right; with ``batch``, the batch Jacobians'."""
    total = 0
    for node in net.all_nodes:
        if node.inner:
            shapes = [(prod(m.out_shape) * batch, prod(m.in_shape) * batch) for m in node.inner]
            total += sum(shapes[0][0] * r * c for r, c in shapes[1:])
            continue
        parts = part_shapes(net, node, batch)
        chains = [*node.kind.input_paths, *node.kind.role_steps.values()]
        for steps in chains:
            shapes = [parts[node.jacobian_name(step)] for step in steps]
            total += sum(shapes[0][0] * r * c for r, c in shapes[1:])
    return total


def largest_dense(
    net: Network, first_input: bool = False, batch: int = 1
) -> tuple[str, tuple[int, int], int]:
    """The largest Jacobian of ``net`` when dense: name, shape and bytes (float64)."""
    shapes = jacobian_shapes(net, first_input, batch)
    name, shape = max(shapes.items(), key=lambda kv: kv[1][0] * kv[1][1])
    return name, shape, 8 * shape[0] * shape[1]


@dataclass(frozen=True)
class ChainReport:
    """What one chain of example 0 multiplied: factor names and shapes, order, cost."""

    target: str
    factors: tuple[tuple[str, tuple[int, int]], ...]
    product_shape: tuple[int, int]
    result_shape: tuple[int, ...]
    multiply_adds: int
    expression: str


def coupled(net: Network) -> Node | None:
    """The first layer that couples the examples of a batch (batch norm), if any."""
    return next((node for node in net.all_nodes if node.kind.couples_examples), None)


def planned_reports(
    net: Network, order: str, fused: bool, batch: int = 1
) -> tuple[ChainReport, ...]:
    """Every chain of one example (of the whole batch, with ``batch``) as the Jacobian route
    reports it, from the shapes alone."""
    shapes = jacobian_shapes(net, batch=batch)
    reports = []
    for target in targets(net):
        names = chain_names(net, target, fused)
        dims = [shapes[names[0]][0], *(shapes[n][1] for n in names)]
        cost, expression = plan(names, dims, order)
        result = target.shape if target.role or batch == 1 else (*target.shape, batch)
        reports.append(
            ChainReport(
                target.name,
                tuple((n, shapes[n]) for n in names),
                (1, dims[-1]),
                result,
                cost,
                expression,
            )
        )
    return tuple(reports)
