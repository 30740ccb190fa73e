"""Activations as layers: ``relu``, ``sigmoid``, ``leaky_relu(0.2)``, ``softmax``, ….

An elementwise ``a = g(z)`` has the diagonal Jacobian ``diag(g'(vec z))`` on any shape and any
batch (the batch-last ``vec`` keeps it diagonal); softmax acts on a vector and its Jacobian is
``diag(s) − s sᵀ`` per example. The rules themselves live in :mod:`jacobians.activations`
(elementwise) and :mod:`jacobians.softmax`; this module makes them speak the layer protocol.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .._typing import FloatArray
from ..activations import ACTIVATIONS, DEFAULT_LEAKY_SLOPE, Activation, Elementwise, get_activation
from ..softmax import SOFTMAX
from ..structured import Diagonal, SoftmaxBatch, SoftmaxJacobian, Structured
from .base import Kind, NodeNames, Params, Shape, argument, batch_of, need, show


@dataclass(frozen=True)
class ActivationKind(Kind):
    """An activation ``a = g(z)``; :attr:`rule` is the function with its derivative."""

    activation: ClassVar[bool] = True
    summary: ClassVar[str] = "elementwise; diag(g'(z))"

    @property
    def rule(self) -> Activation:
        """The activation function (value, derivative, kinks): the registry's rule of this
        name. A kind whose rule takes no argument holds it as a class attribute instead: every
        pass reads it, and a property is a function call (one Python 3.11 does not specialise)."""
        return ACTIVATIONS[self.name]

    def forward(self, params: Params, a: FloatArray) -> FloatArray:
        """``g(z)``, a new float64 array (every rule returns one)."""
        return self.rule(a)

    def jacobians(self, params: Params, a: FloatArray, out: FloatArray) -> dict[str, Structured]:
        """``diag(g'(vec z))``; softmax: ``diag(s) − s sᵀ`` per example."""
        rule = self.rule
        if isinstance(rule, Elementwise):
            return {"input": Diagonal(rule.derivative(a).reshape(-1))}
        if batch_of(a) == 1:
            return {"input": SoftmaxJacobian(out[:, 0])}
        return {"input": SoftmaxBatch(out)}

    def backward(
        self, params: Params, a: FloatArray, out: FloatArray, g: FloatArray, need_input: bool = True
    ) -> tuple[FloatArray | None, dict[str, FloatArray]]:
        """``g ⊙ g'(z)``; softmax: ``s ⊙ (g − (sᵀ g) 1)`` per example."""
        if not need_input:
            return None, {}
        return self.rule.vjp(a, g), {}  # a new float64 array (every rule returns one)

    def crosses_kink(self, inputs: tuple[FloatArray, FloatArray, FloatArray]) -> bool:
        """An input that changes side of a kink across ``θ − h, θ, θ + h``, or sits on one and
        moves (an input the perturbation does not move stays on one piece, kink or not)."""
        for kink in self.rule.kinks:
            lo, mid, hi = (x - kink for x in inputs)
            s = np.sign(np.stack([lo, mid, hi]))
            moves = (lo != hi) | (lo != mid)
            if np.any(s.min(axis=0) != s.max(axis=0)) or np.any((s == 0).any(axis=0) & moves):
                return True
        return False

    kink_text: ClassVar[str] = "a relu or leaky_relu input within h of 0"

    mistakes: ClassVar[dict[str, str]] = {
        "missing_activation_derivative": "the activation derivative g'(z) is missing",
        "activation_derivative_at_a": "the activation derivative is taken at a = g(z) instead of z",
    }

    def mistaken_backward(
        self,
        mistake: str,
        params: Params,
        a: FloatArray,
        out: FloatArray,
        g: FloatArray,
        after: FloatArray | None = None,
    ) -> tuple[FloatArray, dict[str, FloatArray]]:
        if mistake == "missing_activation_derivative":
            return g, {}
        if mistake == "activation_derivative_at_a":
            return np.asarray(self.rule.vjp(out, g), dtype=np.float64), {}
        raise KeyError(mistake)

    def structure(self, role: str, node: NodeNames) -> str:
        if self.rule.elementwise:
            return f"diag({self.rule.name}'({node.input}))"
        each = "" if node.batch == 1 else " per example"
        return f"diag(s) − s sᵀ, s = softmax({node.input[0]}){each}"


@dataclass(frozen=True)
class Softmaxed(ActivationKind):
    """``softmax``: on a vector (one distribution per example)."""

    name: ClassVar[str] = "softmax"
    summary: ClassVar[str] = "a distribution over a vector; diag(s) − s sᵀ"

    rule = SOFTMAX  # the property's value, as a class attribute (see ActivationKind.rule)

    def out_shape(self, in_shape: Shape) -> Shape:
        need(
            len(in_shape) == 1,
            "input",
            "a vector (softmax is a distribution over one vector)",
            show(in_shape),
            "add flatten before softmax",
        )
        return in_shape


@dataclass(frozen=True)
class LeakyRelu(ActivationKind):
    """``leaky_relu(slope=0.01)``: ``z`` for ``z > 0``, ``slope·z`` otherwise."""

    slope: float = argument(default=DEFAULT_LEAKY_SLOPE, help="the slope left of 0")
    name: ClassVar[str] = "leaky_relu"
    summary: ClassVar[str] = "elementwise, z for z > 0 and slope·z otherwise; diag(g'(z))"

    @property
    def rule(self) -> Activation:
        if self.slope == DEFAULT_LEAKY_SLOPE:
            return get_activation("leaky_relu")
        return get_activation(f"leaky_relu:{self.slope!r}")


def _elementwise(key: str) -> type[ActivationKind]:
    """A kind for the elementwise rule called ``key`` (no arguments): its rule is a class
    attribute (the property's value), and so are its passes (:func:`_passes`)."""
    rule = ACTIVATIONS[key]
    namespace = {"rule": rule, **_passes(rule)}
    kind: type[ActivationKind] = dataclass(frozen=True)(
        type(key.title().replace("_", ""), (ActivationKind,), namespace)
    )
    kind.name = key
    kind.__doc__ = f"``{key}``: elementwise, ``∂a/∂z = diag({key}'(z))``."
    return kind


def _passes(rule: Elementwise) -> dict[str, object]:
    """``forward`` and ``backward`` of :class:`ActivationKind` for one fixed rule, calling the
    rule's own ``g(z)`` and ``v ⊙ g'(z)`` (its ``product`` where it has one) directly: the same
    arithmetic as ``rule(a)`` and ``rule.vjp(a, g)``, one Python call fewer in each (a compact
    pass makes one of each per activation layer)."""
    value, product, vjp = rule.g, rule.product, rule.vjp
    f64 = np.float64

    def forward(self: ActivationKind, params: Params, a: FloatArray) -> FloatArray:
        return value(np.asarray(a, dtype=f64))

    def backward(
        self: ActivationKind,
        params: Params,
        a: FloatArray,
        out: FloatArray,
        g: FloatArray,
        need_input: bool = True,
    ) -> tuple[FloatArray | None, dict[str, FloatArray]]:
        if not need_input:
            return None, {}
        if product is None:
            return vjp(a, g), {}
        return product(np.asarray(a, dtype=f64), np.asarray(g, dtype=f64)), {}

    forward.__doc__ = ActivationKind.forward.__doc__
    backward.__doc__ = ActivationKind.backward.__doc__
    return {"forward": forward, "backward": backward}


ACTIVATION_KINDS: dict[str, type[ActivationKind]] = {
    **{key: LeakyRelu if key == "leaky_relu" else _elementwise(key) for key in ACTIVATIONS},
    Softmaxed.name: Softmaxed,
}
"""Every activation's kind by its spec name (one class each, made once)."""


def activation_kinds() -> Iterator[tuple[str, type[Kind]]]:
    """Every activation by its spec name."""
    yield from ACTIVATION_KINDS.items()


def from_rule(rule: Activation) -> Kind:
    """The kind of an activation given by its rule (``leaky_relu:0.2`` → ``leaky_relu(0.2)``)."""
    key, _, slope = rule.name.partition(":")
    if key == "leaky_relu":
        return LeakyRelu(float(slope) if slope else DEFAULT_LEAKY_SLOPE)
    return ACTIVATION_KINDS[key]()
