"""Symbolic Jacobians, chains, compact formulas, and the proof that they agree.

Mirrors :mod:`jacobians.chains` and :mod:`jacobians.backprop`. Every Jacobian is *derived* by
``sympy.Matrix.jacobian`` from the layer's local map (numerator layout: rows are outputs, the
convention of NOTATION.md; ``Matrix.jacobian`` already uses it, so no layout conversion is
needed here — see :mod:`derivations.general` for the one place that converts). A matrix
argument is flattened row-major, as in the numeric package.

The proof: each chain, multiplied out and reshaped, minus the compact formula, is expanded
entry by entry; the statement holds when every entry is exactly 0. Nothing is evaluated at
numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from .network import SymbolicNetwork


def vec(M: sp.Matrix) -> sp.Matrix:
    """``vec(M)``, row-major: ``vec(W)[i·m + k] = W[i, k]``, as a column ``(n·m) × 1``."""
    return sp.Matrix(list(M))


def vec_col(M: sp.Matrix) -> sp.Matrix:
    """``vec_col(M)``, column-major (Magnus–Neudecker): ``vec_col(W)[k·n + i] = W[i, k]``, as a
    column ``(n·m) × 1``: the columns of ``M`` stacked."""
    return sp.Matrix(list(M.T))


def flatten(sn: SymbolicNetwork, M: sp.Matrix) -> sp.Matrix:
    """``M`` flattened the network's way: :func:`vec` (``sn.vec == "row"``) or :func:`vec_col`."""
    return vec_col(M) if sn.vec == "column" else vec(M)


def unflatten(sn: SymbolicNetwork, row: sp.Matrix, n: int, m: int) -> sp.Matrix:
    """A ``1 × n·m`` row back to ``n × m``, undoing :func:`flatten`: row-major (C order), or
    Fortran order for ``vec_col`` (entry ``k·n + i`` is ``[i, k]``)."""
    if sn.vec == "column":
        return row.reshape(m, n).T
    return row.reshape(n, m)


def kron_factor(sn: SymbolicNetwork, l: int) -> sp.Matrix:
    """The Kronecker form ``∂z[l]/∂vec(W[l])`` must have, built by ``sympy.kronecker_product``
    (not by differentiation): ``I_n ⊗ a[l-1]ᵀ`` row-major, ``a[l-1]ᵀ ⊗ I_n`` column-major."""
    from sympy.matrices.expressions.kronecker import kronecker_product

    n = sn.W[l].rows
    a, eye = sn.a[l - 1].T, sp.eye(n)
    pair = (a, eye) if sn.vec == "column" else (eye, a)
    return sp.Matrix(kronecker_product(*pair))


def softmax_jacobian_form(a: sp.Matrix) -> sp.Matrix:
    """``diag(a) − a aᵀ``: softmax's Jacobian written in its outputs ``a = softmax(z)``."""
    return sp.diag(*a) - a * a.T


def activation_jacobian(sn: SymbolicNetwork, l: int) -> sp.Matrix:
    """``∂a[l]/∂z[l]``, derived; for softmax, derived from ``e^{z_i}/Σ e^{z_k}`` and returned as
    ``diag(a) − a aᵀ`` after checking (``cancel``) that the two are the same matrix."""
    derived = sn.a_expr(l).jacobian(sn.z[l])
    if sn.derivative[l] is not None:
        return derived
    form = softmax_jacobian_form(sn.a[l])
    in_z = form.xreplace(dict(zip(sn.a[l], sn.a_expr(l), strict=True)))
    if not all(sp.cancel(e) == 0 for e in derived - in_z):
        raise AssertionError("softmax Jacobian is not diag(s) − s sᵀ")  # a sympy regression
    return form


def jacobians(sn: SymbolicNetwork) -> dict[str, sp.Matrix]:
    """Every Jacobian of NOTATION.md by name (``J_L_a3``, ``J_a3_z3``, ``J_z3_a2``, ``J_z3_W3``,
    ``J_z3_b3``, …, and ``J_L_z3`` for a fused output pair), the names, shapes and flattening
    of :func:`jacobians.chains.example_jacobians`."""
    L = sn.depth
    out = {f"J_L_a{L}": sp.Matrix([sn.loss_expr()]).jacobian(sn.a[L])}
    for l in range(L, 0, -1):
        z = sn.z_expr(l)
        out[f"J_a{l}_z{l}"] = activation_jacobian(sn, l)
        if l > 1:
            out[f"J_z{l}_a{l - 1}"] = z.jacobian(sn.a[l - 1])
        out[f"J_z{l}_W{l}"] = z.jacobian(flatten(sn, sn.W[l]))
        out[f"J_z{l}_b{l}"] = z.jacobian(sn.b[l])
    fused = sn.net.fused
    if fused is not None and not sn.abstract_loss and (not sn.abstract or sn.derivative[L] is None):
        # the fused row of sigmoid + bce, softmax + ce; derivations.derive.simplify_output
        # proves it equals J_L_aL · J_aL_zL
        out[f"J_L_z{L}"] = (sn.a[L] - sn.y).T
    return out


def chain_names(L: int, l: int, end: str) -> list[str]:
    """The factors of ``∂L/∂<end>[l]``: ``J_L_aL, J_aL_zL, J_zL_a(L-1), …, J_al_zl`` and, for
    ``end`` = ``'W'`` or ``'b'``, ``J_zl_<end>l``."""
    names = [f"J_L_a{L}", f"J_a{L}_z{L}"]
    for k in range(L, l, -1):
        names += [f"J_z{k}_a{k - 1}", f"J_a{k - 1}_z{k - 1}"]
    if end in ("W", "b"):
        names.append(f"J_z{l}_{end}{l}")
    return names


def product(factors: list[sp.Matrix]) -> sp.Matrix:
    """``F_1 · F_2 ⋯ F_K`` from the left (reverse order), left unexpanded (product form)."""
    result = factors[0]
    for f in factors[1:]:
        result = result * f
    return result


def output_delta(sn: SymbolicNetwork, jac: dict[str, sp.Matrix]) -> sp.Matrix:
    """``δ[L] = (∂L/∂a[L] · ∂a[L]/∂z[L])ᵀ``, a column."""
    L = sn.depth
    return (jac[f"J_L_a{L}"] * jac[f"J_a{L}_z{L}"]).T


def recursion(
    sn: SymbolicNetwork, l: int, delta_next: sp.Matrix, jac: dict[str, sp.Matrix]
) -> sp.Matrix:
    """``δ[l] = (W[l+1]ᵀ δ[l+1]) ⊙ g'(z[l])``; for softmax ``(∂a/∂z)ᵀ (W[l+1]ᵀ δ[l+1])``."""
    back = sn.W[l + 1].T * delta_next
    g_prime = sn.derivative[l]
    if g_prime is None:
        return jac[f"J_a{l}_z{l}"].T * back
    return sp.Matrix([v * g_prime(z) for v, z in zip(back, sn.z[l], strict=True)])


def compact_deltas(sn: SymbolicNetwork, jac: dict[str, sp.Matrix]) -> dict[int, sp.Matrix]:
    """``δ[L]`` from the output factors, then ``δ[l]`` by the recursion, ``l = L-1 … 1``."""
    deltas = {sn.depth: output_delta(sn, jac)}
    for l in range(sn.depth - 1, 0, -1):
        deltas[l] = recursion(sn, l, deltas[l + 1], jac)
    return deltas


def is_zero(M: sp.Matrix) -> bool:
    """Every entry expands to exactly 0 (a symbolic decision; no numbers are substituted)."""
    return all(sp.expand(e) == 0 for e in M)


@dataclass(frozen=True)
class Claim:
    """One proved (or refuted) statement: ``chain − compact`` for a layer and parameter."""

    layer: int
    param: str
    chain: tuple[str, ...]
    statement: str
    holds: bool


def prove(sn: SymbolicNetwork, jac: dict[str, sp.Matrix] | None = None) -> list[Claim]:
    """For every layer: reshape(chain of ``∂L/∂vec(W[l])``) − ``δ[l] a[l-1]ᵀ``, chain of
    ``∂L/∂b[l]`` − ``δ[l]ᵀ``, and chain of ``∂L/∂z[l]`` − ``δ[l]ᵀ`` (the recursion), each
    expanded to the zero matrix. With ``sn.vec == "column"`` the row is
    ``∂L/∂vec_col(W[l])`` and the reshape is in Fortran order."""
    jac = jacobians(sn) if jac is None else jac
    deltas = compact_deltas(sn, jac)
    L, claims = sn.depth, []
    for l in range(L, 0, -1):
        n, m = sn.net.weight_shape(l)
        to_z = product([jac[k] for k in chain_names(L, l, "z")])
        statements = {
            "delta": (f"∂L/∂z[{l}] − δ[{l}]ᵀ = 0", to_z - deltas[l].T),
            "W": (
                f"reshape_F(∂L/∂vec_col(W[{l}])) − δ[{l}] a[{l - 1}]ᵀ = 0"
                if sn.vec == "column"
                else f"reshape(∂L/∂vec(W[{l}])) − δ[{l}] a[{l - 1}]ᵀ = 0",
                unflatten(sn, to_z * jac[f"J_z{l}_W{l}"], n, m) - deltas[l] * sn.a[l - 1].T,
            ),
            "b": (f"∂L/∂b[{l}] − δ[{l}]ᵀ = 0", to_z * jac[f"J_z{l}_b{l}"] - deltas[l].T),
        }
        for param, (statement, difference) in statements.items():
            end = "z" if param == "delta" else param
            claims.append(
                Claim(l, param, tuple(chain_names(L, l, end)), statement, is_zero(difference))
            )
    return claims
