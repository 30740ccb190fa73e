"""The activation registry: each rule is a pair ``(g, g')`` defined once, next to each other.

An elementwise activation has the diagonal Jacobian ``∂a/∂z = diag(g'(z))``; softmax (in
:mod:`jacobians.softmax`) is the one whose Jacobian is full. Every route — the Jacobian
chain, the compact formulas, the symbolic package, the plots — looks activations up here.

Conventions at points where ``g`` is not differentiable (its *kinks*): ``relu'(0) = 0`` and
``leaky_relu'(0) = α``, the slope of the left side. Any value between the one-sided
derivatives is a valid subgradient; choosing the left one means a unit whose input is exactly
0 passes no gradient, which is what the common frameworks do. The numerical route flags
differences whose stencil crosses a kink instead of calling them mismatches.

Names are normalised (case, ``-`` for ``_``); ``leaky_relu:0.2`` sets the slope (default 0.01).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar, Protocol

import numpy as np

from ._typing import FloatArray, Matrix, Vector
from .errors import InvalidValueError, message, unknown_name
from .logistic import expit
from .softmax import Softmax

DEFAULT_LEAKY_SLOPE = 0.01


class Activation(Protocol):
    """What every activation offers: the value, its Jacobian, and its transpose applied to v."""

    @property
    def name(self) -> str: ...

    @property
    def elementwise(self) -> bool: ...

    @property
    def kinks(self) -> tuple[float, ...]: ...

    @property
    def output_range(self) -> tuple[float, float]: ...

    def __call__(self, z: FloatArray) -> FloatArray: ...

    def jacobian(self, z: Vector) -> Matrix: ...

    def vjp(self, z: FloatArray, v: FloatArray) -> FloatArray: ...


UnaryFn = Callable[[FloatArray], FloatArray]
BinaryFn = Callable[[FloatArray, FloatArray], FloatArray]


@dataclass(frozen=True)
class Elementwise:
    """An elementwise activation ``a_i = g(z_i)`` with its derivative ``g'``; each returns a
    new array (:meth:`vjp` multiplies into the one ``g'`` returns). ``product``, where given,
    is ``v ⊙ g'(z)`` in fewer passes over the arrays, equal to it to the last bit."""

    name: str
    g: UnaryFn = field(repr=False)
    dg: UnaryFn = field(repr=False)
    kinks: tuple[float, ...] = ()
    output_range: tuple[float, float] = (-np.inf, np.inf)
    product: BinaryFn | None = field(default=None, repr=False)
    elementwise: ClassVar[bool] = True

    def __call__(self, z: FloatArray) -> FloatArray:
        """``a = g(z)``, any shape in, the same shape out."""
        return self.g(np.asarray(z, dtype=np.float64))

    def derivative(self, z: FloatArray) -> FloatArray:
        """``g'(z)``, elementwise, the same shape as ``z``."""
        return self.dg(np.asarray(z, dtype=np.float64))

    def jacobian(self, z: Vector) -> Matrix:
        """``∂a/∂z = diag(g'(z))``, shape ``(n, n)`` for ``z`` of shape ``(n,)``.

        >>> ACTIVATIONS["square"].jacobian(np.array([1.0, 3.0])).tolist()
        [[2.0, 0.0], [0.0, 6.0]]
        """
        return np.diag(self.derivative(z))

    def vjp(self, z: FloatArray, v: FloatArray) -> FloatArray:
        """``(∂a/∂z)ᵀ v = v ⊙ g'(z)``: the diagonal Jacobian applied without building it."""
        if self.product is not None:
            return self.product(np.asarray(z, dtype=np.float64), np.asarray(v, dtype=np.float64))
        d = self.derivative(z)
        if _writable_result(d, z, v):  # into g'(z)'s own fresh array: one array fewer
            return np.multiply(v, d, out=d)
        return np.asarray(v, dtype=np.float64) * d


def _writable_result(d: object, z: FloatArray, v: FloatArray) -> bool:
    """Whether ``v ⊙ d`` may overwrite ``d = g'(z)``: a float64 array of ``v``'s shape that owns
    its memory and is not ``z`` (every rule of :data:`ACTIVATIONS` makes a new one)."""
    return (
        isinstance(d, np.ndarray)
        and d is not z
        and d.base is None
        and d.dtype == np.float64
        and d.shape == np.shape(v)
    )


def _f64(x: object) -> FloatArray:
    return np.asarray(x, dtype=np.float64)


def _sigmoid(z: FloatArray) -> FloatArray:
    return _f64(expit(z))


def _sigmoid_prime(z: FloatArray) -> FloatArray:
    # σ' = σ(1 − σ), computed from the same σ that bce's ∂L/∂ŷ = (ŷ − y)/(ŷ(1 − ŷ)) divides
    # by, so the product of the two factors cancels to ŷ − y to a few ulps.
    s = _sigmoid(z)
    return s * (1.0 - s)


def _relu_product(z: FloatArray, v: FloatArray) -> FloatArray:
    # v ⊙ (z > 0): the multiply reads the mask as 1.0 and 0.0, so this is v ⊙ relu'(z) to the
    # last bit (signed zeros and v·0 = nan for infinite v included) without relu'(z)'s array
    return np.multiply(v, z > 0)


def number_text(value: float) -> str:
    """The shortest text that reads back as exactly ``value``: ``0.2``, ``2``, ``1e-05``,
    ``0.123456789`` (``:g`` alone would round that to ``0.123457``).

    >>> number_text(2.0), number_text(0.123456789)
    ('2', '0.123456789')
    """
    text = f"{value:g}"
    return text if float(text) == value else repr(float(value))


def leaky_relu(slope: float = DEFAULT_LEAKY_SLOPE) -> Elementwise:
    """``g(z) = z`` for ``z > 0`` and ``α z`` otherwise; ``g'(z) = 1`` or ``α`` (``α`` at 0)."""
    name = "leaky_relu" if slope == DEFAULT_LEAKY_SLOPE else f"leaky_relu:{number_text(slope)}"
    return Elementwise(
        name,
        lambda z: np.where(z > 0, z, slope * z),
        lambda z: np.where(z > 0, 1.0, slope),
        kinks=(0.0,),
    )


ACTIVATIONS: dict[str, Elementwise] = {
    a.name: a
    for a in (
        Elementwise("identity", lambda z: z.copy(), np.ones_like),
        Elementwise(
            "relu",
            lambda z: np.maximum(z, 0.0),
            lambda z: (z > 0).astype(np.float64),
            kinks=(0.0,),
            output_range=(0.0, np.inf),
            product=_relu_product,
        ),
        leaky_relu(),
        Elementwise("sigmoid", _sigmoid, _sigmoid_prime, output_range=(0.0, 1.0)),
        Elementwise("tanh", np.tanh, lambda z: 1.0 - np.tanh(z) ** 2, output_range=(-1.0, 1.0)),
        Elementwise(
            "softplus", lambda z: np.logaddexp(0.0, z), _sigmoid, output_range=(0.0, np.inf)
        ),
        Elementwise("square", np.square, lambda z: 2.0 * z, output_range=(0.0, np.inf)),
    )
}
"""The elementwise rules by name; ``softmax`` is added by :func:`get_activation`."""


def activation_names() -> list[str]:
    """Every name :func:`get_activation` accepts (``leaky_relu:<slope>`` aside)."""
    return sorted([*ACTIVATIONS, Softmax.name])


def normalize(name: str) -> str:
    """``' Leaky-ReLU '`` → ``'leaky_relu'``: the one spelling a registry key has."""
    return name.strip().lower().replace("-", "_")


def get_activation(name: str, what: str = "activation") -> Activation:
    """The activation called ``name``; ``what`` names the argument in the error message.

    >>> get_activation("Leaky-ReLU:0.2").name
    'leaky_relu:0.2'
    >>> get_activation("softmax").elementwise
    False
    """
    rule = ACTIVATIONS.get(name)  # a registry key as it is (a kind's name): no parsing
    if rule is not None:
        return rule
    raw_key, colon, parameter = name.partition(":")
    key, parameter = normalize(raw_key), parameter.strip()
    if colon and not parameter:
        raise InvalidValueError(
            message(
                what,
                f"{key}:<value> with a value after the colon",
                repr(name),
                f"write {key} for the default",
            )
        )
    if key == Softmax.name and not parameter:
        return Softmax()
    if key not in ACTIVATIONS:
        raise unknown_name(what, name, activation_names())
    if not parameter:
        return ACTIVATIONS[key]
    if key != "leaky_relu":
        raise InvalidValueError(
            message(what, f"no parameter for {key!r}", repr(name), "only leaky_relu takes one")
        )
    try:
        slope = float(parameter)
    except ValueError:
        raise InvalidValueError(
            message(what, "leaky_relu:<slope> with a number", repr(name), "e.g. leaky_relu:0.2")
        ) from None
    if not np.isfinite(slope):
        raise InvalidValueError(message(what, "a finite leaky_relu slope", repr(name)))
    return leaky_relu(slope)
