"""Derivations of a network of layers, step by step, as a textbook writes them.

For a parametric layer ``l`` (node ``j``) and ``param`` (``W``, ``b``, ``delta``, ``input``; for a
norm ``W`` and ``b`` are ``γ`` and ``β``) the steps are: the network's maps; layer ``l``'s map
entry by entry; how the Jacobians of a layer with an algebra of its own were derived (batch
norm's ``B × B`` block next to its index rule, layer norm's); any assumption a later layer rests
on (max pooling's argmax pattern, stated and checked); the chain rule with the shapes it
multiplies; every factor with its entries (``∂z[1]/∂vec(W[1])`` the staircase ``I ⊗ U``,
``∂z[1]/∂x`` the doubly-blocked Toeplitz matrix, a residual block's ``I + J_f``, …) and whether
each equals its index rule; ``δ[l]ᵀ`` (at the last parametric layer the product of the factors
before it, below that in the symbols ``δ`` of the next parametric layer on the way to the
loss); the last factor applied to ``δ[l]ᵀ``; the reshape into ``dW[l]`` (or ``db[l]``,
``dγ[l]``, ``∂L/∂a[l-1]``); the compact formula (``Δ U``, ``Δ 1``, the transposed correlation,
``δ aᵀ``, the three-term formula, …); and the verdict of
:func:`~derivations.layers.chains.prove_network`.

A network with a layer that couples the examples (batch norm) is derived for a batch
(``batch ≥ 2``): every tensor carries the batch on its last axis, the cost is
``J = (1/B) Σ_b L_b``, and every factor is the batch Jacobian (:mod:`.model`).

:func:`derive_network` refuses a network above :data:`MAX_PARAMETERS` parameters or whose
largest Jacobian has more than :data:`MAX_ENTRIES` entries: its derivation would take long and
print matrices no one reads.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from math import prod

import sympy as sp

from jacobians.errors import InvalidValueError, message, unknown_name
from jacobians.network import Network
from jacobians.paths import coupled, jacobian_shapes, skip_name

from ..derivation import Derivation, Equation, Step
from ..functions import sigmoid
from .base import (
    Route,
    Stepped,
    Tensor,
    as_rows,
    dims,
    name_of,
    route_keys,
    route_text,
    shape_text,
    slices,
    unvec,
    vec,
)
from .chains import (
    PARAMS,
    Check,
    Claim,
    chain_of,
    compact_input,
    jacobians,
    path_of,
    product,
    prove_network,
    roles_of,
    structure_checks,
)
from .model import SymbolicModel

MAX_PARAMETERS = 600
"""The most parameters a derivation takes (as ``jacobians derive`` for dense networks)."""
MAX_ENTRIES = 2_500
"""The most entries of the largest Jacobian, a 50 × 50 matrix: ``conv2d(2, 3), relu, …`` on a
1×8×8 image has ``∂a[1]/∂z[1]`` of 72 × 72 = 5,184 entries, which no one reads, and its
derivations take half a minute to print (most of it sympy's pretty printer). For a batch, the
batch Jacobians count (``B`` times as tall and, for an input, as wide)."""

_TENSOR = r"[azQKVSA]\d[\d_]*"
_NAME = r"(?:[azWbQKVSAE]|Wq|Wk|Wv|gamma|beta)\d[\d_]*"
_JAC = re.compile(rf"^J_(L|{_TENSOR})_({_NAME})$")


def _part(name: str, cost: str = "L") -> tuple[str, str]:
    """``'z2'`` → (``z[2]``, ``z^{[2]}``); ``'W2'`` → the ``vec(W[2])`` forms; ``'a0'`` → ``x``;
    ``'L'`` → the cost (``L``, or ``J`` for a batch)."""
    if name == "L":
        return cost, cost
    shown, latex = name_of(name)
    if name[0] in "WE":  # a matrix of weights (W, Wq, …) or an embedding table
        return f"vec({shown})", rf"\operatorname{{vec}}({latex})"
    return shown, latex


def jacobian_label(model: SymbolicModel, name: str) -> sp.Symbol:
    """``J_z1_W1`` → a label printing ``∂z[1]/∂vec(W[1])`` (unicode) or a ``\\frac`` (LaTeX),
    as :func:`derivations.derive.jacobian_label` does for dense networks."""
    m = _JAC.match(name)
    if m is None:
        raise ValueError(f"not a Jacobian name: {name!r}")
    (ou, ol), (iu, il) = _part(m.group(1), model.cost), _part(m.group(2))
    return model.names.label(f"∂{ou}/∂{iu}", rf"\frac{{\partial {ol}}}{{\partial {il}}}")


def _text_of(model: SymbolicModel, name: str) -> str:
    m = _JAC.match(name)
    assert m is not None
    return f"∂{_part(m.group(1), model.cost)[0]}/∂{_part(m.group(2))[0]}"


def largest_jacobian(net: Network, batch: int = 1) -> tuple[str, tuple[int, int]]:
    """The largest Jacobian a derivation builds: those of :func:`jacobians.paths.jacobian_shapes`
    (a batch's, with ``batch``) and the first node's input Jacobian ``J_z1_a0``, which the shapes
    leave out and the input gradient needs (for a convolution without padding it is the
    largest)."""
    shapes = dict(jacobian_shapes(net, batch=batch))
    first = net.nodes[0]
    size = (prod(first.out_shape) * batch, prod(first.in_shape) * batch)
    shapes[first.jacobian_name("input")] = size
    name = max(shapes, key=lambda n: shapes[n][0] * shapes[n][1])
    return name, shapes[name]


def check_size(net: Network, batch: int = 1) -> None:
    """Raise :class:`InvalidValueError` for a network too large to derive and print."""
    if net.parameter_count > MAX_PARAMETERS:
        raise InvalidValueError(
            message(
                "network",
                f"at most {MAX_PARAMETERS} parameters for a symbolic derivation",
                f"{net.parameter_count} for {net.spec}",
                "derive a smaller network (fewer channels, a smaller input or kernel: the "
                "algebra is the same for every size), or compare it numerically",
            )
        )
    name, (rows, cols) = largest_jacobian(net, batch)
    if rows * cols > MAX_ENTRIES:
        where = f" at a batch of {batch}" if batch > 1 else ""
        raise InvalidValueError(
            message(
                "network",
                f"Jacobians of at most {MAX_ENTRIES:,} entries for a symbolic derivation",
                f"{name} of {rows}×{cols} = {rows * cols:,} for {net.spec}{where}",
                "derive a network on a smaller input"
                + (" or a smaller batch" if batch > 1 else "")
                + " (the algebra is the same for every size), or compare it numerically",
            )
        )


def check_batch(net: Network, batch: int) -> None:
    """Raise :class:`InvalidValueError` unless ``batch`` suits ``net``: 1 without a layer that
    couples the examples, 2 or more with one."""
    joint = coupled(net)
    if isinstance(batch, bool) or not isinstance(batch, int):
        raise InvalidValueError(message("batch", "a whole number", repr(batch)))
    if joint is None and batch != 1:
        raise InvalidValueError(
            message(
                "batch",
                "1 for a network without a layer that couples the examples (batchnorm): its "
                "derivation is of one example, and a batch's gradient is the mean of theirs",
                str(batch),
            )
        )
    if joint is not None and batch < 2:
        raise InvalidValueError(
            message(
                "batch",
                f"2 or more examples for a network with {joint.kind.name} "
                f"(layers[{joint.entry}]): it couples the examples, and over one it outputs β "
                "whatever its input",
                str(batch),
                "e.g. batch=3",
            )
        )


# --- the steps -----------------------------------------------------------------------------------


def network_step(model: SymbolicModel) -> Step:
    """Every node's map, one line each (a block's own layers indented under it), with its
    shapes; the loss, or for a batch the mean cost."""
    lines = []
    for layer in model.layers:
        node = layer.node
        indent = "    " * node.label.count("_")
        shapes = f"({shape_text(node.in_shape)} → {shape_text(node.out_shape)})"
        lines.append(f"{indent}{layer.formula()}    {shapes}")
    last = name_of(model.net.nodes[-1].output)[0]
    loss = model.net.loss.name
    if model.batched:
        B = model.batch
        lines.append(
            f"J = (1/{B}) Σ_b {loss}({last}⁽ᵇ⁾, y⁽ᵇ⁾), the mean cost of a batch of {B} "
            f"examples. Every tensor but the parameters has the batch on its last axis (x⁽²⁾ is "
            f"example 2), and vec is row-major over that array: vec(x)[i·{B} + b] = x[i, b], so "
            "every factor below is a batch Jacobian."
        )
    else:
        lines.append(f"L = {loss}({last}, y).")
    lines[-1] += (
        " Brackets index from 0, as in NOTATION.md (W[o, c, u, v]); the subscripts of the symbols "
        "count from 1 (W[1]₁₁₂₂ is W[1][0, 0, 1, 1]). Every tensor is flattened row-major "
        "(vec), and a factor such as ∂a[2]/∂a[1] is ∂vec(a[2])/∂vec(a[1])."
    )
    return Step("The network", "\n".join(lines))


def layer_step(model: SymbolicModel, j: int) -> Step:
    """Layer ``l``'s map (and its activation's, when the next node is it), entry by entry."""
    node, layer = model.nodes[j], model.layers[j]
    names = model.names
    first = node.kind.roles[0]
    shape = model.net.parameter_shapes[node.parameters[first]]
    text = f"{layer.formula()}, with {layer.parameter_name(first)} of shape {shape_text(shape)}"
    shown_map = None if model.batched else layer.map_equations(names, model.input(j), model.of(j))
    if shown_map is not None:
        equations = shown_map
    else:
        out = model.written(j, vec(model.local(j)))
        if len(node.out_shape) == 2 and not model.batched:  # a sequence: one token per row
            out = as_rows(unvec(out, node.out_shape))
        shown, latex = name_of(node.output)
        equations = [Equation(names.label(shown, latex), out, dims(out))]
    nxt = j + 1
    if nxt < len(model.nodes) and model.nodes[nxt].label == node.label:
        after = model.layers[nxt]
        text += f"; and {after.formula()}"
        value = vec(model.local(nxt))
        shown, latex = name_of(model.nodes[nxt].output)
        equations.append(Equation(names.label(shown, latex), value, dims(value)))
    if node.input == "a0":
        text += " (a[0] is x)"
    return Step(f"Layer {node.label}", text + ":", tuple(equations))


def chain_step(model: SymbolicModel, jac: dict[str, sp.Matrix], names: list[str], lhs: str) -> Step:
    """``∂L/∂… = ∂L/∂a[L] · ⋯`` with the shapes it multiplies (a stepped layer's own Jacobian as
    the chain rule over its steps)."""
    parts = chain_text(model, names, lambda n: _text_of(model, n))
    shapes = chain_text(model, names, lambda n: "({}×{})".format(*dims(jac[n])), "·")
    rows, cols = dims(jac[names[0]])[0], dims(jac[names[-1]])[1]
    return Step("The chain rule", f"{lhs} = {parts}\nshapes: {shapes} → ({rows}×{cols})")


def steps_of(model: SymbolicModel, name: str) -> Route | None:
    """A stepped layer's own Jacobian (attention's ``J_a1_Wq1``) as the route over its steps'
    Jacobians by name (``J_a1_A1``, ``J_A1_S1``, …); ``None`` for any other factor."""
    j = _owner(model, name)
    if j is None or not isinstance(layer := model.layers[j], Stepped):
        return None
    node = model.nodes[j]
    own = {node.jacobian_name(r): r for r in model.roles(j) if r not in layer.keys}
    if name not in own:
        return None
    return tuple(tuple(node.jacobian_name(k) for k in path) for path in layer.route(own[name]))


def factors_of(model: SymbolicModel, names: list[str]) -> list[str]:
    """The factors a chain shows: each name, a stepped layer's own Jacobian as its steps."""
    out: list[str] = []
    for n in names:
        route = steps_of(model, n)
        out += [n] if route is None else route_keys(route)
    return list(dict.fromkeys(out))


def chain_text(
    model: SymbolicModel,
    names: Sequence[str],
    each: Callable[[str], str],
    sep: str = " · ",
    among: bool = False,
) -> str:
    """The chain in words (``each`` writes a factor): a stepped layer's own Jacobian as the
    route over its steps, in parentheses when it is a sum among other factors (``among``: the
    chain itself is multiplied by more)."""
    parts = []
    for n in names:
        route = steps_of(model, n)
        if route is None:
            parts.append(each(n))
            continue
        text = route_text(route, each)
        if sep != " · ":
            text = text.replace(" · ", sep)
        parts.append(f"({text})" if len(route) > 1 and (len(names) > 1 or among) else text)
    return sep.join(parts)


def _owner(model: SymbolicModel, name: str) -> int | None:
    """The node a Jacobian belongs to (a block for its ``∂y/∂f``)."""
    for j, node in enumerate(model.nodes):
        roles = {node.jacobian_name(r) for r in model.roles(j)}
        if name in roles or (node.inner and name == skip_name(node)):
            return j
    return None


def factors_step(
    model: SymbolicModel, jac: dict[str, sp.Matrix], names: list[str], checks: dict[str, Check]
) -> Step:
    """Every factor with its entries; notes of the layers they belong to; structure verdicts."""
    notes: list[str] = []
    lines: list[str] = []
    own = [n for n in names if steps_of(model, n) is not None]
    names = factors_of(model, names)
    for n in [*names, *own]:
        j = _owner(model, n)
        note = "" if j is None else model.layers[j].notes()
        if note and note not in notes:
            notes.append(note)
        if n in checks:
            c = checks[n]
            lines.append(
                f"{_text_of(model, n)} = {c.text}: derived = index rule, {_verdict(c.holds)}."
            )
    text = " ".join(notes)
    if lines:
        text += ("\n" if text else "") + "Each derived factor against its index rule "
        text += "(the difference expanded to 0):\n" + "\n".join(lines)
    equations = tuple(Equation(jacobian_label(model, n), jac[n], dims(jac[n])) for n in names)
    return Step("The factors", text, equations)


def detail_steps(model: SymbolicModel, checks: dict[str, Check], j: int) -> list[Step]:
    """Node ``j``'s steps on how its Jacobians were derived, for a layer with an algebra of its
    own (a norm: each group's derived block next to its index rule). Shown in the layer's own
    derivations only: elsewhere its Jacobian is a factor with its verdict."""
    node = model.nodes[j]
    holds = {
        role: checks[node.jacobian_name(role)].holds
        for role in model.roles(j)
        if node.jacobian_name(role) in checks
    }
    return model.detail_steps(j, holds)


def block_steps(
    model: SymbolicModel, jac: dict[str, sp.Matrix], checks: dict[str, Check], names: list[str]
) -> list[Step]:
    """For every residual block with a factor in the chain: ``∂y/∂f``, and its input Jacobian
    as derived from ``x + f(x)`` next to its rule ``I + J_f``."""
    steps = []
    for k in sorted(_owners(model, names)):
        node = model.nodes[k]
        if not node.inner:
            continue
        name, skip = node.jacobian_name("input"), skip_name(node)
        layer = model.layers[k]
        inner = [name_of(m.output)[0] for m in node.inner]
        text = (
            f"{layer.formula()}. Its local map y = {layer.in_name} + {inner[-1]} gives "
            f"{_text_of(model, skip)} = I. Its input Jacobian is derived by Matrix.jacobian of "
            f"y = {layer.in_name} + f({layer.in_name}), the block's own layers substituted into "
            f"each other ({', '.join(inner)} written in {layer.in_name}); its rule is "
            f"{checks[name].text}. With the block's own values written in {layer.in_name}, the "
            f"two are the same matrix: {_verdict(checks[name].holds)}."
        )
        shown, latex = _text_of(model, name), jacobian_label(model, name)
        equations: tuple[Equation, ...] = (
            Equation(jacobian_label(model, skip), jac[skip], dims(jac[skip])),
        )
        stepped = [
            m for m in node.inside if isinstance(model.layers[model.index[m.output]], Stepped)
        ]
        if stepped:  # its J_f is a sum of products of steps: shown as those, not multiplied out
            inner_text = chain_text(
                model,
                [m.jacobian_name("input") for m in reversed(node.inner)],
                lambda n: _text_of(model, n),
            )
            text += (
                f" (Both are rational functions of {layer.in_name}, the weights and the "
                "exponentials of the scores, too long to print: J_f = "
                f"{inner_text}, whose factors are shown with the layer's derivations.)"
            )
        else:
            equations += (
                Equation(
                    model.names.label(
                        f"{shown}, derived", rf"{model.names.latex[latex]}\ \text{{derived}}"
                    ),
                    model.derived[name],
                    dims(model.derived[name]),
                ),
                Equation(latex, jac[name], dims(jac[name])),
            )
        steps.append(
            Step(f"The residual block {name_of(node.output)[0]}: I + J_f", text, equations)
        )
    return steps


def _next_parametric(model: SymbolicModel, j: int) -> int | None:
    """The nearest parametric node on the way from node ``j`` to the loss: the one whose path
    from the loss is the longest proper prefix of ``j``'s."""
    path = path_of(model, j)
    best: tuple[int, int] | None = None
    for k, node in enumerate(model.nodes):
        other = path_of(model, k)
        if k == j or not node.kind.roles or len(other) >= len(path):
            continue
        if path[: len(other)] == other and (best is None or len(other) > best[1]):
            best = (k, len(other))
    return None if best is None else best[0]


def _between(model: SymbolicModel, j: int, m: int) -> list[str]:
    """The factors from node ``m``'s output down to node ``j``'s."""
    return path_of(model, j)[len(path_of(model, m)) :]


def delta_steps(model: SymbolicModel, jac: dict[str, sp.Matrix], j: int) -> list[Step]:
    """``δ[l]ᵀ = ∂L/∂out``: the product of the factors before it at the last parametric layer
    (and its simplified form for a fused pair), else in the symbols ``δ`` of the next one."""
    node, names = model.nodes[j], model.names
    l, out = node.label, name_of(node.output)[0]
    label = names.label(f"δ[{l}]ᵀ", rf"{{\delta^{{[{l}]}}}}^\top")
    title = f"δ[{l}]ᵀ = ∂{model.cost}/∂{out}"
    m = _next_parametric(model, j)
    if m is None:
        factors = chain_of(model, j, "delta")
        row = product([jac[n] for n in factors])
        text = (
            f"The factors from the loss down to {out}, multiplied: "
            f"{chain_text(model, factors, lambda n: _text_of(model, n))}:"
        )
        steps = [Step(title, text, (Equation(label, row, dims(row)),))]
        simplified = simplify_output(model, jac, j)
        if simplified is not None:
            form, text, shown = simplified
            steps.append(
                Step(f"Simplified: δ[{l}] = {shown}", text, (Equation(label, form, dims(form)),))
            )
        return steps
    between = _between(model, j, m)
    row = product([vec(model.delta[m]).T, *(jac[n] for n in between)])
    lm = model.nodes[m].label
    text = (
        f"Writing δ[{lm}] for the product of the factors left of {_text_of(model, between[0])} "
        f"(derived at layer {lm}):  δ[{l}]ᵀ = δ[{lm}]ᵀ · "
        f"{chain_text(model, between, lambda n: _text_of(model, n), among=True)}"
    )
    return [Step(title, text, (Equation(label, row, dims(row)),))]


def simplify_output(
    model: SymbolicModel, jac: dict[str, sp.Matrix], j: int
) -> tuple[sp.Matrix, str, str] | None:
    """For sigmoid + bce and softmax + ce, when node ``j``'s output is the last node's input:
    ``(a[L] − y)ᵀ`` (over ``B`` for a batch's mean cost), the sentence saying that (and
    whether) the product cancels to it, and the form in words."""
    net = model.net
    if net.fused is None or net.nodes[-1].input != model.nodes[j].output:
        return None
    L = net.depth
    row = jac[chain_of(model, j, "delta")[0]] * jac[net.nodes[-1].jacobian_name("input")]
    a, y = vec(model.last), vec(model.y)
    target = (a - y).T / model.batch
    shown = f"a[{L}] − y" if not model.batched else f"(a[{L}] − y)/{model.batch}"
    if net.fused.activation == "sigmoid":
        z = vec(model.input(model.index[net.nodes[-1].output]))
        in_a = (row - target).xreplace({sigmoid(zi): ai for zi, ai in zip(z, a, strict=True)})
        holds, assumption, tool = (
            all(sp.cancel(e) == 0 for e in in_a),
            f"a[{L}] = σ(z[{L}])",
            "cancel",
        )
    else:
        ys = [y[k :: model.batch] for k in range(model.batch)] if model.batched else [y]
        one_hot = {col[-1]: 1 - sp.Add(*col[:-1]) for col in ys}
        holds = all(sp.expand(e.xreplace(one_hot)) == 0 for e in row - target)
        assumption, tool = "Σᵢ yᵢ = 1 (true of a one-hot y)", "expand"
    text = (
        f"With {assumption}, the product cancels to ({shown})ᵀ ({_verdict(holds)}; decided by "
        f"sympy.{tool}, not by numbers)."
    )
    return target, text, shown


def _row_label(model: SymbolicModel, j: int, param: str) -> tuple[str, str]:
    """``∂L/∂vec(W[1])``, ``∂L/∂b[1]``, ``∂J/∂γ[1]``, ``∂L/∂x`` (unicode, LaTeX)."""
    node, cost = model.nodes[j], model.cost
    if param == "input":
        shown, latex = name_of(node.input)
    else:
        shown, latex = _part(node.parameters[param])
    return f"∂{cost}/∂{shown}", rf"\frac{{\partial {cost}}}{{\partial {latex}}}"


def last_factor_steps(
    model: SymbolicModel, jac: dict[str, sp.Matrix], checks: dict[str, Check], j: int, param: str
) -> list[Step]:
    """``δ[l]ᵀ`` times the last factor, and that row reshaped into the gradient's shape."""
    node, names = model.nodes[j], model.names
    l, name = node.label, node.jacobian_name(param)
    row = vec(model.delta[j]).T * jac[name]
    structure = checks[name].text if name in checks else ""
    steps = [
        Step(
            f"The last factor: {_text_of(model, name)}",
            f"δ[{l}]ᵀ times {structure}:" if structure else f"δ[{l}]ᵀ times it:",
            (Equation(names.label(*_row_label(model, j, param)), row, dims(row)),),
        )
    ]
    target, target_tex = _target(model, j, param)
    if param == "input":
        shape = model.input(j).shape
    else:
        shape = model.net.parameter_shapes[node.parameters[param]]
    tensor = unvec(row, shape)
    text = f"Row-major: the row reshapes to {shape_text(shape)}"
    if param == "input" and model.batched:
        text += " (the batch last: one column per example)"
    if len(shape) > 2:
        what = "(o, c)" if len(shape) == 4 else "c"
        text += f", shown as its {shape[-2]} × {shape[-1]} slices, one per {what} (from 0)"
        equations = tuple(
            Equation(
                names.label(
                    f"{target}[{', '.join(map(str, idx))}]",
                    rf"\left({target_tex}\right)_{{{','.join(map(str, idx))}}}",
                ),
                M,
                dims(M),
            )
            for idx, M in slices(tensor)
        )
    else:
        M = as_rows(tensor)
        equations = (Equation(names.label(target, target_tex), M, dims(M)),)
    steps.append(Step(f"Reshape into {target}", text + ":", equations))
    return steps


def _target(model: SymbolicModel, j: int, param: str) -> tuple[str, str]:
    """What the derivation arrives at: ``dW[l]``, ``db[l]``, ``dγ[l]``, ``δ[l]``, ``∂L/∂x``."""
    node = model.nodes[j]
    l = node.label
    if param == "input":
        shown, latex = name_of(node.input)
        return f"∂{model.cost}/∂{shown}", rf"\frac{{\partial {model.cost}}}{{\partial {latex}}}"
    if param == "delta":
        return f"δ[{l}]", rf"\delta^{{[{l}]}}"
    shown, latex = name_of(node.parameters[param])
    return f"d{shown}", f"d{latex}"


def delta_compact_step(model: SymbolicModel, j: int) -> Step:
    """``δ[l]`` from the next parametric layer's ``δ`` by the compact backward formulas of the
    layers in between (or, at the last one, from ``∂L/∂a[L]``)."""
    node, names = model.nodes[j], model.names
    l = node.label
    m = _next_parametric(model, j)
    if m is None:
        return Step("The compact formula", f"δ[{l}] is the output gradient: no recursion.")
    g: Tensor = model.delta[m]
    kinds = []
    for name in _between(model, j, m):
        k = _owner(model, name)
        assert k is not None
        owner = model.nodes[k]
        if owner.inner and name == skip_name(owner):
            kinds.append(f"{owner.kind.spec()}'s ∂y/∂f = I")
            continue  # into the block: its own layers start from ∂L/∂y
        g = compact_input(model, k, g)
        kinds.append(owner.kind.spec())
    value = vec(g)
    lm = model.nodes[m].label
    return Step(
        "The compact formula",
        f"δ[{lm}] passed back through the compact formulas of {', '.join(kinds)} (last first):",
        (Equation(names.label(f"δ[{l}]", rf"\delta^{{[{l}]}}"), value, dims(value)),),
    )


def _verdict(holds: bool) -> str:
    return "holds ✓" if holds else "FAILS ✗"


def proof_step(
    claim: Claim, others: list[Claim], normalized: bool = False, chain: str | None = None
) -> Step:
    """The verdict, how it was decided, and the verdicts of the layer's other statements (and
    of the blocks on the chain); ``normalized`` when a norm's ``x̂`` and ``σ`` are in it;
    ``chain`` the chain in names, when not ``claim.chain`` joined."""
    shown = chain or " · ".join(claim.chain)
    if claim.layerwise:
        text = (
            f"{claim.statement}: {_verdict(claim.holds)}. Decided layer by layer, from the loss "
            "down: for every layer on the chain, sᵀ · (its Jacobian at its input) minus its "
            "compact backward formula of s, with s a tensor of symbols for the gradient at its "
            "output, expands (sympy.expand) to the zero matrix — both sides are linear in s, so "
            "the chain's ∂L/∂(output) is the compact route's gradient at every layer on the way "
            f"down; here δ[{claim.label}]ᵀ times the last factor minus the compact formula of "
            f"δ[{claim.label}] expands to 0 as well. So the chain {shown}, multiplied out, "
            "equals the compact formula computed from ∂L/∂ŷ by every layer's own backward "
            "formulas, never from a Jacobian — decided symbolically, never by evaluating numbers."
        )
    else:
        text = (
            f"{claim.statement}: {_verdict(claim.holds)}. Every factor of the chain {shown} is "
            "multiplied out (no δ symbols); the compact formula is computed from ∂L/∂ŷ by "
            "every layer's own backward formulas, never from a Jacobian; their difference "
            "expands (sympy.expand) to the zero matrix entry by entry — decided symbolically, "
            "never by evaluating numbers."
        )
    if normalized:
        text += (
            " What does not expand to 0 with x̂ and σ as symbols is expanded again with "
            "x̂ = (x − μ)/σ, and then with σ = √(var + ε) in x and ε (over one denominator), "
            "before it counts as refuted."
        )
    if others:
        text += "\nThe layer's other statements, proved the same way: " + "; ".join(
            f"{c.statement}: {_verdict(c.holds)}" for c in others
        )
        text += "."
    return Step("Proof", text)


def derive_node(
    model: SymbolicModel,
    jac: dict[str, sp.Matrix],
    checks: dict[str, Check],
    claims: list[Claim],
    j: int,
    param: str,
) -> Derivation:
    """The derivation of ``dW[l]``, ``db[l]``, ``δ[l]`` or ``∂L/∂a[l-1]`` of node ``j`` (``param``
    a role of the node, ``delta`` or ``input``)."""
    net, layer = model.net, model.layers[j]
    target = _target(model, j, param)[0]
    what = f"a batch of {model.batch}, " if model.batched else ""
    d = Derivation(f"{target} of the {net.spec} network ({what}loss {net.loss.name})", model.names)
    names = chain_of(model, j, param)
    d.add(network_step(model))
    d.add(layer_step(model, j))
    for step in detail_steps(model, checks, j):
        d.add(step)
    for step in block_steps(model, jac, checks, names):
        d.add(step)
    for k in sorted(_owners(model, names) - {j}):
        for step in model.layers[k].assumption_steps(model.names, model.input(k)):
            d.add(step)
    cost = model.cost
    lhs = {
        "delta": f"∂{cost}/∂{layer.out_name}",
        "input": f"∂{cost}/∂{layer.in_name}",
    }.get(param) or _row_label(model, j, param)[0]
    d.add(chain_step(model, jac, names, lhs))
    d.add(factors_step(model, jac, names, checks))
    for step in delta_steps(model, jac, j):
        d.add(step)
    if param == "delta":
        d.add(delta_compact_step(model, j))
    else:
        for step in last_factor_steps(model, jac, checks, j, param):
            d.add(step)
        for step in model.compact_steps(j, param, model.delta[j]):
            d.add(step)
    claim = next(c for c in claims if c.node == j and c.param == param)
    others = [c for c in claims if c.node == j and c.param != param]
    others += [c for c in claims if c.node != j and model.nodes[c.node].inner and _on(c, names)]
    shown = chain_text(model, claim.chain, str)
    d.add(proof_step(claim, others, bool(model.definitions), shown))
    d.holds = (
        claim.holds
        and all(checks[n].holds for n in [*names, *factors_of(model, names)] if n in checks)
        and all("FAILS ✗" not in s.text for s in d.steps)
    )
    return d


def _owners(model: SymbolicModel, names: list[str]) -> set[int]:
    return {k for n in names if (k := _owner(model, n)) is not None}


def _on(claim: Claim, names: list[str]) -> bool:
    """Whether a block's claim is about a Jacobian of the chain ``names``."""
    return claim.chain[-1] in names


def derive_network(
    net: Network,
    params: tuple[str, ...] = ("W", "b"),
    example: Mapping[str, object] | None = None,
    layer: int | None = None,
    batch: int = 1,
) -> list[Derivation]:
    """The derivations of every parametric layer (last first, a block's own inside it) and every
    ``param`` of ``params`` (``W``, ``b``, ``delta``, ``input``; for a norm ``W`` and ``b`` are its
    ``γ`` and ``β``) of a network of conv2d, maxpool, avgpool, flatten, dense, activation,
    batchnorm, layernorm, dropout and residual layers.

    ``example`` says where max pooling's argmax assumption and dropout's masks come from
    (:data:`~derivations.layers.base.EXAMPLE_KEYS`): by default the maximum of every window is
    its top-left entry and the masks are seed 0's; ``{"argmax": (u, v)}`` chooses another
    entry; ``{"seed": s}`` or ``{"params": p}`` take that example's numbers
    (:mod:`derivations.layers.pool`, :mod:`derivations.layers.dropout`). ``layer`` keeps only
    that layer's derivations (every statement is still proved). ``batch``: the examples of a
    network with a layer that couples them (batch norm), 2 or more; 1 for any other network.

    Raises :class:`~jacobians.errors.UnknownNameError` for an unknown ``param`` or a layer kind
    without a symbolic module, :class:`~jacobians.errors.InvalidValueError` for a ``batch`` that
    does not suit the network, or a network above :data:`MAX_PARAMETERS` parameters or
    :data:`MAX_ENTRIES` Jacobian entries.

    >>> net = Network.from_layers("conv2d(1, 2), relu, flatten, dense(1), sigmoid", "1x3x3")
    >>> [(d.title.split()[0], d.holds) for d in derive_network(net, ("W",))]
    [('dW[3]', True), ('dW[1]', True)]
    >>> bn = Network.from_layers("batchnorm, sigmoid", "1")
    >>> [(d.title.split()[0], d.holds) for d in derive_network(bn, ("W", "b"), batch=2)]
    [('dγ[1]', True), ('dβ[1]', True)]
    """
    for p in params:
        if p not in PARAMS:
            raise unknown_name("params", p, PARAMS)
    check_batch(net, batch)
    check_size(net, batch)
    model = SymbolicModel(net, example, batch=batch)
    jac = jacobians(model)
    checks = structure_checks(model, jac)
    claims = prove_network(model, jac)  # every statement, whichever derivations are printed
    order = [
        j
        for j in range(len(model.nodes) - 1, -1, -1)
        if model.nodes[j].kind.roles and layer in (None, model.nodes[j].layer)
    ]
    if not order:
        numbers = ", ".join(dict.fromkeys(str(n.layer) for n in net.parametric))
        raise InvalidValueError(
            message("layer", f"a layer with parameters ({numbers})", str(layer))
        )
    chosen = list(  # W and gamma name the same role of a norm: derived once
        dict.fromkeys(
            (j, role) for j in order for p in params for role in roles_of(model.nodes[j], p)
        )
    )
    if not chosen:
        roles = ", ".join(dict.fromkeys(r for j in order for r in model.nodes[j].kind.roles))
        where = "the network's layers" if layer is None else f"layer {layer}"
        inputs = any(model.nodes[j].kind.differentiable_input for j in order)
        raise InvalidValueError(
            message(
                "param",
                f"a role of {where} ({roles}), delta" + (" or input" if inputs else ""),
                ", ".join(params),
                "" if inputs else "an embedding's input is token ids: it has no gradient",
            )
        )
    return [derive_node(model, jac, checks, claims, j, role) for j, role in chosen]


__all__ = [
    "MAX_ENTRIES",
    "MAX_PARAMETERS",
    "PARAMS",
    "check_batch",
    "check_size",
    "derive_network",
    "jacobian_label",
]
