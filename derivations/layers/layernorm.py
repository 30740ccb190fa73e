"""``layernorm(eps)`` in symbols: each example normalized over its own features.

Mirrors :mod:`jacobians.layers.layernorm` on the shared algebra of
:mod:`derivations.layers.norm`. Each example is one group of its ``n`` entries: ``μ``, the
biased ``var``, ``σ = √(var + ε)`` (one ``σ`` per example), ``x̂ = (x − μ)/σ``,
``y = γ ⊙ x̂ + β`` with ``γ``, ``β`` of the example's shape.

- Jacobian (derived, then ``σ`` written in): per example ``diag(γ)(1/σ)(I − 11ᵀ/n − x̂x̂ᵀ/n)``;
  ``∂y/∂γ = diag(x̂)``, ``∂y/∂β = I_n``.
- Compact backward: ``u = γ ⊙ dy/σ``, ``dx = u − mean(u) − x̂ ⊙ mean(u ⊙ x̂)``, ``dγ = dy ⊙ x̂``,
  ``dβ = dy`` (summed over a batch's examples).
"""

from __future__ import annotations

from math import prod

import numpy as np

from ..network import Names
from .base import Tensor, ascii_label, positive_symbol, superscript, tex
from .norm import Group, Norm


class LayerNorm(Norm):
    """``layernorm``: per example, over all of its features."""

    kinds = ("layernorm",)

    def sigma_symbols(self, names: Names) -> Tensor:
        label = self.node.label
        out = np.empty(self.batch, dtype=object)
        for q in range(self.batch):
            if self.batch == 1:
                out[q] = positive_symbol(
                    names, f"sigma{ascii_label(label)}", f"σ[{label}]", rf"\sigma^{{[{label}]}}"
                )
                continue
            sup = superscript(q + 1)
            out[q] = positive_symbol(
                names,
                f"sigma{ascii_label(label)}_e{q + 1}",
                f"σ[{label}]{sup}",
                rf"\sigma^{{[{label}]({q + 1})}}",
            )
        return out

    def group_entries(self) -> list[tuple[int, ...]]:
        """Column ``q`` of the view: every feature of example ``q``."""
        Q = self.columns
        return [tuple(p * Q + q for p in range(self.rows)) for q in range(Q)]

    @property
    def n(self) -> int:
        """An example's entries."""
        return prod(self.node.in_shape)

    def input_rule(self) -> str:
        n = self.n
        each = "" if self.batch == 1 else " per example"
        return f"diag(γ)(1/σ)(I − 11ᵀ/{n} − x̂x̂ᵀ/{n}){each}"

    def gamma_rule(self) -> str:
        return "diag(x̂)" if self.batch == 1 else "x̂ in the column of its feature, per example"

    def beta_rule(self) -> str:
        return f"I_{self.n}" if self.batch == 1 else f"I_{self.n} ⊗ 1_{self.batch}"

    def formula(self) -> str:
        l = self.node.label
        return (
            f"{self.out_name} = γ[{l}] ⊙ x̂[{l}] + β[{l}], x̂[{l}] = ({self.in_name} − μ)/σ over "
            f"the example's n = {self.n} features: μ the mean, σ = √(var + ε[{l}]), var biased "
            f"(over n), ε[{l}] = {self.eps_text}"
        )

    def detail_title(self) -> str:
        return (
            f"Layer norm at layer {self.node.label}: the Jacobian over an example's "
            f"{self.n} features"
        )

    def group_name(self, n: int, group: Group) -> tuple[str, str]:
        out, inp = self.out_name, self.in_name
        frac = rf"\frac{{\partial {tex(out)}}}{{\partial {tex(inp)}}}"
        if self.batch == 1:
            return f"∂{out}/∂{inp}", frac
        return f"∂{out}/∂{inp}, example {n}", rf"{frac}^{{({n})}}"

    def compact_text(self, role: str) -> str:
        l = self.node.label
        summed = "" if self.batch == 1 else ", summed over the examples"
        return {
            "input": (
                f"u = γ[{l}] ⊙ δ[{l}]/σ, ∂{self.cost}/∂{self.in_name} = u − mean(u) − x̂ ⊙ "
                "mean(u ⊙ x̂), the means over the example's features"
            ),
            "gamma": f"dγ[{l}] = δ[{l}] ⊙ x̂[{l}]{summed}",
            "beta": f"dβ[{l}] = δ[{l}]{summed}",
        }[role]

    def statement(self, role: str) -> str:
        l, a, c = self.node.label, self.in_name, self.cost
        total = "" if self.batch == 1 else "Σ "
        return {
            "gamma": f"∂{c}/∂γ[{l}] − ({total}δ[{l}] ⊙ x̂[{l}])ᵀ = 0 (dγ = dy ⊙ x̂)",
            "beta": f"∂{c}/∂β[{l}] − ({total}δ[{l}])ᵀ = 0 (dβ = dy)",
            "input": (f"∂{c}/∂{a} − (u − mean(u) − x̂ ⊙ mean(u ⊙ x̂))ᵀ = 0, u = γ[{l}] ⊙ δ[{l}]/σ"),
        }[role]
