"""A residual block's Jacobian: the identity plus the chain of its own layers.

``y = x + f(x)`` with ``f`` a sequence of layers: ``∂y/∂x = I + J_f``, ``J_f = F_1 F_2 ⋯ F_k`` the
product of ``f``'s input Jacobians (last layer first). A row ``v`` times it is ``v`` plus ``v``
carried back through ``f`` one factor at a time: the inner chain is never multiplied out.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from .._typing import Matrix
from .base import Structured

if TYPE_CHECKING:
    import scipy.sparse as sps  # imported where used: see jacobians.logistic


@dataclass(frozen=True)
class SkipSum(Structured):
    """``I + F_1 F_2 ⋯ F_k`` for structured factors ``F`` (``F_1`` the block's last layer's)."""

    factors: tuple[Structured, ...]
    name: ClassVar[str] = "I + J_f"

    @property
    def shape(self) -> tuple[int, int]:
        n = self.factors[0].shape[0]
        return n, n

    def vjp(self, v: Matrix) -> Matrix:
        through = reduce(lambda acc, F: F.vjp(acc), self.factors, np.asarray(v))
        return np.asarray(v + through)

    def dense(self) -> Matrix:
        inner = reduce(np.matmul, (F.dense() for F in self.factors))
        return np.asarray(np.eye(self.shape[0]) + inner)

    def sparse(self) -> sps.csr_array:
        import scipy.sparse as sps

        inner = reduce(lambda acc, F: acc @ F.sparse(), self.factors[1:], self.factors[0].sparse())
        return sps.csr_array(sps.identity(self.shape[0], format="csr") + inner)
