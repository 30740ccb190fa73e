"""The foundations chapter: chains of functions, two-input functions, the row layout's matrix
function (with the chapter's printed numbers), and the network in the row layout."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from jacobians.chainrule import (
    chain,
    chain_value,
    numeric_derivative,
    product_then,
    sum_then,
)
from jacobians.errors import InvalidValueError, ShapeError, UnknownNameError
from jacobians.network import Network
from jacobians.rowlayout import (
    activation_of_dot,
    chapter_example,
    dot,
    matrix_function,
    perturbation_slope,
)
from jacobians.rownet import gradients, row_example_jacobians, to_row

from .strategies import ELEMENTWISE, problems
from .tolerances import EXACT

SMOOTH = ["identity", "sigmoid", "tanh", "softplus", "square"]


@given(names=st.lists(st.sampled_from(SMOOTH), min_size=1, max_size=4), x=st.floats(-2, 2))
def test_chain_rule_equals_the_numeric_derivative(names: list[str], x: float) -> None:
    r = chain(names, x, step=1e-5)
    np.testing.assert_allclose(r.derivative, r.numeric, rtol=1e-6, atol=1e-6)
    assert float(r.value) == float(chain_value(names, x))
    # each link's derivative is taken at the value flowing into it
    for prev, link in zip(r.links, r.links[1:], strict=False):
        assert float(link.input) == float(prev.output)


@given(
    names=st.lists(st.sampled_from(ELEMENTWISE), min_size=1, max_size=3),
    x=st.lists(st.floats(-2, 2), min_size=1, max_size=5).map(np.array),
)
def test_chains_work_elementwise_on_arrays(names: list[str], x: np.ndarray) -> None:
    whole = chain(names, x)
    for i, xi in enumerate(x):
        np.testing.assert_allclose(whole.derivative[i], chain(names, xi).derivative, rtol=1e-15)


def test_numeric_links_use_each_links_central_difference() -> None:
    # square then sigmoid at 0.5, by hand: square'(0.5) = 1, σ'(0.25) = σ(0.25)(1 − σ(0.25))
    s = 1 / (1 + np.exp(-0.25))
    analytic = chain(["square", "sigmoid"], 0.5)
    assert float(analytic.derivative) == pytest.approx(s * (1 - s), rel=1e-14)
    numeric = chain(["square", "sigmoid"], 0.5, numeric_links=True)
    assert float(numeric.derivative) == pytest.approx(s * (1 - s), rel=1e-6)
    assert float(numeric.links[0].derivative) == pytest.approx(1.0, rel=1e-12)


def test_chapter_step_and_leaky_slope() -> None:
    # the chapter's leaky relu has slope 0.2; a three-link chain is a case of the same code
    r = chain(["leaky_relu:0.2", "square", "sigmoid"], -1.5)
    assert float(r.links[0].output) == pytest.approx(-0.3)
    assert float(r.links[0].derivative) == 0.2
    assert r.step == 0.001
    assert float(numeric_derivative(np.square, 2.0, 0.5)) == pytest.approx(4.0)


@given(x=st.floats(-3, 3), y=st.floats(-3, 3))
def test_two_input_partials_equal_central_differences(x: float, y: float) -> None:
    h = 1e-6
    for f in (sum_then, product_then):
        r = f("sigmoid", x, y)
        dx = (f("sigmoid", x + h, y).value - f("sigmoid", x - h, y).value) / (2 * h)
        dy = (f("sigmoid", x, y + h).value - f("sigmoid", x, y - h).value) / (2 * h)
        np.testing.assert_allclose([r.d_dx, r.d_dy], [dx, dy], rtol=1e-6, atol=1e-8)


def test_chain_errors() -> None:
    with pytest.raises(
        InvalidValueError,
        match=r"function 2: expected an elementwise function, "
        r"got 'softmax'; softmax maps a vector to a vector",
    ):
        chain(["square", "softmax"], 1.0)
    with pytest.raises(UnknownNameError, match=r"function 1: expected one of .*, got 'cube'"):
        chain(["cube"], 1.0)
    with pytest.raises(
        InvalidValueError, match=r"functions: expected at least one function, got none"
    ):
        chain([], 1.0)
    with pytest.raises(InvalidValueError, match=r"step: expected a finite number > 0, got 0"):
        numeric_derivative(np.square, 1.0, 0)


def test_dot_product() -> None:
    r = dot([[1.0, 2.0, 3.0]], [[4.0], [5.0], [6.0]])
    assert r.value.tolist() == [[32.0]]
    assert r.d_dX.tolist() == [[4.0, 5.0, 6.0]] and r.d_dW.tolist() == [[1.0], [2.0], [3.0]]
    with pytest.raises(ShapeError, match=r"X, W: expected a row X \(1 × n\) and a column W"):
        dot([[1.0, 2.0]], [[1.0, 2.0]])
    with pytest.raises(
        ShapeError, match=r"W: expected 3 rows to match X of shape 1×3, got shape 2×1"
    ):
        dot([[1.0, 2.0, 3.0]], [[1.0], [2.0]])


@given(seed=st.integers(0, 10**6), n=st.integers(1, 5), activation=st.sampled_from(SMOOTH))
def test_activation_of_dot_is_the_one_by_one_matrix_function(
    seed: int, n: int, activation: str
) -> None:
    # σ(ν(X, W)) for a row X and a column W is Λ(σ(X W)) with B = p = 1
    rng = np.random.default_rng(seed)
    X, W = rng.standard_normal((1, n)), rng.standard_normal((n, 1))
    r, mf = activation_of_dot(X, W, activation), matrix_function(X, W, activation)
    assert float(r.value[0, 0]) == pytest.approx(mf.L, rel=1e-15)
    np.testing.assert_allclose(r.d_dX, mf.dLdX_jacobian, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(r.d_dW, mf.dLdW_jacobian, rtol=1e-12, atol=1e-15)


def test_the_chapters_printed_numbers() -> None:
    # Printed in the foundations chapter for np.random.seed(190204), X = randn(3, 3) then
    # W = randn(3, 2): X to 4 decimals, L = 2.3755, dLdX to 4 decimals, and the perturbation
    # check (L(X + 0.001 at x11) − L(X)) / 0.001 = 0.2489.
    X, W = chapter_example()
    np.testing.assert_array_equal(
        np.round(X, 4),
        [[-1.5775, -0.6664, 0.6391], [-0.5615, 0.7373, -1.4231], [-1.4435, -0.3913, 0.1539]],
    )
    mf = matrix_function(X, W)
    assert round(mf.L, 4) == 2.3755
    printed = [[0.2489, -0.3748, 0.0112], [0.126, -0.2781, -0.1395], [0.2299, -0.3662, -0.0225]]
    np.testing.assert_array_equal(np.round(mf.dLdX, 4), printed)
    np.testing.assert_array_equal(np.round(mf.dLdX_jacobian, 4), printed)
    assert round(perturbation_slope(X, W, (0, 0)), 4) == 0.2489


@given(
    B=st.integers(1, 4),
    n=st.integers(1, 4),
    p=st.integers(1, 4),
    seed=st.integers(0, 10**6),
    activation=st.sampled_from(SMOOTH),
)
def test_matrix_function_two_routes_and_jacobian_structure(
    B: int, n: int, p: int, seed: int, activation: str
) -> None:
    rng = np.random.default_rng(seed)
    X, W = rng.standard_normal((B, n)), rng.standard_normal((n, p))
    mf = matrix_function(X, W, activation)
    rtol, atol = EXACT
    np.testing.assert_allclose(mf.dLdX_jacobian, mf.dLdX, rtol=rtol, atol=atol)
    np.testing.assert_allclose(mf.dLdW_jacobian, mf.dLdW, rtol=rtol, atol=atol)
    # ∂vec(N)/∂vec(X): column k is the change of vec(N) when vec(X)[k] moves by 1 (N is linear)
    for k in range(B * n):
        E = np.zeros(B * n)
        E[k] = 1.0
        change = ((X + E.reshape(B, n)) @ W - X @ W).reshape(-1)
        np.testing.assert_allclose(mf.jacobians["J_N_X"][:, k], change, rtol=1e-12, atol=1e-12)
    for k in range(n * p):
        E = np.zeros(n * p)
        E[k] = 1.0
        change = (X @ (W + E.reshape(n, p)) - X @ W).reshape(-1)
        np.testing.assert_allclose(mf.jacobians["J_N_W"][:, k], change, rtol=1e-12, atol=1e-12)
    # and the forward difference of the chapter's check approaches dL/dX
    assert perturbation_slope(X, W, (0, 0), 1e-6, activation) == pytest.approx(
        float(mf.dLdX[0, 0]), rel=1e-4, abs=1e-5
    )


@given(
    problem=problems(max_depth=3, max_width=4, max_batch=3),
    order=st.sampled_from(["reverse", "forward", "optimal"]),
)
def test_row_layout_gives_the_transposed_gradients(
    problem: tuple[Network, object], order: str
) -> None:
    net, params = problem
    column = gradients(net, params, "column", "vectorized")  # type: ignore[arg-type]
    for route in ("jacobian", "vectorized"):
        row = gradients(net, params, "row", route, order)  # type: ignore[arg-type]
        scale = max(1.0, max(float(np.abs(v).max()) for v in column.values()))
        for name, value in column.items():
            expected = value.T if name.startswith("dW") else value
            assert row[name].shape == expected.shape
            np.testing.assert_allclose(row[name], expected, rtol=EXACT[0], atol=EXACT[1] * scale)


def test_row_layout_jacobians() -> None:
    # ∂z/∂vec(W) in the row layout, column by column: z = a W + b is linear in W, so column
    # k is the change of z when vec(W)[k] (row-major: W[k // n, k % n]) moves by 1
    from jacobians.parameters import init_parameters

    net = Network.from_spec()
    params = init_parameters(net, 8)
    rp = to_row(params)
    jac = row_example_jacobians(net, rp)
    a1 = np.maximum(rp.X[0] @ rp.W[0] + rp.b[0], 0)
    W2 = rp.W[1]  # 4 × 2 in the row layout
    assert jac["J_z2_W2"].shape == (2, 8)
    for k in range(8):
        E = np.zeros_like(W2)
        E[k // 2, k % 2] = 1.0
        np.testing.assert_allclose(jac["J_z2_W2"][:, k], a1 @ (W2 + E) - a1 @ W2, atol=1e-15)
    for k in range(4):  # ∂z/∂a column by column: z changes by row k of W when a_k moves by 1
        np.testing.assert_allclose(jac["J_z2_a1"][:, k], W2[k], atol=1e-15)
    with pytest.raises(
        UnknownNameError, match=r"layout: expected one of column, row, got 'diagonal'"
    ):
        gradients(net, params, "diagonal")


def test_chain_refuses_overflow_and_explains_kinks_and_rounding() -> None:
    with pytest.raises(
        InvalidValueError,
        match=r"x: expected a point where every link and its "
        r"derivative is finite, got an overflow at x = 1e\+308",
    ):
        chain(["square", "sigmoid"], 1e308)
    assert chain(["relu"], 0.0).kinks == ("1. relu",)
    assert chain(["relu"], 0.5).kinks == ()
    assert chain(["sigmoid"], 1.0, step=1e-20).inconclusive
    assert not chain(["sigmoid"], 1.0).inconclusive


def test_two_inputs_must_broadcast() -> None:
    with pytest.raises(
        ShapeError,
        match=r"x, y: expected shapes that broadcast together, got "
        r"\(2,\) and \(3,\)",
    ):
        product_then("sigmoid", [1.0, 2.0], [1.0, 2.0, 3.0])


def test_negative_leaky_slope_is_a_number() -> None:
    r = chain(["leaky_relu:-1"], -2.0)
    assert float(r.value) == 2.0 and float(r.derivative) == -1.0
