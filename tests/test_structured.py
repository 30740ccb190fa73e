"""Structured Jacobians: each equals its dense and sparse forms, multiplies like them, and the
three representations give the same gradients; the memory guard and sampling say what they do."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from jacobians.chains import choose_representation, jacobian_route
from jacobians.cli import main
from jacobians.comparison import compare
from jacobians.errors import InvalidValueError, UnknownNameError
from jacobians.network import Network
from jacobians.parameters import Parameters, init_parameters
from jacobians.structured import (
    Dense,
    Diagonal,
    Identity,
    KronIdentityRow,
    KronRowIdentity,
    SoftmaxJacobian,
    Structured,
    represent,
    to_dense,
)

from .strategies import problems

sizes = st.integers(1, 6)


@st.composite
def structured(draw: st.DrawFn) -> Structured:
    rng = np.random.default_rng(draw(st.integers(0, 10**6)))
    n, m = draw(sizes), draw(sizes)
    kind = draw(st.sampled_from(["I", "diag", "softmax", "kron", "kron_row", "dense"]))
    if kind == "I":
        return Identity(n)
    if kind == "diag":
        return Diagonal(rng.standard_normal(n))
    if kind == "softmax":
        s = rng.random(n) + 0.1
        return SoftmaxJacobian(s / s.sum())
    if kind == "kron":
        return KronIdentityRow(n, rng.standard_normal(m))
    if kind == "kron_row":
        return KronRowIdentity(rng.standard_normal(m), n)
    return Dense(rng.standard_normal((n, m)))


@given(J=structured(), k=st.integers(1, 3), seed=st.integers(0, 10**6))
def test_structured_equals_its_dense_and_sparse_forms(J: Structured, k: int, seed: int) -> None:
    dense = J.dense()
    assert dense.shape == J.shape
    np.testing.assert_array_equal(J.sparse().toarray(), dense)
    v = np.random.default_rng(seed).standard_normal((k, J.shape[0]))
    np.testing.assert_allclose(v @ J, v @ dense, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(to_dense(J @ J.sparse().T), dense @ dense.T, rtol=1e-12, atol=1e-14)


@given(n=sizes, a=st.lists(st.floats(-5, 5), min_size=1, max_size=6).map(np.array))
def test_kronecker_factors_are_the_kronecker_products(n: int, a: np.ndarray) -> None:
    np.testing.assert_array_equal(
        KronIdentityRow(n, a).dense(), np.kron(np.eye(n), a.reshape(1, -1))
    )
    np.testing.assert_array_equal(
        KronRowIdentity(a, n).dense(), np.kron(a.reshape(1, -1), np.eye(n))
    )
    # v (I ⊗ aᵀ) is vec(vᵀ aᵀ), the outer product
    v = np.arange(1.0, n + 1).reshape(1, n)
    np.testing.assert_allclose(KronIdentityRow(n, a).vjp(v), np.outer(v, a).reshape(1, -1))


@given(problem=problems(), order=st.sampled_from(["reverse", "forward", "optimal"]))
def test_three_representations_give_the_same_gradients(
    problem: tuple[Network, Parameters], order: str
) -> None:
    net, params = problem
    dense = jacobian_route(net, params, order, "dense").gradients
    scale = max(1.0, max(float(np.abs(v).max()) for v in dense.values()))
    for representation in ("sparse", "structured"):
        other = jacobian_route(net, params, order, representation).gradients
        for name, value in dense.items():
            np.testing.assert_allclose(other[name], value, rtol=1e-12, atol=1e-15 * scale)


def test_auto_switches_and_says_so() -> None:
    net = Network.from_spec("4-6-3", "tanh,softmax", "ce")
    params = init_parameters(net, 1)
    assert choose_representation(net, "auto", 2**30) == ("dense", None)
    route = jacobian_route(net, params, "reverse", "auto", memory_budget=500)
    assert route.representation == "structured"
    assert route.notes[0] == (
        "auto: J_z1_W1 (6×24) would take 1.12 KiB dense, over the memory "
        "budget of 500 bytes: using structured Jacobians"
    )


def test_dense_above_the_budget_is_refused() -> None:
    net = Network.from_spec("4-6-3", "tanh,softmax", "ce")
    with pytest.raises(
        InvalidValueError,
        match=r"jacobians: expected dense Jacobians within the "
        r"memory budget of 500 bytes, got J_z1_W1 of shape 6×24, 1,152 bytes "
        r"\(1.12 KiB\); use --jacobians sparse or structured",
    ):
        jacobian_route(net, init_parameters(net, 1), jacobians="dense", memory_budget=500)
    with pytest.raises(
        UnknownNameError,
        match=r"jacobians: expected one of dense, sparse, "
        r"structured, got 'blocky'",
    ):
        represent(Identity(2), "blocky")
    with pytest.raises(
        UnknownNameError,
        match=r"jacobians: expected one of auto, dense, sparse, "
        r"structured, got 'blocky'",
    ):
        choose_representation(net, "blocky", 1)


def test_sampled_numerical_route_says_how_many(capsys: pytest.CaptureFixture[str]) -> None:
    net = Network.from_spec("60-40-5", "relu,softmax", "ce")  # 2,645 parameters: sampled
    result = compare(net, init_parameters(net, 3, 2))
    assert result.numerical.sample == 20
    assert result.numerical.checked_count == 20 + 20 + 20 + 5
    assert result.agree
    assert (
        main(
            [
                "compare",
                "--sizes",
                "60,40,5",
                "--activations",
                "relu,softmax",
                "--loss",
                "ce",
                "--json",
                "--sample",
                "7",
            ]
        )
        == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert data["numerical_sample"] == 7 and data["numerical_checked"] == 7 * 3 + 5
    assert sum(v is not None for row in data["numerical"]["dW1"] for v in row) == 7


def test_memory_budget_from_the_environment(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JACOBIANS_MEMORY_BUDGET", "1K")
    assert main(["compare", "--jacobians", "dense", "--sizes", "8,8,1"]) == 2
    assert "memory budget of 1 KiB, got J_z1_W1 of shape 8×64" in capsys.readouterr().err
    monkeypatch.setenv("JACOBIANS_MEMORY_BUDGET", "lots")
    assert main(["compare"]) == 2
    assert (
        "JACOBIANS_MEMORY_BUDGET: expected a size such as 512M or 2G, got 'lots'"
        in capsys.readouterr().err
    )


def test_large_network_with_structured_jacobians(tmp_path: Path) -> None:
    # the example at batch 4 (the batch of 64 is in benchmarks/): 235,146 parameters,
    # dense J_z1_W1 would be 256 × 200,704 (411 MB per example)
    net = Network.from_spec("784-256-128-10", "relu,relu,softmax", "ce")
    result = compare(net, init_parameters(net, 0, 4), jacobians="structured")
    assert result.agree and result.jacobian.representation == "structured"


@given(
    problem=problems(max_depth=3, max_width=4, max_batch=4),
    order=st.sampled_from(["reverse", "forward", "optimal"]),
    representation=st.sampled_from(["dense", "sparse", "structured"]),
)
def test_batch_chain_equals_per_example_chains(
    problem: tuple[Network, Parameters], order: str, representation: str
) -> None:
    net, params = problem
    per_example = jacobian_route(net, params, order, "dense", strategy="examples")
    batch = jacobian_route(net, params, order, representation, strategy="batch")
    scale = max(1.0, max(float(np.abs(v).max()) for v in per_example.gradients.values()))
    for name, value in per_example.gradients.items():
        np.testing.assert_allclose(batch.gradients[name], value, rtol=1e-12, atol=1e-15 * scale)
    for name, value in per_example.deltas.items():
        np.testing.assert_allclose(
            batch.deltas[name], value, rtol=1e-12, atol=1e-15 * max(1.0, float(np.abs(value).max()))
        )


@given(n=sizes, m=sizes, B=st.integers(1, 4), seed=st.integers(0, 10**6))
def test_batch_jacobians_are_their_kronecker_products(n: int, m: int, B: int, seed: int) -> None:
    from jacobians.structured import KronIdentityBatch, KronOnesBatch, KronWeightBatch

    rng = np.random.default_rng(seed)
    A, W = rng.standard_normal((m, B)), rng.standard_normal((n, m))
    cases = [
        (KronIdentityBatch(n, A), np.kron(np.eye(n), A.T)),
        (KronWeightBatch(W, B), np.kron(W, np.eye(B))),
        (KronOnesBatch(n, B), np.kron(np.eye(n), np.ones((B, 1)))),
    ]
    for J, expected in cases:
        np.testing.assert_array_equal(J.dense(), expected)
        np.testing.assert_array_equal(J.sparse().toarray(), expected)
        v = rng.standard_normal((2, J.shape[0]))
        np.testing.assert_allclose(v @ J, v @ expected, rtol=1e-12, atol=1e-12)
    # ∂vec(Z)/∂vec(W) = I ⊗ Aᵀ column by column: Z = W A is linear in W
    J = KronIdentityBatch(n, A).dense()
    for k in range(n * m):
        E = np.zeros(n * m)
        E[k] = 1.0
        np.testing.assert_allclose(J[:, k], (E.reshape(n, m) @ A).reshape(-1), atol=1e-15)


def test_softmax_batch_blocks() -> None:
    from jacobians.structured import SoftmaxBatch

    S = np.array([[0.2, 0.5], [0.3, 0.25], [0.5, 0.25]])
    J = SoftmaxBatch(S)
    for b in range(2):  # example b's block sits at rows and columns i·B + b
        idx = np.arange(3) * 2 + b
        np.testing.assert_allclose(
            J.dense()[np.ix_(idx, idx)], np.diag(S[:, b]) - np.outer(S[:, b], S[:, b])
        )
    for rows in (1, 3):  # one row in reverse order; several in the other orders
        v = np.sin(np.arange(6.0 * rows)).reshape(rows, 6)
        np.testing.assert_allclose(v @ J, v @ J.dense(), rtol=1e-13, atol=1e-15)


@given(
    problem=problems(max_depth=3, max_width=4, max_batch=4),
    order=st.sampled_from(["reverse", "forward", "optimal"]),
)
def test_batch_strategy_reports_the_chains_of_one_example(
    problem: tuple[Network, Parameters], order: str
) -> None:
    # the batch route plans its report from shapes; the per-example route multiplies its
    # chains: both must describe the same chains
    net, params = problem
    per_example = jacobian_route(net, params.example(0), order, "dense", strategy="examples")
    batch = jacobian_route(net, params, order, "structured", strategy="batch")
    if not per_example.fused_examples and not batch.fused_examples:
        assert batch.chains == per_example.chains


def test_batch_strategy_is_guarded_outside_structured_reverse_order() -> None:
    net = Network.from_spec("1-50-1", "tanh,identity", "mse")
    params = init_parameters(net, 0, 400)
    with pytest.raises(
        InvalidValueError,
        match=r"strategy: expected batch Jacobians within the "
        r"memory budget of 1 MiB, got the largest batch factor or product, "
        r"20000×20000 for a batch of 400: 2.98 GiB; use --strategy examples",
    ):
        jacobian_route(net, params, "reverse", "dense", 2**20, "batch")
    # structured reverse order needs no such matrix
    route = jacobian_route(net, params, "reverse", "structured", 2**20, "batch")
    assert route.strategy == "batch"


def test_batch_chain_with_a_saturated_output() -> None:
    # example 1's logit is 1000 with label 0: ∂L/∂ŷ = ∞ there, so the batch uses (a − y)ᵀ/B
    net = Network.from_spec("1-1", "sigmoid", "bce")
    params = Parameters(
        (np.array([[1000.0]]),), (np.zeros(1),), np.array([[0.001, 1.0]]), np.array([[1.0, 0.0]])
    )
    batch = jacobian_route(net, params, "reverse", "structured", strategy="batch")
    per_example = jacobian_route(net, params, "reverse", "dense", strategy="examples")
    np.testing.assert_allclose(batch.gradients["dW1"], per_example.gradients["dW1"], rtol=1e-12)
    assert batch.fused_examples and any("fused row" in n for n in batch.notes)


def test_auto_leaves_dense_when_the_dense_work_is_too_large() -> None:
    # 800 examples through a dense 200 × 20,000 J_z1_W1 (32 MB, within auto's 64 MiB) would
    # take ~2e10 multiply–adds
    net = Network.from_spec("100-200-10", "relu,softmax", "ce")
    result = compare(net, init_parameters(net, 0, 800))
    assert result.agree and result.jacobian.representation == "structured"
    assert result.jacobian.notes[0].startswith("auto: dense Jacobian chains would take about")


def test_auto_leaves_dense_above_its_limit_for_one_jacobian() -> None:
    # 256 × 200,704 J_z1_W1 would take 392 MiB: within the memory budget, over auto's 64 MiB
    net = Network.from_spec("784-256-128-10", "relu,relu,softmax", "ce")
    representation, why = choose_representation(net, "auto", 2**30)
    assert representation == "structured"
    assert why == (
        "auto: J_z1_W1 (256×200704) would take 392 MiB dense, over auto's limit of 64 MiB for "
        "a dense Jacobian: using structured Jacobians (--jacobians dense builds them up to the "
        "memory budget)"
    )
    assert choose_representation(net, "dense", 2**30) == ("dense", None)
