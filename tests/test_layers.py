"""The dense layer's Jacobians: ∂z/∂vec(W) = I_n ⊗ aᵀ (row-major vec), ∂z/∂b = I, ∂z/∂a = W."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from jacobians.activations import get_activation
from jacobians.errors import ShapeError
from jacobians.layers import (
    jacobian_a_z,
    jacobian_z_a,
    jacobian_z_b,
    jacobian_z_W,
    preactivation,
)

finite = st.floats(-10, 10)
sizes = st.integers(1, 6)


@given(n=sizes, a=hnp.arrays(np.float64, st.integers(1, 6), elements=finite))
def test_z_W_is_kron_of_identity_and_a_transposed(n: int, a: np.ndarray) -> None:
    J = jacobian_z_W(a, n)
    assert J.shape == (n, n * a.size)
    np.testing.assert_array_equal(J, np.kron(np.eye(n), a.reshape(1, -1)))


@given(data=st.data(), n=sizes, m=sizes)
def test_z_W_columns_are_the_effect_of_each_weight(data: st.DataObject, n: int, m: int) -> None:
    # z is linear in W, so column k of ∂z/∂vec(W) is z(W + E_k) − z(W) for the unit matrix E_k
    # with vec(E_k)[k] = 1 in row-major order: E_k[k // m, k % m] = 1.
    W = data.draw(hnp.arrays(np.float64, (n, m), elements=finite))
    b = data.draw(hnp.arrays(np.float64, (n,), elements=finite))
    a = data.draw(hnp.arrays(np.float64, (m,), elements=finite))
    J = jacobian_z_W(a, n)
    for k in range(n * m):
        E = np.zeros((n, m))
        E[k // m, k % m] = 1.0
        np.testing.assert_allclose(
            J[:, k], preactivation(W + E, b, a) - preactivation(W, b, a), rtol=1e-12, atol=1e-12
        )


@given(data=st.data(), n=sizes, m=sizes)
def test_z_a_is_W_and_z_b_is_identity(data: st.DataObject, n: int, m: int) -> None:
    W = data.draw(hnp.arrays(np.float64, (n, m), elements=finite))
    J = jacobian_z_a(W)
    np.testing.assert_array_equal(J, W)
    J[0, 0] += 1.0  # a copy: changing the Jacobian never changes the parameter
    assert J[0, 0] != W[0, 0] or W[0, 0] + 1.0 == W[0, 0]
    np.testing.assert_array_equal(jacobian_z_b(n), np.eye(n))


def test_a_z_dispatches_to_the_activation() -> None:
    z = np.array([-1.0, 2.0])
    np.testing.assert_array_equal(jacobian_a_z(get_activation("relu"), z), [[0.0, 0.0], [0.0, 1.0]])
    assert jacobian_a_z(get_activation("softmax"), z).shape == (2, 2)


def test_preactivation_of_a_batch_adds_bias_to_every_column() -> None:
    W, b = np.array([[1.0, 2.0]]), np.array([10.0])
    np.testing.assert_array_equal(
        preactivation(W, b, np.array([[1.0, 0.0], [0.0, 1.0]])), [[11.0, 12.0]]
    )


def test_shape_errors_name_the_arrays() -> None:
    with pytest.raises(
        ShapeError, match=r"a\[l-1\]: expected 2 rows to match W of shape 1×2, got shape 3"
    ):
        preactivation(np.ones((1, 2)), np.ones(1), np.ones(3))
    with pytest.raises(
        ShapeError, match=r"a\[l-1\]: expected one example, shape \(m,\), got shape 2×2"
    ):
        jacobian_z_W(np.ones((2, 2)), 3)
