"""``conv2d(C_out, k, stride=s, padding=p)`` in symbols: cross-correlation, entry by entry.

Mirrors :mod:`jacobians.layers.conv2d` and :mod:`jacobians.correlation`, in index loops over
sympy expressions. On an input ``a`` (``C × H × W``), with ``W`` of shape ``C_out × C × k × k``,
``b`` of ``C_out`` and ``a_pad`` the input with ``p`` zeros on each side:

- Local map: ``z[o, i, j] = Σ_{c,u,v} W[o, c, u, v] · a_pad[c, i·s + u, j·s + v] + b[o]``,
  ``C_out × H' × W'`` with ``H' = ⌊(H + 2p − k)/s⌋ + 1``.
- Jacobians (derived by ``Matrix.jacobian``, then compared with their index rules):
  ``∂vec(z)/∂vec(W) = I_{C_out} ⊗ U`` (``C_out·H'W' × C_out·C·k·k``) with ``U`` the im2row
  matrix of ``a`` (``H'W' × C·k·k``: row ``(i, j)`` is the receptive field
  ``a_pad[c, i·s + u, j·s + v]``, row-major over ``(c, u, v)``);
  ``∂vec(z)/∂b = I_{C_out} ⊗ 1_{H'W'}``; ``∂vec(z)/∂vec(a)`` the doubly-blocked Toeplitz matrix
  of ``W`` (``C_out·H'W' × C·H·W``: row ``(o, i, j)``, column ``(c, i·s + u − p, j·s + v − p)``
  holds ``W[o, c, u, v]`` wherever that input lies inside the image).
- Compact backward, with ``Δ`` the output gradient as ``C_out × H'W'``:
  ``dW = Δ U`` reshaped (row-major) to ``C_out × C × k × k``; ``db[o] = Σ_{i,j} Δ[o, i, j]``;
  ``∂L/∂a`` the transposed correlation: ``Δ`` dilated by ``s`` (``s − 1`` zeros between
  neighbours), padded by ``k − 1`` on each side (and by the rows and columns the stride never
  reached at the bottom and right), correlated with the flipped kernel
  ``W_flip[c, o, u, v] = W[o, c, k−1−u, k−1−v]`` (channels swapped), and cropped by ``p``.

Every function here is written from its index rule alone; none calls the derivative, so the
proof that chain and compact formula agree can fail (the tests break :func:`flip`,
:func:`crop` and :func:`weight_gradient` and see it refuted).
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import product

import numpy as np
import sympy as sp

from jacobians.layers.conv2d import Conv2d as NumericConv2d

from ..derivation import Equation, Step
from ..network import Names
from .base import (
    Gradients,
    Shape,
    Structure,
    SymbolicLayer,
    Tensor,
    dims,
    matrix,
    slices,
    tex,
    unvec,
    zeros,
)


def output_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """``⌊(size + 2p − k)/s⌋ + 1``.

    >>> output_size(3, 2, 1, 0), output_size(5, 2, 2, 1)
    (2, 3)
    """
    return (size + 2 * padding - kernel) // stride + 1


def pad(a: Tensor, top: int, bottom: int, left: int, right: int) -> Tensor:
    """``a`` (``C × H × W``) with zero rows above and below and zero columns left and right."""
    C, H, W = a.shape
    out = zeros((C, H + top + bottom, W + left + right))
    out[:, top : top + H, left : left + W] = a
    return out


def correlate(a: Tensor, K: Tensor, stride: int = 1) -> Tensor:
    """``out[o, i, j] = Σ_{c,u,v} K[o, c, u, v] · a[c, i·s + u, j·s + v]`` (no padding, no bias);
    ``a`` is ``C × H × W``, ``K`` is ``C_out × C × k × k``, ``out`` is ``C_out × H' × W'``."""
    c_out, C, k, _ = K.shape
    _, H, W = a.shape
    ho, wo = output_size(H, k, stride, 0), output_size(W, k, stride, 0)
    out = zeros((c_out, ho, wo))
    for o, i, j in product(range(c_out), range(ho), range(wo)):
        terms = [
            K[o, c, u, v] * a[c, i * stride + u, j * stride + v]
            for c, u, v in product(range(C), range(k), range(k))
        ]
        out[o, i, j] = sp.Add(*terms)
    return out


def im2row(a: Tensor, kernel: int, stride: int, padding: int) -> sp.Matrix:
    """``U``, ``H'W' × C·k·k``: ``U[(i, j), (c, u, v)] = a_pad[c, i·s + u, j·s + v]``."""
    C, H, W = a.shape
    ap = pad(a, padding, padding, padding, padding)
    ho, wo = output_size(H, kernel, stride, padding), output_size(W, kernel, stride, padding)
    rows = [
        [
            ap[c, i * stride + u, j * stride + v]
            for c, u, v in product(range(C), range(kernel), range(kernel))
        ]
        for i, j in product(range(ho), range(wo))
    ]
    return sp.Matrix(rows)


def toeplitz(K: Tensor, size: tuple[int, int], stride: int, padding: int) -> sp.Matrix:
    """``∂vec(z)/∂vec(a)`` by its index rule, ``C_out·H'W' × C·H·W``: row ``(o, i, j)``, column
    ``(c, i·s + u − p, j·s + v − p)`` holds ``K[o, c, u, v]`` where that input is inside."""
    c_out, C, k, _ = K.shape
    H, W = size
    ho, wo = output_size(H, k, stride, padding), output_size(W, k, stride, padding)
    T = sp.zeros(c_out * ho * wo, C * H * W)
    for o, i, j, c, u, v in product(
        range(c_out), range(ho), range(wo), range(C), range(k), range(k)
    ):
        r, q = i * stride + u - padding, j * stride + v - padding
        if 0 <= r < H and 0 <= q < W:
            T[(o * ho + i) * wo + j, (c * H + r) * W + q] += K[o, c, u, v]
    return T


def flip(K: Tensor) -> Tensor:
    """The kernel of the transposed correlation, ``C × C_out × k × k``:
    ``W_flip[c, o, u, v] = W[o, c, k−1−u, k−1−v]`` (channels swapped, each slice turned 180°)."""
    c_out, C, k, _ = K.shape
    out = zeros((C, c_out, k, k))
    for c, o, u, v in product(range(C), range(c_out), range(k), range(k)):
        out[c, o, u, v] = K[o, c, k - 1 - u, k - 1 - v]
    return out


def dilate(D: Tensor, stride: int) -> Tensor:
    """``D`` (``C × H' × W'``) with ``s − 1`` zeros between neighbours:
    ``C × ((H'−1)s + 1) × ((W'−1)s + 1)``."""
    C, ho, wo = D.shape
    out = zeros((C, (ho - 1) * stride + 1, (wo - 1) * stride + 1))
    for c, i, j in product(range(C), range(ho), range(wo)):
        out[c, i * stride, j * stride] = D[c, i, j]
    return out


def crop(G: Tensor, padding: int, size: tuple[int, int]) -> Tensor:
    """The ``H × W`` inside of ``G`` (the gradient of the padded input), ``p`` in from each side."""
    H, W = size
    return np.asarray(G[:, padding : padding + H, padding : padding + W], dtype=object)


def spread(D: Tensor, kernel: int, stride: int, padding: int, size: tuple[int, int]) -> Tensor:
    """``D`` dilated by ``s`` and padded by ``k − 1`` on each side, plus the rows and columns
    at the bottom and right that the stride never reached: ``C_out × (H + 2p + k − 1) × …``."""
    H, W = size
    extra_h = (H + 2 * padding - kernel) % stride
    extra_w = (W + 2 * padding - kernel) % stride
    e = kernel - 1
    return pad(dilate(D, stride), e, e + extra_h, e, e + extra_w)


def input_gradient(
    D: Tensor, K: Tensor, size: tuple[int, int], stride: int, padding: int
) -> Tensor:
    """The transposed correlation ``crop_p(correlate(spread(D), flip(K)))``, ``C × H × W``."""
    k = K.shape[-1]
    full = correlate(spread(D, k, stride, padding, size), flip(K))
    return crop(full, padding, size)


def weight_gradient(D: Tensor, U: sp.Matrix, shape: Shape) -> Tensor:
    """``dW = Δ U`` with ``Δ`` = ``D`` as ``C_out × H'W'``, reshaped (row-major) to ``shape``."""
    product_ = matrix(D.reshape(D.shape[0], -1)) * U
    return unvec(product_, shape)


def bias_gradient(D: Tensor) -> Tensor:
    """``db[o] = Σ_{i,j} D[o, i, j]``."""
    return unvec([sp.Add(*D[o].reshape(-1)) for o in range(D.shape[0])], (D.shape[0],))


class Conv2d(SymbolicLayer):
    """``conv2d``: cross-correlation plus a bias per output channel."""

    kinds = ("conv2d",)

    @property
    def settings(self) -> tuple[int, int, int, int]:
        """``C_out, k, s, p``."""
        kind = self.kind_of(NumericConv2d)
        return kind.out_channels, kind.kernel, kind.stride, kind.padding

    @property
    def size(self) -> tuple[int, int]:
        """The input's ``(H, W)``."""
        return int(self.node.in_shape[1]), int(self.node.in_shape[2])

    def forward(self, a: Tensor, params: Mapping[str, Tensor]) -> Tensor:
        """``correlate(a_pad, W, s) + b[o]``."""
        _, _, s, p = self.settings
        z = correlate(pad(a, p, p, p, p), params["W"], s)
        b = params["b"]
        for o in range(z.shape[0]):
            z[o] = z[o] + b[o]
        return z

    def backward(
        self, a: Tensor, out: Tensor, params: Mapping[str, Tensor], g: Tensor
    ) -> Gradients:
        """``dW = Δ U``, ``db = Δ 1``, ``∂L/∂a`` the transposed correlation."""
        _, k, s, p = self.settings
        U = im2row(a, k, s, p)
        W = params["W"]
        return Gradients(
            input_gradient(g, W, self.size, s, p),
            {"W": weight_gradient(g, U, W.shape), "b": bias_gradient(g)},
        )

    def structures(
        self, a: Tensor, out: Tensor, params: Mapping[str, Tensor]
    ) -> dict[str, Structure]:
        """``I ⊗ U``, ``I ⊗ 1``, and the Toeplitz matrix of ``W``, by their index rules."""
        c_out, k, s, p = self.settings
        U = im2row(a, k, s, p)
        positions = int(U.rows)
        W = self.parameter_name("W")
        return {
            "W": Structure(
                f"I_{c_out} ⊗ U, U = im2row({self.in_name}) ({U.rows}×{U.cols}), one receptive "
                "field per row",
                sp.diag(*([U] * c_out)),
            ),
            "b": Structure(
                f"I_{c_out} ⊗ 1_{positions}", sp.diag(*([sp.ones(positions, 1)] * c_out))
            ),
            "input": Structure(
                f"the doubly-blocked Toeplitz matrix of {W} (stride {s}, padding {p}): row "
                f"(o, i, j), column (c, {_at('i', s, p)}, {_at('j', s, p)}) holds "
                f"{W}[o, c, u, v]",
                toeplitz(params["W"], self.size, s, p),
            ),
        }

    def formula(self) -> str:
        c_out, k, s, p = self.settings
        W, b = self.parameter_name("W"), self.parameter_name("b")
        return (
            f"{self.out_name}[o, i, j] = Σ_(c,u,v) {W}[o, c, u, v] · {self.in_name}"
            f"[c, {_at('i', s, p)}, {_at('j', s, p)}] + {b}[o]  (cross-correlation, "
            f"{c_out} output channel{'s' if c_out > 1 else ''}, kernel {k}×{k}, stride {s}, "
            f"padding {p}" + (": a padded entry is 0)" if p else ")")
        )

    def statement(self, role: str) -> str:
        l, a = self.layer, self.in_name
        return {
            "W": f"reshape(∂L/∂vec(W[{l}])) − reshape(Δ[{l}] U) = 0, U = im2row({a})",
            "b": f"∂L/∂b[{l}] − (Σ_(i,j) Δ[{l}][o, i, j])_o = 0",
            "input": (
                f"∂L/∂vec({a}) − vec(crop_p(correlate(pad_(k−1)(dilate_s(Δ[{l}])), "
                f"flip(W[{l}])))) = 0"
            ),
        }[role]

    def compact_steps(
        self, role: str, names: Names, a: Tensor, params: Mapping[str, Tensor], g: Tensor
    ) -> list[Step]:
        """``Δ U``, ``Δ 1``, or the transposed correlation, in the symbols ``δ[l]``."""
        if role == "W":
            return self._weight_steps(names, a, g)
        if role == "b":
            db = matrix(bias_gradient(g))
            l = self.layer
            return [
                Step(
                    "The compact formula",
                    f"db[{l}][o] = Σ_(i,j) Δ[{l}][o, i, j]: the gradients of every position of "
                    f"channel o add up, because b[{l}][o] enters every one of them:",
                    (Equation(names.label(f"db[{l}]", rf"db^{{[{l}]}}"), db, (db.rows, 1)),),
                )
            ]
        return self._input_steps(names, params, g)

    def _weight_steps(self, names: Names, a: Tensor, g: Tensor) -> list[Step]:
        c_out, k, s, p = self.settings
        l, an = self.layer, self.in_name
        U = im2row(a, k, s, p)
        D = matrix(g.reshape(c_out, -1))
        text = (
            f"Δ[{l}] is δ[{l}] arranged as C_out × H'W' = {D.rows} × {D.cols} (row o: channel "
            f"o's positions, row-major). U = im2row({an}), built by its index rule, holds the "
            f"receptive field of output (i, j) in row i·W' + j: U[(i, j), (c, u, v)] = "
            f"{an}[c, {_at('i', s, p)}, {_at('j', s, p)}]. Δ[{l}] U is C_out × C·k·k = "
            f"{D.rows} × {U.cols}, and reshaped (row-major) to C_out × C × k × k it is "
            f"dW[{l}]: the I ⊗ U identity, since δ[{l}]ᵀ (I ⊗ U) puts Δ[{l}][o] U in block o."
        )
        DU = D * U  # noqa: N806 (the product's name)
        reshaped = slices(weight_gradient(g, U, (c_out, int(a.shape[0]), k, k)))
        return [
            Step(
                f"The compact formula: dW[{l}] = Δ[{l}] U",
                text,
                (
                    Equation(names.label(f"Δ[{l}]", rf"\Delta^{{[{l}]}}"), D, dims(D)),
                    Equation(names.label("U", "U"), U, dims(U)),
                    Equation(names.label(f"Δ[{l}] U", rf"\Delta^{{[{l}]}} U"), DU, dims(DU)),
                    *(
                        Equation(
                            names.label(
                                f"reshape(Δ[{l}] U)[{o}, {c}]",
                                rf"\operatorname{{reshape}}(\Delta^{{[{l}]}} U)_{{{o},{c}}}",
                            ),
                            M,
                            dims(M),
                        )
                        for (o, c), M in reshaped
                    ),
                ),
            )
        ]

    def _input_steps(self, names: Names, params: Mapping[str, Tensor], g: Tensor) -> list[Step]:
        _, k, s, p = self.settings
        l, an = self.layer, self.in_name
        W = params["W"]
        padded = spread(g, k, s, p, self.size)
        flipped = flip(W)
        full = correlate(padded, flipped)
        result = crop(full, p, self.size)
        return [
            Step(
                f"The compact formula: the transposed correlation, step 1 of 3: Δ[{l}] dilated "
                f"by {s} and padded by k − 1 = {k - 1}",
                f"{s - 1} zero{'' if s == 2 else 's'} between neighbours, {k - 1} around each "
                "side"
                + (" (and the rows and columns the stride never reached)" if s > 1 else "")
                + ":",
                tuple(
                    Equation(
                        names.label(
                            f"pad(dilate(Δ[{l}]))[{o}]",
                            rf"\operatorname{{pad}}(\operatorname{{dilate}}(\Delta^{{[{l}]}}))_{{{o}}}",
                        ),
                        M,
                        dims(M),
                    )
                    for (o,), M in slices(padded)
                ),
            ),
            Step(
                "Step 2 of 3: the flipped kernel",
                f"W_flip[c, o, u, v] = W[{l}][o, c, k−1−u, k−1−v]: channels swapped, each k × k "
                "slice turned by 180° (indices from 0):",
                tuple(
                    Equation(
                        names.label(f"W_flip[{c}, {o}]", rf"W^{{\mathrm{{flip}}}}_{{{c},{o}}}"),
                        M,
                        dims(M),
                    )
                    for (c, o), M in slices(flipped)
                ),
            ),
            Step(
                f"Step 3 of 3: correlate, then crop by p = {p}",
                f"Correlating gives the gradient of the padded input ({full.shape[1]} × "
                f"{full.shape[2]} per channel); cropping {p} from each side leaves ∂L/∂{an}, "
                "channel by channel:",
                tuple(
                    Equation(
                        names.label(
                            f"∂L/∂{an}[{c}]", rf"\frac{{\partial L}}{{\partial {tex(an)}}}_{{{c}}}"
                        ),
                        M,
                        dims(M),
                    )
                    for (c,), M in slices(result)
                ),
            ),
        ]


def _at(index: str, stride: int, padding: int) -> str:
    """``i·s + u − p`` for the given numbers: ``i + u``, ``2i + u − 1``."""
    base = index if stride == 1 else f"{stride}{index}"
    return f"{base} + {'u' if index == 'i' else 'v'}" + (f" − {padding}" if padding else "")
