"""``layernorm(eps)`` in symbols: each example normalized over its own features.

Mirrors :mod:`jacobians.layers.layernorm` on the shared algebra of
:mod:`derivations.layers.norm`. Each example is one group of its ``n`` entries: ``μ``, the
biased ``var``, ``σ = √(var + ε)`` (one ``σ`` per example), ``x̂ = (x − μ)/σ``,
``y = γ ⊙ x̂ + β`` with ``γ``, ``β`` of the example's shape.

- Jacobian (derived, then ``σ`` written in): per example ``diag(γ)(1/σ)(I − 11ᵀ/n − x̂x̂ᵀ/n)``;
  ``∂y/∂γ = diag(x̂)``, ``∂y/∂β = I_n``.
- Compact backward: ``u = γ ⊙ dy/σ``, ``dx = u − mean(u) − x̂ ⊙ mean(u ⊙ x̂)``, ``dγ = dy ⊙ x̂``,
  ``dβ = dy`` (summed over a batch's examples).

On a sequence ``T × d`` each token is a group of its ``d`` features (one ``σ`` per token, as
transformers normalize), ``γ`` and ``β`` of ``d``: the same block per token, ``n = d``, and ``dγ``,
``dβ`` summed over the tokens.
"""

from __future__ import annotations

from math import prod

import numpy as np

from ..network import Names
from .base import Tensor, ascii_label, positive_symbol, subscript, superscript, tex
from .norm import Group, Norm


class LayerNorm(Norm):
    """``layernorm``: per example, over all of its features."""

    kinds = ("layernorm",)

    @property
    def sequence(self) -> bool:
        """Whether the input is a sequence ``T × d`` (a group per token)."""
        return len(self.node.in_shape) == 2

    @property
    def tokens(self) -> int:
        """``T`` of a sequence (1 otherwise)."""
        return int(self.node.in_shape[0]) if self.sequence else 1

    def sigma_symbols(self, names: Names) -> Tensor:
        label = self.node.label
        if self.sequence:
            return self._token_sigmas(names)
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

    def _token_sigmas(self, names: Names) -> Tensor:
        """One ``σ`` per token (and example): ``σ[2]₁``, ``σ[2]₁⁽²⁾``, shape ``T`` or ``T × B``."""
        label, tail = self.node.label, ascii_label(self.node.label)
        out = np.empty((self.tokens, self.batch), dtype=object)
        for t in range(self.tokens):
            uni, lat = subscript((t + 1,))
            for q in range(self.batch):
                sup, tex_sup, ascii_tail = "", "", ""
                if self.batch > 1:
                    sup, tex_sup, ascii_tail = superscript(q + 1), f"({q + 1})", f"_e{q + 1}"
                out[t, q] = positive_symbol(
                    names,
                    f"sigma{tail}_{t + 1}{ascii_tail}",
                    f"σ[{label}]{uni}{sup}",
                    rf"\sigma^{{[{label}]{tex_sup}}}_{{{lat}}}",
                )
        return out if self.batch > 1 else out[:, 0]

    def group_entries(self) -> list[tuple[int, ...]]:
        """Column ``q`` of the view: every feature of example ``q``; on a sequence, every
        feature of token ``t`` of example ``q`` (``vec`` index ``t·d·B + k·B + q``)."""
        if self.sequence:
            d, B = self.rows, self.batch
            return [
                tuple(t * d * B + k * B + q for k in range(d))
                for t in range(self.tokens)
                for q in range(B)
            ]
        Q = self.columns
        return [tuple(p * Q + q for p in range(self.rows)) for q in range(Q)]

    def row_of(self, entry: int) -> int:
        """The feature (entry of ``γ``) of a position of ``vec``."""
        if self.sequence:
            return (entry // self.batch) % self.rows
        return super().row_of(entry)

    @property
    def n(self) -> int:
        """A group's entries: an example's, or a token's features."""
        return self.rows if self.sequence else prod(self.node.in_shape)

    @property
    def each(self) -> str:
        """What a group is, for the printed rules: `` per token`` and/or `` per example``."""
        parts = [" per token"] if self.sequence else []
        if self.batch > 1:
            parts.append(" per example")
        return " and".join(parts)

    def input_rule(self) -> str:
        n = self.n
        return f"diag(γ)(1/σ)(I − 11ᵀ/{n} − x̂x̂ᵀ/{n}){self.each}"

    def gamma_rule(self) -> str:
        if self.sequence:
            rows = f"{self.tokens}" if self.batch == 1 else f"{self.tokens}·{self.batch}"
            return f"x̂ in the column of its feature ({rows} rows each)"
        return "diag(x̂)" if self.batch == 1 else "x̂ in the column of its feature, per example"

    def beta_rule(self) -> str:
        ones = f" ⊗ 1_{self.batch}" if self.batch > 1 else ""
        if self.sequence:
            return f"1_{self.tokens} ⊗ I_{self.n}{ones}"
        return f"I_{self.n}{ones}"

    @property
    def group(self) -> str:
        """``the example's`` or ``each token's``."""
        return "each token's" if self.sequence else "the example's"

    def formula(self) -> str:
        l = self.node.label
        sigma = " (one σ per token)" if self.sequence else ""
        return (
            f"{self.out_name} = γ[{l}] ⊙ x̂[{l}] + β[{l}], x̂[{l}] = ({self.in_name} − μ)/σ over "
            f"{self.group} n = {self.n} features: μ the mean, σ = √(var + ε[{l}]){sigma}, var "
            f"biased (over n), ε[{l}] = {self.eps_text}"
        )

    def detail_title(self) -> str:
        what = f"{'each token' if self.sequence else 'an example'}'s {self.n} features"
        return f"Layer norm at layer {self.node.label}: the Jacobian over {what}"

    def group_name(self, n: int, group: Group) -> tuple[str, str]:
        out, inp = self.out_name, self.in_name
        frac = rf"\frac{{\partial {tex(out)}}}{{\partial {tex(inp)}}}"
        if self.sequence:
            t, q = divmod(n - 1, self.batch)
            if self.batch == 1:
                return f"∂{out}/∂{inp}, token {t + 1}", rf"{frac}_{{\text{{token }}{t + 1}}}"
            return (
                f"∂{out}/∂{inp}, token {t + 1} of example {q + 1}",
                rf"{frac}^{{({q + 1})}}_{{\text{{token }}{t + 1}}}",
            )
        if self.batch == 1:
            return f"∂{out}/∂{inp}", frac
        return f"∂{out}/∂{inp}, example {n}", rf"{frac}^{{({n})}}"

    def compact_text(self, role: str) -> str:
        l = self.node.label
        summed = "" if self.batch == 1 else ", summed over the examples"
        tokens = ", summed over the tokens" if self.sequence else ""
        return {
            "input": (
                f"u = γ[{l}] ⊙ δ[{l}]/σ, ∂{self.cost}/∂{self.in_name} = u − mean(u) − x̂ ⊙ "
                f"mean(u ⊙ x̂), the means over {self.group} features"
            ),
            "gamma": f"dγ[{l}] = δ[{l}] ⊙ x̂[{l}]{tokens}{summed}",
            "beta": f"dβ[{l}] = δ[{l}]{tokens}{summed}",
        }[role]

    def statement(self, role: str) -> str:
        l, a, c = self.node.label, self.in_name, self.cost
        total = "" if self.batch == 1 and not self.sequence else "Σ "
        return {
            "gamma": f"∂{c}/∂γ[{l}] − ({total}δ[{l}] ⊙ x̂[{l}])ᵀ = 0 (dγ = dy ⊙ x̂)",
            "beta": f"∂{c}/∂β[{l}] − ({total}δ[{l}])ᵀ = 0 (dβ = dy)",
            "input": (f"∂{c}/∂{a} − (u − mean(u) − x̂ ⊙ mean(u ⊙ x̂))ᵀ = 0, u = γ[{l}] ⊙ δ[{l}]/σ"),
        }[role]
