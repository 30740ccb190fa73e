"""The row layout of the foundations chapter: observations are rows, ``N = X W``.

``X`` is ``B × n`` (one observation per row), ``W`` is ``n × p``, ``N = X W`` (``B × p``),
``S = σ(N)`` elementwise, and ``L = Λ(S) = Σ_ij S_ij``. With row-major ``vec``:

- ``∂vec(N)/∂vec(X) = I_B ⊗ Wᵀ`` (``B·p × B·n``) and ``∂vec(N)/∂vec(W) = X ⊗ I_p``
  (``B·p × n·p``);
- ``∂vec(S)/∂vec(N) = diag(σ'(vec N))`` and ``∂L/∂vec(S) = 1ᵀ``;
- so ``dL/dX = (dL/dS ⊙ σ'(N)) Wᵀ`` and ``dL/dW = Xᵀ (dL/dS ⊙ σ'(N))``.

The simplest case is the dot product of a row ``X`` (``1 × n``) and a column ``W`` (``n × 1``):
``ν = X W``, ``∂ν/∂X = Wᵀ``, ``∂ν/∂W = Xᵀ``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._typing import ArrayLike, Matrix
from .chainrule import DEFAULT_STEP, elementwise_link
from .compose import Factor, multiply, row_to_matrix
from .errors import ShapeError, message, shape_str

CHAPTER_SEED = 190204


def _matrix(name: str, value: ArrayLike) -> Matrix:
    array = np.asarray(value, dtype=np.float64)
    if array.ndim != 2:
        raise ShapeError(message(name, "a matrix (2-D)", f"shape {shape_str(array.shape)}"))
    return array


def _check_product(X: Matrix, W: Matrix) -> None:
    if X.shape[1] != W.shape[0]:
        hint = "did you pass Wᵀ?" if X.shape[1] == W.shape[1] else ""
        raise ShapeError(
            message(
                "W",
                f"{X.shape[1]} rows to match X of shape {shape_str(X.shape)}",
                f"shape {shape_str(W.shape)}",
                hint,
            )
        )


@dataclass(frozen=True)
class DotProduct:
    """``ν = X W`` for a row ``X`` and a column ``W``, with ``∂ν/∂X = Wᵀ`` and ``∂ν/∂W = Xᵀ``."""

    value: Matrix
    d_dX: Matrix
    d_dW: Matrix


def dot(X: ArrayLike, W: ArrayLike) -> DotProduct:
    """The chapter's ``ν(X, W)``.

    >>> r = dot([[1.0, 2.0]], [[3.0], [4.0]]); r.value.tolist(), r.d_dX.tolist(), r.d_dW.tolist()
    ([[11.0]], [[3.0, 4.0]], [[1.0], [2.0]])
    """
    Xm, Wm = _matrix("X", X), _matrix("W", W)
    if Xm.shape[0] != 1 or Wm.shape[1] != 1:
        raise ShapeError(
            message(
                "X, W",
                "a row X (1 × n) and a column W (n × 1)",
                f"{shape_str(Xm.shape)} and {shape_str(Wm.shape)}",
            )
        )
    _check_product(Xm, Wm)
    return DotProduct(Xm @ Wm, Wm.T.copy(), Xm.T.copy())


def activation_of_dot(X: ArrayLike, W: ArrayLike, activation: str = "sigmoid") -> DotProduct:
    """``s = σ(ν(X, W))``: ``∂s/∂X = σ'(ν) Wᵀ`` and ``∂s/∂W = Xᵀ σ'(ν)`` (the chain rule through
    the dot product; ``σ`` any elementwise activation).

    >>> r = activation_of_dot([[1.0, -1.0]], [[2.0], [2.0]]); r.value.tolist(), r.d_dX.tolist()
    ([[0.5]], [[0.5, 0.5]])
    """
    nu = dot(X, W)
    g = elementwise_link(activation, "activation")
    slope = g.derivative(nu.value)
    return DotProduct(g(nu.value), slope * nu.d_dX, nu.d_dW * slope)


@dataclass(frozen=True)
class MatrixFunction:
    """``L = Λ(σ(X W))`` with its gradients by the formulas and by explicit Jacobians."""

    X: Matrix
    W: Matrix
    N: Matrix
    S: Matrix
    L: float
    dLdX: Matrix
    dLdW: Matrix
    jacobians: dict[str, Matrix]
    dLdX_jacobian: Matrix
    dLdW_jacobian: Matrix
    activation: str


def matrix_function(X: ArrayLike, W: ArrayLike, activation: str = "sigmoid") -> MatrixFunction:
    """``N = X W``, ``S = g(N)``, ``L = Σ S``; ``dL/dX``, ``dL/dW`` two ways.

    The formulas: ``dL/dX = (1 ⊙ g'(N)) Wᵀ``, ``dL/dW = Xᵀ (1 ⊙ g'(N))``. The Jacobians
    (row-major ``vec``): ``J_L_S = 1ᵀ`` (``1 × B·p``), ``J_S_N = diag(g'(vec N))``,
    ``J_N_X = I_B ⊗ Wᵀ``, ``J_N_W = X ⊗ I_p``; the chains ``J_L_S · J_S_N · J_N_X`` and
    ``… · J_N_W`` reshaped to ``B × n`` and ``n × p``.
    """
    Xm, Wm = _matrix("X", X), _matrix("W", W)
    _check_product(Xm, Wm)
    g = elementwise_link(activation, "activation")
    B, p = Xm.shape[0], Wm.shape[1]
    N = Xm @ Wm
    S = g(N)
    dLdS = np.ones_like(S)
    G = dLdS * g.derivative(N)
    jac = {
        "J_L_S": np.ones((1, B * p)),
        "J_S_N": np.diag(g.derivative(N).reshape(-1)),
        "J_N_X": np.kron(np.eye(B), Wm.T),
        "J_N_W": np.kron(Xm, np.eye(p)),
    }
    head = [Factor("J_L_S", jac["J_L_S"]), Factor("J_S_N", jac["J_S_N"])]
    dX = multiply([*head, Factor("J_N_X", jac["J_N_X"])]).value
    dW = multiply([*head, Factor("J_N_W", jac["J_N_W"])]).value
    return MatrixFunction(
        Xm,
        Wm,
        N,
        S,
        float(S.sum()),
        G @ Wm.T,
        Xm.T @ G,
        jac,
        row_to_matrix(dX, Xm.shape),
        row_to_matrix(dW, Wm.shape),
        g.name,
    )


def perturbation_slope(
    X: ArrayLike,
    W: ArrayLike,
    index: tuple[int, int],
    step: float = DEFAULT_STEP,
    activation: str = "sigmoid",
) -> float:
    """The chapter's check: ``(L(X + h E_ij) − L(X)) / h``, a forward difference in ``X[i, j]``."""
    Xm = _matrix("X", X).copy()
    base = matrix_function(Xm, W, activation).L
    Xm[index] += step
    return (matrix_function(Xm, W, activation).L - base) / step


def chapter_example(seed: int = CHAPTER_SEED) -> tuple[Matrix, Matrix]:
    """``X`` (3 × 3) then ``W`` (3 × 2) from ``np.random.seed(seed)`` and ``randn``, as the
    chapter draws them (numpy's legacy generator, so the numbers are the chapter's)."""
    rng = np.random.RandomState(seed)
    X = rng.randn(3, 3)
    W = rng.randn(3, 2)
    return X, W
