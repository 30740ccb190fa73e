"""What batch norm and layer norm share, in symbols: ``y = γ ⊙ x̂ + β``, ``x̂ = (x − μ)/σ``.

Mirrors :mod:`jacobians.layers.norm`. Both view the batch-last input's ``vec`` as a ``P × Q``
array whose rows carry ``γ`` and ``β`` and normalize each *group* of ``m`` entries — a row for
batch norm (a feature over the batch), a column for layer norm (an example over its features):
``μ`` the group's mean, ``var`` its biased variance (over ``m``), ``σ = √(var + ε)``.

How ``σ`` is handled (exact and fast):

- The local map is written with the explicit ``√(var + ε)`` (``ε`` a positive symbol), so that
  ``Matrix.jacobian`` differentiates through the mean and the variance itself.
- After differentiating, every power of ``var + ε`` is written as a power of ``σ``, a positive
  symbol per group (:meth:`Norm.written`): the derivative is now a polynomial in ``x`` and
  ``1/σ``.
- The index rules and the compact formulas are written in ``σ`` and the symbols ``x̂``, which
  stand for ``(x − μ)/σ`` (:meth:`Norm.definitions`). The proofs substitute that definition and
  expand: the identities of normalization hold as polynomials in ``x`` and ``1/σ`` whatever ``σ``
  is, so this decides every true statement at once. A difference that does not expand to 0 is
  decided again with ``σ = √(var + ε)`` in the independent ``x`` and ``ε``
  (:func:`~derivations.layers.base.vanishes`): a refutation is exact as well.

With ``s = γ/σ`` per entry (``γ`` of the entry's row):

- Jacobian: per group ``diag(s)(I − 11ᵀ/m − x̂ x̂ᵀ/m)``; ``∂y/∂γ`` puts ``x̂`` in the column of
  the entry's row, ``∂y/∂β`` a 1 there.
- Compact backward: ``u = g ⊙ s``, ``dx = u − mean(u) − x̂ ⊙ mean(u ⊙ x̂)`` per group
  (:func:`centred_gradient`); ``dγ = Σ g ⊙ x̂`` and ``dβ = Σ g`` over each row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from math import prod
from typing import ClassVar

import numpy as np
import sympy as sp

from jacobians.activations import number_text
from jacobians.layers.norm import Norm as NumericNorm
from jacobians.network import Node

from ..derivation import Equation, Step
from ..network import Names
from .base import (
    Context,
    Gradients,
    Structure,
    SymbolicLayer,
    Tensor,
    as_rows,
    ascii_label,
    dims,
    positive_symbol,
    tensor_symbols,
    unvec,
    vanishes,
)

FACTORED = 4
"""The largest group whose derived entries are factored for display (``factor`` of a quadratic
in more variables takes seconds an entry; their common factors are still pulled out)."""


def tidy(e: sp.Expr, sigma: sp.Symbol, m: int) -> sp.Expr:
    """An entry of a derived Jacobian as a reader would write it: expanded, collected by the
    powers of ``σ``, each coefficient factored (``2γ/(3σ) − γ(2x₁ − x₂ − x₃)²/(27σ³)``; for a
    group of more than :data:`FACTORED` entries only its common factors) — the same expression,
    rearranged."""
    terms = sp.collect(sp.expand(e), sigma, evaluate=False)
    factor = sp.factor if m <= FACTORED else sp.factor_terms
    return sp.Add(*[factor(c) * k for k, c in terms.items()])


def centred_gradient(u: Sequence[sp.Expr], xhat: Sequence[sp.Expr]) -> list[sp.Expr]:
    """``u − mean(u) − x̂ ⊙ mean(u ⊙ x̂)`` over one group: what ``I − 11ᵀ/m − x̂x̂ᵀ/m`` does to
    a row ``u``. The three terms: the direct path, the path through ``μ``, the one through
    ``σ``."""
    m = len(u)
    mean_u = sp.Add(*u) / m
    mean_ux = sp.Add(*[ui * xi for ui, xi in zip(u, xhat, strict=True)]) / m
    return [ui - mean_u - xi * mean_ux for ui, xi in zip(u, xhat, strict=True)]


@dataclass(frozen=True)
class Group:
    """One normalized group: its entries' positions in the input's ``vec`` (batch last), its
    ``σ`` symbol, and its statistics in the input's symbols: ``centred`` (``x − μ``) and
    ``base`` (``var + ε``)."""

    entries: tuple[int, ...]
    sigma: sp.Symbol
    centred: tuple[sp.Expr, ...]
    base: sp.Expr


@dataclass
class Norm(SymbolicLayer):
    """A normalization over the groups of a ``P × Q`` view; subclasses say which."""

    batch_aware: ClassVar[bool] = True
    batch: int = 1
    eps: sp.Symbol = field(default_factory=lambda: sp.Symbol("epsilon", positive=True))
    sigma: Tensor = field(default_factory=lambda: np.empty(0, dtype=object))
    """The ``σ`` symbols, one per group."""
    xhat: Tensor = field(default_factory=lambda: np.empty(0, dtype=object))
    """The ``x̂`` symbols, the input's shape × the batch."""

    @classmethod
    def build(cls, node: Node, context: Context) -> SymbolicLayer:
        """The layer with its symbols ``ε``, ``σ`` and ``x̂`` for the derivation's batch."""
        names, B, label = context.names, context.batch, node.label
        layer = cls(node, context.batch)
        layer.eps = positive_symbol(
            names, f"epsilon{ascii_label(label)}", f"ε[{label}]", rf"\varepsilon^{{[{label}]}}"
        )
        xhat = tensor_symbols(
            names, "x̂", label, node.in_shape, "xhat", r"\hat{x}", B if B > 1 else None
        )
        layer.xhat = xhat if B > 1 else xhat[..., None]
        layer.sigma = layer.sigma_symbols(names)
        return layer

    # --- the layout -----------------------------------------------------------------------------
    @property
    def rows(self) -> int:
        """``P``: the entries of ``γ`` and ``β``."""
        return self.kind_of(NumericNorm).parameter_size(self.node.in_shape)

    @property
    def columns(self) -> int:
        """``Q``: the entries of a row of the view."""
        return prod(self.node.in_shape) * self.batch // self.rows

    def sigma_symbols(self, names: Names) -> Tensor:
        """One positive ``σ`` per group, named after the group."""
        raise NotImplementedError

    def group_entries(self) -> list[tuple[int, ...]]:
        """Each group's positions in ``vec`` of the input (batch last): a row or a column."""
        raise NotImplementedError

    def row_of(self, entry: int) -> int:
        """The row of the view (the entry of ``γ``) a position of ``vec`` belongs to."""
        return entry // self.columns

    def groups(self, a: Tensor) -> list[Group]:
        """Every group with its statistics in the symbols of ``a`` (batch last)."""
        flat = np.asarray(a, dtype=object).reshape(-1)
        out = []
        for entries, sigma in zip(self.group_entries(), self.sigma.reshape(-1), strict=True):
            x = [flat[i] for i in entries]
            mean = sp.Add(*x) / len(x)
            centred = tuple(xi - mean for xi in x)
            variance = sp.Add(*[c**2 for c in centred]) / len(x)
            out.append(Group(tuple(entries), sigma, centred, variance + self.eps))
        return out

    # --- the mathematics ------------------------------------------------------------------------
    def forward(self, a: Tensor, params: Mapping[str, Tensor]) -> Tensor:
        """``γ ⊙ (x − μ)/√(var + ε) + β``, with the explicit square root."""
        gamma, beta = (np.asarray(params[r], dtype=object).reshape(-1) for r in ("gamma", "beta"))
        out = np.empty(a.size, dtype=object)
        for group in self.groups(a):
            root = sp.sqrt(group.base)
            for i, c in zip(group.entries, group.centred, strict=True):
                p = self.row_of(i)
                out[i] = gamma[p] * c / root + beta[p]
        return out.reshape(a.shape)

    def written(self, M: sp.Matrix, a: Tensor) -> sp.Matrix:
        """Every power of ``var + ε`` as the power of ``σ``: ``(var + ε)^(−3/2) = σ^(−3)``."""
        return M.xreplace({g.base: g.sigma**2 for g in self.groups(a)})

    def definitions(self, a: Tensor) -> dict[sp.Symbol, sp.Expr]:
        """``x̂ = (x − μ)/σ`` for every entry."""
        xhat = self.xhat.reshape(-1)
        return {
            xhat[i]: c / g.sigma
            for g in self.groups(a)
            for i, c in zip(g.entries, g.centred, strict=True)
        }

    def meanings(self, a: Tensor) -> dict[sp.Symbol, sp.Expr]:
        """``σ = √(var + ε)`` for every group."""
        return {g.sigma: sp.sqrt(g.base) for g in self.groups(a)}

    def scale(self, params: Mapping[str, Tensor], group: Group, i: int) -> sp.Expr:
        """``s = γ/σ`` of entry ``i``."""
        return np.asarray(params["gamma"], dtype=object).reshape(-1)[self.row_of(i)] / group.sigma

    def backward(
        self, a: Tensor, out: Tensor, params: Mapping[str, Tensor], g: Tensor
    ) -> Gradients:
        """``u = g ⊙ γ/σ``, ``dx = u − mean(u) − x̂ ⊙ mean(u ⊙ x̂)`` per group; ``dγ = Σ g ⊙ x̂``,
        ``dβ = Σ g`` over each row."""
        flat, xhat = np.asarray(g, dtype=object).reshape(-1), self.xhat.reshape(-1)
        dx = np.empty(flat.size, dtype=object)
        for group in self.groups(a):
            u = [flat[i] * self.scale(params, group, i) for i in group.entries]
            back = centred_gradient(u, [xhat[i] for i in group.entries])
            dx[list(group.entries)] = back
        d_gamma = [sp.S.Zero] * self.rows
        d_beta = [sp.S.Zero] * self.rows
        for i in range(flat.size):
            d_gamma[self.row_of(i)] += flat[i] * xhat[i]
            d_beta[self.row_of(i)] += flat[i]
        shape = params["gamma"].shape
        return Gradients(
            dx.reshape(a.shape),
            {"gamma": unvec(d_gamma, shape), "beta": unvec(d_beta, shape)},
        )

    def structures(
        self, a: Tensor, out: Tensor, params: Mapping[str, Tensor]
    ) -> dict[str, Structure]:
        """Per group ``diag(γ/σ)(I − 11ᵀ/m − x̂x̂ᵀ/m)``; ``x̂`` in ``γ``'s columns; 1s in ``β``'s."""
        size, xhat = int(a.size), self.xhat.reshape(-1)
        J = sp.zeros(size, size)
        for group in self.groups(a):
            m = len(group.entries)
            for i in group.entries:
                s = self.scale(params, group, i)
                for k in group.entries:
                    J[i, k] = s * (int(i == k) - sp.Rational(1, m) - xhat[i] * xhat[k] / m)
        J_gamma, J_beta = sp.zeros(size, self.rows), sp.zeros(size, self.rows)
        for i in range(size):
            J_gamma[i, self.row_of(i)] = xhat[i]
            J_beta[i, self.row_of(i)] = 1
        return {
            "input": Structure(self.input_rule(), J),
            "gamma": Structure(self.gamma_rule(), J_gamma),
            "beta": Structure(self.beta_rule(), J_beta),
        }

    def jacobian(
        self, role: str, derived: sp.Matrix, a: Tensor, out: Tensor, params: Mapping[str, Tensor]
    ) -> sp.Matrix:
        """The derived Jacobian (in ``x`` and ``σ``) written by its index rule in ``x̂`` and ``σ``
        once the two are shown equal (else as derived: the structure check then fails)."""
        rule = self.structures(a, out, params)[role].matrix
        same = derived.shape == rule.shape and vanishes(
            derived - rule, self.definitions(a), self.meanings(a)
        )
        return rule if same else derived

    # --- what a derivation says --------------------------------------------------------------
    def input_rule(self) -> str:
        """The input Jacobian's index rule in words."""
        raise NotImplementedError

    def gamma_rule(self) -> str:
        """``∂y/∂γ``'s index rule in words."""
        raise NotImplementedError

    def beta_rule(self) -> str:
        """``∂y/∂β``'s index rule in words."""
        raise NotImplementedError

    @property
    def eps_text(self) -> str:
        """``ε = 1e-05``, as the spec gives it."""
        return number_text(self.kind_of(NumericNorm).eps)

    def sigma_text(self) -> str:
        """How ``σ`` and ``x̂`` are treated, for the printed derivation."""
        l = self.node.label
        return (
            f"σ = √(var + ε[{l}]) with ε[{l}] = {self.eps_text} kept as a symbol. sympy "
            "differentiates the explicit square root (through the mean and the variance); then "
            "every power of var + ε is written as the power of σ, a positive symbol. The index "
            f"rule is written in σ and x̂[{l}] = ({self.in_name} − μ)/σ; comparisons and proofs "
            "substitute that definition and expand (a polynomial in x and 1/σ), and what does "
            "not expand to 0 is decided again with σ = √(var + ε) in x and ε."
        )

    def detail_steps(
        self,
        names: Names,
        a: Tensor,
        params: Mapping[str, Tensor],
        derived: Mapping[str, sp.Matrix],
        holds: Mapping[str, bool],
    ) -> list[Step]:
        """Each group's block of the derived input Jacobian next to its index rule."""
        if "input" not in derived:
            return []
        rule = self.structures(a, a, params)["input"].matrix
        equations: list[Equation] = []
        for n, group in enumerate(self.groups(a), start=1):
            rows = list(group.entries)
            sigma, m = group.sigma, len(rows)
            block = (
                derived["input"]
                .extract(rows, rows)
                .applyfunc(lambda e, s=sigma, m=m: tidy(e, s, m))
            )
            written = rule.extract(rows, rows)
            what, tex_what = self.group_name(n, group)
            equations += [
                Equation(
                    names.label(f"{what}, derived", rf"{tex_what}\ \text{{derived}}"),
                    block,
                    dims(block),
                ),
                Equation(
                    names.label(f"{what}, index rule", rf"{tex_what}\ \text{{rule}}"),
                    written,
                    dims(written),
                ),
            ]
        verdict = "holds ✓" if holds.get("input", False) else "FAILS ✗"
        text = (
            f"{self.sigma_text()}\nEach group's block of the derived Jacobian (sympy's "
            "Matrix.jacobian of the map above, σ written in; each entry expanded and collected "
            f"by the powers of σ) and the index rule "
            f"{self.input_rule()} written out entry by entry: derived = index rule, {verdict}."
        )
        return [Step(self.detail_title(), text, tuple(equations))]

    def detail_title(self) -> str:
        """The title of the step that shows the blocks."""
        raise NotImplementedError

    def group_name(self, n: int, group: Group) -> tuple[str, str]:
        """Group ``n``'s block as a label (unicode, LaTeX)."""
        raise NotImplementedError

    def compact_steps(
        self, role: str, names: Names, a: Tensor, params: Mapping[str, Tensor], g: Tensor
    ) -> list[Step]:
        """The compact formula of ``role`` (``gamma``, ``beta`` or ``input``) for ``g = δ``."""
        result = self.backward(a, a, params, g)
        value = result.input if role == "input" else result.params[role]
        M = as_rows(value)
        label = self.compact_label(role)
        return [
            Step(
                "The compact formula",
                self.compact_text(role) + ":",
                (Equation(names.label(*label), M, dims(M)),),
            )
        ]

    def compact_label(self, role: str) -> tuple[str, str]:
        """The compact formula's left side (unicode, LaTeX)."""
        l = self.node.label
        if role == "input":
            return f"∂{self.cost}/∂{self.in_name}", rf"\frac{{\partial {self.cost}}}{{\partial x}}"
        symbol = {"gamma": ("γ", r"\gamma"), "beta": ("β", r"\beta")}[role]
        return f"d{symbol[0]}[{l}]", rf"d{symbol[1]}^{{[{l}]}}"

    def compact_text(self, role: str) -> str:
        """The compact formula of ``role`` in words."""
        raise NotImplementedError

    @property
    def cost(self) -> str:
        """``J`` for a batch's mean cost, ``L`` for one example's loss."""
        return "J" if self.batch > 1 else "L"
