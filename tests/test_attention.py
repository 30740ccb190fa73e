"""Sequences (``T × d``, one token per row): attention, embedding, dense and layer norm per
token, and attention inside ``residual(…)``, the same operations over a table of settings
(``T`` 1–6, widths 1–4, causal or not, batches 1–3): forward against loops written from the
definitions (tests/references.py), every Jacobian a kind returns — its own and each step's —
in every representation against finite differences of that step written as a function of its
input, the batch's block-per-example layout, the compact backward against the transposed batch
Jacobian, sparsity where the definition has zeros, and ``v @ J`` without the matrix. Then
whole networks through the three routes, the CLI's refusals, and the JSON's replay."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pytest
import scipy.sparse as sps
from hypothesis import given, settings
from hypothesis import strategies as st

from jacobians.backprop import backward_steps
from jacobians.chains import node_jacobians
from jacobians.comparison import compare
from jacobians.layers.attention import Attention
from jacobians.layers.base import Kind
from jacobians.layers.registry import parse_entry
from jacobians.network import Network, forward
from jacobians.parameters import Parameters, init_parameters
from jacobians.paths import skip_name
from jacobians.structured import Commutation, Product, Structured, represent

from . import references as ref
from .commands import run
from .representations import three
from .tolerances import EXACT, FINITE_DIFFERENCE


@dataclass(frozen=True)
class Setting:
    """A layer (its spec entry), one example's input shape, and a batch size."""

    spec: str
    shape: tuple[int, ...]
    batch: int

    def __str__(self) -> str:
        return f"{self.spec} on {'x'.join(map(str, self.shape))} × {self.batch}"


# T 1–6; d, d_k, d_v 1–4; causal or not; batches 1–3
ATTENTION = [
    Setting("attention(1)", (1, 1), 1),
    Setting("attention(1, causal=true)", (1, 2), 2),
    Setting("attention(2)", (3, 2), 1),
    Setting("attention(2, causal=true)", (3, 2), 2),
    Setting("attention(1, d_v=3)", (2, 4), 3),
    Setting("attention(3, d_v=1, causal=true)", (4, 1), 2),
    Setting("attention(4, d_v=2)", (5, 3), 1),
    Setting("attention(2, d_v=4, causal=true)", (6, 2), 3),
    Setting("attention(3)", (6, 4), 2),
    Setting("attention(4, causal=true)", (5, 4), 1),
]
# V, d, T (T > V: repeated ids), batches
EMBEDDING = [
    Setting("embedding(1, 1)", (1,), 1),
    Setting("embedding(2, 3)", (5,), 2),
    Setting("embedding(5, 2)", (3,), 3),
    Setting("embedding(7, 4)", (6,), 1),
    Setting("embedding(3, 1)", (4,), 3),
]
DENSE = [
    Setting("dense(3)", (4, 2), 1),
    Setting("dense(1)", (2, 3), 3),
    Setting("dense(2)", (1, 4), 2),
    Setting("dense(4)", (3, 1), 2),
]
LAYERNORM = [
    Setting("layernorm", (3, 2), 1),
    Setting("layernorm(eps=0.5)", (4, 3), 2),
    Setting("layernorm(eps=1e-3)", (2, 4), 3),
    Setting("layernorm", (1, 5), 2),
]
RESIDUAL = [
    Setting("residual(attention(2))", (3, 2), 1),
    Setting("residual(attention(1, d_v=3, causal=true))", (4, 3), 2),
    Setting("residual(attention(3, d_v=2))", (2, 2), 3),
]
SETTINGS = ATTENTION + EMBEDDING + DENSE + LAYERNORM + RESIDUAL
BATCHES = [s for s in SETTINGS if s.batch > 1]
STEPS = ("Y_A", "Y_V", "A_S", "S_Q", "S_K", "Q_X", "K_X", "V_X", "Q_Wq", "K_Wk", "V_Wv")
"""The steps of attention, output first: ``Y_A`` is ``∂vec(Y)/∂vec(A)``."""


class Block:
    """A ``residual(attention(…))`` setting, run as the network runs it (the block has no
    forward of its own): ``Y = X + f(X)``; its Jacobians by the key of the inner attention —
    ``input`` the block's ``I + J_f``, a role ``∂Y/∂f · ∂f/∂θ``, a step the inner step's."""

    def __init__(self, setting: Setting) -> None:
        self.net = Network.from_layers(setting.spec, setting.shape, "mse")
        self.node = self.net.nodes[0]
        self.inner = self.node.inner[0]
        self.kind = self.inner.kind
        self.roles = self.kind.roles

    def parameters(self, params: dict[str, np.ndarray], a: np.ndarray, y: Any) -> Parameters:
        values = {self.inner.parameters[r]: params[r] for r in self.roles}
        return Parameters(values, None, a, y)

    def forward(self, params: dict[str, np.ndarray], a: np.ndarray) -> np.ndarray:
        P = self.parameters(params, a, np.zeros_like(a))
        return forward(self.net, P).values[self.node.output]

    def jacobians(
        self, params: dict[str, np.ndarray], a: np.ndarray, out: np.ndarray
    ) -> dict[str, Structured]:
        P = self.parameters(params, a, np.zeros_like(a))
        J = node_jacobians(
            self.net, P, forward(self.net, P), slice(None), "structured", first_input=True
        )
        skip = J[skip_name(self.node)]
        return {
            "input": J[self.node.jacobian_name("input")],
            **{r: Product((skip, J[self.inner.jacobian_name(r)])) for r in self.roles},
            **{step: J[self.inner.jacobian_name(step)] for step in STEPS},
        }

    def backward(
        self, params: dict[str, np.ndarray], a: np.ndarray, out: np.ndarray, g: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray | None, dict[str, np.ndarray]]:
        """The network's compact backward with ``y = ŷ − g`` (mse: ``∂L/∂ŷ = ŷ − y = g``):
        the gradient it starts from, the block's input gradient, the inner layer's."""
        P = self.parameters(params, a, out - g)
        steps = {s.node.output: s for s in backward_steps(self.net, P, forward(self.net, P))}
        block, inner = steps[self.node.output], steps[self.inner.output]
        return block.g, block.back, inner.grads


def _model(setting: Setting) -> Kind | Block:
    kind = parse_entry(setting.spec, 1)
    return Block(setting) if kind.block else kind


def _kind(model: Kind | Block) -> Kind:
    """The kind itself, or the attention inside a block."""
    return model.kind if isinstance(model, Block) else model


def _layer(
    setting: Setting, seed: int = 0
) -> tuple[Kind | Block, dict[str, np.ndarray], np.ndarray]:
    """The kind (or block), parameters drawn for it, and a batch input: continuous values, or
    token ids for an embedding."""
    model = _model(setting)
    rng = np.random.default_rng(seed)
    kind = _kind(model)
    params = {r: kind.init(r, setting.shape, rng) for r in kind.roles}
    if kind.name == "embedding":
        V = kind.arguments()["vocabulary"]
        a = rng.integers(0, V, size=(*setting.shape, setting.batch)).astype(np.float64)
    else:
        a = rng.standard_normal((*setting.shape, setting.batch))
    return model, params, a


def _backward(
    model: Kind | Block,
    params: dict[str, np.ndarray],
    a: np.ndarray,
    out: np.ndarray,
    g: np.ndarray,
) -> tuple[np.ndarray, np.ndarray | None, dict[str, np.ndarray]]:
    if isinstance(model, Block):
        return model.backward(params, a, out, g)
    back, grads = model.backward(params, a, out, g)
    return g, back, grads


def _reference_forward(setting: Setting, params: dict[str, np.ndarray], x: np.ndarray) -> Any:
    """One example through the loops of tests/references.py."""
    kind = _kind(_model(setting))
    args = kind.arguments()
    if kind.name == "embedding":
        return ref.lookup(x, params["E"])
    if kind.name == "dense":
        return ref.dense_tokens(x, params["W"], params["b"])
    if kind.name == "layernorm":
        return ref.layernorm_tokens(x, params["gamma"], params["beta"], args["eps"])
    Y = ref.attention(x, params["Wq"], params["Wk"], params["Wv"], args["causal"])["Y"]
    return Y + x if setting.spec.startswith("residual") else Y


class Ref(NamedTuple):
    """A Jacobian's reference: the point ``at`` (batch last; a parameter: shared by the
    examples) and the step as a function of its input, ``f(value, b)`` example ``b``'s output."""

    at: np.ndarray
    f: Callable[[np.ndarray, int], np.ndarray]
    shared: bool = False


def _references(setting: Setting, params: dict[str, np.ndarray], a: np.ndarray) -> dict[str, Ref]:
    """Every Jacobian the definition names, each as the function it differentiates."""
    kind = _kind(_model(setting))
    args = kind.arguments()
    B = a.shape[-1]
    if kind.name == "embedding":
        return {"E": Ref(params["E"], lambda E, b: ref.lookup(a[:, b], E), True)}
    if kind.name in ("dense", "layernorm"):
        first, second = kind.roles

        def layer(p: dict[str, np.ndarray], x: np.ndarray) -> Any:
            if kind.name == "dense":
                return ref.dense_tokens(x, p["W"], p["b"])
            return ref.layernorm_tokens(x, p["gamma"], p["beta"], args["eps"])

        return {
            "input": Ref(a, lambda x, b: layer(params, x)),
            first: Ref(params[first], lambda v, b: layer({**params, first: v}, a[..., b]), True),
            second: Ref(params[second], lambda v, b: layer({**params, second: v}, a[..., b]), True),
        }
    causal, skip = args["causal"], setting.spec.startswith("residual")
    Wq, Wk, Wv = params["Wq"], params["Wk"], params["Wv"]
    R = [ref.attention(a[..., b], Wq, Wk, Wv, causal) for b in range(B)]

    def each(name: str) -> np.ndarray:
        return np.stack([r[name] for r in R], axis=-1)

    def whole(x: np.ndarray, **moved: np.ndarray) -> Any:
        p = {**params, **moved}
        Y = ref.attention(x, p["Wq"], p["Wk"], p["Wv"], causal)["Y"]
        return Y + x if skip else Y

    return {
        "input": Ref(a, lambda x, b: whole(x)),
        "Wq": Ref(Wq, lambda W, b: whole(a[..., b], Wq=W), True),
        "Wk": Ref(Wk, lambda W, b: whole(a[..., b], Wk=W), True),
        "Wv": Ref(Wv, lambda W, b: whole(a[..., b], Wv=W), True),
        "Y_A": Ref(each("A"), lambda A, b: ref.matmul(A, R[b]["V"])),
        "Y_V": Ref(each("V"), lambda V, b: ref.matmul(R[b]["A"], V)),
        "A_S": Ref(each("S"), lambda S, b: ref.softmax_rows(S, causal)),
        "S_Q": Ref(each("Q"), lambda Q, b: ref.scores(Q, R[b]["K"])),
        "S_K": Ref(each("K"), lambda K, b: ref.scores(R[b]["Q"], K)),
        "Q_X": Ref(a, lambda x, b: ref.matmul(x, Wq)),
        "K_X": Ref(a, lambda x, b: ref.matmul(x, Wk)),
        "V_X": Ref(a, lambda x, b: ref.matmul(x, Wv)),
        "Q_Wq": Ref(Wq, lambda W, b: ref.matmul(a[..., b], W), True),
        "K_Wk": Ref(Wk, lambda W, b: ref.matmul(a[..., b], W), True),
        "V_Wv": Ref(Wv, lambda W, b: ref.matmul(a[..., b], W), True),
    }


def _finite_differences(r: Ref, B: int) -> np.ndarray:
    """``∂vec(out)/∂vec(in)`` over the whole batch (batch-last, row-major ``vec``)."""
    if r.shared:
        return ref.numerical_jacobian(lambda v: np.stack([r.f(v, b) for b in range(B)], -1), r.at)
    return ref.numerical_jacobian(
        lambda v: np.stack([r.f(v[..., b], b) for b in range(B)], -1), r.at
    )


@pytest.mark.parametrize("setting", SETTINGS, ids=str)
def test_forward_equals_the_loops(setting: Setting) -> None:
    model, params, a = _layer(setting)
    out = model.forward(params, a)
    expected = np.stack(
        [_reference_forward(setting, params, a[..., b]) for b in range(setting.batch)], -1
    )
    assert out.shape == expected.shape
    np.testing.assert_allclose(out, expected, *EXACT)


@pytest.mark.parametrize("setting", SETTINGS, ids=str)
def test_every_jacobian_is_the_finite_differences_of_its_step(setting: Setting) -> None:
    # the layer's own (∂Y/∂X along three paths, ∂Y/∂Wq, …) and each step's (S as a function
    # of K with Q fixed, …), over the whole batch: the block-per-example layout included
    model, params, a = _layer(setting)
    jac = model.jacobians(params, a, model.forward(params, a))
    refs = _references(setting, params, a)
    assert set(jac) == set(refs)
    for key, r in refs.items():
        numeric = _finite_differences(r, setting.batch)
        for matrix in three(jac[key]):
            assert matrix.shape == numeric.shape, key
            np.testing.assert_allclose(matrix, numeric, *FINITE_DIFFERENCE, err_msg=key)


@pytest.mark.parametrize("setting", BATCHES, ids=str)
def test_batch_jacobians_are_the_examples_blocks(setting: Setting) -> None:
    # entry (i·B + b, j·B + b) of a batch Jacobian is example b's (i, j); a parameter's
    # columns are not batched: row i·B + b is row i of example b's
    model, params, a = _layer(setting)
    whole = model.jacobians(params, a, model.forward(params, a))
    single = []
    for b in range(setting.batch):
        x = a[..., b : b + 1]
        single.append(model.jacobians(params, x, model.forward(params, x)))
    for key, r in _references(setting, params, a).items():
        blocks = [s[key].dense() for s in single]
        expected = ref.stack(blocks) if r.shared else ref.interleave(blocks)
        for matrix in three(whole[key]):
            np.testing.assert_allclose(matrix, expected, *EXACT, err_msg=key)


@pytest.mark.parametrize("setting", SETTINGS, ids=str)
def test_compact_backward_is_the_transposed_batch_jacobian(setting: Setting) -> None:
    # ⟨g, J v⟩ = ⟨Jᵀ g, v⟩: the compact formulas (dV = Aᵀ dY, dS = A ⊙ (dA − rowsum), the
    # three paths into dX, dE = Sᵀ dY scattered) equal vec(g)ᵀ times the batch Jacobians;
    # a parameter's gradient is summed over the batch
    model, params, a = _layer(setting)
    out = model.forward(params, a)
    g = np.random.default_rng(2).standard_normal(out.shape)
    g, back, grads = _backward(model, params, a, out, g)
    jac = model.jacobians(params, a, out)
    row = g.reshape(1, -1)
    if "input" in jac:
        assert back is not None and back.shape == a.shape
        np.testing.assert_allclose(back.reshape(1, -1), row @ jac["input"].dense(), *EXACT)
    else:  # token ids: no gradient
        assert back is None
    kind = _kind(model)
    assert set(grads) == set(kind.roles)
    for role in kind.roles:
        assert grads[role].shape == params[role].shape
        expected = (row @ jac[role].dense()).reshape(params[role].shape)
        np.testing.assert_allclose(grads[role], expected, *EXACT)


@pytest.mark.parametrize("setting", [s for s in ATTENTION if s.batch == 1], ids=str)
def test_attention_back_is_each_steps_transposed_jacobian(setting: Setting) -> None:
    # one example's compact backward at every intermediate: dV = vec(dY)ᵀ J_Y_V, dA through
    # J_Y_A, dS through J_A_S, dQ and dK through J_S_Q and J_S_K, dX the sum of three paths
    model, params, a = _layer(setting)
    assert isinstance(model, Attention)
    X = a[..., 0]
    g = np.random.default_rng(3).standard_normal((X.shape[0], model.width_v))
    d = model.back(params, model.steps(params, X), g)
    J = {k: v.dense() for k, v in model.jacobians(params, a, model.forward(params, a)).items()}

    def row(M: np.ndarray) -> np.ndarray:
        return M.reshape(1, -1)

    np.testing.assert_allclose(row(d.dY), row(g), *EXACT)
    np.testing.assert_allclose(row(d.dV), row(g) @ J["Y_V"], *EXACT)
    np.testing.assert_allclose(row(d.dA), row(g) @ J["Y_A"], *EXACT)
    np.testing.assert_allclose(row(d.dS), row(d.dA) @ J["A_S"], *EXACT)
    np.testing.assert_allclose(row(d.dQ), row(d.dS) @ J["S_Q"], *EXACT)
    np.testing.assert_allclose(row(d.dK), row(d.dS) @ J["S_K"], *EXACT)
    paths = row(d.dQ) @ J["Q_X"] + row(d.dK) @ J["K_X"] + row(d.dV) @ J["V_X"]
    np.testing.assert_allclose(row(d.dX), paths, *EXACT)


def _stored_at_most(setting: Setting) -> dict[str, int]:
    """How many nonzeros one example's Jacobians can have, from the definitions: ``I_T ⊗ M``
    is ``T`` copies of ``M``, ``M ⊗ I_n`` has ``n`` per nonzero of ``M``, a commutation matrix
    moves entries, a causal row ``t`` sees ``t + 1`` keys."""
    kind = _kind(_model(setting))
    args = kind.arguments()
    T = setting.shape[0]
    if kind.name == "embedding":
        return {"E": T * args["dim"]}
    d = setting.shape[1]
    if kind.name == "dense":
        n = args["units"]
        return {"input": T * n * d, "W": T * n * d, "b": T * n}
    if kind.name == "layernorm":
        return {"input": T * d * d, "gamma": T * d, "beta": T * d}
    dk, dv, causal = args["d_k"], args["d_v"], args["causal"]
    seen = [t + 1 if causal else T for t in range(T)]  # the keys row t attends to
    own = sum(seen) * d * dv + (T * d if setting.spec.startswith("residual") else 0)  # I + J_f
    return {
        "input": min(own, T * dv * T * d),  # causal: Y[t] depends on X[u ≤ t] only
        "Wq": T * dv * d * dk,
        "Wk": T * dv * d * dk,
        "Wv": T * dv * d * dv,  # (A X) ⊗ I_dv
        "Y_A": T * dv * T,
        "Y_V": sum(seen) * dv,
        "A_S": sum(s * s for s in seen),
        "S_Q": T * T * dk,
        "S_K": T * T * dk,
        "Q_X": T * dk * d,
        "K_X": T * dk * d,
        "V_X": T * dv * d,
        "Q_Wq": T * d * dk,
        "K_Wk": T * d * dk,
        "V_Wv": T * d * dv,
    }


ONE_PER_ROW = {"embedding": ("E",), "dense": ("b",), "layernorm": ("gamma", "beta")}
"""Jacobians with exactly one nonzero per row: ``S ⊗ I_d`` (a one-hot row each), ``1_T ⊗ I_n``,
``x̂`` in the column of its feature, ``1_T ⊗ I_d``."""


@pytest.mark.parametrize("setting", SETTINGS, ids=str)
def test_the_sparse_representation_stores_only_the_structure(setting: Setting) -> None:
    model, params, a = _layer(setting)
    jac = model.jacobians(params, a, model.forward(params, a))
    B = setting.batch
    bounds = _stored_at_most(setting)
    refs = _references(setting, params, a)
    causal = _kind(model).arguments().get("causal", False)
    for key, J in jac.items():
        S = represent(J, "sparse")
        assert sps.issparse(S), key
        coo = sps.coo_array(S)
        stored = np.count_nonzero(coo.data) if causal and key == "A_S" else coo.nnz  # see below
        assert stored <= B * bounds[key], (key, stored, B * bounds[key])
        if not refs[key].shared:  # examples do not interact: nothing across the blocks
            assert np.all(coo.row % B == coo.col % B), key
    for key in ONE_PER_ROW.get(_kind(model).name, ()):
        S = sps.csr_array(represent(jac[key], "sparse"))
        np.testing.assert_array_equal(np.diff(S.indptr), 1, err_msg=key)


def test_the_causal_softmax_stores_no_masked_entries() -> None:
    # row t of a causal A sees keys u ≤ t: its block diag(a_t) − a_t a_tᵀ is zero outside the
    # leading (t + 1) × (t + 1), so ∂vec(A)/∂vec(S) has at most Σ_t (t + 1)² nonzeros
    setting = Setting("attention(2, causal=true)", (6, 2), 1)
    model, params, a = _layer(setting)
    J = model.jacobians(params, a, model.forward(params, a))["A_S"]
    assert sps.coo_array(represent(J, "sparse")).nnz <= sum((t + 1) ** 2 for t in range(6))


@pytest.mark.parametrize(("m", "n"), [(1, 1), (1, 3), (3, 1), (2, 3), (4, 2), (6, 4)])
def test_the_commutation_matrix_moves_each_entry_once(m: int, n: int) -> None:
    # vec(Mᵀ) = C vec(M): a permutation, one 1 in every row and every column
    C = Commutation(m, n)
    M = np.random.default_rng(m * n).standard_normal((m, n))
    expected = ref.commutation(m, n)
    for matrix in three(C):
        np.testing.assert_array_equal(matrix, expected)
    np.testing.assert_array_equal(C.dense() @ M.reshape(-1), M.T.reshape(-1))
    S = sps.csr_array(represent(C, "sparse"))
    assert S.nnz == m * n and np.all(S.data == 1.0)
    np.testing.assert_array_equal(np.diff(S.indptr), 1)
    np.testing.assert_array_equal(np.sort(S.indices), np.arange(m * n))
    v = np.random.default_rng(1).standard_normal((3, m * n))
    np.testing.assert_array_equal(v @ C, v @ expected)


@pytest.mark.parametrize("rows", [1, 3])
@pytest.mark.parametrize("setting", SETTINGS, ids=str)
def test_structured_rows_multiply_like_the_matrix(setting: Setting, rows: int) -> None:
    # v @ J through the factors (a product, a sum of paths, a softmax per row, the blocks of
    # a batch) without the matrix = v @ J.dense()
    model, params, a = _layer(setting)
    rng = np.random.default_rng(1)
    for key, J in model.jacobians(params, a, model.forward(params, a)).items():
        assert isinstance(J, Structured), key
        v = rng.standard_normal((rows, J.shape[0]))
        np.testing.assert_allclose(v @ J, v @ J.dense(), *EXACT, err_msg=key)


# --- whole networks ------------------------------------------------------------------------


@st.composite
def sequence_networks(draw: st.DrawFn) -> Network:
    """A random network on a sequence (``T ≤ 4``, ``d ≤ 3``): an embedding first or a ``T × d``
    input; then attention (causal or not), residual attention, layer norm, a residual
    position-wise block, dense per token; and flatten, dense(k), softmax with ce, or mse or
    sum on the sequence itself."""
    T, d = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    if draw(st.booleans()):  # T token ids into an embedding
        layers, shape = [f"embedding({draw(st.integers(1, 5))}, {d})"], f"{T}"
    else:
        layers, shape = [], f"{T}x{d}"
    for _ in range(draw(st.integers(0 if layers else 1, 3))):
        kinds = ["attention", "residual", "block", "dense", *(["layernorm"] if d >= 2 else [])]
        choice = draw(st.sampled_from(kinds))
        causal = ", causal=true" if draw(st.booleans()) else ""
        if choice == "attention":
            dk, d = draw(st.integers(1, 3)), draw(st.integers(1, 3))
            layers.append(f"attention({dk}, d_v={d}{causal})")
        elif choice == "residual":
            layers.append(f"residual(attention({draw(st.integers(1, 3))}, d_v={d}{causal}))")
        elif choice == "block":
            layers.append(f"residual(dense({d}), relu, dense({d}))")
        elif choice == "dense":
            d = draw(st.integers(1, 3))
            layers.append(f"dense({d})")
        else:
            layers.append("layernorm")
    loss = draw(st.sampled_from(["ce", "mse", "sum"]))
    if loss == "ce":
        layers += ["flatten", f"dense({draw(st.integers(2, 3))})", "softmax"]
    return Network.from_layers(", ".join(layers), shape, loss)


@settings(max_examples=25)
@given(
    net=sequence_networks(),
    seed=st.integers(0, 2**32 - 1),
    batch=st.integers(1, 3),
    representation=st.sampled_from(["dense", "sparse", "structured"]),
    order=st.sampled_from(["reverse", "forward", "optimal"]),
)
def test_the_three_routes_agree_on_sequences(
    net: Network, seed: int, batch: int, representation: str, order: str
) -> None:
    result = compare(net, init_parameters(net, seed, batch), order, jacobians=representation)
    assert all(d.agree for d in result.jacobian_vs_vectorized.values()), net.spec
    assert all(d.agree or d.inconclusive for d in result.numerical_vs_vectorized.values()), net.spec


# --- the CLI ------------------------------------------------------------------------------


REFUSALS = [
    (
        ("--input", "3x2", "--layers", "attention(0), flatten, dense(1)"),
        "layers[1] 'attention(0)': d_k: expected a whole number ≥ 1, got 0",
    ),
    (
        ("--input", "3", "--layers", "attention(2), flatten, dense(1)"),
        "layers[1] 'attention(2)': input: expected a sequence T×d (--input Txd), got a vector of 3",
    ),
    (
        ("--input", "3x2", "--layers", "residual(attention(2, d_v=3)), flatten, dense(1)"),
        "layers[1] 'residual(attention(2, d_v=3))': output: expected the input's shape, a "
        "sequence 3×2, to add them, got a sequence 3×3 from attention(2, d_v=3); the inner "
        "layers must keep the shape",
    ),
    (
        ("--input", "3x2", "--layers", "dense(2), embedding(4, 2), flatten, dense(1)"),
        "layers[2] 'embedding(4, 2)': position: expected the first layer (embedding takes the "
        "network's input, token ids), got after 'dense(2)'; start the layers with embedding(…)",
    ),
    (
        ("--input", "3", "--layers", "residual(embedding(4, 2)), flatten, dense(1)"),
        "layers[1] 'residual(embedding(4, 2))': layers[1] 'embedding(4, 2)': position: "
        "expected the first layer (embedding takes the network's input, token ids), got inside "
        "a block; start the layers with embedding(…)",
    ),
    (
        ("--input", "3x2", "--layers", "embedding(4, 2), flatten, dense(1)"),
        "layers[1] 'embedding(4, 2)': input: expected T token ids (--input T), got a sequence 3×2",
    ),
    (
        ("--input", "3x1", "--layers", "layernorm, flatten, dense(1)"),
        "layers[1] 'layernorm': input: expected at least 2 features per token (over one, "
        "x − μ = 0 and the output is β whatever the input), got 1",
    ),
    (
        ("--input", "3", "--layers", "embedding(4, 1), layernorm, flatten, dense(1)"),
        "layers[2] 'layernorm': input: expected at least 2 features per token (over one, "
        "x − μ = 0 and the output is β whatever the input), got 1",
    ),
    (
        ("--input", "3x2", "--layers", "attention(2, causal=maybe), flatten, dense(1)"),
        "layers[1] 'attention(2, causal=maybe)': causal: expected true or false, got 'maybe'",
    ),
]


@pytest.mark.parametrize(("argv", "expected"), REFUSALS, ids=[r[1][:40] for r in REFUSALS])
def test_bad_sequence_networks_are_refused_in_one_line(
    capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], expected: str
) -> None:
    code, out, err = run(capsys, "compare", *argv)
    assert code == 2 and out == ""
    assert err == f"jacobians compare: error: {expected}\n"


EMBEDDING_NET = ("--input", "3", "--layers", "embedding(4, 2), attention(2), flatten, dense(1)")


@pytest.mark.parametrize(
    ("bad", "shown"),
    [(4, "4.0"), (-1, "-1.0"), (1.5, "1.5"), (2.000001, "2.000001"), (7, "7.0")],
)
def test_token_ids_from_a_file_are_whole_and_below_the_vocabulary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], bad: float, shown: str
) -> None:
    code, out, err = run(capsys, "compare", *EMBEDDING_NET, "--batch", "2", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert all(isinstance(i, int) and 0 <= i < 4 for row in data["x"] for i in row)  # ids
    data["x"][2][1] = bad  # token 2 of example 1
    path = tmp_path / "run.json"
    path.write_text(json.dumps(data))
    code, out, err = run(capsys, "compare", "--params", str(path))
    assert code == 2 and out == "" and "Traceback" not in err
    assert err == (
        "jacobians compare: error: x[2, 1]: expected a token id: a whole number in 0 … 3 "
        f"(the vocabulary has V = 4), got {shown}\n"
    )


def test_a_bad_id_of_one_example_is_named_by_the_files_index(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "compare", *EMBEDDING_NET, "--json")
    assert code == 0, err
    data = json.loads(out)
    data["x"], data["y"] = [1, 2, 4], [0.5]  # one example: T ids, no batch axis
    path = tmp_path / "run.json"
    path.write_text(json.dumps(data))
    code, out, err = run(capsys, "compare", "--params", str(path))
    assert code == 2 and out == ""
    assert err == (
        "jacobians compare: error: x[2]: expected a token id: a whole number in 0 … 3 "
        "(the vocabulary has V = 4), got 4.0\n"
    )


def test_an_embedding_run_replays_from_its_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = (
        "embedding(5, 3), attention(2, d_v=3, causal=true), residual(attention(2, d_v=3)), "
        "layernorm, flatten, dense(2), softmax"
    )
    code, out, err = run(
        capsys, "compare", "--input", "4", "--layers", spec, "--batch", "3", "--seed", "3", "--json"
    )
    assert code == 0, err
    first = json.loads(out)
    assert first["agree"] is True and np.shape(first["x"]) == (4, 3)
    path = tmp_path / "run.json"
    path.write_text(out)
    code, again, err = run(capsys, "compare", "--params", str(path), "--json")
    assert code == 0, err
    second = json.loads(again)
    for key in ("network", "parameters", "x", "y", "cost", "vectorized", "jacobian", "numerical"):
        assert second[key] == first[key], key


def test_the_json_names_the_attention_steps_with_their_shapes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # T = 4 tokens, V = 5, d = 3, d_k = 2, d_v = 5 (all sizes distinct): Q, K are T × d_k,
    # V and Y are T × d_v, S and A are T × T; a parameter's columns are its entries
    T, V, d, dk, dv = 4, 5, 3, 2, 5
    layers = f"embedding({V}, {d}), attention({dk}, d_v={dv})"
    code, out, err = run(capsys, "compare", "--input", str(T), "--layers", layers, "--json")
    assert code == 0, err
    shapes = {k: tuple(v) for k, v in json.loads(out)["jacobian_shapes"].items()}
    assert shapes == {
        "J_L_a2": (1, T * dv),
        "J_a2_a1": (T * dv, T * d),
        "J_a2_Wq2": (T * dv, d * dk),
        "J_a2_Wk2": (T * dv, d * dk),
        "J_a2_Wv2": (T * dv, d * dv),
        "J_a2_A2": (T * dv, T * T),
        "J_a2_V2": (T * dv, T * dv),
        "J_A2_S2": (T * T, T * T),
        "J_S2_Q2": (T * T, T * dk),
        "J_S2_K2": (T * T, T * dk),
        "J_Q2_a1": (T * dk, T * d),
        "J_K2_a1": (T * dk, T * d),
        "J_V2_a1": (T * dv, T * d),
        "J_Q2_Wq2": (T * dk, d * dk),
        "J_K2_Wk2": (T * dk, d * dk),
        "J_V2_Wv2": (T * dv, d * dv),
        "J_a1_E1": (T * d, V * d),  # and no J_a1_a0: token ids have no Jacobian
    }


def test_the_sizes_of_the_table_cover_the_brief() -> None:
    # the table spans what it claims: T 1–6, d, d_k, d_v 1–4, causal both ways, batches 1–3
    kinds = [(s, parse_entry(s.spec, 1)) for s in ATTENTION]
    args = [k.arguments() for _, k in kinds]
    assert {s.shape[0] for s, _ in kinds} == set(range(1, 7))
    assert {s.shape[1] for s, _ in kinds} == set(range(1, 5))
    assert {a["d_k"] for a in args} == set(range(1, 5))
    assert {a["d_v"] for a in args} == set(range(1, 5))
    assert {a["causal"] for a in args} == {True, False}
    assert {s.batch for s in SETTINGS} == {1, 2, 3}


def test_building_dense_attention_jacobians_counts_in_the_work_limit(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # dense, ∂Y/∂X is J_Y_A J_A_S (…) + …: J_Y_A (512 × 4096) times J_A_S (4096 × 4096) alone
    # is 512·4096·4096 ≈ 8.6e9 multiply–adds, and there are five such chains to build
    args = ["--layers", "attention(8), flatten, dense(1), sigmoid", "--input", "64x8"]
    code, out, err = run(capsys, "compare", *args, "--jacobians", "dense")
    assert code == 2 and out == ""
    assert "sizes and batch: expected a comparison of at most 2e+10 multiply–adds" in err
    assert "use a smaller network or batch, structured Jacobians" in err
