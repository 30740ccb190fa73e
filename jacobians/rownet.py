"""The network of the numeric core in the row layout: ``layout="row"``.

Observations are rows: ``X`` is ``B × n_0``, ``W[l]`` is ``n_{l-1} × n_l``, ``b[l]`` a row, and
``Z[l] = A[l-1] W[l] + b[l]`` (``B × n_l``). For one observation, a row ``a`` (``1 × m``), the
Jacobians (row-major ``vec``) are

- ``∂z/∂vec(W) = a ⊗ I_n`` (``n × m·n``): ``z_j = Σ_k a_k W_kj`` and ``vec(W)[k·n + j] = W[k, j]``;
- ``∂z/∂a = Wᵀ`` (``n × m``), ``∂z/∂b = I_n``, and ``∂a/∂z`` as in the column layout.

The gradients are the transposes of the column layout's: ``dW_row[l] = dW[l]ᵀ``, computed
here by their own chains (Jacobian route) and by ``dW = (1/B) A[l-1]ᵀ Δ[l]``,
``Δ[l] = (Δ[l+1] W[l+1]ᵀ) ⊙ g'(Z[l])`` (vectorized route).

For the whole batch at once (``compare --layout row``), the batch Jacobians are
``∂vec(Z)/∂vec(W) = A[l-1] ⊗ I_{n_l}`` (the foundations chapter's ``X ⊗ I_p``),
``∂vec(Z)/∂vec(A[l-1]) = I_B ⊗ W[l]ᵀ`` and a block-diagonal ``∂vec(A)/∂vec(Z)``; one chain per
parameter through them is :func:`row_batch_route`, checked against the column layout by
:func:`check_row_layout`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy.linalg import block_diag

from ._typing import Matrix, Vector
from .chains import chain, output_factors
from .compose import Factor, multiply, row_to_matrix, row_to_vector
from .errors import InvalidValueError, message, unknown_name
from .layers import jacobian_a_z
from .network import Network
from .parameters import Parameters

if TYPE_CHECKING:
    from .comparison import Difference

LAYOUTS = ("column", "row")


@dataclass(frozen=True)
class RowParameters:
    """``W[l]`` (``n_{l-1} × n_l``), ``b[l]`` (``n_l``), ``X`` (``B × n_0``), ``Y`` (``B × n_L``
    or ``None``)."""

    W: tuple[Matrix, ...]
    b: tuple[Vector, ...]
    X: Matrix
    Y: Matrix | None


def to_row(params: Parameters) -> RowParameters:
    """The same numbers in the row layout: every ``W``, ``x`` and ``y`` transposed."""
    Y = None if params.y is None else params.y.T.copy()
    return RowParameters(tuple(W.T.copy() for W in params.W), params.b, params.x.T.copy(), Y)


def row_forward(net: Network, rp: RowParameters) -> tuple[list[Matrix], list[Matrix]]:
    """``Z[l] = A[l-1] W[l] + b[l]``, ``A[l] = g(Z[l])`` (rows); lists indexed by ``l``
    (``Z[0]`` unused, ``A[0] = X``)."""
    Z: list[Matrix] = [np.empty((rp.X.shape[0], 0))]
    A: list[Matrix] = [rp.X]
    for l, g in enumerate(net.activations, start=1):
        z = A[-1] @ rp.W[l - 1] + rp.b[l - 1]
        Z.append(z)
        A.append(g(z.T).T)  # activations act on columns: one softmax per observation
    return Z, A


def _target(net: Network, rp: RowParameters) -> Matrix:
    return rp.Y if rp.Y is not None else np.zeros((rp.X.shape[0], net.sizes[-1]))


def row_example_jacobians(net: Network, rp: RowParameters, i: int = 0) -> dict[str, Matrix]:
    """Observation ``i``'s Jacobians by NOTATION name, in the row layout (``J_z2_W2`` is
    ``a[1] ⊗ I_2``)."""
    Z, A = row_forward(net, rp)
    y = _target(net, rp)[i]
    L = net.depth
    out: dict[str, Matrix] = {}
    with np.errstate(divide="ignore", invalid="ignore"):
        out[f"J_L_a{L}"] = net.loss.row(A[L][i], y)
    for l in range(L, 0, -1):
        n = net.sizes[l]
        out[f"J_a{l}_z{l}"] = jacobian_a_z(net.activations[l - 1], Z[l][i])
        if l > 1:
            out[f"J_z{l}_a{l - 1}"] = rp.W[l - 1].T.copy()
        out[f"J_z{l}_W{l}"] = np.kron(A[l - 1][i].reshape(1, -1), np.eye(n))
        out[f"J_z{l}_b{l}"] = np.eye(n)
    if net.fused is not None:
        out[f"J_L_z{L}"] = net.fused.row(A[L][i], y)
    return out


def row_jacobian_route(
    net: Network, rp: RowParameters, order: str = "reverse"
) -> dict[str, Matrix]:
    """``dW1, db1, …`` in the row layout (``dW[l]`` is ``n_{l-1} × n_l``) by Jacobian chains,
    averaged over the observations."""
    B, L = rp.X.shape[0], net.depth
    grads = {
        f"d{p}{l}": 0.0 * (rp.W[l - 1] if p == "W" else rp.b[l - 1])
        for l in range(1, L + 1)
        for p in "Wb"
    }
    for i in range(B):
        jac = row_example_jacobians(net, rp, i)
        head, _ = output_factors(net, jac)
        for l in range(1, L + 1):
            m, n = rp.W[l - 1].shape
            dW = multiply(chain(net, jac, head, l, "W"), order).value
            db = multiply(chain(net, jac, head, l, "b"), order).value
            grads[f"dW{l}"] = grads[f"dW{l}"] + row_to_matrix(dW, (m, n)) / B
            grads[f"db{l}"] = grads[f"db{l}"] + row_to_vector(db) / B
    return grads


def row_vectorized_route(net: Network, rp: RowParameters) -> dict[str, Matrix]:
    """``Δ[L]`` (``B × n_L``), ``Δ[l] = (Δ[l+1] W[l+1]ᵀ) ⊙ g'(Z[l])``, ``dW = (1/B) A[l-1]ᵀ Δ[l]``,
    ``db = (1/B) 1ᵀ Δ[l]``."""
    Z, A = row_forward(net, rp)
    B, L = rp.X.shape[0], net.depth
    Y = _target(net, rp)
    if net.fused is not None:
        delta = net.fused.delta(A[L], Y)
    else:
        delta = net.activations[-1].vjp(Z[L].T, net.loss.gradient(A[L], Y).T).T
    grads: dict[str, Matrix] = {}
    for l in range(L, 0, -1):
        grads[f"dW{l}"] = A[l - 1].T @ delta / B
        grads[f"db{l}"] = delta.sum(axis=0) / B
        if l > 1:
            back = delta @ rp.W[l - 1].T
            delta = net.activations[l - 2].vjp(Z[l - 1].T, back.T).T
    return {k: grads[k] for k in sorted(grads, key=lambda k: (int(k[2:]), k[1]))}


def gradients(
    net: Network,
    params: Parameters,
    layout: str = "column",
    route: str = "jacobian",
    order: str = "reverse",
) -> dict[str, Matrix]:
    """``dW1, db1, …`` of ``params`` in the ``column`` or ``row`` layout, by the ``jacobian``
    or ``vectorized`` route."""
    if layout not in LAYOUTS:
        raise unknown_name("layout", layout, LAYOUTS)
    if route not in ("jacobian", "vectorized"):
        raise unknown_name("route", route, ("jacobian", "vectorized"))
    if layout == "column":
        from .backprop import vectorized_route
        from .chains import jacobian_route

        if route == "jacobian":
            return jacobian_route(net, params, order).gradients
        return vectorized_route(net, params).gradients
    rp = to_row(params)
    return (
        row_jacobian_route(net, rp, order) if route == "jacobian" else row_vectorized_route(net, rp)
    )


# The whole batch as one chain, in the row layout (``compare --layout row``).


def row_batch_shapes(net: Network, batch: int) -> dict[str, tuple[int, int]]:
    """The shapes of :func:`row_batch_jacobians`' factors for a batch of ``batch`` rows.

    >>> net = Network.from_spec("3-4-2-1", "relu,relu,sigmoid", "bce")
    >>> row_batch_shapes(net, 2)["J_Z1_W1"], row_batch_shapes(net, 2)["J_Z2_A1"]
    ((8, 12), (4, 8))
    """
    B, n, L = batch, net.sizes, net.depth
    shapes = {f"J_L_A{L}": (1, B * n[L])}
    if net.fused is not None:
        shapes[f"J_L_Z{L}"] = (1, B * n[L])
    for l in range(L, 0, -1):
        shapes[f"J_A{l}_Z{l}"] = (B * n[l], B * n[l])
        if l > 1:
            shapes[f"J_Z{l}_A{l - 1}"] = (B * n[l], B * n[l - 1])
        shapes[f"J_Z{l}_W{l}"] = (B * n[l], n[l - 1] * n[l])
        shapes[f"J_Z{l}_b{l}"] = (B * n[l], n[l])
    return shapes


def check_row_batch(net: Network, batch: int, memory_budget: int) -> None:
    """Refuse a network that is not the dense shorthand, or whose largest row-layout batch
    Jacobian (8 bytes an entry) exceeds ``memory_budget``."""
    if not net.is_dense:
        raise InvalidValueError(
            message(
                "layout 'row'",
                "a dense network (--sizes, --activations, --loss)",
                f"{net.spec}",
                "the row layout is built for dense layers only; use --layout column",
            )
        )
    name, (r, c) = max(row_batch_shapes(net, batch).items(), key=lambda kv: kv[1][0] * kv[1][1])
    if 8 * r * c > memory_budget:
        raise InvalidValueError(
            message(
                "layout 'row'",
                f"batch Jacobians within the memory budget of {memory_budget:,} bytes",
                f"{name} of {r}×{c} ({8 * r * c:,} bytes) for {net.spec} with a batch of {batch}",
                "use a smaller network or batch, or raise --memory-budget",
            )
        )


def _kron(a: Matrix, b: Matrix) -> Matrix:
    return np.asarray(np.kron(a, b), dtype=np.float64)


def row_batch_jacobians(net: Network, rp: RowParameters) -> dict[str, Matrix]:
    """The batch's Jacobians in the row layout as dense matrices, by name; ``vec`` row-major
    over ``B × n`` matrices (``vec(Z)[i·n + j] = Z[i, j]``), ``J = (1/B) Σ_i L(a_i, y_i)``:

    - ``J_L_A{L} = (1/B) [∂L/∂a_1, …, ∂L/∂a_B]`` (``1 × B·n_L``); for a fused output pair also
      ``J_L_Z{L} = (1/B) vec(A[L] − Y)ᵀ``;
    - ``J_A{l}_Z{l}`` (``B·n_l × B·n_l``): block diagonal, one ``∂a/∂z`` per row —
      ``diag(g'(vec Z[l]))`` for an elementwise ``g``, ``diag(s) − s sᵀ`` blocks for softmax;
    - ``J_Z{l}_A{l-1} = I_B ⊗ W[l]ᵀ`` (``B·n_l × B·n_{l-1}``);
    - ``J_Z{l}_W{l} = A[l-1] ⊗ I_{n_l}`` (``B·n_l × n_{l-1}·n_l``; the foundations chapter's
      ``X ⊗ I_p``);
    - ``J_Z{l}_b{l} = 1_B ⊗ I_{n_l}`` (``B·n_l × n_l``).

    >>> net = Network.from_spec("2-1", "identity", "sum")
    >>> rp = RowParameters((np.array([[2.0], [3.0]]),), (np.zeros(1),), np.eye(2), None)
    >>> row_batch_jacobians(net, rp)["J_Z1_W1"].tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    Z, A = row_forward(net, rp)
    Y = _target(net, rp)
    B, L = rp.X.shape[0], net.depth
    jac: dict[str, Matrix] = {}
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        rows = [net.loss.row(A[L][i], Y[i]) for i in range(B)]
    jac[f"J_L_A{L}"] = np.hstack(rows) / B
    if net.fused is not None:
        jac[f"J_L_Z{L}"] = np.hstack([net.fused.row(A[L][i], Y[i]) for i in range(B)]) / B
    for l in range(L, 0, -1):
        n = net.sizes[l]
        g = net.activations[l - 1]
        jac[f"J_A{l}_Z{l}"] = block_diag(*(jacobian_a_z(g, Z[l][i]) for i in range(B)))
        if l > 1:
            jac[f"J_Z{l}_A{l - 1}"] = _kron(np.eye(B), rp.W[l - 1].T)
        jac[f"J_Z{l}_W{l}"] = _kron(A[l - 1], np.eye(n))
        jac[f"J_Z{l}_b{l}"] = _kron(np.ones((B, 1)), np.eye(n))
    return jac


@dataclass(frozen=True)
class RowBatchRoute:
    """``dW1, db1, …`` in the row layout (``dW[l]`` is ``n_{l-1} × n_l``), each chain's factor
    names and shapes, and whether the output used the fused row."""

    gradients: dict[str, Matrix]
    chains: dict[str, list[tuple[str, tuple[int, int]]]]
    fused: bool


def row_batch_route(net: Network, rp: RowParameters, order: str = "reverse") -> RowBatchRoute:
    """One chain per parameter through the batch Jacobians (:func:`row_batch_jacobians`):

    ``∂J/∂vec(W[l]) = J_L_A{L} · J_A{L}_Z{L} · J_Z{L}_A{L-1} ⋯ J_A{l}_Z{l} · (A[l-1] ⊗ I_{n_l})``,
    ``1 × n_{l-1}·n_l``, reshaped (C order) to ``dW[l]`` (``n_{l-1} × n_l``); ending in
    ``1_B ⊗ I_{n_l}`` it gives ``db[l]``. The output pair's two factors are replaced by the
    fused row where they are not finite (as :func:`jacobians.chains.output_factors`)."""
    jac = row_batch_jacobians(net, rp)
    L = net.depth
    head = [Factor(f"J_L_A{L}", jac[f"J_L_A{L}"]), Factor(f"J_A{L}_Z{L}", jac[f"J_A{L}_Z{L}"])]
    fused = False
    if net.fused is not None:
        with np.errstate(invalid="ignore", over="ignore"):
            finite = np.all(np.isfinite(head[0].matrix @ head[1].matrix))
        if not (finite and np.all(np.isfinite(head[0].matrix))):
            head, fused = [Factor(f"J_L_Z{L}", jac[f"J_L_Z{L}"])], True
    grads: dict[str, Matrix] = {}
    chains: dict[str, list[tuple[str, tuple[int, int]]]] = {}
    for l in range(L, 0, -1):
        m, n = rp.W[l - 1].shape
        for end in "Wb":
            factors = [*head, Factor(f"J_Z{l}_{end}{l}", jac[f"J_Z{l}_{end}{l}"])]
            row = multiply(factors, order).value
            grads[f"d{end}{l}"] = row_to_matrix(row, (m, n)) if end == "W" else row_to_vector(row)
            chains[f"d{end}{l}"] = [(f.name, f.matrix.shape) for f in factors]
        if l > 1:
            back = [Factor(f"J_Z{l}_A{l - 1}", jac[f"J_Z{l}_A{l - 1}"])]
            step = [Factor(f"J_A{l - 1}_Z{l - 1}", jac[f"J_A{l - 1}_Z{l - 1}"])]
            head = [*head, *back, *step]
    ordered = sorted(grads, key=lambda k: (int(k[2:]), k[1]))
    return RowBatchRoute({k: grads[k] for k in ordered}, chains, fused)


@dataclass(frozen=True)
class RowLayoutCheck:
    """The row layout's batch chain against the column layout: ``dW_row[l] − dW[l]ᵀ`` and
    ``db_row[l] − db[l]`` for every layer, each a :class:`~jacobians.comparison.Difference`."""

    route: RowBatchRoute
    differences: dict[str, Difference]

    @property
    def agree(self) -> bool:
        """True when every gradient agrees within the exact tolerance."""
        return all(d.agree for d in self.differences.values())

    @property
    def largest(self) -> Difference:
        """The gradient with the largest absolute difference."""
        return max(self.differences.values(), key=lambda d: d.absolute)


def check_row_layout(
    net: Network, params: Parameters, column: dict[str, Matrix], order: str = "reverse"
) -> RowLayoutCheck:
    """:func:`row_batch_route` on ``params`` in the row layout (:func:`to_row`), compared with
    ``column``, the column layout's ``dW1, db1, …`` (``dW[l]`` is ``n_l × n_{l-1}``):
    ``dW_row[l] = dW[l]ᵀ`` and ``db_row[l] = db[l]`` within the exact tolerance."""
    from .comparison import EXACT_ATOL, EXACT_RTOL, difference

    route = row_batch_route(net, to_row(params), order)
    diffs = {
        k: difference(g, column[k].T if k[1] == "W" else column[k], EXACT_RTOL, EXACT_ATOL, name=k)
        for k, g in route.gradients.items()
    }
    return RowLayoutCheck(route, diffs)
