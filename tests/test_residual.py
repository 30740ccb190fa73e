"""Residual blocks: y = x + f(x), its Jacobian I + J_f, the inner names of NOTATION.md, the
chains through the block, and the routes around dense and convolutional blocks (nested too)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jacobians.chains import example_jacobians, jacobian_route
from jacobians.cli import main
from jacobians.comparison import compare
from jacobians.errors import InvalidValueError, ShapeError, UnknownNameError
from jacobians.exercises.grading import check
from jacobians.exercises.sets import network_exercise
from jacobians.network import Network, forward
from jacobians.parameters import init_parameters

from . import references as ref
from .tolerances import EXACT, FINITE_DIFFERENCE

BLOCK = "dense(4), relu, residual(dense(4), relu, dense(4)), relu, dense(1), sigmoid"


def test_inner_layers_are_numbered_inside_the_block() -> None:
    net = Network.from_layers(BLOCK, "3")
    assert [(n.label, n.input, n.output) for n in net.all_nodes] == [
        ("1", "a0", "z1"),
        ("1", "z1", "a1"),
        ("2", "a1", "a2"),  # the block: a2 = a1 + f(a1)
        ("2_1", "a1", "z2_1"),
        ("2_1", "z2_1", "a2_1"),
        ("2_2", "a2_1", "a2_2"),
        ("3", "a2", "a3"),
        ("4", "a3", "z4"),
        ("4", "z4", "a4"),
    ]
    assert list(net.parameter_shapes) == ["W1", "b1", "W2_1", "b2_1", "W2_2", "b2_2", "W4", "b4"]
    nested = Network.from_layers("dense(2), residual(dense(2), residual(dense(2), tanh))", "2")
    assert [n.output for n in nested.all_nodes] == ["a1", "a2", "a2_1", "a2_2", "z2_2_1", "a2_2_1"]


def test_the_block_is_the_identity_plus_its_chain() -> None:
    # ∂a2/∂a1 = I + J_f, J_f = ∂a2_2/∂a2_1 · ∂a2_1/∂z2_1 · ∂z2_1/∂a1 (each by the routes), and
    # the whole against finite differences of a2 = a1 + f(a1), f computed here by hand
    net = Network.from_layers(BLOCK, "3")
    params = init_parameters(net, 4)
    cache = forward(net, params)
    jac = example_jacobians(net, params, cache)
    J_f = jac["J_a2_2_a2_1"] @ jac["J_a2_1_z2_1"] @ jac["J_z2_1_a1"]
    np.testing.assert_allclose(jac["J_a2_a1"], np.eye(4) + J_f, *EXACT)
    np.testing.assert_array_equal(jac["J_a2_a2_2"], np.eye(4))

    def block(a1: np.ndarray) -> np.ndarray:
        h = np.maximum(params["W2_1"] @ a1 + params["b2_1"], 0)
        return a1 + params["W2_2"] @ h + params["b2_2"]

    a1 = cache.values["a1"][:, 0]
    np.testing.assert_allclose(block(a1), cache.values["a2"][:, 0], *EXACT)
    np.testing.assert_allclose(
        jac["J_a2_a1"], ref.numerical_jacobian(block, a1), *FINITE_DIFFERENCE
    )


def test_a_parameter_inside_is_reached_through_the_identity() -> None:
    net = Network.from_layers(BLOCK, "3")
    route = jacobian_route(net, init_parameters(net, 4))
    chains = {r.target: [name for name, _ in r.factors] for r in route.chains}
    assert chains["dW2_1"] == [
        "J_L_a4",
        "J_a4_z4",
        "J_z4_a3",
        "J_a3_a2",
        "J_a2_a2_2",
        "J_a2_2_a2_1",
        "J_a2_1_z2_1",
        "J_z2_1_W2_1",
    ]
    assert chains["dW1"][4:] == ["J_a2_a1", "J_a1_z1", "J_z1_W1"]


BLOCKS = [
    (BLOCK, "3", "bce"),
    ("residual(dense(3), tanh), dense(2), softmax", "3", "ce"),
    (
        "conv2d(2, 3, padding=1), residual(conv2d(2, 3, padding=1), relu, "
        "conv2d(2, 3, padding=1)), relu, flatten, dense(1)",
        "1x4x4",
        "mse",
    ),
    (
        "dense(3), residual(dense(3), batchnorm, relu, residual(dense(3), tanh)), layernorm, "
        "dense(2), softmax",
        "2",
        "ce",
    ),
    ("dense(3), residual(dropout(0.5), dense(3)), dense(1)", "2", "mse"),
    ("residual(maxpool(1), conv2d(1, 1)), flatten, dense(1)", "1x3x3", "mse"),
]


@settings(max_examples=20)
@given(
    case=st.sampled_from(BLOCKS),
    seed=st.integers(0, 2**32 - 1),
    batch=st.integers(1, 3),
    representation=st.sampled_from(["dense", "sparse", "structured"]),
    order=st.sampled_from(["reverse", "forward", "optimal"]),
)
def test_the_three_routes_agree_around_blocks(
    case: tuple[str, str, str], seed: int, batch: int, representation: str, order: str
) -> None:
    spec, shape, loss = case
    net = Network.from_layers(spec, shape, loss)
    result = compare(net, init_parameters(net, seed, batch), order, jacobians=representation)
    assert all(d.agree for d in result.jacobian_vs_vectorized.values())
    assert all(d.agree or d.inconclusive for d in result.numerical_vs_vectorized.values())


def test_the_json_nests_the_block_and_replays(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = "dense(3), residual(dropout(0.5), dense(3)), dense(1)"
    assert main(["compare", "--input", "2", "--layers", spec, "--batch", "2", "--json"]) == 0
    out = capsys.readouterr().out
    block = json.loads(out)["network"]["layers"][1]
    assert block["kind"] == "residual" and block["layer"] == 2 and block["output"] == "a2"
    assert [(x["kind"], x["layer"], x["output"]) for x in block["layers"]] == [
        ("dropout", "2_1", "a2_1"),
        ("dense", "2_2", "a2_2"),
    ]
    assert block["layers"][1]["parameters"] == {"W": "W2_2", "b": "b2_2"}
    assert np.shape(block["layers"][0]["mask"]) == (3, 2)
    path = tmp_path / "run.json"
    path.write_text(out)
    assert main(["compare", "--params", str(path), "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["cost"] == json.loads(out)["cost"]


@pytest.mark.parametrize(
    ("layers", "shape", "error", "pattern"),
    [
        (
            "dense(4), residual(dense(3))",
            "3",
            ShapeError,
            r"layers\[2\] 'residual\(dense\(3\)\)': output: expected the input's shape, a "
            r"vector of 4, to add them, got a vector of 3 from dense\(3\); the inner layers must "
            r"keep the shape",
        ),
        (
            "dense(4), residual(dense(4), maxpool(2))",
            "3",
            ShapeError,
            r"layers\[2\] 'residual\(dense\(4\), maxpool\(2\)\)': layers\[2\] 'maxpool\(2\)': "
            r"input: "
            r"expected an image",
        ),
        (
            "dense(4), residual()",
            "3",
            InvalidValueError,
            r"layers\[2\] 'residual\(\)': expected a sequence of layers",
        ),
        (
            "dense(4), residual(dense(4), gelu)",
            "3",
            UnknownNameError,
            r"layers\[2\] 'residual\(dense\(4\), gelu\)': layers\[2\]: expected one of",
        ),
    ],
)
def test_bad_blocks_name_both_places(
    layers: str, shape: str, error: type[Exception], pattern: str
) -> None:
    with pytest.raises(error, match=pattern):
        Network.from_layers(layers, shape, "mse")


def test_the_checker_names_a_forgotten_identity_path() -> None:
    # the gradient reaching a1 through the block: (I + J_f)ᵀ applied; forgetting I leaves J_fᵀ
    exercise = network_exercise(layers=BLOCK, input_shape="3", loss="bce", seed=3)
    key = exercise.key.entries
    at_a2 = key["J_L_a3"].reference @ key["J_a3_a2"].reference
    J_f = key["J_a2_a1"].reference - np.eye(4)
    np.testing.assert_allclose(key["J_L_a1"].reference, at_a2 @ (np.eye(4) + J_f), *EXACT)
    result = next(
        r
        for r in check(exercise, {"J_L_a1": (at_a2 @ J_f).tolist()}, time_limit=None).results
        if r.name == "J_L_a1"
    )
    assert (result.verdict, result.mistake) == ("incorrect", "identity_path_forgotten")


def test_the_cache_indexes_the_networks_own_layers() -> None:
    net = Network.from_layers("dense(3), relu, residual(dense(3), tanh), dense(1), sigmoid", "3")
    cache = forward(net, init_parameters(net, 0, 2))
    assert len(cache.a) == 4 and len(cache.z) == 4  # a[0] … a[3]: the block's a[2_1] is inside
    np.testing.assert_array_equal(cache.a[2], cache.values["a2"])
    np.testing.assert_array_equal(cache.z[3], cache.values["z3"])
