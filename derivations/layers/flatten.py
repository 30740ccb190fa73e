"""``flatten`` in symbols: ``C × H × W → C·H·W``, row-major.

Mirrors :mod:`jacobians.layers.flatten`. The local map lists the entries in ``vec`` order,
so its derived Jacobian is the identity ``I_{C·H·W}``; the compact backward reshapes the
gradient back to ``C × H × W``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import sympy as sp

from .base import Gradients, Structure, SymbolicLayer, Tensor


class Flatten(SymbolicLayer):
    """``flatten``: one vector per example, in row-major order."""

    kinds = ("flatten",)

    def forward(self, a: Tensor, params: Mapping[str, Tensor]) -> Tensor:
        """The entries of ``a`` in row-major order."""
        return np.asarray(a, dtype=object).reshape(-1)

    def backward(
        self, a: Tensor, out: Tensor, params: Mapping[str, Tensor], g: Tensor
    ) -> Gradients:
        """``g`` reshaped to the input's shape."""
        return Gradients(np.asarray(g, dtype=object).reshape(a.shape))

    def structures(
        self, a: Tensor, out: Tensor, params: Mapping[str, Tensor]
    ) -> dict[str, Structure]:
        """``I_{C·H·W}``: flatten keeps ``vec``."""
        n = int(a.size)
        return {"input": Structure(f"I_{n} (flatten keeps vec)", sp.eye(n))}

    def formula(self) -> str:
        return f"{self.out_name} = flatten({self.in_name}), the entries in row-major order"
