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


# --- sequences (T × d, one token per row): embedding, attention, dense and layer norm ---------


def matmul(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """``(A B)[i, j] = Σ_k A[i, k] B[k, j]``, entry by entry."""
    n, m = A.shape
    p = B.shape[1]
    out = np.zeros((n, p))
    for i in range(n):
        for j in range(p):
            total = 0.0
            for k in range(m):
                total += A[i, k] * B[k, j]
            out[i, j] = total
    return out


def lookup(ids: np.ndarray, E: np.ndarray) -> np.ndarray:
    """``Y[t] = E[ids[t]]``: row ``t`` of the output is the table's row of token ``t``."""
    Y = np.zeros((len(ids), E.shape[1]))
    for t, token in enumerate(ids):
        for j in range(E.shape[1]):
            Y[t, j] = E[int(token), j]
    return Y


def scores(Q: np.ndarray, K: np.ndarray) -> np.ndarray:
    """``S[t, u] = Σ_k Q[t, k] K[u, k] / √d_k``: query ``t`` against key ``u``."""
    T, d_k = Q.shape
    S = np.zeros((T, K.shape[0]))
    for t in range(T):
        for u in range(K.shape[0]):
            total = 0.0
            for k in range(d_k):
                total += Q[t, k] * K[u, k]
            S[t, u] = total / np.sqrt(d_k)
    return S


def softmax_rows(S: np.ndarray, causal: bool) -> np.ndarray:
    """``A[t, u] = exp(S[t, u]) / Σ_v exp(S[t, v])`` over the keys ``u`` row ``t`` may see (all,
    or ``u ≤ t`` when ``causal``); the others are 0."""
    T, U = S.shape
    A = np.zeros((T, U))
    for t in range(T):
        seen = [u for u in range(U) if not causal or u <= t]
        top = max(S[t, u] for u in seen)
        total = sum(np.exp(S[t, u] - top) for u in seen)
        for u in seen:
            A[t, u] = np.exp(S[t, u] - top) / total
    return A


def attention(
    X: np.ndarray, Wq: np.ndarray, Wk: np.ndarray, Wv: np.ndarray, causal: bool
) -> dict[str, np.ndarray]:
    """Single-head self-attention of one example ``X`` (``T × d``), every step by loops:
    ``Q = X Wq``, ``K = X Wk``, ``V = X Wv``, ``S = Q Kᵀ/√d_k``, ``A`` the softmax of each row
    of ``S`` (masked above the diagonal when ``causal``), ``Y = A V``."""
    Q, K, V = matmul(X, Wq), matmul(X, Wk), matmul(X, Wv)
    S = scores(Q, K)
    A = softmax_rows(S, causal)
    return {"X": X, "Q": Q, "K": K, "V": V, "S": S, "A": A, "Y": matmul(A, V)}


def dense_tokens(X: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``Y[t, i] = Σ_k W[i, k] X[t, k] + b[i]``: the same dense layer on every token."""
    T, m = X.shape
    Y = np.zeros((T, W.shape[0]))
    for t in range(T):
        for i in range(W.shape[0]):
            Y[t, i] = sum(W[i, k] * X[t, k] for k in range(m)) + b[i]
    return Y


def layernorm_tokens(X: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> np.ndarray:
    """Each token over its ``d`` features: ``μ``, biased ``σ² = Σ (x − μ)²/d``,
    ``y = γ ⊙ (x − μ)/√(σ² + ε) + β``."""
    T, d = X.shape
    Y = np.zeros((T, d))
    for t in range(T):
        mean = sum(X[t, j] for j in range(d)) / d
        var = sum((X[t, j] - mean) ** 2 for j in range(d)) / d
        for j in range(d):
            Y[t, j] = gamma[j] * (X[t, j] - mean) / np.sqrt(var + eps) + beta[j]
    return Y


def commutation(m: int, n: int) -> np.ndarray:
    """``C`` with ``vec(Mᵀ) = C vec(M)`` for ``M`` of ``m × n`` (row-major ``vec``): entry
    ``j·m + i`` of ``vec(Mᵀ)`` is ``M[i, j]``, entry ``i·n + j`` of ``vec(M)``."""
    C = np.zeros((n * m, m * n))
    for i in range(m):
        for j in range(n):
            C[j * m + i, i * n + j] = 1.0
    return C
