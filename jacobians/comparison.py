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

from dataclasses import dataclass, replace
from math import prod

import numpy as np

from ._typing import Matrix
from .backprop import VectorizedRoute, vectorized_route
from .chains import DEFAULT_MEMORY_BUDGET, JacobianRoute, choose_representation, jacobian_route
from .errors import InvalidValueError, message
from .network import Network, check_finite, cost
from .numerical import DEFAULT_STEP, NumericalRoute, numerical_route
from .parameters import Parameters
from .paths import composite_cost, coupled, jacobian_shapes, targets

EXACT_RTOL, EXACT_ATOL = 1e-10, 1e-13
NUMERICAL_RTOL, NUMERICAL_ATOL = 1e-5, 1e-7
INCONCLUSIVE = 1e-3
"""A finite difference whose rounding bound exceeds this share of the gradient decides nothing."""
MAX_WORK = 2e10
"""Multiply–adds a comparison may take (about half a minute here); more is refused."""
SAMPLE_ABOVE, SAMPLE = 2_000, 20
"""Above 2,000 parameters the numerical route checks 20 random entries of each parameter array
(two forward passes each) instead of every parameter."""


def sample_size(net: Network, sample: int | str | None) -> int | None:
    """Entries per parameter array the numerical route differentiates, ``None`` for all of
    them: ``'all'`` (or ``None``) every one; ``'auto'`` every one for networks of up to
    ``SAMPLE_ABOVE`` parameters, else ``SAMPLE`` at random; a whole number ``k ≥ 1`` that many
    (as ``compare --sample all|auto|K``). Raises
    :class:`~jacobians.errors.InvalidValueError` for anything else.

    >>> net = Network.from_spec()  # 3-4-2-1, 29 parameters
    >>> sample_size(net, "all"), sample_size(net, "auto"), sample_size(net, 5)
    (None, None, 5)
    """
    if sample == "all" or sample is None:
        return None
    if sample == "auto":
        return SAMPLE if net.parameter_count > SAMPLE_ABOVE else None
    if isinstance(sample, int) and not isinstance(sample, bool) and sample >= 1:
        return sample
    raise InvalidValueError(
        message(
            "sample",
            "'all', 'auto', a whole number ≥ 1 or None",
            repr(sample),
            "'all' differentiates every parameter, 'auto' samples above "
            f"{SAMPLE_ABOVE:,} parameters",
        )
    )


def budget(net: Network, batch: int, representation: str, sample: int | None) -> float:
    """Estimated multiply–adds of the three routes: the numerical route runs two forward
    passes of the batch per differentiated entry (``2·S·B·F``, ``F`` the forward pass's
    multiply–adds, ``Σ n_l n_{l-1}`` for dense layers); the Jacobian route multiplies one chain
    per gradient and per example, whose widest factor has ``n_l²·n_{l-1}`` entries when dense
    (the largest dense Jacobian) and about ``n_l·n_{l-1}`` when structured or sparse (the
    largest forward product or tensor); dense, it also builds the Jacobians that are products of
    others (:func:`~jacobians.paths.composite_cost`)."""
    F = sum(node.kind.forward_cost(node.in_shape) for node in net.all_nodes)
    arrays = len(net.parameter_names)
    S = net.parameter_count if sample is None else min(net.parameter_count, arrays * sample)
    chains = batch  # one chain per example, or one through the batch Jacobians when coupled
    built = 0.0  # building the dense products of steps (attention, residual blocks)
    if representation == "dense":
        joint = batch if coupled(net) else 1
        shapes = jacobian_shapes(net, batch=joint)
        widest = max(r * c for r, c in shapes.values())
        chains = 1 if coupled(net) else batch
        built = float(composite_cost(net, joint)) * chains
    else:
        widest = max(
            max(node.kind.forward_cost(node.in_shape) for node in net.all_nodes),
            max(prod(s) for s in net.shapes.values()),
        )
    return 2.0 * S * batch * F + float(len(targets(net))) * chains * widest + built


def resolve_jacobians(
    net: Network, batch: int, requested: str, memory_budget: int, sample: int | None
) -> tuple[str, str | None]:
    """The representation a comparison uses and, when ``auto`` leaves dense, why: ``auto`` is
    dense while the largest dense Jacobian fits ``memory_budget`` and the dense work stays
    under ``MAX_WORK``, structured otherwise."""
    joint = batch if batch > 1 and coupled(net) else 1
    representation, switched = choose_representation(net, requested, memory_budget, joint)
    if requested == "auto" and representation == "dense":
        work = budget(net, batch, "dense", sample)
        if work > MAX_WORK:
            return "structured", (
                f"auto: dense Jacobian chains would take about {work:.1e} multiply–adds here: "
                "using structured Jacobians"
            )
    return representation, switched


def check_budget(net: Network, batch: int, representation: str, sample: int | None) -> None:
    """Refuse, with the numbers, a comparison too large to finish in about half a minute."""
    work = budget(net, batch, representation, sample)
    if work > MAX_WORK:
        raise InvalidValueError(
            message(
                "sizes and batch",
                f"a comparison of at most {MAX_WORK:.0e} multiply–adds",
                f"about {work:.1e} for {net.spec} with a batch of {batch} and "
                f"{representation} Jacobians",
                "use a smaller network or batch, structured Jacobians, or a numerical sample",
            )
        )


@dataclass(frozen=True)
class Difference:
    """``max|a − b|`` and that over ``max(max|a|, max|b|)`` for one gradient, the verdict, and
    whether the comparison could decide at all (finite differences lost in rounding cannot).
    ``scale`` is ``max(max|a|, max|b|)``. A gradient within the tolerance of zero, measured
    against the largest gradient compared (:func:`mark_negligible`), is ``negligible``: its
    relative difference is rounding over rounding and says nothing (a bias just before a
    batch norm has a zero gradient)."""

    absolute: float
    relative: float
    agree: bool
    name: str = ""
    inconclusive: bool = False
    scale: float = 0.0
    negligible: bool = False


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
    rounding error ``a`` may carry on top of ``rtol·s + atol``. Where ``a`` and ``b`` differ by
    more than ``rtol·s + atol`` and ``noise`` exceeds ``INCONCLUSIVE·s + atol``, the
    comparison is inconclusive (and does not agree)."""
    keep = np.ones(a.shape, dtype=bool) if mask is None else mask
    if not keep.any():
        return Difference(0.0, 0.0, True, name)
    d = float(np.max(np.abs(a - b)[keep]))
    scale = float(max(np.max(np.abs(a[keep])), np.max(np.abs(b[keep]))))
    rel = d / scale if scale > 0 else 0.0
    if d <= rtol * scale + atol:  # close enough whatever the rounding: decided
        return Difference(d, rel, True, name, scale=scale)
    if noise > INCONCLUSIVE * scale + atol:
        return Difference(d, rel, False, name, inconclusive=True, scale=scale)
    return Difference(d, rel, d <= rtol * scale + atol + noise, name, scale=scale)


def mark_negligible(
    diffs: dict[str, Difference], rtol: float, atol: float
) -> dict[str, Difference]:
    """``diffs`` with ``negligible`` set where ``scale ≤ rtol·s + atol``, ``s`` the largest
    scale among them: a gradient the tolerance cannot tell from zero."""
    top = max((d.scale for d in diffs.values()), default=0.0)
    return {k: replace(d, negligible=d.scale <= rtol * top + atol) for k, d in diffs.items()}


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
        ``'jacobian'`` or ``'numerical'`` against the vectorized route; the relative one among
        the gradients that are not negligible (all of them when every one is)."""
        diffs = self.jacobian_vs_vectorized if which == "jacobian" else self.numerical_vs_vectorized
        by_abs = max(diffs.values(), key=lambda d: d.absolute)
        sized = [d for d in diffs.values() if not d.negligible] or list(diffs.values())
        by_rel = max(sized, key=lambda d: d.relative)
        return by_abs, by_rel

    def inconclusive(self) -> list[str]:
        """Gradients whose finite differences are lost in rounding."""
        return [k for k, d in self.numerical_vs_vectorized.items() if d.inconclusive]


def compare(
    net: Network,
    params: Parameters,
    order: str = "reverse",
    step: float = DEFAULT_STEP,
    jacobians: str = "auto",
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    sample: int | str | None = "auto",
    strategy: str = "auto",
    vec: str = "row",
) -> Comparison:
    """Gradients by the Jacobian, vectorized and numerical routes, and their differences.

    ``jacobians``, ``memory_budget`` and ``strategy`` choose the Jacobian route's
    representation and batch strategy (:func:`jacobians.chains.jacobian_route`); ``sample``
    the numerical route's entries per parameter array, as ``compare --sample``: ``'all'``,
    ``'auto'`` (the default) or a whole number (:func:`sample_size`); ``vec`` the Jacobian
    route's flattening, ``row`` (the default) or ``column`` for a dense network (as
    ``compare --vec``: :mod:`jacobians.columnvec`). Raises
    :class:`~jacobians.errors.InvalidValueError` where the loss is infinite, dense Jacobians
    exceed the budget, the comparison is too large, or ``sample`` is none of those; and
    :class:`~jacobians.errors.UnknownNameError` or ``InvalidValueError`` for a ``vec`` other
    than ``row`` and ``column``, or ``column`` for a network that is not dense."""
    if vec != "row":
        from .columnvec import check_column, check_vec

        check_vec(vec)
        check_column(net)
    entries = sample_size(net, sample)
    jacobians, switched = resolve_jacobians(net, params.batch, jacobians, memory_budget, entries)
    check_budget(net, params.batch, jacobians, entries)
    check_finite(net, params)
    J = cost(net, params)
    jac = jacobian_route(net, params, order, jacobians, memory_budget, strategy, vec)
    if switched:
        jac = replace(jac, notes=(switched, *jac.notes))
    caveats = [n.kind.caveat(n.names, params.batch) for n in net.all_nodes]
    jac = replace(jac, notes=(*jac.notes, *(c for c in caveats if c)))
    compact = vectorized_route(net, params)
    num = numerical_route(net, params, step, entries)
    exact = {
        k: difference(jac.gradients[k], compact.gradients[k], EXACT_RTOL, EXACT_ATOL, name=k)
        for k in compact.gradients
    }
    for k in compact.deltas:
        exact[k] = difference(jac.deltas[k], compact.deltas[k], EXACT_RTOL, EXACT_ATOL, name=k)
    numeric = {}
    for k in compact.gradients:
        keep = num.checked[k] & ~num.kinks[k]
        noise = float(np.max(num.noise[k][keep])) if keep.any() else 0.0
        numeric[k] = difference(
            num.gradients[k], compact.gradients[k], NUMERICAL_RTOL, NUMERICAL_ATOL, keep, k, noise
        )
    exact = mark_negligible(exact, EXACT_RTOL, EXACT_ATOL)
    numeric = mark_negligible(numeric, NUMERICAL_RTOL, NUMERICAL_ATOL)
    delta_scale = float(np.max(np.abs(list(compact.deltas.values())[-1])))
    fused_ok = jac.fused_gap is None or jac.fused_gap <= EXACT_RTOL * delta_scale + EXACT_ATOL
    return Comparison(net, params, J, jac, compact, num, exact, numeric, fused_ok)
