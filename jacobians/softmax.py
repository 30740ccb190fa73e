"""Softmax: the one activation that is not elementwise, so its Jacobian is a full matrix.

``s = softmax(z)``, ``s_i = exp(z_i) / Σ_k exp(z_k)``, and ``∂s/∂z = diag(s) − s sᵀ`` (``n × n``,
symmetric, every row summing to 0 because ``Σ_i s_i = 1`` for every ``z``).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from scipy.special import softmax as _softmax

from ._typing import FloatArray, Matrix, Vector


class Softmax:
    """``s = softmax(z)`` over axis 0; a batch ``Z`` (``n × B``) is one softmax per column."""

    name: ClassVar[str] = "softmax"
    elementwise: ClassVar[bool] = False
    kinks: ClassVar[tuple[float, ...]] = ()
    output_range: ClassVar[tuple[float, float]] = (0.0, 1.0)

    def __call__(self, z: FloatArray) -> FloatArray:
        """``s_i = exp(z_i) / Σ_k exp(z_k)`` per column, computed stably (max subtracted)."""
        return np.asarray(_softmax(np.asarray(z, dtype=np.float64), axis=0), dtype=np.float64)

    def jacobian(self, z: Vector) -> Matrix:
        """``∂s/∂z = diag(s) − s sᵀ``, shape ``(n, n)`` for ``z`` of shape ``(n,)``.

        >>> J = Softmax().jacobian(np.zeros(2))
        >>> J.tolist()
        [[0.25, -0.25], [-0.25, 0.25]]
        """
        s = self(z)
        return np.diag(s) - np.outer(s, s)

    def vjp(self, z: FloatArray, v: FloatArray) -> FloatArray:
        """``(∂s/∂z)ᵀ v = s ⊙ (v − (sᵀ v) 1)`` per column, without building the matrix."""
        s = self(z)
        return np.asarray(s * (v - np.sum(s * v, axis=0, keepdims=True)), dtype=np.float64)

    def __repr__(self) -> str:
        return "softmax"
