"""``dropout(p)`` in symbols: ``y = mask ⊙ x/(1 − p)`` with the run's mask as numbers.

Mirrors :mod:`jacobians.layers.dropout`. The mask is part of the run, not a variable: it is
drawn from the seed (:func:`jacobians.parameters.init_parameters`) and replayed exactly, so the
derivation takes its entries as the numbers 0 and 1 of the example it was asked about
(``example = {"seed": s}`` or ``{"params": p}``; seed 0 by default), one mask per example of a
batch. With numbers the printed Jacobian shows which entries are dropped, and nothing needs an
assumption ``m ∈ {0, 1}``. ``p`` is taken exactly (``0.5`` is ``1/2``).

- Local map: ``y_i = mask_i · x_i/(1 − p)``.
- Jacobian (derived): ``diag(mask)/(1 − p)``, ``n × n``.
- Compact backward: ``∂L/∂x = g ⊙ mask/(1 − p)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from jacobians._typing import FloatArray
from jacobians.activations import number_text
from jacobians.layers.dropout import Dropout as NumericDropout
from jacobians.network import Node

from .base import Context, Gradients, Structure, SymbolicLayer, Tensor, unvec, vec


def exact(p: float) -> sp.Rational:
    """``p`` as the exact rational its shortest decimal text reads (``0.5`` → ``1/2``).

    >>> exact(0.5), exact(0.1)
    (1/2, 1/10)
    """
    return sp.Rational(number_text(p))


@dataclass
class Dropout(SymbolicLayer):
    """``dropout(p)``: the run's mask, and the scale ``1/(1 − p)``."""

    kinds = ("dropout",)
    batch_aware = True
    mask: FloatArray = field(default_factory=lambda: np.zeros(0))
    """The mask, the input's shape × the batch (0 and 1)."""
    source: str = ""

    @classmethod
    def build(cls, node: Node, context: Context) -> SymbolicLayer:
        """The layer with the run's mask for the derivation's examples."""
        layer = cls(node)
        layer.mask = context.state(node.state["mask"])
        layer.source = context.run_source
        return layer

    @property
    def p(self) -> sp.Rational:
        """The dropping probability, exactly."""
        return exact(self.kind_of(NumericDropout).p)

    @property
    def scale(self) -> sp.Expr:
        """``1/(1 − p)``."""
        return 1 / (1 - self.p)

    def kept(self) -> Tensor:
        """The mask as sympy integers."""
        return unvec([sp.Integer(int(m)) for m in self.mask.reshape(-1)], self.mask.shape)

    def forward(self, a: Tensor, params: Mapping[str, Tensor]) -> Tensor:
        """``mask ⊙ x/(1 − p)``."""
        return np.asarray(self.kept() * a * self.scale, dtype=object)

    def backward(
        self, a: Tensor, out: Tensor, params: Mapping[str, Tensor], g: Tensor
    ) -> Gradients:
        """``g ⊙ mask/(1 − p)``."""
        return Gradients(np.asarray(g * self.kept() / (1 - self.p), dtype=object))

    def structures(
        self, a: Tensor, out: Tensor, params: Mapping[str, Tensor]
    ) -> dict[str, Structure]:
        """``diag(vec(mask))/(1 − p)``."""
        diagonal = sp.diag(*[m / (1 - self.p) for m in vec(self.kept())])
        return {"input": Structure(f"diag(mask)/(1 − {self.p}), the mask of the run", diagonal)}

    def formula(self) -> str:
        shown = ", ".join(str(int(m)) for m in self.mask.reshape(-1))
        return (
            f"{self.out_name} = mask ⊙ {self.in_name}/(1 − {self.p}) (inverted dropout), the "
            f"mask of {self.source}: vec(mask) = ({shown})"
        )

    def notes(self) -> str:
        return (
            f"The dropout mask of {self.out_name} is part of the run (numbers, not variables): "
            f"∂{self.out_name}/∂{self.in_name} = diag(mask)/(1 − {self.p}) has a 0 on the "
            "diagonal for every dropped entry."
        )
