"""Jacobians that know their structure, and three representations of every factor.

A dense ``∂z/∂vec(W)`` has ``n²m`` entries — 6.6 GB for one example of a 1024 × 784 layer —
but it is ``I_n ⊗ aᵀ``, and a row ``v`` times it is ``vec(vᵀ aᵀ)``: an outer product of
``n·m`` multiplications. That is why ``dW = δ aᵀ`` is both right and cheap. The factors here
are still the Jacobians of the chain, each one materialisable as a dense or a sparse matrix
(:meth:`Structured.dense`, :meth:`Structured.sparse`); they just multiply the way their
structure allows:

============================  ==========================  ==================================
Jacobian                      class                       ``v @ J`` for a row ``v``
============================  ==========================  ==================================
``I_n``                       :class:`Identity`           ``v``
``diag(d)``                   :class:`Diagonal`           ``v ⊙ d``
``diag(s) − s sᵀ``            :class:`SoftmaxJacobian`    ``v ⊙ s − (v·s) s``
``I_n ⊗ aᵀ``                  :class:`KronIdentityRow`    ``vec(vᵀ aᵀ)``
``a ⊗ I_n`` (row layout)      :class:`KronRowIdentity`    ``vec(aᵀ v)``
any other (``W``, ``∂L/∂ŷ``)  :class:`Dense`              ``v @ M``
============================  ==========================  ==================================

Representations: ``dense`` (numpy arrays, the teaching default), ``sparse`` (scipy.sparse
CSR, ``I_n ⊗ aᵀ`` built directly; a factor that is dense by nature, ``W``, stays an array),
``structured`` (the classes above).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import scipy.sparse as sps

from ._typing import FloatArray, Matrix, Vector
from .errors import unknown_name

# the index arrays of a CSR pattern
IndexArray = npt.NDArray[np.signedinteger[Any]]

REPRESENTATIONS = ("dense", "sparse", "structured")


class Structured:
    """A Jacobian with a known structure: ``shape``, ``dense()``, ``sparse()``, ``v @ J``."""

    __array_ufunc__ = None  # let ``ndarray @ J`` call ``J.__rmatmul__``
    name: ClassVar[str] = "structured"

    @property
    def shape(self) -> tuple[int, int]:
        raise NotImplementedError

    def dense(self) -> Matrix:
        """The same Jacobian as a dense numpy array."""
        raise NotImplementedError

    def sparse(self) -> sps.csr_array:
        """The same Jacobian as a scipy.sparse CSR array."""
        return sps.csr_array(self.dense())

    def vjp(self, v: Matrix) -> Matrix:
        """``v @ J`` for a row block ``v`` (``k × rows``)."""
        return np.asarray(v @ self.dense())

    def __rmatmul__(self, v: Any) -> Any:
        if isinstance(v, np.ndarray):
            return self.vjp(v)
        if isinstance(v, Structured):  # two structured factors: multiply sparsely
            return v.sparse() @ self.sparse()
        return v @ self.sparse()

    def __matmul__(self, other: Any) -> Any:
        right = other.sparse() if isinstance(other, Structured) else other
        return self.sparse() @ right


@dataclass(frozen=True)
class Dense(Structured):
    """Any matrix, stored densely (``W``, the loss row, a full Jacobian)."""

    matrix: Matrix
    name: ClassVar[str] = "dense"

    @property
    def shape(self) -> tuple[int, int]:
        r, c = self.matrix.shape
        return int(r), int(c)

    def dense(self) -> Matrix:
        return self.matrix

    def vjp(self, v: Matrix) -> Matrix:
        return np.asarray(v @ self.matrix)


@dataclass(frozen=True)
class Identity(Structured):
    """``I_n``."""

    n: int
    name: ClassVar[str] = "identity"

    @property
    def shape(self) -> tuple[int, int]:
        return self.n, self.n

    def dense(self) -> Matrix:
        return np.eye(self.n)

    def sparse(self) -> sps.csr_array:
        return sps.csr_array(sps.identity(self.n, format="csr"))

    def vjp(self, v: Matrix) -> Matrix:
        return np.array(v, dtype=np.float64)


@dataclass(frozen=True)
class Diagonal(Structured):
    """``diag(d)``: an elementwise activation's ``∂a/∂z``."""

    d: Vector
    name: ClassVar[str] = "diagonal"

    @property
    def shape(self) -> tuple[int, int]:
        return self.d.size, self.d.size

    def dense(self) -> Matrix:
        return np.diag(self.d)

    def sparse(self) -> sps.csr_array:
        return sps.csr_array(sps.diags(self.d, format="csr"))

    def vjp(self, v: Matrix) -> Matrix:
        return np.asarray(v * self.d)


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
        # Block i starts at flat index i·n·m + i·m = i·(n·m + m). Viewed with rows of length
        # n·m + m, a zero buffer one block longer than the result holds every block in its
        # first m columns: one vectorized fill, each entry written once (np.kron multiplies
        # every entry, zeros included; a Python loop over blocks costs more than the writes
        # for small n). The result is the leading n × n·m of that buffer.
        n, m = self.n, self.a.size
        buffer = np.zeros(n * (n * m + m))
        buffer.reshape(n, n * m + m)[:, :m] = self.a
        return buffer[: n * n * m].reshape(n, n * m)

    def sparse(self) -> sps.csr_array:
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
        return sps.csr_array(sps.kron(self.a.reshape(1, -1), sps.identity(self.n), format="csr"))

    def vjp(self, v: Matrix) -> Matrix:
        k = v.shape[0]
        return np.asarray(self.a[np.newaxis, :, np.newaxis] * v[:, np.newaxis, :]).reshape(k, -1)


def represent(J: Structured, representation: str) -> Any:
    """``J`` as a dense array, a CSR array, or itself."""
    if representation == "dense":
        return J.dense()
    if representation == "sparse":
        # a Dense factor (W, a full Jacobian) has no zeros to skip: it stays an array
        return J.matrix if isinstance(J, Dense) else J.sparse()
    if representation == "structured":
        return J
    raise unknown_name("jacobians", representation, REPRESENTATIONS)


def to_dense(value: Any) -> FloatArray:
    """A product of any representation as a dense float64 array."""
    if isinstance(value, Structured):
        return value.dense()
    if sps.issparse(value):
        return np.asarray(value.toarray(), dtype=np.float64)
    return np.asarray(value, dtype=np.float64)


# Batch Jacobians: the whole batch as one function of vec(Z), Z = W A + b 1ᵀ (n × B), with
# row-major vec: vec(Z)[i·B + b] = Z[i, b]. A row v of length n·B is the matrix V = v.reshape(n, B).


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
        return np.asarray(np.kron(np.eye(self.n), self.A.T), dtype=np.float64)

    def sparse(self) -> sps.csr_array:
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
