"""Build the derivation of one gradient of one layer, step by step, as a textbook does.

For layer ``l`` and parameter ``W`` the steps are: the layer's forward map; the chain rule
with the shapes it multiplies; every factor with its entries; ``δ[l]ᵀ`` (the factors up to
``∂a[l]/∂z[l]``, written with the symbols ``δ[l+1]`` below the output layer); below the output,
the lumped factor ``∂z[l+1]/∂z[l] = W[l+1] diag(g'(z[l]))`` and the transposition of the row
``δ[l]ᵀ`` into the column recursion ``δ[l] = (W[l+1]ᵀ δ[l+1]) ⊙ g'(z[l])``; the last factor
``∂z[l]/∂vec(W[l]) = I ⊗ a[l-1]ᵀ`` applied to it; the reshape into ``dW[l]``; the compact
formula ``δ[l] a[l-1]ᵀ``; and the verdict of the proof in :func:`derivations.chains.prove`.
A sigmoid factor is also written in its outputs, ``σ' = a ⊙ (1 − a)``. Every step that
states an identity proves it symbolically and says "holds ✓" or "FAILS ✗".
"""

from __future__ import annotations

import re

import sympy as sp

from jacobians.errors import InvalidValueError, message, unknown_name
from jacobians.network import Network

from . import chains
from .chains import Claim, chain_names, is_zero, jacobians, product, prove, vec
from .derivation import Derivation, Equation, Step
from .functions import sigmoid
from .network import SymbolicNetwork

PARAMS = ("W", "b", "delta")
_JAC = re.compile(r"^J_(L|[az]\d+)_([azWb]\d+)$")


def _part(name: str, column: bool = False) -> tuple[str, str]:
    """``'z2'`` → (``'z[2]'``, ``'z^{[2]}'``); ``'W2'`` → the ``vec(W[2])`` forms (with
    ``column``, ``vec_col(W[2])``)."""
    if name == "L":
        return "L", "L"
    base, layer = name[0], name[1:]
    if base == "W" and column:
        return (
            f"vec_col(W[{layer}])",
            rf"\operatorname{{vec}}_{{\mathrm{{col}}}}(W^{{[{layer}]}})",
        )
    if base == "W":
        return f"vec(W[{layer}])", rf"\operatorname{{vec}}(W^{{[{layer}]}})"
    return f"{base}[{layer}]", f"{base}^{{[{layer}]}}"


def jacobian_label(sn: SymbolicNetwork, name: str) -> sp.Symbol:
    """``J_z2_W2`` → a label printing ``∂z[2]/∂vec(W[2])`` (unicode) or a ``\\frac`` (LaTeX)."""
    m = _JAC.match(name)
    if m is None:
        raise ValueError(f"not a Jacobian name: {name!r}")
    (ou, ol), (iu, il) = _part(m.group(1)), _part(m.group(2), sn.vec == "column")
    return sn.names.label(_printable(f"∂{ou}/∂{iu}"), rf"\frac{{\partial {ol}}}{{\partial {il}}}")


def _printable(label: str) -> str:
    """A label as sympy's pretty printer shows it literally: ``vec_col`` is written
    ``vecᶜᵒˡ`` (an underscore would make the rest a subscript, and ``vec`` an arrow)."""
    return label.replace("vec_col", "vecᶜᵒˡ")


def _shape(M: sp.Matrix) -> tuple[int, int]:
    return int(M.rows), int(M.cols)


def _chain_text(
    names: list[str], jac: dict[str, sp.Matrix], target: str, column: bool = False
) -> str:
    parts = []
    for n in names:
        m = _JAC.match(n)
        assert m is not None
        parts.append(f"∂{_part(m.group(1))[0]}/∂{_part(m.group(2), column)[0]}")
    shapes = "·".join(f"({r}×{c})" for r, c in (_shape(jac[n]) for n in names))
    rows, cols = _shape(product([jac[n] for n in names]))
    return f"{target} = {' · '.join(parts)}\nshapes: {shapes} → ({rows}×{cols})"


def _notes(sn: SymbolicNetwork, names: list[str]) -> str:
    acts = {
        sn.net.activations[int(n.split("_")[1][1:]) - 1].name for n in names if n.startswith("J_a")
    }
    notes = []
    if "relu" in acts:
        notes.append(
            "H is the step function: H(z) = 1 for z > 0 and 0 for z ≤ 0. relu has no "
            "derivative at 0; its slope is 0 on the left and 1 on the right, and we "
            "take 0 there."
        )
    if any(a.startswith("leaky_relu") for a in acts):
        notes.append("H_α(z, α) = 1 for z > 0 and α for z ≤ 0 (α at the kink, the left slope).")
    if sn.abstract:
        notes.append("g[l] is an unspecified elementwise activation and g[l]' its derivative.")
    return " ".join(notes)


def _delta_step(sn: SymbolicNetwork, jac: dict[str, sp.Matrix], l: int) -> tuple[Step, list[Step]]:
    """``δ[l]ᵀ``: at the output the product of the two loss-side factors (and its simplified
    form for a fused pair); below, ``δ[l+1]ᵀ · W[l+1] · ∂a[l]/∂z[l]`` in the symbols ``δ[l+1]``."""
    L = sn.depth
    label = sn.names.label(f"δ[{l}]ᵀ", rf"{{\delta^{{[{l}]}}}}^\top")
    extra: list[Step] = []
    if l == L:
        row = jac[f"J_L_a{L}"] * jac[f"J_a{L}_z{L}"]
        step = Step(
            f"δ[{L}]ᵀ = ∂L/∂z[{L}]",
            "The two loss-side factors multiplied:",
            (Equation(label, row, _shape(row)),),
        )
        simplified = simplify_output(sn, jac)
        if simplified is not None:
            form, assumption, holds = simplified
            tool = "sympy.cancel" if sn.derivative[L] is not None else "sympy.expand"
            verdict = "holds ✓" if holds else "FAILS ✗"
            extra.append(
                Step(
                    f"Simplified: δ[{L}] = a[{L}] − y",
                    f"With {assumption}, the product cancels to (a[{L}] − y)ᵀ ({verdict}; decided "
                    f"by {tool}, not by numbers).",
                    (Equation(label, form, _shape(form)),),
                )
            )
        return step, extra
    delta_next = sn.delta[l + 1]
    row = delta_next.T * jac[f"J_z{l + 1}_a{l}"] * jac[f"J_a{l}_z{l}"]
    text = (
        f"Writing δ[{l + 1}] for the product of the factors left of ∂z[{l + 1}]/∂a[{l}] "
        f"(derived at layer {l + 1}):  δ[{l}]ᵀ = δ[{l + 1}]ᵀ · ∂z[{l + 1}]/∂a[{l}] · "
        f"∂a[{l}]/∂z[{l}]"
    )
    return Step(f"δ[{l}]ᵀ = ∂L/∂z[{l}]", text, (Equation(label, row, _shape(row)),)), extra


def _verdict(holds: bool) -> str:
    return "holds ✓" if holds else "FAILS ✗"


def _in_z(sn: SymbolicNetwork, l: int, M: sp.Matrix) -> sp.Matrix:
    """``M`` with the symbols ``a[l]`` replaced by ``g[l](z[l])`` (softmax's factor is in ``a``)."""
    return M.xreplace(dict(zip(sn.a[l], sn.a_expr(l), strict=True)))


def _unevaluated(*factors: sp.Matrix) -> sp.Basic:
    """The product of explicit matrices, printed as a product (each matrix with its entries)."""
    return sp.MatMul(*(sp.ImmutableMatrix(f) for f in factors), evaluate=False)


def lumped_factor(sn: SymbolicNetwork, jac: dict[str, sp.Matrix], l: int) -> sp.Matrix:
    """``∂z[l+1]/∂z[l] = ∂z[l+1]/∂a[l] · ∂a[l]/∂z[l] = W[l+1] diag(g'(z[l]))``, shape
    ``(n[l+1], n[l])``: column ``k`` of ``W[l+1]`` scaled by ``g'(z[l]ₖ)`` (for softmax,
    ``W[l+1] (diag(a[l]) − a[l] a[l]ᵀ)``)."""
    return jac[f"J_z{l + 1}_a{l}"] * jac[f"J_a{l}_z{l}"]


def lumped_direct(sn: SymbolicNetwork, l: int) -> sp.Matrix:
    """``Matrix.jacobian`` of ``z[l+1] = W[l+1] g[l](z[l]) + b[l+1]``, written out in ``z[l]``:
    the independent side of the lumped factor's proof."""
    return (sn.W[l + 1] * sn.a_expr(l) + sn.b[l + 1]).jacobian(sn.z[l])


def _lumped_step(sn: SymbolicNetwork, jac: dict[str, sp.Matrix], l: int) -> tuple[Step, bool]:
    """The lumped factor ``∂z[l+1]/∂z[l]`` with its shape, proved equal to ``lumped_direct``."""
    lumped = lumped_factor(sn, jac, l)
    p, n = _shape(lumped)
    elementwise = sn.derivative[l] is not None
    if elementwise:
        form, tool = f"W[{l + 1}] diag(g'(z[{l}]))", "sympy.expand"
        holds = is_zero(lumped - lumped_direct(sn, l))
    else:
        form, tool = f"W[{l + 1}] (diag(a[{l}]) − a[{l}] a[{l}]ᵀ)", "sympy.cancel"
        holds = all(sp.cancel(e) == 0 for e in _in_z(sn, l, lumped) - lumped_direct(sn, l))
    text = (
        f"∂z[{l + 1}]/∂z[{l}] = ∂z[{l + 1}]/∂a[{l}] · ∂a[{l}]/∂z[{l}] = {form}, shapes "
        f"({p}×{n})·({n}×{n}) → ({p}×{n}), so that δ[{l}]ᵀ = δ[{l + 1}]ᵀ · ∂z[{l + 1}]/∂z[{l}]. "
        f"Equal to Matrix.jacobian of z[{l + 1}] = W[{l + 1}] g[{l}](z[{l}]) + b[{l + 1}] "
        f"written out in z[{l}]: {_verdict(holds)} ({tool} of the difference, entry by entry)."
    )
    label = sn.names.label(
        f"∂z[{l + 1}]/∂z[{l}]", rf"\frac{{\partial z^{{[{l + 1}]}}}}{{\partial z^{{[{l}]}}}}"
    )
    title = f"The lumped factor ∂z[{l + 1}]/∂z[{l}] = {form}"
    product_form = _unevaluated(jac[f"J_z{l + 1}_a{l}"], jac[f"J_a{l}_z{l}"])
    equations = (Equation(label, product_form, (p, n)), Equation(label, lumped, (p, n)))
    return Step(title, text, equations), holds


def column_recursion(sn: SymbolicNetwork, jac: dict[str, sp.Matrix], l: int) -> sp.Matrix:
    """``(δ[l+1]ᵀ W[l+1] D)ᵀ = Dᵀ W[l+1]ᵀ δ[l+1] = D W[l+1]ᵀ δ[l+1]`` by ``(ABC)ᵀ = CᵀBᵀAᵀ``
    and ``Dᵀ = D`` (``D = ∂a[l]/∂z[l]``, diagonal, or softmax's symmetric matrix), ``n[l] × 1``."""
    return jac[f"J_a{l}_z{l}"] * sn.W[l + 1].T * sn.delta[l + 1]


def _transpose_step(sn: SymbolicNetwork, jac: dict[str, sp.Matrix], l: int) -> tuple[Step, bool]:
    """The row ``δ[l]ᵀ`` transposed into the column recursion, with the proof that the
    transposed row, ``D W[l+1]ᵀ δ[l+1]`` and the ``⊙`` form agree."""
    D = jac[f"J_a{l}_z{l}"]
    row = sn.delta[l + 1].T * jac[f"J_z{l + 1}_a{l}"] * D
    column = column_recursion(sn, jac, l)
    hadamard = chains.recursion(sn, l, sn.delta[l + 1], jac)
    symmetric = D == D.T
    holds = symmetric and is_zero(row.T - column) and is_zero(column - hadamard)
    nxt = f"δ[{l + 1}]"
    if sn.derivative[l] is not None:
        d, why = f"diag(g'(z[{l}]))", "a diagonal matrix is symmetric, diag(·)ᵀ = diag(·)"
        result = f" = (W[{l + 1}]ᵀ {nxt}) ⊙ g'(z[{l}])"
        scaling = f"; multiplying by the diagonal scales entry k by g'(z[{l}]ₖ), which is ⊙"
    else:
        d = f"∂a[{l}]/∂z[{l}]"
        why = f"softmax's ∂a[{l}]/∂z[{l}] = diag(a[{l}]) − a[{l}] a[{l}]ᵀ is symmetric"
        result, scaling = "", ""
    text = (
        f"δ[{l}]ᵀ = {nxt}ᵀ W[{l + 1}] {d}  ⇒  δ[{l}] = {d} W[{l + 1}]ᵀ {nxt}{result}, by the "
        f"rule (ABC)ᵀ = CᵀBᵀAᵀ, and because {why}{scaling}. The transposed row, "
        f"{d} W[{l + 1}]ᵀ {nxt} and the compact form agree: {_verdict(holds)} (sympy.expand "
        "of the differences, entry by entry; the symmetry checked entry by entry)."
    )
    label = sn.names.label(f"δ[{l}]", rf"\delta^{{[{l}]}}")
    title = f"From the row δ[{l}]ᵀ to the column δ[{l}]: (ABC)ᵀ = CᵀBᵀAᵀ"
    shape = _shape(column)
    product_form = _unevaluated(D, sn.W[l + 1].T, sn.delta[l + 1])
    equations = (Equation(label, product_form, shape), Equation(label, hadamard, shape))
    return Step(title, text, equations), holds


def sigmoid_in_a(a: sp.Matrix) -> sp.Matrix:
    """``diag(a ⊙ (1 − a))``: sigmoid's Jacobian written in its outputs ``a = σ(z)``."""
    return sp.diag(*[v * (1 - v) for v in a])


def _sigmoid_rule_holds() -> bool:
    """``σ'(z) = σ(z)(1 − σ(z))``: the rule of :class:`~derivations.functions.sigmoid`, written
    with ``exp``, minus ``d/dz 1/(1 + e^{−z})`` cancels to 0."""
    z = sp.Dummy("z", real=True)
    explicit = 1 / (1 + sp.exp(-z))
    return bool(sp.cancel(sigmoid(z).diff(z).rewrite(sp.exp) - explicit.diff(z)) == 0)


def _sigmoid_steps(
    sn: SymbolicNetwork, jac: dict[str, sp.Matrix], names: list[str]
) -> list[tuple[Step, bool]]:
    """For every concrete sigmoid factor ``∂a[k]/∂z[k]`` of the chain: the ``σ`` form beside
    ``diag(a[k] ⊙ (1 − a[k]))``, proved equal under ``a[k] = σ(z[k])``."""
    out = []
    for name in names:
        m = re.fullmatch(r"J_a(\d+)_z\1", name)
        if m is None:
            continue
        k = int(m.group(1))
        if sn.abstract or sn.net.activations[k - 1].name != "sigmoid":
            continue
        factor = jac[name]
        in_a = factor.xreplace({sigmoid(z): v for z, v in zip(sn.z[k], sn.a[k], strict=True)})
        form = sigmoid_in_a(sn.a[k])
        holds = _sigmoid_rule_holds() and is_zero(in_a - form)
        text = (
            f"σ'(z) = σ(z)(1 − σ(z)), and with a[{k}] = σ(z[{k}]) this is a[{k}] ⊙ (1 − a[{k}]): "
            f"∂a[{k}]/∂z[{k}] = diag(a[{k}] ⊙ (1 − a[{k}])). The two forms agree: "
            f"{_verdict(holds)} (the rule minus the derivative of 1/(1 + exp(−z)) cancels to 0 "
            "by sympy.cancel, and the factor with "
            f"σ(z[{k}]ᵢ) written a[{k}]ᵢ minus diag(a[{k}] ⊙ (1 − a[{k}])) expands to 0 "
            "by sympy.expand)."
        )
        label = jacobian_label(sn, name)
        shape = _shape(factor)
        step = Step(
            f"σ' in the form a(1 − a): ∂a[{k}]/∂z[{k}]",
            text,
            (Equation(label, factor, shape), Equation(label, form, shape)),
        )
        out.append((step, holds))
    return out


def simplify_output(
    sn: SymbolicNetwork, jac: dict[str, sp.Matrix]
) -> tuple[sp.Matrix, str, bool] | None:
    """For sigmoid + bce and softmax + ce: ``(a[L] − y)ᵀ``, the assumption that makes the
    output factors' product equal to it, and whether ``cancel``/``expand`` confirms it."""
    fused = sn.net.fused
    L = sn.depth
    if fused is None or sn.abstract_loss or (sn.abstract and sn.derivative[L] is not None):
        return None
    row = jac[f"J_L_a{L}"] * jac[f"J_a{L}_z{L}"]
    a, y, target = sn.a[L], sn.y, (sn.a[L] - sn.y).T
    if fused.activation == "sigmoid":
        in_a = (row - target).xreplace({sigmoid(z): v for z, v in zip(sn.z[L], a, strict=True)})
        return target, f"a[{L}] = σ(z[{L}])", all(sp.cancel(e) == 0 for e in in_a)
    one_hot = {y[-1]: 1 - sp.Add(*y[:-1])}
    holds = all(sp.expand(e.xreplace(one_hot)) == 0 for e in row - target)
    return target, "Σᵢ yᵢ = 1 (true of a one-hot y)", holds


def _recursion_steps(
    sn: SymbolicNetwork,
    jac: dict[str, sp.Matrix],
    l: int,
    cache: dict[int, list[tuple[Step, bool]]],
) -> list[tuple[Step, bool]]:
    """The lumped factor and the transposition of layer ``l < L``, built (and proved) once per
    layer: ``dW[l]``, ``db[l]`` and ``δ[l]`` share them."""
    if l not in cache:
        cache[l] = [_lumped_step(sn, jac, l), _transpose_step(sn, jac, l)]
    return cache[l]


def derive_layer(
    sn: SymbolicNetwork,
    jac: dict[str, sp.Matrix],
    claims: list[Claim],
    l: int,
    param: str,
    cache: dict[int, list[tuple[Step, bool]]] | None = None,
) -> Derivation:
    """The derivation of ``dW[l]``, ``db[l]`` or ``δ[l]`` (``param`` = ``W``, ``b``, ``delta``);
    ``cache`` keeps the steps the three share (see :func:`derive`)."""
    L, net = sn.depth, sn.net
    n, m = net.weight_shape(l)
    target = {"W": f"dW[{l}]", "b": f"db[{l}]", "delta": f"δ[{l}]"}[param]
    acts = ", ".join(a.name for a in net.activations)
    loss = "an abstract loss ℓ" if sn.abstract_loss else f"loss {net.loss.name}"
    title = f"{target} of the {net.spec} network ({acts}; {loss})"
    if sn.abstract:
        title += ", activations abstract"
    column = sn.vec == "column"
    if column:
        title += ", column-major vec"
    d = Derivation(title, sn.names)
    names = chain_names(L, l, "z" if param == "delta" else param)

    z_label = sn.names.label(f"z[{l}]", f"z^{{[{l}]}}")
    a_label = sn.names.label(f"a[{l}]", f"a^{{[{l}]}}")
    d.add(
        Step(
            f"Layer {l}",
            f"z[{l}] = W[{l}] a[{l - 1}] + b[{l}] and a[{l}] = g[{l}](z[{l}]), "
            f"with W[{l}] of shape {n} × {m}" + (" (a[0] is x)" if l == 1 else "") + ":",
            (Equation(z_label, sn.z_expr(l), (n, 1)), Equation(a_label, sn.a_expr(l), (n, 1))),
        )
    )
    lhs = {"W": f"∂L/∂{_part(f'W{l}', column)[0]}", "b": f"∂L/∂b[{l}]", "delta": f"∂L/∂z[{l}]"}[
        param
    ]
    d.add(Step("The chain rule", _chain_text(names, jac, lhs, column)))
    d.add(
        Step(
            "The factors",
            _notes(sn, names),
            tuple(Equation(jacobian_label(sn, k), jac[k], _shape(jac[k])) for k in names),
        )
    )
    checks = [] if sn.abstract else _sigmoid_steps(sn, jac, names)
    for step, _ in checks:
        d.add(step)
    delta_step, extra = _delta_step(sn, jac, l)
    d.add(delta_step)
    for step in extra:
        d.add(step)
    if l < L:
        recursion_steps = _recursion_steps(sn, jac, l, {} if cache is None else cache)
        for step, _ in recursion_steps:
            d.add(step)
        checks += recursion_steps
    delta_l = sn.delta[l]
    claim = next(c for c in claims if c.layer == l and c.param == param)
    if param == "W" and column:
        row, kron_holds = _column_weight_steps(sn, jac, d, l, lhs)
        checks.append((d.steps[-3], kron_holds))
    elif param == "W":
        row = delta_l.T * jac[f"J_z{l}_W{l}"]
        d.add(
            Step(
                f"The last factor: ∂z[{l}]/∂vec(W[{l}]) = I_{n} ⊗ a[{l - 1}]ᵀ",
                f"δ[{l}]ᵀ times the block matrix puts δ[{l}]ᵢ a[{l - 1}]ᵀ in block i:",
                (
                    Equation(
                        sn.names.label(
                            lhs,
                            rf"\frac{{\partial L}}{{\partial \operatorname{{vec}}(W^{{[{l}]}})}}",
                        ),
                        row,
                        _shape(row),
                    ),
                ),
            )
        )
        dW = row.reshape(n, m)
        d.add(
            Step(
                f"Reshape into dW[{l}]",
                f"Row-major: entry (i − 1)·{m} + k of the row, counting from 1, is dW[{l}] row"
                f" i, column k (numpy, from 0: index i·{m} + k is dW[{l}][i, k]).",
                (Equation(sn.names.label(f"dW[{l}]", f"dW^{{[{l}]}}"), dW, (n, m)),),
            )
        )
        outer = sp.MatMul(delta_l, sn.a[l - 1].T)
        d.add(
            Step(
                "The compact formula",
                f"dW[{l}] = δ[{l}] a[{l - 1}]ᵀ, the outer product:",
                (
                    Equation(
                        sn.names.label(
                            f"δ[{l}] a[{l - 1}]ᵀ", rf"\delta^{{[{l}]}} {{a^{{[{l - 1}]}}}}^\top"
                        ),
                        outer.doit(),
                        (n, m),
                    ),
                ),
            )
        )
    elif param == "b":
        row = delta_l.T * jac[f"J_z{l}_b{l}"]
        d.add(
            Step(
                f"The last factor: ∂z[{l}]/∂b[{l}] = I_{n}",
                "",
                (
                    Equation(
                        sn.names.label(lhs, rf"\frac{{\partial L}}{{\partial b^{{[{l}]}}}}"),
                        row,
                        _shape(row),
                    ),
                ),
            )
        )
        d.add(
            Step(
                "The compact formula",
                f"db[{l}] = δ[{l}]: the gradient has the shape of b[{l}].",
                (Equation(sn.names.label(f"db[{l}]", f"db^{{[{l}]}}"), row.T, (n, 1)),),
            )
        )
    elif l < L:
        g = net.activations[l - 1]
        formula = (
            f"δ[{l}] = (W[{l + 1}]ᵀ δ[{l + 1}]) ⊙ g'(z[{l}])"
            if g.elementwise
            else f"δ[{l}] = (∂a[{l}]/∂z[{l}])ᵀ W[{l + 1}]ᵀ δ[{l + 1}] (softmax is not elementwise)"
        )
        compact = chains.recursion(sn, l, sn.delta[l + 1], jac)
        d.add(
            Step(
                "The compact formula",
                formula + ":",
                (Equation(sn.names.label(f"δ[{l}]", rf"\delta^{{[{l}]}}"), compact, (n, 1)),),
            )
        )
    verdict = "holds ✓" if claim.holds else "FAILS ✗"
    d.add(
        Step(
            "Proof",
            f"{claim.statement}: {verdict}. Every factor of the chain {' · '.join(claim.chain)} "
            "is multiplied out (no δ symbols); the compact formula is built from "
            + (f"δ[{L}] = (∂L/∂a[{L}] · ∂a[{L}]/∂z[{L}])ᵀ" if l == L else "the δ recursion")
            + "; their difference expands (sympy.expand) to the zero matrix entry by entry — "
            "decided symbolically, never by evaluating numbers.",
        )
    )
    d.holds = (
        claim.holds
        and all(holds for _, holds in checks)
        and all("FAILS" not in s.text for s in d.steps if s.title.startswith("Simplified"))
    )
    return d


def _column_weight_steps(
    sn: SymbolicNetwork, jac: dict[str, sp.Matrix], d: Derivation, l: int, lhs: str
) -> tuple[sp.Matrix, bool]:
    """The column-major ``vec``'s last three steps for ``dW[l]``: ``∂z[l]/∂vec_col(W[l])``,
    derived by ``Matrix.jacobian``, proved equal to ``a[l-1]ᵀ ⊗ I_n`` built by
    ``sympy.kronecker_product``, applied to ``δ[l]ᵀ``; the Fortran-order reshape; the compact
    formula. Returns the row ``∂L/∂vec_col(W[l])`` and whether the Kronecker form holds."""
    n, m = sn.net.weight_shape(l)
    J = jac[f"J_z{l}_W{l}"]
    kron = chains.kron_factor(sn, l)
    holds = J.shape == kron.shape and is_zero(J - kron)
    row = sn.delta[l].T * J
    d.add(
        Step(
            f"The last factor: ∂z[{l}]/∂vec_col(W[{l}]) = a[{l - 1}]ᵀ ⊗ I_{n}",
            f"vec_col stacks the columns of W[{l}]: column k (entries k·{n} to k·{n} + {n - 1}) "
            f"reaches z[{l}] through a[{l - 1}]ₖ alone, so block k is a[{l - 1}]ₖ I_{n}. "
            f"Matrix.jacobian of z[{l}] with respect to vec_col(W[{l}]) minus a[{l - 1}]ᵀ ⊗ I_{n} "
            f"(sympy.kronecker_product) expands to 0: {_verdict(holds)}. δ[{l}]ᵀ times the "
            f"block matrix puts a[{l - 1}]ₖ δ[{l}]ᵀ in block k:",
            (
                Equation(jacobian_label(sn, f"J_z{l}_W{l}"), J, _shape(J)),
                Equation(
                    sn.names.label(
                        _printable(lhs),
                        rf"\frac{{\partial L}}{{\partial \operatorname{{vec}}_{{\mathrm{{col}}}}"
                        rf"(W^{{[{l}]}})}}",
                    ),
                    row,
                    _shape(row),
                ),
            ),
        )
    )
    d.add(
        Step(
            f"Reshape into dW[{l}]",
            f"Column-major (Fortran order): entry (k − 1)·{n} + i of the row, counting from 1,"
            f" is dW[{l}] row i, column k (numpy, from 0: index k·{n} + i is dW[{l}][i, k]).",
            (
                Equation(
                    sn.names.label(f"dW[{l}]", f"dW^{{[{l}]}}"),
                    chains.unflatten(sn, row, n, m),
                    (n, m),
                ),
            ),
        )
    )
    outer = sp.MatMul(sn.delta[l], sn.a[l - 1].T)
    d.add(
        Step(
            "The compact formula",
            f"dW[{l}] = δ[{l}] a[{l - 1}]ᵀ, the outer product (as with the row-major vec):",
            (
                Equation(
                    sn.names.label(
                        f"δ[{l}] a[{l - 1}]ᵀ", rf"\delta^{{[{l}]}} {{a^{{[{l - 1}]}}}}^\top"
                    ),
                    outer.doit(),
                    (n, m),
                ),
            ),
        )
    )
    return row, holds


def derive(
    net: Network,
    abstract: bool = False,
    layer: int | None = None,
    params: tuple[str, ...] = ("W", "b"),
    abstract_loss: bool = False,
    vec: str = "row",
) -> list[Derivation]:
    """Derivations of the chosen layers (all by default, output first) and parameters;
    ``abstract`` keeps activations as ``g[l]``, ``abstract_loss`` the loss as ``ℓ(a[L])``;
    ``vec`` flattens ``W[l]`` row-major (``row``, the default: ``∂z/∂vec(W) = I_n ⊗ aᵀ``) or
    column-major (``column``: ``∂z/∂vec_col(W) = aᵀ ⊗ I_n``, reshaped in Fortran order)."""
    if vec not in ("row", "column"):
        raise unknown_name("vec", vec, ("row", "column"))
    if layer is not None and not 1 <= layer <= net.depth:
        raise InvalidValueError(
            message("layer", f"a layer from 1 to {net.depth} for {net.spec}", str(layer))
        )
    for p in params:
        if p not in PARAMS:
            raise unknown_name("params", p, PARAMS)
    sn = SymbolicNetwork(net, abstract=abstract, abstract_loss=abstract_loss, vec=vec)
    jac = jacobians(sn)
    claims = prove(sn, jac)
    layers = range(net.depth, 0, -1) if layer is None else [layer]
    cache: dict[int, list[tuple[Step, bool]]] = {}
    return [derive_layer(sn, jac, claims, l, p, cache) for l in layers for p in params]


__all__ = [
    "PARAMS",
    "column_recursion",
    "derive",
    "derive_layer",
    "jacobian_label",
    "lumped_direct",
    "lumped_factor",
    "sigmoid_in_a",
    "simplify_output",
    "vec",
]
