"""The layer protocol: what every kind of layer knows about itself, and nothing else does.

A *kind* (``dense``, ``conv2d``, ``maxpool``, ``relu``, …) is one entry of a network spec. It
knows:

- its arguments (the dataclass fields of the kind, with their defaults and checks), so that
  the spec parser and the JSON description need no table of their own;
- its shapes: :meth:`Kind.out_shape` and :meth:`Kind.parameter_shapes` for one example's input
  shape, each refusing an input it cannot take with a message that says what to do;
- its parameters' initial values (:meth:`Kind.init`, one role at a time);
- its forward pass on a batch (:meth:`Kind.forward`; the batch on the last axis);
- its Jacobians (:meth:`Kind.jacobians`): ``"input"`` → ``∂vec(out)/∂vec(in)`` and each
  parameter role → ``∂vec(out)/∂vec(θ)``, as :mod:`jacobians.structured` objects that become
  dense or sparse on request. Given a batch of ``B`` examples they are the *batch* Jacobians
  (``vec`` over the batch-last array); for ``B = 1`` they are one example's, the matrices of
  NOTATION.md;
- its compact backward pass (:meth:`Kind.backward`): the output gradient in, the input
  gradient and the parameter gradients out, by the familiar formulas (``δ aᵀ``, ``Δ U``, the
  transposed correlation, …) and no Jacobian;
- where its derivative jumps (:meth:`Kind.crosses_kink`), for the numerical route;
- how to say what each Jacobian is (:meth:`Kind.structure`), for the report.

The routes, the composer, the report and the checker iterate over layers and call these; none
of them knows what a convolution is.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from .._typing import FloatArray
from ..activations import number_text
from ..errors import ShapeError, message, shape_str
from ..structured import Structured

Shape = tuple[int, ...]
Params = Mapping[str, FloatArray]
"""A layer's parameter values by role (``{"W": …, "b": …}``)."""


def show(shape: Shape) -> str:
    """How a tensor's shape reads in messages: ``a vector of 10``, ``an image 4×8×8``."""
    if len(shape) == 1:
        return f"a vector of {shape[0]}"
    if len(shape) == 3:
        return f"an image {shape_str(shape)}"
    if len(shape) == 2:
        return f"a sequence {shape_str(shape)}"
    return f"a tensor {shape_str(shape)}"


def spec_value(value: object) -> str:
    """An argument as a spec writes it: ``3``, ``0.2``, ``true``."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return number_text(value)
    return str(value)


def argument(
    minimum: float | None = None,
    help: str = "",
    above: bool = False,
    below: float | None = None,
    **kwargs: Any,
) -> Any:
    """A kind's argument: a dataclass field with its bounds — at least ``minimum`` (more than
    it with ``above``), less than ``below`` — and a line of help."""
    metadata = {"minimum": minimum, "above": above, "below": below, "help": help}
    return dataclasses.field(metadata=metadata, **kwargs)


@dataclass(frozen=True)
class Kind:
    """A kind of layer with its arguments (subclasses are frozen dataclasses whose fields are
    the arguments, in the order a spec gives them positionally)."""

    name: ClassVar[str] = "?"
    parametric: ClassVar[bool] = False
    """A parametric layer followed by an activation is one numbered layer (``z[l]``, ``a[l]``)."""
    roles: ClassVar[tuple[str, ...]] = ()
    """Parameter roles in the order they are named, drawn and written (``("W", "b")``)."""
    state: ClassVar[tuple[str, ...]] = ()
    """What a run fixes for the layer besides parameters, with the batch: dropout's mask. It is
    drawn from the run's seed (:meth:`draw`), written with the parameters, never differentiated."""
    nouns: ClassVar[dict[str, tuple[str, str]]] = {
        "W": ("weight", "weights"),
        "b": ("bias", "biases"),
    }
    """How the report counts each role's entries (``22 weights + 7 biases``)."""
    activation: ClassVar[bool] = False
    """True for the activations, which join a parametric layer before them."""
    summary: ClassVar[str] = ""
    """One line for ``jacobians layers``: the forward map; its Jacobians."""
    block: ClassVar[bool] = False
    """True for a block (``residual(…)``): a sequence of inner layers (:attr:`inner_kinds`)
    whose output is added to the block's input; the network builds and runs them."""
    couples_examples: ClassVar[bool] = False
    """True when an output depends on other examples of the batch (batch norm): there is no
    per-example chain then, only the batch Jacobian."""
    differentiable_input: ClassVar[bool] = True
    """False for a kind whose input is not a real number to differentiate (an embedding's
    token ids): it has no input Jacobian, and it must be the network's first layer."""
    parts: ClassVar[tuple[tuple[str, str], ...]] = ()
    """A layer made of steps (attention) names the Jacobians of its steps as pairs of local
    tensor names, output first: ``("Y", "A")`` is ``∂vec(Y)/∂vec(A)``; ``Y`` is the layer's
    output, ``X`` its input, a role its parameter, any other name an intermediate of the layer
    (shaped by :meth:`part_shapes`). :meth:`jacobians` returns each under ``"Y_A"``, and the
    layer's own Jacobians are products and sums of them."""
    row_blocks: ClassVar[tuple[tuple[str, str], ...]] = ()
    """The :attr:`parts` whose Jacobian is block diagonal, one block per row of the output
    (attention's softmax of each row, ``("A", "S")``): each row's block is a matrix of its own."""
    input_paths: ClassVar[tuple[tuple[str, ...], ...]] = ()
    """For a layer made of steps, the chains of step Jacobians whose sum is ``∂Y/∂X``
    (attention: through ``Q``, ``K`` and ``V``): what a dense ``∂Y/∂X`` costs to build."""
    role_steps: ClassVar[dict[str, tuple[str, ...]]] = {}
    """For a layer made of steps, the chain of step Jacobians that makes ``∂Y/∂θ`` for a
    parameter role (attention's ``Wq``: ``("Y_A", "A_S", "S_Q", "Q_Wq")``): a gradient's chain
    shows, counts and multiplies these instead of their product."""

    @property
    def inner_kinds(self) -> tuple[Kind, ...]:
        """A block's own sequence (empty for every other kind)."""
        return ()

    @classmethod
    def parse(cls, positional: Sequence[str], keywords: dict[str, str], where: str) -> Kind:
        """The kind from a spec's arguments (each checked by its field); a block parses its
        arguments as a spec of its own."""
        from .registry import build

        return build(cls, positional, keywords, where)

    # --- description ---------------------------------------------------------------------
    def arguments(self) -> dict[str, Any]:
        """The arguments by name, as the JSON description and the spec show them."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def spec(self) -> str:
        """The entry as a spec writes it: ``conv2d(4, 3, padding=1)``, ``relu``."""
        parts: list[str] = []
        fields = dataclasses.fields(self)
        for f in fields:
            value = getattr(self, f.name)
            required = f.default is dataclasses.MISSING
            if not required and (value is None or value == f.default):
                continue
            positional = required or len(fields) == 1
            parts.append(spec_value(value) if positional else f"{f.name}={spec_value(value)}")
        return f"{self.name}({', '.join(parts)})" if parts else self.name

    def describe(self) -> dict[str, Any]:
        """``{"kind": "conv2d", "out_channels": 4, "kernel": 3, "stride": 1, "padding": 0}``."""
        return {"kind": self.name, **self.arguments()}

    # --- shapes and values ---------------------------------------------------------------
    def out_shape(self, in_shape: Shape) -> Shape:
        """One example's output shape; raises :class:`~jacobians.errors.ShapeError` for an
        input this kind cannot take."""
        return in_shape

    def parameter_shapes(self, in_shape: Shape) -> dict[str, Shape]:
        """Each role's shape for this input shape (``{}`` without parameters)."""
        return {}

    def part_shapes(self, in_shape: Shape) -> dict[str, Shape]:
        """One example's shape of each intermediate tensor named in :attr:`parts`."""
        return {}

    def intermediates(self, params: Params, a: FloatArray) -> dict[str, FloatArray]:
        """The intermediate tensors of :meth:`part_shapes` by local name, for every example of
        ``a`` (batch last); ``{}`` for a layer not made of steps."""
        return {}

    def intermediate_gradients(
        self, params: Params, a: FloatArray, g: FloatArray, mistake: str | None = None
    ) -> dict[str, FloatArray]:
        """Each example's gradient at each intermediate (``dA`` under ``"A"``, batch last) from
        ``g``, its gradient at the output, by the compact backward; with ``mistake`` (a key of
        :attr:`mistakes`) as a student who makes it computes them."""
        return {}

    def draw_input(self, in_shape: Shape, batch: int, rng: np.random.Generator) -> FloatArray:
        """A random run's ``x`` when this kind is first (batch last): standard normal entries;
        an embedding draws token ids."""
        return rng.standard_normal((*in_shape, batch))

    def check_input(self, x: FloatArray) -> None:
        """Raise :class:`~jacobians.errors.InvalidValueError` unless ``x`` is an input this kind
        can take as the network's first layer (an embedding's whole ids below ``V``)."""

    def forward_cost(self, in_shape: Shape) -> int:
        """Multiply–adds of one example's forward pass (0 for the cheap elementwise kinds):
        what the work estimates of :mod:`jacobians.comparison` add up."""
        return 0

    def init(self, role: str, in_shape: Shape, rng: np.random.Generator) -> FloatArray:
        """A reproducible initial value for ``role``."""
        raise NotImplementedError(f"{self.name} has no parameter {role!r}")

    def draw(self, role: str, in_shape: Shape, batch: int, rng: np.random.Generator) -> FloatArray:
        """A reproducible value for the state ``role``, one per example (batch last)."""
        raise NotImplementedError(f"{self.name} has no state {role!r}")

    def forward(self, params: Params, a: FloatArray) -> FloatArray:
        """The output for every example of ``a`` (batch on the last axis)."""
        raise NotImplementedError

    # --- derivatives ---------------------------------------------------------------------
    def jacobians(self, params: Params, a: FloatArray, out: FloatArray) -> dict[str, Structured]:
        """``"input"`` → ``∂vec(out)/∂vec(a)`` and each role → ``∂vec(out)/∂vec(θ)`` for the
        batch ``a`` (``out`` its forward value): the batch Jacobians, which for one example
        (``B = 1``) are that example's Jacobians."""
        raise NotImplementedError

    def backward(
        self, params: Params, a: FloatArray, out: FloatArray, g: FloatArray, need_input: bool = True
    ) -> tuple[FloatArray | None, dict[str, FloatArray]]:
        """The compact backward pass: ``g`` holds each example's gradient with respect to its
        output (the shape of ``out``); returns each example's gradient with respect to its
        input (the shape of ``a``; ``None`` unless ``need_input``) and each parameter's
        gradient summed over the examples."""
        raise NotImplementedError

    mistakes: ClassVar[dict[str, str]] = {}
    """Mistakes made in this kind's backward pass, by id, with the sentence the exercise
    checker shows (:meth:`mistaken_backward` makes each one)."""

    def mistaken_backward(
        self,
        mistake: str,
        params: Params,
        a: FloatArray,
        out: FloatArray,
        g: FloatArray,
        after: FloatArray | None = None,
    ) -> tuple[FloatArray, dict[str, FloatArray]]:
        """:meth:`backward` with ``mistake`` (a key of :attr:`mistakes`) made: what a student
        who makes it computes (``after`` is the output of the activation that follows the
        layer, ``a[l]``, when one does). The exercise checker propagates it to every gradient
        that depends on it, and recognises it in an answer."""
        raise KeyError(mistake)

    def mistaken_parts(self, mistake: str, params: Params, a: FloatArray) -> dict[str, FloatArray]:
        """One example's (``a`` batch last, ``B = 1``) step Jacobians that ``mistake`` changes,
        dense, by :attr:`parts` key, as a student who makes it writes them (``{}``: none)."""
        return {}

    def crosses_kink(self, inputs: tuple[FloatArray, FloatArray, FloatArray]) -> bool:
        """Whether a finite-difference stencil, whose three evaluations gave this layer the
        inputs ``inputs`` (at ``θ − h``, ``θ``, ``θ + h``), crosses a point where the layer's
        derivative jumps (a relu input changing sign, a max-pool window changing its maximum)."""
        return False

    kink_text: ClassVar[str] = ""
    """What a kink of this kind is, for the report (``a relu input within h of 0``)."""

    def structure(self, role: str, node: NodeNames) -> str:
        """What the Jacobian with respect to ``role`` (or ``"input"``) is made of, in the
        notation (``I_2 ⊗ a[1]ᵀ``, ``W[3]``, ``diag(relu'(z[1]))``)."""
        return ""

    def caveat(self, node: NodeNames, batch: int) -> str | None:
        """What the report should say about this layer with ``batch`` examples, if anything
        (batch norm over a batch of one outputs ``β`` whatever its input)."""
        return None


@dataclass(frozen=True)
class NodeNames:
    """How a layer's tensors are written in the report: ``layer`` ``l``, its input ``a[1]``,
    its output ``z[2]`` and its parameters by role (``{"W": "W[2]"}``); shapes of one example;
    ``batch`` when the report shows the batch Jacobians (a network that couples examples)."""

    layer: int
    input: str
    output: str
    in_shape: Shape
    out_shape: Shape
    parameters: Mapping[str, str]
    batch: int = 1
    label: str = ""
    """The layer's label in names (``2``, ``3_1``): an intermediate ``A`` of it is ``A[2]``."""

    def local(self, name: str) -> str:
        """How a :attr:`Kind.parts` name reads: ``Y`` the output, ``X`` the input, a role its
        parameter, any other an intermediate of the layer (``A`` → ``A[2]``)."""
        if name == "Y":
            return self.output
        if name == "X":
            return self.input
        return self.parameters.get(name) or f"{name}[{self.label or self.layer}]"


def need(condition: bool, what: str, expected: str, got: str, hint: str = "") -> None:
    """Raise :class:`ShapeError` with the standard message unless ``condition``."""
    if not condition:
        raise ShapeError(message(what, expected, got, hint))


def batch_of(a: FloatArray) -> int:
    """``B``: the size of the last axis."""
    return int(a.shape[-1])
