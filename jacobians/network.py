"""A network: an input shape, a sequence of layers (``nn.Sequential`` style) and a loss.

``conv2d(4, 3, padding=1), relu, maxpool(2), flatten, dense(10), softmax`` on inputs ``1x8x8``;
the dense shorthand ``3-4-2-1`` with ``relu, relu, sigmoid`` is the sequence
``dense(4), relu, dense(2), relu, dense(1), sigmoid`` on inputs of ``3``.

Numbering and names (NOTATION.md, "Beyond dense layers"): a parametric layer followed directly
by an activation is **one** layer ``l``, with ``z[l]`` the parametric output and
``a[l] = g(z[l])``; every other entry is a layer of its own with output ``a[l]``. Layers are
numbered from 1 in the order written, ``a[0] = x``, and parameters carry their layer's number
(``W1``, ``b1``). Each entry becomes a :class:`Node`: the kind applied to the tensor named
``input``, giving the tensor named ``output``.

A batch stacks examples on a new **last** axis; the cost is the mean of the examples' losses,
``J = (1/B) Σ_i L(ŷ(i), y(i))``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from math import prod
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from ._typing import FloatArray
from .activations import Activation, get_activation
from .errors import InvalidValueError, ShapeError, message
from .layers.activation import from_rule
from .layers.base import Kind, NodeNames, Params, Shape, show
from .layers.dense import Dense
from .layers.registry import parse_layers
from .losses import FUSED, FusedOutput, Loss, get_loss

if TYPE_CHECKING:
    from .parameters import Parameters

DEFAULT_SIZES = (3, 4, 2, 1)
DEFAULT_ACTIVATIONS = ("relu", "relu", "sigmoid")
DEFAULT_LOSS = "bce"


def parse_sizes(sizes: str | Sequence[int]) -> tuple[int, ...]:
    """``'3-4-2-1'``, ``'3,4,2,1'`` or ``[3, 4, 2, 1]`` → ``(3, 4, 2, 1)``.

    >>> parse_sizes("3-4-2-1")
    (3, 4, 2, 1)
    """
    if isinstance(sizes, str):
        text = sizes.strip()
        # commas separate when present (so "3,-4,1" reads as -4 and is refused); else - x ×
        parts = [p.strip() for p in (text.split(",") if "," in text else re.split(r"[-x×]", text))]
        if not all(re.fullmatch(r"[+-]?\d+", p) for p in parts):
            raise InvalidValueError(
                message("sizes", "whole numbers such as 3,4,2,1 or 3-4-2-1", repr(sizes))
            )
        values = [int(p) for p in parts]
    else:
        values = list(sizes)
        if not all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in values):
            raise InvalidValueError(message("sizes", "whole numbers", repr(sizes)))
    if len(values) < 2:
        raise InvalidValueError(
            message("sizes", "at least two sizes (inputs and outputs)", repr(sizes))
        )
    if min(values) < 1:
        raise InvalidValueError(message("sizes", "positive sizes", repr(sizes)))
    return tuple(int(v) for v in values)


def parse_input(shape: str | int | Sequence[int]) -> Shape:
    """One example's shape: ``'3'`` (a vector), ``'1x28x28'`` (channels × height × width).

    >>> parse_input("1x28x28"), parse_input(3)
    ((1, 28, 28), (3,))
    """
    if isinstance(shape, bool):
        raise InvalidValueError(message("input", "whole numbers", repr(shape)))
    if isinstance(shape, int | np.integer):
        values = [int(shape)]
    elif isinstance(shape, str):
        parts = [p.strip() for p in re.split(r"[x×,]", shape.strip())]
        if not all(re.fullmatch(r"[+-]?\d+", p) for p in parts):
            raise InvalidValueError(
                message(
                    "input",
                    "a shape such as 3 or 1x28x28 (channels×height×width)",
                    repr(shape),
                )
            )
        values = [int(p) for p in parts]
    else:
        values = list(shape)
        if not all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in values):
            raise InvalidValueError(message("input", "whole numbers", repr(shape)))
    if values and min(values) < 1:
        raise InvalidValueError(message("input", "positive sizes", repr(shape)))
    if len(values) not in (1, 2, 3):
        raise InvalidValueError(
            message(
                "input",
                "n (a vector), T×d (a sequence: tokens × features) or C×H×W (an image: "
                "channels, height, width)",
                repr(shape),
            )
        )
    return tuple(int(v) for v in values)


def parse_names(names: str | Sequence[str], what: str = "activations") -> list[str]:
    """``'relu,relu,sigmoid'`` or a sequence → a list of names; an empty name is refused."""
    parts = names.split(",") if isinstance(names, str) else [str(n) for n in names]
    out = [n.strip() for n in parts]
    empty = [i for i, n in enumerate(out, start=1) if not n]
    if empty:
        raise InvalidValueError(
            message(
                what,
                "comma-separated names",
                f"an empty name in position {empty[0]} of {names!r}"
                if isinstance(names, str)
                else f"an empty name in position {empty[0]}",
            )
        )
    return out


def default_loss(last: Kind, output: Shape) -> str:
    """The loss a network ending in ``last`` with outputs of shape ``output`` gets unless told:
    ``ce`` after softmax, ``bce`` after sigmoid on a vector, ``mse`` otherwise."""
    if len(output) != 1:
        return "mse"
    return {"softmax": "ce", "sigmoid": "bce"}.get(last.name, "mse")


def display(name: str) -> str:
    """A tensor's name as the notation writes it: ``z2`` → ``z[2]``, ``W3_1`` → ``W[3_1]``."""
    match = re.fullmatch(r"([A-Za-z]+)(\d[\d_]*)", name)
    return f"{match.group(1)}[{match.group(2)}]" if match else name


_NOTHING: Params = MappingProxyType({})
"""The values of a layer with neither parameters nor state: one shared, read-only mapping."""

Pairs = tuple[tuple[str, str], ...]
"""``(role, name)`` pairs: ``(("W", "W1"), ("b", "b1"))``."""


@dataclass(frozen=True)
class Node:
    """One spec entry in place: ``kind`` applied to the tensor ``input`` gives ``output``.

    ``entry`` is the 1-based position in the spec, ``layer`` the notation's ``l``; shapes are
    one example's; ``parameters`` maps each role to its name (``{"W": "W1", "b": "b1"}``)."""

    kind: Kind
    entry: int
    layer: int
    input: str
    output: str
    in_shape: Shape
    out_shape: Shape
    parameters: Mapping[str, str] = field(hash=False)
    state: Mapping[str, str] = field(hash=False, default_factory=dict)
    """What the run fixes for the layer besides parameters, role → name (``{"mask": "mask3"}``)."""
    inner: tuple[Node, ...] = ()
    """A block's own sequence (``residual(…)``), numbered ``l_1, l_2, …``: its output is
    added to the block's input."""
    label: str = ""
    """The layer's label in names: ``3``, or ``3_1`` inside the block of layer 3."""

    def __post_init__(self) -> None:
        if not self.label:
            object.__setattr__(self, "label", str(self.layer))

    @property
    def inside(self) -> tuple[Node, ...]:
        """A block's own layers, and theirs, in order (empty for any other layer)."""
        return tuple(m for inner in self.inner for m in (inner, *inner.inside))

    @property
    def names(self) -> NodeNames:
        """How the report writes this node's tensors (``a[1]``, ``z[2]``, ``W[2]``)."""
        return NodeNames(
            self.layer,
            display(self.input),
            display(self.output),
            self.in_shape,
            self.out_shape,
            {role: display(name) for role, name in self.parameters.items()},
            label=self.label,
        )

    @property
    def jacobian_roles(self) -> tuple[str, ...]:
        """What the layer's Jacobians are with respect to: ``input`` (unless its input is not
        differentiable), each role, and each step of a layer made of steps (``Y_A``)."""
        kind = self.kind
        first = ("input",) if kind.differentiable_input else ()
        return (*first, *kind.roles, *(f"{out}_{of}" for out, of in kind.parts))

    def tensor(self, local: str) -> str:
        """A :attr:`~jacobians.layers.base.Kind.parts` name as a tensor name: ``Y`` the output,
        ``X`` the input, a role its parameter, ``A`` of layer 2 ``A2``."""
        if local == "Y":
            return self.output
        if local == "X":
            return self.input
        return self.parameters.get(local) or f"{local}{self.label}"

    def parameter_factors(self, role: str) -> list[str]:
        """The factors of ``∂out/∂θ`` in a chain: the layer's Jacobian ``J_z2_W2``, or, for a
        layer made of steps, their Jacobians (``J_a1_A1``, ``J_A1_S1``, ``J_S1_Q1``,
        ``J_Q1_Wq1``)."""
        steps = self.kind.role_steps.get(role)
        if steps is None:
            return [self.jacobian_name(role)]
        return [self.jacobian_name(step) for step in steps]

    def jacobian_name(self, role: str) -> str:
        """``J_z2_a1`` for the input, ``J_z2_W2`` for a parameter, ``J_A2_S2`` for a step
        ``A_S`` of the layer."""
        if role == "input":
            return f"J_{self.output}_{self.input}"
        if role in self.parameters:
            return f"J_{self.output}_{self.parameters[role]}"
        out, of = role.split("_", 1)
        return f"J_{self.tensor(out)}_{self.tensor(of)}"


def _nodes(
    kinds: Sequence[Kind],
    input_shape: Shape,
    source: str = "a0",
    block: tuple[int, str, str] | None = None,
) -> tuple[Node, ...]:
    """Number the entries (a parametric entry followed by an activation is one layer), name
    their tensors and parameters, and check every shape, naming the entry that fails. Inside
    the block labelled ``l`` of outer layer ``k`` (``block = (k, "l", "layers[3] …: ")``) the
    layers are ``l_1, l_2, …`` and read their first input from ``source``."""
    nodes: list[Node] = []
    shape, count, i = input_shape, 0, 0
    while i < len(kinds):
        count += 1
        layer = block[0] if block else count
        label = f"{block[1]}_{count}" if block else str(count)
        grouped = kinds[i].parametric and i + 1 < len(kinds) and kinds[i + 1].activation
        outputs = [f"z{label}", f"a{label}"] if grouped else [f"a{label}"]
        for offset, output in enumerate(outputs):
            kind = kinds[i + offset]
            where = f"{block[2] if block else ''}layers[{i + offset + 1}] {kind.spec()!r}: "
            inner: tuple[Node, ...] = ()
            if kind.block:  # its own layers first: an error names the inner layer
                inner = _nodes(kind.inner_kinds, shape, source, (layer, label, where))
            if not kind.differentiable_input and (block or nodes):
                raise ShapeError(
                    message(
                        f"{where}position",
                        f"the first layer ({kind.name} takes the network's input, token ids)",
                        f"after {nodes[-1].kind.spec()!r}" if nodes else "inside a block",
                        f"start the layers with {kind.name}(…)",
                    )
                )
            try:
                out_shape = kind.out_shape(shape)
            except ShapeError as e:
                raise ShapeError(f"{where}{e}") from None
            names = {role: f"{role}{label}" for role in kind.roles}
            state = {role: f"{role}{label}" for role in kind.state}
            nodes.append(
                Node(
                    kind,
                    i + offset + 1,
                    layer,
                    source,
                    output,
                    shape,
                    out_shape,
                    names,
                    state,
                    inner,
                    label,
                )
            )
            shape, source = out_shape, output
        i += len(outputs)
    return tuple(nodes)


@dataclass(frozen=True)
class Network:
    """The architecture: one example's input shape, the nodes, and the loss (no values)."""

    input_shape: Shape
    nodes: tuple[Node, ...]
    loss: Loss

    @classmethod
    def from_spec(
        cls,
        sizes: str | Sequence[int] = DEFAULT_SIZES,
        activations: str | Sequence[str] = DEFAULT_ACTIVATIONS,
        loss: str = DEFAULT_LOSS,
    ) -> Network:
        """The dense shorthand: ``3-4-2-1`` with one activation per layer.

        >>> Network.from_spec("3-4-2-1", "relu,relu,sigmoid", "bce").parameter_count
        29
        """
        n = parse_sizes(sizes)
        names = parse_names(activations)
        if len(names) != len(n) - 1:
            spec = "-".join(map(str, n))
            raise InvalidValueError(
                message(
                    "activations",
                    f"{len(n) - 1} names, one per layer of {spec}",
                    f"{len(names)}: {','.join(names) or '(none)'}",
                )
            )
        rules = [get_activation(a, f"activations[{i}]") for i, a in enumerate(names, 1)]
        kinds: list[Kind] = []
        for units, rule in zip(n[1:], rules, strict=True):
            kinds += [Dense(units), from_rule(rule)]
        net = cls((n[0],), _nodes(kinds, (n[0],)), get_loss(loss))
        net._check_loss()
        return net

    @classmethod
    def from_layers(
        cls,
        layers: str | Sequence[str | Kind],
        input_shape: str | int | Sequence[int],
        loss: str | None = None,
    ) -> Network:
        """A network from a spec and one example's input shape.

        >>> net = Network.from_layers("conv2d(2, 2), relu, maxpool(2), flatten, dense(1), sigmoid",
        ...                           "1x4x4")
        >>> [(n.output, n.out_shape) for n in net.nodes][:3], net.parameter_names
        ([('z1', (2, 3, 3)), ('a1', (2, 3, 3)), ('a2', (2, 1, 1))], ('W1', 'b1', 'W4', 'b4'))
        """
        shape = parse_input(input_shape)
        kinds = parse_layers(layers)
        if not kinds:
            raise InvalidValueError(message("layers", "at least one layer", "none"))
        nodes = _nodes(kinds, shape)
        net = cls(shape, nodes, get_loss(loss or default_loss(kinds[-1], nodes[-1].out_shape)))
        net._check_loss()
        return net

    @classmethod
    def from_description(cls, description: Mapping[str, Any], loss: str | None = None) -> Network:
        """The network a ``compare --json`` output describes (``input``, ``layers``, ``loss``);
        ``loss`` overrides the file's."""
        from .layers.registry import kinds_from_description

        missing = [k for k in ("input", "layers") if k not in description]
        if missing:
            raise InvalidValueError(
                message(
                    "network",
                    "input and layers, as compare --json writes them",
                    f"no {' and no '.join(missing)}",
                )
            )
        kinds = kinds_from_description(description["layers"])
        return cls.from_layers(kinds, description["input"], loss or description.get("loss"))

    def _check_loss(self) -> None:
        if not self.parametric:
            raise InvalidValueError(
                message(
                    "layers",
                    "at least one layer with parameters (dense, conv2d)",
                    f"only {self.layer_spec}",
                    "nothing would have a gradient",
                )
            )
        required, last = self.loss.output, self.nodes[-1]
        got = last.kind.spec() if last.kind.activation else last.kind.name
        if required is not None and len(self.output_shape) != 1:
            raise ShapeError(
                message(
                    "loss",
                    f"a vector output for {self.loss.name!r} ({self.loss.why_output})",
                    show(self.output_shape),
                    f"end the network in flatten, dense(n), {required}; or use mse or sum",
                )
            )
        if required is not None and last.kind.name != required:
            other = "ce with softmax" if required == "sigmoid" else "bce with sigmoid"
            raise InvalidValueError(
                message(
                    "loss",
                    f"a {required} output for {self.loss.name!r} ({self.loss.why_output})",
                    f"{got!r}",
                    f"end the network in {required}, or use {other}, mse or sum",
                )
            )

    # --- the layers ----------------------------------------------------------------------
    @property
    def depth(self) -> int:
        """``L``, the number of the last layer."""
        return self.nodes[-1].layer

    @cached_property
    def all_nodes(self) -> tuple[Node, ...]:
        """Every node, a block's own after it: in the order they compute their outputs'
        names (``a2``, then ``z3_1``, ``a3_1``, ``a3_2`` inside ``residual`` ``a3``)."""

        return tuple(m for node in self.nodes for m in (node, *node.inside))

    @cached_property
    def shapes(self) -> dict[str, Shape]:
        """One example's shape of every tensor: ``a0``, ``z1``, ``a1``, …."""
        out = {"a0": self.input_shape}
        out.update({node.output: node.out_shape for node in self.all_nodes})
        return out

    @cached_property
    def first_trained(self) -> int:
        """The index of the first outer node with parameters, its own or inside its block: a
        backward pass for the parameters' gradients needs no gradient below it (``len(nodes)``
        when none has any)."""
        for j, node in enumerate(self.nodes):
            if any(m.parameters for m in (node, *node.inside)):
                return j
        return len(self.nodes)

    @cached_property
    def gradient_names(self) -> dict[str, tuple[str, Pairs]]:
        """For each node with parameters, by its output's name: the name of its ``δ`` and,
        role by role, of its parameters' gradients (``"z2": ("delta2", (("W", "dW2"),
        ("b", "db2")))``); named once, read by every compact backward pass."""
        return {
            node.output: (
                f"delta{node.label}",
                tuple((role, f"d{name}") for role, name in node.parameters.items()),
            )
            for node in self.all_nodes
            if node.parameters
        }

    @cached_property
    def unbound(self) -> dict[str, Params]:
        """Every node's output name, each with an empty, read-only mapping: :func:`bind`'s
        start, the value of a node with neither parameters nor state."""
        return {node.output: _NOTHING for node in self.all_nodes}

    @cached_property
    def roles(self) -> tuple[tuple[str, Pairs, Pairs], ...]:
        """For each node with parameters or state, in :attr:`all_nodes` order: its output's name
        and its parameters' and its state's ``(role, name)`` pairs (``("z1", (("W", "W1"),
        ("b", "b1")), ())``); what :func:`bind` reads on every pass."""
        return tuple(
            (node.output, tuple(node.parameters.items()), tuple(node.state.items()))
            for node in self.all_nodes
            if node.parameters or node.state
        )

    @property
    def output_shape(self) -> Shape:
        """The shape of ``ŷ = a[L]`` for one example."""
        return self.nodes[-1].out_shape

    @property
    def sizes(self) -> tuple[int, ...]:
        """``n_0, n_1, …, n_L``: the number of entries of ``a[0] … a[L]``."""
        return (prod(self.input_shape), *(prod(self.shapes[f"a{l}"]) for l in self.layers()))

    def layers(self) -> range:
        """``1 … L``."""
        return range(1, self.depth + 1)

    @property
    def parametric(self) -> tuple[Node, ...]:
        """The nodes with parameters, in order (a block's inside its block)."""
        return tuple(node for node in self.all_nodes if node.kind.roles)

    @cached_property
    def parameter_shapes(self) -> dict[str, Shape]:
        """Every parameter's shape by name, in layer order (``W1``, ``b1``, ``W2``, …)."""
        out: dict[str, Shape] = {}
        for node in self.parametric:
            shapes = node.kind.parameter_shapes(node.in_shape)
            out.update({node.parameters[role]: shapes[role] for role in node.kind.roles})
        return out

    @cached_property
    def state_shapes(self) -> dict[str, Shape]:
        """The shape of one example of each layer's state (dropout's ``mask3``): its input's."""
        return {name: node.in_shape for node in self.all_nodes for name in node.state.values()}

    @property
    def parameter_names(self) -> tuple[str, ...]:
        """``('W1', 'b1', 'W2', 'b2', …)``."""
        return tuple(self.parameter_shapes)

    @property
    def parameter_count(self) -> int:
        """The number of scalar parameters (``Σ_l n_l·n_{l-1} + n_l`` for dense layers)."""
        return sum(prod(s) for s in self.parameter_shapes.values())

    def weight_shape(self, l: int) -> tuple[int, ...]:
        """The shape of ``W[l]`` (``n_l × n_{l-1}`` for a dense layer)."""
        return self.parameter_shapes[f"W{l}"]

    @property
    def activations(self) -> tuple[Activation, ...]:
        """The activation rules in order (one per layer in a dense network)."""
        return tuple(node.kind.rule for node in self.nodes if node.kind.activation)  # type: ignore[attr-defined]

    @property
    def is_dense(self) -> bool:
        """True for the dense shorthand's shape: vector input, every layer ``dense`` + an
        activation (what the symbolic package and the row layout know how to handle)."""
        kinds = [n.kind for n in self.nodes]
        return (
            len(self.input_shape) == 1
            and len(kinds) == 2 * self.depth
            and all(isinstance(k, Dense) for k in kinds[::2])
            and all(k.activation for k in kinds[1::2])
        )

    @property
    def spec(self) -> str:
        """``'3-4-2-1'`` for a dense network, else ``'1x8x8: conv2d(4, 3), relu, …'``."""
        if self.is_dense:
            return "-".join(map(str, self.sizes))
        return f"{'x'.join(map(str, self.input_shape))}: {self.layer_spec}"

    @property
    def layer_spec(self) -> str:
        """The layers as a spec writes them."""
        return ", ".join(node.kind.spec() for node in self.nodes)

    @cached_property
    def fused(self) -> FusedOutput | None:
        """The output pair whose ``∂L/∂z[L]`` is ``(a[L] − y)ᵀ``, if this network ends in one
        (looked up once: every backward pass asks)."""
        if len(self.nodes) < 2:
            return None
        return FUSED.get((self.nodes[-1].kind.name, self.loss.name))

    def describe(self) -> dict[str, Any]:
        """The network as plain data (for JSON): ``input``, ``layers`` (one object per spec
        entry: ``kind``, its arguments, ``parameters`` role → name, ``layer``, ``output``),
        ``loss``; for a dense network also ``sizes`` and ``activations``."""
        out: dict[str, Any] = {}
        if self.is_dense:
            out["sizes"] = list(self.sizes)
            out["activations"] = [a.name for a in self.activations]
        out["loss"] = self.loss.name
        out["input"] = list(self.input_shape)
        out["layers"] = [_describe(node) for node in self.nodes]
        return out


def _describe(node: Node) -> dict[str, Any]:
    """A layer's object in ``compare --json``: its kind and arguments, ``parameters`` (role →
    name), ``layer``, ``output``; a block's ``layers`` are its own sequence's objects."""
    out: dict[str, Any] = {**node.kind.describe()}
    if node.inner:
        out["layers"] = [_describe(inner) for inner in node.inner]
    out.update(parameters=dict(node.parameters), layer=node.label, output=node.output)
    if node.label.isdigit():
        out["layer"] = node.layer
    return out


@dataclass(frozen=True)
class Cache:
    """The forward pass: every tensor by name (``a0`` = ``x``, ``z1``, ``a1``, …), batch last."""

    values: dict[str, FloatArray]

    @property
    def output(self) -> FloatArray:
        """``ŷ = a[L]``."""
        return self.values[next(reversed(self.values))]

    @property
    def a(self) -> tuple[FloatArray, ...]:
        """``a[0] … a[L]``, indexed by layer (a block's own ``a[l_k]`` are not among them)."""
        layers = {int(k[1:]): v for k, v in self.values.items() if re.fullmatch(r"a\d+", k)}
        return tuple(layers[l] for l in sorted(layers))

    @property
    def z(self) -> tuple[FloatArray, ...]:
        """``z[l]`` indexed by layer (``z[0]`` and layers without ``z`` are empty)."""
        B = self.values["a0"].shape[-1]
        L = len(self.a) - 1
        return tuple(self.values.get(f"z{l}", np.empty((0, B))) for l in range(L + 1))


def bind(net: Network, params: Parameters) -> dict[str, Params]:
    """Every node's values by role (:meth:`~jacobians.parameters.Parameters.of`) by its output
    name, ``{"z1": {"W": W1, "b": b1}, "a1": {}, …}``: built once for a forward and a backward
    pass over the same parameters, which both read it (a layer with neither parameters nor
    state gets one shared empty, read-only mapping)."""
    values, state = params.values, params.state
    out = net.unbound.copy()
    for output, roles, held in net.roles:
        own: dict[str, FloatArray] = {}
        for role, name in roles:  # loops, as in Parameters.of: no comprehension's function
            own[role] = values[name]
        for role, name in held:
            own[role] = state[name]
        out[output] = own
    return out


def forward(
    net: Network,
    params: Parameters,
    base: Cache | None = None,
    start: int = 0,
    bound: Mapping[str, Params] | None = None,
) -> Cache:
    """Every node's output on the whole batch ``x``; with ``base``, the outputs of the nodes
    before ``start`` are taken from it (parameters that only node ``start`` and later use
    changed: the numerical route's perturbations). ``bound`` (:func:`bind` of ``params``)
    gives each node's values instead of building them."""
    values: dict[str, FloatArray] = {"a0": params.x}
    nodes = net.nodes
    if base is not None:
        for node in nodes[:start]:
            for inner in (*node.inner, node):
                values[inner.output] = base.values[inner.output]
        nodes = nodes[start:]
    for node in nodes:
        if node.inner or bound is None:
            _run(node, params, values, bound)
        else:  # _run's last line, one call fewer per layer
            values[node.output] = node.kind.forward(bound[node.output], values[node.input])
    return Cache(values)


def _run(
    node: Node,
    params: Parameters,
    values: dict[str, FloatArray],
    bound: Mapping[str, Params] | None = None,
) -> None:
    """One node's output into ``values``; a block runs its own sequence and adds its input."""
    if node.inner:
        for inner in node.inner:
            _run(inner, params, values, bound)
        values[node.output] = values[node.input] + values[node.inner[-1].output]
        return
    own = params.of(node) if bound is None else bound[node.output]
    values[node.output] = node.kind.forward(own, values[node.input])


def flat(value: FloatArray) -> FloatArray:
    """A batch-last tensor as ``size × B`` (each example a column)."""
    return value.reshape(-1, value.shape[-1])


def losses(net: Network, params: Parameters, cache: Cache | None = None) -> FloatArray:
    """Each example's loss, shape ``(B,)``; a fused output pair is evaluated from its logits."""
    cache = forward(net, params) if cache is None else cache
    y = flat(params.target(net))
    fused = net.fused
    if fused is not None:
        return fused.logit_value(flat(cache.values[net.nodes[-1].input]), y)
    return net.loss.value(flat(cache.output), y)


def cost(net: Network, params: Parameters, cache: Cache | None = None) -> float:
    """``J = (1/B) Σ_i L(ŷ(i), y(i))``."""
    return float(np.mean(losses(net, params, cache)))


def check_finite(net: Network, params: Parameters) -> None:
    """Raise :class:`InvalidValueError` where a forward value overflows or the loss (or its
    ``∂L/∂ŷ``) is infinite: no route can differentiate there.

    With bce only after sigmoid and ce only after softmax, both evaluated from the logits, an
    infinite loss comes from overflow: weights or inputs too large for float64.
    """
    with np.errstate(all="ignore"):
        cache = forward(net, params)
        for node in net.all_nodes:
            value = cache.values[node.output]
            if not np.all(np.isfinite(value)):
                where = tuple(int(v) for v in np.argwhere(~np.isfinite(value))[0])
                raise InvalidValueError(
                    message(
                        "parameters",
                        "finite values through the network",
                        f"{display(node.output)} = {value[where]} for example {where[-1]}",
                        "the values overflow float64: use smaller weights or inputs",
                    )
                )
        values = losses(net, params, cache)
        row = net.loss.gradient(flat(cache.output), flat(params.target(net)))
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        i = int(bad[0])
        raise InvalidValueError(
            message(
                "parameters",
                f"a finite {net.loss.name} loss",
                f"{values[i]} for example {i}",
                "the values overflow float64: use smaller weights or inputs",
            )
        )
    if net.fused is None and not np.all(np.isfinite(row)):
        i = int(np.argwhere(~np.isfinite(row))[0][1])
        raise InvalidValueError(
            message(
                "parameters",
                f"a finite ∂L/∂ŷ for {net.loss.name}",
                f"infinity for example {i}",
                "the values overflow float64: use smaller weights or inputs",
            )
        )


def check_compatible(net: Network, params: Parameters) -> None:
    """Raise if ``params`` does not fit ``net`` (shapes) or ``y`` is not what the loss accepts."""
    params.check_shapes(net)
    if net.loss.needs_target:
        if params.y is None:
            raise InvalidValueError(
                message("y", f"targets for loss {net.loss.name!r}", "none", "give y")
            )
        net.loss.validate_target(flat(params.y))
    elif params.y is not None and not np.all(np.isfinite(params.y)):
        raise InvalidValueError(message("y", "finite values", "NaN or infinity"))


__all__ = [
    "DEFAULT_ACTIVATIONS",
    "DEFAULT_LOSS",
    "DEFAULT_SIZES",
    "Cache",
    "Network",
    "Node",
    "bind",
    "check_compatible",
    "check_finite",
    "cost",
    "display",
    "forward",
    "losses",
    "parse_input",
    "parse_names",
    "parse_sizes",
]
