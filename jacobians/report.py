"""Turn a :class:`~jacobians.comparison.Comparison` into text for a terminal or into JSON data.

No mathematics here: every number comes from the routes; this module only lays them out.
"""

from __future__ import annotations

from dataclasses import replace
from math import prod
from typing import Any

import numpy as np

from ._typing import Json, Matrix
from .chainrule import ChainResult
from .chains import ChainReport
from .comparison import (
    EXACT_ATOL,
    EXACT_RTOL,
    NUMERICAL_ATOL,
    NUMERICAL_RTOL,
    Comparison,
    Difference,
)
from .errors import shape_str
from .network import Network, display
from .paths import coupled, fused_name, jacobian_shapes, loss_name, skip_name
from .rowlayout import MatrixFunction
from .rownet import RowLayoutCheck


def structure(net: Network, name: str, batch: int = 1, vec: str = "row") -> str:
    """What a Jacobian is made of, in the notation: ``J_z2_W2`` → ``I_2 ⊗ a[1]ᵀ``; each layer
    kind says it of its own (:meth:`~jacobians.layers.base.Kind.structure`); with ``batch``,
    the batch Jacobian's (``I_2 ⊗ A[1]ᵀ``); with ``vec="column"``, a dense layer's
    ``∂z/∂vec_col(W)`` (``a[1]ᵀ ⊗ I_2``, :func:`~jacobians.columnvec.column_structure`)."""
    L = net.depth
    if name == fused_name(net) and net.fused is not None:
        return f"(a[{L}] − y)ᵀ, fused {net.nodes[-1].kind.name} + {net.loss.name}"
    if name == loss_name(net):
        return f"∂{net.loss.name}/∂ŷ"
    for node in net.all_nodes:
        if node.inner and name == skip_name(node):
            return f"I: {display(node.output)} = {display(node.input)} + f, ∂/∂f passes f's output"
        for role in node.jacobian_roles:
            if node.jacobian_name(role) == name:
                names = replace(node.names, batch=batch)
                if vec == "column":
                    from .columnvec import column_structure

                    return column_structure(node.kind, role, names)
                return node.kind.structure(role, names)
    return ""


def describe_network(net: Network) -> str:
    """``3-4-2-1 (relu, relu, sigmoid)`` for a dense network, else ``1x4x4 → conv2d(2, 2), …``."""
    if net.is_dense:
        return f"{net.spec} ({', '.join(a.name for a in net.activations)})"
    return f"{'x'.join(map(str, net.input_shape))} → {net.layer_spec}"


def parameter_line(net: Network) -> str:
    """``22 weights + 7 biases = 29``: the parameters counted by the nouns of their roles."""
    counts: dict[tuple[str, str], int] = {}
    for node in net.parametric:
        for role, name in node.parameters.items():
            noun = node.kind.nouns.get(role, (f"{role} entry", f"{role} entries"))
            counts[noun] = counts.get(noun, 0) + prod(net.parameter_shapes[name])
    parts = [plural(count, one, many) for (one, many), count in counts.items()]
    return f"{' + '.join(parts)} = {net.parameter_count}"


def role_list(net: Network) -> str:
    """``W and b``, ``W, b, gamma and beta``: the parameter roles of the network in order."""
    roles = list(dict.fromkeys(r for node in net.parametric for r in node.parameters))
    if not roles:
        return "parameter array"
    return roles[0] if len(roles) == 1 else f"{', '.join(roles[:-1])} and {roles[-1]}"


def kink_text(net: Network) -> str:
    """What a kink is in this network's layers (``a relu or leaky_relu input within h of 0``)."""
    texts = dict.fromkeys(n.kind.kink_text for n in net.all_nodes if n.kind.kink_text)
    return ", or ".join(texts)


def _shape(shape: tuple[int, ...]) -> str:
    return f"({shape_str(shape)})"


def chain_line(report: ChainReport) -> str:
    """``(1×1)·(1×1)·(1×2)·(2×2)·(2×8) → (1×8) → dW2 (2×4)``."""
    product = "·".join(_shape(s) for _, s in report.factors)
    return (
        f"{product} → {_shape(report.product_shape)} → {report.target} "
        f"{_shape(report.result_shape)}"
    )


def _block(title: str, value: Matrix, digits: int) -> list[str]:
    shown = value.reshape(-1, 1) if value.ndim == 1 else value
    text = np.array2string(
        shown,
        precision=digits,
        suppress_small=False,
        floatmode="fixed",
        sign=" ",
        max_line_width=10_000,
    )
    return [title, *text.splitlines()]


def side_by_side(blocks: list[list[str]], gap: int = 3) -> list[str]:
    """Lay out multi-line blocks next to each other, each padded to its widest line."""
    height = max(len(b) for b in blocks)
    widths = [max(len(line) for line in b) for b in blocks]
    rows = []
    for i in range(height):
        cells = [(b[i] if i < len(b) else "").ljust(w) for b, w in zip(blocks, widths, strict=True)]
        rows.append((" " * gap).join(cells).rstrip())
    return rows


def _diff(d: Difference) -> str:
    if d.negligible:
        return f"{d.absolute:.1e} (the gradient is zero within the tolerance)"
    return f"{d.absolute:.1e} (relative {d.relative:.1e})"


def _numeric_diff(c: Comparison, name: str) -> str:
    d = c.numerical_vs_vectorized[name]
    if not d.inconclusive:
        return _diff(d)
    keep = ~c.numerical.kinks[name]
    noise = float(np.max(c.numerical.noise[name][keep]))
    return (
        f"INCONCLUSIVE: rounding of the cost (|J| ≈ {abs(c.cost):.1e}) over 2h bounds the "
        f"difference only to ±{noise:.1e}, too coarse for this gradient; try a larger --step"
    )


def plural(count: int, word: str, many: str = "") -> str:
    """``1 bias``, ``7 biases``."""
    return f"{count} {word if count == 1 else (many or word + 's')}"


def _largest(c: Comparison, which: str) -> str:
    by_abs, by_rel = c.largest(which)
    return (
        f"absolute {by_abs.absolute:.1e} ({by_abs.name}), "
        f"relative {by_rel.relative:.1e} ({by_rel.name})"
    )


def _kink_entries(c: Comparison, name: str, limit: int = 8) -> str:
    where = [f"{name}[{', '.join(map(str, idx))}]" for idx in np.argwhere(c.numerical.kinks[name])]
    more = f" and {len(where) - limit} more" if len(where) > limit else ""
    return ", ".join(where[:limit]) + more


def format_comparison(c: Comparison, source: str, digits: int = 6) -> str:
    """The terminal report: per layer the chains, the routes side by side, their differences;
    then every Jacobian's shape and the parameter count; then the verdict."""
    net = c.net
    lines = [
        f"network {describe_network(net)}, loss {net.loss.name}, "
        f"{c.params.batch} example{'s' if c.params.batch > 1 else ''}, {source}",
        f"cost J = {c.cost:.{digits}g}; {c.jacobian.representation} Jacobian chains multiplied in "
        f"{c.jacobian.order} order ({c.jacobian.multiply_adds} multiply–adds in all, counted as "
        "dense products)",
    ]
    if c.jacobian.vec == "column":
        lines.append(
            "vec: column-major (Magnus–Neudecker): ∂z[l]/∂vec_col(W[l]) = a[l-1]ᵀ ⊗ I, and each "
            "row ∂L/∂vec_col(W[l]) reshaped in Fortran order (entry k·n_l + i is dW[l][i, k])"
        )
    joint = coupled(net) if c.params.batch > 1 else None
    if joint is not None:
        lines.append(
            "a batch: the Jacobian route multiplies one chain through the batch Jacobians "
            f"({joint.kind.name} couples the examples); chains shown for the whole batch"
        )
    elif c.params.batch > 1 and c.jacobian.strategy == "batch":
        lines.append(
            "a batch: the Jacobian route multiplies one chain through the batch Jacobians; "
            "chains shown for one example"
        )
    elif c.params.batch > 1:
        lines.append(
            "a batch: the Jacobian route averages the per-example chains; "
            "chains shown for example 0"
        )
    reports = {r.target: r for r in c.jacobian.chains}
    for node in reversed(net.parametric):
        l = node.label
        gradients = [f"d{node.parameters[role]}" for role in node.kind.roles]
        lines += ["", f"layer {l}" + ("" if net.is_dense else f": {node.kind.spec()}")]
        for target in (f"delta{l}", *gradients):
            r = reports[target]
            lines.append(
                f"  {target:<7} {chain_line(r)}   [{plural(r.multiply_adds, 'multiply–add')}]"
            )
        for name in gradients:
            blocks = [
                ["", f"  {name}"],
                _block("jacobian", c.jacobian.gradients[name], digits),
                _block("vectorized", c.vectorized.gradients[name], digits),
                _block("numerical", c.numerical.gradients[name], digits),
            ]
            lines += side_by_side(blocks)
            lines.append(
                f"    jacobian − vectorized: {_diff(c.jacobian_vs_vectorized[name])}; "
                f"numerical − vectorized: {_numeric_diff(c, name)}"
            )
            if c.numerical.kinks[name].any():
                lines.append(
                    f"    not compared, the stencil crosses a kink ({kink_text(net)}): "
                    f"{_kink_entries(c, name)}"
                )
    batch = c.params.batch if joint is not None else 1
    lines += ["", f"Jacobians (the batch of {batch})" if joint else "Jacobians (example 0)"]
    shapes = jacobian_shapes(net, batch=batch)
    width = max(9, *map(len, shapes))
    for name, shape in shapes.items():
        text = structure(net, name, batch, c.jacobian.vec)
        lines.append(f"  {name:<{width}} {shape_str(shape):>7}   {text}")
    lines += ["", f"parameters: {parameter_line(net)}"]
    if c.jacobian.fused_gap is not None:
        L, z = net.depth, display(net.nodes[-1].input)
        lines.append(
            f"output: ∂L/∂a[{L}]·∂a[{L}]/∂{z} equals the fused (a[{L}] − y)ᵀ to "
            f"{c.jacobian.fused_gap:.1e}"
        )
    lines += [f"note: {n}" for n in c.jacobian.notes]
    if c.numerical.sample is not None:
        lines.append(
            f"note: the numerical route checked {c.numerical.sample} random entries of each "
            f"{role_list(c.net)} ({c.numerical.checked_count} of {c.net.parameter_count} "
            "parameters); the others show as nan"
        )
    lines += [
        "",
        f"largest difference, jacobian − vectorized: {_largest(c, 'jacobian')} "
        f"[tolerance {EXACT_RTOL:g} relative + {EXACT_ATOL:g}]",
        f"largest difference, numerical − vectorized: {_largest(c, 'numerical')} "
        f"[tolerance {NUMERICAL_RTOL:g} relative + {NUMERICAL_ATOL:g} + rounding 10·ε·|J|/h; "
        f"h = {c.numerical.step:g}; {plural(c.numerical.kink_count, 'entry', 'entries')} "
        "at kinks skipped]",
    ]
    if c.inconclusive():
        lines.append(f"the numerical check is inconclusive for {', '.join(c.inconclusive())}")
    lines.append(verdict(c))
    return "\n".join(lines)


def verdict(c: Comparison) -> str:
    """The last line: agree, not confirmed (finite differences lost in rounding), or disagree."""
    if c.agree:
        return "the three routes agree"
    exact_ok = c.fused_agrees and all(d.agree for d in c.jacobian_vs_vectorized.values())
    numeric_ok = all(d.agree or d.inconclusive for d in c.numerical_vs_vectorized.values())
    if exact_ok and numeric_ok:
        return (
            "NOT CONFIRMED: the Jacobian and vectorized routes agree, but finite differences "
            "cannot decide here"
        )
    return "THE ROUTES DISAGREE"


def _tolist(value: Matrix) -> Any:
    """Nested lists; NaN (an entry the numerical route did not check) becomes null."""
    array = np.asarray(value, dtype=object)
    array[np.isnan(np.asarray(value, dtype=float))] = None
    return array.tolist()


def _input_json(c: Comparison) -> Any:
    """``x`` as nested lists: whole numbers where the first layer reads ids (an embedding's
    tokens, ``[[2], [0]]``, not ``[[2.0], [0.0]]``), floats otherwise."""
    x = c.params.x
    if c.net.nodes and not c.net.nodes[0].kind.differentiable_input:
        return x.astype(np.int64).tolist()
    return x.tolist()


def comparison_json(c: Comparison, source: dict[str, Any]) -> Json:
    """The comparison as JSON-ready data (see the CLI reference for the keys)."""

    def pair(which: str) -> dict[str, Any]:
        by_abs, by_rel = c.largest(which)
        diffs = c.jacobian_vs_vectorized if which == "jacobian" else c.numerical_vs_vectorized
        return {
            "absolute": by_abs.absolute,
            "absolute_in": by_abs.name,
            "relative": by_rel.relative,
            "relative_in": by_rel.name,
            "agree": all(d.agree for d in diffs.values()),
            "inconclusive": [k for k, d in diffs.items() if d.inconclusive],
        }

    network = c.net.describe()
    objects = {}  # every layer's object by its output, blocks' own layers included

    def collect(layers: list[dict[str, Any]]) -> None:
        for layer in layers:
            objects[layer["output"]] = layer
            collect(layer.get("layers", []))

    collect(network["layers"])
    for node in c.net.all_nodes:  # dropout's mask on its layer's object, batch last
        for role, name in node.state.items():
            objects[node.output][role] = c.params.state[name].tolist()
    vec = {"vec": c.jacobian.vec} if c.jacobian.vec != "row" else {}  # row: the file as before
    return {
        "network": network,
        "source": source,
        **vec,
        "batch": c.params.batch,
        "order": c.jacobian.order,
        "cost": c.cost,
        "parameter_count": c.net.parameter_count,
        "parameters": {k: v.tolist() for k, v in c.params.values.items()},
        "x": _input_json(c),
        "y": None if c.params.y is None else c.params.y.tolist(),
        "jacobian": {k: _tolist(v) for k, v in c.jacobian.gradients.items()},
        "vectorized": {k: _tolist(v) for k, v in c.vectorized.gradients.items()},
        "numerical": {k: _tolist(v) for k, v in c.numerical.gradients.items()},
        "deltas": {
            "jacobian": {k: _tolist(v) for k, v in c.jacobian.deltas.items()},
            "vectorized": {k: _tolist(v) for k, v in c.vectorized.deltas.items()},
        },
        "jacobian_shapes": {
            k: list(v)
            for k, v in jacobian_shapes(
                c.net, batch=c.params.batch if coupled(c.net) else 1
            ).items()
        },
        "chains": {
            r.target: {
                "factors": [[n, list(s)] for n, s in r.factors],
                "multiply_adds": r.multiply_adds,
                "expression": r.expression,
            }
            for r in c.jacobian.chains
        },
        "multiply_adds": c.jacobian.multiply_adds,
        "max_difference": {
            "jacobian_vs_vectorized": pair("jacobian"),
            "numerical_vs_vectorized": pair("numerical"),
        },
        "numerical_step": c.numerical.step,
        "numerical_sample": c.numerical.sample,
        "numerical_checked": c.numerical.checked_count,
        "representation": c.jacobian.representation,
        "strategy": c.jacobian.strategy,
        "kinks": {k: np.argwhere(v).tolist() for k, v in c.numerical.kinks.items() if v.any()},
        "fused_gap": c.jacobian.fused_gap,
        "notes": list(c.jacobian.notes),
        "agree": c.agree,
    }


def format_chain(result: ChainResult, names: list[str]) -> str:
    """Each link's input, value and derivative, the chain-rule product, the numeric derivative."""
    x = float(np.asarray(result.x).reshape(-1)[0])
    lines = [f"chain {' → '.join(names)} at x = {x:g}", ""]
    rows = [("link", "input u", "f(u)", "f'(u)", "numeric f'(u)")]
    for i, link in enumerate(result.links, start=1):
        rows.append(
            (
                f"{i}. {link.name}",
                f"{float(link.input):.6g}",
                f"{float(link.output):.6g}",
                f"{float(link.derivative):.6g}",
                f"{float(link.numeric):.6g}",
            )
        )
    widths = [max(len(r[c]) for r in rows) for c in range(5)]
    lines += [
        "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows
    ]
    factors = " · ".join(f"{float(link.derivative):.6g}" for link in result.links)
    summary = [
        ("value", f"{float(result.value):.10g}"),
        ("chain rule (product)", f"{factors} = {float(result.derivative):.10g}"),
        (f"numeric, whole chain (h = {result.step:g})", f"{float(result.numeric):.10g}"),
        ("difference", f"{abs(float(result.derivative - result.numeric)):.1e}"),
    ]
    width = max(len(k) for k, _ in summary) + 1
    lines += ["", *(f"{(k + ':').ljust(width)} {v}" for k, v in summary)]
    if result.kinks:
        lines.append(
            f"note: the input of {', '.join(result.kinks)} is within h of its kink: the central "
            "difference there averages the slopes on either side, while the rule takes the left "
            "one (relu'(0) = 0); the two need not match"
        )
    if result.inconclusive:
        lines.append(
            f"note: the numeric derivative is lost in rounding (about ±{result.rounding:.1e} for "
            f"h = {result.step:g}): choose a larger --step"
        )
    return "\n".join(lines)


def format_matrix_function(
    mf: MatrixFunction, seed: int | None, slope: float, digits: int = 4
) -> str:
    """The chapter's example: X, W, L, dL/dX and dL/dW by the formulas and by Jacobians."""

    def show(name: str, value: Matrix) -> list[str]:
        text = np.array2string(np.round(value, digits), precision=digits, suppress_small=True)
        return [f"{name}:", *text.splitlines()]

    head = f"L = Λ({mf.activation}(X W)), X {shape_str(mf.X.shape)}, W {shape_str(mf.W.shape)}"
    lines = [head + (f", seed {seed}" if seed is not None else ""), ""]
    lines += show("X", mf.X) + show("W", mf.W) + [f"L: {round(mf.L, digits)}", ""]
    lines += ["by the formulas dL/dX = (dL/dS ⊙ σ'(N)) Wᵀ, dL/dW = Xᵀ (dL/dS ⊙ σ'(N)):"]
    lines += show("dLdX", mf.dLdX) + show("dLdW", mf.dLdW) + [""]
    lines += ["by explicit Jacobians (row-major vec):"]
    for name, J in mf.jacobians.items():
        lines.append(f"  {name:<6} {shape_str(J.shape):>6}   {_ROW_STRUCTURE[name]}")
    lines += show("dLdX", mf.dLdX_jacobian) + show("dLdW", mf.dLdW_jacobian)
    gap = max(
        float(np.abs(mf.dLdX - mf.dLdX_jacobian).max()),
        float(np.abs(mf.dLdW - mf.dLdW_jacobian).max()),
    )
    lines += [
        "",
        f"largest difference between the two routes: {gap:.1e}",
        f"check: (L(X + 0.001 at x11) − L(X)) / 0.001 = {slope:.{digits}f} "
        f"(dL/dx11 = {float(mf.dLdX[0, 0]):.{digits}f})",
    ]
    return "\n".join(lines)


_ROW_STRUCTURE = {
    "J_L_S": "∂L/∂vec(S) = 1ᵀ",
    "J_S_N": "∂vec(S)/∂vec(N) = diag(σ'(vec N))",
    "J_N_X": "∂vec(N)/∂vec(X) = I_B ⊗ Wᵀ",
    "J_N_W": "∂vec(N)/∂vec(W) = X ⊗ I_p",
}


def _row_factor(name: str) -> str:
    """``J_Z2_W2`` as ``∂vec(Z[2])/∂vec(W[2])``; ``J_L_A3`` as ``∂J/∂vec(A[3])``."""
    _, out, arg = name.split("_")

    def term(part: str) -> str:
        return f"vec({part[0]}[{part[1:]}])" if part[0] in "ZAW" else f"{part[0]}[{part[1:]}]"

    top = "J" if out == "L" else term(out)
    return f"∂{top}/∂{term(arg)}"


def format_row_layout(check: RowLayoutCheck, digits: int = 6) -> str:
    """The row layout's batch chains (factor shapes), its gradients, and the agreement line."""
    route = check.route
    lines = [
        "",
        "row layout: observations as rows, N[l] = A[l-1] W[l] + 1 b[l]ᵀ with W[l] n_{l-1} × n_l; "
        "one chain through the batch Jacobians per parameter",
    ]
    for name, factors in route.chains.items():
        shapes = "·".join(f"({shape_str(s)})" for _, s in factors)
        lines.append(f"  {name:<5} {shapes} → {shape_str(route.gradients[name].shape)}")
    lines.append("  dW1's factors: " + " · ".join(_row_factor(n) for n, _ in route.chains["dW1"]))
    lines.append(
        "  ∂vec(Z[l])/∂vec(W[l]) = A[l-1] ⊗ I, ∂vec(Z[l])/∂vec(A[l-1]) = I_B ⊗ W[l]ᵀ, "
        "∂vec(Z[l])/∂b[l] = 1_B ⊗ I"
        + ("; the output's two factors replaced by the fused (A − Y)/B" if route.fused else "")
    )
    for name, value in route.gradients.items():
        title, *text = _block(f"  {name} (row layout, {shape_str(value.shape)})", value, digits)
        lines.extend([title, *(f"    {t}" for t in text)])
    top = check.largest
    tolerance = f"[tolerance {EXACT_RTOL:g} relative + {EXACT_ATOL:g}]"
    if check.agree:
        lines.append(
            "the row layout agrees with the column layout's gradients transposed: largest "
            f"difference {_diff(top)} in {top.name} {tolerance}"
        )
    else:
        lines.append(
            "THE ROW LAYOUT DISAGREES with the column layout's gradients transposed: largest "
            f"difference {_diff(top)} in {top.name} {tolerance}"
        )
    return "\n".join(lines)


def row_layout_json(check: RowLayoutCheck) -> Json:
    """The ``row_layout`` field of ``compare --layout row --json``."""
    top = check.largest
    return {
        "gradients": {k: v.tolist() for k, v in check.route.gradients.items()},
        "chains": {k: [[n, list(s)] for n, s in f] for k, f in check.route.chains.items()},
        "fused": check.route.fused,
        "max_difference": {"absolute": top.absolute, "in": top.name},
        "agree": check.agree,
    }
