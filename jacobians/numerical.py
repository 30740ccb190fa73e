"""The numerical route: central finite differences of the cost, entry by entry.

``∂J/∂θ ≈ (J(θ + h) − J(θ − h)) / 2h`` with error ``O(h²)`` from truncation plus ``O(ε/h)`` from
rounding; ``h = 1e-6`` balances them for costs of order 1.

Rounding: the two costs are rounded to about ``ε·|J|`` each, so the difference carries an error
near ``ε·|J|/h``; :attr:`NumericalRoute.noise` records a bound for every entry. Where the cost
is huge next to the gradient (``|J| = 10⁹`` with gradients of order 1) that bound exceeds the
gradient and the numerical route cannot decide anything.

A stencil that crosses a kink (a relu or leaky_relu input ``z`` that changes sign between
``θ − h``, ``θ`` and ``θ + h``) measures the average of two slopes, not the derivative: such an
entry is flagged, not compared.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from ._typing import FloatArray, Matrix
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
    W, b = list(params.W), list(params.b)
    target = W if name[0] == "W" else b
    l = int(name[1:]) - 1
    array = target[l].copy()
    array[index] += delta
    target[l] = array
    return Parameters(tuple(W), tuple(b), params.x, params.y)


def _kink_inputs(net: Network, cache: Cache) -> Iterator[FloatArray]:
    for l, g in enumerate(net.activations, start=1):
        for kink in g.kinks:
            yield cache.z[l] - kink


def crosses_kink(net: Network, caches: tuple[Cache, Cache, Cache]) -> bool:
    """True if some kinked activation's input changes side of its kink across the stencil
    ``θ − h``, ``θ``, ``θ + h``, or sits on the kink and moves (an input the perturbation does
    not move stays on one piece of the function, kink or not)."""
    sides = [list(_kink_inputs(net, c)) for c in caches]
    for lo, mid, hi in zip(*sides, strict=True):
        s = np.sign(np.stack([lo, mid, hi]))
        moves = (lo != hi) | (lo != mid)
        if np.any(s.min(axis=0) != s.max(axis=0)) or np.any((s == 0).any(axis=0) & moves):
            return True
    return False


def numerical_route(
    net: Network,
    params: Parameters,
    step: float = DEFAULT_STEP,
    sample: int | None = None,
    seed: int = 0,
) -> NumericalRoute:
    """``(J(θ + h e_k) − J(θ − h e_k)) / 2h`` for every entry ``k`` of every ``W[l]`` and ``b[l]``,
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
    for l in range(1, net.depth + 1):
        for name, value in ((f"W{l}", params.W[l - 1]), (f"b{l}", params.b[l - 1])):
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
                cu, cd = forward(net, up), forward(net, down)
                j_up, j_down = cost(net, up, cu), cost(net, down, cd)
                grad[index] = (j_up - j_down) / (2 * step)
                rounding[index] = ROUNDING * EPS * max(abs(j_up), abs(j_down)) / step
                flags[index] = crosses_kink(net, (cd, base, cu))
            key = f"d{name}"
            gradients[key], kinks[key], noise[key], checked[key] = grad, flags, rounding, chosen
    return NumericalRoute(gradients, kinks, step, noise, checked, sample)
