"""``attention(d_k, d_v=d_k, causal=false)`` in symbols: single-head self-attention, step by step.

Mirrors :mod:`jacobians.layers.attention`. On a sequence ``X`` (``T × d``, one token per row):

    Q = X Wq,  K = X Wk,  V = X Wv,  S = Q Kᵀ/√d_k,  A = softmax of each row of S,  Y = A V.

Each step is a map of its own symbols (``Q[1]₁₂``, ``S[1]₂₁``, ``A[1]₁₁``, …), as a reader writes
the chain rule by hand: a factor is a derivative evaluated at the values flowing into it.

- Jacobians (each derived by ``Matrix.jacobian`` of its step, then compared with its index rule,
  row-major ``vec``): ``∂Q/∂vec(Wq) = X ⊗ I_{d_k}`` (``K``, ``V`` alike),
  ``∂Q/∂X = I_T ⊗ Wqᵀ``, ``∂S/∂Q = (I_T ⊗ K)/√d_k``, ``∂S/∂K = (Q ⊗ I_T) C/√d_k`` with ``C``
  the commutation matrix (``vec(Kᵀ) = C vec(K)``, :func:`~derivations.layers.base.commutation`),
  ``∂A/∂S`` block diagonal with one ``diag(a_t) − a_t a_tᵀ`` per row ``t``, ``∂Y/∂A = I_T ⊗ Vᵀ``,
  ``∂Y/∂V = A ⊗ I_{d_v}``.
- The softmax step is handled as :mod:`derivations.layers.activation` handles softmax: derived
  from the exponentials ``e^{S_tu}/Σ_v e^{S_tv}``, then written ``diag(a_t) − a_t a_tᵀ`` in the
  symbols of ``A`` once ``sympy.cancel`` shows the two are the same matrix. Every proof is then a
  polynomial identity in the symbols of the steps, which ``sympy.expand`` decides at once.
- With ``causal=true`` token ``t`` attends to tokens ``u ≤ t``: ``A[t, u] = 0`` above the
  diagonal and the first row is ``(1, 0, …, 0)``; every factor is evaluated there.
- The layer's own Jacobians are the chain rule over the steps (:meth:`Attention.route`):
  ``∂Y/∂vec(Wq) = ∂Y/∂A · ∂A/∂S · ∂S/∂Q · ∂Q/∂vec(Wq)`` (``Wk`` through ``K``, ``Wv`` through
  ``V``), and ``∂Y/∂X`` the sum of three paths,
  ``∂Y/∂A · ∂A/∂S · (∂S/∂Q · ∂Q/∂X + ∂S/∂K · ∂K/∂X) + ∂Y/∂V · ∂V/∂X``. Each is derived once more
  by ``Matrix.jacobian`` of the composed map ``Y(X)`` and compared: there ``e^{S_tu}`` is a
  positive symbol ``exp(S[l]ₜᵤ)`` and each row's sum of them ``Z[l]ₜ``, and the identity of the
  two sides holds as rational functions of those, whatever their values
  (:meth:`Attention.composed`).
- Compact backward (module functions, so that a test can break one): ``dV = Aᵀ dY``,
  ``dA = dY Vᵀ``, ``dS = A ⊙ (dA − rowsum(dA ⊙ A))`` (:func:`row_softmax_backward`),
  ``dQ = dS K/√d_k`` (:func:`query_gradient`), ``dK = dSᵀ Q/√d_k`` (:func:`key_gradient`),
  ``dWq = Xᵀ dQ``, ``dWk = Xᵀ dK``, ``dWv = Xᵀ dV``, ``dX = dQ Wqᵀ + dK Wkᵀ + dV Wvᵀ``
  (:func:`input_gradient`).

The derivation refuses a layer above :data:`MAX_TOKENS` tokens or :data:`MAX_WIDTH` features:
the composed map's Jacobians grow fast (``T = 2``, ``d = 2`` derives in a few seconds).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import product
from typing import Any, ClassVar

import numpy as np
import sympy as sp
from sympy.core.function import ArgumentIndexError

from jacobians.errors import InvalidValueError, message
from jacobians.layers.attention import Attention as NumericAttention
from jacobians.network import Node

from ..derivation import Equation, Step
from ..functions import softmax
from ..network import Names
from .base import (
    Context,
    Gradients,
    Route,
    Stepped,
    Structure,
    SymbolicLayer,
    Tensor,
    ascii_label,
    commutation,
    dims,
    kron,
    matrix,
    positive_symbol,
    route_text,
    subscript,
    tensor_symbols,
    tex,
    unvec,
)

MAX_TOKENS = 3
"""The most tokens ``T`` an attention layer's derivation takes (``T = 3`` takes about half a
minute: the composed map's Jacobians are rational functions of ``T²`` exponentials)."""
MAX_WIDTH = 3
"""The most features ``d``, ``d_k`` or ``d_v`` an attention layer's derivation takes."""

STEPS = ("Q", "K", "V", "S", "A")
"""The layer's own tensors, in the order they are computed."""


# --- the compact backward, one formula each ------------------------------------------------------


def row_softmax_backward(A: sp.Matrix, G: sp.Matrix) -> sp.Matrix:
    """``dS = A ⊙ (dA − rowsum(dA ⊙ A))`` for ``G = dA``: each row's
    ``a_t ⊙ (g_t − (a_tᵀ g_t) 1)``, what ``diag(a_t) − a_t a_tᵀ`` does to the row ``g_t``."""
    rows = []
    for t in range(A.rows):
        weighted = sum((G[t, u] * A[t, u] for u in range(A.cols)), sp.S.Zero)
        rows.append([A[t, u] * (G[t, u] - weighted) for u in range(A.cols)])
    return sp.Matrix(rows)


def query_gradient(ds: sp.Matrix, K: sp.Matrix, root: sp.Expr) -> sp.Matrix:
    """``dQ = dS K/√d_k`` (``ds`` is ``dS``)."""
    return ds * K / root


def key_gradient(ds: sp.Matrix, Q: sp.Matrix, root: sp.Expr) -> sp.Matrix:
    """``dK = dSᵀ Q/√d_k`` (``S = Q Kᵀ``: ``K`` enters transposed)."""
    return ds.T * Q / root


def input_gradient(
    dq: sp.Matrix,
    dk: sp.Matrix,
    dv: sp.Matrix,
    Wq: sp.Matrix,
    Wk: sp.Matrix,
    Wv: sp.Matrix,
) -> sp.Matrix:
    """``dX = dQ Wqᵀ + dK Wkᵀ + dV Wvᵀ``: ``X`` reaches ``Y`` along three paths."""
    return dq * Wq.T + dk * Wk.T + dv * Wv.T


# --- the exponentials of the composed map --------------------------------------------------------


class TaggedExp(sp.Function):
    """``exp(s)`` carrying the position ``t·T + u`` of the score it exponentiates, as its second
    argument. It is its own derivative; unlike ``sympy.exp`` it is never merged with another
    (``exp(s)²`` stays a power, not ``exp(2s)``), so that :meth:`Attention.composed` finds every
    one by its tag. Each attention layer has a subclass of its own."""

    nargs = 2

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        if argindex != 1:
            raise ArgumentIndexError(self, argindex)
        return self

    def _sympystr(self, printer: Any) -> str:
        return f"exp({printer.doprint(self.args[0])})"


@dataclass
class Attention(Stepped):
    """``attention(d_k, d_v, causal)``: single-head self-attention on one example ``T × d``."""

    kinds = ("attention",)
    tensors: dict[str, Tensor] = field(default_factory=dict)
    """The symbols of ``Q``, ``K``, ``V``, ``S`` and ``A`` (every entry of ``A`` a symbol, the
    variables its step is differentiated by; :meth:`values` holds the causal zeros)."""
    exps: Tensor = field(default_factory=lambda: np.empty((0, 0), dtype=object))
    """``exp(S[l]ₜᵤ)``, positive symbols, ``T × T``."""
    sums: Tensor = field(default_factory=lambda: np.empty(0, dtype=object))
    """``Z[l]ₜ = Σ_u exp(S[l]ₜᵤ)`` over the tokens row ``t`` attends to, positive symbols."""
    tag: type[TaggedExp] = TaggedExp
    PATHS: ClassVar[dict[str, Route]] = {
        "input": (("Y_A", "A_S", "S_Q", "Q_X"), ("Y_A", "A_S", "S_K", "K_X"), ("Y_V", "V_X")),
        "Wq": (("Y_A", "A_S", "S_Q", "Q_Wq"),),
        "Wk": (("Y_A", "A_S", "S_K", "K_Wk"),),
        "Wv": (("Y_V", "V_Wv"),),
    }

    @classmethod
    def build(cls, node: Node, context: Context) -> SymbolicLayer:
        """The layer with the symbols of its steps; a layer too large to derive is refused."""
        layer = cls(node)
        kind = layer.kind
        T, d = node.in_shape
        widths = {"d": d, "d_k": kind.d_k, "d_v": kind.width_v}
        wide = {k: v for k, v in widths.items() if v > MAX_WIDTH}
        if T > MAX_TOKENS or wide:
            got = f"T = {T}" + "".join(f", {k} = {v}" for k, v in wide.items())
            raise InvalidValueError(
                message(
                    f"layers[{node.entry}] {kind.spec()!r}",
                    f"at most {MAX_TOKENS} tokens and {MAX_WIDTH} features (d, d_k, d_v) for a "
                    "symbolic derivation",
                    got,
                    "derive a shorter sequence or narrower layer (the algebra is the same for "
                    "every size: T = 2, d = 2 shows every factor), or compare it numerically",
                )
            )
        names, label = context.names, node.label
        shapes = kind.part_shapes(node.in_shape)
        layer.tensors = {
            local: tensor_symbols(names, local, label, shapes[local]) for local in STEPS
        }
        tail = ascii_label(label)
        layer.exps = np.empty((T, T), dtype=object)
        for t, u in product(range(T), range(T)):
            uni, lat = subscript((t + 1, u + 1))
            layer.exps[t, u] = positive_symbol(
                names,
                f"expS{tail}_{t + 1}_{u + 1}",
                f"exp(S[{label}]{uni})",
                rf"e^{{S^{{[{label}]}}_{{{lat}}}}}",
            )
        layer.sums = np.empty(T, dtype=object)
        for t in range(T):
            uni, lat = subscript((t + 1,))
            layer.sums[t] = positive_symbol(
                names, f"Z{tail}_{t + 1}", f"Z[{label}]{uni}", rf"Z^{{[{label}]}}_{{{lat}}}"
            )
        layer.tag = type(f"exp{tail.replace('.', '_')}", (TaggedExp,), {})
        return layer

    # --- sizes ------------------------------------------------------------------------------
    @property
    def kind(self) -> NumericAttention:
        """The numeric kind."""
        return self.kind_of(NumericAttention)

    @property
    def T(self) -> int:
        """The tokens."""
        return int(self.node.in_shape[0])

    @property
    def root(self) -> sp.Expr:
        """``√d_k``, exactly."""
        return sp.sqrt(self.kind.d_k)

    def attended(self, t: int) -> range:
        """The tokens row ``t`` attends to: all, or ``u ≤ t`` when causal."""
        return range(t + 1) if self.kind.causal else range(self.T)

    def values(self) -> sp.Matrix:
        """``A`` where every factor is evaluated: its symbols, with a causal layer's zeros above
        the diagonal and its first row ``(1, 0, …, 0)`` (token 1 attends to itself alone)."""
        A = matrix(self.tensors["A"])
        for t, u in product(range(self.T), range(self.T)):
            if u not in self.attended(t):
                A[t, u] = 0
            elif len(self.attended(t)) == 1:
                A[t, u] = 1
        return A

    def evaluated(self) -> dict[sp.Symbol, sp.Expr]:
        """Each symbol of ``A`` that a causal layer fixes → its value."""
        A = matrix(self.tensors["A"])
        return {s: v for s, v in zip(A, self.values(), strict=True) if s != v}

    # --- the steps --------------------------------------------------------------------------
    def part(self, local: str, a: Tensor, params: Mapping[str, Tensor]) -> Tensor:
        if local == "X":
            return a
        if local in params:
            return params[local]
        return self.tensors[local]

    def step(self, local: str, a: Tensor, params: Mapping[str, Tensor]) -> Tensor:
        """``Q = X Wq`` (``K``, ``V`` alike), ``S = Q Kᵀ/√d_k``, ``A`` the softmax of each row
        of ``S`` (over the tokens it attends to), ``Y = A V``: each in its inputs' symbols."""
        X, own = matrix(a), {k: matrix(v) for k, v in self.tensors.items()}
        if local in ("Q", "K", "V"):
            M = X * matrix(params[f"W{local.lower()}"])
        elif local == "S":
            M = own["Q"] * own["K"].T / self.root
        elif local == "A":
            M = sp.zeros(self.T, self.T)
            for t in range(self.T):
                kept = list(self.attended(t))
                row = softmax(sp.Matrix([own["S"][t, u] for u in kept]))
                for u, value in zip(kept, row, strict=True):
                    M[t, u] = value
        elif local == "Y":
            M = own["A"] * own["V"]
        else:
            raise ValueError(f"attention: no step computes {local!r}")
        return unvec(M, (M.rows, M.cols))

    def route(self, role: str) -> Route:
        """The chain rule over the steps: a path for ``Wq``, ``Wk``, ``Wv``; three for the input."""
        return self.PATHS[role]

    def forward(self, a: Tensor, params: Mapping[str, Tensor]) -> Tensor:
        """The composed map ``Y = softmax(X Wq (X Wk)ᵀ/√d_k) X Wv`` in the symbols of ``X`` and
        the weights, each exponential tagged (:class:`TaggedExp`)."""
        X = matrix(a)
        Q, K, V = (X * matrix(params[r]) for r in ("Wq", "Wk", "Wv"))
        S = Q * K.T / self.root
        A = sp.zeros(self.T, self.T)
        for t in range(self.T):
            kept = list(self.attended(t))
            exps = {u: self.tag(S[t, u], t * self.T + u) for u in kept}
            total = sp.Add(*exps.values())
            for u in kept:
                A[t, u] = exps[u] / total
        Y = A * V
        return unvec(Y, (Y.rows, Y.cols))

    def composed(self, M: sp.Matrix, a: Tensor, params: Mapping[str, Tensor]) -> sp.Matrix:
        """``M`` in the symbols of the input ``a``, the weights, ``exp(S[l]ₜᵤ)`` and ``Z[l]ₜ``: each
        tagged exponential becomes its symbol, each row's sum of them ``Z[l]ₜ``; the steps'
        symbols become their values (``Q = a Wq``, …, ``A[t, u] = exp(S[l]ₜᵤ)/Z[l]ₜ``)."""
        exps = self.exps.reshape(-1)
        out = M.replace(self.tag, lambda s, i: exps[int(i)])
        rows = {t: list(self.attended(t)) for t in range(self.T)}
        totals = {
            sp.Add(*[self.exps[t, u] for u in kept]): self.sums[t]
            for t, kept in rows.items()
            if len(kept) > 1
        }
        out = out.xreplace(totals)
        X = matrix(a)
        values: dict[sp.Symbol, sp.Expr] = {}
        for local in ("Q", "K", "V"):
            value = X * matrix(params[f"W{local.lower()}"])
            values.update(zip(matrix(self.tensors[local]), value, strict=True))
        A = matrix(self.tensors["A"])
        for t, kept in rows.items():
            if len(kept) > 1:
                values.update({A[t, u]: self.exps[t, u] / self.sums[t] for u in kept})
        return out.xreplace(self.evaluated()).xreplace(values)

    def jacobian(
        self, role: str, derived: sp.Matrix, a: Tensor, out: Tensor, params: Mapping[str, Tensor]
    ) -> sp.Matrix:
        """A step's Jacobian as printed: at the values of ``A`` (a causal layer's zeros); the
        softmax step's, once ``cancel`` shows it equal to its rule, as that rule in ``A``."""
        if role != "A_S":
            return derived.xreplace(self.evaluated())
        rule = self.softmax_rule()
        A = matrix(self.tensors["A"])
        softmax_values = matrix(self.step("A", a, params))
        in_s = rule.xreplace(dict(zip(A, softmax_values, strict=True)))
        same = all(sp.cancel(e) == 0 for e in derived - in_s)
        return rule if same else derived

    def softmax_rule(self) -> sp.Matrix:
        """Block diagonal: one ``diag(a_t) − a_t a_tᵀ`` per row ``t`` of ``A`` (at its values)."""
        A = self.values()
        blocks = [sp.diag(*A.row(t)) - A.row(t).T * A.row(t) for t in range(self.T)]
        return sp.Matrix(sp.diag(*blocks))

    def structures(
        self, a: Tensor, out: Tensor, params: Mapping[str, Tensor]
    ) -> dict[str, Structure]:
        """Every step's Jacobian by its index rule (Kronecker products, ``C``, the blocks)."""
        T, dk, dv = self.T, self.kind.d_k, self.kind.width_v
        X, root = matrix(a), self.root
        own = {k: matrix(v) for k, v in self.tensors.items()}
        ident = sp.eye(T)
        n = self.shown()
        r = f"√{dk}"
        rules = {
            "Y_A": (f"I_{T} ⊗ {n['V']}ᵀ", kron(ident, own["V"].T)),
            "Y_V": (f"{n['A']} ⊗ I_{dv}", kron(self.values(), sp.eye(dv))),
            "A_S": (self.softmax_text(), self.softmax_rule()),
            "S_Q": (f"(I_{T} ⊗ {n['K']})/{r}", kron(ident, own["K"]) / root),
            "S_K": (
                f"({n['Q']} ⊗ I_{T}) C/{r}, C the commutation matrix: "
                f"vec({n['K']}ᵀ) = C vec({n['K']})",
                kron(own["Q"], ident) * commutation(T, dk) / root,
            ),
        }
        for local in ("Q", "K", "V"):
            role = f"W{local.lower()}"
            width = dv if local == "V" else dk
            rules[f"{local}_X"] = (
                f"I_{T} ⊗ {self.parameter_name(role)}ᵀ",
                kron(ident, matrix(params[role]).T),
            )
            rules[f"{local}_{role}"] = (f"{self.in_name} ⊗ I_{width}", kron(X, sp.eye(width)))
        return {key: Structure(*rules[key]) for key in self.keys}

    # --- the compact backward ---------------------------------------------------------------------
    def compact(self, a: Tensor, params: Mapping[str, Tensor], g: Tensor) -> dict[str, sp.Matrix]:
        """Every gradient of the compact backward from ``g = dY``: ``dV``, ``dA``, ``dS``, ``dQ``,
        ``dK``, ``dWq``, ``dWk``, ``dWv``, ``dX``."""
        X, dy = matrix(a), matrix(g)
        own = {k: matrix(v) for k, v in self.tensors.items()}
        A = self.values()
        W = {r: matrix(params[r]) for r in ("Wq", "Wk", "Wv")}
        dv = A.T * dy
        da = dy * own["V"].T
        ds = row_softmax_backward(A, da)
        dq = query_gradient(ds, own["K"], self.root)
        dk = key_gradient(ds, own["Q"], self.root)
        return {
            "dV": dv,
            "dA": da,
            "dS": ds,
            "dQ": dq,
            "dK": dk,
            "dWq": X.T * dq,
            "dWk": X.T * dk,
            "dWv": X.T * dv,
            "dX": input_gradient(dq, dk, dv, W["Wq"], W["Wk"], W["Wv"]),
        }

    def backward(
        self, a: Tensor, out: Tensor, params: Mapping[str, Tensor], g: Tensor
    ) -> Gradients:
        """``dX`` and ``dWq``, ``dWk``, ``dWv`` by the compact formulas."""
        d = self.compact(a, params, g)

        def shaped(M: sp.Matrix) -> Tensor:
            return unvec(M, (M.rows, M.cols))

        return Gradients(shaped(d["dX"]), {r: shaped(d[f"d{r}"]) for r in ("Wq", "Wk", "Wv")})

    # --- what a derivation says ---------------------------------------------------------------
    def shown(self) -> dict[str, str]:
        """The steps' tensors as the notation writes them: ``Q[1]``, …"""
        return {local: f"{local}[{self.node.label}]" for local in STEPS}

    def softmax_text(self) -> str:
        """The softmax step's rule in words."""
        text = f"diag(a_t) − a_t a_tᵀ per row t of {self.shown()['A']}, block diagonal"
        if self.kind.causal:
            text += " (causal: 0 where u > t, and the first row is 1, 0, …)"
        return text

    def formula(self) -> str:
        n, dk, dv = self.shown(), self.kind.d_k, self.kind.width_v
        x = self.in_name
        mask = (
            ", token t attending to tokens u ≤ t only (causal: A[t, u] = 0 for u > t)"
            if self.kind.causal
            else ""
        )
        return (
            f"{self.out_name} = {n['A']} {n['V']}, {n['A']} = softmax of each row of "
            f"{n['S']} = {n['Q']} {n['K']}ᵀ/√{dk}, {n['Q']} = {x} {self.parameter_name('Wq')}, "
            f"{n['K']} = {x} {self.parameter_name('Wk')}, {n['V']} = {x} "
            f"{self.parameter_name('Wv')} (one head, T = {self.T} tokens as rows, d_k = {dk}, "
            f"d_v = {dv}{mask})"
        )

    def notes(self) -> str:
        n = self.shown()
        text = (
            f"Attention at layer {self.node.label} is a chain of steps, each a map of its own "
            f"symbols ({', '.join(n.values())}); a factor is a step's Jacobian at the values "
            "flowing into it. The softmax step is written in the symbols of "
            f"{n['A']}, after sympy.cancel shows it equal to the derivative of the exponentials."
        )
        if self.kind.causal:
            text += (
                f" Causal: {n['A']}'s entries above the diagonal are 0 and its first row is "
                "(1, 0, …), and every factor is evaluated there."
            )
        return text

    def map_equations(
        self, names: Names, a: Tensor, params: Mapping[str, Tensor]
    ) -> list[Equation] | None:
        """Each step's matrix in its inputs' symbols: ``Q``, ``K``, ``V``, ``S``, ``A`` (the
        exponentials of ``S``), and the output ``A V`` (at ``A``'s values when causal)."""
        equations = []
        shown = self.shown()
        for local in (*STEPS, "Y"):
            M = matrix(self.step(local, a, params))
            if local == "Y":
                M = M.xreplace(self.evaluated())
                label = (self.out_name, tex(self.out_name))
            else:
                label = (shown[local], tex(shown[local]))
            equations.append(Equation(names.label(*label), M, dims(M)))
        return equations

    def detail_steps(
        self,
        names: Names,
        a: Tensor,
        params: Mapping[str, Tensor],
        derived: Mapping[str, sp.Matrix],
        holds: Mapping[str, bool],
    ) -> list[Step]:
        """Every step's verdict against its index rule; the commutation matrix ``C``; the softmax
        step as derived from the exponentials; and the layer's own Jacobians, derived from the
        composed map, against the chain rule over the steps."""
        l, n, T, dk = self.node.label, self.shown(), self.T, self.kind.d_k
        rules = self.structures(a, a, params)
        lines = [
            f"{self.step_text(key)} = {rules[key].text}: {_verdict(holds.get(key, False))}"
            for key in self.keys
        ]
        text = (
            "Each step's map above is differentiated by sympy's Matrix.jacobian (row-major vec, "
            "numerator layout) and compared with its index rule, the difference expanded to 0:\n"
            + "\n".join(lines)
            + f"\nC is the {T * dk} × {T * dk} commutation matrix: vec({n['K']}ᵀ) = C vec("
            f"{n['K']}), a 1 at row k·{T} + u and column u·{dk} + k for each entry K[u, k] (from "
            "0) — the transpose in S = Q Kᵀ reorders K's entries. The softmax step's Jacobian "
            "is derived from the "
            f"exponentials e^S/Σ e^S of each row and written {self.softmax_text()} in the "
            "symbols of A, once sympy.cancel shows the two are the same matrix."
        )
        C = commutation(T, dk)
        equations = [
            Equation(
                names.label(
                    f"C (vec({n['K']}ᵀ) = C vec({n['K']}))",
                    rf"C\ (\operatorname{{vec}}({{{tex(n['K'])}}}^\top) = C\,"
                    rf"\operatorname{{vec}}({tex(n['K'])}))",
                ),
                C,
                dims(C),
            )
        ]
        if "A_S" in derived:
            M = derived["A_S"]
            equations.append(
                Equation(
                    names.label(
                        f"∂{n['A']}/∂{n['S']}, derived",
                        rf"\frac{{\partial A^{{[{l}]}}}}{{\partial S^{{[{l}]}}}}\ \text{{derived}}",
                    ),
                    M,
                    dims(M),
                )
            )
        steps = [Step(f"Attention at layer {l}: each step's Jacobian", text, tuple(equations))]
        own = [
            f"{self.own_text(role)} = {route_text(self.route(role), self.step_text)}: "
            f"{_verdict(holds.get(role, False))}"
            for role in ("input", "Wq", "Wk", "Wv")
        ]
        steps.append(
            Step(
                f"Attention at layer {l}: its own Jacobians, the chain rule over the steps",
                "Each is the product of the steps on its path (the input's, the sum over its "
                f"three paths: through {n['Q']}, {n['K']} and {n['V']}). Each is also derived "
                "by Matrix.jacobian of the composed map, Y written in the input and the weights "
                f"alone, with exp(S[{l}]ₜᵤ) a positive symbol and Z[{l}]ₜ the sum of row t's; "
                f"the product, with {n['Q']} = x Wq, …, {n['A']}ₜᵤ = exp(S[{l}]ₜᵤ)/Z[{l}]ₜ "
                "written in, is the same matrix (the difference expands to 0, whatever those "
                "positive symbols are):\n" + "\n".join(own),
            )
        )
        return steps

    def statement(self, role: str) -> str:
        l, x, dk = self.node.label, self.in_name, self.kind.d_k
        d = f"dA = δ[{l}] Vᵀ, dS = A ⊙ (dA − rowsum(dA ⊙ A))"
        return {
            "Wq": f"reshape(∂L/∂vec(Wq[{l}])) − {x}ᵀ dQ = 0, dQ = dS K/√{dk}, {d}",
            "Wk": f"reshape(∂L/∂vec(Wk[{l}])) − {x}ᵀ dK = 0, dK = dSᵀ Q/√{dk}, {d}",
            "Wv": f"reshape(∂L/∂vec(Wv[{l}])) − {x}ᵀ dV = 0, dV = Aᵀ δ[{l}]",
            "input": (
                f"∂L/∂{x} − (dQ Wqᵀ + dK Wkᵀ + dV Wvᵀ) = 0 (three paths), dQ = dS K/√{dk}, "
                f"dK = dSᵀ Q/√{dk}, dV = Aᵀ δ[{l}], {d}"
            ),
        }[role]

    def compact_steps(
        self, role: str, names: Names, a: Tensor, params: Mapping[str, Tensor], g: Tensor
    ) -> list[Step]:
        """The compact formula of ``role`` for ``g = δ[l]``, with the gradients it goes through."""
        l, x, dk = self.node.label, self.in_name, self.kind.d_k
        d = self.compact(a, params, g)
        through = {
            "Wq": ("dA", "dS", "dQ", "dWq"),
            "Wk": ("dA", "dS", "dK", "dWk"),
            "Wv": ("dV", "dWv"),
            "input": ("dV", "dA", "dS", "dQ", "dK", "dX"),
        }[role]
        formulas = {
            "dV": f"dV = Aᵀ δ[{l}]",
            "dA": f"dA = δ[{l}] Vᵀ",
            "dS": "dS = A ⊙ (dA − rowsum(dA ⊙ A)), each row through diag(a_t) − a_t a_tᵀ",
            "dQ": f"dQ = dS K/√{dk}",
            "dK": f"dK = dSᵀ Q/√{dk}",
            "dWq": f"dWq[{l}] = {x}ᵀ dQ",
            "dWk": f"dWk[{l}] = {x}ᵀ dK",
            "dWv": f"dWv[{l}] = {x}ᵀ dV",
            "dX": f"∂L/∂{x} = dQ Wqᵀ + dK Wkᵀ + dV Wvᵀ, the three paths",
        }
        labels = {
            "dWq": (f"dWq[{l}]", rf"d\mathit{{Wq}}^{{[{l}]}}"),
            "dWk": (f"dWk[{l}]", rf"d\mathit{{Wk}}^{{[{l}]}}"),
            "dWv": (f"dWv[{l}]", rf"d\mathit{{Wv}}^{{[{l}]}}"),
            "dX": (f"∂L/∂{x}", rf"\frac{{\partial L}}{{\partial {tex(x)}}}"),
        }
        equations = tuple(
            Equation(
                names.label(*labels.get(k, (f"{k}[{l}]", f"d{k[1:]}^{{[{l}]}}"))), d[k], dims(d[k])
            )
            for k in through
        )
        text = "; ".join(formulas[k] for k in through)
        return [Step("The compact formula", f"{text} (δ[{l}] is dY):", equations)]


def _verdict(holds: bool) -> str:
    return "holds ✓" if holds else "FAILS ✗"


__all__ = [
    "MAX_TOKENS",
    "MAX_WIDTH",
    "Attention",
    "TaggedExp",
    "input_gradient",
    "key_gradient",
    "query_gradient",
    "row_softmax_backward",
]
