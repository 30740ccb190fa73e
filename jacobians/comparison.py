"""Run the three routes on one network and measure how far apart they are.

Agreement (the one tolerance table of the comparison; a difference ``d = max|a − b|`` over a
gradient's entries, ``s = max(max|a|, max|b|)``):

- Jacobian vs vectorized: ``d ≤ 1e-10·s + 1e-13`` (both are exact formulas; only rounding
  separates them, and the absolute floor covers gradients that are zero up to rounding).
- Numerical vs vectorized: ``d ≤ 1e-5·s + 1e-7 + r`` over the entries whose stencil crossed no
  kink, where ``r = 10·ε·max|J(θ ± h)|/h`` bounds the rounding of the two costs. Where
  ``r > 1e-3·s + 1e-7`` the difference is lost in rounding: the check is *inconclusive* (a cost
  of ``10⁹`` next to gradients of order 1), which does not count as agreement.
- The fused output row ``(a[L] − y)ᵀ`` vs the product ``∂L/∂a[L] · ∂a[L]/∂z[L]`` where both are
  finite: ``d ≤ 1e-10·s + 1e-13`` with ``s = max|a[L] − y|``.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from ._typing import Matrix
from .backprop import VectorizedRoute, vectorized_route
from .chains import JacobianRoute, jacobian_route
from .errors import InvalidValueError, message
from .network import Network, check_finite, cost
from .numerical import DEFAULT_STEP, NumericalRoute, numerical_route
from .parameters import Parameters

EXACT_RTOL, EXACT_ATOL = 1e-10, 1e-13
MAX_WORK = 2e10
"""Multiply–adds a comparison may take (about half a minute here); more is refused."""
MAX_PARAMETERS = 10_000
"""The numerical route runs two forward passes per parameter; 10,000 take about 8 s here."""
MAX_JACOBIAN_BYTES = 2**30
"""The largest dense Jacobian a comparison builds: 1 GiB."""


def budget(net: Network, batch: int) -> tuple[float, int, str]:
    """Estimated multiply–adds of the three routes, and the bytes and name of the largest
    dense Jacobian: the numerical route runs two forward passes of the batch per parameter
    (``2·P·B·F`` with ``F = Σ n_l n_{l-1}``), the Jacobian route multiplies per example chains
    whose widest factor is ``∂z[l]/∂vec(W[l])`` (``n_l × n_l·n_{l-1}``)."""
    F = sum(n * m for m, n in pairwise(net.sizes))
    P = net.parameter_count
    chains = sum(n * n * m for m, n in pairwise(net.sizes)) * net.depth
    work = 2.0 * P * batch * F + float(batch) * chains
    l = max(range(1, net.depth + 1), key=lambda k: net.sizes[k] ** 2 * net.sizes[k - 1])
    n, m = net.sizes[l], net.sizes[l - 1]
    return work, 8 * n * n * m, f"J_z{l}_W{l} ({n}×{n * m})"


def check_budget(net: Network, batch: int) -> None:
    """Refuse, with the numbers, a comparison too large to finish in about half a minute or
    whose dense Jacobians would not fit in memory."""
    work, size, name = budget(net, batch)
    if size > MAX_JACOBIAN_BYTES:
        raise InvalidValueError(
            message(
                "sizes",
                f"dense Jacobians of at most {MAX_JACOBIAN_BYTES / 2**30:g} GiB",
                f"{name} of {size / 2**30:.3g} GiB for {net.spec}",
                "every factor is built as a dense matrix here: use a narrower network",
            )
        )
    if net.parameter_count > MAX_PARAMETERS:
        raise InvalidValueError(
            message(
                "sizes",
                f"at most {MAX_PARAMETERS} parameters",
                f"{net.parameter_count} for {net.spec}",
                "the numerical route differentiates each parameter on its own, with two forward "
                "passes: use a smaller network",
            )
        )
    if work > MAX_WORK:
        raise InvalidValueError(
            message(
                "sizes and batch",
                f"a comparison of at most {MAX_WORK:.0e} multiply–adds",
                f"about {work:.1e} for {net.spec} with a batch of {batch}",
                f"the numerical route differentiates each of the {net.parameter_count} parameters "
                "on its own: use a smaller network or batch",
            )
        )


NUMERICAL_RTOL, NUMERICAL_ATOL = 1e-5, 1e-7
INCONCLUSIVE = 1e-3
"""A finite difference whose rounding bound exceeds this share of the gradient decides nothing."""


@dataclass(frozen=True)
class Difference:
    """``max|a − b|`` and that over ``max(max|a|, max|b|)`` for one gradient, the verdict, and
    whether the comparison could decide at all (finite differences lost in rounding cannot)."""

    absolute: float
    relative: float
    agree: bool
    name: str = ""
    inconclusive: bool = False


def difference(
    a: Matrix,
    b: Matrix,
    rtol: float,
    atol: float,
    mask: Matrix | None = None,
    name: str = "",
    noise: float = 0.0,
) -> Difference:
    """Compare ``a`` with ``b`` where ``mask`` is True (everywhere by default); ``noise`` is the
    rounding error ``a`` may carry on top of ``rtol·s + atol``. When ``noise`` exceeds
    ``INCONCLUSIVE·s + atol`` the comparison is inconclusive (and does not agree)."""
    keep = np.ones(a.shape, dtype=bool) if mask is None else mask
    if not keep.any():
        return Difference(0.0, 0.0, True, name)
    d = float(np.max(np.abs(a - b)[keep]))
    scale = float(max(np.max(np.abs(a[keep])), np.max(np.abs(b[keep]))))
    rel = d / scale if scale > 0 else 0.0
    if noise > INCONCLUSIVE * scale + atol:
        return Difference(d, rel, False, name, inconclusive=True)
    return Difference(d, rel, d <= rtol * scale + atol + noise, name)


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

    def largest(self, which: str) -> tuple[Difference, Difference]:
        """The gradients with the largest absolute and the largest relative difference of
        ``'jacobian'`` or ``'numerical'`` against the vectorized route."""
        diffs = self.jacobian_vs_vectorized if which == "jacobian" else self.numerical_vs_vectorized
        by_abs = max(diffs.values(), key=lambda d: d.absolute)
        by_rel = max(diffs.values(), key=lambda d: d.relative)
        return by_abs, by_rel

    def inconclusive(self) -> list[str]:
        """Gradients whose finite differences are lost in rounding."""
        return [k for k, d in self.numerical_vs_vectorized.items() if d.inconclusive]


def compare(
    net: Network, params: Parameters, order: str = "reverse", step: float = DEFAULT_STEP
) -> Comparison:
    """Gradients by the Jacobian, vectorized and numerical routes, and their differences.

    Raises :class:`~jacobians.errors.InvalidValueError` where the loss is infinite or the
    comparison is too large (:func:`check_budget`)."""
    check_budget(net, params.batch)
    check_finite(net, params)
    J = cost(net, params)
    jac = jacobian_route(net, params, order)
    vec = vectorized_route(net, params)
    num = numerical_route(net, params, step)
    exact = {
        k: difference(jac.gradients[k], vec.gradients[k], EXACT_RTOL, EXACT_ATOL, name=k)
        for k in vec.gradients
    }
    for k in vec.deltas:
        exact[k] = difference(jac.deltas[k], vec.deltas[k], EXACT_RTOL, EXACT_ATOL, name=k)
    numeric = {}
    for k in vec.gradients:
        keep = ~num.kinks[k]
        noise = float(np.max(num.noise[k][keep])) if keep.any() else 0.0
        numeric[k] = difference(
            num.gradients[k], vec.gradients[k], NUMERICAL_RTOL, NUMERICAL_ATOL, keep, k, noise
        )
    delta_scale = float(np.max(np.abs(vec.deltas[f"delta{net.depth}"])))
    fused_ok = jac.fused_gap is None or jac.fused_gap <= EXACT_RTOL * delta_scale + EXACT_ATOL
    return Comparison(net, params, J, jac, vec, num, exact, numeric, fused_ok)
