"""``dense(units)`` in symbols: ``z = W a + b``, and per token on a sequence ``Y = X Wᵀ + 1bᵀ``.

Mirrors :mod:`jacobians.layers.dense`. With ``n`` outputs, ``m`` inputs and ``a = a[l-1]``:

- Local map: ``z_i = Σ_k W_ik a_k + b_i``, ``n × 1``.
- Jacobians (derived): ``∂z/∂vec(W) = I_n ⊗ aᵀ`` (``n × n·m``, row-major ``vec``),
  ``∂z/∂b = I_n`` (``n × n``), ``∂z/∂a = W`` (``n × m``).
- Compact backward: ``dW = δ aᵀ`` (``n × m``), ``db = δ``, ``∂L/∂a = Wᵀ δ``.

On a sequence ``X`` (``T × m``, one token per row) the layer acts on each token:

- Local map: ``Y = X Wᵀ + 1 bᵀ``, ``T × n``.
- Jacobians (derived): ``∂vec(Y)/∂vec(X) = I_T ⊗ W``, ``∂vec(Y)/∂vec(W) = (X ⊗ I_n) C`` with
  ``C`` the commutation matrix (``vec(Wᵀ) = C vec(W)``: ``W`` enters transposed),
  ``∂vec(Y)/∂b = 1_T ⊗ I_n``.
- Compact backward: ``dW = δᵀ X``, ``db = δᵀ 1``, ``∂L/∂X = δ W`` (``δ`` the ``T × n`` output
  gradient).
"""

from __future__ import annotations

from collections.abc import Mapping

import sympy as sp

from ..derivation import Equation, Step
from ..network import Names
from .base import (
    Gradients,
    Structure,
    SymbolicLayer,
    Tensor,
    commutation,
    kron,
    matrix,
    tex,
    unvec,
)


class Dense(SymbolicLayer):
    """``z = W a + b`` on a vector; ``Y = X Wᵀ + 1 bᵀ`` on a sequence."""

    kinds = ("dense",)

    @property
    def sequence(self) -> bool:
        """Whether the input is a sequence ``T × m``."""
        return len(self.node.in_shape) == 2

    def forward(self, a: Tensor, params: Mapping[str, Tensor]) -> Tensor:
        """``W a + b``, a column of ``n``; on a sequence ``X Wᵀ + 1 bᵀ``, ``T × n``."""
        W, b = matrix(params["W"]), matrix(params["b"])
        if self.sequence:
            X = matrix(a)
            Y = X * W.T + sp.ones(X.rows, 1) * b.T
            return unvec(Y, (Y.rows, Y.cols))
        z = W * matrix(a) + b
        return unvec(z, (z.rows,))

    def backward(
        self, a: Tensor, out: Tensor, params: Mapping[str, Tensor], g: Tensor
    ) -> Gradients:
        """``∂L/∂a = Wᵀ δ``, ``dW = δ aᵀ``, ``db = δ`` for ``δ = g``; on a sequence ``δ W``,
        ``δᵀ X``, ``δᵀ 1``."""
        W, delta = matrix(params["W"]), matrix(g)
        if self.sequence:
            X = matrix(a)
            dW, db, dX = delta.T * X, delta.T * sp.ones(X.rows, 1), delta * W
            return Gradients(
                unvec(dX, a.shape),
                {"W": unvec(dW, (dW.rows, dW.cols)), "b": unvec(db, (db.rows,))},
            )
        dW = delta * matrix(a).T
        return Gradients(
            unvec(W.T * delta, a.shape),
            {"W": unvec(dW, (dW.rows, dW.cols)), "b": unvec(delta, g.shape)},
        )

    def structures(
        self, a: Tensor, out: Tensor, params: Mapping[str, Tensor]
    ) -> dict[str, Structure]:
        """``I_n ⊗ aᵀ`` (``n`` copies of the row ``aᵀ`` on the block diagonal), ``I_n``, ``W``;
        on a sequence ``(X ⊗ I_n) C``, ``1_T ⊗ I_n``, ``I_T ⊗ W``."""
        W = matrix(params["W"])
        n = int(W.rows)
        if self.sequence:
            X = matrix(a)
            T, m = int(X.rows), int(X.cols)
            x, Wn = self.in_name, self.parameter_name("W")
            return {
                "W": Structure(
                    f"({x} ⊗ I_{n}) C, C the commutation matrix: vec({Wn}ᵀ) = C vec({Wn})",
                    kron(X, sp.eye(n)) * commutation(n, m),
                ),
                "b": Structure(f"1_{T} ⊗ I_{n}", kron(sp.ones(T, 1), sp.eye(n))),
                "input": Structure(f"I_{T} ⊗ {Wn}", kron(sp.eye(T), W)),
            }
        row = matrix(a).T
        return {
            "W": Structure(f"I_{n} ⊗ {self.in_name}ᵀ", sp.diag(*([row] * n))),
            "b": Structure(f"I_{n}", sp.eye(n)),
            "input": Structure(self.parameter_name("W"), W),
        }

    def formula(self) -> str:
        W, b = self.parameter_name("W"), self.parameter_name("b")
        if self.sequence:
            return f"{self.out_name} = {self.in_name} {W}ᵀ + 1 {b}ᵀ, {W} applied to each token"
        return f"{self.out_name} = {W} {self.in_name} + {b}"

    def statement(self, role: str) -> str:
        l, a = self.layer, self.in_name
        if self.sequence:
            return {
                "W": f"reshape(∂L/∂vec(W[{l}])) − δ[{l}]ᵀ {a} = 0",
                "b": f"∂L/∂b[{l}] − (δ[{l}]ᵀ 1)ᵀ = 0",
                "input": f"∂L/∂{a} − δ[{l}] W[{l}] = 0",
            }[role]
        return {
            "W": f"reshape(∂L/∂vec(W[{l}])) − δ[{l}] {a}ᵀ = 0",
            "b": f"∂L/∂b[{l}] − δ[{l}]ᵀ = 0",
            "input": f"∂L/∂{a} − (W[{l}]ᵀ δ[{l}])ᵀ = 0",
        }[role]

    def compact_steps(
        self, role: str, names: Names, a: Tensor, params: Mapping[str, Tensor], g: Tensor
    ) -> list[Step]:
        """``dW = δ aᵀ``, ``db = δ``, ``∂L/∂a = Wᵀ δ`` in the symbols ``δ[l]`` (on a sequence
        ``δᵀ X``, ``δᵀ 1``, ``δ W``)."""
        l, an = self.layer, self.in_name
        result = self.backward(a, a, params, g)
        value = result.input if role == "input" else result.params[role]
        if self.sequence:
            lhs = {
                "W": (f"δ[{l}]ᵀ {an}", rf"{{\delta^{{[{l}]}}}}^\top {tex(an)}"),
                "b": (f"δ[{l}]ᵀ 1", rf"{{\delta^{{[{l}]}}}}^\top \mathbf{{1}}"),
                "input": (f"δ[{l}] W[{l}]", rf"\delta^{{[{l}]}} W^{{[{l}]}}"),
            }[role]
            text = {
                "W": f"dW[{l}] = δ[{l}]ᵀ {an}, summed over the tokens (δ[{l}] is T × n):",
                "b": f"db[{l}] = δ[{l}]ᵀ 1: the tokens' rows of δ[{l}] added:",
                "input": f"∂L/∂{an} = δ[{l}] W[{l}], token by token:",
            }[role]
        else:
            lhs = {
                "W": (f"δ[{l}] {an}ᵀ", rf"\delta^{{[{l}]}} {{{tex(an)}}}^\top"),
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
