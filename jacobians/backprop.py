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

from collections.abc import Iterator, Mapping
from typing import NamedTuple

from ._typing import FloatArray
from .layers.base import Params
from .network import Cache, Network, Node, bind, flat, forward
from .parameters import Parameters


class VectorizedRoute(NamedTuple):
    """Gradients ``dW1, db1, …`` (their parameters' shapes) and deltas ``delta1, …`` (each
    layer's output shape × ``B``) by the compact formulas. A named tuple: one is made on every
    pass, and a frozen dataclass's checked attribute setting costs more."""

    gradients: dict[str, FloatArray]
    deltas: dict[str, FloatArray]


class Step(NamedTuple):
    """One layer of the backward pass: its ``node``, each example's gradient ``g`` at its
    output, at its input (``back``; ``None`` where not asked for), and its parameters'
    gradients summed over the examples (by role), as :func:`backward_steps` yields it (the
    walk itself keeps plain tuples)."""

    node: Node
    g: FloatArray
    back: FloatArray | None
    grads: dict[str, FloatArray]


StepTuple = tuple[Node, FloatArray, FloatArray | None, dict[str, FloatArray]]
"""A :class:`Step` as the walk makes it: a plain tuple (unpacked faster than a named one)."""

_step = tuple.__new__
"""``_step(Step, t)`` is ``Step(*t)`` without the named tuple's Python ``__new__`` (likewise for
``VectorizedRoute``)."""

Mistake = tuple[str, str]
"""``(a layer's output, mistake)``: that layer's backward pass done wrong (the checker's)."""


def output_gradient(net: Network, params: Parameters, cache: Cache) -> tuple[int, FloatArray]:
    """Where the backward pass starts: the last node it goes through and each example's
    gradient at that node's output — ``a[L] − y`` at the last activation's input for a fused
    pair (sigmoid with bce, softmax with ce), else ``(∂L/∂ŷ)ᵀ``."""
    fused = net.fused
    if fused is not None:
        return len(net.nodes) - 2, fused.delta(cache.output, params.target(net))
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
    bound: Mapping[str, Params] | None = None,
) -> Iterator[Step]:
    """Each layer's compact backward pass from the output to outer node ``down_to`` (the
    gradient at its input only with ``input_at_end``), a block's own layers before the block:
    its ``back`` is ``g`` plus their chain's (the identity path and ``f``'s). With ``mistake``,
    that layer's pass is done wrong (:meth:`~jacobians.layers.base.Kind.mistaken_backward`;
    a block's ``identity_path_forgotten``), and the walk stops where a wrongly shaped gradient
    cannot go on. ``bound`` (:func:`~jacobians.network.bind` of ``params``) gives each node's
    values instead of building them. The whole walk runs at the first step asked for (an error
    a step raises, a mistake that cannot be made there, is raised then)."""
    start, g = output_gradient(net, params, cache)
    steps: list[StepTuple] = []
    _walk(net.nodes[: start + 1], g, params, cache, down_to, input_at_end, mistake, bound, steps)
    for step in steps:
        yield _step(Step, step)


def _walk(
    nodes: tuple[Node, ...],
    g: FloatArray,
    params: Parameters,
    cache: Cache,
    down_to: int,
    input_at_end: bool,
    mistake: Mistake | None,
    bound: Mapping[str, Params] | None,
    steps: list[StepTuple],
) -> FloatArray | None:
    """:func:`backward_steps` over one sequence, appending each layer's step to ``steps`` (a
    list, not a generator: one resumption fewer per layer); returns the gradient at its input,
    ``None`` where the walk stopped."""
    back: FloatArray | None = g
    values = cache.values
    for j in range(len(nodes) - 1, down_to - 1, -1):
        node = nodes[j]
        a = values[node.input]
        wrong = mistake is not None and mistake[0] == node.output
        grads: dict[str, FloatArray]
        if node.inner:
            through = _walk(node.inner, g, params, cache, 0, True, mistake, bound, steps)
            if through is None:
                return None
            # identity_path_forgotten: f's alone
            back, grads = through if wrong else g + through, {}
        else:
            own = params.of(node) if bound is None else bound[node.output]
            out = values[node.output]
            if wrong:
                assert mistake is not None
                after = _after(nodes, j, cache)
                back, grads = node.kind.mistaken_backward(mistake[1], own, a, out, g, after)
            else:
                need = j > down_to or (input_at_end and node.kind.differentiable_input)
                back, grads = node.kind.backward(own, a, out, g, need)
        steps.append((node, g, back, grads))  # a plain tuple: unpacked faster than a Step
        if back is None or (wrong and back.shape != a.shape):  # a right pass keeps the shape
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
    bound = bind(net, params)  # each layer's values by role, for both passes
    cache = forward(net, params, bound=bound)
    start, g = output_gradient(net, params, cache)  # backward_steps without its generator
    steps: list[StepTuple] = []
    _walk(net.nodes[: start + 1], g, params, cache, net.first_trained, False, None, bound, steps)
    gradients: dict[str, FloatArray] = {}
    ordered: dict[str, FloatArray] = {}
    names = net.gradient_names
    # the walk goes from the output down, a block's own layers before the block: reversed, in
    # layer order (net.all_nodes: a block, then its own layers), each in role order
    for node, g, _, grads in reversed(steps):
        if node.output in names:
            delta, roles = names[node.output]
            ordered[delta] = g
            for role, name in roles:
                gradients[name] = grads[role]
    B = params.x.shape[-1]  # params.batch without its property call
    if B > 1:
        for value in gradients.values():
            value /= B  # in place: fresh sums, and no second array of their size
    return _step(VectorizedRoute, (gradients, ordered))
