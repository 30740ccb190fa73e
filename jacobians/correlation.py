"""Two-dimensional cross-correlation (what every framework's ``conv2d`` computes) through im2row.

Images are channels first with the batch on the last axis: ``x`` is ``C × H × W × B``
(NOTATION.md, "Beyond dense layers"). With kernel ``k``, stride ``s`` and zero padding ``p`` on
each side, the output is ``H' × W'`` with ``H' = ⌊(H + 2p − k)/s⌋ + 1``.

The im2row matrix ``U`` of one example holds one receptive field per row: ``H'W' × C·k·k``,
row ``(i, j)`` (row-major over the output positions), columns row-major over ``(c, u, v)``.
Then ``Z = W_mat Uᵀ`` with ``W_mat`` the ``C_out × C·k·k`` reshape of ``W``. A batch stacks the
examples' rows interleaved, as the batch-last ``vec`` orders them: row ``(i, j)·B + b`` is row
``(i, j)`` of example ``b``.

The input gradient is the transposed correlation: the output gradient ``Δ`` dilated by the
stride, padded by ``k − 1`` on each side, correlated with the flipped kernel (channels swapped,
``W[c_out, c, k−1−u, k−1−v]``), and cropped by the padding ``p``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from ._typing import FloatArray, Matrix

if TYPE_CHECKING:
    pass  # imported where used: see jacobians.logistic

IntArray = npt.NDArray[np.intp]


def output_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """``⌊(size + 2p − k)/s⌋ + 1``; 0 or less when the kernel does not fit.

    >>> output_size(28, 5, 1, 2), output_size(4, 2, 2, 0), output_size(5, 2, 2, 0)
    (28, 2, 2)
    """
    return (size + 2 * padding - kernel) // stride + 1


@lru_cache(maxsize=64)
def im2row_index(
    channels: int, height: int, width: int, kernel: int, stride: int, padding: int
) -> IntArray:
    """Where each entry of ``U`` comes from: a ``H'W' × C·k·k`` array of flat indices into the
    padded image ``C × (H + 2p) × (W + 2p)`` (made once per shape; read-only).

    Entry ``[(i, j), (c, u, v)]`` is the index of ``x_padded[c, i·s + u, j·s + v]``.

    >>> im2row_index(1, 3, 3, 2, 1, 0).tolist()
    [[0, 1, 3, 4], [1, 2, 4, 5], [3, 4, 6, 7], [4, 5, 7, 8]]
    """
    hp, wp = height + 2 * padding, width + 2 * padding
    ho = output_size(height, kernel, stride, padding)
    wo = output_size(width, kernel, stride, padding)
    c, u, v = np.meshgrid(np.arange(channels), np.arange(kernel), np.arange(kernel), indexing="ij")
    i, j = np.meshgrid(np.arange(ho) * stride, np.arange(wo) * stride, indexing="ij")
    field = (c * hp * wp + u * wp + v).reshape(1, -1)
    origin = (i * wp + j).reshape(-1, 1)
    index = np.asarray(origin + field, dtype=np.intp)
    index.flags.writeable = False
    return index


def pad(x: FloatArray, padding: int) -> FloatArray:
    """``x`` (``C × H × W × B``) with ``padding`` zeros on each side of ``H`` and ``W``."""
    if padding == 0:
        return x
    return np.pad(x, ((0, 0), (padding, padding), (padding, padding), (0, 0)))


def im2row(x: FloatArray, kernel: int, stride: int = 1, padding: int = 0) -> Matrix:
    """The im2row matrix of a batch ``x`` (``C × H × W × B``): ``H'W'·B × C·k·k``, row
    ``(i, j)·B + b`` the receptive field of output ``(i, j)`` of example ``b``; for one example
    (``B = 1``) the ``U`` of NOTATION.md.

    >>> x = np.arange(9.0).reshape(1, 3, 3, 1)
    >>> im2row(x, 2).tolist()
    [[0.0, 1.0, 3.0, 4.0], [1.0, 2.0, 4.0, 5.0], [3.0, 4.0, 6.0, 7.0], [4.0, 5.0, 7.0, 8.0]]
    """
    C, H, W, B = x.shape
    index = im2row_index(C, H, W, kernel, stride, padding)
    flat = pad(x, padding).reshape(-1, B)
    fields = flat[index]  # (P, C·k·k, B)
    return np.ascontiguousarray(fields.transpose(0, 2, 1)).reshape(-1, index.shape[1])


def correlate(x: FloatArray, W: FloatArray, stride: int = 1, padding: int = 0) -> FloatArray:
    """``z[o, i, j] = Σ_{c,u,v} W[o, c, u, v] · x_padded[c, i·s + u, j·s + v]`` for every example:
    ``W_mat Uᵀ`` reshaped; ``x`` is ``C × H × W × B``, ``W`` is ``C_out × C × k × k``, the result
    ``C_out × H' × W' × B`` (no bias).

    >>> x = np.arange(9.0).reshape(1, 3, 3, 1)
    >>> correlate(x, np.array([[[[1.0, 0.0], [0.0, -1.0]]]]))[0, :, :, 0].tolist()
    [[-4.0, -4.0], [-4.0, -4.0]]
    """
    _, H, Wd, B = x.shape
    c_out, k = W.shape[0], W.shape[-1]
    U = im2row(x, k, stride, padding)
    ho, wo = output_size(H, k, stride, padding), output_size(Wd, k, stride, padding)
    Z = W.reshape(c_out, -1) @ U.T  # (C_out, P·B)
    return np.asarray(Z.reshape(c_out, ho, wo, B), dtype=np.float64)


def flip(W: FloatArray) -> FloatArray:
    """The kernel of the transposed correlation: channels swapped and each ``k × k`` slice
    rotated by 180°, ``W_flip[c, o, u, v] = W[o, c, k−1−u, k−1−v]``; shape ``C × C_out × k × k``."""
    return np.ascontiguousarray(W[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))


def dilate(D: FloatArray, stride: int) -> FloatArray:
    """``D`` (``C × H' × W' × B``) with ``stride − 1`` zeros between neighbouring entries:
    ``C × ((H'−1)s + 1) × ((W'−1)s + 1) × B``."""
    if stride == 1:
        return D
    C, ho, wo, B = D.shape
    out = np.zeros((C, (ho - 1) * stride + 1, (wo - 1) * stride + 1, B))
    out[:, ::stride, ::stride, :] = D
    return out


def transposed(
    D: FloatArray, W: FloatArray, size: tuple[int, int], stride: int = 1, padding: int = 0
) -> FloatArray:
    """The input gradient ``∂L/∂x`` of ``z = correlate(x, W, s, p)`` from ``D = ∂L/∂z``
    (``C_out × H' × W' × B``): ``D`` dilated by ``s``, padded by ``k − 1`` on each side (and by
    the rows and columns the stride never reached at the bottom and right), correlated with
    :func:`flip` ``(W)``, then cropped by ``p``; shape ``C × H × W × B`` for ``size = (H, W)``.

    >>> D = np.ones((1, 2, 2, 1))
    >>> transposed(D, np.ones((1, 1, 2, 2)), (3, 3))[0, :, :, 0].tolist()
    [[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]
    """
    H, Wd = size
    k = W.shape[-1]
    spread = dilate(D, stride)
    extra_h = (H + 2 * padding - k) % stride
    extra_w = (Wd + 2 * padding - k) % stride
    padded = np.pad(spread, ((0, 0), (k - 1, k - 1 + extra_h), (k - 1, k - 1 + extra_w), (0, 0)))
    full = correlate(padded, flip(W))  # the gradient of the padded input
    return np.ascontiguousarray(full[:, padding : padding + H, padding : padding + Wd, :])


def toeplitz(W: FloatArray, size: tuple[int, int], stride: int = 1, padding: int = 0) -> Any:
    """``∂vec(z)/∂vec(x)`` of one example as a sparse CSR array, ``C_out·H'·W' × C·H·W``: the
    doubly-blocked Toeplitz matrix of ``W``. Row ``(o, i, j)``, column ``(c, i·s + u − p,
    j·s + v − p)`` holds ``W[o, c, u, v]`` wherever that input lies inside the image (a padded
    zero has no column).

    >>> toeplitz(np.ones((1, 1, 2, 2)), (3, 3)).toarray()[0].tolist()
    [1.0, 1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0]
    """
    import scipy.sparse as sps

    c_out, C, k, _ = W.shape
    H, Wd = size
    ho, wo = output_size(H, k, stride, padding), output_size(Wd, k, stride, padding)
    o, i, j, c, u, v = np.meshgrid(
        np.arange(c_out),
        np.arange(ho),
        np.arange(wo),
        np.arange(C),
        np.arange(k),
        np.arange(k),
        indexing="ij",
    )
    r, q = i * stride + u - padding, j * stride + v - padding
    inside = (r >= 0) & (r < H) & (q >= 0) & (q < Wd)
    rows = ((o * ho + i) * wo + j)[inside]
    cols = ((c * H + r) * Wd + q)[inside]
    values = np.broadcast_to(W[:, None, None, :, :, :], o.shape)[inside]
    shape = (c_out * ho * wo, C * H * Wd)
    return sps.csr_array(sps.coo_array((values, (rows, cols)), shape=shape))
