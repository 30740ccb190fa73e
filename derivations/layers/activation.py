"""Activations in symbols: ``a = g(z)`` elementwise on any shape, and softmax on a vector.

Mirrors :mod:`jacobians.layers.activation`; the rules themselves are those of
:mod:`derivations.functions` (``relu' = H`` with ``H(0) = 0``, ``σ' = σ(1 − σ)``, …).

- Local map: ``a_i = g(z_i)`` for every entry of ``vec(z)``; softmax ``s_i = e^{z_i}/Σ_k e^{z_k}``.
- Jacobian (derived): ``∂a/∂z = diag(g'(vec z))``, ``n × n``; softmax's, derived from the
  exponentials, is written ``diag(s) − s sᵀ`` in its outputs ``s`` after ``sympy.cancel``
  shows the two are the same matrix.
- Compact backward: ``∂L/∂z = g_out ⊙ g'(z)`` (entry by entry); softmax
  ``∂L/∂z = s ⊙ (g_out − (sᵀ g_out) 1)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from jacobians.activations import ACTIVATIONS
from jacobians.layers.activation import ActivationKind

from ..chains import softmax_jacobian_form
from ..functions import elementwise, softmax
from .base import Gradients, Structure, SymbolicLayer, Tensor, unvec, vec

Rule = Callable[[sp.Expr], sp.Expr]


def apply(t: Tensor, f: Rule) -> Tensor:
    """``f`` applied to every entry of ``t`` (same shape)."""
    return unvec([f(e) for e in np.asarray(t).reshape(-1)], t.shape)


@dataclass
class Activation(SymbolicLayer):
    """``relu``, ``sigmoid``, ``tanh``, ``identity``, ``leaky_relu``, ``softplus``, ``square``
    (elementwise) and ``softmax``."""

    kinds = (*ACTIVATIONS, "softmax")
    g: Rule | None = field(init=False, default=None)
    g_prime: Rule | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        rule = self.kind_of(ActivationKind).rule
        if not rule.elementwise:
            return
        g = elementwise(rule.name)
        t = sp.Dummy("t", real=True)
        derivative = sp.Lambda(t, g(t).diff(t))
        self.g = g
        self.g_prime = derivative

    @property
    def name(self) -> str:
        """The rule's name as the numeric package writes it (``leaky_relu:0.2``)."""
        return self.kind_of(ActivationKind).rule.name

    def forward(self, a: Tensor, params: Mapping[str, Tensor]) -> Tensor:
        """``g(z)`` entry by entry; softmax ``e^{z_i}/Σ_k e^{z_k}``."""
        if self.g is None:
            return unvec(softmax(vec(a)), a.shape)
        return apply(a, self.g)

    def jacobian(
        self, role: str, derived: sp.Matrix, a: Tensor, out: Tensor, params: Mapping[str, Tensor]
    ) -> sp.Matrix:
        """Softmax's derived Jacobian, once ``cancel`` confirms it, as ``diag(s) − s sᵀ`` in the
        outputs ``s``; an elementwise one as derived."""
        if self.g is not None:
            return derived
        s = vec(out)
        form = softmax_jacobian_form(s)
        in_z = form.xreplace(dict(zip(s, vec(self.forward(a, params)), strict=True)))
        if not all(sp.cancel(e) == 0 for e in derived - in_z):
            raise AssertionError("softmax Jacobian is not diag(s) − s sᵀ")  # a sympy regression
        return form

    def backward(
        self, a: Tensor, out: Tensor, params: Mapping[str, Tensor], g: Tensor
    ) -> Gradients:
        """``g ⊙ g'(z)``; softmax ``s ⊙ (g − (sᵀ g) 1)``."""
        if self.g_prime is None:
            s, v = vec(out), vec(g)
            weighted = (s.T * v)[0, 0]
            return Gradients(
                unvec([si * (vi - weighted) for si, vi in zip(s, v, strict=True)], a.shape)
            )
        prime = self.g_prime
        entries = [gi * prime(zi) for gi, zi in zip(g.reshape(-1), a.reshape(-1), strict=True)]
        return Gradients(unvec(entries, a.shape))

    def structures(
        self, a: Tensor, out: Tensor, params: Mapping[str, Tensor]
    ) -> dict[str, Structure]:
        """``diag(g'(vec z))``; softmax ``diag(s) − s sᵀ``."""
        if self.g_prime is None:
            s = vec(out)
            return {
                "input": Structure(f"diag(s) − s sᵀ, s = {self.out_name}", sp.diag(*s) - s * s.T)
            }
        prime = self.g_prime
        diagonal = sp.diag(*[prime(z) for z in vec(a)])
        return {"input": Structure(f"diag({self.name}'({self.in_name}))", diagonal)}

    def formula(self) -> str:
        if self.g is None:
            return f"{self.out_name} = softmax({self.in_name}) (e^z / Σ e^z, not elementwise)"
        return f"{self.out_name} = {self.name}({self.in_name}), entry by entry"

    def notes(self) -> str:
        key = self.name.partition(":")[0]
        if key == "relu":
            return (
                "H is the step function: H(z) = 1 for z > 0 and 0 for z ≤ 0. relu has no "
                "derivative at 0; its slope is 0 on the left and 1 on the right, and we take 0 "
                "there."
            )
        if key == "leaky_relu":
            return "H_α(z, α) = 1 for z > 0 and α for z ≤ 0 (α at the kink, the left slope)."
        return ""
