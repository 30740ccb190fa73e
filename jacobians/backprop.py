"""The vectorized route: the compact formulas of backpropagation on a whole batch.

Each layer kind applies its own compact backward pass (:meth:`jacobians.layers.base.Kind.backward`)
from the last layer to the first, without building a Jacobian. For dense layers these are

- ``δ[L] = a[L] − y`` for a fused output pair (sigmoid with bce, softmax with ce); otherwise
  ``δ[L] = (∂a[L]/∂z[L])ᵀ (∂L/∂ŷ)ᵀ``, which is ``∂L/∂ŷ ⊙ g'(z[L])`` for an elementwise ``g`` and
  ``s ⊙ (v − (sᵀv) 1)`` for softmax — applied per column, no Jacobian built;
- ``δ[l] = (W[l+1]ᵀ δ[l+1]) ⊙ g'[l](z[l])`` (softmax: its transposed Jacobian applied the same way);
- ``dW[l] = (1/B) Δ[l] A[l-1]ᵀ`` and ``db[l] = (1/B) Δ[l] 1``, where ``Δ[l]`` holds the examples'
  ``δ[l]`` as columns;

and for a convolution ``dW = (1/B) Δ U``, ``db`` the sums of ``Δ``, and the input gradient the
transposed correlation; for pooling, the gradient routed to each window's maximum or spread
over it.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import dataclass

from ._typing import FloatArray
from .network import Cache, Network, Node, flat, forward
from .parameters import Parameters


@dataclass(frozen=True)
class VectorizedRoute:
    """Gradients ``dW1, db1, …`` (their parameters' shapes) and deltas ``delta1, …`` (each
    layer's output shape × ``B``) by the compact formulas."""

    gradients: dict[str, FloatArray]
    deltas: dict[str, FloatArray]


@dataclass(frozen=True)
class Step:
    """One layer of the backward pass: its ``node``, each example's gradient ``g`` at its
    output, at its input (``back``; ``None`` where not asked for), and its parameters'
    gradients summed over the examples (by role)."""

    node: Node
    g: FloatArray
    back: FloatArray | None
    grads: dict[str, FloatArray]


Mistake = tuple[str, str]
"""``(a layer's output, mistake)``: that layer's backward pass done wrong (the checker's)."""


def output_gradient(net: Network, params: Parameters, cache: Cache) -> tuple[int, FloatArray]:
    """Where the backward pass starts: the last node it goes through and each example's
    gradient at that node's output — ``a[L] − y`` at the last activation's input for a fused
    pair (sigmoid with bce, softmax with ce), else ``(∂L/∂ŷ)ᵀ``."""
    if net.fused is not None:
        return len(net.nodes) - 2, net.fused.delta(cache.output, params.target(net))
    A = cache.output
    g = net.loss.gradient(flat(A), flat(params.target(net))).reshape(A.shape)
    return len(net.nodes) - 1, g


def backward_steps(
    net: Network,
    params: Parameters,
    cache: Cache,
    down_to: int = 0,
    input_at_end: bool = True,
    mistake: Mistake | None = None,
) -> Iterator[Step]:
    """Each layer's compact backward pass from the output to outer node ``down_to`` (the
    gradient at its input only with ``input_at_end``), a block's own layers before the block:
    its ``back`` is ``g`` plus their chain's (the identity path and ``f``'s). With ``mistake``,
    that layer's pass is done wrong (:meth:`~jacobians.layers.base.Kind.mistaken_backward`;
    a block's ``identity_path_forgotten``), and the walk stops where a wrongly shaped gradient
    cannot go on."""
    start, g = output_gradient(net, params, cache)
    yield from _walk(net.nodes[: start + 1], g, params, cache, down_to, input_at_end, mistake)


def _walk(
    nodes: tuple[Node, ...],
    g: FloatArray,
    params: Parameters,
    cache: Cache,
    down_to: int,
    input_at_end: bool,
    mistake: Mistake | None,
) -> Generator[Step, None, FloatArray | None]:
    """:func:`backward_steps` over one sequence; returns the gradient at its input."""
    back: FloatArray | None = g
    for j in range(len(nodes) - 1, down_to - 1, -1):
        node = nodes[j]
        a, out = cache.values[node.input], cache.values[node.output]
        wrong = mistake is not None and mistake[0] == node.output
        grads: dict[str, FloatArray] = {}
        if node.inner:
            through = yield from _walk(node.inner, g, params, cache, 0, True, mistake)
            if through is None:
                return None
            back = through if wrong else g + through  # identity_path_forgotten: f's alone
        elif wrong:
            assert mistake is not None
            after = _after(nodes, j, cache)
            back, grads = node.kind.mistaken_backward(mistake[1], params.of(node), a, out, g, after)
        else:
            need = j > down_to or (input_at_end and node.kind.differentiable_input)
            back, grads = node.kind.backward(params.of(node), a, out, g, need_input=need)
        yield Step(node, g, back, grads)
        if back is None or back.shape != a.shape:
            return None
        g = back
    return back


def _after(nodes: tuple[Node, ...], j: int, cache: Cache) -> FloatArray | None:
    """The output of the activation after node ``j``, ``a[l]``, if one follows it."""
    if j + 1 < len(nodes) and nodes[j + 1].kind.activation:
        return cache.values[nodes[j + 1].output]
    return None


def owned(node: Node) -> list[str]:
    """The parameters of a node and, for a block, of its own layers."""
    return [name for m in (node, *node.inside) for name in m.parameters.values()]


def vectorized_route(net: Network, params: Parameters) -> VectorizedRoute:
    """Backpropagation by each layer's compact backward pass, ``dθ = (1/B) Σ_examples``.

    >>> import numpy as np
    >>> net = Network.from_spec("1-1", "identity", "mse")
    >>> W, b, x, y = np.array([[2.0]]), np.array([0.0]), np.array([[3.0]]), np.array([[1.0]])
    >>> p = Parameters((W,), (b,), x, y)
    >>> vectorized_route(net, p).gradients["dW1"].tolist()   # (2·3 − 1)·3
    [[15.0]]
    """
    cache = forward(net, params)
    owners = {name: j for j, node in enumerate(net.nodes) for name in owned(node)}
    lowest = min(owners.values())
    sums: dict[str, FloatArray] = {}
    deltas: dict[str, FloatArray] = {}
    for step in backward_steps(net, params, cache, lowest, input_at_end=False):
        node = step.node
        if node.kind.roles:
            deltas[f"delta{node.label}"] = step.g
        for role, value in step.grads.items():
            sums[f"d{node.parameters[role]}"] = value
    gradients = {f"d{name}": sums[f"d{name}"] for name in net.parameter_names}
    if params.batch > 1:
        for value in gradients.values():
            value /= params.batch  # in place: fresh sums, and no second array of their size
    ordered = {f"delta{n.label}": deltas[f"delta{n.label}"] for n in net.parametric}
    return VectorizedRoute(gradients, ordered)
