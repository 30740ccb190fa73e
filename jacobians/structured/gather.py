"""Pooling's Jacobians: each output row gathers a few inputs with fixed weights.

Max pooling selects one input per output, the window's maximum: a *selection matrix* with one
1 per row (:class:`Selection`). Average pooling takes the mean of the window: ``1/k²`` at each
of its ``k²`` inputs (:class:`Averaging`). Both are :class:`Gather` matrices — row ``r`` holds
``weights[r, j]`` at column ``columns[r, j]`` — and ``v @ J`` scatters every entry of ``v``
back to the inputs it came from (a window's gradient to its maximum, or spread evenly).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import numpy.typing as npt

from .._typing import FloatArray, Matrix
from .base import Structured

if TYPE_CHECKING:
    import scipy.sparse as sps  # imported where used: see jacobians.logistic

IntArray = npt.NDArray[np.intp]


@dataclass(frozen=True)
class Gather(Structured):
    """``J[r, columns[r, j]] = weights[r, j]`` (``rows × inputs``); ``columns`` and ``weights``
    are ``rows × K``."""

    columns: IntArray
    weights: FloatArray
    inputs: int
    name: ClassVar[str] = "gather"

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.columns.shape[0]), self.inputs

    @cached_property
    def _matrix(self) -> sps.csr_array:
        import scipy.sparse as sps

        rows, K = self.columns.shape
        indptr = np.arange(0, rows * K + 1, K)
        return sps.csr_array(
            (self.weights.reshape(-1), self.columns.reshape(-1), indptr), shape=self.shape
        )

    def sparse(self) -> sps.csr_array:
        import scipy.sparse as sps

        return sps.csr_array(self._matrix, copy=True)

    def dense(self) -> Matrix:
        out = np.zeros(self.shape)
        rows = np.arange(self.columns.shape[0])[:, None]
        np.add.at(out, (np.broadcast_to(rows, self.columns.shape), self.columns), self.weights)
        return out

    def vjp(self, v: Matrix) -> Matrix:
        # v Sᵀᵀ = (Sᵀ vᵀ)ᵀ: every entry of v sent back to the columns of its row
        return np.asarray((self._matrix.T @ np.asarray(v).T).T, dtype=np.float64)


def selection(columns: IntArray, inputs: int) -> Gather:
    """Max pooling's Jacobian: one 1 per row, at the column of the window's maximum."""
    cols = np.asarray(columns, dtype=np.intp).reshape(-1, 1)
    return Selection(cols, np.ones(cols.shape), inputs)


def averaging(windows: IntArray, inputs: int) -> Gather:
    """Average pooling's Jacobian: ``1/K`` at each of the ``K`` columns of a window."""
    cols = np.asarray(windows, dtype=np.intp)
    return Averaging(cols, np.full(cols.shape, 1.0 / cols.shape[1]), inputs)


@dataclass(frozen=True)
class Selection(Gather):
    """A selection matrix: one 1 per row (max pooling's ``∂a/∂a_prev``)."""

    name: ClassVar[str] = "selection"


@dataclass(frozen=True)
class Averaging(Gather):
    """An averaging matrix: ``1/K`` at the ``K`` inputs of each window (average pooling)."""

    name: ClassVar[str] = "averaging"
