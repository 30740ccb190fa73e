"""Reference implementations written from the definitions, with plain loops: the oracles the
layer tests compare against. Nothing here imports the code under test.

Shapes follow NOTATION.md: images ``C × H × W`` (one example), row-major ``vec``; a batch on
the last axis.
"""

from __future__ import annotations

import numpy as np


def conv_forward(x: np.ndarray, W: np.ndarray, b: np.ndarray, s: int, p: int) -> np.ndarray:
    """``z[o, i, j] = Σ_{c,u,v} W[o, c, u, v] · x[c, i·s + u − p, j·s + v − p] + b[o]`` (entries
    outside the image count as 0), one example ``x`` of ``C × H × W``."""
    C, H, Wd = x.shape
    O, _, k, _ = W.shape
    ho, wo = (H + 2 * p - k) // s + 1, (Wd + 2 * p - k) // s + 1
    z = np.zeros((O, ho, wo))
    for o in range(O):
        for i in range(ho):
            for j in range(wo):
                total = b[o]
                for c in range(C):
                    for u in range(k):
                        for v in range(k):
                            r, q = i * s + u - p, j * s + v - p
                            if 0 <= r < H and 0 <= q < Wd:
                                total += W[o, c, u, v] * x[c, r, q]
                z[o, i, j] = total
    return z


def conv_input_jacobian(W: np.ndarray, C: int, H: int, Wd: int, s: int, p: int) -> np.ndarray:
    """``∂vec(z)/∂vec(x)`` entry by entry: row ``(o, i, j)``, column ``(c, r, q)`` holds
    ``W[o, c, r − i·s + p, q − j·s + p]`` when that kernel index exists."""
    O, _, k, _ = W.shape
    ho, wo = (H + 2 * p - k) // s + 1, (Wd + 2 * p - k) // s + 1
    J = np.zeros((O * ho * wo, C * H * Wd))
    for o in range(O):
        for i in range(ho):
            for j in range(wo):
                for c in range(C):
                    for r in range(H):
                        for q in range(Wd):
                            u, v = r - i * s + p, q - j * s + p
                            if 0 <= u < k and 0 <= v < k:
                                J[(o * ho + i) * wo + j, (c * H + r) * Wd + q] = W[o, c, u, v]
    return J


def im2row(x: np.ndarray, k: int, s: int, p: int) -> np.ndarray:
    """One receptive field per row (output positions row-major), columns ``(c, u, v)``."""
    C, H, Wd = x.shape
    ho, wo = (H + 2 * p - k) // s + 1, (Wd + 2 * p - k) // s + 1
    U = np.zeros((ho * wo, C * k * k))
    for i in range(ho):
        for j in range(wo):
            for c in range(C):
                for u in range(k):
                    for v in range(k):
                        r, q = i * s + u - p, j * s + v - p
                        if 0 <= r < H and 0 <= q < Wd:
                            U[i * wo + j, (c * k + u) * k + v] = x[c, r, q]
    return U


def pool_forward(x: np.ndarray, k: int, s: int, how: str) -> tuple[np.ndarray, np.ndarray]:
    """Max or average of every ``k × k`` window; and the Jacobian ``∂vec(out)/∂vec(x)`` (max:
    a 1 at the first maximum of the window in row-major order; average: ``1/k²``)."""
    C, H, Wd = x.shape
    ho, wo = (H - k) // s + 1, (Wd - k) // s + 1
    out = np.zeros((C, ho, wo))
    J = np.zeros((C * ho * wo, C * H * Wd))
    for c in range(C):
        for i in range(ho):
            for j in range(wo):
                row = (c * ho + i) * wo + j
                best, where = -np.inf, None
                total = 0.0
                for u in range(k):
                    for v in range(k):
                        r, q = i * s + u, j * s + v
                        value = x[c, r, q]
                        total += value
                        if value > best:
                            best, where = value, (c * H + r) * Wd + q
                        if how == "avg":
                            J[row, (c * H + r) * Wd + q] += 1.0 / k**2
                if how == "max":
                    out[c, i, j] = best
                    J[row, where] = 1.0
                else:
                    out[c, i, j] = total / k**2
    return out, J


def numerical_jacobian(f, x: np.ndarray, h: float = 1e-6) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Central differences, one column per entry of ``x`` (row-major): ``∂vec(f)/∂vec(x)``."""
    x = np.array(x, dtype=np.float64)
    columns = []
    for index in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[index] += h
        down[index] -= h
        columns.append((np.asarray(f(up)) - np.asarray(f(down))).reshape(-1) / (2 * h))
    return np.stack(columns, axis=1)


def interleave(blocks: list[np.ndarray]) -> np.ndarray:
    """The batch Jacobian of per-example blocks ``J_b`` under the batch-last ``vec``: entry
    ``(r·B + b, c·B + b)`` is ``J_b[r, c]``."""
    B = len(blocks)
    rows, cols = blocks[0].shape
    out = np.zeros((rows * B, cols * B))
    for b, J in enumerate(blocks):
        for r in range(rows):
            for c in range(cols):
                out[r * B + b, c * B + b] = J[r, c]
    return out


def stack(blocks: list[np.ndarray]) -> np.ndarray:
    """The batch Jacobian with respect to a shared parameter: row ``r·B + b`` is row ``r`` of
    example ``b``'s ``J_b``."""
    B = len(blocks)
    rows, cols = blocks[0].shape
    out = np.zeros((rows * B, cols))
    for b, J in enumerate(blocks):
        for r in range(rows):
            out[r * B + b] = J[r]
    return out
