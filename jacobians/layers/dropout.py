"""``dropout(p)``: inverted dropout, with a mask drawn from the run's seed.

Each entry is kept (mask 1) with probability ``1 − p`` and scaled by ``1/(1 − p)``, so that its
expected value is unchanged: ``y = mask ⊙ x/(1 − p)``. The mask is part of the run — drawn by
:func:`jacobians.parameters.init_parameters` from the seed, one per example (batch last),
written to parameter files as ``mask<l>`` and to ``compare --json`` on the layer's object — so
a run replays exactly. Its Jacobian is ``diag(mask)/(1 − p)``; the backward pass multiplies by
the same mask and scale.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .._typing import FloatArray
from ..structured import Diagonal, Structured
from .base import Kind, NodeNames, Params, Shape, argument, spec_value


@dataclass(frozen=True)
class Dropout(Kind):
    """``dropout(p)``: each entry dropped with probability ``p``, the others scaled by
    ``1/(1 − p)``."""

    p: float = argument(minimum=0.0, below=1.0, help="the probability of dropping an entry")
    name: ClassVar[str] = "dropout"
    summary: ClassVar[str] = "mask ⊙ x/(1 − p), the mask drawn from the seed; diag(mask)/(1 − p)"
    state: ClassVar[tuple[str, ...]] = ("mask",)

    def draw(self, role: str, in_shape: Shape, batch: int, rng: np.random.Generator) -> FloatArray:
        """Keep each entry with probability ``1 − p``: 1 where a uniform draw is at least ``p``."""
        return np.asarray(rng.random((*in_shape, batch)) >= self.p, dtype=np.float64)

    def forward(self, params: Params, a: FloatArray) -> FloatArray:
        """``mask ⊙ x/(1 − p)``."""
        return np.asarray(params["mask"] * a / (1.0 - self.p))

    def jacobians(self, params: Params, a: FloatArray, out: FloatArray) -> dict[str, Structured]:
        """``diag(vec(mask))/(1 − p)``."""
        return {"input": Diagonal(params["mask"].reshape(-1) / (1.0 - self.p))}

    def backward(
        self, params: Params, a: FloatArray, out: FloatArray, g: FloatArray, need_input: bool = True
    ) -> tuple[FloatArray | None, dict[str, FloatArray]]:
        """``g ⊙ mask/(1 − p)``."""
        return (np.asarray(g * params["mask"] / (1.0 - self.p)) if need_input else None), {}

    mistakes: ClassVar[dict[str, str]] = {
        "dropout_mask_forgotten": "the dropout mask is forgotten: the gradient reaches the "
        "dropped entries too",
        "dropout_scale_forgotten": "the dropout scale 1/(1 − p) is forgotten",
    }

    def mistaken_backward(
        self,
        mistake: str,
        params: Params,
        a: FloatArray,
        out: FloatArray,
        g: FloatArray,
        after: FloatArray | None = None,
    ) -> tuple[FloatArray, dict[str, FloatArray]]:
        if mistake == "dropout_mask_forgotten":
            return np.asarray(g / (1.0 - self.p)), {}
        if mistake == "dropout_scale_forgotten" and self.p > 0:
            return np.asarray(g * params["mask"]), {}
        raise KeyError(mistake)

    def structure(self, role: str, node: NodeNames) -> str:
        return f"diag(mask)/(1 − {spec_value(self.p)}), the mask of {node.output}"
