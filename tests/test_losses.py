"""Laws of the loss registry: the row ∂L/∂ŷ is the slope of L, reference values by hand,
finite losses from logits of ±1000, and targets checked with messages."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from jacobians.activations import get_activation
from jacobians.errors import InvalidValueError, UnknownNameError
from jacobians.losses import FUSED, LOSSES, get_loss

from .tolerances import EXACT, FINITE_DIFFERENCE, STEP

probabilities = st.lists(st.floats(0.05, 0.95), min_size=1, max_size=5).map(np.array)


def _targets(name: str, yhat: np.ndarray, k: int) -> np.ndarray:
    if name == "ce":
        return np.eye(yhat.size)[k % yhat.size]
    if name == "bce":
        return (np.arange(yhat.size) + k) % 2 * 1.0
    return np.linspace(-1.0, 1.0, yhat.size) * k


@given(name=st.sampled_from(sorted(LOSSES)), yhat=probabilities, k=st.integers(0, 5))
def test_row_is_the_slope_of_the_loss(name: str, yhat: np.ndarray, k: int) -> None:
    loss, y = get_loss(name), _targets(name, yhat, k)
    numeric = [
        (loss.value(yhat + STEP * e, y) - loss.value(yhat - STEP * e, y)) / (2 * STEP)
        for e in np.eye(yhat.size)
    ]
    row = loss.row(yhat, y)
    assert row.shape == (1, yhat.size)
    rtol, atol = FINITE_DIFFERENCE
    np.testing.assert_allclose(row[0], numeric, rtol=rtol, atol=atol)


# By hand: −log ½ = ln 2; ½(1² + 2²) = 2.5; −log ¾; 1 + 2 + 3.
@pytest.mark.parametrize(
    ("name", "yhat", "y", "value"),
    [
        ("bce", [0.5], [1.0], math.log(2.0)),
        ("bce", [0.5, 0.5], [0.0, 1.0], 2 * math.log(2.0)),
        ("mse", [1.0, 2.0], [0.0, 0.0], 2.5),
        ("ce", [0.25, 0.75], [0.0, 1.0], -math.log(0.75)),
        ("sum", [1.0, 2.0, 3.0], [0.0, 0.0, 0.0], 6.0),
    ],
)
def test_reference_values(name: str, yhat: list[float], y: list[float], value: float) -> None:
    assert float(get_loss(name).value(np.array(yhat), np.array(y))) == pytest.approx(
        value, rel=1e-15
    )


def test_batch_values_are_per_column() -> None:
    yhat = np.array([[0.5, 0.25], [0.5, 0.75]])
    y = np.array([[1.0, 0.0], [0.0, 1.0]])
    np.testing.assert_allclose(get_loss("ce").value(yhat, y), [math.log(2), -math.log(0.75)])


def test_bce_at_zero_and_one() -> None:
    bce = get_loss("bce")
    # a confident right answer costs 0 (0·log 0 = 0), a confident wrong one +∞; no warnings
    assert float(bce.value(np.array([0.0, 1.0]), np.array([0.0, 1.0]))) == 0.0
    assert float(bce.value(np.array([0.0]), np.array([1.0]))) == math.inf
    # ∂L/∂ŷ: −1 at ŷ = y = 1 and 1 at ŷ = y = 0 (the limits); ±∞ where the answer is wrong
    np.testing.assert_array_equal(
        bce.row(np.array([1.0, 0.0]), np.array([1.0, 0.0])), [[-1.0, 1.0]]
    )
    np.testing.assert_array_equal(
        bce.row(np.array([1.0, 0.0]), np.array([0.0, 1.0])), [[np.inf, -np.inf]]
    )


@pytest.mark.parametrize(("activation", "loss"), sorted(FUSED))
def test_logit_value_equals_value_of_activation(activation: str, loss: str) -> None:
    z = np.array([[0.3, -1.2], [1.5, 0.1], [-0.7, 2.0]])
    y = np.array([[0.0, 1.0], [1.0, 0.0], [0.0, 0.0]])
    g, fused = get_activation(activation), FUSED[(activation, loss)]
    rtol, atol = EXACT
    np.testing.assert_allclose(
        fused.logit_value(z, y), get_loss(loss).value(g(z), y), rtol=rtol, atol=atol
    )


def test_logit_values_are_finite_at_1000() -> None:
    # −log(1 − σ(1000)) = 1000 + log(1 + e^−1000) = 1000 to double precision, and likewise
    # −log softmax([1000, 0])₂ = 1000 + log(1 + e^−1000).
    bce = FUSED[("sigmoid", "bce")].logit_value(
        np.array([[1000.0], [-1000.0]]), np.array([[0.0], [1.0]])
    )
    assert float(bce[0]) == 2000.0
    ce = FUSED[("softmax", "ce")].logit_value(np.array([[1000.0], [0.0]]), np.array([[0.0], [1.0]]))
    assert float(ce[0]) == 1000.0


@given(a=probabilities, k=st.integers(0, 4))
def test_fused_delta_is_the_product_of_the_two_factors(a: np.ndarray, k: int) -> None:
    # ∂L/∂ŷ · ∂ŷ/∂z = (a − y)ᵀ for sigmoid with bce: check with a = σ(z)
    z = np.log(a / (1 - a))
    y = _targets("bce", a, k)
    sig = get_activation("sigmoid")
    product = get_loss("bce").row(sig(z), y) @ sig.jacobian(z)
    rtol, atol = EXACT
    np.testing.assert_allclose(
        product, FUSED[("sigmoid", "bce")].row(sig(z), y), rtol=rtol, atol=atol
    )


@pytest.mark.parametrize(
    ("name", "y", "pattern"),
    [
        (
            "bce",
            [0.5, 1.5],
            r"y: expected values in \[0, 1\] for loss 'bce', got a value 1.5 outside \[0, 1\]",
        ),
        ("bce", [-0.1], r"got a value -0.1 outside"),
        (
            "ce",
            [[1.0, 0.0], [1.0, 0.0]],
            r"y: expected one-hot columns \(one 1, the rest 0\) for loss 'ce', "
            r"got column 0 = \[1., 1.\], which is not one-hot",
        ),
        ("ce", [[0.5, 0.0], [0.5, 1.0]], r"column 0 = \[0.5, 0.5\]"),
    ],
)
def test_targets_are_checked(name: str, y: list[float], pattern: str) -> None:
    with pytest.raises(InvalidValueError, match=pattern):
        get_loss(name).validate_target(np.array(y))


def test_unknown_loss_lists_the_valid_ones() -> None:
    with pytest.raises(
        UnknownNameError, match=r"loss: expected one of bce, ce, mse, sum, got 'hinge'"
    ):
        get_loss("hinge")
    assert get_loss(" MSE ").name == "mse"
