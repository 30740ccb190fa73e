"""The loss registry: each loss is its value ``L(ŷ, y)`` and its row ``∂L/∂ŷ`` (``1 × n``).

A batch holds one example per column; values are computed per column (a ``(B,)`` array), and
the cost is their mean. The losses:

- ``bce``: ``L = −Σ_i [y_i log ŷ_i + (1 − y_i) log(1 − ŷ_i)]``, ``∂L/∂ŷ = (ŷ − y) / (ŷ(1 − ŷ))``;
  needs ``0 ≤ y ≤ 1`` and sigmoid outputs (each an independent probability).
- ``ce``: ``L = −Σ_i y_i log ŷ_i``, ``∂L/∂ŷ_i = −y_i / ŷ_i`` (0 where ``y_i = 0``); needs one-hot
  ``y`` and softmax outputs (a distribution over classes).
- ``mse``: ``L = ½ Σ_i (ŷ_i − y_i)²``, ``∂L/∂ŷ = (ŷ − y)ᵀ``.
- ``sum``: ``L = Σ_i ŷ_i`` (the foundations chapter's ``Λ``), ``∂L/∂ŷ = 1ᵀ``; it ignores ``y``.

How ``bce`` and ``ce`` treat ``ŷ = 0`` or ``1``: ``0 · log 0`` is taken as 0
(``scipy.special.xlogy``), so a confident *right* answer costs 0 (and its ``∂L/∂ŷ`` is finite:
``−1`` at ``ŷ = y = 1``); a confident *wrong* one costs ``+∞`` with ``∂L/∂ŷ = ±∞``, the true
values, not errors. A network whose output pair is fused (sigmoid with bce, softmax with ce,
see :data:`FUSED`) never evaluates these: it computes the loss from the logits ``z[L]`` with
``log_expit`` (:mod:`jacobians.logistic`) / ``scipy.special.log_softmax``, which stay finite
for logits of ±1000, and its gradient from
``∂L/∂z[L] = (a[L] − y)ᵀ``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ._typing import FloatArray, Matrix
from .activations import normalize
from .errors import InvalidValueError, message, unknown_name
from .logistic import log_expit

LossFn = Callable[[FloatArray, FloatArray], FloatArray]
Sampler = Callable[[np.random.Generator, int, int], Matrix]
TargetCheck = Callable[[FloatArray], str | None]


def _f64(x: object) -> FloatArray:
    return np.asarray(x, dtype=np.float64)


def _bce(yhat: FloatArray, y: FloatArray) -> FloatArray:
    from scipy.special import xlogy  # here, not at the top: see jacobians.logistic

    with np.errstate(divide="ignore"):
        return _f64(-np.sum(xlogy(y, yhat) + xlogy(1.0 - y, 1.0 - yhat), axis=0))


def _bce_grad(yhat: FloatArray, y: FloatArray) -> FloatArray:
    # Inside (0, 1): one quotient over ŷ(1 − ŷ), not −y/ŷ + (1 − y)/(1 − ŷ), so that times
    # sigmoid's σ(1 − σ) the same rounded denominator cancels. At ŷ = 0 or 1: the two terms,
    # with 0·∞ = 0 as in the value: −1 (ŷ = y = 1), 1 (ŷ = y = 0), ±∞ for a confident wrong ŷ.
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        inside = (yhat - y) / (yhat * (1.0 - yhat))
        left = np.where(y != 0, -y / yhat, 0.0)
        right = np.where(y != 1, (1.0 - y) / (1.0 - yhat), 0.0)
    return _f64(np.where((yhat > 0) & (yhat < 1), inside, left + right))


def _ce(yhat: FloatArray, y: FloatArray) -> FloatArray:
    from scipy.special import xlogy

    with np.errstate(divide="ignore"):
        return _f64(-np.sum(xlogy(y, yhat), axis=0))


def _ce_grad(yhat: FloatArray, y: FloatArray) -> FloatArray:
    out = np.zeros(np.broadcast_shapes(yhat.shape, y.shape))
    with np.errstate(divide="ignore", over="ignore"):
        np.divide(-y, yhat, out=out, where=y != 0)
    return out


def _mse(yhat: FloatArray, y: FloatArray) -> FloatArray:
    return _f64(0.5 * np.sum((yhat - y) ** 2, axis=0))


def _sum(yhat: FloatArray, y: FloatArray) -> FloatArray:
    return _f64(np.sum(yhat, axis=0))


def _check_probability(y: FloatArray) -> str | None:
    bad = (y < 0) | (y > 1)
    return f"a value {y[bad].flat[0]:g} outside [0, 1]" if bad.any() else None


def _check_one_hot(y: FloatArray) -> str | None:
    y2 = y.reshape(y.shape[0], -1)
    binary = np.isin(y2, (0.0, 1.0)).all(axis=0)
    single = y2.sum(axis=0) == 1
    bad = np.flatnonzero(~(binary & single))
    if bad.size == 0:
        return None
    column = y2[:, bad[0]]
    return f"column {bad[0]} = {np.array2string(column, separator=', ')}, which is not one-hot"


@dataclass(frozen=True)
class Loss:
    """A loss: its per-example value, its gradient ``∂L/∂ŷ``, and what it accepts."""

    name: str
    value_fn: LossFn = field(repr=False)
    gradient_fn: LossFn = field(repr=False)
    target: str = "any finite numbers"
    check_target: TargetCheck | None = field(default=None, repr=False)
    needs_target: bool = True
    output: str | None = None
    """The output activation the loss is defined for (``None``: any)."""
    why_output: str = ""
    sample_fn: Sampler | None = field(default=None, repr=False)

    def sample(self, rng: np.random.Generator, n: int, batch: int) -> Matrix | None:
        """Random targets this loss accepts, ``n × batch`` (``None`` for a loss without ``y``)."""
        if not self.needs_target:
            return None
        if self.sample_fn is None:
            return rng.standard_normal((n, batch))
        return self.sample_fn(rng, n, batch)

    def value(self, yhat: FloatArray, y: FloatArray) -> FloatArray:
        """``L(ŷ, y)`` per column: a scalar for ``ŷ`` of shape ``(n,)``, ``(B,)`` for ``(n, B)``."""
        return self.value_fn(_f64(yhat), _f64(y))

    def gradient(self, yhat: FloatArray, y: FloatArray) -> FloatArray:
        """``(∂L/∂ŷ)ᵀ``, the shape of ``ŷ``."""
        return self.gradient_fn(_f64(yhat), _f64(y))

    def row(self, yhat: FloatArray, y: FloatArray) -> Matrix:
        """``∂L/∂ŷ``, the Jacobian of a scalar: a row, shape ``(1, n)`` for ``ŷ`` of shape ``(n,)``.

        >>> LOSSES["mse"].row(np.array([1.0, 2.0]), np.array([0.0, 0.0])).tolist()
        [[1.0, 2.0]]
        """
        return self.gradient(yhat, y).reshape(1, -1)

    def validate_target(self, y: FloatArray, what: str = "y") -> None:
        """Raise :class:`InvalidValueError` if ``y`` is not what this loss accepts."""
        if self.check_target is None:
            return
        problem = self.check_target(_f64(y))
        if problem is not None:
            raise InvalidValueError(message(what, f"{self.target} for loss {self.name!r}", problem))


LOSSES: dict[str, Loss] = {
    loss.name: loss
    for loss in (
        Loss(
            "bce",
            _bce,
            _bce_grad,
            "values in [0, 1]",
            _check_probability,
            output="sigmoid",
            why_output="each output an independent probability",
            sample_fn=lambda rng, n, b: rng.integers(0, 2, size=(n, b)).astype(np.float64),
        ),
        Loss(
            "ce",
            _ce,
            _ce_grad,
            "one-hot columns (one 1, the rest 0)",
            _check_one_hot,
            output="softmax",
            why_output="the outputs a distribution over classes",
            sample_fn=lambda rng, n, b: np.eye(n)[:, rng.integers(0, n, size=b)],
        ),
        Loss("mse", _mse, lambda yhat, y: yhat - y),
        Loss(
            "sum",
            _sum,
            lambda yhat, y: np.ones_like(yhat),
            "nothing (sum ignores y)",
            needs_target=False,
        ),
    )
}


def get_loss(name: str, what: str = "loss") -> Loss:
    """The loss called ``name`` (normalised); the error lists the valid names."""
    key = normalize(name)
    if key not in LOSSES:
        raise unknown_name(what, name, LOSSES)
    return LOSSES[key]


@dataclass(frozen=True)
class FusedOutput:
    """An output activation and loss whose product ``∂L/∂ŷ · ∂ŷ/∂z`` simplifies to ``(a − y)ᵀ``.

    ``logit_value`` computes ``L`` from ``z[L]`` directly, finite where ``ŷ`` rounds to 0 or 1.
    """

    activation: str
    loss: str
    logit_value: LossFn = field(repr=False)

    @staticmethod
    def delta(a: FloatArray, y: FloatArray) -> FloatArray:
        """``δ[L] = (∂L/∂z[L])ᵀ = a[L] − y``, the shape of ``a``; both are taken as float64."""
        delta: FloatArray = np.subtract(a, y, dtype=np.float64)  # converts as it subtracts
        return delta

    def row(self, a: FloatArray, y: FloatArray) -> Matrix:
        """``∂L/∂z[L] = (a[L] − y)ᵀ``, shape ``(1, n)``."""
        return self.delta(a, y).reshape(1, -1)


def _bce_from_logits(z: FloatArray, y: FloatArray) -> FloatArray:
    return _f64(-np.sum(y * log_expit(z) + (1.0 - y) * log_expit(-z), axis=0))


def _ce_from_logits(z: FloatArray, y: FloatArray) -> FloatArray:
    from scipy.special import log_softmax

    return _f64(-np.sum(y * log_softmax(z, axis=0), axis=0))


FUSED: dict[tuple[str, str], FusedOutput] = {
    ("sigmoid", "bce"): FusedOutput("sigmoid", "bce", _bce_from_logits),
    ("softmax", "ce"): FusedOutput("softmax", "ce", _ce_from_logits),
}
"""The output pairs whose ``∂L/∂z[L]`` is ``(a[L] − y)ᵀ``, by (activation, loss) name."""
