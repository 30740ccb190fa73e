"""What batch norm and layer norm share: ``y = γ ⊙ x̂ + β`` with ``x̂ = (x − μ)/σ`` over groups.

Both view a batch-last tensor's ``vec`` as a ``P × Q`` array whose rows carry ``γ`` and ``β``
(a feature or channel for batch norm; every feature of an example for layer norm) and take the
mean ``μ`` and the biased variance ``σ² − ε`` over a group: a row (batch norm: the batch, and
the positions of an image) or a column (layer norm: one example's features). With ``m`` the
size of a group and ``s = γ/σ``,

- ``∂y/∂x`` per group is ``diag(s)(I − 11ᵀ/m − x̂ x̂ᵀ/m)``
  (:class:`~jacobians.structured.normalization.Normalization`), ``∂y/∂γ`` puts ``x̂`` in ``γ``'s
  column, ``∂y/∂β = I ⊗ 1``;
- the compact backward pass: ``u = g ⊙ s``, ``dx = u − mean(u) − x̂ ⊙ mean(u ⊙ x̂)``,
  ``dγ = Σ g ⊙ x̂``, ``dβ = Σ g`` (sums over the batch).

For batch norm this is the three-term ``dx = (γ/σ)(dy − mean(dy) − x̂ ⊙ mean(dy ⊙ x̂))``.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod
from typing import ClassVar

import numpy as np

from .._typing import FloatArray
from ..structured import KronOnesBatch, Structured
from ..structured.normalization import GroupColumns, Normalization
from .base import Kind, Params, Shape, argument

DEFAULT_EPS = 1e-5


@dataclass(frozen=True)
class Norm(Kind):
    """A normalization over groups of a ``P × Q`` view; subclasses say which view and axis."""

    eps: float = argument(minimum=0.0, above=True, default=DEFAULT_EPS, help="ε, added to σ²")
    parametric: ClassVar[bool] = True
    roles: ClassVar[tuple[str, ...]] = ("gamma", "beta")
    nouns: ClassVar[dict[str, tuple[str, str]]] = {
        "gamma": ("scale", "scales"),
        "beta": ("shift", "shifts"),
    }
    axis: ClassVar[int] = 1
    """The axis of the ``P × Q`` view a group runs along: 1 (a row), 0 (a column)."""

    def view(self, a: FloatArray) -> FloatArray:
        """The batch-last ``a`` as ``P × Q``, one row per entry of ``γ`` (or, for a sequence's
        layer norm, ``a`` itself: :meth:`group_axis` and :meth:`parameter_axis` say where)."""
        raise NotImplementedError

    def parameter_size(self, in_shape: Shape) -> int:
        """``P``: the number of entries of ``γ`` and ``β``."""
        raise NotImplementedError

    def init(self, role: str, in_shape: Shape, rng: np.random.Generator) -> FloatArray:
        """``γ ~ 1 + N(0, 0.1²)``, ``β ~ N(0, 0.1²)``: near the usual ``γ = 1``, ``β = 0``, but
        not on them, so that a forgotten ``γ`` or ``β`` shows."""
        shape = self.parameter_shapes(in_shape)[role]
        noise = 0.1 * rng.standard_normal(shape)
        return np.asarray(1.0 + noise if role == "gamma" else noise)

    def group_axis(self, V: FloatArray) -> int:
        """The axis of the view ``V`` a group runs along (:attr:`axis` unless a kind says)."""
        return self.axis

    def parameter_axis(self, V: FloatArray) -> int:
        """The axis of the view ``V`` that ``γ`` and ``β`` index (its rows unless a kind says)."""
        return 0

    def along(self, p: FloatArray, V: FloatArray) -> FloatArray:
        """``γ`` or ``β`` shaped to broadcast against the view ``V``."""
        shape = [1] * V.ndim
        shape[self.parameter_axis(V)] = -1
        return p.reshape(shape)

    def statistics(self, a: FloatArray) -> tuple[FloatArray, FloatArray]:
        """``x̂`` (the view) and ``σ = √(var + ε)`` (broadcastable against it)."""
        V = self.view(a)
        axis = self.group_axis(V)
        mu = V.mean(axis=axis, keepdims=True)
        var = ((V - mu) ** 2).mean(axis=axis, keepdims=True)  # biased: over m, not m − 1
        sigma = np.sqrt(var + self.eps)
        return (V - mu) / sigma, sigma

    def forward(self, params: Params, a: FloatArray) -> FloatArray:
        """``y = γ ⊙ x̂ + β``."""
        xhat, _ = self.statistics(a)
        gamma, beta = (self.along(params[r], xhat) for r in ("gamma", "beta"))
        return np.asarray(gamma * xhat + beta).reshape(a.shape)

    def jacobians(self, params: Params, a: FloatArray, out: FloatArray) -> dict[str, Structured]:
        """``diag(γ/σ)(I − 11ᵀ/m − x̂x̂ᵀ/m)`` per group, ``x̂`` in ``γ``'s columns, ``I ⊗ 1``."""
        xhat, sigma = self.statistics(a)
        axis = self.parameter_axis(xhat)
        scale = self.along(params["gamma"], xhat) / sigma
        beta = (
            KronOnesBatch(*xhat.shape)
            if xhat.ndim == 2 and axis == 0
            else GroupColumns(np.ones_like(xhat), axis)
        )
        return {
            "input": Normalization(xhat, scale, self.group_axis(xhat)),
            "gamma": GroupColumns(xhat, axis),
            "beta": beta,
        }

    def parameter_sums(self, G: FloatArray, xhat: FloatArray) -> tuple[FloatArray, FloatArray]:
        """``Σ g ⊙ x̂`` and ``Σ g`` over everything but ``γ``'s axis: ``dγ`` and ``dβ``."""
        others = tuple(i for i in range(xhat.ndim) if i != self.parameter_axis(xhat))
        return (G * xhat).sum(axis=others), G.sum(axis=others)

    def backward(
        self, params: Params, a: FloatArray, out: FloatArray, g: FloatArray, need_input: bool = True
    ) -> tuple[FloatArray | None, dict[str, FloatArray]]:
        """``u = g ⊙ γ/σ``, ``dx = u − mean(u) − x̂ ⊙ mean(u ⊙ x̂)``, ``dγ = Σ g x̂``, ``dβ = Σ g``."""
        xhat, sigma = self.statistics(a)
        G = g.reshape(xhat.shape)
        gamma, beta = params["gamma"], params["beta"]
        dgamma, dbeta = self.parameter_sums(G, xhat)
        grads = {"gamma": dgamma.reshape(gamma.shape), "beta": dbeta.reshape(beta.shape)}
        if not need_input:
            return None, grads
        return self._back(G * self.along(gamma, xhat) / sigma, xhat).reshape(a.shape), grads

    def _back(self, u: FloatArray, xhat: FloatArray) -> FloatArray:
        """``u − mean(u) − x̂ ⊙ mean(u ⊙ x̂)`` over each group."""
        axis = self.group_axis(xhat)
        mean_u = u.mean(axis=axis, keepdims=True)
        mean_ux = (u * xhat).mean(axis=axis, keepdims=True)
        return np.asarray(u - mean_u - xhat * mean_ux)

    def forward_cost(self, in_shape: Shape) -> int:
        """A few operations per entry."""
        return 4 * prod(in_shape)
