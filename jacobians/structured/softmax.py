"""Softmax's Jacobian ``diag(s) − s sᵀ``, for one example and for a batch, applied unbuilt."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from .._typing import Matrix, Vector
from .base import Structured

if TYPE_CHECKING:
    import scipy.sparse as sps  # imported where used: see jacobians.logistic


@dataclass(frozen=True)
class SoftmaxJacobian(Structured):
    """``diag(s) − s sᵀ``: ``v @ J = v ⊙ s − (v·s) sᵀ``, ``O(n)`` instead of ``O(n²)``."""

    s: Vector
    name: ClassVar[str] = "softmax"

    @property
    def shape(self) -> tuple[int, int]:
        return self.s.size, self.s.size

    def dense(self) -> Matrix:
        return np.diag(self.s) - np.outer(self.s, self.s)

    def vjp(self, v: Matrix) -> Matrix:
        return np.asarray(v * self.s - (v @ self.s)[:, np.newaxis] * self.s)


@dataclass(frozen=True)
class SoftmaxBatch(Structured):
    """Softmax per column of ``Z`` (``n × B``): block ``diag(s_b) − s_b s_bᵀ`` for each example,
    interleaved by the row-major ``vec``; ``v @ J`` per column ``V ⊙ S − S (1ᵀ(V ⊙ S))``."""

    S: Matrix
    name: ClassVar[str] = "softmax (batch)"

    @property
    def shape(self) -> tuple[int, int]:
        return self.S.size, self.S.size

    def dense(self) -> Matrix:
        n, B = self.S.shape
        out = np.zeros((n * B, n * B))
        for b in range(B):
            idx = np.arange(n) * B + b
            s = self.S[:, b]
            out[np.ix_(idx, idx)] = np.diag(s) - np.outer(s, s)
        return out

    def vjp(self, v: Matrix) -> Matrix:
        n, B = self.S.shape
        vs = v.reshape(v.shape[0], n, B) * self.S
        return np.asarray((vs - self.S * vs.sum(axis=1, keepdims=True)).reshape(v.shape[0], -1))


@dataclass(frozen=True)
class RowSoftmax(Structured):
    """Softmax over each row of an ``R × C`` matrix (attention's ``A = softmax(S)``): with the
    row-major ``vec`` the rows are consecutive, so the Jacobian is block diagonal, one
    ``diag(a_r) − a_r a_rᵀ`` per row; ``v @ J`` per row is ``u ⊙ a_r − (u·a_r) a_r``."""

    A: Matrix
    name: ClassVar[str] = "softmax per row"

    @property
    def shape(self) -> tuple[int, int]:
        return self.A.size, self.A.size

    def block(self, r: int) -> Matrix:
        """Row ``r``'s block, ``C × C``."""
        a = self.A[r]
        return np.diag(a) - np.outer(a, a)

    def dense(self) -> Matrix:
        rows, cols = self.A.shape
        out = np.zeros((rows, cols, rows, cols))
        for r in range(rows):
            out[r, :, r, :] = self.block(r)
        return out.reshape(rows * cols, rows * cols)

    def sparse(self) -> sps.csr_array:
        import scipy.sparse as sps

        out = sps.csr_array(sps.block_diag([self.block(r) for r in range(self.A.shape[0])]))
        out.eliminate_zeros()  # a masked (causal) entry has a = 0: its row and column are 0
        return out

    def vjp(self, v: Matrix) -> Matrix:
        k = v.shape[0]
        U = np.asarray(v).reshape(k, *self.A.shape) * self.A
        return np.asarray((U - self.A * U.sum(axis=2, keepdims=True)).reshape(k, -1))
