"""The base of every structured Jacobian, the plain ones, and the three representations.

A :class:`Structured` Jacobian knows its shape, how to become a dense numpy array
(:meth:`~Structured.dense`) or a scipy.sparse CSR array (:meth:`~Structured.sparse`), and how a
block of rows ``v`` multiplies it (``v @ J``, :meth:`~Structured.vjp`) the way its structure
allows. Here: :class:`Dense` (any matrix), :class:`Identity` (``I_n``) and :class:`Diagonal`
(``diag(d)``); :func:`represent` turns one into the representation a route asks for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from .._typing import FloatArray, Matrix, Vector
from ..errors import unknown_name

if TYPE_CHECKING:
    import scipy.sparse as sps  # imported where used: see jacobians.logistic

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
        import scipy.sparse as sps

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
        import scipy.sparse as sps

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
        import scipy.sparse as sps

        return sps.csr_array(sps.diags(self.d, format="csr"))

    def vjp(self, v: Matrix) -> Matrix:
        return np.asarray(v * self.d)


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
    if isinstance(value, np.ndarray | float | int):  # before scipy.sparse, which it does not need
        return np.asarray(value, dtype=np.float64)
    import scipy.sparse as sps

    if sps.issparse(value):
        return np.asarray(value.toarray(), dtype=np.float64)
    return np.asarray(value, dtype=np.float64)
