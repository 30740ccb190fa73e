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
from .errors import InvalidValueError, ShapeError, message

DEFAULT_STEP = 0.001
EPS = float(np.finfo(np.float64).eps)
ArrayFn = Callable[[FloatArray], FloatArray]


def numeric_derivative(f: ArrayFn, x: ArrayLike, step: float = DEFAULT_STEP) -> FloatArray:
    """``(f(x + h) − f(x − h)) / 2h``, elementwise; ``x`` any shape, the result the same shape.

    >>> round(float(numeric_derivative(np.square, 3.0)), 9)   # (3.001² − 2.999²) / 0.002 = 6
    6.0
    """
    try:
        ok = bool(np.isfinite(step) and step > 0)
    except TypeError:
        ok = False
    if not ok:
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
                "softmax maps a vector to a vector; this needs a function of one number",
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
    kinks: tuple[str, ...] = ()
    """Links whose input lies within ``step`` of a kink: there a central difference averages
    the two one-sided slopes and cannot match the derivative's convention."""
    rounding: float = 0.0
    """A bound on the rounding in the whole chain's central difference: ``10·ε·max|f(x ± h)|/h``."""

    @property
    def inconclusive(self) -> bool:
        """The central difference is lost in rounding (a step too small for the values)."""
        return bool(self.rounding > 1e-3 * float(np.max(np.abs(self.derivative))) + 1e-9)

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
    numeric_derivative(np.square, 0.0, step)  # validates the step
    links, kinks = [], []
    u = np.asarray(x, dtype=np.float64)
    product = np.ones_like(u)
    with np.errstate(all="ignore"):
        for i, name in enumerate(names, start=1):
            g = elementwise_link(name, f"function {i}")
            numeric = numeric_derivative(g, u, step)
            slope = numeric if numeric_links else g.derivative(u)
            out = g(u)
            links.append(Link(g.name, u, out, slope, numeric))
            if any(np.any(np.abs(u - k) < step) for k in g.kinks):
                kinks.append(f"{i}. {g.name}")
            product = product * slope
            u = out
        whole = numeric_derivative(lambda v: chain_value(names, v), x, step)
        ends = [chain_value(names, np.asarray(x, dtype=np.float64) + d) for d in (step, -step)]
    values = [
        *(v for link in links for v in (link.output, link.derivative, link.numeric)),
        product,
        whole,
        *ends,
    ]
    if not all(np.all(np.isfinite(v)) for v in values):
        raise InvalidValueError(
            message(
                "x",
                "a point where every link and its derivative is finite",
                f"an overflow at x = {np.asarray(x).reshape(-1)[0]:g}",
                "the values exceed float64: choose a smaller x or step",
            )
        )
    rounding = 10 * EPS * float(max(np.max(np.abs(e)) for e in ends)) / step
    return ChainResult(
        np.asarray(x, dtype=np.float64), tuple(links), product, whole, step, tuple(kinks), rounding
    )


@dataclass(frozen=True)
class TwoInputs:
    """``f(x, y) = g(x ∘ y)`` for ``∘`` a sum or a product, with both partial derivatives."""

    value: FloatArray
    d_dx: FloatArray
    d_dy: FloatArray


def _pair(x: ArrayLike, y: ArrayLike) -> tuple[FloatArray, FloatArray]:
    u, v = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    try:
        np.broadcast_shapes(u.shape, v.shape)
    except ValueError:
        raise ShapeError(
            message("x, y", "shapes that broadcast together", f"{u.shape} and {v.shape}")
        ) from None
    return u, v


def sum_then(name: str, x: ArrayLike, y: ArrayLike) -> TwoInputs:
    """``g(x + y)``: ``∂/∂x = g'(x + y) · 1`` and ``∂/∂y = g'(x + y) · 1``.

    >>> r = sum_then("sigmoid", 0.0, 0.0); float(r.value), float(r.d_dx), float(r.d_dy)
    (0.5, 0.25, 0.25)
    """
    g = elementwise_link(name)
    u, v = _pair(x, y)
    a = u + v
    slope = g.derivative(a)
    return TwoInputs(g(a), slope, slope.copy())


def product_then(name: str, x: ArrayLike, y: ArrayLike) -> TwoInputs:
    """``g(x · y)``: ``∂/∂x = g'(x y) · y`` and ``∂/∂y = g'(x y) · x``.

    >>> r = product_then("sigmoid", 2.0, 0.0); float(r.d_dx), float(r.d_dy)
    (0.0, 0.5)
    """
    g = elementwise_link(name)
    u, v = _pair(x, y)
    slope = g.derivative(u * v)
    return TwoInputs(g(u * v), slope * v, slope * u)
