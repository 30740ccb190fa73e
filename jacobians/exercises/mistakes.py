"""The mistakes people make with Jacobians, as formulas built from the exercise's own network.

For each quantity, :func:`models` returns the right formula and the wrong ones. A mistake of
the whole answer (transposed, negated, a missing or extra ``1/m``, flattened column-major) is a
*transform* of the reference value; a mistake inside the formula (the activation derivative
missing or at the wrong layer, ``a[l]`` for ``a[l-1]``, ``*`` for ``@``) is a *formula* in the
answer language (:mod:`jacobians.exercises.expression`) over the exercise's names. The checker
evaluates both where it evaluates the student's answer and names the mistake the answer
matches. Because the formulas are generated per layer from the network's sizes and
activations, they work for any architecture; a model whose shapes do not fit this network
(``δ a`` elementwise when the sizes differ) is left out.

>>> from jacobians.network import Network
>>> from jacobians.parameters import init_parameters
>>> from jacobians.exercises.quantities import ColumnProblem
>>> net = Network.from_spec("3-4-2-1", "relu,relu,sigmoid", "bce")
>>> problem = ColumnProblem(net, init_parameters(net, 0))
>>> right, wrong = models(problem, "dW2")
>>> right
'delta2 @ a1.T / m'
>>> for w in wrong[:4]:
...     print(w.mistake, w.formula or w.transform)
transposed T
sign_flipped neg
column_major col_major
wrong_layer_activation delta2 @ a2.T / m
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from math import prod
from typing import Literal

from .._typing import FloatArray
from ..network import Node
from .quantities import ColumnProblem, Problem, RowProblem

MISTAKES: dict[str, str] = {
    "transposed": "transposed: this is the transpose of the right answer",
    "wrong_shape": "wrong shape",
    "sign_flipped": "sign flipped: this is the negative of the right answer",
    "missing_mean": "missing 1/m: the gradients of the cost average over the m examples",
    "extra_mean": "extra 1/m: only the gradients of the cost (dW, db) average over the batch",
    "missing_activation_derivative": "the activation derivative g'(z) is missing",
    "activation_derivative_wrong_layer": "the activation derivative is taken at the wrong layer",
    "activation_derivative_at_a": "the activation derivative is taken at a = g(z) instead of z",
    "wrong_layer_activation": "a[l] is used where a[l-1] belongs",
    "elementwise_for_matmul": "an elementwise product where a matrix product belongs",
    "matmul_for_elementwise": "a matrix product where an elementwise product belongs",
    "column_major": "flattened column-major: NOTATION's vec is row-major (C order)",
    "row_major": (
        'flattened row-major: this exercise asks for the column-major vec (vec = "column": it'
        " stacks the columns, and reshapes back in Fortran order)"
    ),
    "diagonal_as_vector": (
        "the diagonal alone: the Jacobian of an elementwise function is the diagonal matrix"
        " diag(g'(z))"
    ),
    "parameter_given": "the parameter given for its gradient",
    "scaled": "scaled: a multiple of the right answer",
}
"""Every mistake the checker can name, with the sentence it shows (``scaled`` is found by the
checker itself, fitting a factor, and says which: see
:func:`jacobians.exercises.grading.grade_numeric`)."""


def _kinds_mistakes() -> dict[str, str]:
    """The mistakes each layer kind declares for its backward pass (the kernel not flipped, a
    window's gradient sent to every entry, …)."""
    from ..layers.registry import KINDS

    return {k: v for kind in KINDS.values() for k, v in kind.mistakes.items() if k not in MISTAKES}


MISTAKES.update(_kinds_mistakes())

Compute = Callable[[Problem], "FloatArray | None"]


@dataclass(frozen=True)
class Model:
    """A wrong answer: which mistake it is, and either a ``transform`` of the reference value
    (see :func:`apply_transform`), a ``formula`` in the answer language, or a ``compute``: the
    wrong value of a problem (a layer's mistaken backward pass, propagated), ``None`` where
    the mistake does not reach this quantity."""

    mistake: str
    formula: str | None = None
    note: str = ""
    """What exactly went wrong here (``at z3 instead of z2``)."""
    transform: str | None = None
    compute: Compute | None = field(default=None, compare=False, repr=False)


AVERAGED = re.compile(r"^(dW\d+|db\d+|L)$")
"""Quantities of the cost, which average over the batch (``1/m``)."""
RESHAPED = re.compile(r"^(dW\d+|dLdX|dLdW|J_L_W\d+|J_L_X|J_L_W|J_L_N)$")
"""Quantities that come from a row-major flattening (a reshaped chain, or the chain itself)."""


def apply_transform(
    transform: str, value: FloatArray, batch: int, shape: tuple[int, int]
) -> FloatArray:
    """``T``: ``Rᵀ``; ``neg``: ``−R``; ``times_m``: ``m·R``; ``over_m``: ``R/m``; ``col_major``:
    the matrix read column-major (a ``1 × n·k`` row: the matrix ``shape`` flattened by columns;
    a matrix: its row-major ``vec`` reshaped in Fortran order); ``row_major``, its mirror in an
    exercise with the column-major ``vec`` (a row: the matrix flattened by rows; a matrix: its
    column-major ``vec`` reshaped in C order, numpy's default)."""
    if transform == "T":
        return value.T
    if transform == "neg":
        return -value
    if transform == "times_m":
        return value * batch
    if transform == "over_m":
        return value / batch
    if transform == "row_major":
        if value.shape[0] == 1 and shape[0] > 1:  # a row ∂L/∂vec_col(M): flatten M by rows
            return value.reshape(shape, order="F").reshape(1, -1)
        return value.reshape(-1, order="F").reshape(value.shape)
    if value.shape[0] == 1 and shape[0] > 1:  # a row ∂L/∂vec(M): flatten M by columns
        return value.reshape(shape).reshape(1, -1, order="F")
    return value.reshape(-1).reshape(value.shape, order="F")


def _transforms(name: str, batch: int, shape: tuple[int, int], vec: str = "row") -> list[Model]:
    """``shape``: the matrix a reshaped quantity flattens (its own shape for a matrix); ``vec``:
    the exercise's flattening, whose other one is the mistake."""
    out = [Model("transposed", transform="T"), Model("sign_flipped", transform="neg")]
    if RESHAPED.match(name) and min(shape) > 1:
        other = "column_major" if vec == "row" else "row_major"
        out.append(Model(other, transform="col_major" if vec == "row" else "row_major"))
    if batch > 1:
        if AVERAGED.match(name):
            out.append(Model("missing_mean", transform="times_m"))
        elif name.startswith("delta"):
            out.append(Model("extra_mean", transform="over_m"))
    return out


def models(problem: Problem, name: str, vec: str = "row") -> tuple[str | None, list[Model]]:
    """The right formula for ``name`` (``None`` where the language cannot write it, as for a
    softmax output under mse) and the mistake models: the transforms, the formulas, then the
    parameter given for its gradient. ``vec``: the exercise's flattening, ``row`` (NOTATION's)
    or ``column`` (Magnus–Neudecker's; dense networks and the row layout only): a Jacobian of a
    flattened matrix is right in it, and the other flattening is the mistake (``column_major``
    in a row exercise, ``row_major`` in a column one)."""
    from .quantities import quantity

    quantity(problem, name)  # an unknown name raises here
    batch = problem.batch if isinstance(problem, ColumnProblem) else 1
    if isinstance(problem, RowProblem):
        right, wrong = _row_models(problem, name, vec)
    elif not problem.net.is_dense:
        return None, [*_layer_models(problem, name), *_parameter_given(problem, name)]
    else:
        right, wrong = _column_models(problem, name, vec)
    given = _parameter_given(problem, name, vec)
    transforms = _transforms(name, batch, flattened_shape(problem, name), vec)
    return right, [*transforms, *wrong, *given]


def gradient_parameter(problem: Problem, name: str) -> str | None:
    """The parameter whose gradient ``name`` is (``dW2``, ``J_L_W2`` → ``W2``; ``dLdW``,
    ``J_L_W`` → ``W``), ``None`` for any other quantity (``dLdX``: ``X`` is the input)."""
    if isinstance(problem, RowProblem):
        return {"dLdW": "W", "J_L_W": "W"}.get(name)
    for prefix in ("d", "J_L_"):
        if name.startswith(prefix) and name[len(prefix) :] in problem.params.values:
            return name[len(prefix) :]
    return None


def _parameter_given(problem: Problem, name: str, vec: str = "row") -> list[Model]:
    """``W2`` written for ``dW2``: the parameter's own values in the gradient's shape (a bias
    as a column, a row ``vec(W2)ᵀ`` for ``J_L_W2``, flattened by ``vec``). Left out where the
    parameter is all zeros: an answer of zeros is not told apart from any other zero answer."""
    parameter = gradient_parameter(problem, name)
    if parameter is None:
        return []
    row = name.startswith("J_L_")
    order: Literal["C", "F"] = "F" if vec == "column" else "C"

    def compute(p: Problem, parameter: str = parameter, row: bool = row) -> FloatArray | None:
        value = p.W if isinstance(p, RowProblem) else p.params.values[parameter]
        if not value.any():
            return None
        if row:
            return value.reshape(1, -1, order=order)
        return value.reshape(-1, 1) if value.ndim == 1 else value

    note = f"this is {parameter} itself, not its gradient {name}"
    return [Model("parameter_given", note=note, compute=compute)]


def flattened_shape(problem: Problem, name: str) -> tuple[int, int]:
    """The matrix whose row-major ``vec`` ``name`` is or reshapes (its own shape otherwise)."""
    from .quantities import quantity

    if isinstance(problem, RowProblem):
        target = {"J_L_X": "X", "J_L_W": "W", "J_L_N": "N"}.get(name, name)
        rows, columns = quantity(problem, target).shape
        return rows, columns
    if not problem.net.is_dense:
        shape = quantity(problem, name).shape
        return shape[0], prod(shape[1:])
    m = re.fullmatch(r"J_L_W(\d+)", name)
    if m:
        shape = problem.net.weight_shape(int(m.group(1)))
        return shape[0], prod(shape[1:])  # a convolution's W as its C_out × C·k·k matrix
    shape = quantity(problem, name).shape
    return shape[0], prod(shape[1:])


def _g(activation: str, arg: str, prime: bool) -> str | None:
    """``relu(z2)``, ``leaky_relu_prime(z2, 0.2)``; ``None`` for softmax's derivative."""
    base, _, slope = activation.partition(":")
    if base == "softmax":
        return None if prime else f"softmax({arg})"
    fn = f"{base}_prime" if prime else base
    return f"{fn}({arg}, {slope})" if slope else f"{fn}({arg})"


def _loss_gradient(problem: ColumnProblem) -> str:
    """``(∂L/∂ŷ)ᵀ`` for every example, ``n_L × m``."""
    return {
        "bce": "(yhat - y) / (yhat * (1 - yhat))",
        "mse": "yhat - y",
        "sum": f"ones({problem.net.sizes[-1]}, {problem.batch})",
        "ce": "-(y / yhat)",
    }[problem.net.loss.name]


def _cost(problem: ColumnProblem) -> str:
    """``J = (1/m) Σ_i L(ŷ(i), y(i))``."""
    return {
        "bce": "-sum(y * log(yhat) + (1 - y) * log(1 - yhat)) / m",
        "mse": "sum((yhat - y) ** 2) / (2 * m)",
        "sum": "sum(yhat) / m",
        "ce": "-sum(y * log(yhat)) / m",
    }[problem.net.loss.name]


def _paren(formula: str) -> str:
    simple = re.fullmatch(r"[\w.]+(\([^()]*\))?(\.T)?", formula)
    return formula if simple else f"({formula})"


def _deltas(problem: ColumnProblem, l: int) -> tuple[str | None, list[Model]]:
    """``δ[l]`` and the mistakes inside its own formula, each a formula for the wrong ``δ[l]``.

    ``δ[L] = (∂L/∂ŷ)ᵀ ⊙ g'(z[L])`` (``ŷ − y`` for a fused output pair) and
    ``δ[l] = (W[l+1]ᵀ δ[l+1]) ⊙ g'(z[l])``."""
    net = problem.net
    L, act = net.depth, net.activations[l - 1].name
    upstream = _loss_gradient(problem) if l == L else f"W{l + 1}.T @ delta{l + 1}"
    gp = _g(act, f"z{l}", prime=True)
    if gp is None:  # softmax: its Jacobian is not a diagonal
        right = "yhat - y" if l == L and net.fused is not None else None
        return right, [Model("missing_activation_derivative", upstream, "∂L/∂a without ∂a/∂z")]
    fused = l == L and net.fused is not None
    right = "yhat - y" if fused else f"({upstream}) * {gp}"
    wrong: list[Model] = []
    if act != "identity":
        wrong.append(Model("missing_activation_derivative", upstream, f"no {gp}"))
        wrong.append(
            Model("activation_derivative_at_a", f"({upstream}) * {_g(act, f'a{l}', True)}")
        )
        wrong += [
            Model(
                "activation_derivative_wrong_layer",
                f"({upstream}) * {_g(act, f'z{k}', True)}",
                f"at z{k} instead of z{l}",
            )
            for k in range(1, L + 1)
            if k != l and net.sizes[k] == net.sizes[l]
        ]
    if l < L:
        wrong.append(Model("matmul_for_elementwise", f"({upstream}).T @ {gp}"))
        wrong.append(Model("elementwise_for_matmul", f"(W{l + 1}.T * delta{l + 1}.T) * {gp}"))
    return right, wrong


def _column_models(
    problem: ColumnProblem, name: str, vec: str = "row"
) -> tuple[str | None, list[Model]]:
    net, B = problem.net, problem.batch
    if name.startswith("J_"):
        return _jacobian_models(problem, name, vec)
    m = re.fullmatch(r"(delta|dW|db|z|a)([1-9]\d*)", name)
    if m is None:  # x, a0, y, W, b, yhat, L: given or forward values
        return {"yhat": f"a{net.depth}", "a0": "x", "L": _cost(problem)}.get(name, name), []
    head, l = m.group(1), int(m.group(2))
    if head in ("z", "a"):
        if head == "z":
            return f"W{l} @ a{l - 1} + b{l}", [
                Model("wrong_layer_activation", f"W{l} @ a{l} + b{l}")
            ]
        return _g(net.activations[l - 1].name, f"z{l}", prime=False), []
    right_delta, inner = _deltas(problem, l)
    if head == "delta":
        return right_delta, inner
    keep = [w for w in inner if "elementwise" not in w.mistake]
    if head == "dW":
        right = f"delta{l} @ a{l - 1}.T / m"
        return right, [
            Model("wrong_layer_activation", f"delta{l} @ a{l}.T / m"),
            Model("elementwise_for_matmul", f"delta{l} * a{l - 1} / m"),
            *(
                Model(w.mistake, f"{_paren(w.formula or '')} @ a{l - 1}.T / m", w.note)
                for w in keep
            ),
        ]
    right = f"delta{l} @ ones({B}, 1) / m"
    return right, [
        Model(w.mistake, f"{_paren(w.formula or '')} @ ones({B}, 1) / m", w.note) for w in keep
    ]


def _jacobian_models(
    problem: ColumnProblem, name: str, vec: str = "row"
) -> tuple[str | None, list[Model]]:
    """``J_L_a3``, ``J_L_z2``, ``J_L_W2``, ``J_L_b2``, ``J_z2_W2``, ``J_z2_b2``, ``J_a2_z2``,
    ``J_z2_a1``, ``J_z2_z1`` (one example). With ``vec = "column"``, ``∂z/∂vec(W) = aᵀ ⊗ I_n``
    and ``∂L/∂vec(W) = vec(dWᵀ)ᵀ`` (``vec`` of the language is row-major: ``vec(Mᵀ)`` stacks
    the columns of ``M``), and ``I_n ⊗ aᵀ`` is the ``row_major`` mistake."""
    n = problem.net.sizes
    _, out_, in_ = name.split("_")
    l = int(in_[1:]) if out_ == "L" else int(out_[1:])
    if out_ == "L":
        if in_[0] == "a":
            return f"({_loss_gradient(problem)}).T", []
        _, inner = _deltas(problem, l)
        if in_[0] in "zb":
            return f"delta{l}.T", [
                Model(w.mistake, f"{_paren(w.formula or '')}.T", w.note) for w in inner
            ]
        if vec == "column":
            return f"vec(a{l - 1} @ delta{l}.T).T", [
                Model("wrong_layer_activation", f"vec(a{l} @ delta{l}.T).T")
            ]
        return f"vec(delta{l} @ a{l - 1}.T).T", [
            Model("wrong_layer_activation", f"vec(delta{l} @ a{l}.T).T")
        ]
    if in_[0] == "W":
        rows, columns = f"kron(eye({n[l]}), a{l - 1}.T)", f"kron(a{l - 1}.T, eye({n[l]}))"
        if vec == "column":
            return columns, [
                Model("row_major", rows),
                Model("wrong_layer_activation", f"kron(a{l}.T, eye({n[l]}))"),
            ]
        return rows, [
            Model("column_major", columns),
            Model("wrong_layer_activation", f"kron(eye({n[l]}), a{l}.T)"),
        ]
    if in_[0] == "b":
        return f"eye({n[l]})", []
    if in_[0] == "a":
        return f"W{l}", []
    if out_[0] == "a":
        return _activation_jacobian(problem, l)
    below = problem.net.activations[l - 2].name  # J_z{l}_z{l-1} = W[l] diag(g'[l-1](z[l-1]))
    gp = _g(below, f"z{l - 1}", prime=True)
    if gp is None:
        right = f"W{l} @ (diag(a{l - 1}) - a{l - 1} @ a{l - 1}.T)"
        return right, [Model("missing_activation_derivative", f"W{l}")]
    wrong = []
    if below != "identity":
        wrong = [
            Model("missing_activation_derivative", f"W{l}", f"no {gp}"),
            Model(
                "activation_derivative_wrong_layer",
                f"diag({_g(below, f'z{l}', True)}) @ W{l}",
                f"at z{l} instead of z{l - 1}",
            ),
        ]
    return f"W{l} @ diag({gp})", wrong


def _activation_jacobian(problem: ColumnProblem, l: int) -> tuple[str | None, list[Model]]:
    """``∂a/∂z = diag(g'(z))``; softmax: ``diag(s) − s sᵀ``."""
    net = problem.net
    act = net.activations[l - 1].name
    gp = _g(act, f"z{l}", prime=True)
    if gp is None:
        return f"diag(a{l}) - a{l} @ a{l}.T", [
            Model("elementwise_for_matmul", f"diag(a{l}) - a{l} * a{l}")
        ]
    wrong = [Model("diagonal_as_vector", gp)]
    if act != "identity":
        wrong.append(Model("activation_derivative_at_a", f"diag({_g(act, f'a{l}', True)})"))
        wrong += [
            Model(
                "activation_derivative_wrong_layer",
                f"diag({_g(act, f'z{k}', True)})",
                f"at z{k} instead of z{l}",
            )
            for k in range(1, net.depth + 1)
            if k != l and net.sizes[k] == net.sizes[l]
        ]
    return f"diag({gp})", wrong


def _row_models(problem: RowProblem, name: str, vec: str = "row") -> tuple[str | None, list[Model]]:
    """The matrix function ``L = Σ g(X W)`` in the row layout (``∂L/∂S = 1``). With ``vec =
    "column"`` the Jacobians are Magnus–Neudecker's, ``∂vec(N)/∂vec(W) = I_p ⊗ X`` and
    ``∂vec(N)/∂vec(X) = Wᵀ ⊗ I_B``, a row ``∂L/∂vec(M)`` is ``vec(Mᵀ)ᵀ``, and NOTATION's
    row-major ones are the ``row_major`` mistake."""
    B, p = problem.X.shape[0], problem.W.shape[1]
    act = problem.activation
    gp, ga = _g(act, "N", prime=True) or "", _g(act, "S", prime=True) or ""
    rights: dict[str, str] = {
        "X": "X",
        "W": "W",
        "N": "X @ W",
        "S": _g(act, "N", prime=False) or "",
        "L": f"sum({_g(act, 'N', prime=False)})",
        "dLdN": gp,
        "dLdX": f"{gp} @ W.T",
        "dLdW": f"X.T @ {gp}",
        "J_L_S": f"ones(1, {B * p})",
        "J_S_N": f"diag(vec({gp}))",
        "J_N_X": f"kron(eye({B}), W.T)",
        "J_N_W": f"kron(X, eye({p}))",
        "J_L_N": f"vec({gp}).T",
        "J_L_X": f"vec({gp} @ W.T).T",
        "J_L_W": f"vec(X.T @ {gp}).T",
    }
    other = {  # the other flattening: column-major here, row-major in a column exercise
        "J_S_N": f"diag(vec(({gp}).T))",
        "J_N_X": f"kron(W.T, eye({B}))",
        "J_N_W": f"kron(eye({p}), X)",
    }
    diagonal = f"vec({gp})"
    if vec == "column":
        rights, other = rights | other, {k: rights[k] for k in other}
        rights |= {
            "J_L_N": f"vec(({gp}).T).T",
            "J_L_X": f"vec(W @ ({gp}).T).T",
            "J_L_W": f"vec(({gp}).T @ X).T",
        }
        diagonal = f"vec(({gp}).T)"
    right = rights[name]
    wrong: list[Model] = []
    without = {
        "dLdN": f"ones({B}, {p})",
        "dLdX": f"ones({B}, {p}) @ W.T",
        "dLdW": f"X.T @ ones({B}, {p})",
        "J_S_N": f"eye({B * p})",
    }
    if name in without and act != "identity":
        wrong.append(Model("missing_activation_derivative", without[name], f"no {gp}"))
        wrong.append(Model("activation_derivative_at_a", right.replace(gp, ga)))
    if name in other:
        wrong.append(Model("row_major" if vec == "column" else "column_major", other[name]))
    if name == "J_S_N":
        wrong.append(Model("diagonal_as_vector", diagonal))
    return right, wrong


def _layer_models(problem: ColumnProblem, name: str) -> list[Model]:
    """For a network other than the dense shorthand: the whole-answer mistakes (transposed
    for a matrix, the sign, a missing or extra ``1/m``) and every mistake the network's
    kinds declare, propagated by :func:`~jacobians.exercises.layered.mistaken_values`."""
    from .layered import kind_mistakes, mistaken_values, node_label
    from .quantities import quantity

    shape = quantity(problem, name).shape
    out = [Model("sign_flipped", transform="neg")]
    if len(shape) == 2 and shape != (1, 1):
        out.insert(0, Model("transposed", transform="T"))
    if problem.batch > 1:
        if AVERAGED.match(name):
            out.append(Model("missing_mean", transform="times_m"))
        elif name.startswith("delta"):
            out.append(Model("extra_mean", transform="over_m"))
    net = problem.net
    for node, mistake in kind_mistakes(net):

        def compute(p: Problem, node: Node = node, mistake: str = mistake) -> FloatArray | None:
            assert isinstance(p, ColumnProblem)
            return mistaken_values(p.net, p.params, node, mistake).get(name)

        out.append(Model(mistake, note=node_label(net, node), compute=compute))
    return out
