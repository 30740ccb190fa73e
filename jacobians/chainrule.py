"""Chains of scalar functions and their derivatives: the foundations chapter's first models.

A chain ``f_K ∘ ⋯ ∘ f_2 ∘ f_1`` of elementwise functions (any from the activation registry)
has, by the chain rule, the derivative

    (f_K ∘ ⋯ ∘ f_1)'(x) = f_K'(u_{K-1}) · ⋯ · f_2'(u_1) · f_1'(u_0),   u_0 = x, u_k = f_k(u_{k-1}),

each link's derivative evaluated at the value flowing *into* it. Every function here works
elementwise on arrays. The numeric derivative is the central difference
``(f(x + h) − f(x − h)) / 2h`` with the chapter's default step ``h = 0.001``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ._typing import ArrayLike, FloatArray
from .activations import Elementwise, get_activation
from .errors import InvalidValueError, message

DEFAULT_STEP = 0.001
ArrayFn = Callable[[FloatArray], FloatArray]


def numeric_derivative(f: ArrayFn, x: ArrayLike, step: float = DEFAULT_STEP) -> FloatArray:
    """``(f(x + h) − f(x − h)) / 2h``, elementwise; ``x`` any shape, the result the same shape.

    >>> round(float(numeric_derivative(np.square, 3.0)), 9)   # (3.001² − 2.999²) / 0.002 = 6
    6.0
    """
    if not (np.isfinite(step) and step > 0):
        raise InvalidValueError(message("step", "a finite number > 0", repr(step)))
    u = np.asarray(x, dtype=np.float64)
    return np.asarray((f(u + step) - f(u - step)) / (2 * step), dtype=np.float64)


def elementwise_link(name: str, what: str = "function") -> Elementwise:
    """An elementwise activation by name; softmax is refused (a chain link maps a number to a
    number)."""
    g = get_activation(name, what)
    if not isinstance(g, Elementwise):
        raise InvalidValueError(
            message(
                what,
                "an elementwise function",
                repr(name),
                "softmax maps a vector to a vector; a chain link maps numbers to numbers",
            )
        )
    return g


@dataclass(frozen=True)
class Link:
    """One link of a chain: ``output = f(input)`` and ``f'(input)``, analytic and numeric."""

    name: str
    input: FloatArray
    output: FloatArray
    derivative: FloatArray
    numeric: FloatArray


@dataclass(frozen=True)
class ChainResult:
    """A chain evaluated at ``x``: its links, value, chain-rule derivative and numeric one."""

    x: FloatArray
    links: tuple[Link, ...]
    derivative: FloatArray
    numeric: FloatArray
    step: float

    @property
    def value(self) -> FloatArray:
        """``f_K(⋯ f_1(x))``."""
        return self.links[-1].output


def chain_value(names: Sequence[str], x: ArrayLike) -> FloatArray:
    """``f_K(⋯ f_2(f_1(x)))`` for the functions named in order of application."""
    u = np.asarray(x, dtype=np.float64)
    for i, name in enumerate(names, start=1):
        u = elementwise_link(name, f"function {i}")(u)
    return u


def chain(
    names: Sequence[str], x: ArrayLike, step: float = DEFAULT_STEP, numeric_links: bool = False
) -> ChainResult:
    """The chain ``f_1`` then ``f_2`` … at ``x``: each link's value and derivative, their
    product (the chain rule), and the central difference of the whole chain.

    With ``numeric_links`` each link's derivative is its own central difference instead of
    its analytic rule.

    >>> r = chain(["square", "sigmoid"], 0.5)   # σ(x²)' = σ'(x²) · 2x = σ'(0.25) · 1
    >>> round(float(r.derivative), 6), round(float(r.numeric), 6)
    (0.246134, 0.246134)
    """
    if not names:
        raise InvalidValueError(message("functions", "at least one function", "none"))
    links = []
    u = np.asarray(x, dtype=np.float64)
    product = np.ones_like(u)
    for i, name in enumerate(names, start=1):
        g = elementwise_link(name, f"function {i}")
        numeric = numeric_derivative(g, u, step)
        slope = numeric if numeric_links else g.derivative(u)
        out = g(u)
        links.append(Link(g.name, u, out, slope, numeric))
        product = product * slope
        u = out
    whole = numeric_derivative(lambda v: chain_value(names, v), x, step)
    return ChainResult(np.asarray(x, dtype=np.float64), tuple(links), product, whole, step)


@dataclass(frozen=True)
class TwoInputs:
    """``f(x, y) = g(x ∘ y)`` for ``∘`` a sum or a product, with both partial derivatives."""

    value: FloatArray
    d_dx: FloatArray
    d_dy: FloatArray


def sum_then(name: str, x: ArrayLike, y: ArrayLike) -> TwoInputs:
    """``g(x + y)``: ``∂/∂x = g'(x + y) · 1`` and ``∂/∂y = g'(x + y) · 1``.

    >>> r = sum_then("sigmoid", 0.0, 0.0); float(r.value), float(r.d_dx), float(r.d_dy)
    (0.5, 0.25, 0.25)
    """
    g = elementwise_link(name)
    a = np.asarray(x, dtype=np.float64) + np.asarray(y, dtype=np.float64)
    slope = g.derivative(a)
    return TwoInputs(g(a), slope, slope.copy())


def product_then(name: str, x: ArrayLike, y: ArrayLike) -> TwoInputs:
    """``g(x · y)``: ``∂/∂x = g'(x y) · y`` and ``∂/∂y = g'(x y) · x``.

    >>> r = product_then("sigmoid", 2.0, 0.0); float(r.d_dx), float(r.d_dy)
    (0.0, 0.5)
    """
    g = elementwise_link(name)
    u, v = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    slope = g.derivative(u * v)
    return TwoInputs(g(u * v), slope * v, slope * u)
