"""The activations as sympy functions, each with its derivative rule next to it.

Mirrors :mod:`jacobians.activations`. Each concrete rule is a :class:`sympy.Function` whose
``fdiff`` states the derivative a textbook writes — ``σ' = σ(1 − σ)``, ``relu' = H`` (the
step with ``H(0) = 0``), ``softplus' = σ`` — so a derivation prints in that form, and whose
``_latex``/``_pretty`` hooks print the usual symbol. ``NUMPY`` maps every function to the
numeric package's implementation, so ``sympy.lambdify`` evaluates exactly what the numeric
routes compute. Abstract activations ``g[l]`` (with derivative ``g[l]'``) come from
:func:`abstract`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import sympy as sp
from scipy.special import expit

from jacobians.activations import DEFAULT_LEAKY_SLOPE, get_activation, normalize


class _Named(sp.Function):
    """A one-argument function printed as ``<unicode>(z)`` and ``<latex>\\left(z\\right)``."""

    unicode_name = "f"
    latex_name = "f"

    def _latex(self, printer: Any, exp: Any = None) -> str:
        args = ", ".join(printer._print(a) for a in self.args)
        text = rf"{self.latex_name}\left({args}\right)"
        return text if exp is None else rf"{text}^{{{exp}}}"

    def _pretty(self, printer: Any) -> Any:
        # the name as it is (``_print_Function`` would read ``leaky_relu`` as a subscript)
        from sympy.printing.pretty.stringpict import prettyForm

        args = prettyForm(*printer._print_seq(self.args, delimiter=", ").parens())
        return prettyForm(*prettyForm(self.unicode_name).right(args))

    def _sympystr(self, printer: Any) -> str:
        return f"{type(self).__name__}({', '.join(printer._print(a) for a in self.args)})"


class sigmoid(_Named):  # noqa: N801 (sympy functions are lower case)
    """``σ(z) = 1 / (1 + e^{−z})``; ``σ' = σ(1 − σ)``."""

    unicode_name, latex_name = "σ", r"\sigma"

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        s = sigmoid(self.args[0])
        return s * (1 - s)

    def _eval_rewrite_as_exp(self, z: sp.Expr, **kwargs: Any) -> sp.Expr:
        return 1 / (1 + sp.exp(-z))


class step(_Named):  # noqa: N801
    """``H(z) = 1`` for ``z > 0`` and ``0`` for ``z ≤ 0`` (so ``H(0) = 0``): relu's derivative."""

    unicode_name, latex_name = "H", "H"

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return sp.S.Zero  # almost everywhere; the kink is stated in the text

    def _eval_rewrite_as_Piecewise(self, z: sp.Expr, **kwargs: Any) -> sp.Expr:
        return sp.Piecewise((1, z > 0), (0, True))


class relu(_Named):  # noqa: N801
    """``relu(z) = max(z, 0)``; ``relu' = H`` with ``H(0) = 0``."""

    unicode_name, latex_name = "relu", r"\operatorname{relu}"

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return step(self.args[0])

    def _eval_rewrite_as_Piecewise(self, z: sp.Expr, **kwargs: Any) -> sp.Expr:
        return sp.Piecewise((z, z > 0), (0, True))


class leaky_step(_Named):  # noqa: N801
    """``H_α(z) = 1`` for ``z > 0`` and ``α`` otherwise: leaky_relu's derivative (``α`` at 0)."""

    unicode_name, latex_name = "H_α", r"H_{\alpha}"

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return sp.S.Zero


class leaky_relu(_Named):  # noqa: N801
    """``leaky_relu(z, α) = z`` for ``z > 0`` and ``α z`` otherwise; derivative ``H_α(z, α)``."""

    unicode_name, latex_name = "leaky_relu", r"\operatorname{leaky\_relu}"

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        if argindex != 1:
            raise sp.ArgumentIndexError(self, argindex)
        return leaky_step(*self.args)


class softplus(_Named):  # noqa: N801
    """``softplus(z) = log(1 + e^z)``; ``softplus' = σ``."""

    unicode_name, latex_name = "softplus", r"\operatorname{softplus}"

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return sigmoid(self.args[0])


def _leaky(z: Any, slope: Any) -> Any:
    return np.where(z > 0, z, slope * z)


def _leaky_step(z: Any, slope: Any) -> Any:
    return np.where(z > 0, 1.0, slope)


NUMPY: dict[str, Callable[..., Any]] = {
    "sigmoid": expit,
    "relu": lambda z: np.maximum(z, 0.0),
    "step": lambda z: np.where(z > 0, 1.0, 0.0),
    "leaky_relu": _leaky,
    "leaky_step": _leaky_step,
    "softplus": lambda z: np.logaddexp(0.0, z),
}
"""How ``sympy.lambdify`` evaluates the functions above (the numeric package's definitions)."""

Elementwise = Callable[[sp.Expr], sp.Expr]


def elementwise(name: str) -> Elementwise:
    """The sympy rule for the numeric package's elementwise activation ``name``.

    >>> z = sp.Symbol("z")
    >>> elementwise("sigmoid")(z).diff(z)
    (1 - sigmoid(z))*sigmoid(z)
    >>> elementwise("leaky_relu:0.2")(z)
    leaky_relu(z, 1/5)
    """
    g = get_activation(name)  # validates the name, with the numeric package's message
    key, _, slope_text = g.name.partition(":")  # the slope as written: 1e-05, -2
    key = normalize(key)
    if key == "leaky_relu":
        slope = sp.Rational(slope_text or str(DEFAULT_LEAKY_SLOPE))  # exact: 0.2 is 1/5
        return lambda z: leaky_relu(z, slope)
    rules: dict[str, Elementwise] = {
        "identity": lambda z: z,
        "relu": relu,
        "sigmoid": sigmoid,
        "tanh": sp.tanh,
        "softplus": softplus,
        "square": lambda z: z**2,
    }
    return rules[key]


def softmax(z: sp.Matrix) -> sp.Matrix:
    """``s_i = e^{z_i} / Σ_k e^{z_k}`` for a column ``z``."""
    total = sum(sp.exp(v) for v in z)
    return sp.Matrix([sp.exp(v) / total for v in z])


class ell(_Named):  # noqa: N801
    """An unspecified loss ``ℓ(a[L]₁, …)``."""

    unicode_name, latex_name = "ℓ", r"\ell"


def abstract(layer: int) -> tuple[type[sp.Function], type[sp.Function]]:
    """Undefined ``g[l]`` and its derivative ``g[l]'``, printed as such; ``g[l]`` differentiates
    to ``g[l]'`` so chains print in the textbook's form."""
    prime = type(
        f"gprime{layer}",
        (_Named,),
        {
            "unicode_name": f"g[{layer}]'",
            "latex_name": f"g'^{{[{layer}]}}",
            "fdiff": lambda self, argindex=1: sp.Function(f"gsecond{layer}")(self.args[0]),
        },
    )
    g = type(
        f"g{layer}",
        (_Named,),
        {
            "unicode_name": f"g[{layer}]",
            "latex_name": f"g^{{[{layer}]}}",
            "fdiff": lambda self, argindex=1: prime(self.args[0]),
        },
    )
    return g, prime
