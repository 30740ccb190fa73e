"""A convolution's input Jacobian: the doubly-blocked Toeplitz matrix, applied as a correlation.

``∂vec(z)/∂vec(x)`` of ``z = correlate(x, W, s, p)`` is ``C_out·H'·W' × C·H·W``, mostly zeros:
row ``(o, i, j)`` holds the kernel ``W[o]`` at the receptive field of output ``(i, j)``
(:func:`jacobians.correlation.toeplitz`). A row ``v`` times it is the transposed correlation
of ``v`` read as an output gradient — the flipped kernel slid over the padded ``v`` — so the
structured form never builds the matrix; ``dense()`` and ``sparse()`` build it on request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from .._typing import FloatArray, Matrix
from ..correlation import output_size, toeplitz, transposed
from .base import Structured

if TYPE_CHECKING:
    import scipy.sparse as sps  # imported where used: see jacobians.logistic


@dataclass(frozen=True)
class Correlation(Structured):
    """``∂vec(z)/∂vec(x)`` for a batch of ``batch`` examples (batch on the last axis):
    ``T ⊗ I_B`` with ``T`` the Toeplitz matrix of ``W`` (``C_out × C × k × k``) on inputs
    ``C × H × W``; ``v @ J`` is the transposed correlation of every row of ``v`` at once."""

    W: FloatArray
    size: tuple[int, int]
    stride: int = 1
    padding: int = 0
    batch: int = 1
    name: ClassVar[str] = "correlation"

    @property
    def out_size(self) -> tuple[int, int]:
        """``(H', W')``."""
        k = self.W.shape[-1]
        return (
            output_size(self.size[0], k, self.stride, self.padding),
            output_size(self.size[1], k, self.stride, self.padding),
        )

    @property
    def shape(self) -> tuple[int, int]:
        c_out, C = self.W.shape[:2]
        ho, wo = self.out_size
        return c_out * ho * wo * self.batch, C * self.size[0] * self.size[1] * self.batch

    def sparse(self) -> sps.csr_array:
        import scipy.sparse as sps

        T = toeplitz(self.W, self.size, self.stride, self.padding)
        if self.batch == 1:
            return sps.csr_array(T)
        return sps.csr_array(sps.kron(T, sps.identity(self.batch), format="csr"))

    def dense(self) -> Matrix:
        return np.asarray(self.sparse().toarray(), dtype=np.float64)

    def vjp(self, v: Matrix) -> Matrix:
        # the rows of v are vec(Δ) for Δ of shape C_out × H' × W' × B: every row becomes more
        # examples of one transposed correlation
        k, B = v.shape[0], self.batch
        c_out, C = self.W.shape[:2]
        ho, wo = self.out_size
        D = v.reshape(k, c_out, ho, wo, B).transpose(1, 2, 3, 4, 0).reshape(c_out, ho, wo, B * k)
        X = transposed(D, self.W, self.size, self.stride, self.padding)
        H, Wd = self.size
        return np.ascontiguousarray(X.reshape(C, H, Wd, B, k).transpose(4, 0, 1, 2, 3)).reshape(
            k, -1
        )
