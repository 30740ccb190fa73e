"""The row layout's batch chain (``compare --layout row``): observations as rows, ``N = A W``.

Laws checked: ``dW_row = dWᵀ`` and ``db_row = db`` against the column layout's routes; every
batch Jacobian against central differences of the row-layout map written here; ``∂vec(N)/∂vec(W)
= A ⊗ I`` (the foundations chapter's ``X ⊗ I_p``); the CLI's agreement line and its refusals.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jacobians.backprop import vectorized_route
from jacobians.chains import jacobian_route
from jacobians.cli import main
from jacobians.errors import InvalidValueError
from jacobians.network import Network
from jacobians.parameters import Parameters, init_parameters
from jacobians.rownet import (
    check_row_batch,
    check_row_layout,
    row_batch_jacobians,
    row_batch_route,
    row_batch_shapes,
    to_row,
)

from .strategies import ELEMENTWISE, problems
from .tolerances import EXACT, FINITE_DIFFERENCE, STEP

# relu, leaky relu and their kinks: a central difference across z = 0 is not a derivative
SMOOTH = ["identity", "sigmoid", "tanh", "softplus", "square"]


def central(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray) -> np.ndarray:
    """``∂vec f/∂vec x`` by central differences, one column per entry of ``x`` (C order)."""
    x = np.asarray(x, dtype=np.float64)
    columns = []
    for k in range(x.size):
        e = np.zeros(x.size)
        e[k] = STEP
        up = f(x + e.reshape(x.shape)).reshape(-1)
        down = f(x - e.reshape(x.shape)).reshape(-1)
        columns.append((up - down) / (2 * STEP))
    return np.stack(columns, axis=1)


def close(a: np.ndarray, b: np.ndarray, tol: tuple[float, float]) -> None:
    scale = max(1.0, float(np.max(np.abs(b), initial=0.0)))
    np.testing.assert_allclose(a, b, rtol=tol[0], atol=tol[1] * scale)


@given(
    problem=problems(max_depth=3, max_width=4, max_batch=4, activations=ELEMENTWISE),
    order=st.sampled_from(["reverse", "forward", "optimal"]),
)
def test_row_route_gives_the_column_gradients_transposed(
    problem: tuple[Network, Parameters], order: str
) -> None:
    net, params = problem
    rp = to_row(params)
    row = row_batch_route(net, rp, order).gradients
    for column in (vectorized_route(net, params).gradients, jacobian_route(net, params).gradients):
        scale = max(1.0, max(float(np.abs(v).max()) for v in column.values()))
        for name, value in column.items():
            expected = value.T if name.startswith("dW") else value
            assert row[name].shape == expected.shape
            np.testing.assert_allclose(row[name], expected, rtol=EXACT[0], atol=EXACT[1] * scale)
    assert check_row_layout(net, params, vectorized_route(net, params).gradients, order).agree


@pytest.mark.parametrize("batch", [1, 3])
def test_softmax_output_with_ce(batch: int) -> None:
    net = Network.from_spec("4-5-3", "tanh,softmax", "ce")
    params = init_parameters(net, 2, batch)
    check = check_row_layout(net, params, vectorized_route(net, params).gradients)
    assert check.agree and not check.route.fused
    # softmax's block: one diag(s) − s sᵀ per row
    jac = row_batch_jacobians(net, to_row(params))
    assert jac["J_A2_Z2"].shape == (3 * batch, 3 * batch)


@settings(max_examples=30)
@given(problem=problems(max_depth=3, max_width=3, max_batch=3, activations=SMOOTH))
def test_batch_jacobians_against_finite_differences(problem: tuple[Network, Parameters]) -> None:
    net, params = problem
    rp = to_row(params)
    jac = row_batch_jacobians(net, rp)
    B, L = rp.X.shape[0], net.depth
    shapes = row_batch_shapes(net, B)
    assert {k: v.shape for k, v in jac.items()} == shapes
    # the forward pass in the row layout, written out: N = A W + 1 bᵀ, A = g(N) row by row
    A, Z = [rp.X], [rp.X]
    for l in range(1, L + 1):
        Z.append(A[-1] @ rp.W[l - 1] + rp.b[l - 1])
        A.append(net.activations[l - 1](Z[-1].T).T)
    Y = rp.Y if rp.Y is not None else np.zeros_like(A[L])
    for l in range(1, L + 1):
        W, b, a = rp.W[l - 1], rp.b[l - 1], A[l - 1]
        g = net.activations[l - 1]
        fd_W = central(lambda V, a=a, b=b: a @ V + b, W)
        fd_b = central(lambda c, a=a, W=W: a @ W + c, b)
        fd_A = central(lambda V, W=W, b=b: V @ W + b, a)
        fd_Z = central(lambda V, g=g: g(V.T).T, Z[l])
        close(jac[f"J_Z{l}_W{l}"], fd_W, FINITE_DIFFERENCE)
        close(jac[f"J_Z{l}_b{l}"], fd_b, FINITE_DIFFERENCE)
        close(jac[f"J_A{l}_Z{l}"], fd_Z, FINITE_DIFFERENCE)
        if l > 1:
            close(jac[f"J_Z{l}_A{l - 1}"], fd_A, FINITE_DIFFERENCE)
        # the foundations chapter's rules, exactly
        n = net.sizes[l]
        np.testing.assert_array_equal(jac[f"J_Z{l}_W{l}"], np.kron(a, np.eye(n)))
        if l > 1:
            np.testing.assert_array_equal(jac[f"J_Z{l}_A{l - 1}"], np.kron(np.eye(B), W.T))

    def cost(V: np.ndarray) -> np.ndarray:
        return np.atleast_1d(np.mean(net.loss.value(V.T, Y.T)))

    close(jac[f"J_L_A{L}"], central(cost, A[L]), FINITE_DIFFERENCE)


def test_the_chapter_rule_for_a_batch() -> None:
    # ∂vec(N)/∂vec(W) = X ⊗ I_p for N = X W: the first layer, X the batch (B × n_0)
    net = Network.from_spec("3-2", "identity", "sum")
    params = init_parameters(net, 5, 4)
    rp = to_row(params)
    jac = row_batch_jacobians(net, rp)
    assert rp.X.shape == (4, 3) and rp.W[0].shape == (3, 2)
    np.testing.assert_array_equal(jac["J_Z1_W1"], np.kron(rp.X, np.eye(2)))
    np.testing.assert_array_equal(jac["J_Z1_b1"], np.kron(np.ones((4, 1)), np.eye(2)))


def test_refusals_in_the_api() -> None:
    conv = Network.from_layers("conv2d(1, 3), relu, flatten, dense(1), sigmoid", "1x4x4")
    with pytest.raises(InvalidValueError, match=r"layout 'row': expected a dense network"):
        check_row_batch(conv, 1, 2**30)
    big = Network.from_spec("300-300-1", "relu,sigmoid", "bce")
    with pytest.raises(InvalidValueError, match=r"J_Z1_W1 of 19200×90000 .* batch of 64"):
        check_row_batch(big, 64, 2**30)


def test_cli_prints_the_agreement_line(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["compare", "--layout", "row", "--batch", "3"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "the three routes agree" in out
    assert "the row layout agrees with the column layout's gradients transposed: largest" in out
    assert "  dW1 (row layout, 3×4)" in out
    assert "dW1   (1×3)·(3×3)·(3×6)·(6×6)·(6×12)·(12×12)·(12×12) → 3×4" in out


def test_cli_json_has_the_row_layout(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    assert main(["compare", "--layout", "row", "--batch", "2", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    row = data["row_layout"]
    assert row["agree"] is True
    assert np.array(row["gradients"]["dW1"]).shape == (3, 4)
    np.testing.assert_allclose(
        np.array(row["gradients"]["dW1"]), np.array(data["vectorized"]["dW1"]).T, atol=1e-15
    )
    assert main(["compare", "--batch", "2", "--json"]) == 0
    assert "row_layout" not in json.loads(capsys.readouterr().out)


def test_default_layout_is_unchanged(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", "--batch", "2"]) == 0
    default = capsys.readouterr().out
    assert main(["compare", "--batch", "2", "--layout", "column"]) == 0
    assert capsys.readouterr().out == default
    assert "row layout" not in default


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["--input", "1x4x4", "--layers", "conv2d(1, 3), relu, flatten, dense(1), sigmoid"],
            "jacobians compare: error: layout 'row': expected a dense network (--sizes, "
            "--activations, --loss), got 1x4x4: conv2d(1, 3), relu, flatten, dense(1), sigmoid; "
            "the row layout is built for dense layers only; use --layout column\n",
        ),
        (
            ["--sizes", "300,300,1", "--batch", "64"],
            "jacobians compare: error: layout 'row': expected batch Jacobians within the memory "
            "budget of 1,073,741,824 bytes, got J_Z1_W1 of 19200×90000 (13,824,000,000 bytes) "
            "for 300-300-1 with a batch of 64; use a smaller network or batch, or raise "
            "--memory-budget\n",
        ),
    ],
)
def test_cli_refusals(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    expected: str,
) -> None:
    monkeypatch.delenv("JACOBIANS_MEMORY_BUDGET", raising=False)
    assert main(["compare", "--layout", "row", *argv]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err == expected
    assert err.count("\n") == 1


def test_a_dense_layers_spec_is_accepted(capsys: pytest.CaptureFixture[str]) -> None:
    # --layers with the dense shorthand's shape is the same network: accepted
    argv = [
        "compare",
        "--layout",
        "row",
        "--input",
        "3",
        "--layers",
        "dense(2), tanh, dense(1), identity",
    ]
    assert main([*argv, "--loss", "mse", "--batch", "2"]) == 0
    assert "the row layout agrees" in capsys.readouterr().out
