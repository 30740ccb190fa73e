"""``maxpool(k, stride=k)`` and ``avgpool(k, stride=k)`` in symbols, per channel.

Mirrors :mod:`jacobians.layers.pool`. Window ``(c, i, j)`` of an input ``C × H × W`` covers
``a[c, i·s + u, j·s + v]`` for ``0 ≤ u, v < k``; the output is ``C × H' × W'``,
``H' = ⌊(H − k)/s⌋ + 1``.

- Average pooling: ``a'[c, i, j] = (1/k²) Σ_{u,v} a[c, i·s + u, j·s + v]``; the derived
  Jacobian is the averaging matrix (``1/k²`` at each input of a window, ``C·H'·W' × C·H·W``);
  the compact backward spreads each output's gradient evenly, ``g/k²`` to each input of its
  window, overlapping windows (``s < k``) adding up.
- Max pooling: ``max`` has no single derivative formula — which entry of a window is largest
  decides where the gradient goes — so the derivation **states an assumption**: the argmax
  pattern, for every window ``(c, i, j)`` the offsets ``(u*, v*)`` of its maximum, taken as
  strictly larger than the rest of its window. On that region of inputs the layer *is* the
  selection ``a'[c, i, j] = a[c, i·s + u*, j·s + v*]``: that is its local map, its derived
  Jacobian is the selection matrix (one 1 per row), and the compact backward routes each
  gradient to the assumed entry. The check that the assumption describes ``max``: with every
  other entry of a window written as the assumed maximum minus a positive symbol, sympy's
  ``Max`` of the window evaluates to the assumed entry.

  The pattern comes from ``example`` (:class:`~derivations.layers.base.Context`). By default
  it is a choice that needs no numbers: **the maximum of every window is its top-left entry,
  (u*, v*) = (0, 0)**, and ``example={"argmax": (u, v)}`` chooses another entry. With
  ``example={"seed": s}`` (or ``{"params": p}``) it is the pattern of that example's numbers,
  so that the derivation describes the point the numeric routes evaluate; a tie there takes
  the first maximum in row-major order, as :meth:`jacobians.layers.pool.MaxPool.selected`
  does, and the derivation reports it as a kink (``max`` has no derivative there).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from itertools import product

import numpy as np
import sympy as sp

from jacobians.errors import InvalidValueError, message
from jacobians.layers.pool import Pool as NumericPool
from jacobians.network import Node

from ..derivation import Equation, Step
from ..network import Names
from .base import (
    Context,
    Gradients,
    Pattern,
    Structure,
    SymbolicLayer,
    Tensor,
    tex,
    vec,
    zeros,
)

Window = tuple[int, int, int]


@dataclass
class Pool(SymbolicLayer):
    """A pooling layer over ``k × k`` windows moved by ``s``."""

    @property
    def size(self) -> int:
        """``k``."""
        return self.kind_of(NumericPool).size

    @property
    def stride(self) -> int:
        """``s`` (``k`` unless given)."""
        return self.kind_of(NumericPool).step

    def windows(self) -> Iterator[Window]:
        """Every output position ``(c, i, j)``, row-major."""
        yield from product(*(range(n) for n in self.node.out_shape))

    def entries(self, w: Window) -> list[tuple[int, int, int]]:
        """The input positions of window ``w``, row-major over ``(u, v)``."""
        c, i, j = w
        k, s = self.size, self.stride
        return [(c, i * s + u, j * s + v) for u in range(k) for v in range(k)]

    def column(self, position: tuple[int, int, int]) -> int:
        """Where an input position sits in ``vec(a)``."""
        _, H, W = self.node.in_shape
        c, r, q = position
        return (c * H + r) * W + q

    def _window_text(self) -> str:
        k, s = self.size, self.stride
        i = "i" if s == 1 else f"{s}i"
        j = "j" if s == 1 else f"{s}j"
        return f"{self.in_name}[c, {i} + u, {j} + v] over 0 ≤ u, v ≤ {k - 1}"


@dataclass
class AvgPool(Pool):
    """``avgpool``: the mean of each window."""

    kinds = ("avgpool",)

    def forward(self, a: Tensor, params: Mapping[str, Tensor]) -> Tensor:
        """``(1/k²) Σ`` of each window."""
        share = sp.Rational(1, self.size**2)
        out = zeros(self.node.out_shape)
        for w in self.windows():
            out[w] = share * sp.Add(*[a[p] for p in self.entries(w)])
        return out

    def backward(
        self, a: Tensor, out: Tensor, params: Mapping[str, Tensor], g: Tensor
    ) -> Gradients:
        """Each output's gradient spread evenly: ``g[c, i, j]/k²`` to each input of its window."""
        share = sp.Rational(1, self.size**2)
        back = zeros(a.shape)
        for w in self.windows():
            for p in self.entries(w):
                back[p] += share * g[w]
        return Gradients(back)

    def structures(
        self, a: Tensor, out: Tensor, params: Mapping[str, Tensor]
    ) -> dict[str, Structure]:
        """The averaging matrix: row ``(c, i, j)`` holds ``1/k²`` at its window's columns."""
        M = sp.zeros(int(out.size), int(a.size))
        for row, w in enumerate(self.windows()):
            for p in self.entries(w):
                M[row, self.column(p)] += sp.Rational(1, self.size**2)
        k = self.size
        return {"input": Structure(f"averaging: 1/{k * k} over each {k}×{k} window", M)}

    def formula(self) -> str:
        return f"{self.out_name} = avgpool({self.in_name}): the mean of {self._window_text()}"


@dataclass
class MaxPool(Pool):
    """``maxpool``: the maximum of each window, under a stated argmax assumption."""

    kinds = ("maxpool",)
    pattern: Pattern = field(default_factory=lambda: np.zeros((0, 0, 0, 2), dtype=np.intp))
    source: str = ""
    ties: tuple[Window, ...] = ()
    listed: bool = False
    """Whether the pattern varies by window (read off numbers) and is listed in the text."""

    @classmethod
    def build(cls, node: Node, context: Context) -> SymbolicLayer:
        """The pattern of ``example["argmax"]`` (every window alike, ``(0, 0)`` by default) or
        of the numbers of the example's ``seed`` or ``params``."""
        layer = cls(node)
        if context.numeric and "argmax" not in context.example:
            layer.pattern, layer.ties = layer.argmax(context.values(node.input))
            layer.source = f"the argmax pattern of {context.source}"
            layer.listed = True
            return layer
        k = layer.size
        chosen = context.example.get("argmax", (0, 0))
        if not (
            isinstance(chosen, tuple | list)
            and len(chosen) == 2
            and all(isinstance(t, int) and not isinstance(t, bool) and 0 <= t < k for t in chosen)
        ):
            raise InvalidValueError(
                message(
                    "example['argmax']",
                    f"two offsets (u*, v*) from 0 to {k - 1}, the entry of every {k}×{k} "
                    "window taken as its maximum",
                    repr(chosen),
                )
            )
        u, v = chosen
        layer.pattern = np.zeros((*node.out_shape, 2), dtype=np.intp)
        layer.pattern[..., 0], layer.pattern[..., 1] = u, v
        cycle = layer.contradiction()
        if cycle:
            chain = " > ".join(f"{layer.in_name}[{', '.join(map(str, p))}]" for p in cycle)
            raise InvalidValueError(
                message(
                    "example['argmax']",
                    f"an entry of the {k}×{k} windows that can be the maximum of every window at "
                    "once",
                    f"{chosen!r}, which asks {chain}",
                    "the windows overlap (stride < size): choose a corner, such as (0, 0)",
                )
            )
        where = "its top-left entry, " if (u, v) == (0, 0) else ""
        layer.source = (
            f"that the maximum of every window is {where}(u*, v*) = ({u}, {v}) (counted from 0)"
        )
        return layer

    def check_batch(self, batch: int) -> None:
        """Refused in a batch: the argmax assumption is one example's."""
        raise InvalidValueError(
            message(
                f"layers[{self.node.entry}] {self.node.kind.spec()!r}",
                "layers whose derivation holds for a whole batch",
                f"max pooling in a batch of {batch}, whose argmax assumption is one example's",
                "use avgpool, or derive the max pooling network without batch norm",
            )
        )

    def argmax(self, values: np.ndarray) -> tuple[Pattern, tuple[Window, ...]]:
        """Each window's ``(u*, v*)`` at ``values`` (the first maximum in row-major order) and
        the windows with a tie."""
        pattern = np.zeros((*self.node.out_shape, 2), dtype=np.intp)
        ties: list[Window] = []
        k = self.size
        for w in self.windows():
            window = np.array([values[p] for p in self.entries(w)])
            best = int(np.argmax(window))
            pattern[w] = divmod(best, k)
            if int(np.sum(window == window[best])) > 1:
                ties.append(w)
        return pattern, tuple(ties)

    def selected(self, w: Window) -> tuple[int, int, int]:
        """The input position assumed to be window ``w``'s maximum."""
        c, i, j = w
        u, v = (int(t) for t in self.pattern[w])
        return c, i * self.stride + u, j * self.stride + v

    def forward(self, a: Tensor, params: Mapping[str, Tensor]) -> Tensor:
        """Under the assumption: ``a'[c, i, j] = a[c, i·s + u*, j·s + v*]``."""
        out = zeros(self.node.out_shape)
        for w in self.windows():
            out[w] = a[self.selected(w)]
        return out

    def maxima(self, a: Tensor) -> Tensor:
        """``max`` of each window, as sympy's ``Max`` (what the assumption replaces)."""
        out = zeros(self.node.out_shape)
        for w in self.windows():
            out[w] = sp.Max(*[a[p] for p in self.entries(w)])
        return out

    def contradiction(self) -> list[tuple[int, int, int]]:
        """A cycle ``p > q > … > p`` among the assumed inequalities (each window's maximum above
        the rest of its window), or ``[]`` when some input makes all of them true at once:
        overlapping windows can ask for both ``p > q`` and ``q > p``."""
        above: dict[tuple[int, int, int], set[tuple[int, int, int]]] = {}
        for w in self.windows():
            top = self.selected(w)
            above.setdefault(top, set()).update(p for p in self.entries(w) if p != top)
        state: dict[tuple[int, int, int], int] = {}  # 1: on the path, 2: done
        path: list[tuple[int, int, int]] = []

        def visit(p: tuple[int, int, int]) -> list[tuple[int, int, int]]:
            state[p] = 1
            path.append(p)
            for q in sorted(above.get(p, ())):
                if state.get(q) == 1:
                    return [*path[path.index(q) :], q]
                if q not in state and (cycle := visit(q)):
                    return cycle
            state[p] = 2
            path.pop()
            return []

        for p in sorted(above):
            if p not in state and (cycle := visit(p)):
                return cycle
        return []

    def assumption_holds(self, a: Tensor) -> bool:
        """The assumed inequalities are consistent (:meth:`contradiction`), and with every other
        entry of each window written as its assumed maximum minus a positive symbol, sympy's
        ``Max`` of the window is the assumed entry."""
        if self.contradiction():
            return False
        for w in self.windows():
            top = a[self.selected(w)]
            below = {
                a[p]: top - sp.Dummy("d", positive=True)
                for p in self.entries(w)
                if p != self.selected(w)
            }
            if sp.Max(*[a[p] for p in self.entries(w)]).xreplace(below) != top:
                return False
        return True

    def backward(
        self, a: Tensor, out: Tensor, params: Mapping[str, Tensor], g: Tensor
    ) -> Gradients:
        """Each output's gradient routed to its window's assumed maximum."""
        back = zeros(a.shape)
        for w in self.windows():
            back[self.selected(w)] += g[w]
        return Gradients(back)

    def structures(
        self, a: Tensor, out: Tensor, params: Mapping[str, Tensor]
    ) -> dict[str, Structure]:
        """The selection matrix: row ``(c, i, j)`` has its 1 at the assumed maximum."""
        M = sp.zeros(int(out.size), int(a.size))
        for row, w in enumerate(self.windows()):
            M[row, self.column(self.selected(w))] = 1
        k = self.size
        return {"input": Structure(f"selection: the assumed maximum of each {k}×{k} window", M)}

    def formula(self) -> str:
        return f"{self.out_name} = maxpool({self.in_name}): the maximum of {self._window_text()}"

    def notes(self) -> str:
        return (
            f"∂{self.out_name}/∂{self.in_name} is the selection matrix of the argmax "
            f"assumption stated above (layer {self.layer}): one 1 per row, at the window's "
            "assumed maximum."
        )

    def assumption_steps(self, names: Names, a: Tensor) -> list[Step]:
        """The assumption, each window's maximum in symbols, and the check."""
        holds = self.assumption_holds(a)
        listing = ""
        if self.listed:
            where = []
            for w in self.windows():
                u, v = (int(t) for t in self.pattern[w])
                where.append(f"({', '.join(map(str, w))}) → ({u}, {v})")
            listing = f": window (c, i, j) → (u*, v*), counted from 0: {'; '.join(where)}"
        text = (
            "max has no single derivative formula: which entry of a window is largest decides "
            f"where the gradient goes. We assume {self.source}{listing}; each assumed maximum "
            "strictly larger than the rest of its window. There the layer is the selection "
            "below, so its Jacobian is a selection matrix (one 1 per row). Check: the assumed "
            "inequalities of overlapping windows never contradict each other, and writing every "
            "other entry of a window as the assumed maximum minus a positive number, sympy "
            f"evaluates Max to the assumed entry: {'holds ✓' if holds else 'FAILS ✗'}."
        )
        if self.ties:
            tied = "; ".join(f"({', '.join(map(str, w))})" for w in self.ties)
            text += (
                f" At the example, window(s) {tied} hold a tie: max has no derivative there "
                "(a kink), and the first maximum in row-major order is taken, as the numeric "
                "package does."
            )
        l = self.layer
        label_max = names.label(f"{self.out_name}", tex(self.out_name))
        label_sel = names.label(f"{self.out_name} (assumed)", rf"{tex(self.out_name)}_{{*}}")
        maxima, chosen = vec(self.maxima(a)), vec(self.forward(a, {}))
        return [
            Step(
                f"Max pooling at layer {l}: the assumption",
                text,
                (
                    Equation(label_max, maxima, (maxima.rows, 1)),
                    Equation(label_sel, chosen, (chosen.rows, 1)),
                ),
            )
        ]
