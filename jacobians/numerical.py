"""The numerical route: central finite differences of the cost, entry by entry.

``∂J/∂θ ≈ (J(θ + h) − J(θ − h)) / 2h`` with error ``O(h²)`` from truncation plus ``O(ε/h)`` from
rounding; ``h = 1e-6`` balances them for costs of order 1.

Rounding: the two costs are rounded to about ``ε·|J|`` each, so the difference carries an error
near ``ε·|J|/h``; :attr:`NumericalRoute.noise` records a bound for every entry. Where the cost
is huge next to the gradient (``|J| = 10⁹`` with gradients of order 1) that bound exceeds the
gradient and the numerical route cannot decide anything.

A stencil that crosses a kink (a relu or leaky_relu input ``z`` that changes sign between
``θ − h``, ``θ`` and ``θ + h``, a max-pool window whose maximum moves) measures the average of
two slopes, not the derivative: such an entry is flagged, not compared.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._typing import Matrix
from .backprop import owned
from .network import Cache, Network, cost, forward
from .parameters import Parameters

DEFAULT_STEP = 1e-6
EPS = float(np.finfo(np.float64).eps)
ROUNDING = 10.0
"""The cost carries a rounding error of a few ``ε·|J|``; the difference of two costs over
``2h`` carries about ``ROUNDING·ε·|J|/h`` (a generous factor: the cost is a sum of many terms)."""


@dataclass(frozen=True)
class NumericalRoute:
    """Gradients ``dW1, db1, …`` by central differences, and where a stencil crossed a kink."""

    gradients: dict[str, Matrix]
    kinks: dict[str, np.ndarray]
    step: float
    noise: dict[str, Matrix]
    """Per entry, the rounding error the difference may carry: ``ROUNDING·ε·max|J(θ ± h)|/h``."""
    checked: dict[str, np.ndarray]
    """Per entry, whether it was differentiated (all of them unless a sample was asked for)."""
    sample: int | None = None

    @property
    def checked_count(self) -> int:
        """How many entries were differentiated."""
        return int(sum(int(c.sum()) for c in self.checked.values()))

    @property
    def kink_count(self) -> int:
        """How many entries were not compared because their stencil crossed a kink."""
        return int(sum(int(k.sum()) for k in self.kinks.values()))


def _perturbed(params: Parameters, name: str, index: tuple[int, ...], delta: float) -> Parameters:
    array = params[name].copy()
    array[index] += delta
    return params.replaced(name, array)


def crosses_kink(net: Network, caches: tuple[Cache, Cache, Cache], start: int = 0) -> bool:
    """True if some layer's derivative jumps across the stencil ``θ − h``, ``θ``, ``θ + h``:
    a kinked activation's input changes side of its kink, or sits on the kink and moves (an
    input the perturbation does not move stays on one piece of the function, kink or not); a
    max-pool window changes its maximum (:meth:`~jacobians.layers.base.Kind.crosses_kink`)."""
    for node in (m for outer in net.nodes[start:] for m in (outer, *outer.inside)):
        inputs = tuple(c.values[node.input] for c in caches)
        if node.kind.crosses_kink(inputs):  # type: ignore[arg-type]
            return True
    return False


def numerical_route(
    net: Network,
    params: Parameters,
    step: float = DEFAULT_STEP,
    sample: int | None = None,
    seed: int = 0,
) -> NumericalRoute:
    """``(J(θ + h e_k) − J(θ − h e_k)) / 2h`` for every entry ``k`` of every parameter,
    or, with ``sample``, for that many entries of each array drawn at random (reproducibly
    from ``seed``), as the classic sparse gradient checks do; the others are NaN and unchecked.

    >>> net = Network.from_spec("1-1", "identity", "mse")
    >>> W, b, x, y = np.array([[2.0]]), np.array([0.0]), np.array([[3.0]]), np.array([[1.0]])
    >>> p = Parameters((W,), (b,), x, y)
    >>> round(float(numerical_route(net, p).gradients["dW1"][0, 0]), 6)
    15.0
    """
    gradients: dict[str, Matrix] = {}
    kinks: dict[str, np.ndarray] = {}
    noise: dict[str, Matrix] = {}
    checked: dict[str, np.ndarray] = {}
    base = forward(net, params)
    rng = np.random.default_rng(seed)
    owner = {name: j for j, node in enumerate(net.nodes) for name in owned(node)}
    for name in net.parameter_names:
        value = params[name]
        start = owner[name]  # the nodes before it see the same values: taken from the base
        grad = np.full(value.shape, np.nan)
        rounding = np.zeros_like(value)
        flags = np.zeros(value.shape, dtype=bool)
        chosen = np.zeros(value.shape, dtype=bool)
        if sample is None or sample >= value.size:
            chosen[...] = True
        else:
            chosen.flat[rng.choice(value.size, size=sample, replace=False)] = True
        for index in zip(*np.nonzero(chosen), strict=True):
            up, down = (
                _perturbed(params, name, index, step),
                _perturbed(params, name, index, -step),
            )
            cu, cd = forward(net, up, base, start), forward(net, down, base, start)
            j_up, j_down = cost(net, up, cu), cost(net, down, cd)
            grad[index] = (j_up - j_down) / (2 * step)
            rounding[index] = ROUNDING * EPS * max(abs(j_up), abs(j_down)) / step
            flags[index] = crosses_kink(net, (cd, base, cu), start)
        key = f"d{name}"
        gradients[key], kinks[key], noise[key], checked[key] = grad, flags, rounding, chosen
    return NumericalRoute(gradients, kinks, step, noise, checked, sample)
