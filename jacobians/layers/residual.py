"""``residual(f…)``: ``y = x + f(x)``, the Jacobian ``I + J_f`` that lets gradients through.

``f`` is a sequence of layers written inside the parentheses —
``residual(dense(4), relu, dense(4))`` — that keeps its input's shape. Its layers are numbered
inside the block: in the block of layer ``l`` they are ``l_1, l_2, …`` (NOTATION.md), so
``residual(dense(4), relu, dense(4))`` as layer 3 has ``z3_1``, ``a3_1`` (the dense layer and
its relu), ``a3_2``, and the parameters ``W3_1``, ``b3_1``, ``W3_2``, ``b3_2``.

The block's Jacobian with respect to its input is ``I + J_f``, ``J_f`` the product of its own
layers' input Jacobians (:class:`jacobians.structured.SkipSum`): the identity carries the
gradient past ``f`` unchanged, which is why a deep stack of blocks still trains. A parameter
of ``f`` is reached through ``∂y/∂f = I`` and then ``f``'s own chain. The network builds,
runs and differentiates the inner sequence (:mod:`jacobians.network`, :mod:`jacobians.paths`);
this kind says what the block is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from ..errors import InvalidValueError, JacobiansError, ShapeError, message
from .base import Kind, NodeNames, Shape, show


@dataclass(frozen=True)
class Residual(Kind):
    """``residual(f…)``: ``y = x + f(x)`` for a sequence ``f`` that keeps the shape."""

    layers: tuple[Kind, ...] = ()
    name: ClassVar[str] = "residual"
    summary: ClassVar[str] = "x + f(x), f a sequence of layers that keeps the shape; I + J_f"
    block: ClassVar[bool] = True

    @property
    def inner_kinds(self) -> tuple[Kind, ...]:
        return self.layers

    @classmethod
    def parse(cls, positional: Sequence[str], keywords: dict[str, str], where: str) -> Kind:
        """The arguments are a spec: ``residual(dense(4), relu, dense(4))``."""
        from .registry import parse_layers

        if keywords or not positional:
            raise InvalidValueError(
                message(where, "a sequence of layers, residual(dense(4), relu, dense(4))", "none")
            )
        try:
            return cls(tuple(parse_layers(list(positional))))
        except JacobiansError as e:  # the inner layer's message, placed inside the block
            raise type(e)(f"{where}: {e}") from None

    def spec(self) -> str:
        return f"residual({', '.join(k.spec() for k in self.layers)})"

    def arguments(self) -> dict[str, Any]:
        return {}

    def out_shape(self, in_shape: Shape) -> Shape:
        shape = in_shape
        for kind in self.layers:
            shape = kind.out_shape(shape)
        if shape != in_shape:
            raise ShapeError(
                message(
                    "output",
                    f"the input's shape, {show(in_shape)}, to add them",
                    f"{show(shape)} from {', '.join(k.spec() for k in self.layers)}",
                    "the inner layers must keep the shape",
                )
            )
        return in_shape

    mistakes: ClassVar[dict[str, str]] = {
        "identity_path_forgotten": "the identity path of the residual block is forgotten: its "
        "Jacobian is I + J_f, not J_f",
    }

    def structure(self, role: str, node: NodeNames) -> str:
        return "I + J_f, J_f the chain of the block's own layers"
