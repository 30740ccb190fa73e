"""``flatten``: ``C × H × W → C·H·W``. With row-major ``vec`` it changes nothing but the shape:
its Jacobian is the identity (and so is its batch Jacobian: the batch stays on the last axis)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .._typing import FloatArray
from ..structured import Identity, Structured
from .base import Kind, NodeNames, Params, Shape


@dataclass(frozen=True)
class Flatten(Kind):
    """``flatten``: one vector per example, in row-major order."""

    name: ClassVar[str] = "flatten"
    summary: ClassVar[str] = "C×H×W → C·H·W, row-major; the identity"

    def out_shape(self, in_shape: Shape) -> Shape:
        return (int(np.prod(in_shape)),)

    def forward(self, params: Params, a: FloatArray) -> FloatArray:
        return a.reshape(-1, a.shape[-1])

    def jacobians(self, params: Params, a: FloatArray, out: FloatArray) -> dict[str, Structured]:
        """``I`` of ``C·H·W·B``."""
        return {"input": Identity(a.size)}

    def backward(
        self, params: Params, a: FloatArray, out: FloatArray, g: FloatArray, need_input: bool = True
    ) -> tuple[FloatArray | None, dict[str, FloatArray]]:
        return (g.reshape(a.shape) if need_input else None), {}

    def structure(self, role: str, node: NodeNames) -> str:
        return f"I_{int(np.prod(node.in_shape))} (flatten keeps vec)"
