"""The commutation matrix: the permutation that transposes a matrix under ``vec``.

For ``M`` of shape ``m × n`` and the row-major ``vec`` of NOTATION.md, ``vec(Mᵀ) = C vec(M)``
with ``C`` the ``n·m × m·n`` permutation ``C[(j, i), (i, j)] = 1``. It appears wherever a
transpose sits inside a chain: ``∂vec(Q Kᵀ)/∂vec(K) = (Q ⊗ I) C`` in attention,
``∂vec(X Wᵀ)/∂vec(W) = (X ⊗ I) C`` for a dense layer on a sequence. A row ``v`` times it is
``v`` with its entries transposed back: no arithmetic at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from .._typing import Matrix
from .base import Structured

if TYPE_CHECKING:
    import scipy.sparse as sps  # imported where used: see jacobians.logistic


@dataclass(frozen=True)
class Commutation(Structured):
    """``C`` with ``vec(Mᵀ) = C vec(M)`` for ``M`` of ``m × n`` (``n·m × m·n``)."""

    m: int
    n: int
    name: ClassVar[str] = "commutation"

    @property
    def shape(self) -> tuple[int, int]:
        return self.n * self.m, self.m * self.n

    def columns(self) -> np.ndarray:
        """The column of the 1 in each row: row ``j·m + i`` holds column ``i·n + j``."""
        return np.arange(self.m * self.n).reshape(self.m, self.n).T.reshape(-1)

    def dense(self) -> Matrix:
        out = np.zeros(self.shape)
        out[np.arange(self.m * self.n), self.columns()] = 1.0
        return out

    def sparse(self) -> sps.csr_array:
        import scipy.sparse as sps

        size = self.m * self.n
        return sps.csr_array((np.ones(size), self.columns(), np.arange(size + 1)), shape=self.shape)

    def vjp(self, v: Matrix) -> Matrix:
        k = v.shape[0]
        return np.asarray(v).reshape(k, self.n, self.m).transpose(0, 2, 1).reshape(k, -1)
