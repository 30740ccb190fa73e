"""The normalizations' Jacobians: a scaled identity minus two rank-one terms per group.

Batch norm and layer norm both map a group of ``m`` numbers ``x`` to ``x̂ = (x − μ)/σ`` (mean
and biased variance over the group, ``σ = √(var + ε)``) and then to ``γ ⊙ x̂ + β``. Per group,

    ∂y/∂x = diag(s) (I − 11ᵀ/m − x̂ x̂ᵀ/m),    s = γ/σ,

an identity minus two rank-one terms, scaled; a row ``v`` times it is
``u − mean(u) − x̂ ⊙ mean(u ⊙ x̂)`` with ``u = v ⊙ s``: ``O(m)`` per group, never the ``m × m``
block. The groups are laid out on ``vec`` viewed as a ``P × Q`` array: batch norm's are its rows
(a feature over the batch, or a channel over the batch and its positions: they couple the
examples), layer norm's its columns (an example over its features).

With respect to ``γ`` (one per row of that view) the Jacobian puts ``x̂[p, q]`` in column
``p`` of row ``(p, q)`` (:class:`GroupColumns`); with respect to ``β`` it is ``I ⊗ 1``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from .._typing import FloatArray, Matrix
from .base import Structured

if TYPE_CHECKING:
    import scipy.sparse as sps  # imported where used: see jacobians.logistic


@dataclass(frozen=True)
class Normalization(Structured):
    """``diag(s) (I − 11ᵀ/m − x̂ x̂ᵀ/m)`` per group on ``vec`` viewed as ``x̂`` (``P × Q``): the
    groups are the rows (``axis = 1``, batch norm) or the columns (``axis = 0``, layer norm);
    ``scale`` is ``s = γ/σ``, broadcast against ``x̂``."""

    xhat: FloatArray
    scale: FloatArray
    axis: int
    name: ClassVar[str] = "I − 11ᵀ/m − x̂x̂ᵀ/m"

    @property
    def shape(self) -> tuple[int, int]:
        return self.xhat.size, self.xhat.size

    def vjp(self, v: Matrix) -> Matrix:
        k = v.shape[0]
        axis = self.axis + 1  # after the rows of v
        u = np.asarray(v).reshape(k, *self.xhat.shape) * self.scale
        mean_u = u.mean(axis=axis, keepdims=True)
        mean_ux = (u * self.xhat).mean(axis=axis, keepdims=True)
        return np.asarray(u - mean_u - self.xhat * mean_ux).reshape(k, -1)

    def dense(self) -> Matrix:
        # column j of J is eⱼᵀ J: the rows of the identity, multiplied at once
        return self.vjp(np.eye(self.xhat.size))

    def sparse(self) -> sps.csr_array:
        import scipy.sparse as sps

        return sps.csr_array(self.dense())


@dataclass(frozen=True)
class GroupColumns(Structured):
    """``J[i, p] = values[i]`` where ``p`` is entry ``i``'s index along ``axis`` (rows: every
    entry of ``values``; columns: ``values.shape[axis]``): ``∂vec(y)/∂γ`` of a normalization
    with ``values = x̂`` (``∂vec(y)/∂β`` with ones). For the ``P × Q`` view and ``axis = 0``,
    ``x̂[p, q]`` in column ``p`` of row ``(p, q)``; ``v @ J`` sums ``v ⊙ values`` over every
    axis but ``axis``."""

    values: FloatArray
    axis: int = 0
    name: ClassVar[str] = "x̂ per γ"

    @property
    def shape(self) -> tuple[int, int]:
        return self.values.size, self.values.shape[self.axis]

    def columns(self) -> np.ndarray:
        """Each row's column: its entry's index along ``axis``."""
        return np.asarray(np.indices(self.values.shape)[self.axis].reshape(-1))

    def vjp(self, v: Matrix) -> Matrix:
        k = v.shape[0]
        product = np.asarray(v).reshape(k, *self.values.shape) * self.values
        others = tuple(i + 1 for i in range(self.values.ndim) if i != self.axis)
        return np.asarray(product.sum(axis=others))

    def dense(self) -> Matrix:
        out = np.zeros(self.shape)
        out[np.arange(self.values.size), self.columns()] = self.values.reshape(-1)
        return out

    def sparse(self) -> sps.csr_array:
        import scipy.sparse as sps

        indptr = np.arange(self.values.size + 1)
        data = self.values.reshape(-1)
        return sps.csr_array((data, self.columns(), indptr), shape=self.shape)
