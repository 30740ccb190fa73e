"""The same statements for symbolic sizes ``n``, ``m``: proved for all sizes at once.

Index notation with ``sympy.Sum`` and ``KroneckerDelta``: ``z_i = Σ_{k=1}^{m} W_{ik} a_k + b_i``
and ``δ_i = ∂L/∂z_i``. Differentiating under the sum and summing the Kronecker deltas out
(``Sum(…).doit()``) leaves conditions such as ``q ≤ m``; they hold because every index lies in
its range (``1 ≤ p ≤ n``, ``1 ≤ q ≤ m``), and :func:`within_ranges` discharges exactly those.

We do not use sympy's matrix-expression derivatives: in sympy 1.14 ``(δᵀ(W a + b)).diff(W)``
gives ``δ aᵀ`` only for a square ``W`` (a 4-D array expression otherwise), and its matrix
``diff`` answers in the denominator layout (``(A x).diff(x) = Aᵀ``). Index notation gives the
entries directly, in our numerator layout, with no conversion.
"""

from __future__ import annotations

import sympy as sp

from .derivation import Derivation, Equation, Step
from .network import Names

Bounds = dict[sp.Symbol, tuple[sp.Expr, sp.Expr]]


def within_ranges(expr: sp.Expr, bounds: Bounds) -> sp.Expr:
    """Replace every ``Piecewise`` condition implied by ``lo ≤ index ≤ hi`` with True.

    A condition holds if it becomes True after writing an index as ``hi − u`` or as ``lo + u``
    with ``u ≥ 0`` an integer (how an upper or a lower bound is used).
    """
    u = sp.Symbol("u", integer=True, nonnegative=True)

    def implied(cond: sp.Basic) -> bool:
        if cond is sp.true:
            return True
        if isinstance(cond, sp.And):
            return all(implied(c) for c in cond.args)
        for index, (lo, hi) in bounds.items():
            if index in cond.free_symbols:
                for value in (hi - u, lo + u):
                    if cond.xreplace({index: value}) is sp.true:
                        return True
        return False

    def resolve(pw: sp.Piecewise) -> sp.Expr:
        for value, cond in pw.args:
            if implied(cond):
                return value
            if cond is not sp.false:
                return pw
        return pw

    return expr.replace(lambda e: isinstance(e, sp.Piecewise), resolve)


def _pull_into_sums(expr: sp.Expr) -> sp.Expr:
    """``c · Σ_i f(i)`` → ``Σ_i c·f(i)`` where ``c`` does not depend on ``i`` (one Sum factor)."""
    expr = sp.expand(expr)
    terms = []
    for term in sp.Add.make_args(expr):
        sums = [f for f in sp.Mul.make_args(term) if isinstance(f, sp.Sum)]
        if len(sums) == 1:
            rest = sp.Mul(*[f for f in sp.Mul.make_args(term) if f is not sums[0]])
            terms.append(sp.Sum(rest * sums[0].function, *sums[0].limits))
        else:
            terms.append(term)
    return sp.Add(*terms)


def equal(lhs: sp.Expr, rhs: sp.Expr) -> bool:
    """Decide ``lhs = rhs`` structurally: constant factors moved into their sums, sums over the
    same limits combined, and the summands' difference expanded to 0."""
    difference = _pull_into_sums(lhs) - _pull_into_sums(rhs)
    by_limits: dict[tuple[object, ...], sp.Expr] = {}
    rest = sp.S.Zero
    for term in sp.Add.make_args(sp.expand(difference)):
        if isinstance(term, sp.Sum):
            by_limits[term.limits] = by_limits.get(term.limits, sp.S.Zero) + term.function
        elif isinstance(term, sp.Mul) and any(isinstance(f, sp.Sum) for f in term.args):
            coeff, s = term.as_independent(sp.Sum)
            if isinstance(s, sp.Sum):
                by_limits[s.limits] = by_limits.get(s.limits, sp.S.Zero) + coeff * s.function
            else:
                rest += term
        else:
            rest += term
    return sp.expand(rest) == 0 and all(sp.expand(f) == 0 for f in by_limits.values())


_LATEX_BASE = {"δ": r"\delta", "δ'": r"\delta'", "W'": "W'", "b'": "b'"}


def _display(expr: sp.Basic, names: Names) -> sp.Basic:
    """The same expression with ``a[q]`` shown as ``a_q`` and ``KroneckerDelta(i, p)`` as
    ``[I]_ip`` (an entry of the identity), so the layer notation ``a[l]`` and the error ``δ``
    are not confused with indices; the proofs use the original."""

    def entry(e: sp.Basic) -> sp.Basic:
        if isinstance(e, sp.KroneckerDelta):
            i, p = (str(v) for v in e.args)
            return names.symbol(f"I_{i}{p}", f"[I]_{i}{p}", rf"[I]_{{{i}{p}}}")
        base = str(e.base)
        idx = "".join(str(v) for v in e.indices)
        ascii_base = base.replace("δ", "delta").replace("'", "p")
        return names.symbol(
            f"{ascii_base}_{idx}", f"{base}_{idx}", f"{_LATEX_BASE.get(base, base)}_{{{idx}}}"
        )

    return expr.replace(lambda e: isinstance(e, sp.Indexed | sp.KroneckerDelta), entry)


def general_derivation(vec: str = "row") -> Derivation:
    """``∂z_i/∂W_pq``, ``∂L/∂W_pq = δ_p a_q``, ``∂L/∂b_p = δ_p`` and the δ recursion for all
    sizes; each equality decided by :func:`equal`.

    ``vec`` says where ``W_pq`` sits in the flattened ``W``: ``row`` (row-major, column
    ``(p − 1)·m + q`` of ``∂z/∂vec(W) = I_n ⊗ aᵀ``) or ``column`` (column-major ``vec_col``,
    column ``(q − 1)·n + p`` of ``∂z/∂vec_col(W) = aᵀ ⊗ I_n``, whose block ``q`` is
    ``a_q I_n``). The entries, and so the proofs, are the same; only their positions, and the
    reshape back (C or Fortran order), differ."""
    names = Names()
    n, m, r = sp.symbols("n m r", integer=True, positive=True)
    i, j, k, p, q = sp.symbols("i j k p q", integer=True, positive=True)
    W, a, b = sp.IndexedBase("W"), sp.IndexedBase("a"), sp.IndexedBase("b")
    d, V, dn = sp.IndexedBase("δ"), sp.IndexedBase("W'"), sp.IndexedBase("δ'")
    zz = sp.IndexedBase("z")
    g = sp.Function("g")
    bounds: Bounds = {p: (1, n), q: (1, m), i: (1, n), k: (1, n)}
    column = vec == "column"
    title = "General sizes: the compact formulas for every n and m"
    d_out = Derivation(title + (", column-major vec" if column else ""), names)
    holds = []

    def label(text: str, latex: str) -> sp.Symbol:
        return names.label(text, latex)

    z_i = sp.Sum(W[i, k] * a[k], (k, 1, m)) + b[i]
    d_out.add(
        Step(
            "A layer in index notation",
            "W is n × m, a has m entries, z and b have n; δ_i = ∂L/∂z_i; indices run over "
            "1 ≤ i, p ≤ n and 1 ≤ q ≤ m.",
            (Equation(label("zᵢ", "z_i"), _display(z_i, names)),),
        )
    )

    dz_dW = within_ranges(z_i.diff(W[p, q]).doit(), bounds)
    kron = sp.KroneckerDelta(i, p) * a[q]
    ok = equal(dz_dW, kron)
    holds.append(ok)
    position = (
        "Column-major vec_col puts W_pq in column (q − 1)·n + p. Differentiating z_i gives the "
        "entry in row i of that column; aᵀ ⊗ I_n, whose block q is a_q I_n, has "
        f"a_q · [I_n]_ip there: {_verdict(ok)}."
        if column
        else "Row-major vec puts W_pq in column (p − 1)·m + q. Differentiating z_i gives the "
        f"entry in row i of that column; I_n ⊗ aᵀ has [I_n]_ip · a_q there: {_verdict(ok)}."
    )
    d_out.add(
        Step(
            "∂z/∂vec_col(W) = aᵀ ⊗ I_n" if column else "∂z/∂vec(W) = I_n ⊗ aᵀ",
            position,
            (
                Equation(
                    label("∂zᵢ/∂W_pq", r"\frac{\partial z_i}{\partial W_{pq}}"),
                    _display(dz_dW, names),
                ),
            ),
        )
    )

    dL_dW = within_ranges(sp.Sum(d[i] * dz_dW, (i, 1, n)).doit(), bounds)
    ok = equal(dL_dW, d[p] * a[q])
    holds.append(ok)
    d_out.add(
        Step(
            "∂L/∂W_pq = δ_p a_q",
            "The chain rule sums over the n outputs: ∂L/∂W_pq = Σᵢ δᵢ ∂zᵢ/∂W_pq. The Kronecker "
            f"delta keeps i = p, so dW = δ aᵀ: {_verdict(ok)}."
            + (
                " Entry (q − 1)·n + p of the row ∂L/∂vec_col(W) is ∂L/∂W_pq: the reshape in "
                "Fortran order puts it at dW_pq."
                if column
                else ""
            ),
            (
                Equation(
                    label("∂L/∂W_pq", r"\frac{\partial L}{\partial W_{pq}}"), _display(dL_dW, names)
                ),
            ),
        )
    )

    dL_db = within_ranges(sp.Sum(d[i] * z_i.diff(b[p]), (i, 1, n)).doit(), bounds)
    ok = equal(dL_db, d[p])
    holds.append(ok)
    d_out.add(
        Step(
            "∂L/∂b_p = δ_p",
            f"∂zᵢ/∂b_p = [i = p], so db = δ: {_verdict(ok)}.",
            (
                Equation(
                    label("∂L/∂b_p", r"\frac{\partial L}{\partial b_p}"), _display(dL_db, names)
                ),
            ),
        )
    )

    bn = sp.IndexedBase("b'")
    z_next = sp.Sum(V[j, i] * g(zz[i]), (i, 1, n)) + bn[j]
    local = within_ranges(z_next.diff(zz[k]).doit(), bounds)
    back = sp.Sum(dn[j] * local, (j, 1, r))
    compact = sp.Sum(V[j, k] * dn[j], (j, 1, r)) * sp.Subs(
        sp.Derivative(g(sp.Symbol("t")), sp.Symbol("t")), sp.Symbol("t"), zz[k]
    )
    ok = equal(back.doit(), compact.doit())
    holds.append(ok)
    d_out.add(
        Step(
            "δ = (W'ᵀ δ') ⊙ g'(z)",
            "The next layer (r outputs) computes z'_j = Σᵢ W'_ji g(zᵢ) + b'_j and δ'_j = ∂L/∂z'_j. "
            "Then ∂L/∂z_k = Σ_j δ'_j ∂z'_j/∂z_k, and the compact formula is "
            f"(Σ_j W'_jk δ'_j) · g'(z_k): {_verdict(ok)}.",
            (
                Equation(
                    label("∂L/∂z_k", r"\frac{\partial L}{\partial z_k}"),
                    _display(back.doit(), names),
                ),
                Equation(
                    label("(W'ᵀ δ')_k g'(z_k)", r"(W'^\top \delta')_k \, g'(z_k)"),
                    _display(compact.doit(), names),
                ),
            ),
        )
    )

    d_out.holds = all(holds)
    d_out.add(
        Step(
            "Proof",
            f"All four statements hold for every n, m, r ≥ 1: {_verdict(d_out.holds)} "
            "(decided structurally: sums over the same range combined and their summands "
            "expanded; no size is instantiated).",
        )
    )
    return d_out


def _verdict(ok: bool) -> str:
    return "holds ✓" if ok else "FAILS ✗"
