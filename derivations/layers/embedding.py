"""``embedding(V, d)`` in symbols: the rows of ``E`` for the run's token ids.

Mirrors :mod:`jacobians.layers.embedding`. The ids are part of the run, not variables: the
derivation takes them as the numbers of the example it was asked about (``example = {"seed": s}``
or ``{"params": p}``; seed 0 by default), as dropout takes its mask. With ``S`` the ``T × V``
one-hot matrix of the ids (``S[t, v] = 1`` where token ``t`` is ``v``):

- Local map: ``Y = S E``, ``T × d``: row ``t`` is row ``ids[t]`` of ``E``.
- Jacobian (derived): ``∂vec(Y)/∂vec(E) = S ⊗ I_d`` (row-major ``vec``); none with respect to
  the ids, which are not real numbers (the layer comes first).
- Compact backward: ``dE = Sᵀ dY``, each token's gradient row added into its id's row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import sympy as sp

from jacobians.errors import InvalidValueError, message
from jacobians.layers.embedding import Embedding as NumericEmbedding
from jacobians.network import Node

from ..derivation import Equation, Step
from ..network import Names
from .base import (
    Context,
    Gradients,
    Structure,
    SymbolicLayer,
    Tensor,
    dims,
    kron,
    matrix,
    tex,
    unvec,
    zeros,
)


@dataclass
class Embedding(SymbolicLayer):
    """``embedding(V, d)``: the rows of ``E`` (``V × d``) for the run's ids."""

    kinds = ("embedding",)
    ids: tuple[int, ...] = ()
    """The run's token ids, example 0's."""
    source: str = ""

    @classmethod
    def build(cls, node: Node, context: Context) -> SymbolicLayer:
        """The layer with the ids of the example the derivation was asked about."""
        layer = cls(node)
        layer.ids = tuple(round(float(v)) for v in context.values(node.input).reshape(-1))
        layer.source = context.source
        return layer

    @property
    def kind(self) -> NumericEmbedding:
        """The numeric kind."""
        return self.kind_of(NumericEmbedding)

    def one_hot(self) -> sp.Matrix:
        """``S`` (``T × V``): ``S[t, ids[t]] = 1``."""
        S = sp.zeros(len(self.ids), self.kind.vocabulary)
        for t, v in enumerate(self.ids):
            S[t, v] = 1
        return S

    def forward(self, a: Tensor, params: Mapping[str, Tensor]) -> Tensor:
        """``S E``: row ``t`` is row ``ids[t]`` of ``E``."""
        Y = self.one_hot() * matrix(params["E"])
        return unvec(Y, (Y.rows, Y.cols))

    def backward(
        self, a: Tensor, out: Tensor, params: Mapping[str, Tensor], g: Tensor
    ) -> Gradients:
        """``dE = Sᵀ g``; the ids have no gradient (zeros stand in its place)."""
        table = self.one_hot().T * matrix(g)
        return Gradients(zeros(a.shape), {"E": unvec(table, (table.rows, table.cols))})

    def structures(
        self, a: Tensor, out: Tensor, params: Mapping[str, Tensor]
    ) -> dict[str, Structure]:
        """``S ⊗ I_d``."""
        T, V, d = len(self.ids), self.kind.vocabulary, self.kind.dim
        text = f"S ⊗ I_{d}, S the {T} × {V} one-hot matrix of the ids"
        return {"E": Structure(text, kron(self.one_hot(), sp.eye(d)))}

    def check_batch(self, batch: int) -> None:
        raise InvalidValueError(
            message(
                f"layers[{self.node.entry}] {self.node.kind.spec()!r}",
                "a derivation of one example (batch=1): its ids are example 0's",
                f"a batch of {batch}",
            )
        )

    # --- what a derivation says -------------------------------------------------------------------
    def ids_text(self) -> str:
        """``(1, 0)``: the ids, counted from 0."""
        return f"({', '.join(map(str, self.ids))})"

    def formula(self) -> str:
        E = self.parameter_name("E")
        return (
            f"{self.out_name} = S {E}: row t is the row of {E} of token t's id, the ids "
            f"{self.ids_text()} (from 0) of {self.source}"
        )

    def notes(self) -> str:
        return (
            f"The ids {self.ids_text()} are numbers of the run, not variables: "
            f"∂{self.out_name}/∂vec({self.parameter_name('E')}) = S ⊗ I_{self.kind.dim} has a 1 "
            f"where entry (t, k) of {self.out_name} copies entry (ids[t], k), and there is no "
            "Jacobian with respect to the ids."
        )

    def detail_steps(
        self,
        names: Names,
        a: Tensor,
        params: Mapping[str, Tensor],
        derived: Mapping[str, sp.Matrix],
        holds: Mapping[str, bool],
    ) -> list[Step]:
        """The one-hot matrix of the run's ids."""
        S = self.one_hot()
        T, V = dims(S)
        text = (
            f"The ids {self.ids_text()} of {self.source}, counted from 0, as the {T} × {V} "
            "one-hot matrix S (a 1 at row t, column ids[t])."
        )
        return [
            Step(
                f"Embedding at layer {self.node.label}: the ids",
                text,
                (Equation(names.label("S", "S"), S, (T, V)),),
            )
        ]

    def statement(self, role: str) -> str:
        l = self.node.label
        return f"reshape(∂L/∂vec(E[{l}])) − Sᵀ δ[{l}] = 0"

    def compact_steps(
        self, role: str, names: Names, a: Tensor, params: Mapping[str, Tensor], g: Tensor
    ) -> list[Step]:
        """``dE = Sᵀ δ``."""
        l = self.node.label
        table = matrix(self.backward(a, a, params, g).params["E"])
        shown = f"E[{l}]"
        return [
            Step(
                "The compact formula",
                f"d{shown} = Sᵀ δ[{l}]: each token's gradient row added into its id's row (rows "
                "of repeated ids add, rows of unused ids are 0):",
                (Equation(names.label(f"d{shown}", f"d{tex(shown)}"), table, dims(table)),),
            )
        ]
