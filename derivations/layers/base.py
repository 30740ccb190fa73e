"""The symbolic layer protocol, and tensors whose entries are sympy symbols.

Mirrors :mod:`jacobians.layers.base`. A :class:`SymbolicLayer` is one node of a network in
symbols. It knows three things about itself, and nothing else in :mod:`derivations.layers`
knows anything about any particular kind:

- :meth:`SymbolicLayer.forward`: its *local* map, the output tensor written in the symbols of
  its input tensor and its parameters (``z[1]`` in the symbols ``x``, ``W[1]``, ``b[1]``); the
  Jacobians are derived from it by ``sympy.Matrix.jacobian``, never written by hand;
- :meth:`SymbolicLayer.backward`: the compact backward pass, written in its own index loops
  (``dW = Δ U``, the transposed correlation, ``g ⊙ g'(z)``, …) and independent of the
  Jacobians, so that the proof that the two agree can fail;
- :meth:`SymbolicLayer.structures`: what each Jacobian *should* be (``I ⊗ U``, the Toeplitz
  matrix of ``W``, a selection matrix), built from its index rule, not from the derivative.

Tensors (:data:`Tensor`) are numpy object arrays of sympy expressions in one example's shape:
``(C, H, W)`` for an image, ``(n,)`` for a vector. ``vec`` is row-major (C order), as in
NOTATION.md, so a tensor becomes the column ``vec(t)`` of shape ``size(t) × 1`` and a Jacobian
between tensors is ``size(out) × size(in)`` (numerator layout).

Display names: every entry is a :meth:`Names.symbol <derivations.network.Names.symbol>` whose
subscripts count from 1 (``W[1]₁₁₂₂`` is ``W[1][0, 0, 1, 1]``), as the dense derivations
write ``W[2]₁₁``; a vector's entries get the same names as in :mod:`derivations.network`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import product
from math import prod
from typing import Any, ClassVar, TypeAlias, TypeVar

import numpy as np
import numpy.typing as npt
import sympy as sp

from jacobians._typing import FloatArray
from jacobians.errors import InvalidValueError, message, unknown_name
from jacobians.layers.base import Kind
from jacobians.network import Network, Node, check_compatible, display, forward
from jacobians.parameters import Parameters, init_parameters

from ..derivation import Step
from ..network import Names

Tensor: TypeAlias = npt.NDArray[np.object_]
"""One example's tensor of sympy expressions, in its own shape (channels first)."""
Shape = tuple[int, ...]
Pattern: TypeAlias = npt.NDArray[np.intp]
"""A max-pooling assumption: for every window ``(c, i, j)`` the offsets ``(u*, v*)`` of its
maximum, shape ``C × H' × W' × 2``."""

K = TypeVar("K", bound=Kind)

_SUB = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def subscript(indices: Sequence[int]) -> tuple[str, str]:
    """Unicode and LaTeX subscripts of 1-based indices; a comma once any index is ≥ 10.

    >>> subscript((1, 2, 3)), subscript((1, 12))
    (('₁₂₃', '123'), ('₁,₁₂', '1,12'))
    """
    sep = "," if any(i >= 10 for i in indices) else ""
    text = sep.join(str(i) for i in indices)
    return text.translate(_SUB), text


def tensor_symbols(
    names: Names,
    base: str,
    layer: int | None,
    shape: Shape,
    ascii_base: str | None = None,
    latex_base: str | None = None,
) -> Tensor:
    """A tensor of real symbols ``base[layer]`` with 1-based subscripts, shape ``shape``.

    ASCII names ``W1_1_1_2_2`` (``x_1_2_3`` without a layer); unicode ``W[1]₁₁₂₂`` (``x₁₂₃``);
    LaTeX ``W^{[1]}_{1122}``. A vector's names are those of
    :func:`derivations.network.vector_symbols`.

    >>> t = tensor_symbols(Names(), "x", None, (1, 2, 2))
    >>> t.shape, t[0, 1, 0]
    ((1, 2, 2), x_1_2_1)
    """
    ascii_name = ascii_base or base
    tex = latex_base or base
    out = np.empty(shape, dtype=object)
    for index in product(*(range(n) for n in shape)):
        one = tuple(i + 1 for i in index)
        uni, lat = subscript(one)
        tail = "_".join(map(str, one))
        if layer is None:
            out[index] = names.symbol(f"{ascii_name}_{tail}", f"{base}{uni}", f"{tex}_{{{lat}}}")
        else:
            out[index] = names.symbol(
                f"{ascii_name}{layer}_{tail}",
                f"{base}[{layer}]{uni}",
                f"{tex}^{{[{layer}]}}_{{{lat}}}",
            )
    return out


def zeros(shape: Shape) -> Tensor:
    """A tensor of sympy zeros."""
    return np.full(shape, sp.S.Zero, dtype=object)


def vec(t: Tensor) -> sp.Matrix:
    """``vec(t)``, row-major, as a column ``size(t) × 1``."""
    return sp.Matrix(list(np.asarray(t, dtype=object).reshape(-1)))


def unvec(column: Iterable[Any], shape: Shape) -> Tensor:
    """The tensor of shape ``shape`` whose row-major ``vec`` is ``column`` (a column or a row)."""
    values = list(column)
    if len(values) != prod(shape):
        raise ValueError(
            f"unvec: expected {prod(shape)} entries for shape {shape}, got {len(values)}"
        )
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out.reshape(shape)


def matrix(t: Tensor) -> sp.Matrix:
    """A 2-D tensor as a sympy Matrix (a vector as a column)."""
    a = np.asarray(t, dtype=object)
    if a.ndim == 1:
        return sp.Matrix(list(a))
    if a.ndim != 2:
        raise ValueError(f"matrix: expected a 1-D or 2-D tensor, got shape {a.shape}")
    return sp.Matrix(a.tolist())


def as_rows(t: Tensor) -> sp.Matrix:
    """How a tensor is shown: a vector as a column, a matrix as it is, and a tensor of more
    axes as the matrix of its first axis by the rest (``C_out × C·k·k`` for a kernel)."""
    a = np.asarray(t, dtype=object)
    if a.ndim <= 2:
        return matrix(a)
    return matrix(a.reshape(a.shape[0], -1))


def slices(t: Tensor) -> list[tuple[tuple[int, ...], sp.Matrix]]:
    """The trailing ``H × W`` matrices of a tensor with their leading indices (0-based):
    ``[((o, c), W[o, c]) …]`` for a kernel, ``[((c,), a[c]) …]`` for an image."""
    a = np.asarray(t, dtype=object)
    if a.ndim <= 2:
        return [((), matrix(a))]
    return [(index, matrix(a[index])) for index in product(*(range(n) for n in a.shape[:-2]))]


def is_zero(M: sp.Matrix) -> bool:
    """Every entry expands to exactly 0: a symbolic decision, no numbers substituted."""
    return all(sp.expand(e) == 0 for e in M)


def tex(shown: str) -> str:
    """A name as the notation writes it, in LaTeX: ``a[1]`` → ``a^{[1]}``; ``x`` stays.

    >>> tex("W[2]"), tex("x")
    ('W^{[2]}', 'x')
    """
    base, _, rest = shown.partition("[")
    return f"{base}^{{[{rest.rstrip(']')}]}}" if rest else shown


def name_of(tensor: str) -> tuple[str, str]:
    """``'z2'`` → (``'z[2]'``, ``'z^{[2]}'``); ``'a0'`` → (``'x'``, ``'x'``)."""
    shown = "x" if tensor == "a0" else display(tensor)
    return shown, tex(shown)


def dims(M: sp.Matrix) -> tuple[int, int]:
    """``(rows, columns)`` of a sympy matrix, as ints."""
    return int(M.rows), int(M.cols)


@dataclass(frozen=True)
class Gradients:
    """A compact backward pass: ``input`` is ``∂L/∂(input)`` in the input's shape, ``params``
    each role's gradient in the parameter's shape (``dW``, ``db``)."""

    input: Tensor
    params: Mapping[str, Tensor] = field(default_factory=dict)


@dataclass(frozen=True)
class Structure:
    """What a Jacobian is, written in the notation (``I_2 ⊗ U``), and the matrix its index
    rule builds — independently of ``sympy.Matrix.jacobian``."""

    text: str
    matrix: sp.Matrix


EXAMPLE_KEYS = ("argmax", "params", "seed")
"""What ``example`` may say: ``argmax`` (``(u*, v*)``: the maximum of every max-pooling window
is its entry ``(u*, v*)``, counted from 0; ``(0, 0)`` when ``example`` says nothing), ``seed``
(an int: the argmax pattern of ``init_parameters(net, seed)``), ``params`` (a
:class:`~jacobians.parameters.Parameters`: the argmax pattern of its example 0)."""


@dataclass
class Context:
    """What a layer may need beyond its node: the ``example`` a derivation was asked about, and
    the numbers of its example 0 when it names one (``seed`` or ``params``), from which an
    assumption such as max pooling's argmax pattern is read."""

    net: Network
    example: Mapping[str, object] = field(default_factory=dict)
    _values: dict[str, FloatArray] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        for key in self.example:
            if key not in EXAMPLE_KEYS:
                raise unknown_name("example", key, EXAMPLE_KEYS)
        seed = self.example.get("seed", 0)
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise InvalidValueError(message("example['seed']", "a whole number ≥ 0", repr(seed)))
        params = self.example.get("params")
        if params is not None and not isinstance(params, Parameters):
            raise InvalidValueError(
                message("example['params']", "a jacobians.parameters.Parameters", repr(params))
            )

    @property
    def numeric(self) -> bool:
        """Whether ``example`` names numbers (``seed`` or ``params``)."""
        return "seed" in self.example or "params" in self.example

    @property
    def source(self) -> str:
        """Where the numbers come from, for the printed derivation."""
        if "params" in self.example:
            return "the given parameters (example 0)"
        return f"the seeded example (init_parameters(net, seed={self.example.get('seed', 0)}))"

    def values(self, tensor: str) -> FloatArray:
        """Example 0's value of ``tensor`` (``a0``, ``z1``, …) in one example's shape."""
        if self._values is None:
            params = self.example.get("params")
            if not isinstance(params, Parameters):
                seed = self.example.get("seed", 0)
                params = init_parameters(self.net, seed if isinstance(seed, int) else 0)
            check_compatible(self.net, params)
            cache = forward(self.net, params)
            self._values = {k: v[..., 0] for k, v in cache.values.items()}
        return self._values[tensor]


@dataclass
class SymbolicLayer:
    """One node of a network in symbols: its local map, its compact backward pass, the
    structure of its Jacobians, and what a derivation says about it."""

    node: Node
    kinds: ClassVar[tuple[str, ...]] = ()
    """The spec names (``conv2d``) this class handles, for the registry."""

    @classmethod
    def build(cls, node: Node, context: Context) -> SymbolicLayer:
        """The layer of ``node``; a kind that rests on an assumption reads it from ``context``."""
        return cls(node)

    # --- the mathematics ---------------------------------------------------------------------
    def forward(self, a: Tensor, params: Mapping[str, Tensor]) -> Tensor:
        """The output in the symbols of the input ``a`` and the parameters (the local map)."""
        raise NotImplementedError

    def backward(
        self, a: Tensor, out: Tensor, params: Mapping[str, Tensor], g: Tensor
    ) -> Gradients:
        """The compact formulas: ``g`` is ``∂L/∂(output)`` in the output's shape; ``out`` holds
        the output's symbols (softmax writes its rule in them)."""
        raise NotImplementedError

    def jacobian(
        self, role: str, derived: sp.Matrix, a: Tensor, out: Tensor, params: Mapping[str, Tensor]
    ) -> sp.Matrix:
        """The Jacobian of ``role`` as printed, from the one ``Matrix.jacobian`` derived (a
        layer may rewrite it in its output's symbols after proving the two equal)."""
        return derived

    def structures(
        self, a: Tensor, out: Tensor, params: Mapping[str, Tensor]
    ) -> dict[str, Structure]:
        """``"input"`` and each role → what the Jacobian is, by its index rule (``{}``: none)."""
        return {}

    # --- what a derivation says ----------------------------------------------------------------
    def formula(self) -> str:
        """The map in one line of prose, in the notation (``a[2] = relu(z[2])``)."""
        return f"{self.out_name} = {self.node.kind.spec()}({self.in_name})"

    def notes(self) -> str:
        """What a reader must know about this layer's Jacobian (a kink, an assumption)."""
        return ""

    def assumption_steps(self, names: Names, a: Tensor) -> list[Step]:
        """Steps that state and check an assumption the Jacobian rests on (max pooling)."""
        return []

    def compact_steps(
        self, role: str, names: Names, a: Tensor, params: Mapping[str, Tensor], g: Tensor
    ) -> list[Step]:
        """The compact formula of ``role`` (``W``, ``b`` or ``input``) shown for the output
        gradient ``g`` (the symbols ``δ[l]``), for a parametric layer."""
        return []

    def statement(self, role: str) -> str:
        """The proved statement for ``role``: ``chain − compact = 0`` in words."""
        return ""

    # --- names ---------------------------------------------------------------------------------
    def kind_of(self, cls: type[K]) -> K:
        """The node's numeric kind, as the class this symbolic layer was registered for."""
        kind = self.node.kind
        if not isinstance(kind, cls):
            raise TypeError(f"{type(self).__name__} expects a {cls.__name__}, got {kind.spec()!r}")
        return kind

    @property
    def layer(self) -> int:
        """NOTATION's ``l``."""
        return self.node.layer

    @property
    def in_name(self) -> str:
        """The input as the notation writes it: ``a[1]``, or ``x`` for ``a[0]``."""
        return name_of(self.node.input)[0]

    @property
    def out_name(self) -> str:
        """The output as the notation writes it: ``z[2]``."""
        return name_of(self.node.output)[0]

    def parameter_name(self, role: str) -> str:
        """``W[2]`` for role ``W``."""
        return display(self.node.parameters[role])


def shape_text(shape: Shape) -> str:
    """``(2, 3, 3)`` → ``2×3×3``."""
    return "×".join(map(str, shape))
