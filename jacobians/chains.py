"""The Jacobian route: every Jacobian of the network as a dense matrix, chained per parameter.

For one example, the gradient of layer ``l``'s weights is the chain (NOTATION.md)

    ∂L/∂vec(W[l]) = ∂L/∂a[L] · ∂a[L]/∂z[L] · ∂z[L]/∂a[L-1] ⋯ ∂a[l]/∂z[l] · ∂z[l]/∂vec(W[l]),

a ``1 × n_l·n_{l-1}`` row that reshapes (C order) to ``dW[l]``; ending in ``∂z[l]/∂b[l]``
instead gives ``db[l]ᵀ``, and stopping before the last factor gives ``δ[l]ᵀ = ∂L/∂z[l]``.

A batch is the mean of its examples' chains: ``dW = (1/B) Σ_i dW(i)``. (The batch Jacobian
``I_n ⊗ Aᵀ`` gives the same numbers; per-example chains keep every factor the size the
notation shows, which is what a reader checks by hand.)

The output pair. When the network ends in sigmoid with bce or softmax with ce, the factors
``∂L/∂a[L]`` and ``∂a[L]/∂z[L]`` become ``∞`` and ``0`` once ``ŷ`` rounds to 0 or 1. There the
chain uses the fused row ``∂L/∂z[L] = (a[L] − y)ᵀ`` and says so in :attr:`JacobianRoute.notes`;
wherever both are finite it multiplies the two factors and records how far their product is
from the fused row (:attr:`JacobianRoute.fused_gap`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import numpy as np

from ._typing import Matrix
from .compose import (
    Factor,
    Product,
    dimensions,
    multiply,
    order_cost,
    plan,
    row_to_matrix,
    row_to_vector,
)
from .errors import InvalidValueError, message, unknown_name
from .layers import jacobian_a_z, jacobian_z_a, jacobian_z_b, jacobian_z_W, structured_jacobians
from .network import Cache, Network, forward
from .parameters import Parameters
from .structured import REPRESENTATIONS, represent, to_dense

DEFAULT_MEMORY_BUDGET = 2**30
"""1 GiB: the largest dense Jacobian the route builds unless told otherwise."""


def example_jacobians(
    net: Network, params: Parameters, cache: Cache, i: int = 0, representation: str = "dense"
) -> dict[str, Any]:
    """Every Jacobian of example ``i`` by its NOTATION name: ``J_L_a3``, ``J_a3_z3``, ``J_z3_a2``,
    ``J_z3_W3``, ``J_z3_b3``, …, and ``J_L_z3`` when the output pair is fused.

    ``representation``: ``dense`` numpy arrays (the default), ``sparse`` CSR arrays, or
    ``structured`` objects (:mod:`jacobians.structured`); the loss rows stay dense."""
    L = net.depth
    y = params.target(net)[:, i]
    out: dict[str, Any] = {}
    with np.errstate(divide="ignore", invalid="ignore"):
        out[f"J_L_a{L}"] = net.loss.row(cache.a[L][:, i], y)
    for l in range(L, 0, -1):
        if representation == "dense":
            out[f"J_a{l}_z{l}"] = jacobian_a_z(net.activations[l - 1], cache.z[l][:, i])
            if l > 1:
                out[f"J_z{l}_a{l - 1}"] = jacobian_z_a(params.W[l - 1])
            out[f"J_z{l}_W{l}"] = jacobian_z_W(cache.a[l - 1][:, i], net.sizes[l])
            out[f"J_z{l}_b{l}"] = jacobian_z_b(net.sizes[l])
            continue
        s = structured_jacobians(
            net.activations[l - 1], params.W[l - 1], cache.a[l - 1][:, i], cache.z[l][:, i]
        )
        out[f"J_a{l}_z{l}"] = represent(s["a_z"], representation)
        if l > 1:
            out[f"J_z{l}_a{l - 1}"] = represent(s["z_a"], representation)
        out[f"J_z{l}_W{l}"] = represent(s["z_W"], representation)
        out[f"J_z{l}_b{l}"] = represent(s["z_b"], representation)
    if net.fused is not None:
        out[f"J_L_z{L}"] = net.fused.row(cache.a[L][:, i], y)
    return out


def largest_dense(net: Network) -> tuple[str, tuple[int, int], int]:
    """The largest Jacobian of ``net`` when dense: name, shape and bytes (float64)."""
    name, shape = max(jacobian_shapes(net).items(), key=lambda kv: kv[1][0] * kv[1][1])
    return name, shape, 8 * shape[0] * shape[1]


def choose_representation(net: Network, requested: str, budget: int) -> tuple[str, str | None]:
    """The representation to use and, when ``auto`` switched away from dense, why.

    ``dense`` above ``budget`` bytes raises :class:`~jacobians.errors.InvalidValueError`
    naming the Jacobian, its shape, its size and the way out."""
    name, shape, size = largest_dense(net)
    if requested not in (*REPRESENTATIONS, "auto"):
        raise unknown_name("jacobians", requested, (*REPRESENTATIONS, "auto"))
    if requested == "auto":
        if size <= budget:
            return "dense", None
        return "structured", (
            f"auto: {name} ({shape[0]}×{shape[1]}) would take {_bytes(size)} dense, over the "
            f"memory budget of {_bytes(budget)}: using structured Jacobians"
        )
    if requested == "dense" and size > budget:
        raise InvalidValueError(
            message(
                "jacobians",
                f"dense Jacobians within the memory budget of {_bytes(budget)}",
                f"{name} of shape {shape[0]}×{shape[1]}, {size:,} bytes ({_bytes(size)})",
                "use --jacobians sparse or structured, or raise --memory-budget",
            )
        )
    return requested, None


def _bytes(size: float) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if size >= scale:
            return f"{size / scale:.3g} {unit}"
    return f"{int(size)} bytes"


def jacobian_shapes(net: Network) -> dict[str, tuple[int, int]]:
    """The shape of every Jacobian of ``net`` by name, without computing any.

    >>> jacobian_shapes(Network.from_spec())["J_z2_W2"]
    (2, 8)
    """
    n, L = net.sizes, net.depth
    shapes: dict[str, tuple[int, int]] = {f"J_L_a{L}": (1, n[L])}
    for l in range(L, 0, -1):
        shapes[f"J_a{l}_z{l}"] = (n[l], n[l])
        if l > 1:
            shapes[f"J_z{l}_a{l - 1}"] = (n[l], n[l - 1])
        shapes[f"J_z{l}_W{l}"] = (n[l], n[l] * n[l - 1])
        shapes[f"J_z{l}_b{l}"] = (n[l], n[l])
    if net.fused is not None:
        shapes[f"J_L_z{L}"] = (1, n[L])
    return shapes


def output_factors(net: Network, jac: dict[str, Any]) -> tuple[list[Factor], float | None]:
    """The chain's loss end: ``[∂L/∂a[L], ∂a[L]/∂z[L]]``, or ``[∂L/∂z[L]]`` where those are not
    finite; and ``max|unfused − fused|`` where both exist (else ``None``)."""
    L = net.depth
    unfused = [Factor(f"J_L_a{L}", jac[f"J_L_a{L}"]), Factor(f"J_a{L}_z{L}", jac[f"J_a{L}_z{L}"])]
    if net.fused is None:
        return unfused, None
    fused = jac[f"J_L_z{L}"]
    with np.errstate(invalid="ignore", over="ignore"):
        product = to_dense(unfused[0].matrix @ unfused[1].matrix)
    if np.all(np.isfinite(unfused[0].matrix)) and np.all(np.isfinite(product)):
        return unfused, float(np.max(np.abs(product - fused)))
    return [Factor(f"J_L_z{L}", fused)], None


def chain(net: Network, jac: dict[str, Any], head: list[Factor], l: int, end: str) -> list[Factor]:
    """The factors of ``∂L/∂<end>`` for layer ``l``: ``head`` (the loss end), then
    ``∂z[k]/∂a[k-1] · ∂a[k-1]/∂z[k-1]`` for ``k = L … l+1``, then ``∂z[l]/∂<end>``.

    ``end`` is ``'W'``, ``'b'`` or ``'z'`` (no last factor: the chain of ``δ[l]ᵀ``)."""
    factors = list(head)
    for k in range(net.depth, l, -1):
        factors.append(Factor(f"J_z{k}_a{k - 1}", jac[f"J_z{k}_a{k - 1}"]))
        factors.append(Factor(f"J_a{k - 1}_z{k - 1}", jac[f"J_a{k - 1}_z{k - 1}"]))
    if end in ("W", "b"):
        factors.append(Factor(f"J_z{l}_{end}{l}", jac[f"J_z{l}_{end}{l}"]))
    return factors


@dataclass(frozen=True)
class ChainReport:
    """What one chain of example 0 multiplied: factor names and shapes, order, cost."""

    target: str
    factors: tuple[tuple[str, tuple[int, int]], ...]
    product_shape: tuple[int, int]
    result_shape: tuple[int, ...]
    multiply_adds: int
    expression: str


@dataclass(frozen=True)
class JacobianRoute:
    """Gradients by explicit Jacobian chains, with what was multiplied and how."""

    gradients: dict[str, Matrix]
    deltas: dict[str, Matrix]
    jacobians: dict[str, Any]
    chains: tuple[ChainReport, ...]
    order: str
    multiply_adds: int
    fused_examples: tuple[int, ...] = ()
    fused_gap: float | None = None
    notes: tuple[str, ...] = field(default=())
    representation: str = "dense"
    strategy: str = "examples"


def _report(
    target: str, product: Product, factors: list[Factor], shape: tuple[int, ...]
) -> ChainReport:
    r, c = product.value.shape
    return ChainReport(
        target,
        tuple((f.name, f.shape) for f in factors),
        (int(r), int(c)),
        shape,
        product.multiply_adds,
        product.expression,
    )


def _reverse_values(net: Network, jac: dict[str, Any], head: list[Factor]) -> dict[str, Any]:
    """Every chain's product in reverse order, by gradient name (``delta2``, ``dW2``, ``db2``,
    …), sharing the common left part: ``δ[l]ᵀ = δ[l+1]ᵀ · ∂z[l+1]/∂a[l] · ∂a[l]/∂z[l]`` and
    ``∂L/∂vec(W[l]) = δ[l]ᵀ · ∂z[l]/∂vec(W[l])``.

    The same floating-point operations as :func:`~jacobians.compose.multiply` in reverse order
    (a left fold), done once instead of once per chain: this is reverse accumulation. The
    counts and expressions come from :func:`planned_reports`."""
    out: dict[str, Any] = {}
    value = head[0].matrix
    for f in head[1:]:
        value = value @ f.matrix
    for l in range(net.depth, 0, -1):
        if l < net.depth:
            value = value @ jac[f"J_z{l + 1}_a{l}"] @ jac[f"J_a{l}_z{l}"]
        out[f"delta{l}"] = value
        out[f"dW{l}"] = value @ jac[f"J_z{l}_W{l}"]
        out[f"db{l}"] = value @ jac[f"J_z{l}_b{l}"]
    return out


STRATEGIES = ("examples", "batch", "auto")


def largest_batch_factor(net: Network, batch: int) -> tuple[str, tuple[int, int], int]:
    """A bound on the largest batch factor or product held as a matrix: ``∂vec(A)/∂vec(Z)``
    is ``n·B × n·B`` (softmax's blocks are not diagonal), ``W ⊗ I_B`` is ``n·B × m·B``,
    ``I_n ⊗ Aᵀ`` is ``n·B × n·m``, and a forward-order product is as tall as the tallest and
    as wide as the widest; bytes of float64."""
    tall = max(n * batch for n in net.sizes[1:])
    wide = max(max(n * batch for n in net.sizes), max(n * m for m, n in pairwise(net.sizes)))
    return "the largest batch factor or product", (tall, wide), 8 * tall * wide


def planned_reports(net: Network, order: str, fused: bool) -> tuple[ChainReport, ...]:
    """Every chain of one example as :func:`jacobian_route` reports it, from the shapes alone."""
    shapes = jacobian_shapes(net)
    L = net.depth
    head = [f"J_L_z{L}"] if fused else [f"J_L_a{L}", f"J_a{L}_z{L}"]
    reports = []
    for l in range(1, L + 1):
        for end in ("z", "W", "b"):
            names = list(head)
            for k in range(L, l, -1):
                names += [f"J_z{k}_a{k - 1}", f"J_a{k - 1}_z{k - 1}"]
            if end != "z":
                names.append(f"J_z{l}_{end}{l}")
            dims = [shapes[names[0]][0], *(shapes[n][1] for n in names)]
            cost, expression = plan(names, dims, order)
            target = {"z": f"delta{l}", "W": f"dW{l}", "b": f"db{l}"}[end]
            result = net.weight_shape(l) if end == "W" else (net.sizes[l],)
            reports.append(
                ChainReport(
                    target,
                    tuple((n, shapes[n]) for n in names),
                    (1, dims[-1]),
                    result,
                    cost,
                    expression,
                )
            )
    return tuple(reports)


def _batch_route(
    net: Network,
    params: Parameters,
    order: str,
    representation: str,
    memory_budget: int,
    switched: str | None,
) -> JacobianRoute:
    """The batch strategy: one chain per gradient through the batch Jacobians; the chains
    reported are those of one example (:func:`planned_reports`)."""
    from .batchchain import batch_jacobians

    B, L = params.batch, net.depth
    if representation != "structured" or order != "reverse":
        name, shape, size = largest_batch_factor(net, B)
        if size > memory_budget:
            raise InvalidValueError(
                message(
                    "strategy",
                    f"batch Jacobians within the memory budget of {_bytes(memory_budget)}",
                    f"{name}, {shape[0]}×{shape[1]} for a batch of {B}: {_bytes(size)}",
                    "use --strategy examples, or structured Jacobians in reverse order",
                )
            )
    jac = batch_jacobians(net, params, representation)
    head, gap = output_factors(net, jac)
    if gap is not None:
        gap *= B  # the batch rows carry the mean's 1/B; compare on the examples' scale
    shared = _reverse_values(net, jac, head) if order == "reverse" else {}
    gradients: dict[str, Matrix] = {}
    deltas: dict[str, Matrix] = {}
    total = 0
    for l in range(1, L + 1):
        n = net.sizes[l]
        for end in ("z", "W", "b"):
            factors = chain(net, jac, head, l, end)
            target = {"z": f"delta{l}", "W": f"dW{l}", "b": f"db{l}"}[end]
            if target in shared:
                value = shared[target]
                total += order_cost(dimensions(factors), "reverse")
            else:
                product = multiply(factors, order)
                value = product.value
                total += product.multiply_adds
            row = to_dense(value)
            if end == "z":
                deltas[f"delta{l}"] = row.reshape(n, B) * B
            elif end == "W":
                gradients[f"dW{l}"] = row_to_matrix(row, net.weight_shape(l))
            else:
                gradients[f"db{l}"] = row_to_vector(row)
    fused = head[0].name.startswith("J_L_z")
    notes = [switched] if switched else []
    notes.append(
        f"a batch of {B} as one chain through the batch Jacobians (∂vec(Z)/∂vec(W) = I ⊗ Aᵀ, "
        f"{n * B} rows for layer {L}); the chains shown are those of one example"
    )
    if fused:
        notes.append(
            f"∂L/∂a[{L}] is ±∞ where ∂a[{L}]/∂z[{L}] is 0 (∞·0) for some example: the "
            f"batch chain used the fused row ∂L/∂z[{L}] = (a[{L}] − y)ᵀ / B"
        )
    return JacobianRoute(
        {k: gradients[k] for k in sorted(gradients, key=lambda k: (int(k[2:]), k[1]))},
        {f"delta{l}": deltas[f"delta{l}"] for l in range(1, L + 1)},
        jac,
        planned_reports(net, order, fused),
        order,
        total,
        tuple(range(B)) if fused else (),
        gap,
        tuple(notes),
        representation,
        "batch",
    )


def jacobian_route(
    net: Network,
    params: Parameters,
    order: str = "reverse",
    jacobians: str = "dense",
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    strategy: str = "auto",
) -> JacobianRoute:
    """``dW[l]``, ``db[l]`` and ``δ[l]`` for every layer by multiplying Jacobian chains.

    ``jacobians`` is the representation of the factors: ``dense`` (refused above
    ``memory_budget`` bytes), ``sparse``, ``structured``, or ``auto`` (dense while it fits).
    The multiply–add counts are those of dense factors in the chosen order.

    ``strategy`` for a batch: ``examples`` (one chain per example, averaged: every factor the
    size the notation shows), ``batch`` (one chain through the batch Jacobians, e.g.
    ``I_n ⊗ Aᵀ``; :mod:`jacobians.batchchain`), or ``auto``: ``batch`` for structured factors,
    where it is the faster (benchmarks/scale.py), ``examples`` for dense and sparse ones.

    Returns gradients named ``dW1, db1, …`` (``dW[l]`` is ``n_l × n_{l-1}``, ``db[l]`` is ``n_l``),
    ``deltas`` named ``delta1, …`` (``n_l × B``, one column per example), example 0's Jacobians,
    and a report of every chain of example 0 with its multiply–add count.
    """
    representation, switched = choose_representation(net, jacobians, memory_budget)
    if strategy not in STRATEGIES:
        raise unknown_name("strategy", strategy, STRATEGIES)
    if strategy == "auto":  # the faster and the lighter (benchmarks/scale.py)
        strategy = "batch" if representation == "structured" and order == "reverse" else "examples"
    if strategy == "batch" and params.batch > 1:
        return _batch_route(net, params, order, representation, memory_budget, switched)
    cache = forward(net, params)
    L, B = net.depth, params.batch
    sums: dict[str, Matrix] = {}
    for l in range(1, L + 1):
        sums[f"dW{l}"] = np.zeros(net.weight_shape(l))
        sums[f"db{l}"] = np.zeros(net.sizes[l])
    deltas = {f"delta{l}": np.zeros((net.sizes[l], B)) for l in range(1, L + 1)}
    reports: list[ChainReport] = []
    total, fused_at, gaps = 0, [], []
    jac0: dict[str, Any] = {}
    plans: dict[bool, tuple[ChainReport, ...]] = {}
    for i in range(B):
        jac = example_jacobians(net, params, cache, i, representation)
        jac0 = jac0 or jac
        head, gap = output_factors(net, jac)
        if gap is not None:
            gaps.append(gap)
        if head[0].name.startswith("J_L_z"):
            fused_at.append(i)
        if order == "reverse":
            fused_here = head[0].name.startswith("J_L_z")
            if fused_here not in plans:
                plans[fused_here] = planned_reports(net, order, fused_here)
            values = _reverse_values(net, jac, head)
            for r in plans[fused_here]:
                row = to_dense(values[r.target])
                total += r.multiply_adds
                if r.target.startswith("delta"):
                    deltas[r.target][:, i] = row_to_vector(row)
                    continue
                if r.target.startswith("dW"):
                    value = row_to_matrix(row, r.result_shape)  # type: ignore[arg-type]
                else:
                    value = row_to_vector(row)
                if i == 0:  # the first example's fresh array starts the sum: no zeros, no copy
                    sums[r.target] = value
                else:
                    sums[r.target] += value
            if i == 0:
                reports.extend(plans[fused_here])
            continue
        for l in range(1, L + 1):
            for end in ("z", "W", "b"):
                factors = chain(net, jac, head, l, end)
                product = multiply(factors, order)
                total += product.multiply_adds
                row = to_dense(product.value)
                if end == "z":
                    value = row_to_vector(row)
                    deltas[f"delta{l}"][:, i] = value
                    name = f"delta{l}"
                elif end == "W":
                    value = row_to_matrix(row, net.weight_shape(l))
                    name = f"dW{l}"
                else:
                    value = row_to_vector(row)
                    name = f"db{l}"
                if end != "z":
                    sums[name] += value
                if i == 0:
                    reports.append(_report(name, product, factors, value.shape))
    if B > 1:
        for v in sums.values():
            v /= B
    gradients = sums
    notes = [switched] if switched else []
    if fused_at and net.fused is not None:
        notes.append(
            f"∂L/∂a[{L}] is ±∞ where ∂a[{L}]/∂z[{L}] is 0 (∞·0) for example(s) "
            f"{', '.join(map(str, fused_at[:10]))}{' …' if len(fused_at) > 10 else ''} "
            f"({net.fused.activation} saturated under {net.fused.loss}): the chain used the fused "
            f"row ∂L/∂z[{L}] = (a[{L}] − y)ᵀ there"
        )
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
    )
