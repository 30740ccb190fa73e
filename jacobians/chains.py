"""The Jacobian route: every Jacobian of the network as a matrix, chained per parameter.

For one example, the gradient of layer ``l``'s weights is the chain (NOTATION.md)

    ∂L/∂vec(W[l]) = ∂L/∂a[L] · ∂a[L]/∂z[L] · ∂z[L]/∂a[L-1] ⋯ ∂a[l]/∂z[l] · ∂z[l]/∂vec(W[l]),

a ``1 × size(W[l])`` row that reshapes (C order) to ``dW[l]``; ending in ``∂z[l]/∂b[l]``
instead gives ``db[l]ᵀ``, and stopping before the last factor gives ``δ[l]ᵀ = ∂L/∂z[l]``.
Every layer kind supplies its own factors (:meth:`jacobians.layers.base.Kind.jacobians`);
which factors make which chain is :mod:`jacobians.paths`.

A batch is the mean of its examples' chains: ``dW = (1/B) Σ_i dW(i)``. (The batch Jacobian
``I_n ⊗ Aᵀ`` gives the same numbers, :mod:`jacobians.batchchain`; per-example chains keep every
factor the size the notation shows, which is what a reader checks by hand.)

The output pair. When the network ends in sigmoid with bce or softmax with ce, the factors
``∂L/∂a[L]`` and ``∂a[L]/∂z[L]`` become ``∞`` and ``0`` once ``ŷ`` rounds to 0 or 1. There the
chain uses the fused row ``∂L/∂z[L] = (a[L] − y)ᵀ`` and says so in :attr:`JacobianRoute.notes`;
wherever both are finite it multiplies the two factors and records how far their product is
from the fused row (:attr:`JacobianRoute.fused_gap`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import prod
from typing import Any

import numpy as np

from ._typing import FloatArray, Matrix
from .compose import Factor, Product, dimensions, multiply, order_cost, row_to_tensor
from .errors import InvalidValueError, message, unknown_name
from .network import Cache, Network, Node, display, flat, forward
from .parameters import Parameters
from .paths import (
    ChainReport,
    Target,
    chain_names,
    chained,
    coupled,
    fused_name,
    jacobian_shapes,
    largest_dense,
    loss_name,
    planned_reports,
    skip_name,
    targets,
)
from .structured import REPRESENTATIONS, Identity, SkipSum, Structured, represent, to_dense

DEFAULT_MEMORY_BUDGET = 2**30
"""1 GiB: the largest dense Jacobian the route builds unless told otherwise."""
AUTO_DENSE_LIMIT = 2**26
"""64 MiB: the largest dense Jacobian ``auto`` builds (``--jacobians dense`` goes up to the
memory budget). A dense factor beyond it — LeNet's ``∂a[1]/∂z[1]`` is 4704 × 4704, 169 MiB
of a diagonal — is nothing a reader reads, and its structured form is tens of times faster."""


def node_jacobians(
    net: Network,
    params: Parameters,
    cache: Cache,
    examples: slice,
    representation: str,
    first_input: bool = False,
    vec: str = "row",
) -> dict[str, Any]:
    """Every node's Jacobians for the examples ``examples`` of the batch (one example: its own
    Jacobians; the whole batch: the batch Jacobians), by name, last node first; the first
    node's input Jacobian only with ``first_input``. A block's input Jacobian is ``I + J_f``
    over its own layers' (:class:`~jacobians.structured.SkipSum`), reached from its output
    through ``∂y/∂f = I``. ``vec="column"`` (a dense network only): the column-major
    Jacobians of :func:`jacobians.columnvec.column_jacobians` (``aᵀ ⊗ I_n``, …)."""
    structured: dict[str, Structured] = {}

    def add(nodes: tuple[Node, ...]) -> None:
        for node in reversed(nodes):
            if node.inner:
                add(node.inner)
                rows = prod(node.out_shape) * len(range(*examples.indices(params.batch)))
                structured[skip_name(node)] = Identity(rows)
                inner = (structured[m.jacobian_name("input")] for m in reversed(node.inner))
                structured[node.jacobian_name("input")] = SkipSum(tuple(inner))
                continue
            a = cache.values[node.input][..., examples]
            value = cache.values[node.output][..., examples]
            values = params.of(node)
            values.update({role: values[role][..., examples] for role in node.state})
            if vec == "column":
                from .columnvec import column_jacobians

                found = column_jacobians(node.kind, values, a, value)
            else:
                found = node.kind.jacobians(values, a, value)
            for role, J in found.items():
                structured[node.jacobian_name(role)] = J

    add(net.nodes)
    if not first_input:
        structured.pop(net.nodes[0].jacobian_name("input"), None)
    return {name: represent(J, representation) for name, J in structured.items()}


def example_jacobians(
    net: Network,
    params: Parameters,
    cache: Cache,
    i: int = 0,
    representation: str = "dense",
    first_input: bool = False,
    vec: str = "row",
) -> dict[str, Any]:
    """Every Jacobian of example ``i`` by its NOTATION name: ``J_L_a3``, ``J_a3_z3``, ``J_z3_a2``,
    ``J_z3_W3``, ``J_z3_b3``, …, and ``J_L_z3`` when the output pair is fused.

    ``representation``: ``dense`` numpy arrays (the default), ``sparse`` CSR arrays, or
    ``structured`` objects (:mod:`jacobians.structured`); the loss rows stay dense. ``vec``:
    ``row`` (``J_z3_W3 = I ⊗ a[2]ᵀ``) or, for a dense network, ``column``
    (``J_z3_W3 = a[2]ᵀ ⊗ I``, :mod:`jacobians.columnvec`)."""
    y = flat(params.target(net))[:, i]
    yhat = flat(cache.output)[:, i]
    out: dict[str, Any] = {}
    with np.errstate(divide="ignore", invalid="ignore"):
        out[loss_name(net)] = net.loss.row(yhat, y)
    out.update(
        node_jacobians(net, params, cache, slice(i, i + 1), representation, first_input, vec)
    )
    if net.fused is not None:
        out[fused_name(net)] = net.fused.row(yhat, y)
    return out


def choose_representation(
    net: Network, requested: str, budget: int, batch: int = 1
) -> tuple[str, str | None]:
    """The representation to use and, when ``auto`` switched away from dense, why: ``auto`` is
    dense while the largest dense Jacobian fits both ``budget`` and :data:`AUTO_DENSE_LIMIT`.

    ``dense`` above ``budget`` bytes raises :class:`~jacobians.errors.InvalidValueError`
    naming the Jacobian, its shape, its size and the way out. ``batch``: the batch whose
    Jacobians a network that couples its examples multiplies (1 otherwise)."""
    name, shape, size = largest_dense(net, batch=batch)
    if requested not in (*REPRESENTATIONS, "auto"):
        raise unknown_name("jacobians", requested, (*REPRESENTATIONS, "auto"))
    if requested == "auto":
        if size <= min(budget, AUTO_DENSE_LIMIT):
            return "dense", None
        if size > budget:
            return "structured", (
                f"auto: {name} ({shape[0]}×{shape[1]}) would take {_bytes(size)} dense, over "
                f"the memory budget of {_bytes(budget)}: using structured Jacobians"
            )
        return "structured", (
            f"auto: {name} ({shape[0]}×{shape[1]}) would take {_bytes(size)} dense, over "
            f"auto's limit of {_bytes(AUTO_DENSE_LIMIT)} for a dense Jacobian: using "
            "structured Jacobians (--jacobians dense builds them up to the memory budget)"
        )
    if requested == "dense" and size > budget:
        # a coupled batch's sparse factors are held to the batch bound too (_batch_route)
        sparse_fits = batch == 1 or largest_batch_factor(net, batch)[2] <= budget
        raise InvalidValueError(
            message(
                "jacobians",
                f"dense Jacobians within the memory budget of {_bytes(budget)}",
                f"{name} of shape {shape[0]}×{shape[1]}, {size:,} bytes ({_bytes(size)})",
                f"use --jacobians {'sparse or structured' if sparse_fits else 'structured'}, "
                "or raise --memory-budget",
            )
        )
    return requested, None


def _bytes(size: float) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if size >= scale:
            return f"{size / scale:.3g} {unit}"
    return f"{int(size)} bytes"


def output_factors(net: Network, jac: dict[str, Any]) -> tuple[list[Factor], float | None]:
    """The chain's loss end: ``[∂L/∂a[L], ∂a[L]/∂z[L]]``, or ``[∂L/∂z[L]]`` where those are not
    finite (a fused pair), or ``[∂L/∂a[L]]`` for a network without one; and
    ``max|unfused − fused|`` where both exist (else ``None``)."""
    row = loss_name(net)
    if net.fused is None:
        return [Factor(row, jac[row])], None
    step = net.nodes[-1].jacobian_name("input")
    unfused = [Factor(row, jac[row]), Factor(step, jac[step])]
    fused = jac[fused_name(net)]
    with np.errstate(invalid="ignore", over="ignore"):
        product = to_dense(unfused[0].matrix @ unfused[1].matrix)
    if np.all(np.isfinite(unfused[0].matrix)) and np.all(np.isfinite(product)):
        return unfused, float(np.max(np.abs(product - fused)))
    return [Factor(fused_name(net), fused)], None


def target_factors(
    net: Network, jac: dict[str, Any], head: list[Factor], t: Target
) -> list[Factor]:
    """The factors of ``t``'s chain: ``head`` (the loss end), then the nodes' input Jacobians,
    then the parameter's Jacobian."""
    fused = head[0].name == fused_name(net) and net.fused is not None
    names = chain_names(net, t, fused)[len(head) :]
    return [*head, *(Factor(n, jac[n]) for n in names)]


def chain(net: Network, jac: dict[str, Any], head: list[Factor], l: int, end: str) -> list[Factor]:
    """The factors of ``∂L/∂<end>`` for layer ``l`` of a network: ``end`` is ``'W'``, ``'b'``
    (the parameter of that role) or ``'z'`` (no last factor: the chain of ``δ[l]ᵀ``)."""
    name = f"delta{l}" if end == "z" else f"d{end}{l}"
    target = next(t for t in targets(net) if t.name == name)
    return target_factors(net, jac, head, target)


@dataclass(frozen=True)
class JacobianRoute:
    """Gradients by explicit Jacobian chains, with what was multiplied and how."""

    gradients: dict[str, FloatArray]
    deltas: dict[str, FloatArray]
    jacobians: dict[str, Any]
    chains: tuple[ChainReport, ...]
    order: str
    multiply_adds: int
    fused_examples: tuple[int, ...] = ()
    fused_gap: float | None = None
    notes: tuple[str, ...] = field(default=())
    representation: str = "dense"
    strategy: str = "examples"
    vec: str = "row"
    """``row`` (NOTATION.md's row-major ``vec``, C-order reshapes) or ``column``
    (Magnus–Neudecker's, Fortran-order reshapes: :mod:`jacobians.columnvec`)."""


def _report(target: Target, product: Product, factors: list[Factor]) -> ChainReport:
    r, c = product.value.shape
    return ChainReport(
        target.name,
        tuple((f.name, f.shape) for f in factors),
        (int(r), int(c)),
        target.shape,
        product.multiply_adds,
        product.expression,
    )


def _reverse_values(net: Network, jac: dict[str, Any], head: list[Factor]) -> dict[str, Any]:
    """Every chain's product in reverse order, by target name (``delta2``, ``dW2``, ``db2``, …),
    sharing the common left part: ``δᵀ`` of a node is the row reaching its output, and
    ``∂L/∂vec(θ) = δᵀ · ∂out/∂vec(θ)``.

    The same floating-point operations as :func:`~jacobians.compose.multiply` in reverse order
    (a left fold), done once instead of once per chain: this is reverse accumulation. The
    counts and expressions come from :func:`~jacobians.paths.planned_reports`."""
    out: dict[str, Any] = {}
    value = head[0].matrix
    for f in head[1:]:
        value = value @ f.matrix

    def walk(nodes: tuple[Node, ...], value: Any) -> None:
        # the row reaching each node's output; multiplied on only while a target lies below
        needed = [bool(node.kind.roles or any(m.kind.roles for m in node.inside)) for node in nodes]
        lowest = needed.index(True) if True in needed else len(nodes)
        for j in range(len(nodes) - 1, lowest - 1, -1):
            node = nodes[j]
            if node.kind.roles:
                out[f"delta{node.label}"] = value
                for role in node.kind.roles:
                    row = value
                    for name in node.parameter_factors(role):  # a layer's steps one by one
                        row = row @ jac[name]
                    out[f"d{node.parameters[role]}"] = row
            if node.inner:
                walk(node.inner, value @ jac[skip_name(node)])
            if j > lowest:
                value = value @ jac[node.jacobian_name("input")]

    walk(chained(net), value)
    return out


STRATEGIES = ("examples", "batch", "auto")


def largest_batch_factor(net: Network, batch: int) -> tuple[str, tuple[int, int], int]:
    """A bound on the largest batch factor or product held as a matrix: every batch Jacobian
    is ``size(out)·B`` tall and ``size(in)·B`` or ``size(θ)`` wide (for a dense layer
    ``∂vec(A)/∂vec(Z)`` is ``n·B × n·B``, ``W ⊗ I_B`` is ``n·B × m·B``, ``I_n ⊗ Aᵀ`` is
    ``n·B × n·m``), and a forward-order product is as tall as the tallest and as wide as the
    widest; bytes of float64."""
    sizes = [prod(s) for s in net.shapes.values()]
    tall = max(prod(node.out_shape) * batch for node in net.all_nodes)
    wide = max(max(s * batch for s in sizes), max(prod(s) for s in net.parameter_shapes.values()))
    return "the largest batch factor or product", (tall, wide), 8 * tall * wide


def _result(target: Target, row: Matrix, batch: int | None = None, vec: str = "row") -> FloatArray:
    """A chain's row as the target: ``dθ`` in ``θ``'s shape, or ``δ`` (one example's, a
    vector for a vector output; with ``batch``, the batch's rows times ``B``, batch last).
    ``vec="column"``: a matrix (a dense ``W``, the batch's ``δ``) reshaped in Fortran order."""
    if vec == "column" and (len(target.shape) == 2 or (target.role is None and batch)):
        from .columnvec import column_to_matrix

        if target.role is not None:
            return column_to_matrix(row, (target.shape[0], target.shape[1]))
        return column_to_matrix(row, (target.shape[0], batch or 1)) * (batch or 1)
    if target.role is not None:
        return row_to_tensor(row, target.shape)
    if batch is None:
        return row.reshape(target.shape)
    return row.reshape(*target.shape, batch) * batch


def _batch_route(
    net: Network,
    params: Parameters,
    order: str,
    representation: str,
    memory_budget: int,
    switched: str | None,
    vec: str = "row",
) -> JacobianRoute:
    """The batch strategy: one chain per gradient through the batch Jacobians; the chains
    reported are those of one example (:func:`~jacobians.paths.planned_reports`). ``vec``:
    the flattening of every batch matrix (:mod:`jacobians.columnvec` for ``column``)."""
    from .batchchain import batch_jacobians

    B = params.batch
    if representation != "structured" or order != "reverse":
        name, shape, size = largest_batch_factor(net, B)
        if size > memory_budget:
            raise InvalidValueError(
                message(
                    "strategy",
                    f"batch Jacobians within the memory budget of {_bytes(memory_budget)}",
                    f"{name}, {shape[0]}×{shape[1]} for a batch of {B}: {_bytes(size)}",
                    "use structured Jacobians in reverse order"
                    if coupled(net)
                    else "use --strategy examples, or structured Jacobians in reverse order",
                )
            )
    jac = batch_jacobians(net, params, representation, vec=vec)
    head, gap = output_factors(net, jac)
    if gap is not None:
        gap *= B  # the batch rows carry the mean's 1/B; compare on the examples' scale
    shared = _reverse_values(net, jac, head) if order == "reverse" else {}
    gradients: dict[str, FloatArray] = {}
    deltas: dict[str, FloatArray] = {}
    total = 0
    for target in targets(net):
        factors = target_factors(net, jac, head, target)
        if target.name in shared:
            value = shared[target.name]
            total += order_cost(dimensions(factors), "reverse")
        else:
            product = multiply(factors, order)
            value = product.value
            total += product.multiply_adds
        row = to_dense(value)
        if target.role is None:
            deltas[target.name] = _result(target, row, B, vec)
        else:
            gradients[target.name] = _result(target, row, vec=vec)
    fused = head[0].name == fused_name(net) and net.fused is not None
    last, joint = net.nodes[-1], coupled(net)
    notes = [switched] if switched else []
    shown = (
        f"the chains shown are the batch's ({joint.kind.name} couples the examples)"
        if joint is not None
        else "the chains shown are those of one example"
    )
    batch_jacobian = (
        "∂vec_col(Z)/∂vec_col(W) = Aᵀ ⊗ I, examples one after the other"
        if vec == "column"
        else "∂vec(Z)/∂vec(W) = I ⊗ Aᵀ"
    )
    notes.append(
        f"a batch of {B} as one chain through the batch Jacobians ({batch_jacobian}, "
        f"{prod(last.out_shape) * B} rows for layer {net.depth}); {shown}"
    )
    if fused:
        notes.append(fused_note(net, "some example", "the batch chain", " / B"))
    return JacobianRoute(
        gradients,
        deltas,
        jac,
        planned_reports(net, order, fused, B if joint is not None else 1),
        order,
        total,
        tuple(range(B)) if fused else (),
        gap,
        tuple(notes),
        representation,
        "batch",
        vec,
    )


def jacobian_route(
    net: Network,
    params: Parameters,
    order: str = "reverse",
    jacobians: str = "dense",
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    strategy: str = "auto",
    vec: str = "row",
) -> JacobianRoute:
    """``dθ`` for every parameter and ``δ`` for every parametric layer by multiplying Jacobian
    chains.

    ``jacobians`` is the representation of the factors: ``dense`` (refused above
    ``memory_budget`` bytes), ``sparse``, ``structured``, or ``auto`` (dense while it fits).
    The multiply–add counts are those of dense factors in the chosen order.

    ``strategy`` for a batch: ``examples`` (one chain per example, averaged: every factor the
    size the notation shows), ``batch`` (one chain through the batch Jacobians, e.g.
    ``I_n ⊗ Aᵀ``; :mod:`jacobians.batchchain`), or ``auto``: ``batch`` for structured factors,
    where it is the faster (benchmarks/scale.py), ``examples`` for dense and sparse ones.

    ``vec``: ``row`` (NOTATION.md's row-major flattening: ``∂z/∂vec(W) = I_n ⊗ aᵀ``, C-order
    reshapes) or ``column`` (Magnus–Neudecker's, dense networks only: ``∂z/∂vec_col(W) =
    aᵀ ⊗ I_n``, Fortran-order reshapes, and with the batch strategy every batch matrix
    flattened column-major; :mod:`jacobians.columnvec`). The gradients are the same.

    Returns gradients named ``dW1, db1, …`` in their parameters' shapes, ``deltas`` named
    ``delta1, …`` (the layer's output shape × ``B``, one example per column for vectors),
    example 0's Jacobians, and a report of every chain of example 0 with its multiply–add count.
    """
    if strategy not in STRATEGIES:
        raise unknown_name("strategy", strategy, STRATEGIES)
    if vec != "row":
        from .columnvec import check_column, check_vec

        check_vec(vec)
        check_column(net)
    joint = coupled(net) if params.batch > 1 else None
    if joint is not None:
        if strategy == "examples":
            raise InvalidValueError(
                message(
                    "strategy",
                    f"batch or auto for a network with {joint.kind.name} (layers[{joint.entry}])",
                    "examples",
                    f"{joint.kind.name} couples the examples: its mean and variance are taken over "
                    "the batch, so the cost is not a sum of per-example functions of the "
                    "parameters and there is no per-example chain; use --strategy batch",
                )
            )
        strategy = "batch"
    batch = params.batch if joint is not None else 1
    representation, switched = choose_representation(net, jacobians, memory_budget, batch)
    if strategy == "auto":  # the faster and the lighter (benchmarks/scale.py)
        strategy = "batch" if representation == "structured" and order == "reverse" else "examples"
    if strategy == "batch" and params.batch > 1:
        return _batch_route(net, params, order, representation, memory_budget, switched, vec)
    cache = forward(net, params)
    B = params.batch
    sums: dict[str, FloatArray] = {}
    deltas = {t.name: np.zeros((*t.shape, B)) for t in targets(net) if t.role is None}
    reports: list[ChainReport] = []
    total, fused_at, gaps = 0, [], []
    jac0: dict[str, Any] = {}
    plans: dict[bool, tuple[ChainReport, ...]] = {}
    for i in range(B):
        jac = example_jacobians(net, params, cache, i, representation, vec=vec)
        jac0 = jac0 or jac
        head, gap = output_factors(net, jac)
        if gap is not None:
            gaps.append(gap)
        fused_here = head[0].name == fused_name(net) and net.fused is not None
        if fused_here:
            fused_at.append(i)
        if order == "reverse":
            if fused_here not in plans:
                plans[fused_here] = planned_reports(net, order, fused_here)
            values = _reverse_values(net, jac, head)
            for r in plans[fused_here]:
                total += r.multiply_adds
                _accumulate(sums, deltas, r.target, to_dense(values[r.target]), i)
            if i == 0:
                reports.extend(plans[fused_here])
            continue
        for target in targets(net):
            factors = target_factors(net, jac, head, target)
            product = multiply(factors, order)
            total += product.multiply_adds
            _accumulate(sums, deltas, target.name, to_dense(product.value), i)
            if i == 0:
                reports.append(_report(target, product, factors))
    shapes = {t.name: t for t in targets(net)}
    gradients = {}
    for name, row in sums.items():
        if B > 1:
            row /= B  # in place: the sums are the route's own arrays
        gradients[name] = _result(shapes[name], row, vec=vec)
    notes = [switched] if switched else []
    if fused_at and net.fused is not None:
        examples = f"example(s) {', '.join(map(str, fused_at[:10]))}"
        examples += f"{' …' if len(fused_at) > 10 else ''} ({net.fused.activation} saturated "
        examples += f"under {net.fused.loss})"
        notes.append(fused_note(net, examples, "the chain", " there"))
    return JacobianRoute(
        gradients,
        deltas,
        jac0,
        tuple(reports),
        order,
        total,
        tuple(fused_at),
        max(gaps) if gaps else None,
        tuple(notes),
        representation,
        vec=vec,
    )


def fused_note(net: Network, where: str, chain: str, tail: str) -> str:
    """The note of a chain that used the fused row ``(a[L] − y)ᵀ`` because ``∂L/∂a[L]`` is
    infinite where ``∂a[L]/∂z[L]`` is 0."""
    L, z = net.depth, display(net.nodes[-1].input)
    return (
        f"∂L/∂a[{L}] is ±∞ where ∂a[{L}]/∂{z} is 0 (∞·0) for {where}: {chain} used the fused "
        f"row ∂L/∂{z} = (a[{L}] − y)ᵀ{tail}"
    )


def _accumulate(
    sums: dict[str, FloatArray], deltas: dict[str, FloatArray], name: str, row: Matrix, i: int
) -> None:
    """Add example ``i``'s row of ``name`` to its sum, or store it as ``δ`` of example ``i``
    (the first example's fresh array starts a sum: no zeros, no copy)."""
    if name in deltas:
        deltas[name][..., i] = row.reshape(deltas[name].shape[:-1])
    elif name in sums:
        sums[name] += row
    else:
        sums[name] = row


__all__ = [
    "DEFAULT_MEMORY_BUDGET",
    "ChainReport",
    "JacobianRoute",
    "chain",
    "choose_representation",
    "example_jacobians",
    "jacobian_route",
    "jacobian_shapes",
    "largest_batch_factor",
    "largest_dense",
    "output_factors",
    "planned_reports",
]
