"""``jacobians.logistic`` against the library it stands in for: scipy.special's ``expit`` and
``log_expit``, equal to the last bit (NaN to NaN) on every float64 hypothesis draws, on the
places where the formulas change regime, and on arrays of any shape."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import special

from jacobians.logistic import expit, log_expit

# the edges: ±0, the smallest subnormal, where exp(−z) overflows (±709.78…), where σ rounds
# to 1 or to the smallest subnormal, the largest float, infinities and NaN
EDGES = [0.0, -0.0, 5e-324, -5e-324, 36.7, 37.0, -709.7, -709.8, 709.8, -745.2, -746.0,
         1e308, -1e308, np.inf, -np.inf, np.nan]  # fmt: skip

FUNCTIONS = [(expit, special.expit), (log_expit, special.log_expit)]


def _same_bits(ours: np.ndarray, theirs: np.ndarray) -> None:
    assert ours.dtype == np.float64
    assert ours.shape == np.shape(theirs)
    np.testing.assert_array_equal(ours, theirs)  # NaN where NaN; -0.0 == 0.0 below
    np.testing.assert_array_equal(np.signbit(ours), np.signbit(theirs))


@pytest.mark.parametrize(("ours", "theirs"), FUNCTIONS, ids=["expit", "log_expit"])
@given(z=st.floats(width=64))  # NaN, infinities and subnormals included
def test_equal_to_scipy_on_every_float(ours, theirs, z: float) -> None:  # type: ignore[no-untyped-def]
    _same_bits(ours(np.array(z)), theirs(np.array(z)))


@pytest.mark.parametrize(("ours", "theirs"), FUNCTIONS, ids=["expit", "log_expit"])
def test_equal_to_scipy_where_the_formulas_change_regime(ours, theirs) -> None:  # type: ignore[no-untyped-def]
    edges = np.array(EDGES)
    _same_bits(ours(edges), theirs(edges))
    _same_bits(ours(np.nextafter(edges, np.inf)), theirs(np.nextafter(edges, np.inf)))


@pytest.mark.parametrize(("ours", "theirs"), FUNCTIONS, ids=["expit", "log_expit"])
@given(
    z=hnp.arrays(
        np.float64,
        hnp.array_shapes(min_dims=0, max_dims=3, max_side=4),
        elements=st.floats(-800, 800),
    )
)
def test_equal_to_scipy_on_arrays_of_any_shape(ours, theirs, z: np.ndarray) -> None:  # type: ignore[no-untyped-def]
    before = z.copy()
    _same_bits(ours(z), theirs(z))
    np.testing.assert_array_equal(z, before)  # the input is left alone


def test_no_warning_where_exp_overflows_or_for_nan() -> None:
    # σ(−800) = 1 / (1 + ∞) = 0: the right limit, and NaN in gives NaN out, as scipy's, with
    # no RuntimeWarning under numpy's default error settings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert expit(np.array(-800.0)) == 0.0
        assert log_expit(np.array(-800.0)) == -800.0
        assert np.isnan(expit(np.array(np.nan))) and np.isnan(log_expit(np.array(np.nan)))
