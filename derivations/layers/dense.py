"""``dense(units)`` in symbols: ``z = W a + b``.

Mirrors :mod:`jacobians.layers.dense`. With ``n`` outputs, ``m`` inputs and ``a = a[l-1]``:

- Local map: ``z_i = Σ_k W_ik a_k + b_i``, ``n × 1``.
- Jacobians (derived): ``∂z/∂vec(W) = I_n ⊗ aᵀ`` (``n × n·m``, row-major ``vec``),
  ``∂z/∂b = I_n`` (``n × n``), ``∂z/∂a = W`` (``n × m``).
- Compact backward: ``dW = δ aᵀ`` (``n × m``), ``db = δ``, ``∂L/∂a = Wᵀ δ``.
"""

from __future__ import annotations

from collections.abc import Mapping

import sympy as sp

from ..derivation import Equation, Step
from ..network import Names
from .base import Gradients, Structure, SymbolicLayer, Tensor, matrix, tex, unvec


class Dense(SymbolicLayer):
    """``z = W a + b`` on a vector."""

    kinds = ("dense",)

    def forward(self, a: Tensor, params: Mapping[str, Tensor]) -> Tensor:
        """``W a + b``, a column of ``n``."""
        z = matrix(params["W"]) * matrix(a) + matrix(params["b"])
        return unvec(z, (z.rows,))

    def backward(
        self, a: Tensor, out: Tensor, params: Mapping[str, Tensor], g: Tensor
    ) -> Gradients:
        """``∂L/∂a = Wᵀ δ``, ``dW = δ aᵀ``, ``db = δ`` for ``δ = g``."""
        W, delta = matrix(params["W"]), matrix(g)
        dW = delta * matrix(a).T
        return Gradients(
            unvec(W.T * delta, a.shape),
            {"W": unvec(dW, (dW.rows, dW.cols)), "b": unvec(delta, g.shape)},
        )

    def structures(
        self, a: Tensor, out: Tensor, params: Mapping[str, Tensor]
    ) -> dict[str, Structure]:
        """``I_n ⊗ aᵀ`` (``n`` copies of the row ``aᵀ`` on the block diagonal), ``I_n``, ``W``."""
        n = out.shape[0]
        row = matrix(a).T
        return {
            "W": Structure(f"I_{n} ⊗ {self.in_name}ᵀ", sp.diag(*([row] * n))),
            "b": Structure(f"I_{n}", sp.eye(n)),
            "input": Structure(self.parameter_name("W"), matrix(params["W"])),
        }

    def formula(self) -> str:
        W, b = self.parameter_name("W"), self.parameter_name("b")
        return f"{self.out_name} = {W} {self.in_name} + {b}"

    def statement(self, role: str) -> str:
        l, a = self.layer, self.in_name
        return {
            "W": f"reshape(∂L/∂vec(W[{l}])) − δ[{l}] {a}ᵀ = 0",
            "b": f"∂L/∂b[{l}] − δ[{l}]ᵀ = 0",
            "input": f"∂L/∂{a} − (W[{l}]ᵀ δ[{l}])ᵀ = 0",
        }[role]

    def compact_steps(
        self, role: str, names: Names, a: Tensor, params: Mapping[str, Tensor], g: Tensor
    ) -> list[Step]:
        """``dW = δ aᵀ``, ``db = δ``, ``∂L/∂a = Wᵀ δ`` in the symbols ``δ[l]``."""
        l, an = self.layer, self.in_name
        result = self.backward(a, a, params, g)
        value = result.input if role == "input" else result.params[role]
        lhs = {
            "W": (f"δ[{l}] {an}ᵀ", rf"\delta^{{[{l}]}} {tex(an)}^\top"),
            "b": (f"db[{l}]", rf"db^{{[{l}]}}"),
            "input": (f"W[{l}]ᵀ δ[{l}]", rf"{{W^{{[{l}]}}}}^\top \delta^{{[{l}]}}"),
        }[role]
        text = {
            "W": f"dW[{l}] = δ[{l}] {an}ᵀ, the outer product:",
            "b": f"db[{l}] = δ[{l}]: the gradient has the shape of b[{l}].",
            "input": f"∂L/∂{an} = W[{l}]ᵀ δ[{l}] (as a column):",
        }[role]
        M = matrix(value)
        return [
            Step("The compact formula", text, (Equation(names.label(*lhs), M, (M.rows, M.cols)),))
        ]
