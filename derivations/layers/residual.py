"""``residual(f…)`` in symbols: ``y = x + f(x)``, the block whose Jacobian is ``I + J_f``.

Mirrors :mod:`jacobians.layers.residual`. The block's own layers are nodes of the model
(labelled ``l_1, l_2, …``: ``z[2_1]``, ``W[2_1]``), each with its local map; the block says how
its input ``x`` and its sequence's output ``f`` meet:

- Local map: ``y = x + f`` in the symbols of ``x`` and of ``f``'s output; derived, ``∂y/∂f = I``.
- Input Jacobian: derived by ``Matrix.jacobian`` of ``x + f(x)`` with the block's own layers
  substituted into each other, then written ``I + J_f`` — ``J_f`` the product of its layers'
  input Jacobians, last first — once the two are shown to be the same matrix
  (:func:`derivations.layers.chains.block_jacobians`).
- Compact backward: ``∂L/∂x = g + f's backward of g`` for ``g = ∂L/∂y``: the identity path
  carries ``g`` past ``f`` unchanged (:meth:`Residual.combine`).
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from .base import Block, Tensor, name_of


class Residual(Block):
    """``residual(f…)``: ``y = x + f(x)``."""

    kinds = ("residual",)

    def join(self, a: Tensor, f: Tensor) -> Tensor:
        """``x + f``, entry by entry."""
        return np.asarray(a + f, dtype=object)

    def combine(self, g: Tensor, through: Tensor) -> Tensor:
        """``g + f's backward of g``: the identity path, then the path through ``f``."""
        return np.asarray(g + through, dtype=object)

    def form(self, inner: sp.Matrix) -> sp.Matrix:
        """``I + J_f``."""
        return sp.eye(int(inner.rows)) + inner

    def form_text(self, inner: str) -> str:
        return f"I + J_f, J_f = {inner} (the block's own layers)"

    def formula(self) -> str:
        inner = ", ".join(f"{name_of(n.output)[0]} = {n.kind.spec()}" for n in self.node.inner)
        return (
            f"{self.out_name} = {self.in_name} + f({self.in_name}), f the block's own layers "
            f"({inner}): y = x + f(x)"
        )

    def notes(self) -> str:
        return (
            f"The residual block {self.out_name}: ∂y/∂f = I, and ∂y/∂x = I + J_f — the "
            "identity carries the gradient past f unchanged."
        )
