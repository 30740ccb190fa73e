"""Laws of the target samplers (:meth:`jacobians.losses.Loss.sample`) and of the ``y`` that
:func:`~jacobians.parameters.init_parameters` draws with them: every value a loss accepts can
be drawn (bce both 0 and 1, ce every class including class 0), every draw is valid, and one
output (``n = 1``) works like any other.

The "every value appears" laws draw ``B = 200`` columns: a fair sampler misses a value with
probability at most ``n·(1 − 1/n)^B`` (``2^-199`` for bce, ``5·0.8^200 < 10^-18`` for five
classes), so they fail only for a sampler that cannot draw the value."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from jacobians.losses import LOSSES
from jacobians.network import Network
from jacobians.parameters import init_parameters

MANY = 200
seeds = st.integers(0, 2**32 - 1)
outputs = st.integers(1, 5)


def _draw(name: str, seed: int, n: int, batch: int) -> np.ndarray:
    y = LOSSES[name].sample(np.random.default_rng(seed), n, batch)
    assert y is not None
    assert y.shape == (n, batch)
    assert y.dtype == np.float64
    return y


@given(seed=seeds, n=outputs)
def test_bce_draws_both_labels_for_every_output(seed: int, n: int) -> None:
    y = _draw("bce", seed, n, MANY)
    assert set(np.unique(y)) <= {0.0, 1.0}
    for row in y:  # each output is an independent label: both values in every row
        assert (row == 0.0).any() and (row == 1.0).any()


@given(seed=seeds, n=st.integers(2, 5))
def test_ce_draws_every_class_including_the_first(seed: int, n: int) -> None:
    y = _draw("ce", seed, n, MANY)
    classes = np.argmax(y, axis=0)
    assert set(classes.tolist()) == set(range(n))


@given(seed=seeds, n=outputs, batch=st.integers(1, 8))
def test_ce_draws_one_hot_columns(seed: int, n: int, batch: int) -> None:
    y = _draw("ce", seed, n, batch)
    assert set(np.unique(y)) <= {0.0, 1.0}
    np.testing.assert_array_equal(y.sum(axis=0), np.ones(batch))


@given(seed=seeds, n=outputs, batch=st.integers(1, 8))
def test_bce_draws_labels(seed: int, n: int, batch: int) -> None:
    y = _draw("bce", seed, n, batch)
    assert set(np.unique(y)) <= {0.0, 1.0}
    LOSSES["bce"].validate_target(y)


@given(seed=seeds, n=outputs)
def test_mse_draws_distinct_real_numbers(seed: int, n: int) -> None:
    y = _draw("mse", seed, n, MANY)
    assert np.isfinite(y).all()
    assert len(np.unique(y)) == y.size  # continuous draws: no two equal, none forced to labels
    assert (y < 0).any() and (y > 0).any()
    assert not set(np.unique(y)) <= {0.0, 1.0}


def test_sum_draws_no_target() -> None:
    assert LOSSES["sum"].sample(np.random.default_rng(0), 1, 3) is None


def test_one_output_one_example() -> None:
    """``n = 1``, ``B = 1``: a ``1 × 1`` target each loss accepts; ce's only class is class 0."""
    for name in ("bce", "ce", "mse"):
        y = _draw(name, 0, 1, 1)
        LOSSES[name].validate_target(y)
    np.testing.assert_array_equal(_draw("ce", 0, 1, 1), [[1.0]])
    assert _draw("bce", 0, 1, 1)[0, 0] in (0.0, 1.0)


def test_one_class_ce_is_always_class_zero() -> None:
    np.testing.assert_array_equal(_draw("ce", 3, 1, MANY), np.ones((1, MANY)))


@given(seed=seeds)
def test_init_parameters_draws_both_bce_labels_for_one_output(seed: int) -> None:
    net = Network.from_spec("3-4-1", "relu,sigmoid", "bce")
    y = init_parameters(net, seed, MANY).y
    assert y is not None and y.shape == (1, MANY)
    assert set(np.unique(y)) == {0.0, 1.0}


@given(seed=seeds)
def test_init_parameters_draws_every_ce_class(seed: int) -> None:
    net = Network.from_spec("3-4-3", "relu,softmax", "ce")
    y = init_parameters(net, seed, MANY).y
    assert y is not None and y.shape == (3, MANY)
    np.testing.assert_array_equal(y.sum(axis=0), np.ones(MANY))
    assert set(np.argmax(y, axis=0).tolist()) == {0, 1, 2}


@given(seed=seeds)
def test_init_parameters_with_one_output_and_one_example(seed: int) -> None:
    for activations, loss in (
        ("relu,sigmoid", "bce"),
        ("relu,softmax", "ce"),
        ("relu,tanh", "mse"),
    ):
        net = Network.from_spec("3-4-1", activations, loss)
        params = init_parameters(net, seed, 1)
        assert params.y is not None and params.y.shape == (1, 1)
        net.loss.validate_target(params.y)
        if loss == "ce":
            assert params.y[0, 0] == 1.0
