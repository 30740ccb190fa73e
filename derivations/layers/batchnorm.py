"""``batchnorm(eps)`` in symbols: the ``B × B`` Jacobian that couples a batch.

Mirrors :mod:`jacobians.layers.batchnorm` on the shared algebra of
:mod:`derivations.layers.norm`. Each feature (vectors) or channel (images) is one group, its
``m = B`` (or ``B·H·W``) entries of the batch: ``μ``, the biased ``var``,
``σ = √(var + ε)``, ``x̂ = (x − μ)/σ``, ``y = γ ⊙ x̂ + β``, one ``γ``, ``β`` and ``σ`` per group.

- Local map: the whole batch's ``y`` in the symbols of the whole batch's ``x``; the model
  holds every example's tensors (batch last) and the loss is the mean cost ``J``.
- Jacobian (derived by ``Matrix.jacobian`` of that map, then ``σ`` written in): per feature the
  ``m × m`` block ``(γ/σ)(I − 11ᵀ/m − x̂x̂ᵀ/m)`` — every output of the batch depends on every
  input of its feature; ``∂y/∂γ`` holds ``x̂`` in its feature's column; ``∂y/∂β = I ⊗ 1_m``.
- Compact backward, the three-term formula: ``dx = (γ/σ)(dy − mean(dy) − x̂ ⊙ mean(dy ⊙ x̂))``,
  ``dγ = Σ dy ⊙ x̂``, ``dβ = Σ dy`` (means and sums over each feature's batch).
"""

from __future__ import annotations

import numpy as np

from ..network import Names
from .base import Tensor, ascii_label, positive_symbol, subscript, tex
from .norm import Group, Norm


class BatchNorm(Norm):
    """``batchnorm``: per feature (or channel) over the batch (and the positions)."""

    kinds = ("batchnorm",)

    @property
    def what(self) -> str:
        """``feature`` for vectors, ``channel`` for images."""
        return "feature" if len(self.node.in_shape) == 1 else "channel"

    def sigma_symbols(self, names: Names) -> Tensor:
        label = self.node.label
        out = np.empty(self.rows, dtype=object)
        for p in range(self.rows):
            uni, lat = subscript((p + 1,))
            out[p] = positive_symbol(
                names,
                f"sigma{ascii_label(label)}_{p + 1}",
                f"σ[{label}]{uni}",
                rf"\sigma^{{[{label}]}}_{{{lat}}}",
            )
        return out

    def group_entries(self) -> list[tuple[int, ...]]:
        """Row ``p`` of the view: feature ``p`` of every example (and position)."""
        Q = self.columns
        return [tuple(p * Q + q for q in range(Q)) for p in range(self.rows)]

    @property
    def m(self) -> str:
        """The size of a group, in words: ``3`` or ``3·H·W = 12``."""
        if len(self.node.in_shape) == 1:
            return str(self.batch)
        return f"{self.batch}·H·W = {self.columns}"

    def input_rule(self) -> str:
        m = self.columns
        return f"(γ/σ)(I − 11ᵀ/{m} − x̂x̂ᵀ/{m}) per {self.what}, which couples the batch"

    def gamma_rule(self) -> str:
        return f"x̂ in the column of its {self.what} ({self.columns} rows each)"

    def beta_rule(self) -> str:
        return f"I_{self.rows} ⊗ 1_{self.columns}"

    def formula(self) -> str:
        l, B = self.node.label, self.batch
        over = "over the batch" if self.what == "feature" else "over the batch and the positions"
        return (
            f"{self.out_name} = γ[{l}] ⊙ x̂[{l}] + β[{l}], x̂[{l}] = ({self.in_name} − μ)/σ per "
            f"{self.what} {over} (m = {self.m}): μ the mean, σ = √(var + ε[{l}]), var biased "
            f"(over m = {self.columns}, not {self.columns - 1}), ε[{l}] = {self.eps_text} "
            f"(training mode; a batch of {B})"
        )

    def detail_title(self) -> str:
        m = self.columns
        return f"Batch norm at layer {self.node.label}: the {m} × {m} block that couples the batch"

    def group_name(self, n: int, group: Group) -> tuple[str, str]:
        out, inp = self.out_name, self.in_name
        p = n - 1
        if self.what == "feature":
            return (
                f"∂{out}[{p}, :]/∂{inp}[{p}, :]",
                rf"\frac{{\partial {tex(out)}_{{{p},:}}}}{{\partial {tex(inp)}_{{{p},:}}}}",
            )
        return (
            f"∂{out}[{p}]/∂{inp}[{p}]",
            rf"\frac{{\partial {tex(out)}_{{{p}}}}}{{\partial {tex(inp)}_{{{p}}}}}",
        )

    def compact_text(self, role: str) -> str:
        l = self.node.label
        return {
            "input": (
                f"∂J/∂{self.in_name} = (γ/σ)(δ − mean(δ) − x̂ ⊙ mean(δ ⊙ x̂)), δ = δ[{l}], the "
                f"means over each {self.what}'s batch: the three-term formula (the direct path, "
                "the path through μ, the path through σ)"
            ),
            "gamma": f"dγ[{l}] = Σ δ[{l}] ⊙ x̂[{l}], the sum over each {self.what}'s batch",
            "beta": f"dβ[{l}] = Σ δ[{l}], the sum over each {self.what}'s batch",
        }[role]

    def statement(self, role: str) -> str:
        l, a = self.node.label, self.in_name
        return {
            "gamma": f"∂J/∂γ[{l}] − (Σ δ[{l}] ⊙ x̂[{l}])ᵀ = 0 (dγ = Σ dy ⊙ x̂)",
            "beta": f"∂J/∂β[{l}] − (Σ δ[{l}])ᵀ = 0 (dβ = Σ dy)",
            "input": (
                f"∂J/∂{a} − ((γ/σ)(δ[{l}] − mean(δ[{l}]) − x̂ ⊙ mean(δ[{l}] ⊙ x̂)))ᵀ = 0 (the "
                "three-term formula)"
            ),
        }[role]
