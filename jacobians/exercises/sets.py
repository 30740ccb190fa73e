"""The built-in exercise sets and the per-student variant generator.

- ``walkthrough``: the ``3-4-2-1`` relu/relu/sigmoid/bce network, every Jacobian and gradient
  of it, layer by layer;
- ``foundations``: the chapter's matrix function ``L = Σ σ(X W)`` in the row layout, with the
  chapter's ``X`` and ``W`` (seed 190204) unless a seed asks for a variant;
- ``network``: the same questions for any architecture (``sizes``, ``activations``, ``loss``,
  ``batch``; or ``layers`` and ``input_shape``, a sequence of any layer kinds);
- ``cnn``: a small convolutional network, one example: the im2row Jacobian, ``dW1``, ``db1``,
  the pooling Jacobian, and the gradient through the pooling and through the convolution;
- ``batchnorm``, ``residual``: a batch coupled by batch norm, a residual block;
- ``attention``: single-head self-attention on a ``3 × 2`` sequence: the gradients at ``V``,
  ``A`` and ``S``, ``dWq``, the softmax block of one row and ``dX``, its mistakes diagnosed.

A variant's values come from its seed, and are drawn again (deterministically: attempt ``k``
uses the generator seeded with ``(seed, k)``) until every question discriminates
(:func:`jacobians.exercises.key.problems`): no all-zero answer from a dead relu layer, no
matrix symmetric where a transpose must show, no mistake indistinguishable from the answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from math import prod
from typing import Any

import numpy as np

from ..errors import JacobiansError, message
from ..network import (
    DEFAULT_ACTIVATIONS,
    DEFAULT_LOSS,
    DEFAULT_SIZES,
    Network,
    check_finite,
    display,
)
from ..paths import coupled
from .exercise import Exercise, ExerciseFileError, Question, _ColumnMaker, _RowMaker
from .key import problems
from .layered import intermediate_shapes
from .quantities import ColumnProblem, RowProblem

MAX_DRAWS = 200
SETS: dict[str, str] = {
    "walkthrough": "the 3-4-2-1 relu, relu, sigmoid, bce network: every Jacobian and gradient,"
    " layer by layer",
    "foundations": "the foundations chapter's matrix function L = Σ σ(X W) (row layout, the"
    " chapter's X and W)",
    "network": "any architecture (--sizes --activations --loss --batch, or --layers --input):"
    " the walk-through's questions for it",
    "cnn": "a small convolutional network (1x4x4, conv2d, relu, maxpool, dense): the im2row"
    " Jacobian, dW1, db1, the pooling Jacobian, δ through the pool and the convolution",
    "batchnorm": "batch norm over a batch of 4 (dense(1), batchnorm, sigmoid): dγ, dβ, dx and"
    " the B × B batch Jacobian of the feature",
    "residual": "a residual block (dense(3), relu, residual(dense(3), tanh), dense(1), sigmoid):"
    " I + J_f, the gradient through the block and inside it",
    "attention": "self-attention on a 3x2 sequence (attention(2), flatten, dense(1), sigmoid):"
    " dV, dA, dS, dWq, the softmax block of one row, dX",
}
"""The built-in sets, with the line ``jacobians exercises list`` prints."""

_SYMBOLS = {
    "J_L_a": "∂L/∂a[{l}], the derivative of the loss",
    "J_a_z": "∂a[{l}]/∂z[{l}], the activation's Jacobian",
    "J_L_z": "∂L/∂z[{l}] = δ[{l}]ᵀ",
    "delta": "δ[{l}] = (∂L/∂z[{l}])ᵀ",
    "J_z_W": "∂z[{l}]/∂vec(W[{l}]) (row-major vec)",
    "J_z_b": "∂z[{l}]/∂b[{l}]",
    "dW": "dW[{l}], the gradient of the cost with respect to W[{l}]",
    "db": "db[{l}], the gradient of the cost with respect to b[{l}]",
    "J_z_a": "∂z[{l}]/∂a[{k}]",
}


def column_questions(net: Network, batch: int = 1) -> tuple[Question, ...]:
    """The walk-through's questions for any network: layer by layer from the output, every
    Jacobian of one example (batch 1) and the gradients ``delta``, ``dW``, ``db``."""
    L = net.depth
    out: list[tuple[str, str]] = []
    if batch == 1:
        out.append((f"J_L_a{L}", _SYMBOLS["J_L_a"].format(l=L)))
    for l in range(L, 0, -1):
        jacobians = batch == 1
        if jacobians:
            out += [
                (f"J_a{l}_z{l}", _SYMBOLS["J_a_z"].format(l=l)),
                (f"J_L_z{l}", _SYMBOLS["J_L_z"].format(l=l)),
            ]
        out.append((f"delta{l}", _SYMBOLS["delta"].format(l=l)))
        if jacobians:
            out += [
                (f"J_z{l}_W{l}", _SYMBOLS["J_z_W"].format(l=l)),
                (f"J_z{l}_b{l}", _SYMBOLS["J_z_b"].format(l=l)),
            ]
        out += [(f"dW{l}", _SYMBOLS["dW"].format(l=l)), (f"db{l}", _SYMBOLS["db"].format(l=l))]
        if jacobians and l > 1:
            out.append((f"J_z{l}_a{l - 1}", _SYMBOLS["J_z_a"].format(l=l, k=l - 1)))
    return tuple(Question(name, prompt) for name, prompt in out)


FOUNDATIONS_QUESTIONS = tuple(
    Question(name, prompt)
    for name, prompt in (
        ("N", "N = X W"),
        ("S", "S = σ(N)"),
        ("L", "L = Σ S"),
        ("dLdN", "dL/dN = dL/dS ⊙ σ'(N)"),
        ("J_S_N", "∂vec(S)/∂vec(N) (row-major vec)"),
        ("J_N_X", "∂vec(N)/∂vec(X)"),
        ("J_N_W", "∂vec(N)/∂vec(W)"),
        ("J_L_X", "∂L/∂vec(X), the chain J_L_S · J_S_N · J_N_X"),
        ("dLdX", "dL/dX, the chain reshaped"),
        ("J_L_W", "∂L/∂vec(W), the chain J_L_S · J_S_N · J_N_W"),
        ("dLdW", "dL/dW, the chain reshaped"),
    )
)


CNN_LAYERS = "conv2d(2, 3, padding=1), relu, maxpool(2), flatten, dense(1), sigmoid"
CNN_INPUT = "1x4x4"
CNN_QUESTIONS = tuple(
    Question(name, prompt, form)
    for name, prompt, form in (
        ("delta4", "δ[4] = (∂L/∂z[4])ᵀ", "either"),
        ("dW4", "dW[4], the gradient of the cost with respect to W[4]", "either"),
        ("J_a2_a1", "∂a[2]/∂a[1], the max pooling's Jacobian (a selection matrix)", "numeric"),
        ("J_L_a1", "∂L/∂a[1]: the gradient routed back through the pooling, a row", "numeric"),
        (
            "delta1",
            "δ[1] = (∂L/∂z[1])ᵀ, in the shape of z[1] (channels × rows × columns)",
            "numeric",
        ),
        ("J_z1_W1", "∂z[1]/∂vec(W[1]) = I ⊗ U, U the im2row matrix of x", "numeric"),
        ("dW1", "dW[1], in the shape of W[1] (C_out × C_in × k × k)", "numeric"),
        ("db1", "db[1], one entry per output channel", "numeric"),
        ("J_L_a0", "∂L/∂x: the gradient through the convolution, a row", "numeric"),
    )
)
"""The convolution set's questions, from the output to the input."""


def cnn(seed: int = 0) -> Exercise:
    """The small convolutional network's exercise, variant ``seed``."""
    net = Network.from_layers(CNN_LAYERS, CNN_INPUT, "bce")
    title = "A small convolutional network: convolution and pooling as matrices"
    return draw_variant(title, _ColumnMaker(net), CNN_QUESTIONS, seed, 1, "cnn")


BATCHNORM_LAYERS, BATCHNORM_INPUT, BATCHNORM_BATCH = "dense(1), batchnorm, sigmoid", "2", 4
BATCHNORM_QUESTIONS = tuple(
    Question(name, prompt, "numeric")
    for name, prompt in (
        ("delta2", "δ[2] = B·(∂J/∂z[2])ᵀ, one column per example"),
        ("dgamma2", "dγ[2] = Σ dy ⊙ x̂ (the mean cost's)"),
        ("dbeta2", "dβ[2]"),
        ("J_z2_a1", "∂vec(z[2])/∂vec(a[1]): the B × B batch Jacobian of the one feature"),
        ("J_L_a1", "dx = ∂J/∂vec(a[1]), the row over the batch"),
        ("dW1", "dW[1], through the batch norm"),
    )
)
"""The batch-norm set's questions (``db1`` is not asked: batch norm removes the mean, so a
bias before it has no gradient at all)."""


def batchnorm(seed: int = 0) -> Exercise:
    """Batch norm's exercise, variant ``seed``: a batch of 4, the examples coupled."""
    net = Network.from_layers(BATCHNORM_LAYERS, BATCHNORM_INPUT, "bce")
    title = "Batch norm: the Jacobian that couples a batch"
    return draw_variant(
        title, _ColumnMaker(net), BATCHNORM_QUESTIONS, seed, BATCHNORM_BATCH, "batchnorm"
    )


RESIDUAL_LAYERS, RESIDUAL_INPUT = "dense(3), relu, residual(dense(3), tanh), dense(1), sigmoid", "3"
RESIDUAL_QUESTIONS = tuple(
    Question(name, prompt, form)
    for name, prompt, form in (
        ("delta3", "δ[3]", "either"),
        ("dW3", "dW[3]", "either"),
        ("J_a2_a1", "∂a[2]/∂a[1] = I + J_f: the block's Jacobian", "either"),
        ("J_L_a1", "∂L/∂a[1]: the gradient through the block, a row", "either"),
        ("delta2_1", "δ[2_1], inside the block", "either"),
        ("dW2_1", "dW[2_1], inside the block", "either"),
        ("dW1", "dW[1], below the block", "either"),
    )
)


def residual(seed: int = 0) -> Exercise:
    """The residual block's exercise, variant ``seed``."""
    net = Network.from_layers(RESIDUAL_LAYERS, RESIDUAL_INPUT, "bce")
    title = "A residual block: I + J, and why the gradient gets through"
    return draw_variant(title, _ColumnMaker(net), RESIDUAL_QUESTIONS, seed, 1, "residual")


ATTENTION_LAYERS, ATTENTION_INPUT = "attention(2), flatten, dense(1), sigmoid", "3x2"
ATTENTION_QUESTIONS = tuple(
    Question(name, prompt, form)
    for name, prompt, form in (
        ("delta1", "dY = δ[1]: ∂L/∂a[1] in the shape of a[1] (3 × 2), what reaches Y", "either"),
        ("dV1", "dV[1]: ∂L/∂V[1] in the shape of V[1] = X Wv[1]", "either"),
        ("dA1", "dA[1]: ∂L/∂A[1] in the shape of A[1], the attention weights", "either"),
        ("dS1", "dS[1]: ∂L/∂S[1] in the shape of the scores S[1] = Q Kᵀ/√d_k", "either"),
        (
            "J_A1_S1_row2",
            "∂a_2/∂s_2: the softmax's 3 × 3 block for row 2 (a_2 row 2 of A[1], s_2 of S[1])",
            "numeric",
        ),
        ("dWq1", "dWq[1], through the queries", "either"),
        ("J_L_a0", "dX = ∂L/∂x, a row: every path from x to the loss", "either"),
    )
)
"""The attention set's questions, from the output to the input (``x`` is ``X``, ``a[1]`` is
``Y``)."""


def attention(seed: int = 0) -> Exercise:
    """Single-head self-attention's exercise, variant ``seed``: one example, a sequence of 3
    tokens of width 2."""
    net = Network.from_layers(ATTENTION_LAYERS, ATTENTION_INPUT, "bce")
    title = "Self-attention, one step at a time"
    return draw_variant(title, _ColumnMaker(net), ATTENTION_QUESTIONS, seed, 1, "attention")


def layer_questions(net: Network, batch: int = 1) -> tuple[Question, ...]:
    """The walk-through's questions for any sequence of layers, from the output to the input:
    for one example every Jacobian of each layer, ``δ`` and the parameters' gradients of each
    parametric layer, and the gradient reaching each layer's input (``J_L_a1``); for a batch,
    ``delta``, ``dW`` and ``db``."""
    out: list[Question] = []
    one = batch == 1 or coupled(net) is not None  # a coupled batch: its batch Jacobians
    if one:
        out.append(Question(f"J_L_{net.nodes[-1].output}", "the derivative of the loss"))
    firsts = {node.inner[0].output for node in net.all_nodes if node.inner}
    for node in reversed(net.all_nodes):
        numeric = "either" if len(node.out_shape) == 1 else "numeric"
        if node.kind.roles:
            out.append(Question(f"delta{node.label}", f"δ[{node.label}]", numeric))
        for name in reversed(intermediate_shapes(node)):  # attention's dA1, dS1, dV1, …
            out.append(
                Question(f"d{name}", f"d{display(name)}: ∂L/∂{display(name)} in its shape", numeric)
            )
        if one:
            first = ("input",) if node.kind.differentiable_input else ()
            for role in (*first, *node.kind.roles):
                name = node.jacobian_name(role)
                form = "either" if node.kind.name == "dense" or node.kind.activation else "numeric"
                by = node.input if role == "input" else node.parameters[role]
                out.append(Question(name, f"∂{display(node.output)}/∂{display(by)}", form))
        for name in node.parameters.values():
            form = "either" if node.kind.name == "dense" else "numeric"
            out.append(Question(f"d{name}", f"d{display(name)}", form))
        differentiable = node.kind.differentiable_input
        if one and not node.kind.activation and node.output not in firsts and differentiable:
            out.append(
                Question(f"J_L_{node.input}", f"∂L/∂{display(node.input)}, a row", "numeric")
            )
    return tuple(out)


def walkthrough(seed: int = 0) -> Exercise:
    """The walk-through network's exercise, variant ``seed``."""
    return network_exercise(
        DEFAULT_SIZES,
        DEFAULT_ACTIVATIONS,
        DEFAULT_LOSS,
        seed=seed,
        title="The walk-through network, layer by layer",
        name="walkthrough",
    )


def foundations(seed: int | None = None) -> Exercise:
    """The matrix function ``L = Σ σ(X W)``: the chapter's values, or variant ``seed``."""
    from ..rowlayout import chapter_example

    title = "The foundations chapter's matrix function"
    maker = _RowMaker("sigmoid", (3, 2))
    if seed is not None:
        return draw_variant(title, maker, FOUNDATIONS_QUESTIONS, seed, 3, "foundations")
    X, W = chapter_example()
    return Exercise(title, RowProblem("sigmoid", X, W), FOUNDATIONS_QUESTIONS, "foundations")


def network_exercise(
    sizes: str | Sequence[int] | None = None,
    activations: str | Sequence[str] | None = None,
    loss: str | None = None,
    seed: int = 0,
    batch: int = 1,
    title: str | None = None,
    name: str = "network",
    layers: str | None = None,
    input_shape: str | Sequence[int] | None = None,
) -> Exercise:
    """The walk-through's questions for any network — ``sizes`` and ``activations``, or
    ``layers`` on ``input_shape`` — variant ``seed`` with ``batch`` examples (batch 1 asks for
    every Jacobian too; a batch asks for ``delta``, ``dW`` and ``db``)."""
    if layers is not None:
        net = Network.from_layers(layers, input_shape or "", loss)
    else:
        net = Network.from_spec(
            sizes or DEFAULT_SIZES, activations or DEFAULT_ACTIVATIONS, loss or DEFAULT_LOSS
        )
    if batch < 1:
        raise ExerciseFileError(message("batch", "at least 1 example", str(batch)))
    check_size(net, batch)
    questions = column_questions(net, batch) if net.is_dense else layer_questions(net, batch)
    return draw_variant(
        title or f"The {net.spec} network",
        _ColumnMaker(net),
        questions,
        seed,
        batch,
        name,
    )


MAX_ANSWER_ENTRIES = 100_000
"""The most entries a question may ask for: answers are written by hand (a 316 × 316 matrix)."""


def check_size(net: Network, batch: int) -> None:
    """Refuse a network whose answers nobody writes by hand: a Jacobian (asked of one
    example) or a parameter's gradient above :data:`MAX_ANSWER_ENTRIES` entries."""
    from ..paths import largest_dense

    if batch == 1:
        name, (rows, cols), _ = largest_dense(net, first_input=True)
        size = rows * cols
    else:
        name, shape = max(net.parameter_shapes.items(), key=lambda kv: prod(kv[1]))
        name, size = f"d{name}", prod(shape)
    if size > MAX_ANSWER_ENTRIES:
        raise ExerciseFileError(
            message(
                "network",
                f"questions of at most {MAX_ANSWER_ENTRIES:,} entries (answers are written by "
                "hand)",
                f"{name} with {size:,}",
                "use a smaller network" + (", or --batch 2 (no Jacobians)" if batch == 1 else ""),
            )
        )


def new(name: str, seed: int | None = None, **network: Any) -> Exercise:
    """The built-in set ``name`` (see :data:`SETS`)."""
    from ..errors import unknown_name

    if name == "walkthrough":
        return walkthrough(0 if seed is None else seed)
    if name == "foundations":
        return foundations(seed)
    if name == "network":
        return network_exercise(seed=0 if seed is None else seed, **network)
    if name == "cnn":
        return cnn(0 if seed is None else seed)
    if name == "batchnorm":
        return batchnorm(0 if seed is None else seed)
    if name == "residual":
        return residual(0 if seed is None else seed)
    if name == "attention":
        return attention(0 if seed is None else seed)
    raise unknown_name("exercise set", name, SETS)


def draw_variant(
    title: str,
    maker: Any,
    questions: tuple[Question, ...],
    seed: int,
    batch: int,
    exercise_set: str,
) -> Exercise:
    """Draw values from ``seed`` until every question discriminates, or raise
    :class:`ExerciseFileError` saying why no draw did."""
    last: list[str] = []
    for attempt in range(MAX_DRAWS):
        rng = np.random.default_rng([seed, attempt])
        problem = maker.draw(rng, batch)
        if isinstance(problem, ColumnProblem):
            try:
                check_finite(problem.net, problem.params)
            except JacobiansError:
                continue
        exercise = Exercise(title, problem, questions, exercise_set, seed)
        from .exercise import _check_questions

        _check_questions(exercise, "exercise")
        last = problems(exercise.key)
        if not last:
            return exercise
    raise ExerciseFileError(
        message(
            "exercise",
            f"values that tell every right answer from the known mistakes within {MAX_DRAWS} draws",
            f"none; the last draw failed on {'; '.join(last[:3])}",
            "use wider layers, or an activation without dead units",
        )
    )
