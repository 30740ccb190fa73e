"""The three routes agree: Jacobian chains = compact formulas (every order) = finite
differences away from kinks; and saturated outputs stay finite through the fused row."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from jacobians.backprop import vectorized_route
from jacobians.chains import jacobian_route
from jacobians.comparison import compare
from jacobians.errors import InvalidValueError
from jacobians.network import Network, cost, forward
from jacobians.numerical import numerical_route
from jacobians.parameters import Parameters, init_parameters
from jacobians.report import chain_line

from .strategies import problems
from .tolerances import EXACT, FINITE_DIFFERENCE, STEP


def _assert_close(
    a: np.ndarray, b: np.ndarray, tol: tuple[float, float], scale: float = 1.0
) -> None:
    rtol, atol = tol
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol * max(1.0, scale))


@given(problem=problems(), order=st.sampled_from(["reverse", "forward", "optimal"]))
def test_jacobian_route_equals_vectorized_route(
    problem: tuple[Network, Parameters], order: str
) -> None:
    net, params = problem
    jac, vec = jacobian_route(net, params, order), vectorized_route(net, params)
    scale = max(float(np.max(np.abs(v))) for v in vec.gradients.values())
    for name, value in vec.gradients.items():
        assert jac.gradients[name].shape == value.shape
        _assert_close(jac.gradients[name], value, EXACT, scale)
    for name, value in vec.deltas.items():
        _assert_close(jac.deltas[name], value, EXACT, float(np.max(np.abs(value))))


@given(problem=problems())
def test_numerical_route_agrees_away_from_kinks(problem: tuple[Network, Parameters]) -> None:
    net, params = problem
    vec, num = vectorized_route(net, params), numerical_route(net, params, STEP)
    rtol, atol = FINITE_DIFFERENCE
    # the central difference of two costs rounded to ~ε|J| carries ~ε|J|/h of rounding
    rounding = 10 * np.finfo(float).eps * 1.01 * abs(cost(net, params)) / STEP
    for name, value in vec.gradients.items():
        keep = ~num.kinks[name]
        np.testing.assert_allclose(
            num.gradients[name][keep], value[keep], rtol=rtol, atol=atol + rounding
        )


def test_a_cost_too_large_for_its_step_is_inconclusive_not_agreeing() -> None:
    # b1 = 1e9 makes J ≈ 1e9 while ∂J/∂b1 = 1: the two costs of the difference agree in all
    # but their last ~9 digits, and (J(b + h) − J(b − h))/2h is off by percents
    net = Network.from_spec("2-1", "identity", "sum")
    params = Parameters(
        (np.array([[0.5, -0.3]]),), (np.array([1e9]),), np.array([[1.0], [2.0]]), None
    )
    result = compare(net, params)
    assert result.numerical_vs_vectorized["db1"].inconclusive
    assert not result.agree
    assert all(d.agree for d in result.jacobian_vs_vectorized.values())


@given(problem=problems())
def test_fused_row_equals_the_product_of_its_factors(problem: tuple[Network, Parameters]) -> None:
    net, params = problem
    route = jacobian_route(net, params)
    if net.fused is None:
        assert route.fused_gap is None
        return
    # an example is fused only where an output is saturated — exactly 0 or 1 in floating point
    # (z = 60 under a sigmoid is 1.0), where ∂L/∂a[L] is not finite; with moderate logits both
    # factors are finite, and the product is used and checked against the fused row
    out = forward(net, params).values[net.nodes[-1].output]
    saturated = {i for i in range(params.batch) if np.any((out[:, i] == 0) | (out[:, i] == 1))}
    assert set(route.fused_examples) <= saturated
    if saturated:
        return
    assert route.fused_examples == ()
    assert route.fused_gap is not None
    assert route.fused_gap <= EXACT[0] * 10 + EXACT[1]


def test_batch_is_the_mean_of_its_examples() -> None:
    net = Network.from_spec("3-5-4", "tanh,softmax", "ce")
    params = init_parameters(net, seed=11, batch=4)
    whole = jacobian_route(net, params).gradients
    single = [jacobian_route(net, params.example(i)).gradients for i in range(4)]
    for name, value in whole.items():
        _assert_close(value, np.mean([s[name] for s in single], axis=0), EXACT)


def test_hand_computed_network() -> None:
    # x = (1, 2); W1 = [[1, 1], [1, −1]], b1 = 0: z1 = (3, −1), a1 = relu(z1) = (3, 0).
    # W2 = [[2, 1]], b2 = 1, identity: ŷ = 7; y = 4, mse: L = ½·3² = 4.5, δ2 = ŷ − y = 3.
    # dW2 = δ2 a1ᵀ = [[9, 0]], db2 = 3; δ1 = (W2ᵀ δ2) ⊙ relu'(z1) = (6, 3) ⊙ (1, 0) = (6, 0);
    # dW1 = δ1 xᵀ = [[6, 12], [0, 0]], db1 = (6, 0).
    net = Network.from_spec("2-2-1", "relu,identity", "mse")
    params = Parameters(
        (np.array([[1.0, 1.0], [1.0, -1.0]]), np.array([[2.0, 1.0]])),
        (np.zeros(2), np.array([1.0])),
        np.array([[1.0], [2.0]]),
        np.array([[4.0]]),
    )
    expected = {
        "dW1": [[6.0, 12.0], [0.0, 0.0]],
        "db1": [6.0, 0.0],
        "dW2": [[9.0, 0.0]],
        "db2": [3.0],
    }
    assert cost(net, params) == 4.5
    for route in (jacobian_route(net, params).gradients, vectorized_route(net, params).gradients):
        for name, value in expected.items():
            np.testing.assert_array_equal(route[name], value)
    for name, value in expected.items():
        np.testing.assert_allclose(
            numerical_route(net, params).gradients[name],
            value,
            rtol=FINITE_DIFFERENCE[0],
            atol=FINITE_DIFFERENCE[1],
        )


def test_a_stencil_across_a_kink_is_flagged_not_reported() -> None:
    # z1 = W1 x = 1 − 1 = 0 exactly: relu'(0) = 0 by convention, but the central difference
    # sees slope 1 on one side and 0 on the other and returns their mean.
    net = Network.from_spec("2-1-1", "relu,identity", "sum")
    params = Parameters(
        (np.array([[1.0, -1.0]]), np.array([[1.0]])),
        (np.zeros(1), np.zeros(1)),
        np.array([[1.0], [1.0]]),
        None,
    )
    num = numerical_route(net, params)
    assert num.kinks["dW1"].all() and num.kinks["db1"].all()
    assert not num.kinks["dW2"].any()
    assert num.gradients["db1"][0] == pytest.approx(0.5, rel=1e-6)  # the mean of slopes 0 and 1
    assert vectorized_route(net, params).gradients["db1"][0] == 0.0
    result = compare(net, params)
    assert result.agree and result.numerical.kink_count == 3


@pytest.mark.parametrize(
    ("logit", "label"), [(1000.0, 0.0), (-1000.0, 1.0), (1000.0, 1.0), (-1000.0, 0.0)]
)
def test_saturated_sigmoid_with_bce_stays_finite(logit: float, label: float) -> None:
    # any RuntimeWarning (overflow, divide by zero) fails this test: pytest makes them errors
    net = Network.from_spec("1-1", "sigmoid", "bce")
    params = Parameters(
        (np.array([[logit]]),), (np.zeros(1),), np.array([[1.0]]), np.array([[label]])
    )
    a = 1.0 if logit > 0 else 0.0  # σ(±1000) rounds to 1 or 0
    wrong = a != label
    # −log σ(−1000) = 1000 + log(1 + e⁻¹⁰⁰⁰) = 1000 in float64; a right answer costs 0
    assert cost(net, params) == (1000.0 if wrong else 0.0)
    route = jacobian_route(net, params)
    if wrong:  # ∂L/∂ŷ = ±∞ and ∂ŷ/∂z = 0: the fused row (a − y)ᵀ stands in for their product
        assert route.fused_examples == (0,)
        assert "fused row ∂L/∂z[1] = (a[1] − y)ᵀ" in route.notes[0]
    else:  # ∂L/∂ŷ = ∓1 is finite, ∂ŷ/∂z = 0: the product is used, and is 0 = a − y
        assert route.fused_examples == () and route.notes == ()
        assert route.fused_gap == 0.0
    np.testing.assert_array_equal(route.gradients["dW1"], [[a - label]])
    np.testing.assert_array_equal(vectorized_route(net, params).gradients["dW1"], [[a - label]])
    result = compare(net, params)
    assert result.agree
    assert all(np.isfinite(v).all() for v in result.numerical.gradients.values())


def test_overflow_is_refused_with_a_reason() -> None:
    # z[2] = 1e200 · (1e200 · 1) overflows float64; no RuntimeWarning may escape (pytest would
    # turn it into an error here)
    net = Network.from_spec("1-1-1", "identity,identity", "mse")
    params = Parameters(
        (np.array([[1e200]]), np.array([[1e200]])),
        (np.zeros(1), np.zeros(1)),
        np.array([[1.0]]),
        np.array([[0.0]]),
    )
    with pytest.raises(
        InvalidValueError,
        match=r"parameters: expected finite values through the "
        r"network, got z\[2\] = inf for example 0; the values overflow float64",
    ):
        compare(net, params)


def test_saturated_softmax_with_ce_uses_the_fused_row() -> None:
    net = Network.from_spec("1-3", "softmax", "ce")
    params = Parameters(
        (np.array([[1000.0], [-1000.0], [0.0]]),),
        (np.zeros(3),),
        np.array([[1.0]]),
        np.array([[0.0], [1.0], [0.0]]),
    )
    assert cost(net, params) == 2000.0  # −log softmax(1000, −1000, 0)₂ = 2000 + log(1 + e⁻¹⁰⁰⁰ + …)
    route = jacobian_route(net, params)
    assert route.fused_examples == (0,)
    np.testing.assert_array_equal(route.gradients["db1"], [1.0, -1.0, 0.0])
    assert compare(net, params).agree


def test_walkthrough_chain_is_printed_as_shapes() -> None:
    net = Network.from_spec()
    route = jacobian_route(net, init_parameters(net, seed=8))
    lines = {r.target: chain_line(r) for r in route.chains}
    assert lines["dW2"] == "(1×1)·(1×1)·(1×2)·(2×2)·(2×8) → (1×8) → dW2 (2×4)"
    assert lines["db1"] == "(1×1)·(1×1)·(1×2)·(2×2)·(2×4)·(4×4)·(4×4) → (1×4) → db1 (4)"


@given(problem=problems())
def test_compare_agrees_on_random_problems(problem: tuple[Network, Parameters]) -> None:
    net, params = problem
    result = compare(net, params, "optimal")
    # never a disagreement; a finite difference lost in rounding (deep chains of `square`
    # reach costs of 1e13) may only be inconclusive, and then the exact routes still agree
    assert all(d.agree for d in result.jacobian_vs_vectorized.values())
    assert all(d.agree or d.inconclusive for d in result.numerical_vs_vectorized.values())
    assert result.agree or result.inconclusive()
