"""``embedding(V, d)``: a sequence of token ids becomes the rows of a table ``E``.

The input is ``T`` token ids in ``0 … V − 1`` (``--input T``; a random run draws them from the
seed, a parameter file gives them as ``x``, batch last). ``E`` is ``V × d``; the output is the
sequence ``Y = E[ids]`` (``T × d``, one token per row). With ``S`` the ``T × V`` one-hot matrix
of the ids (``S[t, v] = 1`` where token ``t`` is ``v``), ``Y = S E``, so by the row layout's rule
``vec(A B C) = (A ⊗ Cᵀ) vec(B)``

    ∂vec(Y)/∂vec(E) = S ⊗ I_d,

and the compact backward scatters each token's gradient row into its id's row:
``dE = Sᵀ dY`` (rows of repeated ids add). The ids are not real numbers: there is no Jacobian
with respect to the input, and the layer must come first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .._typing import FloatArray, Matrix
from ..errors import InvalidValueError, message
from ..structured import KronWeightBatch, Structured, per_example
from .base import Kind, NodeNames, Params, Shape, argument, need, show


def one_hot(ids: np.ndarray, vocabulary: int) -> Matrix:
    """``S`` (``T × V``): ``S[t, ids[t]] = 1``."""
    S = np.zeros((ids.size, vocabulary))
    S[np.arange(ids.size), ids] = 1.0
    return S


@dataclass(frozen=True)
class Embedding(Kind):
    """``embedding(V, d)``: token ids ``(T,)`` → rows of ``E`` (``V × d``), ``T × d``."""

    vocabulary: int = argument(minimum=1, help="V: the ids run over 0 … V − 1")
    dim: int = argument(minimum=1, help="d: the features of each token's row")
    name: ClassVar[str] = "embedding"
    summary: ClassVar[str] = "Y = E[ids] = S E (S one-hot, T × V); ∂vec(Y)/∂vec(E) = S ⊗ I_d"
    parametric: ClassVar[bool] = True
    roles: ClassVar[tuple[str, ...]] = ("E",)
    nouns: ClassVar[dict[str, tuple[str, str]]] = {"E": ("embedding entry", "embedding entries")}
    differentiable_input: ClassVar[bool] = False

    def out_shape(self, in_shape: Shape) -> Shape:
        need(len(in_shape) == 1, "input", "T token ids (--input T)", show(in_shape))
        return (in_shape[0], self.dim)

    def parameter_shapes(self, in_shape: Shape) -> dict[str, Shape]:
        return {"E": (self.vocabulary, self.dim)}

    def forward_cost(self, in_shape: Shape) -> int:
        """A copy of ``d`` numbers per token."""
        return in_shape[0] * self.dim

    def init(self, role: str, in_shape: Shape, rng: np.random.Generator) -> FloatArray:
        """``E ~ N(0, 1)``."""
        return np.asarray(rng.standard_normal((self.vocabulary, self.dim)))

    def draw_input(self, in_shape: Shape, batch: int, rng: np.random.Generator) -> FloatArray:
        """``T × B`` ids drawn uniformly from ``0 … V − 1`` (as floats, like every ``x``)."""
        return rng.integers(0, self.vocabulary, size=(*in_shape, batch)).astype(np.float64)

    def check_input(self, x: FloatArray) -> None:
        """Every id a whole number in ``0 … V − 1``; the first that is not is named."""
        finite = np.isfinite(x)
        bad = ~finite | (x != np.round(np.where(finite, x, 0))) | (x < 0) | (x >= self.vocabulary)
        if bad.any():
            where = tuple(int(i) for i in np.argwhere(bad)[0])
            named = where[:1] if x.shape[-1] == 1 else where  # one example: x[t], as it is written
            raise InvalidValueError(
                message(
                    f"x{list(named)}",
                    f"a token id: a whole number in 0 … {self.vocabulary - 1} "
                    f"(the vocabulary has V = {self.vocabulary})",
                    repr(float(x[where])),
                )
            )

    def ids(self, a: FloatArray) -> np.ndarray:
        """The ids of the batch ``a`` (``T × B``) as integers."""
        return np.asarray(np.rint(a), dtype=np.intp)

    def forward(self, params: Params, a: FloatArray) -> FloatArray:
        """``Y[t, :, b] = E[ids[t, b]]``, ``T × d × B``."""
        return np.asarray(params["E"][self.ids(a)].transpose(0, 2, 1))

    def jacobians(self, params: Params, a: FloatArray, out: FloatArray) -> dict[str, Structured]:
        """``S_b ⊗ I_d`` per example (no input Jacobian: ids are not differentiable)."""
        ids = self.ids(a)
        blocks = [
            KronWeightBatch(one_hot(ids[:, b], self.vocabulary), self.dim)
            for b in range(ids.shape[1])
        ]
        return {"E": per_example(blocks, shared=True)}

    def backward(
        self, params: Params, a: FloatArray, out: FloatArray, g: FloatArray, need_input: bool = True
    ) -> tuple[FloatArray | None, dict[str, FloatArray]]:
        """``dE = Σ_b S_bᵀ dY_b``: each token's gradient row added into its id's row."""
        table = np.zeros_like(params["E"])
        np.add.at(table, self.ids(a), g.transpose(0, 2, 1))
        return None, {"E": table}

    def structure(self, role: str, node: NodeNames) -> str:
        T, each = node.in_shape[0], "" if node.batch == 1 else " per example"
        return f"S ⊗ I_{self.dim}, S the {T} × {self.vocabulary} one-hot matrix of the ids{each}"
