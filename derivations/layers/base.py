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

A layer with symbols of its own (a norm's ``σ`` and ``x̂``) also says how a derived matrix is
written in them (:meth:`SymbolicLayer.written`) and what they stand for
(:meth:`SymbolicLayer.definitions`, :meth:`SymbolicLayer.meanings`), which :func:`vanishes`
uses to decide a difference exactly. A :class:`Block` (``residual``) says how its input and its
own sequence's output meet. A layer that couples the examples, or holds something per example,
is :attr:`SymbolicLayer.batch_aware` and takes the whole batch (batch last).

Tensors (:data:`Tensor`) are numpy object arrays of sympy expressions in one example's shape:
``(C, H, W)`` for an image, ``(n,)`` for a vector; for a batch, with the examples on a last
axis. ``vec`` is row-major (C order), as in NOTATION.md, so a tensor becomes the column
``vec(t)`` of shape ``size(t) × 1`` and a Jacobian between tensors is ``size(out) × size(in)``
(numerator layout).

Display names: every entry is a :meth:`Names.symbol <derivations.network.Names.symbol>` whose
subscripts count from 1 (``W[1]₁₁₂₂`` is ``W[1][0, 0, 1, 1]``), as the dense derivations
write ``W[2]₁₁``; a vector's entries get the same names as in :mod:`derivations.network`. An
example of a batch is a superscript (``x₁⁽²⁾``, LaTeX ``x^{(2)}_{1}``); a block's own layer
keeps its label (``W[2_1]₁₂``, LaTeX ``W^{[2_1]}_{12}``); ``γ`` and ``β`` print as themselves.
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
from sympy.polys.domains import QQ
from sympy.polys.polyerrors import CoercionFailed, PolynomialError
from sympy.polys.rings import ring

from jacobians._typing import FloatArray
from jacobians.errors import InvalidValueError, message, unknown_name
from jacobians.layers.base import Kind
from jacobians.network import Network, Node, check_compatible, display, forward
from jacobians.parameters import Parameters, init_parameters

from ..derivation import Equation, Step
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


_SUP = str.maketrans("0123456789()", "⁰¹²³⁴⁵⁶⁷⁸⁹⁽⁾")
_UNSUP = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁽⁾", "0123456789()")


class Shown(sp.Symbol):
    """A display name with an example's superscript (``x₁⁽²⁾``) that sorts as its digits read:
    ``¹`` comes after ``²`` and ``³`` in unicode, and sympy orders the terms of a sum by name."""

    @classmethod
    def class_key(cls) -> tuple[int, int, str]:
        return sp.Symbol.class_key()  # type: ignore[no-any-return]

    def sort_key(self, order: Any = None) -> Any:
        return self.class_key(), (1, (self.name.translate(_UNSUP),)), sp.S.One.sort_key(), sp.S.One


def superscript(example: int) -> str:
    """``⁽²⁾``: example 2 of a batch.

    >>> superscript(12)
    '⁽¹²⁾'
    """
    return f"({example})".translate(_SUP)


ROLE_NAMES: dict[str, tuple[str, str]] = {
    "gamma": ("γ", r"\gamma"),
    "beta": ("β", r"\beta"),
    "Wq": ("Wq", r"\mathit{Wq}"),
    "Wk": ("Wk", r"\mathit{Wk}"),
    "Wv": ("Wv", r"\mathit{Wv}"),
}
"""How a parameter role's symbols print (unicode, LaTeX) when its name is not one letter."""


def tensor_symbols(
    names: Names,
    base: str,
    layer: int | str | None,
    shape: Shape,
    ascii_base: str | None = None,
    latex_base: str | None = None,
    batch: int | None = None,
) -> Tensor:
    """A tensor of real symbols ``base[layer]`` with 1-based subscripts, shape ``shape``, or
    ``shape × batch`` (the batch last) when ``batch`` is given.

    ASCII names ``W1_1_1_2_2`` (``x_1_2_3`` without a layer; a block's label ``2_1`` as
    ``2.1``; example ``b`` adds ``_e<b>``); unicode ``W[1]₁₁₂₂`` (``x₁₂₃``, example 2 of a
    batch ``x₁⁽²⁾``); LaTeX ``W^{[1]}_{1122}`` (``x^{(2)}_{1}``, ``z^{[1](2)}_{1}``). A vector's
    names are those of :func:`derivations.network.vector_symbols`.

    >>> t = tensor_symbols(Names(), "x", None, (1, 2, 2))
    >>> t.shape, t[0, 1, 0]
    ((1, 2, 2), x_1_2_1)
    >>> tensor_symbols(Names(), "z", 1, (2,), batch=3)[1, 2]
    z1_2_e3
    """
    ascii_name = ascii_base or base
    tex = latex_base or base
    full = shape if batch is None else (*shape, batch)
    out = np.empty(full, dtype=object)
    for index in product(*(range(n) for n in full)):
        one = tuple(i + 1 for i in index)
        if batch is not None:
            one, example = one[:-1], one[-1]
        uni, lat = subscript(one)
        tail = "_".join(map(str, one))
        sup, tex_sup, ascii_tail = "", "", ""
        if batch is not None:
            sup, tex_sup, ascii_tail = superscript(example), f"({example})", f"_e{example}"
        if layer is None:
            head, uni_head = f"{ascii_name}", f"{base}"
            tex_head = f"{tex}^{{{tex_sup}}}" if tex_sup else tex
        else:
            head = f"{ascii_name}{ascii_label(layer)}"
            uni_head = f"{base}[{layer}]"
            tex_head = f"{tex}^{{[{layer}]{tex_sup}}}"
        ascii_full = f"{head}_{tail}{ascii_tail}" if tail else f"{head}{ascii_tail}"
        uni_full = f"{uni_head}{uni}{sup}"
        tex_full = f"{tex_head}_{{{lat}}}" if lat else tex_head
        out[index] = names.symbol(ascii_full, uni_full, tex_full)
        if batch is not None:
            names.unicode[out[index]] = Shown(uni_full, real=True)
    return out


def ascii_label(label: int | str) -> str:
    """A layer's label in an ASCII symbol name: ``2_1`` as ``2.1``, so that ``W2.1_1_2`` (entry
    ``(1, 2)`` of ``W[2_1]``) is never the name of an entry of ``W[2]``."""
    return str(label).replace("_", ".")


def parameter_symbols(names: Names, role: str, label: str, shape: Shape) -> Tensor:
    """A parameter's symbols: ``W[1]₁₂``, or ``γ[2]₁`` for the role ``gamma``."""
    uni, latex = ROLE_NAMES.get(role, (role, role))
    return tensor_symbols(names, uni, label, shape, role, latex)


def positive_symbol(names: Names, ascii_name: str, unicode_name: str, latex_name: str) -> sp.Symbol:
    """A positive symbol (``σ``, ``ε``) that prints as the other two names."""
    s = sp.Symbol(ascii_name, positive=True)
    names.unicode[s] = Shown(unicode_name, positive=True)
    names.latex[s] = latex_name
    return s


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


def kron(A: sp.Matrix, B: sp.Matrix) -> sp.Matrix:
    """``A ⊗ B``: block ``(i, k)`` is ``A[i, k]·B``.

    >>> kron(sp.eye(2), sp.Matrix([[1, 2]]))
    Matrix([
    [1, 2, 0, 0],
    [0, 0, 1, 2]])
    """
    return sp.Matrix(sp.kronecker_product(A, B))


def commutation(rows: int, cols: int) -> sp.Matrix:
    """``C`` with ``vec(Mᵀ) = C vec(M)`` for every ``M`` of shape ``rows × cols`` (row-major
    ``vec``): ``C[j·rows + i, i·cols + j] = 1``, a permutation, ``rows·cols × rows·cols``.

    >>> commutation(2, 2)
    Matrix([
    [1, 0, 0, 0],
    [0, 0, 1, 0],
    [0, 1, 0, 0],
    [0, 0, 0, 1]])
    """
    C = sp.zeros(rows * cols, rows * cols)
    for i, j in product(range(rows), range(cols)):
        C[j * rows + i, i * cols + j] = 1
    return C


Route: TypeAlias = tuple[tuple[str, ...], ...]
"""A sum of products of named factors, each product a path left to right (the loss side first):
``(("Y_A", "A_S", "S_Q", "Q_X"), ("Y_V", "V_X"))``."""


def route_text(route: Route, each: Any) -> str:
    """The route in words, the factors that paths share on the left written once:
    ``Y·A·(S·Q + S·K) + V`` for the paths ``YASQ``, ``YASK``, ``V`` (``each`` writes a factor).

    >>> route_text((("a", "b"), ("a", "c"), ("d",)), str.upper)
    'A · (B + C) + D'
    """

    def go(paths: list[tuple[str, ...]]) -> tuple[str, bool]:
        terms = []
        for first, rests in _grouped(paths):
            if rests == [()]:
                terms.append(each(first))
                continue
            inner, is_sum = go(rests)
            terms.append(f"{each(first)} · ({inner})" if is_sum else f"{each(first)} · {inner}")
        return " + ".join(terms), len(terms) > 1

    return go(list(route))[0]


def route_product(route: Route, each: Mapping[str, sp.Matrix]) -> sp.Matrix:
    """The route's matrix: the shared left factors multiplied once (``Y·A·(S·Q + S·K) + V``)."""

    def go(paths: list[tuple[str, ...]]) -> sp.Matrix:
        total: sp.Matrix | None = None
        for first, rests in _grouped(paths):
            term = each[first] if rests == [()] else each[first] * go(rests)
            total = term if total is None else total + term
        assert total is not None  # a route has a path
        return total

    return go(list(route))


def _grouped(paths: list[tuple[str, ...]]) -> list[tuple[str, list[tuple[str, ...]]]]:
    """The paths by their first factor (in order), each with the rest of its paths."""
    groups: dict[str, list[tuple[str, ...]]] = {}
    for path in paths:
        groups.setdefault(path[0], []).append(path[1:])
    for first, rests in groups.items():
        if () in rests and len(rests) > 1:
            raise ValueError(f"route: a path ends at {first!r} where another goes on")
    return list(groups.items())


def route_keys(route: Route) -> list[str]:
    """Every factor of the route once, in the order they are written."""
    return list(dict.fromkeys(key for path in route for key in path))


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


def ring_zeros(M: sp.Matrix) -> list[bool]:
    """For each entry of ``M``: whether it is 0 as a polynomial over the rationals, every other
    atom a variable of its own — ``1/b`` and ``√b`` for each base ``b`` (``b⁻²`` is ``(1/b)²``),
    each function value (``σ(z)``, ``e^s``). A 0 there is a 0 whatever those atoms are, so it
    proves the entry 0; ``False`` says only that this cannot tell (:func:`vanishes` then
    expands). Much quicker than ``sympy.expand`` for large entries: the ring multiplies out
    dense polynomials in its own arithmetic.

    >>> x, s = sp.symbols("x s", positive=True)
    >>> ring_zeros(sp.Matrix([x / s - x * s**-1, sp.sqrt(2) * x / 2 - x / sp.sqrt(2), x]))
    [True, True, False]
    """
    entries = list(M)
    if not entries or any(e.has(sp.Float) for e in entries):
        return [False] * len(entries)
    atoms: dict[sp.Expr, sp.Expr] = {}
    roots: dict[tuple[sp.Expr, int, bool], sp.Symbol] = {}
    for e in entries:
        for f in e.atoms(sp.Function):
            atoms.setdefault(f, sp.Dummy("f"))
        for pw in e.atoms(sp.Pow):
            base, exponent = pw.as_base_exp()
            if exponent.is_Integer and exponent > 0:
                continue
            if not exponent.is_Rational:
                atoms.setdefault(pw, sp.Dummy("p"))
                continue
            key = (base, int(exponent.q), exponent < 0)
            root = roots.setdefault(key, sp.Dummy("r"))
            atoms[pw] = root ** abs(int(exponent.p))
    written = [e.xreplace(atoms) for e in entries]
    symbols = sorted(set().union(*(e.free_symbols for e in written)), key=str)
    if not symbols:
        return [e == 0 for e in written]
    polynomials = ring(symbols, QQ)[0]
    out = []
    for e in written:
        try:
            out.append(polynomials.from_expr(e) == 0)
        except (ValueError, TypeError, CoercionFailed, PolynomialError):
            out.append(False)
    return out


def vanishes(
    M: sp.Matrix,
    definitions: Mapping[sp.Symbol, sp.Expr] | None = None,
    meanings: Mapping[sp.Symbol, sp.Expr] | None = None,
) -> bool:
    """``M = 0``, decided symbolically entry by entry; no numbers are substituted.

    1. The entry is expanded (``sympy.expand``) as it stands, every symbol independent — the
       abbreviations ``x̂`` and ``σ`` of a norm too. 0 proves it 0 whatever they stand for: the
       fast path, which every true statement of the compact formulas takes (first in a
       polynomial ring, :func:`ring_zeros`, which is quicker for large entries).
    2. Else the abbreviations are replaced by their ``definitions`` (``x̂ = (x − μ)/σ``) and the
       entry expanded again: 0 proves it 0 whatever ``σ`` is (a derived Jacobian, written in
       ``x`` and ``σ``, meets its index rule, written in ``x̂``, here).
    3. Else the positive symbols are replaced by their ``meanings`` (``σ = √(var + ε)``), in the
       independent variables ``x`` and ``ε``: brought over one denominator
       (``sympy.together``), its numerator expanded. Its radicands (``var + ε`` of each group,
       or a wrong formula's own) are linear in ``ε``: no squares, and pairwise coprime, so
       their square roots are independent and a numerator that does not expand to 0 is a
       nonzero function — a refutation is exact, not an artefact of writing ``σ`` as a symbol.

    >>> x, s = sp.symbols("x s", positive=True)
    >>> vanishes(sp.Matrix([s**2 - x]), meanings={s: sp.sqrt(x)}), vanishes(sp.Matrix([s]))
    (True, False)
    """
    proved = ring_zeros(M)
    for e, zero in zip(M, proved, strict=True):
        if zero or sp.expand(e) == 0:
            continue
        if definitions:
            e = e.xreplace(dict(definitions))
            if sp.expand(e) == 0:
                continue
        if not meanings:
            return False
        numerator = sp.fraction(sp.together(e.xreplace(dict(meanings))))[0]
        if sp.expand(numerator) != 0:
            return False
    return True


_TEX_BASE = {
    "γ": r"\gamma",
    "β": r"\beta",
    "σ": r"\sigma",
    "δ": r"\delta",
    "x̂": r"\hat{x}",
    **{role: latex for role, (_, latex) in ROLE_NAMES.items() if role.startswith("W")},
}


def tex(shown: str) -> str:
    r"""A name as the notation writes it, in LaTeX: ``a[1]`` → ``a^{[1]}``; ``x`` stays;
    ``γ[2]`` → ``\gamma^{[2]}``.

    >>> tex("W[2]"), tex("x"), tex("W[3_1]")
    ('W^{[2]}', 'x', 'W^{[3_1]}')
    """
    base, _, rest = shown.partition("[")
    base = _TEX_BASE.get(base, base)
    return f"{base}^{{[{rest.rstrip(']')}]}}" if rest else base


def name_of(tensor: str) -> tuple[str, str]:
    r"""``'z2'`` → (``'z[2]'``, ``'z^{[2]}'``); ``'a0'`` → (``'x'``, ``'x'``); ``'gamma2'`` →
    (``'γ[2]'``, ``'\gamma^{[2]}'``); ``'W3_1'`` → (``'W[3_1]'``, ``'W^{[3_1]}'``)."""
    shown = "x" if tensor == "a0" else display(tensor)
    base, bracket, rest = shown.partition("[")
    if base in ROLE_NAMES:
        shown = ROLE_NAMES[base][0] + bracket + rest
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
(an int: the argmax pattern of ``init_parameters(net, seed)``, and the dropout masks of
``init_parameters(net, seed, batch)``; seed 0 when ``example`` says nothing), ``params`` (a
:class:`~jacobians.parameters.Parameters`: the argmax pattern of its example 0, and its dropout
masks)."""


@dataclass
class Context:
    """What a layer may need beyond its node: the ``example`` a derivation was asked about, and
    the numbers of its example 0 when it names one (``seed`` or ``params``), from which an
    assumption such as max pooling's argmax pattern is read; the run's state (dropout's masks)
    for the derivation's ``batch``; and the ``names`` a layer's own symbols (``σ``, ``x̂``) are
    registered with."""

    net: Network
    example: Mapping[str, object] = field(default_factory=dict)
    batch: int = 1
    names: Names = field(default_factory=Names)
    _values: dict[str, FloatArray] | None = field(default=None, init=False, repr=False)
    _run: Parameters | None = field(default=None, init=False, repr=False)

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
        if isinstance(params, Parameters) and self.batch > 1 and params.batch != self.batch:
            raise InvalidValueError(
                message(
                    "example['params']",
                    f"a batch of {self.batch} examples, the derivation's",
                    f"{params.batch}",
                )
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

    @property
    def run_source(self) -> str:
        """Where the run's state (dropout's masks) comes from, for the printed derivation."""
        if "params" in self.example:
            return "the given parameters"
        seed = self.example.get("seed", 0)
        return f"the run of init_parameters(net, seed={seed}, batch={self.batch})"

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

    def state(self, name: str) -> FloatArray:
        """The run's state ``name`` (dropout's ``mask3``) for the derivation's examples, batch
        last (``shape × batch``): of the given parameters (example 0 for a batch of one), or
        of ``init_parameters(net, seed, batch)``."""
        if self._run is None:
            params = self.example.get("params")
            if not isinstance(params, Parameters):
                seed = self.example.get("seed", 0)
                params = init_parameters(self.net, seed if isinstance(seed, int) else 0, self.batch)
            check_compatible(self.net, params)
            self._run = params
        return np.asarray(self._run.state[name][..., : self.batch], dtype=np.float64)


@dataclass
class SymbolicLayer:
    """One node of a network in symbols: its local map, its compact backward pass, the
    structure of its Jacobians, and what a derivation says about it."""

    node: Node
    kinds: ClassVar[tuple[str, ...]] = ()
    """The spec names (``conv2d``) this class handles, for the registry."""
    batch_aware: ClassVar[bool] = False
    """True when every method takes the whole batch (batch last, ``shape × B``): a layer that
    couples the examples (batch norm) or holds something per example (layer norm's ``σ``,
    dropout's mask). It sees a single example as a batch of one. Every other layer sees one
    example at a time, and :class:`~derivations.layers.model.SymbolicModel` stacks them."""

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

    def map_equations(
        self, names: Names, a: Tensor, params: Mapping[str, Tensor]
    ) -> list[Equation] | None:
        """The layer's map as a derivation shows it, when not its local map's ``vec`` entry by
        entry (attention: each step's matrix in its own symbols); ``None`` by default."""
        return None

    def check_batch(self, batch: int) -> None:
        """Raise :class:`~jacobians.errors.InvalidValueError` when the layer's derivation does
        not hold for a batch of ``batch`` examples (max pooling's argmax is one example's)."""

    # --- a layer with symbols of its own (σ, x̂) ---------------------------------------------
    def written(self, M: sp.Matrix, a: Tensor) -> sp.Matrix:
        """A derived matrix in the layer's own symbols (batch norm writes ``σ`` for
        ``√(var + ε)``); unchanged by default."""
        return M

    def composed(self, M: sp.Matrix, a: Tensor, params: Mapping[str, Tensor]) -> sp.Matrix:
        """``M`` with the layer's own intermediate symbols written in its input ``a`` (attention's
        ``Q``, ``K``, ``V``, ``A``), for comparing a product of its steps with the Jacobian of its
        composed map; unchanged by default."""
        return M

    def definitions(self, a: Tensor) -> dict[sp.Symbol, sp.Expr]:
        """The layer's abbreviations in its input and its positive symbols (``x̂ = (x − μ)/σ``),
        substituted before any proof is decided (``{}``: none)."""
        return {}

    def meanings(self, a: Tensor) -> dict[sp.Symbol, sp.Expr]:
        """What its positive symbols stand for, in its input and free constants
        (``σ = √(var + ε)``): the second opinion of :func:`vanishes` (``{}``: none)."""
        return {}

    def detail_steps(
        self,
        names: Names,
        a: Tensor,
        params: Mapping[str, Tensor],
        derived: Mapping[str, sp.Matrix],
        holds: Mapping[str, bool],
    ) -> list[Step]:
        """Steps that show how the layer's Jacobians were derived and what they were compared
        with (``derived`` and ``holds`` by role), for a layer whose algebra is worth a step of
        its own (batch norm's ``B × B`` block)."""
        return []

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
    def differentiable_input(self) -> bool:
        """Whether the layer has a Jacobian with respect to its input (not for token ids)."""
        return self.node.kind.differentiable_input

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
        """``W[2]`` for role ``W``, ``γ[2]`` for role ``gamma``."""
        return name_of(self.node.parameters[role])[0]


class Block(SymbolicLayer):
    """A layer made of its own sequence ``f`` (``node.inner``), whose output joins the block's
    input ``x`` and ``f(x)`` (``residual``: ``y = x + f(x)``). The model writes, runs and
    differentiates the sequence; the block says how the three meet."""

    def join(self, a: Tensor, f: Tensor) -> Tensor:
        """The output from the input ``a`` and the symbols ``f`` of the sequence's output."""
        raise NotImplementedError

    def combine(self, g: Tensor, through: Tensor) -> Tensor:
        """The compact backward at the block's input: from ``g = ∂L/∂y`` and ``through``, the
        sequence's compact backward of ``g``."""
        raise NotImplementedError

    def form(self, inner: sp.Matrix) -> sp.Matrix:
        """The block's input Jacobian from ``inner``, the product of its sequence's input
        Jacobians (last first)."""
        raise NotImplementedError

    def form_text(self, inner: str) -> str:
        """:meth:`form` in words, for ``inner`` the product's factors in words."""
        raise NotImplementedError


class Stepped(SymbolicLayer):
    """A layer made of named steps (attention: ``Q = X Wq``, …, ``S = QKᵀ/√d_k``, ``A``,
    ``Y = A V``), each a map of its own symbols. Its Jacobians are those of its steps, keyed
    ``"<out>_<in>"`` as :attr:`~jacobians.layers.base.Kind.parts` (``"A_S"``), each derived by
    ``Matrix.jacobian`` of :meth:`step` with respect to :meth:`part`; the layer's own Jacobians
    (``input`` and each role) are their chain rule, the sums of products :meth:`route` names.
    Its :meth:`forward` is the composed map, from which the model derives the layer's own
    Jacobians once more to check the routes (:meth:`composed` writes both sides in its input).
    One example at a time: a stepped layer refuses a batch."""

    @property
    def keys(self) -> tuple[str, ...]:
        """The steps' Jacobians, ``"Y_A"``, …, in the numeric kind's order."""
        return tuple(f"{out}_{of}" for out, of in self.node.kind.parts)

    def part(self, local: str, a: Tensor, params: Mapping[str, Tensor]) -> Tensor:
        """The symbols of a step's input or output: ``X`` the layer's input ``a``, a role its
        parameter, any other name the layer's own."""
        raise NotImplementedError

    def step(self, local: str, a: Tensor, params: Mapping[str, Tensor]) -> Tensor:
        """The step that computes ``local`` (``"S"``, ``"Y"``): its output in the symbols of its
        own inputs (:meth:`part`)."""
        raise NotImplementedError

    def route(self, role: str) -> Route:
        """The steps whose chain rule is the layer's Jacobian ``role`` (``input`` or a role)."""
        raise NotImplementedError

    def step_text(self, key: str) -> str:
        """A step's Jacobian as the notation writes it: ``Y_A`` → ``∂a[1]/∂A[1]``,
        ``Q_Wq`` → ``∂Q[1]/∂vec(Wq[1])``, ``Q_X`` → ``∂Q[1]/∂x``."""
        made, of = key.split("_", 1)

        def shown(local: str) -> str:
            name = name_of(self.node.tensor(local))[0]
            return f"vec({name})" if local in self.node.parameters else name

        return f"∂{shown(made)}/∂{shown(of)}"

    def own_text(self, role: str) -> str:
        """One of the layer's own Jacobians: ``∂a[1]/∂x``, ``∂a[1]/∂vec(Wq[1])``."""
        if role == "input":
            return f"∂{self.out_name}/∂{self.in_name}"
        return f"∂{self.out_name}/∂vec({self.parameter_name(role)})"

    def check_batch(self, batch: int) -> None:
        raise InvalidValueError(
            message(
                f"layers[{self.node.entry}] {self.node.kind.spec()!r}",
                "a derivation of one example (batch=1)",
                f"a batch of {batch}",
                "derive the network without batch norm, or compare it numerically",
            )
        )


def shape_text(shape: Shape) -> str:
    """``(2, 3, 3)`` → ``2×3×3``."""
    return "×".join(map(str, shape))
