"""Laws of the activation registry: g' is the derivative of g, ∂a/∂z is diag(g'), softmax's
Jacobian is diag(s) − s sᵀ, and everything stays finite at logits of ±1000."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.special import softmax as scipy_softmax

from jacobians.activations import (
    ACTIVATIONS,
    Elementwise,
    UnaryFn,
    activation_names,
    get_activation,
)
from jacobians.errors import InvalidValueError, UnknownNameError
from jacobians.layers.activation import from_rule
from jacobians.softmax import Softmax

from .strategies import ELEMENTWISE
from .tolerances import FINITE_DIFFERENCE, STEP

vectors = st.lists(st.floats(-5, 5), min_size=1, max_size=6).map(np.array)


@given(name=st.sampled_from(ELEMENTWISE), z=st.floats(-5, 5))
def test_derivative_is_the_slope_of_the_function(name: str, z: float) -> None:
    g = get_activation(name)
    if g.kinks and min(abs(z - k) for k in g.kinks) < 10 * STEP:
        return  # the central difference straddles the kink there
    x = np.array([z])
    numeric = (g(x + STEP) - g(x - STEP)) / (2 * STEP)
    rtol, atol = FINITE_DIFFERENCE
    np.testing.assert_allclose(get_activation(name).derivative(x), numeric, rtol=rtol, atol=atol)


# Values a reader can check by hand: σ(0) = 1/2, σ'(0) = 1/4, tanh'(0) = 1, softplus(0) = ln 2,
# softplus' = σ, square'(3) = 6, and the kink conventions relu'(0) = 0, leaky_relu'(0) = α.
@pytest.mark.parametrize(
    ("name", "z", "value", "slope"),
    [
        ("sigmoid", 0.0, 0.5, 0.25),
        ("tanh", 0.0, 0.0, 1.0),
        ("softplus", 0.0, math.log(2.0), 0.5),
        ("square", 3.0, 9.0, 6.0),
        ("identity", -2.5, -2.5, 1.0),
        ("relu", 0.0, 0.0, 0.0),
        ("relu", -1.0, 0.0, 0.0),
        ("relu", 2.0, 2.0, 1.0),
        ("leaky_relu", 0.0, 0.0, 0.01),
        ("leaky_relu", -3.0, -0.03, 0.01),
        ("leaky_relu:0.2", -1.0, -0.2, 0.2),
        ("leaky_relu:0.2", 4.0, 4.0, 1.0),
    ],
)
def test_reference_values(name: str, z: float, value: float, slope: float) -> None:
    g = ACTIVATIONS.get(name) or get_activation(name)
    assert g(np.array([z]))[0] == pytest.approx(value, rel=1e-15, abs=1e-15)
    assert g.derivative(np.array([z]))[0] == pytest.approx(slope, rel=1e-15, abs=1e-15)


@given(name=st.sampled_from(ELEMENTWISE), z=vectors, v=st.data())
def test_elementwise_jacobian_is_diagonal_of_derivative(
    name: str, z: np.ndarray, v: st.DataObject
) -> None:
    g = get_activation(name)
    J = g.jacobian(z)
    assert J.shape == (z.size, z.size)
    np.testing.assert_array_equal(J, np.diag(g.derivative(z)))
    u = np.array(v.draw(st.lists(st.floats(-3, 3), min_size=z.size, max_size=z.size)))
    np.testing.assert_allclose(g.vjp(z, u), J.T @ u, rtol=1e-15, atol=0)


@given(z=vectors)
def test_softmax_jacobian_is_symmetric_with_rows_summing_to_zero(z: np.ndarray) -> None:
    J = Softmax().jacobian(z)
    np.testing.assert_array_equal(J, J.T)
    np.testing.assert_allclose(J.sum(axis=1), 0.0, atol=1e-15)


@given(z=vectors)
def test_softmax_jacobian_matches_finite_differences(z: np.ndarray) -> None:
    s = Softmax()
    columns = [(s(z + STEP * e) - s(z - STEP * e)) / (2 * STEP) for e in np.eye(z.size)]
    rtol, atol = FINITE_DIFFERENCE
    np.testing.assert_allclose(s.jacobian(z), np.column_stack(columns), rtol=rtol, atol=atol)


@given(z=vectors, shift=st.floats(-50, 50))
def test_softmax_vjp_is_transposed_jacobian_and_shift_invariant(
    z: np.ndarray, shift: float
) -> None:
    s = Softmax()
    v = np.arange(z.size, dtype=float) - 1.0
    np.testing.assert_allclose(s.vjp(z, v), s.jacobian(z).T @ v, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(s(z + shift), s(z), rtol=1e-12, atol=1e-15)


@given(
    z=st.integers(1, 6).flatmap(
        lambda n: st.lists(
            st.lists(st.floats(-1000, 1000), min_size=n, max_size=n), min_size=1, max_size=4
        )
    ),
    vector=st.booleans(),
)
def test_softmax_is_scipys_softmax(z: list[list[float]], vector: bool) -> None:
    # the reference: scipy.special.softmax, which the numpy version replaced (same operations in
    # the same order, so equal to the last bit), over logits of ±1000 and one vector or a batch
    Z = np.array(z).T  # n × B, one example per column
    if vector:
        Z = Z[:, 0]
    np.testing.assert_array_equal(Softmax()(Z), scipy_softmax(Z, axis=0))


def test_softmax_of_a_batch_is_per_column() -> None:
    Z = np.array([[0.0, 1000.0], [0.0, -1000.0]])
    np.testing.assert_allclose(Softmax()(Z), [[0.5, 1.0], [0.5, 0.0]])


@given(name=st.sampled_from(ELEMENTWISE), z=vectors, data=st.data())
def test_vjp_is_v_times_the_derivative_and_leaves_its_inputs_alone(
    name: str, z: np.ndarray, data: st.DataObject
) -> None:
    # vjp multiplies into g'(z)'s own array: z and v must come out unchanged
    g = get_activation(name)
    v = np.array(data.draw(st.lists(st.floats(-3, 3), min_size=z.size, max_size=z.size)))
    z0, v0 = z.copy(), v.copy()
    product = g.vjp(z, v)
    np.testing.assert_array_equal(z, z0)
    np.testing.assert_array_equal(v, v0)
    np.testing.assert_array_equal(
        product, [vi * gi for vi, gi in zip(v0, g.derivative(z0), strict=True)]
    )


def test_relu_vjp_is_v_times_relu_prime_to_the_bit() -> None:
    # relu's vjp skips forming relu'(z) (v ⊙ (z > 0)); against the product written out with
    # relu'(z) = 1 for z > 0 and 0 otherwise: the same bits, signed zeros and inf·0 = nan too
    z = np.array([-1.0, 0.0, -0.0, 2.0, 3.0, -2.0, 1.0, np.nan])
    v = np.array([-2.0, -3.0, 5.0, np.inf, -np.inf, np.inf, np.nan, 1.0])
    with np.errstate(invalid="ignore"):
        expected = v * np.array([1.0 if zi > 0 else 0.0 for zi in z])
        product = get_activation("relu").vjp(z, v)
    np.testing.assert_array_equal(product, expected)
    np.testing.assert_array_equal(np.signbit(product), np.signbit(expected))
    assert product.dtype == np.float64


@pytest.mark.parametrize(
    "derivative",
    [lambda z: z, lambda z: z[...], lambda z: z.astype(np.float32)],
    ids=["its input", "a view of its input", "float32"],
)
def test_vjp_does_not_write_into_a_derivative_it_does_not_own(derivative: UnaryFn) -> None:
    # g(z) = z²/2 with g'(z) = z given three ways: vjp may neither overwrite z nor round the
    # product to float32 (1 + 2⁻³⁰ is not a float32)
    g = Elementwise("half_square", lambda z: z * z / 2, derivative)
    z, v = np.array([1.5, -2.0, 1.0 + 2.0**-30]), np.array([2.0, 3.0, 1.0 + 2.0**-30])
    expected = v * np.asarray(derivative(z.copy()), dtype=np.float64)
    product = g.vjp(z, v)
    assert product.dtype == np.float64
    np.testing.assert_array_equal(product, expected)
    np.testing.assert_array_equal(z, [1.5, -2.0, 1.0 + 2.0**-30])


@pytest.mark.parametrize("name", [*ELEMENTWISE, "softmax"])
def test_finite_at_extreme_logits_without_warnings(name: str) -> None:
    # pytest turns every RuntimeWarning (overflow, invalid) into an error here
    z = np.array([-1000.0, 1000.0])
    g = get_activation(name)
    if name == "square":
        z = np.array([-1e100, 1e100])
    assert np.all(np.isfinite(g(z)))
    assert np.all(np.isfinite(g.jacobian(z)))


def test_sigmoid_saturates_to_exact_limits() -> None:
    g = get_activation("sigmoid")
    np.testing.assert_array_equal(g(np.array([-1000.0, 1000.0])), [0.0, 1.0])
    np.testing.assert_array_equal(g.derivative(np.array([-1000.0, 1000.0])), [0.0, 0.0])


def test_names_are_normalised() -> None:
    assert get_activation(" ReLU ").name == "relu"
    assert get_activation("Leaky-ReLU:0.2").name == "leaky_relu:0.2"
    assert get_activation("leaky_relu:0.01").name == "leaky_relu"


def test_unknown_name_lists_the_valid_ones() -> None:
    with pytest.raises(
        UnknownNameError,
        match=r"activation: expected one of identity, "
        r"leaky_relu, relu, sigmoid, softmax, softplus, square, tanh, got 'swish'",
    ):
        get_activation("swish")
    assert activation_names() == sorted(activation_names())


@pytest.mark.parametrize(
    ("name", "pattern"),
    [
        ("relu:2", r"expected no parameter for 'relu', got 'relu:2'; only leaky_relu takes one"),
        ("leaky_relu:steep", r"expected leaky_relu:<slope> with a number, got 'leaky_relu:steep'"),
        ("leaky_relu:nan", r"expected a finite leaky_relu slope, got 'leaky_relu:nan'"),
    ],
)
def test_bad_parameters_are_explained(name: str, pattern: str) -> None:
    with pytest.raises(InvalidValueError, match=pattern):
        get_activation(name, "activation")


@pytest.mark.parametrize("name", ELEMENTWISE)
@given(
    z=st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=1, max_size=6),
    data=st.data(),
)
def test_activation_layers_pass_through_their_rule_to_the_bit(
    name: str, z: list[float], data: st.DataObject
) -> None:
    # each elementwise layer kind calls its rule's g and v ⊙ g'(z) directly (one call fewer
    # per pass): the same bits as rule(z) and rule.vjp(z, v), whatever the values
    kind = from_rule(get_activation(name))
    rule = get_activation(name)
    Z = np.array(z).reshape(-1, 1)
    V = np.array(data.draw(st.lists(st.floats(), min_size=len(z), max_size=len(z))))
    V = V.reshape(-1, 1)
    with np.errstate(all="ignore"):
        out, expected_out = kind.forward({}, Z), rule(Z)
        back, grads = kind.backward({}, Z, out, V)
        expected_back = rule.vjp(Z, V)
    for ours, theirs in ((out, expected_out), (back, expected_back)):
        assert ours is not None and ours.dtype == np.float64
        assert ours.tobytes() == np.asarray(theirs).tobytes()
    assert grads == {}
    assert kind.backward({}, Z, out, V, need_input=False) == (None, {})


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_activation_layers_take_whole_numbers_as_floats(name: str) -> None:
    kind = from_rule(get_activation(name))
    Z = np.array([[-2], [0], [3]])
    out = kind.forward({}, Z)
    back, _ = kind.backward({}, Z, out, np.array([[1], [2], [3]]))
    assert out.dtype == np.float64 and back is not None and back.dtype == np.float64
    np.testing.assert_array_equal(out, get_activation(name)(Z.astype(np.float64)))
