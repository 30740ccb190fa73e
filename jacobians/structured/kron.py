"""Kronecker-structured Jacobians: the weights' ``I ⊗ aᵀ`` and its relatives.

``∂z/∂vec(W) = I_n ⊗ aᵀ`` for one example of a dense layer (:class:`KronIdentityRow`), and the
same shape of matrix with a whole block ``U`` instead of the row ``aᵀ`` (:class:`KronIdentity`):
the batch's ``I_n ⊗ Aᵀ`` and a convolution's ``I_{C_out} ⊗ U`` with ``U`` its im2row matrix. A
row block ``v`` times ``I_n ⊗ U`` is ``vec(V U)`` with ``V = v`` reshaped to ``n × rows(U)``:
the compact ``dW = Δ U`` appears as the product. Also the row layout's ``a ⊗ I_n``, the batch's
``W ⊗ I_B`` (the input Jacobian of every example at once) and ``I_n ⊗ 1_B`` (the bias), and the
column-major ``vec``'s ``Aᵀ ⊗ I_n`` (``compare --vec column``).

Batch Jacobians treat the whole batch as one function of ``vec(Z)``, with the batch on the last
axis and row-major ``vec``: ``vec(Z)[i·B + b] = Z[i, b]``; a row ``v`` of length ``n·B`` is the
matrix ``V = v.reshape(n, B)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import numpy.typing as npt

from .._typing import Matrix, Vector
from .base import Structured

if TYPE_CHECKING:
    import scipy.sparse as sps  # imported where used: see jacobians.logistic

# the index arrays of a CSR pattern
IndexArray = npt.NDArray[np.signedinteger[Any]]


@lru_cache(maxsize=64)
def _kron_identity_row_pattern(n: int, m: int) -> tuple[IndexArray, IndexArray]:
    """The CSR pattern of ``I_n ⊗ aᵀ``: row ``i`` holds columns ``i·m … i·m + m − 1``, so
    ``indices = 0, 1, …, n·m − 1`` and ``indptr = 0, m, 2m, …, n·m``. It depends on the shape
    alone: made once per shape (the last 64 shapes are kept; read-only, in scipy's 32-bit
    index type where it fits) and shared by every example's Jacobian, whose data is just
    ``aᵀ`` repeated ``n`` times."""
    indices: IndexArray
    indptr: IndexArray
    if n * m <= np.iinfo(np.int32).max:
        indices, indptr = (
            np.arange(n * m, dtype=np.int32),
            np.arange(0, n * m + 1, m, dtype=np.int32),
        )
    else:
        indices, indptr = (
            np.arange(n * m, dtype=np.int64),
            np.arange(0, n * m + 1, m, dtype=np.int64),
        )
    indices.flags.writeable = indptr.flags.writeable = False
    return indices, indptr


@dataclass(frozen=True)
class KronIdentityRow(Structured):
    """``I_n ⊗ aᵀ`` (``n × n·m``), the column layout's ``∂z/∂vec(W)``: ``v @ J = vec(vᵀ aᵀ)``."""

    n: int
    a: Vector
    name: ClassVar[str] = "I ⊗ aᵀ"

    @property
    def shape(self) -> tuple[int, int]:
        return self.n, self.n * self.a.size

    def dense(self) -> Matrix:
        return kron_identity_fill(self.n, self.a.reshape(1, -1))

    def sparse(self) -> sps.csr_array:
        import scipy.sparse as sps

        indices, indptr = _kron_identity_row_pattern(self.n, self.a.size)
        return sps.csr_array((np.tile(self.a, self.n), indices, indptr), shape=self.shape)

    def vjp(self, v: Matrix) -> Matrix:
        k = v.shape[0]
        if k == 1:
            return np.outer(v[0], self.a).reshape(1, -1)
        return np.asarray(v[:, :, np.newaxis] * self.a[np.newaxis, np.newaxis, :]).reshape(k, -1)


@dataclass(frozen=True)
class KronRowIdentity(Structured):
    """``a ⊗ I_n`` (``n × m·n``), the row layout's ``∂z/∂vec(W)``: ``v @ J = vec(aᵀ v)``."""

    a: Vector
    n: int
    name: ClassVar[str] = "a ⊗ I"

    @property
    def shape(self) -> tuple[int, int]:
        return self.n, self.a.size * self.n

    def dense(self) -> Matrix:
        return np.asarray(np.kron(self.a.reshape(1, -1), np.eye(self.n)), dtype=np.float64)

    def sparse(self) -> sps.csr_array:
        import scipy.sparse as sps

        return sps.csr_array(sps.kron(self.a.reshape(1, -1), sps.identity(self.n), format="csr"))

    def vjp(self, v: Matrix) -> Matrix:
        k = v.shape[0]
        return np.asarray(self.a[np.newaxis, :, np.newaxis] * v[:, np.newaxis, :]).reshape(k, -1)


@dataclass(frozen=True)
class KronTransposeIdentity(Structured):
    """``Aᵀ ⊗ I_n`` (``n·B × m·n``) for ``A`` of ``m × B``: the column-major (Magnus–Neudecker)
    ``∂vec_col(Z)/∂vec_col(W)`` of ``Z = W A + b 1ᵀ``, ``vec_col`` stacking columns; for one
    example (``B = 1``) ``∂z/∂vec_col(W) = aᵀ ⊗ I_n``. Row block ``b`` is example ``b``'s
    ``a_bᵀ ⊗ I_n``; ``v @ J = vec_col(V Aᵀ)`` with ``V`` the ``n × B`` matrix whose columns are
    ``v``'s blocks of ``n``: the compact ``dW = Δ Aᵀ``, flattened column-major."""

    A: Matrix
    n: int
    name: ClassVar[str] = "Aᵀ ⊗ I"

    @property
    def shape(self) -> tuple[int, int]:
        m, B = self.A.shape
        return B * self.n, m * self.n

    def dense(self) -> Matrix:
        return np.asarray(np.kron(self.A.T, np.eye(self.n)), dtype=np.float64)

    def sparse(self) -> sps.csr_array:
        import scipy.sparse as sps

        return sps.csr_array(sps.kron(sps.csr_array(self.A.T), sps.identity(self.n), format="csr"))

    def vjp(self, v: Matrix) -> Matrix:
        # (m, B) @ (k, B, n) → (k, m, n): entry (j, i) is Σ_b A[j, b] V[i, b], at column j·n + i
        k, B = v.shape[0], self.A.shape[1]
        return np.asarray(np.matmul(self.A, v.reshape(k, B, self.n)).reshape(k, -1))


def kron_identity_fill(n: int, U: Matrix) -> Matrix:
    """``I_n ⊗ U`` as a dense array, shape ``(n·P, n·q)`` for ``U`` of shape ``(P, q)``, each
    entry written once.

    Block ``i`` starts at flat index ``i·P·n·q + i·q = i·(P·n·q + q)``. Viewed with rows of
    length ``P·n·q + q``, a zero buffer one block row longer than the result holds block ``i``
    in the first ``P·n·q`` entries of row ``i``, as a ``P × n·q`` array whose first ``q``
    columns are the block: one vectorized assignment fills every block (``np.kron`` multiplies
    every entry, zeros included). The result is the leading ``n·P × n·q`` of that buffer.

    >>> kron_identity_fill(2, np.array([[1.0, 2.0]])).tolist()
    [[1.0, 2.0, 0.0, 0.0], [0.0, 0.0, 1.0, 2.0]]
    """
    P, q = U.shape
    row = P * n * q + q
    buffer = np.zeros(n * row)
    buffer.reshape(n, row)[:, : P * n * q].reshape(n, P, n * q)[:, :, :q] = U
    return buffer[: n * P * n * q].reshape(n * P, n * q)


@dataclass(frozen=True)
class KronIdentity(Structured):
    """``I_n ⊗ U`` (``n·P × n·q``) for any block ``U`` (``P × q``): a convolution's
    ``∂vec(z)/∂vec(W) = I_{C_out} ⊗ U`` with ``U`` the im2row matrix; ``v @ J = vec(V U)``."""

    n: int
    U: Matrix
    name: ClassVar[str] = "I ⊗ U"

    @property
    def shape(self) -> tuple[int, int]:
        P, q = self.U.shape
        return self.n * P, self.n * q

    def dense(self) -> Matrix:
        return kron_identity_fill(self.n, self.U)

    def sparse(self) -> sps.csr_array:
        import scipy.sparse as sps

        return sps.csr_array(sps.kron(sps.identity(self.n), sps.csr_array(self.U), format="csr"))

    def vjp(self, v: Matrix) -> Matrix:
        # every row at once: (k, n, P) @ (P, q) → (k, n, q)
        k, P = v.shape[0], self.U.shape[0]
        return np.asarray(np.matmul(v.reshape(k, self.n, P), self.U).reshape(k, -1))


@dataclass(frozen=True)
class KronIdentityBatch(Structured):
    """``∂vec(Z)/∂vec(W) = I_n ⊗ Aᵀ`` (``n·B × n·m``) for a batch ``A`` (``m × B``):
    ``v @ J = vec(V Aᵀ)``, the sum over the batch of the examples' outer products."""

    n: int
    A: Matrix
    name: ClassVar[str] = "I ⊗ Aᵀ"

    @property
    def shape(self) -> tuple[int, int]:
        m, B = self.A.shape
        return self.n * B, self.n * m

    def dense(self) -> Matrix:
        return kron_identity_fill(self.n, self.A.T)

    def sparse(self) -> sps.csr_array:
        import scipy.sparse as sps

        return sps.csr_array(sps.kron(sps.identity(self.n), sps.csr_array(self.A.T), format="csr"))

    def vjp(self, v: Matrix) -> Matrix:
        # every row of v at once: (k, n, B) @ (B, m) → (k, n, m); no per-row copies
        k, B = v.shape[0], self.A.shape[1]
        return np.asarray(np.matmul(v.reshape(k, self.n, B), self.A.T).reshape(k, -1))


@dataclass(frozen=True)
class KronWeightBatch(Structured):
    """``∂vec(Z)/∂vec(A) = W ⊗ I_B`` (``n·B × m·B``): ``v @ J = vec(Wᵀ V)``."""

    W: Matrix
    batch: int
    name: ClassVar[str] = "W ⊗ I"

    @property
    def shape(self) -> tuple[int, int]:
        n, m = self.W.shape
        return n * self.batch, m * self.batch

    def dense(self) -> Matrix:
        return np.asarray(np.kron(self.W, np.eye(self.batch)), dtype=np.float64)

    def sparse(self) -> sps.csr_array:
        import scipy.sparse as sps

        return sps.csr_array(
            sps.kron(sps.csr_array(self.W), sps.identity(self.batch), format="csr")
        )

    def vjp(self, v: Matrix) -> Matrix:
        # (m, n) @ (k, n, B) → (k, m, B)
        k, n = v.shape[0], self.W.shape[0]
        return np.asarray(np.matmul(self.W.T, v.reshape(k, n, self.batch)).reshape(k, -1))


@dataclass(frozen=True)
class KronOnesBatch(Structured):
    """``∂vec(Z)/∂b = I_n ⊗ 1_B`` (``n·B × n``): ``v @ J = V 1``, the row sums."""

    n: int
    batch: int
    name: ClassVar[str] = "I ⊗ 1"

    @property
    def shape(self) -> tuple[int, int]:
        return self.n * self.batch, self.n

    def dense(self) -> Matrix:
        return np.asarray(np.kron(np.eye(self.n), np.ones((self.batch, 1))), dtype=np.float64)

    def vjp(self, v: Matrix) -> Matrix:
        return np.asarray(v.reshape(v.shape[0], self.n, self.batch).sum(axis=2))
