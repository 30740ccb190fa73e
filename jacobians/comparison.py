"""Run the three routes on one network and measure how far apart they are.

Agreement (the one tolerance table of the comparison; a difference ``d = max|a − b|`` over a
gradient's entries, ``s = max(max|a|, max|b|)``):

- Jacobian vs vectorized: ``d ≤ 1e-10·s + 1e-13`` (both are exact formulas; only rounding
  separates them, and the absolute floor covers gradients that are zero up to rounding).
- Numerical vs vectorized: ``d ≤ 1e-5·s + 1e-7·max(1, |J|)`` over the entries whose stencil
  crossed no kink (central differences with ``h = 1e-6`` carry an error near ``|J|·ε/h``).
- The fused output row ``(a[L] − y)ᵀ`` vs the product ``∂L/∂a[L] · ∂a[L]/∂z[L]`` where both are
  finite: ``d ≤ 1e-10·s + 1e-13``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._typing import Matrix
from .backprop import VectorizedRoute, vectorized_route
from .chains import JacobianRoute, jacobian_route
from .network import Network, check_finite, cost
from .numerical import DEFAULT_STEP, NumericalRoute, numerical_route
from .parameters import Parameters

EXACT_RTOL, EXACT_ATOL = 1e-10, 1e-13
NUMERICAL_RTOL, NUMERICAL_ATOL = 1e-5, 1e-7


@dataclass(frozen=True)
class Difference:
    """``max|a − b|`` and that over ``max(max|a|, max|b|)`` for one gradient, and the verdict."""

    absolute: float
    relative: float
    agree: bool


def difference(
    a: Matrix, b: Matrix, rtol: float, atol: float, mask: Matrix | None = None
) -> Difference:
    """Compare ``a`` with ``b`` where ``mask`` is True (everywhere by default)."""
    keep = np.ones(a.shape, dtype=bool) if mask is None else mask
    if not keep.any():
        return Difference(0.0, 0.0, True)
    d = float(np.max(np.abs(a - b)[keep]))
    scale = float(max(np.max(np.abs(a[keep])), np.max(np.abs(b[keep]))))
    rel = d / scale if scale > 0 else 0.0
    return Difference(d, rel, d <= rtol * scale + atol)


@dataclass(frozen=True)
class Comparison:
    """The three routes on one network and parameters, with their differences."""

    net: Network
    params: Parameters
    cost: float
    jacobian: JacobianRoute
    vectorized: VectorizedRoute
    numerical: NumericalRoute
    jacobian_vs_vectorized: dict[str, Difference]
    numerical_vs_vectorized: dict[str, Difference]
    fused_agrees: bool

    @property
    def agree(self) -> bool:
        """True when every gradient agrees within the table above."""
        pairs = [*self.jacobian_vs_vectorized.values(), *self.numerical_vs_vectorized.values()]
        return self.fused_agrees and all(d.agree for d in pairs)

    def largest(self, which: str) -> Difference:
        """The largest absolute difference of ``'jacobian'`` or ``'numerical'`` vs vectorized."""
        diffs = self.jacobian_vs_vectorized if which == "jacobian" else self.numerical_vs_vectorized
        worst = max(diffs.values(), key=lambda d: (d.absolute, d.relative))
        rel = max(d.relative for d in diffs.values())
        return Difference(worst.absolute, rel, all(d.agree for d in diffs.values()))


def compare(
    net: Network, params: Parameters, order: str = "reverse", step: float = DEFAULT_STEP
) -> Comparison:
    """Gradients by the Jacobian, vectorized and numerical routes, and their differences.

    Raises :class:`~jacobians.errors.InvalidValueError` where the loss is infinite."""
    check_finite(net, params)
    J = cost(net, params)
    jac = jacobian_route(net, params, order)
    vec = vectorized_route(net, params)
    num = numerical_route(net, params, step)
    exact = {
        k: difference(jac.gradients[k], vec.gradients[k], EXACT_RTOL, EXACT_ATOL)
        for k in vec.gradients
    }
    exact.update(
        {k: difference(jac.deltas[k], vec.deltas[k], EXACT_RTOL, EXACT_ATOL) for k in vec.deltas}
    )
    numeric_atol = NUMERICAL_ATOL * max(1.0, abs(J))
    numeric = {
        k: difference(
            num.gradients[k], vec.gradients[k], NUMERICAL_RTOL, numeric_atol, ~num.kinks[k]
        )
        for k in vec.gradients
    }
    fused_ok = (
        jac.fused_gap is None
        or jac.fused_gap
        <= EXACT_RTOL * max(1.0, float(np.max(np.abs(vec.deltas[f"delta{net.depth}"]))))
        + EXACT_ATOL
    )
    return Comparison(net, params, J, jac, vec, num, exact, numeric, fused_ok)
