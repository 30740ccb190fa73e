"""``conv2d(out_channels, kernel, stride=1, padding=0)``: cross-correlation, as a matrix.

On an image ``a`` (``C × H × W``), with ``W`` of shape ``C_out × C × k × k`` and ``b`` of
``C_out``, zero padding ``p`` and stride ``s`` (NOTATION.md, "Beyond dense layers"):
``z[o, i, j] = Σ_{c,u,v} W[o, c, u, v] · a_padded[c, i·s + u, j·s + v] + b[o]``, so with ``U`` the
im2row matrix of ``a`` (``H'W' × C·k·k``, :func:`jacobians.correlation.im2row`)

- ``Z = W_mat Uᵀ + b 1ᵀ`` (``Z`` is ``z`` as ``C_out × H'W'``),
- ``∂vec(z)/∂vec(W) = I_{C_out} ⊗ U`` — the dense layer's ``I ⊗ aᵀ`` with ``U`` for ``aᵀ``,
- ``∂vec(z)/∂b = I_{C_out} ⊗ 1_{H'W'}``,
- ``∂vec(z)/∂vec(a)``: the sparse doubly-blocked Toeplitz matrix of ``W``, applied as a
  correlation (:class:`jacobians.structured.Correlation`).

The compact backward: ``dW = Δ U`` reshaped to ``W``'s shape, ``db`` the sums of ``Δ`` over
the positions, and ``∂L/∂a`` the transposed correlation: ``Δ`` dilated by the stride, padded
by ``k − 1``, correlated with the flipped kernel, cropped by ``p``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .._typing import FloatArray
from ..correlation import correlate, im2row, output_size, transposed
from ..structured import Correlation, KronIdentity, KronOnesBatch, Structured
from .base import Kind, NodeNames, Params, Shape, argument, batch_of, need, show


@dataclass(frozen=True)
class Conv2d(Kind):
    """A two-dimensional convolution (cross-correlation, as every framework computes it)."""

    out_channels: int = argument(minimum=1, help="C_out, the output channels")
    kernel: int = argument(minimum=1, help="k: the kernel is k × k")
    stride: int = argument(minimum=1, default=1, help="s")
    padding: int = argument(minimum=0, default=0, help="p zeros on each side")
    name: ClassVar[str] = "conv2d"
    summary: ClassVar[str] = (
        "cross-correlation on an image; ∂vec(z)/∂vec(W) = I ⊗ U (U the im2row matrix), "
        "∂vec(z)/∂b = I ⊗ 1, ∂vec(z)/∂vec(a) doubly-blocked Toeplitz"
    )
    parametric: ClassVar[bool] = True
    roles: ClassVar[tuple[str, ...]] = ("W", "b")

    def out_shape(self, in_shape: Shape) -> Shape:
        need(
            len(in_shape) == 3,
            "input",
            "an image C×H×W",
            show(in_shape),
            "give --input as channels×height×width, e.g. 1x28x28",
        )
        _, H, W = in_shape
        k, p = self.kernel, self.padding
        need(
            k <= min(H, W) + 2 * p,
            "kernel",
            f"at most {min(H, W) + 2 * p} (the input {H}×{W} padded by {p} on each side)",
            f"{k}",
            "use a smaller kernel or more padding",
        )
        return (
            self.out_channels,
            output_size(H, k, self.stride, p),
            output_size(W, k, self.stride, p),
        )

    def parameter_shapes(self, in_shape: Shape) -> dict[str, Shape]:
        W = (self.out_channels, in_shape[0], self.kernel, self.kernel)
        return {"W": W, "b": (self.out_channels,)}

    def forward_cost(self, in_shape: Shape) -> int:
        """``C_out·H'·W'·C·k²``."""
        c_out, ho, wo = self.out_shape(in_shape)
        return c_out * ho * wo * in_shape[0] * self.kernel**2

    def init(self, role: str, in_shape: Shape, rng: np.random.Generator) -> FloatArray:
        """``W ~ N(0, 1/(C·k²))``, ``b ~ N(0, 0.1²)``."""
        if role == "W":
            shape = self.parameter_shapes(in_shape)["W"]
            fan_in = shape[1] * shape[2] * shape[3]
            return np.asarray(rng.standard_normal(shape) / np.sqrt(fan_in))
        return np.asarray(0.1 * rng.standard_normal(self.out_channels))

    def forward(self, params: Params, a: FloatArray) -> FloatArray:
        """``z = correlate(a, W) + b`` for every example, ``C_out × H' × W' × B``."""
        z = correlate(a, params["W"], self.stride, self.padding)
        return np.asarray(z + params["b"][:, None, None, None])

    def jacobians(self, params: Params, a: FloatArray, out: FloatArray) -> dict[str, Structured]:
        """``I_{C_out} ⊗ U``, ``I_{C_out} ⊗ 1``, and the Toeplitz matrix of ``W`` (for a batch,
        ``U`` stacks the examples' rows interleaved, and the Toeplitz matrix is ``T ⊗ I_B``)."""
        B = batch_of(a)
        U = im2row(a, self.kernel, self.stride, self.padding)
        return {
            "input": Correlation(params["W"], a.shape[1:3], self.stride, self.padding, B),
            "W": KronIdentity(self.out_channels, U),
            "b": KronOnesBatch(self.out_channels, U.shape[0]),
        }

    def backward(
        self, params: Params, a: FloatArray, out: FloatArray, g: FloatArray, need_input: bool = True
    ) -> tuple[FloatArray | None, dict[str, FloatArray]]:
        """``dW = Δ U`` (reshaped), ``db = Δ 1``, and ``∂L/∂a`` the transposed correlation."""
        W = params["W"]
        U = im2row(a, self.kernel, self.stride, self.padding)
        D = g.reshape(self.out_channels, -1)  # C_out × (H'W'·B), the columns in U's row order
        grads = {"W": (D @ U).reshape(W.shape), "b": D.sum(axis=1)}
        back = transposed(g, W, a.shape[1:3], self.stride, self.padding) if need_input else None
        return back, grads

    mistakes: ClassVar[dict[str, str]] = {
        "kernel_not_flipped": "the kernel is not flipped: the input gradient correlates the "
        "padded Δ with W[o, c, k−1−u, k−1−v], the kernel rotated by 180°, not with W itself",
        "padding_not_cropped": "the padding is not cropped: the gradient of the padded input "
        "keeps p rows and columns on each side that are not inputs",
        "channels_swapped": "input and output channels swapped: dW has W's shape "
        "C_out × C_in × k × k",
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
        back, grads = self.backward(params, a, out, g)
        assert back is not None
        W, size, p = params["W"], a.shape[1:3], self.padding
        if mistake == "kernel_not_flipped":  # flip() undone: the unrotated kernel is slid
            back = transposed(g, W[:, :, ::-1, ::-1], size, self.stride, p)
        elif mistake == "padding_not_cropped":
            padded = (size[0] + 2 * p, size[1] + 2 * p)
            back = transposed(g, W, padded, self.stride, 0)
        elif mistake == "channels_swapped":
            grads = {**grads, "W": grads["W"].transpose(1, 0, 2, 3)}
        else:
            raise KeyError(mistake)
        return back, grads

    def structure(self, role: str, node: NodeNames) -> str:
        c_out, positions = node.out_shape[0], node.out_shape[1] * node.out_shape[2]
        if role == "W":
            fields = node.in_shape[0] * self.kernel**2
            return f"I_{c_out} ⊗ U, U = im2row({node.input}) ({positions}×{fields})"
        if role == "b":
            return f"I_{c_out} ⊗ 1_{positions}"
        batch = "" if node.batch == 1 else f" ⊗ I_{node.batch}"
        return (
            f"doubly-blocked Toeplitz of {node.parameters['W']} (stride {self.stride}, "
            f"padding {self.padding}){batch}"
        )
