"""``attention(d_k, d_v=d_k, causal=false)``: single-head self-attention, one matrix at a time.

On a sequence ``X`` (``T × d``, one token per row: NOTATION.md's row layout), per example

    Q = X Wq,  K = X Wk,  V = X Wv        (Wq, Wk: d × d_k;  Wv: d × d_v)
    S = Q Kᵀ/√d_k,   A = softmax of each row of S (+ M),   Y = A V,

``M`` the causal mask (``−∞`` above the diagonal with ``causal=true``, else 0). Every step is a
rule the row layout already proves, ``vec(A B C) = (A ⊗ Cᵀ) vec(B)`` with the row-major ``vec``:

=====================  =================  ==========================================
step                   shape              Jacobian
=====================  =================  ==========================================
``∂vec(Q)/∂vec(Wq)``   ``T·d_k × d·d_k``  ``X ⊗ I_{d_k}`` (and ``K``, ``V`` alike)
``∂vec(Q)/∂vec(X)``    ``T·d_k × T·d``    ``I_T ⊗ Wqᵀ``
``∂vec(S)/∂vec(Q)``    ``T·T × T·d_k``    ``(I_T ⊗ K)/√d_k``
``∂vec(S)/∂vec(K)``    ``T·T × T·d_k``    ``(Q ⊗ I_T) C/√d_k``, ``C`` the commutation
                                          matrix, ``vec(Kᵀ) = C vec(K)``
``∂vec(A)/∂vec(S)``    ``T·T × T·T``      one ``diag(a_t) − a_t a_tᵀ`` per row ``t``
``∂vec(Y)/∂vec(A)``    ``T·d_v × T·T``    ``I_T ⊗ Vᵀ``
``∂vec(Y)/∂vec(V)``    ``T·d_v × T·d_v``  ``A ⊗ I_{d_v}``
=====================  =================  ==========================================

The layer's own Jacobians are the chain rule over these steps, held as products
(:class:`~jacobians.structured.Product`) and, for ``X``, which reaches ``Y`` along three paths,
a sum (:class:`~jacobians.structured.Sum`):
``∂Y/∂X = J_Y_A J_A_S (J_S_Q J_Q_X + J_S_K J_K_X) + J_Y_V J_V_X``. The compact backward:
``dV = Aᵀ dY``, ``dA = dY Vᵀ``, ``dS = A ⊙ (dA − rowsum(dA ⊙ A))``, ``dQ = dS K/√d_k``,
``dK = dSᵀ Q/√d_k``, ``dWq = Xᵀ dQ``, ``dWk = Xᵀ dK``, ``dWv = Xᵀ dV``,
``dX = dQ Wqᵀ + dK Wkᵀ + dV Wvᵀ``.

The exercise checker's mistake models (:attr:`Attention.mistakes`) redo that backward with one
step wrong: the ``1/√d_k`` forgotten in ``dQ`` and ``dK``; the softmax's backward applied per
column (``rowsum`` taken down the columns); only the ``diag(a_t)`` term of the softmax
Jacobian (``dS = A ⊙ dA``); the transpose missing in ``dK = dS Q/√d_k``; only the path through
``Q`` into ``dX``.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import sqrt
from typing import Any, ClassVar

import numpy as np

from .._typing import FloatArray, Matrix
from ..structured import (
    Commutation,
    Diagonal,
    KronIdentity,
    KronWeightBatch,
    Product,
    RowSoftmax,
    Structured,
    Sum,
    per_example,
    to_dense,
)
from .base import Kind, NodeNames, Params, Shape, argument, need, show


@dataclass(frozen=True)
class Steps:
    """One example's intermediate values: ``Q``, ``K``, ``V`` (``T × d_k``, ``T × d_k``,
    ``T × d_v``), ``S`` (``T × T``, before the mask), ``A`` and ``Y``."""

    X: Matrix
    Q: Matrix
    K: Matrix
    V: Matrix
    S: Matrix
    A: Matrix
    Y: Matrix


@dataclass(frozen=True)
class Gradients:
    """One example's compact backward: the gradient at each intermediate and at ``X``."""

    dY: Matrix  # noqa: N815 (the notation's names)
    dV: Matrix  # noqa: N815
    dA: Matrix  # noqa: N815
    dS: Matrix  # noqa: N815
    dQ: Matrix  # noqa: N815
    dK: Matrix  # noqa: N815
    dX: Matrix


def row_softmax(S: Matrix, causal: bool) -> Matrix:
    """Softmax of each row of ``S`` (``+ M``: with ``causal``, entries above the diagonal are
    ``−∞`` and come out 0), shifted by the row's maximum for stability."""
    if causal:
        S = np.where(np.triu(np.ones(S.shape, dtype=bool), k=1), -np.inf, S)
    E = np.exp(S - S.max(axis=-1, keepdims=True))
    return np.asarray(E / E.sum(axis=-1, keepdims=True))


@dataclass(frozen=True)
class Attention(Kind):
    """``attention(d_k, d_v=d_k, causal=false)``: ``Y = softmax(X Wq (X Wk)ᵀ/√d_k) X Wv`` on a
    sequence ``T × d``, ``T × d_v`` out."""

    d_k: int = argument(minimum=1, help="d_k: the queries' and keys' width")
    d_v: int | None = argument(minimum=1, default=None, help="the values' width (default: d_k)")
    causal: bool = argument(default=False, help="true: token t attends to tokens ≤ t only")
    name: ClassVar[str] = "attention"
    summary: ClassVar[str] = (
        "Y = softmax(Q Kᵀ/√d_k) V, Q = X Wq, K = X Wk, V = X Wv on a sequence; products of "
        "X ⊗ I, I ⊗ K, (Q ⊗ I) C, a softmax block per row, I ⊗ Vᵀ, A ⊗ I"
    )
    parametric: ClassVar[bool] = True
    roles: ClassVar[tuple[str, ...]] = ("Wq", "Wk", "Wv")
    nouns: ClassVar[dict[str, tuple[str, str]]] = {
        "Wq": ("weight", "weights"),
        "Wk": ("weight", "weights"),
        "Wv": ("weight", "weights"),
    }
    parts: ClassVar[tuple[tuple[str, str], ...]] = (
        ("Y", "A"),
        ("Y", "V"),
        ("A", "S"),
        ("S", "Q"),
        ("S", "K"),
        ("Q", "X"),
        ("K", "X"),
        ("V", "X"),
        ("Q", "Wq"),
        ("K", "Wk"),
        ("V", "Wv"),
    )

    def __post_init__(self) -> None:
        if self.d_v == self.d_k:  # one spelling: attention(2) is attention(2, d_v=2)
            object.__setattr__(self, "d_v", None)

    input_paths: ClassVar[tuple[tuple[str, ...], ...]] = (
        ("Y_A", "A_S", "S_Q", "Q_X"),
        ("Y_A", "A_S", "S_K", "K_X"),
        ("Y_V", "V_X"),
    )
    role_steps: ClassVar[dict[str, tuple[str, ...]]] = {
        "Wq": ("Y_A", "A_S", "S_Q", "Q_Wq"),
        "Wk": ("Y_A", "A_S", "S_K", "K_Wk"),
        "Wv": ("Y_V", "V_Wv"),
    }

    @property
    def width_v(self) -> int:
        """``d_v``: the values' width (``d_k`` unless given)."""
        return self.d_k if self.d_v is None else self.d_v

    def arguments(self) -> dict[str, Any]:
        return {"d_k": self.d_k, "d_v": self.width_v, "causal": self.causal}

    def out_shape(self, in_shape: Shape) -> Shape:
        need(len(in_shape) == 2, "input", "a sequence T×d (--input Txd)", show(in_shape))
        return (in_shape[0], self.width_v)

    def parameter_shapes(self, in_shape: Shape) -> dict[str, Shape]:
        d = in_shape[1]
        return {"Wq": (d, self.d_k), "Wk": (d, self.d_k), "Wv": (d, self.width_v)}

    def part_shapes(self, in_shape: Shape) -> dict[str, Shape]:
        T = in_shape[0]
        return {
            "Q": (T, self.d_k),
            "K": (T, self.d_k),
            "V": (T, self.width_v),
            "S": (T, T),
            "A": (T, T),
        }

    def forward_cost(self, in_shape: Shape) -> int:
        """The projections ``T·d·(2d_k + d_v)``, the scores ``T²·d_k``, ``Y``: ``T²·d_v``."""
        T, d = in_shape
        return T * d * (2 * self.d_k + self.width_v) + T * T * (self.d_k + self.width_v)

    def init(self, role: str, in_shape: Shape, rng: np.random.Generator) -> FloatArray:
        """``W ~ N(0, 1/d)``."""
        shape = self.parameter_shapes(in_shape)[role]
        return np.asarray(rng.standard_normal(shape) / np.sqrt(in_shape[1]))

    # --- one example -------------------------------------------------------------------
    def steps(self, params: Params, X: Matrix) -> Steps:
        """The forward pass of one example ``X`` (``T × d``)."""
        Q, K, V = X @ params["Wq"], X @ params["Wk"], X @ params["Wv"]
        S = Q @ K.T / sqrt(self.d_k)
        A = row_softmax(S, self.causal)
        return Steps(X, Q, K, V, S, A, A @ V)

    def back(self, params: Params, s: Steps, g: Matrix) -> Gradients:
        """The compact backward of one example from ``g = dY`` (the module's formulas)."""
        root = sqrt(self.d_k)
        v = s.A.T @ g  # dV
        a = g @ s.V.T  # dA
        scores = s.A * (a - (a * s.A).sum(axis=1, keepdims=True))  # dS
        q = scores @ s.K / root  # dQ
        k = scores.T @ s.Q / root  # dK
        x = q @ params["Wq"].T + k @ params["Wk"].T + v @ params["Wv"].T  # dX: three paths
        return Gradients(g, v, a, scores, q, k, x)

    def mistaken_back(self, mistake: str, params: Params, s: Steps, g: Matrix) -> Gradients:
        """:meth:`back` with one of :attr:`mistakes` made (``KeyError`` for any other)."""
        if mistake not in self.mistakes:
            raise KeyError(mistake)
        root = 1.0 if mistake == "scale_forgotten" else sqrt(self.d_k)
        v = s.A.T @ g
        a = g @ s.V.T
        if mistake == "softmax_diagonal_only":
            scores = s.A * a  # diag(a_t) alone, without − a_t a_tᵀ
        else:  # over columns: each column's sum where each row's belongs
            axis = 0 if mistake == "softmax_over_columns" else 1
            scores = s.A * (a - (a * s.A).sum(axis=axis, keepdims=True))
        q = scores @ s.K / root
        k = (scores if mistake == "dk_not_transposed" else scores.T) @ s.Q / root
        x = q @ params["Wq"].T
        if mistake != "one_path_into_dx":
            x = x + k @ params["Wk"].T + v @ params["Wv"].T
        return Gradients(g, v, a, scores, q, k, x)

    def step_jacobians(self, params: Params, s: Steps) -> dict[str, Structured]:
        """The Jacobians of one example's steps, by :attr:`parts` key (``"Y_A"``, …)."""
        T, root = s.X.shape[0], sqrt(self.d_k)
        return {
            "Y_A": KronIdentity(T, s.V.T),
            "Y_V": KronWeightBatch(s.A, self.width_v),
            "A_S": RowSoftmax(s.A),
            "S_Q": KronIdentity(T, s.K / root),
            "S_K": Product((KronWeightBatch(s.Q / root, T), Commutation(T, self.d_k))),
            "Q_X": KronIdentity(T, params["Wq"].T),
            "K_X": KronIdentity(T, params["Wk"].T),
            "V_X": KronIdentity(T, params["Wv"].T),
            "Q_Wq": KronWeightBatch(s.X, self.d_k),
            "K_Wk": KronWeightBatch(s.X, self.d_k),
            "V_Wv": KronWeightBatch(s.X, self.width_v),
        }

    @staticmethod
    def chained(J: dict[str, Structured]) -> dict[str, Structured]:
        """The layer's own Jacobians from its steps' (one example)."""
        to_scores = Product((J["Y_A"], J["A_S"]))
        return {
            "input": Sum(
                (
                    Product(
                        (
                            to_scores,
                            Sum((Product((J["S_Q"], J["Q_X"])), Product((J["S_K"], J["K_X"])))),
                        )
                    ),
                    Product((J["Y_V"], J["V_X"])),
                )
            ),
            "Wq": Product((to_scores, J["S_Q"], J["Q_Wq"])),
            "Wk": Product((to_scores, J["S_K"], J["K_Wk"])),
            "Wv": Product((J["Y_V"], J["V_Wv"])),
        }

    # --- the protocol, over a batch ---------------------------------------------------
    def forward(self, params: Params, a: FloatArray) -> FloatArray:
        """``Y`` of every example, ``T × d_v × B``."""
        return np.stack([self.steps(params, a[:, :, b]).Y for b in range(a.shape[2])], axis=-1)

    def jacobians(self, params: Params, a: FloatArray, out: FloatArray) -> dict[str, Structured]:
        """Per example the steps' Jacobians and the layer's own (their chain rule); side by
        side over the batch (the parameters' stacked: the examples share them)."""
        each = []
        for b in range(a.shape[2]):
            J = self.step_jacobians(params, self.steps(params, a[:, :, b]))
            each.append({**J, **self.chained(J)})
        shared = {*self.roles, *(f"{o}_{i}" for o, i in self.parts if i in self.roles)}
        return {key: per_example([J[key] for J in each], key in shared) for key in each[0]}

    def backward(
        self, params: Params, a: FloatArray, out: FloatArray, g: FloatArray, need_input: bool = True
    ) -> tuple[FloatArray | None, dict[str, FloatArray]]:
        """The compact backward of each example; the weights' gradients summed."""
        grads = {role: np.zeros_like(params[role]) for role in self.roles}
        back = np.empty_like(a)
        for b in range(a.shape[2]):
            X = a[:, :, b]
            d = self.back(params, self.steps(params, X), g[:, :, b])
            grads["Wq"] += X.T @ d.dQ
            grads["Wk"] += X.T @ d.dK
            grads["Wv"] += X.T @ d.dV
            back[:, :, b] = d.dX
        return (back if need_input else None), grads

    # --- the intermediates, and the mistakes the exercise checker knows ----------------
    row_blocks: ClassVar[tuple[tuple[str, str], ...]] = (("A", "S"),)

    def intermediates(self, params: Params, a: FloatArray) -> dict[str, FloatArray]:
        """``Q``, ``K``, ``V``, ``S``, ``A`` of every example (batch last)."""
        each = [self.steps(params, a[:, :, b]) for b in range(a.shape[2])]
        return {n: np.stack([getattr(s, n) for s in each], axis=-1) for n in "QKVSA"}

    def intermediate_gradients(
        self, params: Params, a: FloatArray, g: FloatArray, mistake: str | None = None
    ) -> dict[str, FloatArray]:
        """``dQ``, ``dK``, ``dV``, ``dS``, ``dA`` of every example (batch last) from its
        ``dY`` (:meth:`back`; :meth:`mistaken_back` with ``mistake``)."""
        each = []
        for b in range(a.shape[2]):
            s = self.steps(params, a[:, :, b])
            gb = g[:, :, b]
            each.append(
                self.back(params, s, gb)
                if mistake is None
                else self.mistaken_back(mistake, params, s, gb)
            )
        return {n: np.stack([getattr(d, f"d{n}") for d in each], axis=-1) for n in "QKVSA"}

    mistakes: ClassVar[dict[str, str]] = {
        "scale_forgotten": "the 1/√d_k of the scores is forgotten in dQ and dK",
        "softmax_over_columns": "the softmax backward is applied per column of A: attention's "
        "softmax is over each row, dS = A ⊙ (dA − rowsum(dA ⊙ A))",
        "softmax_diagonal_only": "only the diag(a_t) term of the softmax Jacobian: dS = A ⊙ dA, "
        "without − a_t a_tᵀ (the − rowsum(dA ⊙ A) term)",
        "dk_not_transposed": "a missing transpose in dK: S = Q Kᵀ, so dK = dSᵀ Q/√d_k, "
        "not dS Q/√d_k",
        "one_path_into_dx": "only one of the three paths into dX: dX = dQ Wqᵀ + dK Wkᵀ + dV Wvᵀ, "
        "X reaches Y through Q, K and V",
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
        """:meth:`backward` by :meth:`mistaken_back`."""
        grads = {role: np.zeros_like(params[role]) for role in self.roles}
        back = np.empty_like(a)
        for b in range(a.shape[2]):
            X = a[:, :, b]
            d = self.mistaken_back(mistake, params, self.steps(params, X), g[:, :, b])
            grads["Wq"] += X.T @ d.dQ
            grads["Wk"] += X.T @ d.dK
            grads["Wv"] += X.T @ d.dV
            back[:, :, b] = d.dX
        return back, grads

    def mistaken_parts(self, mistake: str, params: Params, a: FloatArray) -> dict[str, FloatArray]:
        """The steps' Jacobians of one example (``a`` is ``T × d × 1``) that ``mistake``
        changes, as a student who makes it writes them: ``scale_forgotten``, ``∂S/∂Q = I ⊗ K``
        and ``∂S/∂K = (Q ⊗ I) C``; ``softmax_over_columns``, ``∂A/∂S`` with one block
        ``diag(a_j) − a_j a_jᵀ`` per *column* ``a_j`` of ``A`` (``C J C``, ``J`` the row
        softmax's of ``Aᵀ``); ``softmax_diagonal_only``, ``diag(vec(A))``;
        ``dk_not_transposed``, ``∂S/∂K = (I ⊗ Q)/√d_k`` (``S = Q K`` read for ``Q Kᵀ``)."""
        if mistake not in self.mistakes:
            raise KeyError(mistake)
        s = self.steps(params, a[:, :, 0])
        T, dk = s.X.shape[0], self.d_k
        wrong: dict[str, Structured] = {}
        if mistake == "scale_forgotten":
            wrong["S_Q"] = KronIdentity(T, s.K)
            wrong["S_K"] = Product((KronWeightBatch(s.Q, T), Commutation(T, dk)))
        elif mistake == "softmax_over_columns":
            C = Commutation(T, T)  # vec(Sᵀ) = C vec(S): the columns' blocks, in place
            wrong["A_S"] = Product((C, RowSoftmax(s.A.T), C))
        elif mistake == "softmax_diagonal_only":
            wrong["A_S"] = Diagonal(s.A.reshape(-1))
        elif mistake == "dk_not_transposed":
            wrong["S_K"] = KronIdentity(T, s.Q / sqrt(dk))
        return {key: to_dense(J) for key, J in wrong.items()}

    def structure(self, role: str, node: NodeNames) -> str:
        T, dk, dv = node.in_shape[0], self.d_k, self.width_v
        each = "" if node.batch == 1 else " per example"
        n = node.local
        X, Y = node.input, node.output
        A, S, Q, K, V = n("A"), n("S"), n("Q"), n("K"), n("V")
        texts = {
            "input": f"∂{Y}/∂{A}·∂{A}/∂{S}·(∂{S}/∂{Q}·∂{Q}/∂{X} + ∂{S}/∂{K}·∂{K}/∂{X}) "
            f"+ ∂{Y}/∂{V}·∂{V}/∂{X}: three paths",
            "Wq": f"∂{Y}/∂{A}·∂{A}/∂{S}·∂{S}/∂{Q}·∂{Q}/∂{n('Wq')}",
            "Wk": f"∂{Y}/∂{A}·∂{A}/∂{S}·∂{S}/∂{K}·∂{K}/∂{n('Wk')}",
            "Wv": f"∂{Y}/∂{V}·∂{V}/∂{n('Wv')}",
            "Y_A": f"I_{T} ⊗ {V}ᵀ",
            "Y_V": f"{A} ⊗ I_{dv}",
            "A_S": f"diag(a_t) − a_t a_tᵀ per row t of {A}"
            + (" (0 above the diagonal: causal)" if self.causal else ""),
            "S_Q": f"(I_{T} ⊗ {K})/√{dk}",
            "S_K": f"({Q} ⊗ I_{T}) C/√{dk}, C: vec({K}ᵀ) = C vec({K})",
            "Q_X": f"I_{T} ⊗ {n('Wq')}ᵀ",
            "K_X": f"I_{T} ⊗ {n('Wk')}ᵀ",
            "V_X": f"I_{T} ⊗ {n('Wv')}ᵀ",
            "Q_Wq": f"{X} ⊗ I_{dk}",
            "K_Wk": f"{X} ⊗ I_{dk}",
            "V_Wv": f"{X} ⊗ I_{dv}",
        }
        return texts[role] + each
