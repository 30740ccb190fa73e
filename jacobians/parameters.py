"""Parameter values ``W1, b1, …, WL, bL`` and data ``x, y``: made from a seed, or read and checked.

Shapes (NOTATION.md, column layout): ``W[l]`` is ``n_l × n_{l-1}``, ``b[l]`` has ``n_l`` entries
(a column ``n_l × 1`` is accepted too), ``x`` is ``n_0`` (one example) or ``n_0 × B`` (a batch
of ``B`` examples as columns), ``y`` is ``n_L`` or ``n_L × B`` (a bare number when ``n_L = B = 1``).
Internally ``x`` and ``y`` are always 2-D, one column per example.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING

import numpy as np

from ._typing import FloatArray, Matrix, Vector
from .errors import InvalidValueError, ParameterFileError, ShapeError, message, shape_str

if TYPE_CHECKING:
    from .network import Network

_NAME = re.compile(r"^(W|b)([1-9][0-9]*)$")


@dataclass(frozen=True)
class Parameters:
    """``W[l]`` (``n_l × n_{l-1}``), ``b[l]`` (``n_l``) for ``l = 1..L``; ``x`` (``n_0 × B``), ``y``
    (``n_L × B``, or ``None`` for a loss that ignores it)."""

    W: tuple[Matrix, ...]
    b: tuple[Vector, ...]
    x: Matrix
    y: Matrix | None

    @property
    def batch(self) -> int:
        """``B``, the number of examples (columns of ``x``)."""
        return int(self.x.shape[1])

    def target(self, net: Network) -> FloatArray:
        """``y`` (``n_L × B``); zeros for a loss that ignores it."""
        if self.y is not None:
            return self.y
        return np.zeros((net.sizes[-1], self.batch))

    def example(self, i: int) -> Parameters:
        """The same weights with only example ``i`` (``x`` becomes ``n_0 × 1``)."""
        y = None if self.y is None else self.y[:, i : i + 1]
        return Parameters(self.W, self.b, self.x[:, i : i + 1], y)

    def check_shapes(self, sizes: tuple[int, ...]) -> None:
        """Raise :class:`ShapeError` unless every array has its NOTATION.md shape for ``sizes``."""
        depth = len(sizes) - 1
        if len(self.W) != depth or len(self.b) != depth:
            raise ShapeError(
                message(
                    "parameters",
                    f"{depth} weight matrices and bias vectors",
                    f"{len(self.W)} and {len(self.b)}",
                )
            )
        for l in range(1, depth + 1):
            _expect(f"W{l}", self.W[l - 1], (sizes[l], sizes[l - 1]))
            _expect(f"b{l}", self.b[l - 1], (sizes[l],))
        _expect("x", self.x, (sizes[0], self.batch))
        if self.y is not None:
            _expect("y", self.y, (sizes[-1], self.batch))

    def arrays(self) -> dict[str, FloatArray]:
        """``{'W1': …, 'b1': …, …, 'x': …, 'y': …}`` (``y`` left out when absent)."""
        out: dict[str, FloatArray] = {}
        for l, (W, b) in enumerate(zip(self.W, self.b, strict=True), start=1):
            out[f"W{l}"], out[f"b{l}"] = W, b
        out["x"] = self.x
        if self.y is not None:
            out["y"] = self.y
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
    """Reproducible values: ``W[l] ~ N(0, 1/n_{l-1})``, ``b ~ N(0, 0.1²)``, ``x ~ N(0, 1)``.

    ``y`` comes from the loss (:meth:`~jacobians.losses.Loss.sample`): 0/1 labels for bce,
    one-hot columns for ce, ``N(0, 1)`` for mse, none for sum.
    """
    if batch < 1:
        raise InvalidValueError(message("batch", "at least 1 example", str(batch)))
    rng = np.random.default_rng(seed)
    W = tuple(rng.standard_normal((n, m)) / np.sqrt(m) for m, n in pairwise(net.sizes))
    b = tuple(0.1 * rng.standard_normal(n) for n in net.sizes[1:])
    x = rng.standard_normal((net.sizes[0], batch))
    n_out = net.sizes[-1]
    return Parameters(W, b, x, net.loss.sample(rng, n_out, batch))


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


def _as_columns(name: str, array: FloatArray, rows: int) -> Matrix:
    """``(rows,)`` → ``(rows, 1)``; ``(rows, B)`` kept; a 0-d value when ``rows == 1``."""
    if array.ndim == 0 and rows == 1:
        return array.reshape(1, 1)
    if array.ndim == 1 and array.shape[0] == rows:
        return array.reshape(rows, 1)
    if array.ndim == 2 and array.shape[0] == rows:
        return array
    raise ShapeError(
        message(
            f"array {name!r}",
            f"shape {rows} (one example) or {rows}×B (a batch as columns)",
            shape_str(array.shape),
        )
    )


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
    depth = net.depth
    expected = [f"{p}{l}" for l in range(1, depth + 1) for p in "Wb"] + ["x"]
    if net.loss.needs_target:
        expected.append("y")
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
        raise ParameterFileError(
            message(
                "parameters",
                f"only {', '.join(expected)} for the {depth}-layer {net.spec}",
                f"also {', '.join(repr(k) for k in extra)}",
                "check --sizes",
            )
        )
    W = tuple(_as_float_array(f"W{l}", arrays[f"W{l}"]) for l in range(1, depth + 1))
    b = tuple(_as_float_array(f"b{l}", arrays[f"b{l}"]) for l in range(1, depth + 1))
    b = tuple(v.reshape(-1) if v.ndim == 2 and v.shape[1] == 1 else v for v in b)
    for l in range(1, depth + 1):  # the weights first: a wrong --sizes shows here, not in x
        _expect(f"W{l}", W[l - 1], net.weight_shape(l))
        _expect(f"b{l}", b[l - 1], (net.sizes[l],))
    x = _as_columns("x", _as_float_array("x", arrays["x"]), net.sizes[0])
    y = None
    if "y" in arrays:
        y = _as_columns("y", _as_float_array("y", arrays["y"]), net.sizes[-1])
        if y.shape[1] != x.shape[1]:
            raise ShapeError(
                message(
                    "array 'y'",
                    f"{x.shape[1]} columns, one per example of x",
                    f"shape {shape_str(y.shape)}",
                )
            )
    params = Parameters(W, b, x, y)
    from .network import check_compatible

    check_compatible(net, params)
    return params
