"""``layernorm(eps=1e-5)``: each example normalized over all of its features.

With ``n`` the number of an example's entries (``C·H·W`` for an image), ``μ`` and the biased
``σ² = var + ε`` of those ``n`` values, ``x̂ = (x − μ)/σ`` and ``y = γ ⊙ x̂ + β``, ``γ`` and ``β``
of the normalized shape (NOTATION.md, "Beyond dense layers"). It does not couple examples: per
example the Jacobian is

    ∂y/∂x = diag(γ) (1/σ)(I − 11ᵀ/n − x̂ x̂ᵀ/n),

a diagonal minus two rank-one terms (:mod:`jacobians.structured.normalization`), and the
compact backward pass is ``u = γ ⊙ dy/σ``, ``dx = u − mean(u) − x̂ ⊙ mean(u ⊙ x̂)``,
``dγ = Σ dy ⊙ x̂``, ``dβ = Σ dy`` (sums over the batch). Over a single feature ``x = μ`` and the
output is ``β`` whatever the input: refused.

On a sequence ``T × d`` (one token per row) each token is normalized over its ``d`` features,
``γ`` and ``β`` of ``d`` (as transformers do): the same block per token, ``n = d``.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod
from typing import ClassVar

from .._typing import FloatArray
from .base import NodeNames, Shape, need
from .norm import Norm


@dataclass(frozen=True)
class LayerNorm(Norm):
    """``layernorm(eps=1e-5)``: per example, over every feature."""

    name: ClassVar[str] = "layernorm"
    summary: ClassVar[str] = (
        "γ ⊙ (x − μ)/σ + β over each example's features; diag(γ)(1/σ)(I − 11ᵀ/n − x̂x̂ᵀ/n)"
    )
    axis: ClassVar[int] = 0

    def out_shape(self, in_shape: Shape) -> Shape:
        sequence = len(in_shape) == 2
        size = in_shape[1] if sequence else prod(in_shape)
        need(
            size > 1,
            "input",
            "at least 2 features"
            + (" per token" if sequence else "")
            + " (over one, x − μ = 0 and the output is β whatever the input)",
            f"{size}",
        )
        return in_shape

    def parameter_shapes(self, in_shape: Shape) -> dict[str, Shape]:
        shape = in_shape[1:] if len(in_shape) == 2 else in_shape
        return {"gamma": shape, "beta": shape}

    def parameter_size(self, in_shape: Shape) -> int:
        return prod(self.parameter_shapes(in_shape)["gamma"])

    def view(self, a: FloatArray) -> FloatArray:
        """Every feature of an example down a column, one column per example; a sequence's
        ``T × d × B`` as it is (a group is a token's ``d`` features, axis 1)."""
        return a if a.ndim == 3 else a.reshape(-1, a.shape[-1])

    def group_axis(self, V: FloatArray) -> int:
        return 1 if V.ndim == 3 else 0

    def parameter_axis(self, V: FloatArray) -> int:
        return 1 if V.ndim == 3 else 0

    def structure(self, role: str, node: NodeNames) -> str:
        if len(node.in_shape) == 2:
            (T, d), B = node.in_shape, node.batch
            if role == "gamma":
                rows = f"{T}" if B == 1 else f"{T}·{B}"
                return f"x̂ in the column of its feature ({rows} rows each)"
            if role == "beta":
                return f"1_{T} ⊗ I_{d}" if B == 1 else f"1_{T} ⊗ I_{d} ⊗ 1_{B}"
            return f"diag(γ)(1/σ)(I − 11ᵀ/{d} − x̂x̂ᵀ/{d}) per token"
        n = prod(node.in_shape)
        if role == "gamma":
            return "diag(x̂) per example"
        if role == "beta":
            return f"I_{n}" if node.batch == 1 else f"I_{n} ⊗ 1_{node.batch}"
        each = "" if node.batch == 1 else " per example"
        return f"diag(γ)(1/σ)(I − 11ᵀ/{n} − x̂x̂ᵀ/{n}){each}"
