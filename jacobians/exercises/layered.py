"""Exercises on any sequence of layers (convolutions, pooling, …): names, shapes, reference
values and mistake models, all read off the layers through the protocol.

The dense walk-through network keeps its own tables in :mod:`.quantities` and
:mod:`.mistakes` (its formulas in the answer language). Every other network is handled here:

- the quantities are NOTATION.md's names of the network's tensors and parameters (``x``,
  ``W1``, ``z1``, ``a2``, ``yhat``, ``L``), its gradients (``delta1`` for a parametric layer,
  ``dW1``, ``db1``), and for one example every Jacobian (``J_z1_W1``, ``J_a2_a1``, …, the first
  layer's ``J_z1_a0`` included) and every row ``∂L/∂t`` (``J_L_a1``: the gradient reaching the
  pooling's input, ``J_L_a0``: the one that comes through the convolution);
- a layer made of steps (attention, :attr:`~jacobians.layers.base.Kind.parts`) adds its
  intermediates (``Q1 K1 V1 S1 A1``), each example's gradient at each (``dV1``: ``∂L/∂V[1]``
  in ``V1``'s shape, like ``delta1``), its steps' Jacobians (``J_A1_S1``) and, for a step
  whose Jacobian is one block per row, each row's block (``J_A1_S1_row2``, the softmax of
  row 2: ``diag(a_2) − a_2 a_2ᵀ``);
- a tensor is written in its own shape (an image ``C × H × W``, or ``C × H × W × B`` for a
  batch), a vector as a column (``n × B``), a bias as a column, a weight in its own shape
  (``C_out × C_in × k × k`` for a convolution) — nested lists in an answers file;
- the reference values come from the Jacobian route (explicit chains of dense Jacobians),
  but for the intermediates' gradients, which have no chain of their own there: those come
  from the layer's compact backward (:meth:`~jacobians.layers.base.Kind.intermediate_gradients`,
  checked against the steps' Jacobians by the tests);
- the mistake models are those each kind declares for its backward pass
  (:attr:`jacobians.layers.base.Kind.mistakes`: the kernel not flipped, a window's gradient sent
  to every entry, …), propagated through the compact backward pass of the rest of the
  network, so a mistake at the convolution also shows in ``dW1`` and ``J_L_a0``; plus the
  transforms every answer can suffer (transposed, sign flipped, a missing ``1/m``).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod

import numpy as np

from .._typing import FloatArray, Matrix
from ..backprop import Step, backward_steps
from ..batchchain import batch_jacobians
from ..chains import example_jacobians, jacobian_route
from ..network import Cache, Network, Node, cost, display, forward
from ..parameters import Parameters
from ..paths import chained, coupled, jacobian_shapes, skip_name
from .quantities import layer_key

Shape = tuple[int, ...]


def tensor_shape(shape: Shape, batch: int) -> Shape:
    """A tensor as an exercise writes it: a vector as a column (``n × B``); an image alone
    (``C × H × W``) for one example, with the batch last for several."""
    if len(shape) == 1 or batch > 1:
        return (*shape, batch)
    return shape


def as_tensor(value: FloatArray, shape: Shape, batch: int) -> FloatArray:
    """A batch-last array of the routes in its exercise shape (:func:`tensor_shape`)."""
    return np.asarray(value, dtype=np.float64).reshape(tensor_shape(shape, batch))


def parameter_shape(shape: Shape) -> Shape:
    """A bias as a column, every other parameter in its own shape."""
    return (shape[0], 1) if len(shape) == 1 else shape


@dataclass(frozen=True)
class Entry:
    """One quantity of a network: shape, why it has that shape, and kind (``given``,
    ``forward``, ``gradient``, ``jacobian``)."""

    shape: Shape
    why: str
    kind: str


def layer_quantities(net: Network, batch: int, has_y: bool) -> dict[str, Entry]:
    """Every quantity of ``net`` with ``batch`` examples, in the order a derivation meets them."""
    out: dict[str, Entry] = {}
    ex = "one example" if batch == 1 else f"a batch of {batch} on the last axis"

    def tensor(name: str, shape: Shape, kind: str) -> None:
        out[name] = Entry(tensor_shape(shape, batch), f"{name} is {_shape(shape)} for {ex}", kind)

    tensor("x", net.input_shape, "given")
    tensor("a0", net.input_shape, "given")
    if has_y:
        tensor("y", net.output_shape, "given")
    for name, shape in net.parameter_shapes.items():
        out[name] = Entry(parameter_shape(shape), f"{name} is {_shape(shape)}", "given")
    for name, shape in net.state_shapes.items():
        tensor(name, shape, "given")
    for node in net.all_nodes:
        for name, shape in intermediate_shapes(node).items():
            tensor(name, shape, "forward")
        tensor(node.output, node.out_shape, "forward")
    tensor("yhat", net.output_shape, "forward")
    out["L"] = Entry((1, 1), "the cost L is a number", "forward")
    for node in reversed(net.all_nodes):
        if node.kind.roles:
            l = node.label
            out[f"delta{l}"] = Entry(
                tensor_shape(node.out_shape, batch),
                f"delta{l} = (∂L/∂{node.output})ᵀ has the shape of {node.output}",
                "gradient",
            )
            for name in node.parameters.values():
                shape = parameter_shape(net.parameter_shapes[name])
                why = f"a gradient has the shape of its parameter: d{name} is like {name}"
                out[f"d{name}"] = Entry(shape, why, "gradient")
        for name, shape in reversed(intermediate_shapes(node).items()):
            why = f"d{name} is ∂L/∂{name} written in the shape of {name}"
            out[f"d{name}"] = Entry(tensor_shape(shape, batch), why, "gradient")
    if batch == 1 or coupled(net):  # a coupled batch has its batch Jacobians, and only them
        known = {"L", *net.shapes, *net.parameter_shapes}
        known.update(n for node in net.all_nodes for n in intermediate_shapes(node))
        whole = "" if batch == 1 else f" of the whole batch of {batch}"
        for name, (rows, cols) in jacobian_shapes_all(net, batch).items():
            of, by = split_jacobian(name, known)
            why = (
                f"a Jacobian{whole} has one row per output and one column per input: "
                f"{_entries(of)} has {rows}, {_entries(by)} has {cols}"
            )
            out[name] = Entry((rows, cols), why, "jacobian")
    if batch == 1:
        for node in net.all_nodes:
            for name, (part, t) in row_block_names(node).items():
                of, by = (node.tensor(n) for n in part.split("_", 1))
                rows, cols = block_shape(node, part)
                why = (
                    f"row {t}'s block of {node.jacobian_name(part)} has one row per entry of a "
                    f"row of {of} and one column per entry of a row of {by}: {rows} and {cols}"
                )
                out[name] = Entry((rows, cols), why, "jacobian")
    return out


# --- layers made of steps: their intermediates, and each row's block --------------------


def intermediate_shapes(node: Node) -> dict[str, Shape]:
    """One example's shape of each intermediate of a layer made of steps, by tensor name
    (attention's ``Q1``, ``K1``, ``V1``, ``S1``, ``A1``); empty for every other layer."""
    return {node.tensor(k): v for k, v in node.kind.part_shapes(node.in_shape).items()}


def row_block_names(node: Node) -> dict[str, tuple[str, int]]:
    """``J_A1_S1_row2`` → ``("A_S", 2)``: each row's block of a step whose Jacobian is one
    block per row (:attr:`~jacobians.layers.base.Kind.row_blocks`), rows from 1."""
    out: dict[str, tuple[str, int]] = {}
    for of, by in node.kind.row_blocks:
        part = f"{of}_{by}"
        rows = node.kind.part_shapes(node.in_shape)[of][0]
        for t in range(1, rows + 1):
            out[f"{node.jacobian_name(part)}_row{t}"] = (part, t)
    return out


def block_shape(node: Node, part: str) -> tuple[int, int]:
    """A row's block of ``part``: one row per entry of a row of its output, one column per
    entry of a row of its input."""
    shapes = node.kind.part_shapes(node.in_shape)
    of, by = part.split("_", 1)
    return shapes[of][1], shapes[by][1]


def row_block(J: Matrix, node: Node, part: str, t: int) -> Matrix | None:
    """Row ``t``'s (from 1) block of the step Jacobian ``J``, or ``None`` when ``J`` is not
    block diagonal by rows (a softmax taken over columns has no row blocks)."""
    rows, cols = block_shape(node, part)
    blocks = J.shape[0] // rows
    inside = np.zeros(J.shape, dtype=bool)
    for r in range(blocks):
        inside[r * rows : (r + 1) * rows, r * cols : (r + 1) * cols] = True
    if np.any(J[~inside] != 0):
        return None
    return np.asarray(J[(t - 1) * rows : t * rows, (t - 1) * cols : t * cols])


def intermediate_values(net: Network, params: Parameters, cache: Cache) -> dict[str, FloatArray]:
    """Every intermediate of the layers made of steps (``A1``) and each example's gradient at
    it (``dA1``), batch last, by the layers' compact backward."""
    out: dict[str, FloatArray] = {}
    nodes = {node.output: node for node in net.all_nodes if intermediate_shapes(node)}
    if not nodes:
        return out
    for node in nodes.values():
        values = node.kind.intermediates(params.of(node), cache.values[node.input])
        out.update({node.tensor(k): v for k, v in values.items()})
    for step in backward_steps(net, params, cache):
        node = step.node
        if node.output in nodes:
            grads = node.kind.intermediate_gradients(
                params.of(node), cache.values[node.input], step.g
            )
            out.update({f"d{node.tensor(k)}": v for k, v in grads.items()})
    return out


def gradient_order(net: Network) -> dict[str, tuple[tuple[float, ...], int]]:
    """``dA1 → ((1, ∞), 0)``, ``dS1 → ((1, ∞), 1)``, …, ``dWq1 → ((1, ∞), 5)``: each gradient
    inside a layer (its intermediates', then its parameters') with the layer's place in the
    forward pass (:func:`~.quantities.layer_key`, as :func:`~.quantities.allowed_names` reads
    ``delta``'s) and the place where the backward pass meets it."""
    out: dict[str, tuple[tuple[float, ...], int]] = {}
    for node in net.all_nodes:
        names = [*reversed(intermediate_shapes(node)), *node.parameters.values()]
        key = layer_key(node.label)
        out.update({f"d{n}": (key, i) for i, n in enumerate(names)})
    return out


def split_jacobian(name: str, known: set[str]) -> tuple[str, str]:
    """``J_z3_1_W3_1`` → ``('z3_1', 'W3_1')``: the split of ``J_<out>_<in>`` whose two sides
    are names of the network (inner layers' names have underscores of their own).

    >>> split_jacobian("J_z3_1_W3_1", {"z3_1", "W3_1", "z3"})
    ('z3_1', 'W3_1')
    """
    body = name.removeprefix("J_")
    for i, c in enumerate(body):
        if c == "_" and body[:i] in known and body[i + 1 :] in known:
            return body[:i], body[i + 1 :]
    raise ValueError(f"not a Jacobian of this network: {name!r}")


def _shape(shape: Shape) -> str:
    return " × ".join(map(str, shape))


def _entries(symbol: str) -> str:
    if symbol == "L":
        return "L (a number)"
    return f"vec({symbol})"


def jacobian_shapes_all(net: Network, batch: int = 1) -> dict[str, tuple[int, int]]:
    """Every Jacobian of one example (of the whole ``batch``) by name: the network's factors
    (the first layer's input Jacobian included) and the rows ``∂L/∂t`` for every tensor and
    parameter ``t``."""
    shapes = dict(jacobian_shapes(net, first_input=True, batch=batch))
    for name, shape in net.shapes.items():
        if name != "a0" or net.nodes[0].kind.differentiable_input:  # not an embedding's ids
            shapes[f"J_L_{name}"] = (1, prod(shape) * batch)
    for name, shape in net.parameter_shapes.items():
        shapes[f"J_L_{name}"] = (1, prod(shape))
    return shapes


def layer_environment(net: Network, params: Parameters) -> dict[str, Matrix]:
    """The values a formula may name: every 2-D quantity among the given, forward and
    gradient values (vectors and dense weights; an image has no formula in the answer
    language), and ``m``."""
    values = layer_values(net, params)
    env = {k: v for k, v in values.items() if v.ndim == 2 and k != "L"}
    env["m"] = np.asarray(float(params.batch))
    return env


def layer_values(net: Network, params: Parameters) -> dict[str, Matrix]:
    """The given and forward values, and the gradients by the compact route, in exercise
    shapes."""
    from ..backprop import vectorized_route

    B = params.batch
    cache = forward(net, params)
    out: dict[str, Matrix] = {"x": as_tensor(params.x, net.input_shape, B)}
    out["a0"] = out["x"]
    if params.y is not None:
        out["y"] = as_tensor(params.y, net.output_shape, B)
    for name, value in params.values.items():
        out[name] = value.reshape(parameter_shape(value.shape))
    for name, mask in params.state.items():
        out[name] = as_tensor(mask, net.state_shapes[name], B)
    for node in net.all_nodes:
        out[node.output] = as_tensor(cache.values[node.output], node.out_shape, B)
    out["yhat"] = as_tensor(cache.output, net.output_shape, B)
    deltas = vectorized_route(net, params).deltas
    for node in net.parametric:
        out[f"delta{node.label}"] = as_tensor(deltas[f"delta{node.label}"], node.out_shape, B)
    out.update(_inside(net, intermediate_values(net, params, cache), B))
    return out


def _inside(net: Network, values: dict[str, FloatArray], batch: int) -> dict[str, Matrix]:
    """Intermediates and their gradients (``A1``, ``dA1``) in exercise shapes."""
    shapes = {n: s for node in net.all_nodes for n, s in intermediate_shapes(node).items()}
    return {k: as_tensor(v, shapes.get(k) or shapes[k[1:]], batch) for k, v in values.items()}


def layer_references(net: Network, params: Parameters) -> dict[str, Matrix]:
    """The reference value of every quantity, from the Jacobian route: the gradients from
    its chains, one example's Jacobians as dense matrices, and the rows ``∂L/∂t`` by
    multiplying those Jacobians from the loss side (reverse accumulation)."""
    B = params.batch
    out = layer_values(net, params)
    out["L"] = np.array([[cost(net, params)]])
    route = jacobian_route(net, params)
    for name, value in route.gradients.items():
        out[name] = value.reshape(parameter_shape(value.shape))
    for node in net.parametric:
        out[f"delta{node.label}"] = as_tensor(route.deltas[f"delta{node.label}"], node.out_shape, B)
    if B == 1 or coupled(net):
        if B == 1:
            cache = forward(net, params)
            jac = example_jacobians(net, params, cache, 0, "dense", first_input=True)
        else:  # the batch Jacobians, whose loss rows carry the mean's 1/B: ∂J/∂vec(t)
            jac = batch_jacobians(net, params, "dense", first_input=True)
        out.update({k: np.asarray(v, dtype=np.float64) for k, v in jac.items()})
        out.update(loss_rows(net, jac))
        if B == 1:
            for node in net.all_nodes:
                for name, (part, t) in row_block_names(node).items():
                    block = row_block(out[node.jacobian_name(part)], node, part, t)
                    assert block is not None  # the layer's own Jacobian is block diagonal
                    out[name] = block
        for name in net.parameter_names:
            out[f"J_L_{name}"] = out[f"d{name}"].reshape(1, -1)
    return out


def loss_rows(net: Network, jac: dict[str, object]) -> dict[str, Matrix]:
    """``∂L/∂t`` for every tensor ``t``: the loss row, then one input Jacobian at a time
    toward the input (the fused row ``(a[L] − y)ᵀ`` at a fused output pair, which stays
    finite where ``ŷ`` rounds to 0 or 1); inside a block from its output through ``∂y/∂f = I``
    (the block's input gets its row from the block's ``I + J_f``)."""

    def dense(name: str) -> Matrix:
        return np.asarray(jac[name], dtype=np.float64)

    last = net.nodes[-1]
    rows = {f"J_L_{last.output}": dense(f"J_L_{last.output}")}
    if net.fused is not None:
        rows[f"J_L_{last.input}"] = dense(f"J_L_{last.input}")

    def walk(nodes: tuple[Node, ...], row: Matrix, outer: bool) -> None:
        for j in range(len(nodes) - 1, -1, -1):
            node = nodes[j]
            rows[f"J_L_{node.output}"] = row
            if node.inner:
                walk(node.inner, row @ dense(skip_name(node)), False)
            if j == 0 and (not outer or not node.kind.differentiable_input):
                return  # the block's input (its I + J_f gives its row), or token ids
            row = row @ dense(node.jacobian_name("input"))
            rows[f"J_L_{node.input}"] = row

    outer = chained(net)
    walk(outer, rows[f"J_L_{outer[-1].output}"], True)
    return rows


# --- mistake models: a kind's wrong backward pass, propagated --------------------------


def mistaken_values(
    net: Network, params: Parameters, node: Node, mistake: str
) -> dict[str, Matrix]:
    """Every gradient quantity as a student computes it who makes ``mistake`` in the backward
    pass of ``node`` and everything else right: the compact backward pass
    (:func:`~jacobians.backprop.backward_steps`) with that one step done wrong. Quantities the
    wrong step cannot reach are left out; so are those below it once a wrong shape (an
    uncropped padding) stops the walk, and every one where the mistake does not apply."""
    B, joint = params.batch, coupled(net) is not None
    out: dict[str, Matrix] = {}
    cache = forward(net, params)
    steps = backward_steps(net, params, cache, mistake=(node.output, mistake))
    reached = False
    try:
        for step in steps:
            at = step.node
            reached = reached or at.output == node.output or node in at.inside
            if not reached:
                continue  # above the mistake, or beside it: still right
            for role, grad in step.grads.items():
                out[f"d{at.parameters[role]}"] = (grad / B).reshape(parameter_shape(grad.shape))
            if at.kind.roles and at.output != node.output:
                out[f"delta{at.label}"] = as_tensor(step.g, at.out_shape, B)
            if step.back is not None and (B == 1 or joint):
                out[f"J_L_{at.input}"] = step.back.reshape(1, -1) / B  # ∂J/∂vec(input)
            if intermediate_shapes(at):
                out.update(_mistaken_inside(net, params, cache, step, node, mistake))
    except KeyError:  # the mistake cannot be made here (a[l] where no activation follows)
        return {}
    return out


def _mistaken_inside(
    net: Network, params: Parameters, cache: Cache, step: Step, node: Node, mistake: str
) -> dict[str, Matrix]:
    """A layer made of steps below (or at) a mistake: its intermediates' gradients from the
    gradient that reached it; at the mistake, the mistake made in them too, and (one example)
    its steps' Jacobians and their row blocks as the student writes them."""
    at, B = step.node, params.batch
    wrong = mistake if at.output == node.output else None
    a = cache.values[at.input]
    grads = at.kind.intermediate_gradients(params.of(at), a, step.g, wrong)
    out = _inside(net, {f"d{at.tensor(k)}": v for k, v in grads.items()}, B)
    if wrong is None or B != 1:
        return out
    parts = at.kind.mistaken_parts(wrong, params.of(at), a)
    out.update({at.jacobian_name(k): J for k, J in parts.items()})
    for name, (part, t) in row_block_names(at).items():
        block = row_block(parts[part], at, part, t) if part in parts else None
        if block is not None:
            out[name] = block
    return out


def kind_mistakes(net: Network) -> list[tuple[Node, str]]:
    """Every (node, mistake) the network's kinds declare, from the output to the input."""
    last = net.nodes[-1] if net.fused is not None else None  # (a − y): no step to get wrong
    return [(n, m) for n in reversed(net.all_nodes) if n is not last for m in n.kind.mistakes]


def node_label(net: Network, node: Node) -> str:
    """``in the maxpool(2) of layer 2 (a[2])``: where a mistake was made, for the checker."""
    return f"in the {node.kind.spec()} of layer {node.label} ({display(node.output)})"
