"""``batchnorm(eps=1e-5)`` in training mode: the Jacobian that couples a batch.

A vector's features are normalized each over the batch, an image's channels each over the batch
and its positions: with ``m = B`` (or ``B·H·W``), ``μ`` and the biased ``σ² = var + ε`` of a
feature's ``m`` values, ``x̂ = (x − μ)/σ`` and ``y = γ ⊙ x̂ + β``, ``γ`` and ``β`` one per
feature or channel (NOTATION.md, "Beyond dense layers").

Every output of the batch depends on every input of the batch through ``μ`` and ``σ``: there is
no per-example Jacobian, only the batch's, and per feature it is the ``m × m`` block

    ∂y/∂x = (γ/σ)(I − 11ᵀ/m − x̂ x̂ᵀ/m),

held as an identity minus two rank-one terms (:mod:`jacobians.structured.normalization`). Its
transpose applied to ``dy`` is the three-term formula
``dx = (γ/σ)(dy − mean(dy) − x̂ ⊙ mean(dy ⊙ x̂))``, with ``dγ = Σ dy ⊙ x̂`` and ``dβ = Σ dy``. At a
batch of one (a vector input), ``x = μ``: the layer outputs ``β`` whatever its input.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .._typing import FloatArray
from .base import NodeNames, Params, Shape, need, show
from .norm import Norm


@dataclass(frozen=True)
class BatchNorm(Norm):
    """``batchnorm(eps=1e-5)``: per feature (vectors) or channel (images), over the batch."""

    name: ClassVar[str] = "batchnorm"
    summary: ClassVar[str] = (
        "γ ⊙ (x − μ)/σ + β per feature over the batch (training mode); per feature the B × B "
        "block (γ/σ)(I − 11ᵀ/B − x̂x̂ᵀ/B), which couples the examples"
    )
    couples_examples: ClassVar[bool] = True
    axis: ClassVar[int] = 1

    def out_shape(self, in_shape: Shape) -> Shape:
        need(
            len(in_shape) in (1, 3),
            "input",
            "a vector or an image C×H×W",
            show(in_shape),
        )
        return in_shape

    def parameter_shapes(self, in_shape: Shape) -> dict[str, Shape]:
        return {"gamma": (in_shape[0],), "beta": (in_shape[0],)}

    def parameter_size(self, in_shape: Shape) -> int:
        return in_shape[0]

    def view(self, a: FloatArray) -> FloatArray:
        """A feature (or channel) per row; the batch (and the positions) along it."""
        return a.reshape(a.shape[0], -1)

    mistakes: ClassVar[dict[str, str]] = {
        "mu_sigma_constant": "μ and σ treated as constants: dx = γ dy/σ, without the terms "
        "through the mean and the variance",
        "mean_term_forgotten": "the term through the mean, −mean(dy), is missing",
        "variance_term_forgotten": "the term through the variance, −x̂ ⊙ mean(dy ⊙ x̂), is missing",
        "unbiased_variance": "the unbiased variance (over m − 1): batch norm's is biased, over m",
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
        xhat, sigma = self.statistics(a)
        if mistake == "unbiased_variance":  # x̂ and σ with the variance over m − 1
            V = self.view(a)
            m = V.shape[self.axis]
            if m < 2:
                raise KeyError(mistake)
            centred = V - V.mean(axis=self.axis, keepdims=True)
            sigma = np.sqrt((centred**2).sum(axis=self.axis, keepdims=True) / (m - 1) + self.eps)
            xhat = centred / sigma
        G = g.reshape(xhat.shape)
        gamma = params["gamma"]
        u = G * gamma.reshape(-1, 1) / sigma
        grads = {
            "gamma": (G * xhat).sum(axis=1).reshape(gamma.shape),
            "beta": G.sum(axis=1).reshape(params["beta"].shape),
        }
        mean_u = u.mean(axis=self.axis, keepdims=True)
        mean_ux = (u * xhat).mean(axis=self.axis, keepdims=True)
        if mistake == "mu_sigma_constant":
            back = u
        elif mistake == "mean_term_forgotten":
            back = u - xhat * mean_ux
        elif mistake == "variance_term_forgotten":
            back = u - mean_u
        elif mistake == "unbiased_variance":
            back = u - mean_u - xhat * mean_ux
        else:
            raise KeyError(mistake)
        return np.asarray(back).reshape(a.shape), grads

    def structure(self, role: str, node: NodeNames) -> str:
        m = str(node.batch) if len(node.in_shape) == 1 else f"{node.batch}·H·W"
        if role == "gamma":
            return f"x̂ in the column of its feature ({m} rows each)"
        if role == "beta":
            return f"I_{node.in_shape[0]} ⊗ 1_{m}"
        return f"(γ/σ)(I − 11ᵀ/{m} − x̂x̂ᵀ/{m}) per feature: couples the batch"

    def caveat(self, node: NodeNames, batch: int) -> str | None:
        size = batch if len(node.in_shape) == 1 else batch * node.in_shape[1] * node.in_shape[2]
        if size > 1:
            return None
        return (
            f"the batchnorm of layer {node.layer} normalizes each feature over a batch of 1: "
            f"x − μ = 0, so {node.output} = β whatever its input, and its Jacobian is 0"
        )
