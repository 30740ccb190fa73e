"""Softmax's Jacobian ``diag(s) − s sᵀ``, for one example and for a batch, applied unbuilt."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .._typing import Matrix, Vector
from .base import Structured


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
