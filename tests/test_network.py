"""Network specs and the walk-through reference case of NOTATION.md."""

from __future__ import annotations

import numpy as np
import pytest

from jacobians.backprop import backward_steps
from jacobians.chains import example_jacobians, jacobian_shapes
from jacobians.errors import InvalidValueError, UnknownNameError
from jacobians.network import Network, bind, cost, forward, parse_sizes
from jacobians.parameters import init_parameters


def test_walkthrough_reference_case() -> None:
    # NOTATION.md: 22 weights + 7 biases = 29; ∂z3/∂vec(W3) 1×2, ∂z2/∂vec(W2) 2×8,
    # ∂z1/∂vec(W1) 4×12, ∂z2/∂z1 = ∂z2/∂a1 · ∂a1/∂z1 is 2×4.
    net = Network.from_spec("3-4-2-1", "relu,relu,sigmoid", "bce")
    assert net.parameter_count == 29
    shapes = jacobian_shapes(net)
    assert shapes["J_z3_W3"] == (1, 2)
    assert shapes["J_z2_W2"] == (2, 8)
    assert shapes["J_z1_W1"] == (4, 12)
    params = init_parameters(net, seed=3)
    jac = example_jacobians(net, params, forward(net, params))
    assert (jac["J_z2_a1"] @ jac["J_a1_z1"]).shape == (2, 4)
    assert {k: v.shape for k, v in jac.items()} == shapes


@pytest.mark.parametrize("spec", ["3-4-2-1", "3,4,2,1", " 3, 4 ,2,1 ", "3x4x2x1", [3, 4, 2, 1]])
def test_sizes_spellings(spec: object) -> None:
    assert parse_sizes(spec) == (3, 4, 2, 1)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("sizes", "pattern"),
    [
        ("3-four-1", r"sizes: expected whole numbers such as 3,4,2,1 or 3-4-2-1, got '3-four-1'"),
        ("3", r"sizes: expected at least two sizes \(inputs and outputs\), got '3'"),
        ("3,0,1", r"sizes: expected positive sizes, got '3,0,1'"),
        ([3, 2.5], r"sizes: expected whole numbers, got \[3, 2.5\]"),
    ],
)
def test_bad_sizes(sizes: object, pattern: str) -> None:
    with pytest.raises(InvalidValueError, match=pattern):
        parse_sizes(sizes)  # type: ignore[arg-type]


def test_count_mismatch_names_both_counts() -> None:
    with pytest.raises(
        InvalidValueError,
        match=r"activations: expected 3 names, one per layer "
        r"of 3-4-2-1, got 2: relu,sigmoid",
    ):
        Network.from_spec("3-4-2-1", "relu,sigmoid", "bce")


def test_unknown_activation_says_which_layer() -> None:
    with pytest.raises(UnknownNameError, match=r"activations\[2\]: expected one of .*, got 'gelu'"):
        Network.from_spec("3-4-2-1", "relu,gelu,sigmoid", "bce")


@pytest.mark.parametrize(
    ("spec", "pattern"),
    [
        (
            ("2-3", "relu", "ce"),
            r"loss: expected a softmax output for 'ce' \(the outputs a "
            r"distribution over classes\), got 'relu'; end the network in softmax, or use bce with "
            r"sigmoid, mse or sum",
        ),
        (
            ("2-3", "softmax", "bce"),
            r"loss: expected a sigmoid output for 'bce' \(each output an "
            r"independent probability\), got 'softmax'",
        ),
        (("2-3", "sigmoid", "ce"), r"expected a softmax output for 'ce'"),
    ],
)
def test_probability_losses_need_their_output(spec: tuple[str, str, str], pattern: str) -> None:
    with pytest.raises(InvalidValueError, match=pattern):
        Network.from_spec(*spec)


def test_cost_is_mean_of_example_losses() -> None:
    net = Network.from_spec("2-3-2", "tanh,softmax", "ce")
    params = init_parameters(net, seed=1, batch=4)
    each = [cost(net, params.example(i)) for i in range(4)]
    assert cost(net, params) == pytest.approx(float(np.mean(each)), rel=1e-14)


def test_init_is_reproducible_and_targets_suit_the_loss() -> None:
    for loss, out in (("bce", "sigmoid"), ("ce", "softmax"), ("mse", "tanh"), ("sum", "relu")):
        net = Network.from_spec("3-5-4", f"relu,{out}", loss)
        a, b = init_parameters(net, 7, 3), init_parameters(net, 7, 3)
        for x, y in zip(a.arrays().values(), b.arrays().values(), strict=True):
            np.testing.assert_array_equal(x, y)
        if loss != "sum":
            net.loss.validate_target(a.target(net))
        else:
            assert a.y is None


def test_bind_gives_every_layer_its_values_and_both_passes_agree_with_it() -> None:
    # bind is built once per route call and read by the forward and the backward pass: each
    # layer (a block's own too) gets its own arrays by role, a layer without any an empty and
    # read-only mapping, and both passes give exactly what they give when they build them
    net = Network.from_layers(
        "dense(3), relu, dropout(0.5), residual(dense(3), tanh), dense(2)", "2", "mse"
    )
    params = init_parameters(net, 0, 4)
    bound = bind(net, params)
    assert list(bound) == ["z1", "a1", "a2", "a3", "z3_1", "a3_1", "a4"]
    assert bound["z1"]["W"] is params["W1"] and bound["z1"]["b"] is params["b1"]
    assert bound["z3_1"]["W"] is params["W3_1"] and bound["a4"]["b"] is params["b4"]
    assert bound["a2"]["mask"] is params.state["mask2"]
    assert {name: len(own) for name, own in bound.items()} == {
        "z1": 2, "a1": 0, "a2": 1, "a3": 0, "z3_1": 2, "a3_1": 0, "a4": 2
    }  # fmt: skip
    with pytest.raises(TypeError):
        bound["a1"]["W"] = params["W1"]  # type: ignore[index]
    built, read = forward(net, params), forward(net, params, bound=bound)
    assert list(read.values) == list(built.values)
    for name, value in built.values.items():
        np.testing.assert_array_equal(read.values[name], value)
    steps = zip(
        backward_steps(net, params, built),
        backward_steps(net, params, read, bound=bound),
        strict=True,
    )
    for one, other in steps:
        assert one.node == other.node and list(one.grads) == list(other.grads)
        np.testing.assert_array_equal(one.g, other.g)
        for role, value in one.grads.items():
            np.testing.assert_array_equal(other.grads[role], value)


def test_what_every_pass_reads_is_named_once_per_network() -> None:
    # written out by hand from the spec: pooling first (no parameters), a block whose own
    # dense layer is its only parametric one, dropout's mask as state
    net = Network.from_layers(
        "maxpool(1), flatten, dense(3), dropout(0.5), residual(dense(3), tanh), dense(2)",
        "1x2x2",
        "mse",
    )
    assert net.first_trained == 2
    assert net.gradient_names == {
        "a3": ("delta3", (("W", "dW3"), ("b", "db3"))),  # no activation follows: a[3]
        "z5_1": ("delta5_1", (("W", "dW5_1"), ("b", "db5_1"))),
        "a6": ("delta6", (("W", "dW6"), ("b", "db6"))),
    }
    assert net.roles == (
        ("a3", (("W", "W3"), ("b", "b3")), ()),
        ("a4", (), (("mask", "mask4"),)),
        ("z5_1", (("W", "W5_1"), ("b", "b5_1")), ()),
        ("a6", (("W", "W6"), ("b", "b6")), ()),
    )
    assert list(net.unbound) == ["a1", "a2", "a3", "a4", "a5", "z5_1", "a5_1", "a6"]
