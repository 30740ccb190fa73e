"""The composer: every order gives the same product; the counts are right; optimal is least."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from jacobians.compose import (
    Factor,
    multiply,
    optimal_splits,
    order_cost,
    row_to_matrix,
    row_to_vector,
)
from jacobians.errors import ShapeError, UnknownNameError

dims_lists = st.lists(st.integers(1, 7), min_size=2, max_size=7)


def _chain(dims: list[int], seed: int = 0) -> list[Factor]:
    rng = np.random.default_rng(seed)
    return [Factor(f"F{i}", rng.standard_normal((p, q))) for i, (p, q) in enumerate(pairwise(dims))]


def _brute_force_min(dims: list[int]) -> int:
    """Least cost over every parenthesisation, by recursion over the last split."""

    def best(i: int, j: int) -> int:
        if i == j:
            return 0
        return min(
            best(i, s) + best(s + 1, j) + dims[i] * dims[s + 1] * dims[j + 1] for s in range(i, j)
        )

    return best(0, len(dims) - 2)


@given(dims=dims_lists, seed=st.integers(0, 1000))
def test_every_order_gives_the_same_product(dims: list[int], seed: int) -> None:
    factors = _chain(dims, seed)
    reference = (
        np.linalg.multi_dot([f.matrix for f in factors]) if len(factors) > 1 else factors[0].matrix
    )
    for order in ("reverse", "forward", "optimal"):
        np.testing.assert_allclose(
            multiply(factors, order).value, reference, rtol=1e-10, atol=1e-10
        )


@given(dims=dims_lists)
def test_optimal_is_least_and_equals_brute_force(dims: list[int]) -> None:
    factors = _chain(dims)
    costs = {o: multiply(factors, o).multiply_adds for o in ("reverse", "forward", "optimal")}
    assert costs["optimal"] <= min(costs["reverse"], costs["forward"])
    assert costs["optimal"] == _brute_force_min(dims) == optimal_splits(dims)[0]


def _simulated_cost(dims: list[int], order: str) -> int:
    """Count p·q·r for each product while multiplying shapes one step at a time."""
    shapes = list(pairwise(dims))
    total = 0
    if order == "reverse":
        rows, cols = shapes[0]
        for q, r in shapes[1:]:
            total += rows * q * r
            cols = r
        return total
    rows, cols = shapes[-1]
    for p, q in reversed(shapes[:-1]):
        total += p * q * cols
        rows = p
    return total


@given(dims=dims_lists)
def test_counts_equal_the_sum_of_each_products_cost(dims: list[int]) -> None:
    for order in ("reverse", "forward"):
        assert order_cost(dims, order) == _simulated_cost(dims, order)
        assert multiply(_chain(dims), order).multiply_adds == _simulated_cost(dims, order)


def test_walkthrough_chain_costs() -> None:
    # ∂L/∂vec(W2) in the walk-through: (1×1)(1×1)(1×2)(2×2)(2×8), counted by hand
    dims = [1, 1, 1, 2, 2, 8]
    assert order_cost(dims, "reverse") == 1 * 1 * 1 + 1 * 1 * 2 + 1 * 2 * 2 + 1 * 2 * 8
    assert order_cost(dims, "forward") == 2 * 2 * 8 + 1 * 2 * 8 + 1 * 1 * 8 + 1 * 1 * 8


@given(dims=dims_lists, seed=st.integers(0, 1000))
def test_adjoint_identity_links_the_two_accumulations(dims: list[int], seed: int) -> None:
    # ⟨u, J v⟩ = ⟨Jᵀ u, v⟩: reverse accumulates uᵀJ, forward accumulates J v
    factors = _chain(dims, seed)
    rng = np.random.default_rng(seed + 1)
    u, v = rng.standard_normal((1, dims[0])), rng.standard_normal((dims[-1], 1))
    uJ = multiply([Factor("u", u), *factors], "reverse").value
    Jv = multiply([*factors, Factor("v", v)], "forward").value
    np.testing.assert_allclose(float((uJ @ v)[0, 0]), float((u @ Jv)[0, 0]), rtol=1e-10, atol=1e-10)


def test_expressions_show_the_parenthesisation() -> None:
    factors = _chain([1, 3, 3, 9])
    assert multiply(factors, "reverse").expression == "((F0·F1)·F2)"
    assert multiply(factors, "forward").expression == "(F0·(F1·F2))"
    assert multiply(factors, "optimal").expression == "((F0·F1)·F2)"
    assert multiply(_chain([9, 3, 3, 1]), "optimal").expression == "(F0·(F1·F2))"


def test_row_reshapes_in_c_order() -> None:
    row = np.arange(6.0).reshape(1, 6)
    np.testing.assert_array_equal(row_to_matrix(row, (2, 3)), [[0, 1, 2], [3, 4, 5]])
    np.testing.assert_array_equal(row_to_vector(row), np.arange(6.0))


def test_errors() -> None:
    with pytest.raises(
        ShapeError, match=r"chain F0·F1: expected F1 with 3 rows, got shapes 1×3 and 2×2"
    ):
        multiply([Factor("F0", np.ones((1, 3))), Factor("F1", np.ones((2, 2)))])
    with pytest.raises(
        UnknownNameError, match=r"order: expected one of forward, optimal, reverse, got 'sideways'"
    ):
        multiply(_chain([1, 2]), "sideways")
    with pytest.raises(ShapeError, match=r"row: expected shape 1×6 to reshape into 2×3, got 1×5"):
        row_to_matrix(np.ones((1, 5)), (2, 3))
    with pytest.raises(ShapeError, match=r"chain: expected at least one Jacobian, got none"):
        multiply([])


def test_brute_force_helper_agrees_with_enumeration() -> None:
    # the helper itself, against all 5 parenthesisations of four matrices
    dims = [3, 1, 4, 1, 5]
    p = dims
    candidates = [
        p[0] * p[1] * p[2] + p[0] * p[2] * p[3] + p[0] * p[3] * p[4],  # ((AB)C)D
        p[1] * p[2] * p[3] + p[0] * p[1] * p[3] + p[0] * p[3] * p[4],  # (A(BC))D
        p[0] * p[1] * p[2] + p[2] * p[3] * p[4] + p[0] * p[2] * p[4],  # (AB)(CD)
        p[1] * p[2] * p[3] + p[1] * p[3] * p[4] + p[0] * p[1] * p[4],  # A((BC)D)
        p[2] * p[3] * p[4] + p[1] * p[2] * p[4] + p[0] * p[1] * p[4],  # A(B(CD))
    ]
    assert _brute_force_min(dims) == min(candidates)


@given(dims=dims_lists, order=st.sampled_from(["reverse", "forward", "optimal"]))
def test_plan_is_what_multiply_reports(dims: list[int], order: str) -> None:
    from jacobians.compose import plan

    factors = _chain(dims)
    product = multiply(factors, order)
    assert plan([f.name for f in factors], dims, order) == (
        product.multiply_adds,
        product.expression,
    )
