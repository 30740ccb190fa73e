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

A variant's values come from its seed — a whole number, or a student id mapped to one by
:func:`variant_seed` — and are drawn again (deterministically: attempt ``k`` uses the generator
seeded with ``(seed, k)``) until the variant is lively (:func:`lifeless`: every relu layer has
at least half of its units active on some example, every gradient answer at most half of its
entries zero) and every question discriminates (:func:`jacobians.exercises.key.problems`): no
all-zero answer, no matrix symmetric where a transpose must show, no mistake
indistinguishable from the answer. What the network fixes whatever the values — identity
Jacobians, relu's 0/1 Jacobians, a pooling's sparse gradients — each set lists in
:data:`STRUCTURE`.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from math import prod
from typing import Any

import numpy as np

from .._typing import FloatArray
from ..columnvec import VECS
from ..errors import JacobiansError, message
from ..network import (
    DEFAULT_ACTIVATIONS,
    DEFAULT_LOSS,
    DEFAULT_SIZES,
    Network,
    check_finite,
    display,
    flat,
    forward,
)
from ..paths import coupled
from .exercise import (
    Exercise,
    ExerciseFileError,
    Question,
    _ColumnMaker,
    _RowMaker,
    check_vec,
)
from .key import problems
from .layered import intermediate_shapes
from .quantities import ColumnProblem, Problem, RowProblem, references

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
COLUMN_VEC = "column-major vec: vec stacks the columns"
"""What a prompt of a ``vec = "column"`` exercise says about the flattening it asks for."""
_COLUMN_SYMBOLS = {"J_z_W": f"∂z[{{l}}]/∂vec(W[{{l}}]) ({COLUMN_VEC} of W[{{l}}])"}


def column_questions(net: Network, batch: int = 1, vec: str = "row") -> tuple[Question, ...]:
    """The walk-through's questions for any network: layer by layer from the output, every
    Jacobian of one example (batch 1) and the gradients ``delta``, ``dW``, ``db``; with ``vec
    = "column"`` the prompt of ``J_z{l}_W{l}`` asks for the column-major ``vec``."""
    symbols = _SYMBOLS | _COLUMN_SYMBOLS if vec == "column" else _SYMBOLS
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
                (f"J_z{l}_W{l}", symbols["J_z_W"].format(l=l)),
                (f"J_z{l}_b{l}", _SYMBOLS["J_z_b"].format(l=l)),
            ]
        out += [(f"dW{l}", _SYMBOLS["dW"].format(l=l)), (f"db{l}", _SYMBOLS["db"].format(l=l))]
        if jacobians and l > 1:
            out.append((f"J_z{l}_a{l - 1}", _SYMBOLS["J_z_a"].format(l=l, k=l - 1)))
    return tuple(Question(name, prompt) for name, prompt in out)


_FOUNDATIONS_PROMPTS = (
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
_FOUNDATIONS_COLUMN_PROMPTS = {
    "J_S_N": f"∂vec(S)/∂vec(N) ({COLUMN_VEC})",
    "J_N_X": f"∂vec(N)/∂vec(X) ({COLUMN_VEC})",
    "J_N_W": f"∂vec(N)/∂vec(W) ({COLUMN_VEC})",
    "J_L_X": f"∂L/∂vec(X) ({COLUMN_VEC}), the chain J_L_S · J_S_N · J_N_X",
    "dLdX": "dL/dX, the chain reshaped (in Fortran order)",
    "J_L_W": f"∂L/∂vec(W) ({COLUMN_VEC}), the chain J_L_S · J_S_N · J_N_W",
    "dLdW": "dL/dW, the chain reshaped (in Fortran order)",
}


def foundations_questions(vec: str = "row") -> tuple[Question, ...]:
    """The foundations set's questions; with ``vec = "column"`` the prompts of the Jacobians
    and the reshapes ask for the column-major ``vec``."""
    column = _FOUNDATIONS_COLUMN_PROMPTS if vec == "column" else {}
    return tuple(Question(name, column.get(name, prompt)) for name, prompt in _FOUNDATIONS_PROMPTS)


FOUNDATIONS_QUESTIONS = foundations_questions()


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


def cnn(seed: int | str = 0) -> Exercise:
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


def batchnorm(seed: int | str = 0) -> Exercise:
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


def residual(seed: int | str = 0) -> Exercise:
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


def attention(seed: int | str = 0) -> Exercise:
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


def walkthrough(seed: int | str = 0, vec: str = "row") -> Exercise:
    """The walk-through network's exercise, variant ``seed``, in the flattening ``vec``."""
    return network_exercise(
        DEFAULT_SIZES,
        DEFAULT_ACTIVATIONS,
        DEFAULT_LOSS,
        seed=seed,
        title="The walk-through network, layer by layer",
        name="walkthrough",
        vec=vec,
    )


def foundations(seed: int | str | None = None, vec: str = "row") -> Exercise:
    """The matrix function ``L = Σ σ(X W)``: the chapter's values, or variant ``seed``, in the
    flattening ``vec``."""
    from ..rowlayout import chapter_example

    title = "The foundations chapter's matrix function"
    maker = _RowMaker("sigmoid", (3, 2))
    _vec(vec, maker)
    questions = foundations_questions(vec)
    if seed is not None:
        return draw_variant(title, maker, questions, seed, 3, "foundations", vec)
    X, W = chapter_example()
    return Exercise(title, RowProblem("sigmoid", X, W), questions, "foundations", vec=vec)


def network_exercise(
    sizes: str | Sequence[int] | None = None,
    activations: str | Sequence[str] | None = None,
    loss: str | None = None,
    seed: int | str = 0,
    batch: int = 1,
    title: str | None = None,
    name: str = "network",
    layers: str | None = None,
    input_shape: str | Sequence[int] | None = None,
    vec: str = "row",
) -> Exercise:
    """The walk-through's questions for any network — ``sizes`` and ``activations``, or
    ``layers`` on ``input_shape`` — variant ``seed`` with ``batch`` examples (batch 1 asks for
    every Jacobian too; a batch asks for ``delta``, ``dW`` and ``db``), in the flattening
    ``vec`` (``column``: a dense network only)."""
    if layers is not None:
        net = Network.from_layers(layers, input_shape or "", loss)
    else:
        net = Network.from_spec(
            sizes or DEFAULT_SIZES, activations or DEFAULT_ACTIVATIONS, loss or DEFAULT_LOSS
        )
    if batch < 1:
        raise ExerciseFileError(message("batch", "at least 1 example", str(batch)))
    _vec(vec, _ColumnMaker(net))
    check_size(net, batch)
    if net.is_dense:
        questions = column_questions(net, batch, vec)
    else:
        questions = layer_questions(net, batch)
    return draw_variant(
        title or f"The {net.spec} network",
        _ColumnMaker(net),
        questions,
        seed,
        batch,
        name,
        vec,
    )


def _vec(vec: str, maker: Any) -> None:
    """Refuse a flattening other than ``row`` and ``column``, and ``column`` for a network of
    layers (:func:`~jacobians.exercises.exercise.check_vec`)."""
    if vec not in VECS:
        raise ExerciseFileError(message("vec", '"row" or "column"', repr(vec)))
    check_vec(vec, maker)


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


COLUMN_VEC_SETS = ("walkthrough", "foundations", "network")
"""The sets that may be asked with ``vec = "column"`` (``network``: with sizes, not layers);
the others are networks of layers, whose tensors NOTATION flattens row-major."""


def new(name: str, seed: int | str | None = None, vec: str = "row", **network: Any) -> Exercise:
    """The built-in set ``name`` (see :data:`SETS`), variant ``seed``: a whole number or a
    student id (:func:`variant_seed`); ``vec``: the flattening its answers use, ``row`` or
    ``column`` (the sets of :data:`COLUMN_VEC_SETS`)."""
    from ..errors import unknown_name

    if vec != "row" and name in SETS and name not in COLUMN_VEC_SETS:
        raise ExerciseFileError(
            message(
                "vec",
                f'"row" for the {name} set (a network of layers: NOTATION flattens every tensor'
                f' row-major); "column" is for {", ".join(COLUMN_VEC_SETS)}',
                repr(vec),
            )
        )
    if name == "walkthrough":
        return walkthrough(0 if seed is None else seed, vec)
    if name == "foundations":
        return foundations(seed, vec)
    if name == "network":
        return network_exercise(seed=0 if seed is None else seed, vec=vec, **network)
    if name == "cnn":
        return cnn(0 if seed is None else seed)
    if name == "batchnorm":
        return batchnorm(0 if seed is None else seed)
    if name == "residual":
        return residual(0 if seed is None else seed)
    if name == "attention":
        return attention(0 if seed is None else seed)
    raise unknown_name("exercise set", name, SETS)


MAX_STUDENT_ID = 200
"""The longest student id (characters, after normalisation) ``--seed`` takes."""
MAX_INT_SEED = 2**32
"""Whole numbers below this (and digit strings of them) are seeds as they are."""


def student_id(given: int | str) -> int | str:
    """A variant's id as the exercise file records it: a whole number ``0 ≤ n < 2**32`` (or
    its ASCII digits) as that number; any other text NFC-normalised and stripped.

    >>> student_id(" 017 "), student_id("s1234567"), student_id("Ada@Example.org")
    (17, 's1234567', 'Ada@Example.org')
    """
    if isinstance(given, bool) or not isinstance(given, int | str):
        raise ExerciseFileError(
            message("seed", "a whole number or a student id (text)", repr(given)[:80])
        )
    if isinstance(given, int):
        if given < 0:
            raise ExerciseFileError(
                message("seed", "a whole number ≥ 0, or a student id (text)", str(given))
            )
        return given
    text = unicodedata.normalize("NFC", given).strip()
    if not text:
        raise ExerciseFileError(
            message("seed", "a student id (s1234567, an email) or a whole number", "empty text")
        )
    if len(text) > MAX_STUDENT_ID:
        raise ExerciseFileError(
            message("seed", f"a student id of at most {MAX_STUDENT_ID} characters", f"{len(text)}")
        )
    control = [c for c in text if unicodedata.category(c) in ("Cc", "Cf")]
    if control:
        raise ExerciseFileError(
            message("seed", "a student id without control characters", f"{control[0]!r}")
        )
    if text.isascii() and text.isdigit() and int(text) < MAX_INT_SEED:
        return int(text)
    return text


def variant_seed(given: int | str) -> int:
    """The number a variant is drawn from: a whole number (see :func:`student_id`) as it is;
    a student id ``s`` as ``int.from_bytes(sha256(utf8(NFC(strip(s))))[:8], "big")``, the
    same on every platform and every Python or numpy version (never ``hash()``, which varies
    from run to run).

    >>> variant_seed(17), variant_seed("17"), variant_seed("abc")  # sha256: ba7816bf8f01cfea…
    (17, 17, 13436514500253700074)
    """
    ident = student_id(given)
    if isinstance(ident, int):
        return ident
    return int.from_bytes(hashlib.sha256(ident.encode("utf-8")).digest()[:8], "big")


@dataclass(frozen=True)
class Structure:
    """What a set's network fixes whatever a variant's values, by question name.

    ``fixed``: the same answer in every variant (an identity Jacobian: ``∂z/∂b = I``).
    ``discrete``: one of a few values (relu's ``∂a/∂z = diag(0 or 1)`` at one example, a max
    pooling's selection matrix), so two variants may share it.
    ``sparse``: mostly zeros whatever the values (max pooling sends a window's gradient to one
    entry of its four), exempt from the rule that a gradient is at most half zeros.
    Every other answer differs between any two variants.
    """

    fixed: tuple[str, ...] = ()
    discrete: tuple[str, ...] = ()
    sparse: tuple[str, ...] = ()


STRUCTURE: dict[str, Structure] = {
    "walkthrough": Structure(
        fixed=("J_z3_b3", "J_z2_b2", "J_z1_b1"), discrete=("J_a2_z2", "J_a1_z1")
    ),
    "foundations": Structure(),
    "cnn": Structure(discrete=("J_a2_a1",), sparse=("J_L_a1", "delta1")),
    "batchnorm": Structure(),
    "residual": Structure(),
    "attention": Structure(),
}
"""The built-in sets' :class:`Structure` (``network`` has none: its network is the caller's)."""


def is_gradient(name: str) -> bool:
    """A gradient of the loss or cost: ``delta…``, ``d…`` (``dW2``, ``dLdX``) or ``J_L_…``."""
    return name.startswith(("d", "J_L_"))


def relu_layers(problem: Problem) -> list[tuple[str, FloatArray, FloatArray]]:
    """Each relu layer's name ``z``, its input ``z`` and the gradient ``g = ∂L/∂a`` reaching
    its output, both ``units × B``, from one forward and one backward pass."""
    from ..backprop import backward_steps

    if not isinstance(problem, ColumnProblem):
        return []
    cache = forward(problem.net, problem.params)
    return [
        (step.node.input, flat(cache.values[step.node.input]), flat(step.g))
        for step in backward_steps(problem.net, problem.params, cache)
        if step.node.kind.name == "relu"
    ]


def lifeless(problem: Problem, questions: Sequence[Question], exercise_set: str) -> list[str]:
    """Why a draw is too dead to be a variant (empty when it is lively): a relu layer with
    fewer than half of its units active (``z > 0``) on any example; relu layers none of which
    has an inactive unit the gradient reaches (where a forgotten ``relu'`` shows); a gradient
    answer (:func:`is_gradient`, not ``sparse`` in :data:`STRUCTURE`; for a set without a
    structure, such as ``network``, a parameter's gradient ``dW1``) more than half zeros.
    The relu tests come first: they are cheap and fail most often. A relu layer may be all
    active (``relu' = 1`` wherever the gradient reaches): the key then lists no forgotten
    ``relu'`` for it, since that gives the right numbers, and another layer shows the mistake;
    the walk-through's two-unit layer 2 could not otherwise keep ``dW2`` at most half zeros."""
    out: list[str] = []
    relus = relu_layers(problem)
    for name, z, _ in relus:
        active = np.any(z > 0, axis=1)
        if 2 * int(active.sum()) < active.size:
            out.append(f"{name}: {int(active.sum())} of {active.size} relu units active")
    if relus and not any(np.any((z <= 0) & (g != 0)) for _, z, g in relus):
        out.append("relu: no inactive unit the gradient reaches, a forgotten relu' cannot show")
    if out:
        return out
    sparse = STRUCTURE.get(exercise_set, Structure()).sparse
    parameters = set(problem.net.parameter_names) if isinstance(problem, ColumnProblem) else set()
    refs = references(problem)
    for q in questions:
        # a caller's network (no STRUCTURE) may route gradients sparsely (max pooling): there
        # only the parameters' gradients are held to the rule
        ruled = is_gradient(q.name) if exercise_set in STRUCTURE else q.name[1:] in parameters
        if ruled and q.name.startswith(("d", "J_L_")) and q.name not in sparse and q.name in refs:
            zeros, size = int(np.count_nonzero(refs[q.name] == 0)), refs[q.name].size
            if 2 * zeros > size:
                out.append(f"{q.name}: {zeros} of {size} entries zero")
    return out


def draw_variant(
    title: str,
    maker: Any,
    questions: tuple[Question, ...],
    seed: int | str,
    batch: int,
    exercise_set: str,
    vec: str = "row",
) -> Exercise:
    """Draw values from ``seed`` (a whole number or a student id, see :func:`variant_seed`)
    until the draw is lively (:func:`lifeless`) and every question discriminates in the
    flattening ``vec``, or raise :class:`ExerciseFileError` saying why no draw did. The
    exercise records ``seed`` as :func:`student_id` normalises it."""
    from .exercise import _check_questions

    ident, number = student_id(seed), variant_seed(seed)
    last: list[str] = []
    for attempt in range(MAX_DRAWS):
        rng = np.random.default_rng([number, attempt])
        problem = maker.draw(rng, batch)
        if isinstance(problem, ColumnProblem):
            try:
                check_finite(problem.net, problem.params)
            except JacobiansError:
                continue
        last = lifeless(problem, questions, exercise_set)
        if last:
            continue
        exercise = Exercise(title, problem, questions, exercise_set, ident, vec)
        _check_questions(exercise, "exercise")
        last = problems(exercise.key)
        if not last:
            return exercise
    raise ExerciseFileError(
        message(
            "exercise",
            f"values that tell every right answer from the known mistakes, with every relu "
            f"layer at least half active and every gradient at most half zeros, within "
            f"{MAX_DRAWS} draws",
            f"none; the last draw failed on {'; '.join(last[:3])}",
            "use wider layers, or an activation without dead units",
        )
    )
