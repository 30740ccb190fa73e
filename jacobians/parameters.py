"""Parameter values by name (``W1``, ``b1``, …) and data ``x``, ``y``: made from a seed, or read
and checked.

Shapes (NOTATION.md): each parameter has the shape its layer gives it (a dense ``W[l]`` is
``n_l × n_{l-1}``, a convolution's ``W[l]`` is ``C_out × C_in × k × k``, every ``b[l]`` a vector;
a bias given as a column ``n × 1`` is accepted too). ``x`` holds one example (the input shape)
or a batch (the input shape × ``B``: examples on the **last** axis, as columns in the column
layout); ``y`` likewise with the output's shape (a bare number when it has one entry and
``B = 1``). Internally ``x`` and ``y`` always carry the batch axis.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from math import prod
from typing import TYPE_CHECKING

import numpy as np

from ._typing import FloatArray
from .errors import InvalidValueError, ParameterFileError, ShapeError, message, shape_str

if TYPE_CHECKING:
    from . import network
    from .network import Network

_NAME = re.compile(r"^(W|b)([1-9][0-9]*)$")


@dataclass(frozen=True, init=False, eq=False)
class Parameters:
    """Parameter values by name (``values``), ``x`` (input shape × ``B``) and ``y`` (output shape
    × ``B``, or ``None`` for a loss that ignores it).

    ``Parameters((W1, W2), (b1, b2), x, y)`` builds the values of a dense network;
    ``Parameters({"W1": …, "b1": …}, None, x, y)`` those of any network."""

    values: dict[str, FloatArray]
    x: FloatArray
    y: FloatArray | None
    state: dict[str, FloatArray]
    """What a run fixes besides its parameters: dropout's masks (``mask3``, batch last)."""

    def __init__(
        self,
        W: Sequence[FloatArray] | Mapping[str, FloatArray],
        b: Sequence[FloatArray] | None,
        x: FloatArray,
        y: FloatArray | None,
        state: Mapping[str, FloatArray] | None = None,
    ) -> None:
        if isinstance(W, Mapping):
            values = dict(W)
        else:
            values = {}
            for l, (w, v) in enumerate(zip(W, b or (), strict=True), start=1):
                values[f"W{l}"], values[f"b{l}"] = w, v
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "x", x)
        object.__setattr__(self, "y", y)
        object.__setattr__(self, "state", dict(state or {}))

    @property
    def W(self) -> tuple[FloatArray, ...]:
        """The weights ``W1, W2, …`` in layer order."""
        return tuple(v for k, v in self.values.items() if k.startswith("W"))

    @property
    def b(self) -> tuple[FloatArray, ...]:
        """The biases ``b1, b2, …`` in layer order."""
        return tuple(v for k, v in self.values.items() if k.startswith("b"))

    def __getitem__(self, name: str) -> FloatArray:
        return self.values[name]

    @property
    def batch(self) -> int:
        """``B``, the number of examples (the last axis of ``x``)."""
        return int(self.x.shape[-1])

    def of(self, node: network.Node) -> dict[str, FloatArray]:
        """A layer's values by role (``{"W": W2, "b": b2}``, ``{"mask": mask3}``)."""
        values = self.values
        out: dict[str, FloatArray] = {}
        for role, name in node.parameters.items():  # a loop: no comprehension's function to make
            out[role] = values[name]
        if node.state:
            state = self.state
            out.update({role: state[name] for role, name in node.state.items()})
        return out

    def target(self, net: Network) -> FloatArray:
        """``y`` (output shape × ``B``); zeros for a loss that ignores it."""
        if self.y is not None:
            return self.y
        return np.zeros((*net.output_shape, self.batch))

    def example(self, i: int) -> Parameters:
        """The same weights with only example ``i`` (the batch axis kept, of length 1)."""
        y = None if self.y is None else self.y[..., i : i + 1]
        state = {k: v[..., i : i + 1] for k, v in self.state.items()}
        return Parameters(self.values, None, self.x[..., i : i + 1], y, state)

    def replaced(self, name: str, value: FloatArray) -> Parameters:
        """The same values with parameter ``name`` replaced."""
        return Parameters({**self.values, name: value}, None, self.x, self.y, self.state)

    def check_shapes(self, net: Network) -> None:
        """Raise :class:`ShapeError` unless every array has its NOTATION.md shape for ``net``."""
        expected = net.parameter_shapes
        if set(self.values) != set(expected):
            raise ShapeError(
                message(
                    "parameters",
                    ", ".join(expected),
                    ", ".join(self.values) or "none",
                )
            )
        for name, shape in expected.items():
            _expect(name, self.values[name], shape)
        _expect("x", self.x, (*net.input_shape, self.batch))
        net.nodes[0].kind.check_input(self.x)
        if self.y is not None:
            _expect("y", self.y, (*net.output_shape, self.batch))
        for name, shape in net.state_shapes.items():
            if name not in self.state:
                raise ShapeError(message("parameters", f"an array {name!r}", "none"))
            _expect(name, self.state[name], (*shape, self.batch))

    def arrays(self) -> dict[str, FloatArray]:
        """``{'W1': …, 'b1': …, …, 'x': …, 'y': …, 'mask3': …}`` (``y`` left out when
        absent): what a parameter file holds."""
        out = dict(self.values)
        out["x"] = self.x
        if self.y is not None:
            out["y"] = self.y
        out.update(self.state)
        return out


def _expect(name: str, array: FloatArray, shape: tuple[int, ...]) -> None:
    if array.shape == shape:
        return
    hint = ""
    if array.ndim == 2 and array.shape == shape[::-1]:
        hint = f"did you pass {name}ᵀ?"
    raise ShapeError(
        message(f"array {name!r}", f"shape {shape_str(shape)}", shape_str(array.shape), hint)
    )


def init_parameters(net: Network, seed: int = 0, batch: int = 1) -> Parameters:
    """Reproducible values: each layer's own initialisation (a dense ``W[l] ~ N(0, 1/n_{l-1})``,
    a convolution's ``W ~ N(0, 1/(C·k²))``, ``b ~ N(0, 0.1²)``), then ``x ~ N(0, 1)``.

    The draws go role by role (every layer's ``W``, then every layer's ``b``) from one
    generator seeded with ``seed``. ``y`` comes from the loss
    (:meth:`~jacobians.losses.Loss.sample`): 0/1 labels for bce, one-hot columns for ce,
    ``N(0, 1)`` for mse, none for sum.
    """
    if batch < 1:
        raise InvalidValueError(message("batch", "at least 1 example", str(batch)))
    rng = np.random.default_rng(seed)
    values: dict[str, FloatArray] = {}
    width = max((len(node.kind.roles) for node in net.all_nodes), default=0)
    for index in range(width):
        for node in net.parametric:
            if index < len(node.kind.roles):
                role = node.kind.roles[index]
                values[node.parameters[role]] = node.kind.init(role, node.in_shape, rng)
    ordered = {name: values[name] for name in net.parameter_names}
    x = net.nodes[0].kind.draw_input(net.input_shape, batch, rng)  # N(0, 1); an embedding's ids
    y = net.loss.sample(rng, prod(net.output_shape), batch)
    if y is not None:
        y = y.reshape(*net.output_shape, batch)
    state = {}  # drawn last: a network without dropout draws what it always drew
    for node in net.all_nodes:
        for role, name in node.state.items():
            state[name] = node.kind.draw(role, node.in_shape, batch, rng)
    return Parameters(ordered, None, x, y, state)


def _as_float_array(name: str, value: object) -> FloatArray:
    try:
        raw = np.asarray(value)
        if raw.dtype.kind not in "iuf":  # no text, booleans, complex numbers or objects
            raise TypeError(raw.dtype)
        array = np.asarray(raw, dtype=np.float64)
    except (ValueError, TypeError):
        got = repr(value)
        got = got if len(got) <= 60 else got[:57] + "..."
        raise InvalidValueError(
            message(f"array {name!r}", "numbers (a nested list of equal-length rows)", got)
        ) from None
    if not np.all(np.isfinite(array)):
        where = tuple(int(i) for i in np.argwhere(~np.isfinite(array))[0])
        bad = array[where] if where else array
        raise InvalidValueError(
            message(f"array {name!r}", "finite numbers", f"{bad} at index {where}")
        )
    return array


def _as_batch(name: str, array: FloatArray, shape: tuple[int, ...]) -> FloatArray:
    """One example (``shape``) → with a batch axis of 1; a batch (``shape × B``) kept; a 0-d
    value when the shape has one entry. Vectors are written as columns (``n × B``)."""
    if array.ndim == 0 and prod(shape) == 1:
        return array.reshape(*shape, 1)
    if array.shape == shape:
        return array.reshape(*shape, 1)
    if array.ndim == len(shape) + 1 and array.shape[:-1] == shape:
        return array
    if len(shape) == 1:
        expected = f"shape {shape[0]} (one example) or {shape[0]}×B (a batch as columns)"
    else:
        expected = (
            f"shape {shape_str(shape)} (one example) or {shape_str(shape)}×B (a batch, "
            "examples on the last axis)"
        )
    hint = ""
    if array.ndim == len(shape) + 1 and array.shape[1:] == shape and len(shape) > 1:
        hint = "the batch goes last: np.moveaxis(x, 0, -1) turns (B, C, H, W) into (C, H, W, B)"
    raise ShapeError(message(f"array {name!r}", expected, shape_str(array.shape), hint))


def sizes_from_arrays(arrays: Mapping[str, object]) -> tuple[int, ...]:
    """Read ``n_0, …, n_L`` off ``W1 … WL``; raise if a ``W`` is missing or not 2-D."""
    depth = max((int(m.group(2)) for k in arrays if (m := _NAME.match(k))), default=0)
    if depth == 0:
        raise ParameterFileError(message("parameters", "arrays W1, b1, …, x", "no W1"))
    shapes: list[tuple[int, ...]] = []
    for l in range(1, depth + 1):
        if f"W{l}" not in arrays:
            raise ParameterFileError(message("parameters", f"array 'W{l}'", "none"))
        W = _as_float_array(f"W{l}", arrays[f"W{l}"])
        if W.ndim != 2:
            raise ShapeError(message(f"array 'W{l}'", "a matrix", f"shape {shape_str(W.shape)}"))
        if shapes and W.shape[1] != shapes[-1][0]:
            rows = shapes[-1][0]
            hint = f"did you pass W{l}ᵀ?" if W.shape[0] == rows else "W[l] is n_l × n_{l-1}"
            raise ShapeError(
                message(
                    f"array 'W{l}'",
                    f"{rows} columns to match the {rows} rows of W{l - 1}",
                    f"shape {shape_str(W.shape)}",
                    hint,
                )
            )
        shapes.append(W.shape)
    return (shapes[0][1], *(s[0] for s in shapes))


def parameters_from_arrays(net: Network, arrays: Mapping[str, object]) -> Parameters:
    """Check and convert ``{'W1': …, 'b1': …, 'x': …, 'y': …}`` for ``net``.

    Raises :class:`ParameterFileError` for a missing or unexpected array,
    :class:`ShapeError` for a wrong shape, :class:`InvalidValueError` for non-numeric, NaN or
    infinite values, and ``y`` the loss does not accept.
    """
    expected = [*net.parameter_names, "x"]
    if net.loss.needs_target:
        expected.append("y")
    expected += list(net.state_shapes)
    missing = [k for k in expected if k not in arrays]
    if missing:
        raise ParameterFileError(
            message(
                "parameters",
                f"arrays {', '.join(expected)} for {net.spec}",
                f"no {', '.join(repr(k) for k in missing)}",
            )
        )
    extra = sorted(set(arrays) - set(expected) - {"y"})
    if extra:
        where = f"the {net.depth}-layer {net.spec}" if net.is_dense else net.spec
        raise ParameterFileError(
            message(
                "parameters",
                f"only {', '.join(expected)} for {where}",
                f"also {', '.join(repr(k) for k in extra)}",
                "check --sizes" if net.is_dense else "check --layers and --input",
            )
        )
    values: dict[str, FloatArray] = {}
    for name, shape in net.parameter_shapes.items():  # the parameters first: a wrong spec
        value = _as_float_array(name, arrays[name])  # shows here, not in x
        if len(shape) == 1 and value.ndim == 2 and value.shape[1] == 1:
            value = value.reshape(-1)  # a bias written as a column
        _expect(name, value, shape)
        values[name] = value
    x = _as_batch("x", _as_float_array("x", arrays["x"]), net.input_shape)
    y = None
    if "y" in arrays:
        y = _as_batch("y", _as_float_array("y", arrays["y"]), net.output_shape)
        if y.shape[-1] != x.shape[-1]:
            what = "columns" if len(net.output_shape) == 1 else "examples on the last axis"
            raise ShapeError(
                message(
                    "array 'y'",
                    f"{x.shape[-1]} {what}, one per example of x",
                    f"shape {shape_str(y.shape)}",
                )
            )
    state = {}
    for name, shape in net.state_shapes.items():
        mask = _as_batch(name, _as_float_array(name, arrays[name]), shape)
        if mask.shape[-1] != x.shape[-1]:
            raise ShapeError(
                message(
                    f"array {name!r}",
                    f"{x.shape[-1]} examples on the last axis, one per example of x",
                    f"shape {shape_str(mask.shape)}",
                )
            )
        if not np.isin(mask, (0.0, 1.0)).all():
            raise InvalidValueError(
                message(f"array {name!r}", "a mask of 0s and 1s", "other values")
            )
        state[name] = mask
    params = Parameters(values, None, x, y, state)
    from .network import check_compatible

    check_compatible(net, params)
    return params
