"""Softmax: the one activation that is not elementwise, so its Jacobian is a full matrix.

``s = softmax(z)``, ``s_i = exp(z_i) / Σ_k exp(z_k)``, and ``∂s/∂z = diag(s) − s sᵀ`` (``n × n``,
symmetric, every row summing to 0 because ``Σ_i s_i = 1`` for every ``z``).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from ._typing import FloatArray, Matrix, Vector


class Softmax:
    """``s = softmax(z)`` over axis 0; a batch ``Z`` (``n × B``) is one softmax per column."""

    name: ClassVar[str] = "softmax"
    elementwise: ClassVar[bool] = False
    kinks: ClassVar[tuple[float, ...]] = ()
    output_range: ClassVar[tuple[float, float]] = (0.0, 1.0)

    def __call__(self, z: FloatArray) -> FloatArray:
        """``s_i = exp(z_i − m) / Σ_k exp(z_k − m)`` per column, ``m = max_k z_k``: stable (no
        ``exp`` of a positive number overflows), and the operations of
        ``scipy.special.softmax(z, axis=0)`` in its order (without its array-API wrapper).
        The maximum and the sum over axis 0 broadcast back without ``keepdims`` (the same
        values, one keyword fewer to parse)."""
        z = np.asarray(z, dtype=np.float64)
        s: FloatArray = np.exp(z - np.maximum.reduce(z, 0))  # z.max(axis=0) without its wrapper
        s /= np.add.reduce(s, 0)  # s.sum(axis=0) likewise; in place: s is a fresh array
        return s

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


SOFTMAX = Softmax()
"""The instance the softmax layer uses: a softmax holds no state, so one serves every pass."""
