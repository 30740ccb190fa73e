"""Derivations of a network of layers, step by step, as a textbook writes them.

For a parametric layer ``l`` (node ``j``) and ``param`` (``W``, ``b``, ``delta``, ``input``) the
steps are: the network's maps; layer ``l``'s map entry by entry; any assumption a later layer
rests on (max pooling's argmax pattern, stated and checked); the chain rule with the shapes it
multiplies; every factor with its entries (``∂z[1]/∂vec(W[1])`` the staircase ``I ⊗ U``,
``∂z[1]/∂x`` the doubly-blocked Toeplitz matrix, …) and whether each equals its index rule;
``δ[l]ᵀ`` (at the last parametric layer the product of the factors before it, below that in the
symbols ``δ`` of the next parametric layer); the last factor applied to ``δ[l]ᵀ``; the reshape
into ``dW[l]`` (or ``db[l]``, ``∂L/∂a[l-1]``); the compact formula (``Δ U``, ``Δ 1``, the
transposed correlation, ``δ aᵀ``, …); and the verdict of
:func:`~derivations.layers.chains.prove_network`.

:func:`derive_network` refuses a network above :data:`MAX_PARAMETERS` parameters or whose
largest Jacobian has more than :data:`MAX_ENTRIES` entries: its derivation would take long and
print matrices no one reads.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from math import prod
from typing import ClassVar

import sympy as sp

from jacobians.errors import InvalidValueError, message, unknown_name
from jacobians.network import Network
from jacobians.paths import jacobian_shapes

from ..derivation import Derivation, Equation, Step
from ..functions import sigmoid
from .base import Tensor, as_rows, dims, name_of, shape_text, slices, unvec, vec
from .chains import (
    PARAMS,
    Check,
    Claim,
    chain_of,
    jacobians,
    product,
    prove_network,
    structure_checks,
)
from .model import SymbolicModel

MAX_PARAMETERS = 600
"""The most parameters a derivation takes (as ``jacobians derive`` for dense networks)."""
MAX_ENTRIES = 2_500
"""The most entries of the largest Jacobian, a 50 × 50 matrix: ``conv2d(2, 3), relu, …`` on a
1×8×8 image has ``∂a[1]/∂z[1]`` of 72 × 72 = 5,184 entries, which no one reads, and its
derivations take half a minute to print (most of it sympy's pretty printer)."""

_JAC = re.compile(r"^J_(L|[az]\d+)_([azWb]\d+)$")


class LayerDerivation(Derivation):
    """A :class:`~derivations.derivation.Derivation` whose LaTeX also spells ``Δ`` and ``°``."""

    EXTRA: ClassVar[dict[str, str]] = {"Δ": r"$\Delta$", "°": r"$^\circ$"}

    def latex(self) -> str:
        """As :meth:`Derivation.latex`, with the prose's extra characters as LaTeX commands."""
        text = super().latex()
        for char, command in self.EXTRA.items():
            text = text.replace(char, command)
        return text


def _part(name: str) -> tuple[str, str]:
    """``'z2'`` → (``z[2]``, ``z^{[2]}``); ``'W2'`` → the ``vec(W[2])`` forms; ``'a0'`` → ``x``."""
    if name == "L":
        return "L", "L"
    shown, latex = name_of(name)
    if name[0] == "W":
        return f"vec({shown})", rf"\operatorname{{vec}}({latex})"
    return shown, latex


def jacobian_label(model: SymbolicModel, name: str) -> sp.Symbol:
    """``J_z1_W1`` → a label printing ``∂z[1]/∂vec(W[1])`` (unicode) or a ``\\frac`` (LaTeX),
    as :func:`derivations.derive.jacobian_label` does for dense networks."""
    m = _JAC.match(name)
    if m is None:
        raise ValueError(f"not a Jacobian name: {name!r}")
    (ou, ol), (iu, il) = _part(m.group(1)), _part(m.group(2))
    return model.names.label(f"∂{ou}/∂{iu}", rf"\frac{{\partial {ol}}}{{\partial {il}}}")


def _text_of(name: str) -> str:
    m = _JAC.match(name)
    assert m is not None
    return f"∂{_part(m.group(1))[0]}/∂{_part(m.group(2))[0]}"


def largest_jacobian(net: Network) -> tuple[str, tuple[int, int]]:
    """The largest Jacobian a derivation builds: those of :func:`jacobians.paths.jacobian_shapes`
    and the first node's input Jacobian ``J_z1_a0``, which the shapes leave out and the input
    gradient needs (for a convolution without padding it is the largest)."""
    shapes = dict(jacobian_shapes(net))
    first = net.nodes[0]
    shapes[first.jacobian_name("input")] = (prod(first.out_shape), prod(first.in_shape))
    name = max(shapes, key=lambda n: shapes[n][0] * shapes[n][1])
    return name, shapes[name]


def check_size(net: Network) -> None:
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
    name, (rows, cols) = largest_jacobian(net)
    if rows * cols > MAX_ENTRIES:
        raise InvalidValueError(
            message(
                "network",
                f"Jacobians of at most {MAX_ENTRIES:,} entries for a symbolic derivation",
                f"{name} of {rows}×{cols} = {rows * cols:,} for {net.spec}",
                "derive a network on a smaller input (the algebra is the same for every size), "
                "or compare it numerically",
            )
        )


# --- the steps -----------------------------------------------------------------------------------


def network_step(model: SymbolicModel) -> Step:
    """Every node's map, one line each, with its shapes."""
    lines = []
    for layer in model.layers:
        node = layer.node
        lines.append(
            f"{layer.formula()}    ({shape_text(node.in_shape)} → {shape_text(node.out_shape)})"
        )
    lines.append(
        f"L = {model.net.loss.name}({name_of(model.net.nodes[-1].output)[0]}, y). Brackets index "
        "from 0, as in NOTATION.md (W[o, c, u, v]); the subscripts of the symbols count from 1 "
        "(W[1]₁₁₂₂ is W[1][0, 0, 1, 1]). Every tensor is flattened row-major (vec), and a factor "
        "such as ∂a[2]/∂a[1] is ∂vec(a[2])/∂vec(a[1])."
    )
    return Step("The network", "\n".join(lines))


def layer_step(model: SymbolicModel, j: int) -> Step:
    """Layer ``l``'s map (and its activation's, when the next node is it), entry by entry."""
    node, layer = model.net.nodes[j], model.layers[j]
    names = model.names
    W = layer.parameter_name("W")
    shape = model.net.parameter_shapes[node.parameters["W"]]
    text = f"{layer.formula()}, with {W} of shape {shape_text(shape)}"
    out = vec(model.local(j))
    shown, latex = name_of(node.output)
    equations = [Equation(names.label(shown, latex), out, dims(out))]
    nxt = j + 1
    if nxt < len(model.net.nodes) and model.net.nodes[nxt].layer == node.layer:
        after = model.layers[nxt]
        text += f"; and {after.formula()}"
        value = vec(model.local(nxt))
        shown, latex = name_of(model.net.nodes[nxt].output)
        equations.append(Equation(names.label(shown, latex), value, dims(value)))
    if j == 0:
        text += " (a[0] is x)"
    return Step(f"Layer {node.layer}", text + ":", tuple(equations))


def chain_step(model: SymbolicModel, jac: dict[str, sp.Matrix], names: list[str], lhs: str) -> Step:
    """``∂L/∂… = ∂L/∂a[L] · ⋯`` with the shapes it multiplies."""
    parts = " · ".join(_text_of(n) for n in names)
    shapes = "·".join(f"({r}×{c})" for r, c in (dims(jac[n]) for n in names))
    rows, cols = dims(jac[names[0]])[0], dims(jac[names[-1]])[1]
    return Step("The chain rule", f"{lhs} = {parts}\nshapes: {shapes} → ({rows}×{cols})")


def factors_step(
    model: SymbolicModel, jac: dict[str, sp.Matrix], names: list[str], checks: dict[str, Check]
) -> Step:
    """Every factor with its entries; notes of the layers they belong to; structure verdicts."""
    notes: list[str] = []
    lines: list[str] = []
    for n in names:
        for j, node in enumerate(model.net.nodes):
            if n in {node.jacobian_name(r) for r in ("input", *node.kind.roles)}:
                note = model.layers[j].notes()
                if note and note not in notes:
                    notes.append(note)
        if n in checks:
            c = checks[n]
            lines.append(f"{_text_of(n)} = {c.text}: derived = index rule, {_verdict(c.holds)}.")
    text = " ".join(notes)
    if lines:
        text += ("\n" if text else "") + "Each derived factor against its index rule "
        text += "(the difference expanded to 0):\n" + "\n".join(lines)
    equations = tuple(Equation(jacobian_label(model, n), jac[n], dims(jac[n])) for n in names)
    return Step("The factors", text, equations)


def _next_parametric(model: SymbolicModel, j: int) -> int | None:
    for k in range(j + 1, len(model.net.nodes)):
        if model.net.nodes[k].kind.roles:
            return k
    return None


def delta_steps(model: SymbolicModel, jac: dict[str, sp.Matrix], j: int) -> list[Step]:
    """``δ[l]ᵀ = ∂L/∂out``: the product of the factors before it at the last parametric layer
    (and its simplified form for a fused pair), else in the symbols ``δ`` of the next one."""
    node, names = model.net.nodes[j], model.names
    l, out = node.layer, name_of(node.output)[0]
    label = names.label(f"δ[{l}]ᵀ", rf"{{\delta^{{[{l}]}}}}^\top")
    title = f"δ[{l}]ᵀ = ∂L/∂{out}"
    m = _next_parametric(model, j)
    if m is None:
        factors = chain_of(model, j, "delta")
        row = product([jac[n] for n in factors])
        steps = [
            Step(
                title,
                f"The factors from the loss down to {out}, multiplied: "
                f"{' · '.join(map(_text_of, factors))}:",
                (Equation(label, row, dims(row)),),
            )
        ]
        simplified = simplify_output(model, jac, j)
        if simplified is not None:
            form, text = simplified
            steps.append(
                Step(
                    f"Simplified: δ[{l}] = a[{model.net.depth}] − y",
                    text,
                    (Equation(label, form, dims(form)),),
                )
            )
        return steps
    between = [model.net.nodes[k].jacobian_name("input") for k in range(m, j, -1)]
    row = product([vec(model.delta[m]).T, *(jac[n] for n in between)])
    lm = model.net.nodes[m].layer
    text = (
        f"Writing δ[{lm}] for the product of the factors left of {_text_of(between[0])} "
        f"(derived at layer {lm}):  δ[{l}]ᵀ = δ[{lm}]ᵀ · {' · '.join(map(_text_of, between))}"
    )
    return [Step(title, text, (Equation(label, row, dims(row)),))]


def simplify_output(
    model: SymbolicModel, jac: dict[str, sp.Matrix], j: int
) -> tuple[sp.Matrix, str] | None:
    """For sigmoid + bce and softmax + ce, when node ``j``'s output is the last node's input:
    ``(a[L] − y)ᵀ`` and the sentence saying that (and whether) the product cancels to it."""
    net = model.net
    if net.fused is None or net.nodes[-1].input != net.nodes[j].output:
        return None
    L = net.depth
    row = jac[chain_of(model, j, "delta")[0]] * jac[net.nodes[-1].jacobian_name("input")]
    a, y = vec(model.last), vec(model.y)
    target = (a - y).T
    if net.fused.activation == "sigmoid":
        z = vec(model.input(len(net.nodes) - 1))
        in_a = (row - target).xreplace({sigmoid(zi): ai for zi, ai in zip(z, a, strict=True)})
        holds, assumption, tool = (
            all(sp.cancel(e) == 0 for e in in_a),
            f"a[{L}] = σ(z[{L}])",
            "cancel",
        )
    else:
        one_hot = {y[-1]: 1 - sp.Add(*y[:-1])}
        holds = all(sp.expand(e.xreplace(one_hot)) == 0 for e in row - target)
        assumption, tool = "Σᵢ yᵢ = 1 (true of a one-hot y)", "expand"
    text = (
        f"With {assumption}, the product cancels to (a[{L}] − y)ᵀ ({_verdict(holds)}; decided by "
        f"sympy.{tool}, not by numbers)."
    )
    return target, text


def _row_label(model: SymbolicModel, j: int, param: str) -> tuple[str, str]:
    """``∂L/∂vec(W[1])``, ``∂L/∂b[1]``, ``∂L/∂x`` (unicode, LaTeX)."""
    node = model.net.nodes[j]
    if param == "input":
        shown, latex = name_of(node.input)
    else:
        shown, latex = name_of(node.parameters[param])
    if param == "W":
        shown, latex = f"vec({shown})", rf"\operatorname{{vec}}({latex})"
    return f"∂L/∂{shown}", rf"\frac{{\partial L}}{{\partial {latex}}}"


def last_factor_steps(
    model: SymbolicModel, jac: dict[str, sp.Matrix], checks: dict[str, Check], j: int, param: str
) -> list[Step]:
    """``δ[l]ᵀ`` times the last factor, and that row reshaped into the gradient's shape."""
    node, names = model.net.nodes[j], model.names
    l, name = node.layer, node.jacobian_name(param)
    row = vec(model.delta[j]).T * jac[name]
    structure = checks[name].text if name in checks else ""
    steps = [
        Step(
            f"The last factor: {_text_of(name)}",
            f"δ[{l}]ᵀ times {structure}:" if structure else f"δ[{l}]ᵀ times it:",
            (Equation(names.label(*_row_label(model, j, param)), row, dims(row)),),
        )
    ]
    target, target_tex = _target(model, j, param)
    if param == "input":
        shape = node.in_shape
    else:
        shape = model.net.parameter_shapes[node.parameters[param]]
    tensor = unvec(row, shape)
    text = f"Row-major: the row reshapes to {shape_text(shape)}"
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
    node = model.net.nodes[j]
    l = node.layer
    if param == "input":
        shown, latex = name_of(node.input)
        return f"∂L/∂{shown}", rf"\frac{{\partial L}}{{\partial {latex}}}"
    return {
        "W": (f"dW[{l}]", rf"dW^{{[{l}]}}"),
        "b": (f"db[{l}]", rf"db^{{[{l}]}}"),
        "delta": (f"δ[{l}]", rf"\delta^{{[{l}]}}"),
    }[param]


def delta_compact_step(model: SymbolicModel, j: int) -> Step:
    """``δ[l]`` from the next parametric layer's ``δ`` by the compact backward formulas of the
    layers in between (or, at the last one, from ``∂L/∂a[L]``)."""
    node, names = model.net.nodes[j], model.names
    l = node.layer
    m = _next_parametric(model, j)
    if m is None:
        return Step("The compact formula", f"δ[{l}] is the output gradient: no recursion.")
    g: Tensor = model.delta[m]
    for k in range(m, j, -1):
        g = model.layers[k].backward(model.input(k), model.output(k), model.of(k), g).input
    value = vec(g)
    kinds = ", ".join(model.net.nodes[k].kind.spec() for k in range(m, j, -1))
    lm = model.net.nodes[m].layer
    return Step(
        "The compact formula",
        f"δ[{lm}] passed back through the compact formulas of {kinds} (last first):",
        (Equation(names.label(f"δ[{l}]", rf"\delta^{{[{l}]}}"), value, dims(value)),),
    )


def _verdict(holds: bool) -> str:
    return "holds ✓" if holds else "FAILS ✗"


def proof_step(claim: Claim, others: list[Claim]) -> Step:
    """The verdict, how it was decided, and the verdicts of the layer's other statements."""
    text = (
        f"{claim.statement}: {_verdict(claim.holds)}. Every factor of the chain "
        f"{' · '.join(claim.chain)} is multiplied out (no δ symbols); the compact formula is "
        "computed from ∂L/∂ŷ by every layer's own backward formulas, never from a Jacobian; "
        "their difference expands (sympy.expand) to the zero matrix entry by entry — decided "
        "symbolically, never by evaluating numbers."
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
    """The derivation of ``dW[l]``, ``db[l]``, ``δ[l]`` or ``∂L/∂a[l-1]`` of node ``j``."""
    net, layer = model.net, model.layers[j]
    node = net.nodes[j]
    target = _target(model, j, param)[0]
    d = LayerDerivation(f"{target} of the {net.spec} network (loss {net.loss.name})", model.names)
    names = chain_of(model, j, param)
    d.add(network_step(model))
    d.add(layer_step(model, j))
    for k in range(j + 1, len(net.nodes)):
        for step in model.layers[k].assumption_steps(model.names, model.input(k)):
            d.add(step)
    lhs = {
        "W": f"∂L/∂vec(W[{node.layer}])",
        "b": f"∂L/∂b[{node.layer}]",
        "delta": f"∂L/∂{layer.out_name}",
        "input": f"∂L/∂{layer.in_name}",
    }[param]
    d.add(chain_step(model, jac, names, lhs))
    d.add(factors_step(model, jac, names, checks))
    for step in delta_steps(model, jac, j):
        d.add(step)
    if param == "delta":
        d.add(delta_compact_step(model, j))
    else:
        for step in last_factor_steps(model, jac, checks, j, param):
            d.add(step)
        for step in layer.compact_steps(
            param, model.names, model.input(j), model.of(j), model.delta[j]
        ):
            d.add(step)
    claim = next(c for c in claims if c.node == j and c.param == param)
    others = [c for c in claims if c.node == j and c.param != param]
    d.add(proof_step(claim, others))
    d.holds = (
        claim.holds
        and all(checks[n].holds for n in names if n in checks)
        and all("FAILS ✗" not in s.text for s in d.steps)
    )
    return d


def derive_network(
    net: Network,
    params: tuple[str, ...] = ("W", "b"),
    example: Mapping[str, object] | None = None,
    layer: int | None = None,
    batch: int = 1,
) -> list[Derivation]:
    """The derivations of every parametric layer (last first) and every ``param`` of ``params``
    (``W``, ``b``, ``delta``, ``input``) of a network of conv2d, maxpool, avgpool, flatten, dense
    and activation layers.

    ``example`` says where max pooling's argmax assumption comes from
    (:data:`~derivations.layers.base.EXAMPLE_KEYS`): by default the maximum of every window is
    its top-left entry; ``{"argmax": (u, v)}`` chooses another entry; ``{"seed": s}`` or
    ``{"params": p}`` take the pattern of that example's numbers
    (:mod:`derivations.layers.pool`). ``layer`` keeps only that layer's derivations (every
    statement is still proved).

    Raises :class:`~jacobians.errors.UnknownNameError` for an unknown ``param`` or a layer kind
    without a symbolic module, :class:`~jacobians.errors.InvalidValueError` for a network above
    :data:`MAX_PARAMETERS` parameters or :data:`MAX_ENTRIES` Jacobian entries.

    >>> net = Network.from_layers("conv2d(1, 2), relu, flatten, dense(1), sigmoid", "1x3x3")
    >>> [(d.title.split()[0], d.holds) for d in derive_network(net, ("W",))]
    [('dW[3]', True), ('dW[1]', True)]
    """
    for p in params:
        if p not in PARAMS:
            raise unknown_name("params", p, PARAMS)
    if batch != 1:
        raise InvalidValueError(
            message("batch", "1 (symbolic batches are not derived yet)", str(batch))
        )
    check_size(net)
    model = SymbolicModel(net, example)
    jac = jacobians(model)
    checks = structure_checks(model, jac)
    claims = prove_network(model, jac)  # every statement, whichever derivations are printed
    order = [
        j
        for j in range(len(net.nodes) - 1, -1, -1)
        if net.nodes[j].kind.roles and layer in (None, net.nodes[j].layer)
    ]
    if not order:
        numbers = ", ".join(str(n.layer) for n in net.parametric)
        raise InvalidValueError(
            message("layer", f"a layer with parameters ({numbers})", str(layer))
        )
    return [derive_node(model, jac, checks, claims, j, p) for j in order for p in params]


__all__ = [
    "MAX_ENTRIES",
    "MAX_PARAMETERS",
    "PARAMS",
    "LayerDerivation",
    "check_size",
    "derive_network",
    "jacobian_label",
]
