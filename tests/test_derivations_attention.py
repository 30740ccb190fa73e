"""The symbolic derivations of attention and embeddings (derivations.layers): the proofs hold over
a table of settings; every symbolic Jacobian, at the numbers of a seeded example, is the numeric
package's; the five wrong compact formulas of the attention exercises are refuted; the printout
shows every step's factor, the commutation matrix among them.

The references are independent of the code under test: the numeric package
(``example_jacobians``, its compact route), the steps ``Q``, ``K``, ``V``, ``S``, ``A``
computed here with numpy from their definitions, and the commutation matrix checked against the
transpose it stands for.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import derivations.layers.attention as attention
from derivations.functions import NUMPY
from derivations.layers import (
    SymbolicModel,
    compact_route,
    derive_network,
    jacobians,
    prove_network,
    structure_checks,
)
from derivations.layers.attention import Attention
from derivations.layers.base import commutation, matrix
from derivations.layers.embedding import Embedding
from derivations.layers.norm import Norm
from jacobians.backprop import vectorized_route
from jacobians.chains import example_jacobians
from jacobians.cli import main
from jacobians.errors import InvalidValueError
from jacobians.layers.norm import Norm as NumericNorm
from jacobians.network import Network, forward
from jacobians.parameters import Parameters, init_parameters

from .tolerances import EXACT

Setting = tuple[str, str, str | None]
"""(layers, input, loss)."""

# attention with d_k = d_v, with d_v ≠ d_k, causal, on three tokens, after a dense layer per
# token, before layer norm, inside a residual block; an embedding before attention and alone
SETTINGS: list[Setting] = [
    ("attention(2), flatten, dense(1), sigmoid", "2x2", None),
    ("attention(1, 2), flatten, dense(2), softmax", "2x2", None),
    ("attention(2, causal=true), flatten, dense(1)", "2x2", "mse"),
    ("attention(1), flatten, dense(1)", "3x1", "mse"),
    ("dense(2), attention(2), flatten, dense(1), sigmoid", "2x2", None),
    ("attention(2), layernorm, flatten, dense(1), sigmoid", "2x2", None),
    ("residual(attention(2)), flatten, dense(1), sigmoid", "2x2", None),
    ("embedding(3, 2), attention(2), flatten, dense(1), sigmoid", "2", None),
    ("embedding(3, 2), flatten, dense(1), sigmoid", "2", None),
]
IDS = [f"{spec} on {shape}" for spec, shape, _ in SETTINGS]
SEED = 3


def _net(setting: Setting) -> Network:
    spec, shape, loss = setting
    return Network.from_layers(spec, shape, loss)


# --- the proofs ----------------------------------------------------------------------------------


@pytest.mark.parametrize("setting", SETTINGS, ids=IDS)
def test_every_proof_holds(setting: Setting) -> None:
    model = SymbolicModel(_net(setting))
    jac = jacobians(model)
    claims = prove_network(model, jac)
    expected = {
        (n.label, p)
        for n in model.nodes
        if n.kind.roles and not n.inner
        for p in (*n.kind.roles, "delta", *(("input",) if n.kind.differentiable_input else ()))
    }
    assert expected <= {(c.label, c.param) for c in claims}
    assert all(c.holds for c in claims), [c.statement for c in claims if not c.holds]
    checks = structure_checks(model, jac)
    assert all(c.holds for c in checks.values()), [c.name for c in checks.values() if not c.holds]


# --- the numbers of a seeded example -------------------------------------------------------------


def _softmax_rows(S: np.ndarray, causal: bool) -> np.ndarray:
    """Each row's softmax over the tokens it attends to (``u ≤ t`` when causal), by a loop."""
    A = np.zeros_like(S)
    for t in range(S.shape[0]):
        kept = range(t + 1) if causal else range(S.shape[1])
        e = np.array([np.exp(S[t, u]) for u in kept])
        for u, value in zip(kept, e / e.sum(), strict=True):
            A[t, u] = value
    return A


def _values(model: SymbolicModel, params: Parameters) -> dict[sp.Symbol, float]:
    """Every symbol of the model at the seeded example: tensors and parameters from the numeric
    forward pass, attention's steps from their definitions here."""
    net = model.net
    cache = forward(net, params)
    values: dict[sp.Symbol, float] = {}

    def put(tensor: np.ndarray, numbers: np.ndarray) -> None:
        values.update(zip(tensor.reshape(-1), numbers.reshape(-1), strict=True))

    for name, tensor in model.tensors.items():
        put(tensor, cache.values[name][..., 0])
    for name, tensor in model.params.items():
        put(tensor, params[name])
    put(model.y, params.target(net)[..., 0])
    for j, layer in enumerate(model.layers):
        node = model.nodes[j]
        if isinstance(layer, Norm):  # layer norm on a sequence: each token's row
            assert isinstance(node.kind, NumericNorm)
            X = cache.values[node.input][..., 0]
            sigma = np.sqrt(X.var(axis=1) + node.kind.eps)  # the biased variance
            put(layer.sigma, sigma)
            put(layer.xhat, (X - X.mean(axis=1, keepdims=True)) / sigma[:, None])
            values[layer.eps] = node.kind.eps
        if not isinstance(layer, Attention):
            continue
        X = cache.values[node.input][..., 0]
        Wq, Wk, Wv = (params[node.parameters[r]] for r in ("Wq", "Wk", "Wv"))
        Q, K, V = X @ Wq, X @ Wk, X @ Wv
        S = Q @ K.T / np.sqrt(Wq.shape[1])
        steps = {"Q": Q, "K": K, "V": V, "S": S, "A": _softmax_rows(S, layer.kind.causal)}
        for local, numbers in steps.items():
            put(layer.tensors[local], numbers)
    return values


def _evaluate(expr: sp.Matrix, values: dict[sp.Symbol, float]) -> np.ndarray:
    symbols = sorted(expr.free_symbols, key=str)
    f = sp.lambdify(symbols, expr, modules=[NUMPY, "numpy"])
    return np.asarray(f(*(values[s] for s in symbols)), dtype=float).reshape(expr.shape)


@pytest.mark.parametrize("setting", SETTINGS, ids=IDS)
def test_symbolic_jacobians_equal_numeric(setting: Setting) -> None:
    net = _net(setting)
    params = init_parameters(net, SEED, 1)
    model = SymbolicModel(net, {"seed": SEED})  # an embedding takes this run's ids
    symbolic = jacobians(model)
    numeric = example_jacobians(net, params, forward(net, params), 0, "dense", first_input=True)
    assert set(symbolic) == set(numeric)
    values = _values(model, params)
    for name, J in symbolic.items():
        np.testing.assert_allclose(_evaluate(J, values), numeric[name], *EXACT, err_msg=name)
    gradients = vectorized_route(net, params).gradients
    for name, tensor in compact_route(model).params.items():
        got = _evaluate(sp.Matrix(list(tensor.reshape(-1))), values).reshape(tensor.shape)
        np.testing.assert_allclose(got, gradients[f"d{name}"], *EXACT, err_msg=name)


def test_the_ids_of_an_embedding_are_the_seeded_examples() -> None:
    net = _net(SETTINGS[-1])
    params = init_parameters(net, SEED, 1)
    model = SymbolicModel(net, {"seed": SEED})
    layer = model.layers[0]
    assert isinstance(layer, Embedding)
    ids = tuple(int(i) for i in params.x[:, 0])
    assert layer.ids == ids
    assert layer.one_hot() == sp.Matrix(len(ids), 3, lambda t, v: int(ids[t] == v))


# --- the commutation matrix ----------------------------------------------------------------------


@settings(max_examples=20, deadline=None)
@given(rows=st.integers(1, 4), cols=st.integers(1, 4))
def test_the_commutation_matrix_transposes_vec(rows: int, cols: int) -> None:
    M = sp.Matrix(rows, cols, lambda i, j: sp.Symbol(f"m_{i}_{j}"))
    C = commutation(rows, cols)
    assert C * sp.Matrix(list(M)) == sp.Matrix(list(M.T))  # row-major vec of Mᵀ
    assert C.T * C == sp.eye(rows * cols)  # a permutation


def test_the_key_factor_is_written_with_the_commutation_matrix() -> None:
    model = SymbolicModel(_net(SETTINGS[0]))
    jac = jacobians(model)
    layer = model.layers[0]
    assert isinstance(layer, Attention)
    Q = matrix(layer.tensors["Q"])
    C = commutation(2, 2)
    written = sp.Matrix(sp.kronecker_product(Q, sp.eye(2))) * C / sp.sqrt(2)
    assert (jac["J_S1_K1"] - written).expand() == sp.zeros(4, 4)
    # and the factor is the derivative of S = Q Kᵀ/√2 by vec(K), taken here
    K = matrix(layer.tensors["K"])
    S = Q * K.T / sp.sqrt(2)
    assert (jac["J_S1_K1"] - vec_jacobian(S, K)).expand() == sp.zeros(4, 4)


def vec_jacobian(F: sp.Matrix, X: sp.Matrix) -> sp.Matrix:
    """``∂vec(F)/∂vec(X)``, row-major ``vec``, by ``sympy.diff`` entry by entry."""
    return sp.Matrix(len(F), len(X), lambda i, j: sp.diff(list(F)[i], list(X)[j]))


# --- wrong compact formulas are refuted ----------------------------------------------------------

NET: Setting = ("attention(2), flatten, dense(1), sigmoid", "2x2", None)
EMBEDDED: Setting = ("embedding(3, 2), attention(2), flatten, dense(1), sigmoid", "2", None)


def _scale_forgotten(ds: sp.Matrix, K: sp.Matrix, root: sp.Expr) -> sp.Matrix:
    return ds * K  # dQ without 1/√d_k


def _columns(A: sp.Matrix, G: sp.Matrix) -> sp.Matrix:
    return _row_softmax(A.T, G.T).T  # the softmax taken over each column


def _row_softmax(A: sp.Matrix, G: sp.Matrix) -> sp.Matrix:
    """``a_t ⊙ (g_t − (a_tᵀ g_t) 1)`` row by row, written here from the definition."""
    return sp.Matrix(
        A.rows,
        A.cols,
        lambda t, u: A[t, u] * (G[t, u] - sum(G[t, v] * A[t, v] for v in range(A.cols))),
    )


def _diagonal_only(A: sp.Matrix, G: sp.Matrix) -> sp.Matrix:
    return A.multiply_elementwise(G)  # diag(a_t) without − a_t a_tᵀ


def _not_transposed(ds: sp.Matrix, Q: sp.Matrix, root: sp.Expr) -> sp.Matrix:
    return ds * Q / root  # dK = dS Q/√d_k


def _one_path(
    dq: sp.Matrix, dk: sp.Matrix, dv: sp.Matrix, Wq: sp.Matrix, Wk: sp.Matrix, Wv: sp.Matrix
) -> sp.Matrix:
    return dv * Wv.T  # the value path alone


WRONG: list[tuple[str, Callable[..., sp.Matrix], set[str]]] = [
    ("query_gradient", _scale_forgotten, {"Wq", "input"}),
    ("row_softmax_backward", _columns, {"Wq", "Wk", "input"}),
    ("row_softmax_backward", _diagonal_only, {"Wq", "Wk", "input"}),
    ("key_gradient", _not_transposed, {"Wk", "input"}),
    ("input_gradient", _one_path, {"input"}),
]


def _refuted(setting: Setting) -> set[tuple[str, str]]:
    return {(c.label, c.param) for c in prove_network(SymbolicModel(_net(setting))) if not c.holds}


@pytest.mark.parametrize(
    ("function", "wrong", "roles"), WRONG, ids=[w.__name__.strip("_") for _, w, _ in WRONG]
)
def test_wrong_compact_formulas_are_refuted(
    monkeypatch: pytest.MonkeyPatch,
    function: str,
    wrong: Callable[..., sp.Matrix],
    roles: set[str],
) -> None:
    monkeypatch.setattr(attention, function, wrong)
    assert _refuted(NET) == {("1", r) for r in roles}
    # below attention, the embedding's δ (its output's gradient) and table take a wrong dX along
    below = {("1", "delta"), ("1", "E")} if "input" in roles else set()
    assert _refuted(EMBEDDED) == {("2", r) for r in roles} | below
    (d,) = derive_network(_net(NET), (sorted(roles)[0],), layer=1)
    assert not d.holds and "FAILS ✗" in d.unicode()


# --- the printout --------------------------------------------------------------------------------


def test_every_step_is_printed_and_holds() -> None:
    derivations = derive_network(_net(NET), ("input",), layer=1)
    (d,) = derivations
    text = d.unicode()
    assert d.holds and "FAILS" not in text
    for factor in (
        "∂a[1]/∂A[1] = I_2 ⊗ V[1]ᵀ: holds ✓",
        "∂a[1]/∂V[1] = A[1] ⊗ I_2: holds ✓",
        "∂A[1]/∂S[1] = diag(a_t) − a_t a_tᵀ per row t of A[1], block diagonal: holds ✓",
        "∂S[1]/∂Q[1] = (I_2 ⊗ K[1])/√2: holds ✓",
        "∂S[1]/∂K[1] = (Q[1] ⊗ I_2) C/√2, C the commutation matrix",
        "∂Q[1]/∂x = I_2 ⊗ Wq[1]ᵀ: holds ✓",
        "∂V[1]/∂x = I_2 ⊗ Wv[1]ᵀ: holds ✓",
    ):
        assert factor in text, factor
    assert (
        "∂a[1]/∂x = ∂a[1]/∂A[1] · ∂A[1]/∂S[1] · (∂S[1]/∂Q[1] · ∂Q[1]/∂x + ∂S[1]/∂K[1] · "
        "∂K[1]/∂x) + ∂a[1]/∂V[1] · ∂V[1]/∂x: holds ✓" in text
    )
    assert "dQ Wqᵀ + dK Wkᵀ + dV Wvᵀ" in text
    assert d.render("latex").isascii() and "$$" in d.render("markdown")


def test_the_weights_are_named_alone_or_together() -> None:
    net = _net(NET)
    titles = [d.title.split()[0] for d in derive_network(net, ("W",), layer=1)]
    assert titles == ["dWq[1]", "dWk[1]", "dWv[1]"]
    (d,) = derive_network(net, ("Wk",), layer=1)
    assert d.title.startswith("dWk[1]") and d.holds


def test_the_embedding_is_derived_with_its_one_hot_matrix() -> None:
    (d,) = derive_network(_net(SETTINGS[-1]), ("E",), layer=1)
    text = d.unicode()
    assert d.holds and "S ⊗ I_2, S the 2 × 3 one-hot matrix of the ids" in text
    assert "dE[1] = Sᵀ δ[1]" in text


# --- refusals ------------------------------------------------------------------------------------


def test_an_attention_layer_too_large_is_refused() -> None:
    with pytest.raises(InvalidValueError, match=r"at most 3 tokens .* got T = 4; derive a shorter"):
        SymbolicModel(Network.from_layers("attention(2), flatten, dense(1)", "4x2", "mse"))
    with pytest.raises(InvalidValueError, match=r"got T = 2, d_k = 4"):
        SymbolicModel(Network.from_layers("attention(4), flatten, dense(1)", "2x2", "mse"))


def test_an_embeddings_input_has_no_gradient() -> None:
    with pytest.raises(
        InvalidValueError,
        match=r"param: expected a role of layer 1 \(E\), delta, got input; an embedding's input "
        r"is token ids",
    ):
        derive_network(_net(SETTINGS[-1]), ("input",), layer=1)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--input", "4x2"], "got T = 4"),
        (["--input", "2x2", "--batch", "2"], "--batch: only for a network with a layer that"),
        (["--input", "2x2", "--layer", "3", "--param", "Wq"], "a role of layer 3 (W, b)"),
    ],
)
def test_the_cli_refuses_with_a_message(
    capsys: pytest.CaptureFixture[str], argv: list[str], expected: str
) -> None:
    code = main(["derive", "--layers", "attention(2), flatten, dense(1), sigmoid", *argv])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("jacobians derive: error: ")
    assert expected in err


def test_the_cli_derives_one_weight(capsys: pytest.CaptureFixture[str]) -> None:
    layers = "attention(2), flatten, dense(1), sigmoid"
    argv = ["derive", "--layers", layers, "--input", "2x2", "--layer", "1", "--param", "Wk"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith("dWk[1] of the 2x2") and "holds ✓" in out and "FAILS" not in out
    assert "C is the 4 × 4 commutation matrix" in out
