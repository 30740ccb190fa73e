"""Networks as sequences of layers: the dense shorthand is one case of the spec; convolutional
networks through the three routes, every representation and both batch strategies; the JSON
contract and replays; and every bad spec refused in one line naming the layer."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from jacobians.backprop import vectorized_route
from jacobians.chains import jacobian_route
from jacobians.comparison import compare
from jacobians.errors import InvalidValueError, ParameterFileError, ShapeError, UnknownNameError
from jacobians.layers.registry import KINDS
from jacobians.network import Network
from jacobians.parameters import Parameters, init_parameters, parameters_from_arrays
from jacobians.paramfile import write

from .commands import run
from .strategies import layer_problems, vector_layer_problems
from .tolerances import EXACT

SMALL_CNN = "conv2d(2, 2), relu, maxpool(2), flatten, dense(1), sigmoid"


@pytest.mark.parametrize(
    ("shorthand", "layers", "loss"),
    [
        (("3,4,2,1", "relu,relu,sigmoid"), "dense(4),relu,dense(2),relu,dense(1),sigmoid", "bce"),
        (("4,5,3", "tanh,softmax"), "dense(5), tanh, dense(3), softmax", "ce"),
        (
            ("2,3,2", "leaky_relu:0.2,identity"),
            "dense(3), leaky_relu(0.2), dense(2), identity",
            "mse",
        ),
    ],
)
def test_the_shorthand_is_the_sequence(
    capsys: pytest.CaptureFixture[str], shorthand: tuple[str, str], layers: str, loss: str
) -> None:
    sizes, activations = shorthand
    a = Network.from_spec(sizes, activations, loss)
    b = Network.from_layers(layers, sizes.split(",")[0], loss)
    assert a == b and a.is_dense and a.spec == sizes.replace(",", "-")
    options = ("--loss", loss, "--batch", "2")
    one = run(capsys, "compare", "--sizes", sizes, "--activations", activations, *options)
    other = run(capsys, "compare", "--input", sizes.split(",")[0], "--layers", layers, *options)
    assert one == other and one[0] == 0


def test_numbering_and_names_follow_the_notation() -> None:
    # NOTATION.md: a parametric layer followed by an activation is one layer; every other entry
    # is a layer of its own
    net = Network.from_layers(
        "conv2d(4, 3, padding=1), relu, maxpool(2), flatten, dense(10), softmax", "1x8x8", "ce"
    )
    assert [(n.layer, n.input, n.output) for n in net.nodes] == [
        (1, "a0", "z1"),
        (1, "z1", "a1"),
        (2, "a1", "a2"),
        (3, "a2", "a3"),
        (4, "a3", "z4"),
        (4, "z4", "a4"),
    ]
    assert net.parameter_shapes == {"W1": (4, 1, 3, 3), "b1": (4,), "W4": (10, 64), "b4": (10,)}
    from jacobians.paths import jacobian_shapes

    shapes = jacobian_shapes(net)
    assert shapes["J_z1_W1"] == (4 * 64, 4 * 9)  # I_4 ⊗ U, U is 64 × 9
    assert shapes["J_a2_a1"] == (64, 256)  # pooling
    assert shapes["J_a3_a2"] == (64, 64)  # flatten
    assert "J_z1_a0" not in shapes  # the input's Jacobian is in no chain


@given(problem=layer_problems(), order=st.sampled_from(["reverse", "forward", "optimal"]))
def test_cnn_routes_agree(problem: tuple[Network, Parameters], order: str) -> None:
    net, params = problem
    result = compare(net, params, order)
    assert all(d.agree for d in result.jacobian_vs_vectorized.values())
    assert all(d.agree or d.inconclusive for d in result.numerical_vs_vectorized.values())
    for name, value in result.vectorized.gradients.items():
        assert value.shape == params[name[1:]].shape


@given(problem=vector_layer_problems(), order=st.sampled_from(["reverse", "forward", "optimal"]))
def test_dense_sequences_with_and_without_activations_agree(
    problem: tuple[Network, Parameters], order: str
) -> None:
    # a dense layer not followed by an activation has no z (NOTATION.md): its output is a[l]
    net, params = problem
    result = compare(net, params, order)
    assert all(d.agree for d in result.jacobian_vs_vectorized.values())
    assert all(d.agree or d.inconclusive for d in result.numerical_vs_vectorized.values())
    for node in net.nodes:
        grouped = node.kind.name == "dense" and node.output.startswith("z")
        assert grouped == (node.output != f"a{node.layer}")


@given(
    problem=layer_problems(),
    representation=st.sampled_from(["dense", "sparse", "structured"]),
    strategy=st.sampled_from(["examples", "batch"]),
)
def test_cnn_representations_and_strategies_agree(
    problem: tuple[Network, Parameters], representation: str, strategy: str
) -> None:
    net, params = problem
    reference = vectorized_route(net, params)
    route = jacobian_route(net, params, "reverse", representation, strategy=strategy)
    scale = max(1.0, max(float(np.abs(v).max()) for v in reference.gradients.values()))
    for name, value in reference.gradients.items():
        np.testing.assert_allclose(
            route.gradients[name], value, rtol=EXACT[0], atol=EXACT[1] * scale
        )
    for name, value in reference.deltas.items():
        assert route.deltas[name].shape == value.shape
        np.testing.assert_allclose(route.deltas[name], value, rtol=EXACT[0], atol=EXACT[1] * scale)


def test_json_contract_for_a_cnn(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        capsys, "compare", "--input", "1x4x4", "--layers", SMALL_CNN, "--batch", "3", "--json"
    )
    assert code == 0, err
    data = json.loads(out)
    network = data["network"]
    assert network["loss"] == "bce" and network["input"] == [1, 4, 4]
    assert [(x["kind"], x["parameters"]) for x in network["layers"]] == [
        ("conv2d", {"W": "W1", "b": "b1"}),
        ("relu", {}),
        ("maxpool", {}),
        ("flatten", {}),
        ("dense", {"W": "W4", "b": "b4"}),
        ("sigmoid", {}),
    ]
    assert {
        k: network["layers"][0][k] for k in ("out_channels", "kernel", "stride", "padding")
    } == {
        "out_channels": 2,
        "kernel": 2,
        "stride": 1,
        "padding": 0,
    }
    assert {k: network["layers"][2][k] for k in ("size", "stride")} == {"size": 2, "stride": 2}
    shapes = {"W1": (2, 1, 2, 2), "b1": (2,), "W4": (1, 2), "b4": (1,)}
    assert {k: np.shape(v) for k, v in data["parameters"].items()} == shapes
    assert np.shape(data["x"]) == (1, 4, 4, 3) and np.shape(data["y"]) == (1, 3)
    for route in ("jacobian", "vectorized", "numerical"):
        assert {k: np.shape(v) for k, v in data[route].items()} == {
            f"d{k}": s for k, s in shapes.items()
        }
    assert np.shape(data["deltas"]["vectorized"]["delta1"]) == (2, 3, 3, 3)
    assert isinstance(data["cost"], float) and data["agree"] is True


def test_leaky_relu_slope_is_named_in_the_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "compare", "--input", "3", "--layers", "dense(2), leaky_relu(0.2)", "--json"
    )
    assert code == 0
    assert json.loads(out)["network"]["layers"][1] == {
        "kind": "leaky_relu",
        "slope": 0.2,
        "parameters": {},
        "layer": 1,
        "output": "a1",
    }


@pytest.mark.parametrize("suffix", [".json", ".toml", ".npz"])
def test_a_run_replays_from_its_arrays(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], suffix: str
) -> None:
    spec = (
        "--input",
        "2x5x5",
        "--layers",
        "conv2d(2, 2, padding=1), tanh, avgpool(2), flatten, dense(3), softmax",
    )
    code, out, _ = run(capsys, "compare", *spec, "--batch", "2", "--seed", "5", "--json")
    first = json.loads(out)
    arrays = {k: np.array(v) for k, v in first["parameters"].items()}
    arrays["x"], arrays["y"] = np.array(first["x"]), np.array(first["y"])
    path = tmp_path / f"run{suffix}"
    write(path, arrays)
    code, out, err = run(capsys, "compare", *spec, "--params", str(path), "--json")
    assert code == 0, err
    again = json.loads(out)
    assert again["cost"] == first["cost"] and again["vectorized"] == first["vectorized"]


def test_the_json_output_is_a_parameter_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # compare --json > run.json; compare --params run.json: the same network and numbers
    code, out, _ = run(capsys, "compare", "--input", "1x4x4", "--layers", SMALL_CNN, "--json")
    path = tmp_path / "run.json"
    path.write_text(out)
    code, again, err = run(capsys, "compare", "--params", str(path), "--json")
    assert code == 0, err
    first, second = json.loads(out), json.loads(again)
    assert second["network"] == first["network"] and second["cost"] == first["cost"]
    assert second["jacobian"] == first["jacobian"]


BAD_SPECS = [
    (
        "conv2d(2, 5)",
        "1x3x3",
        "layers[1] 'conv2d(2, 5)': kernel: expected at most 3 (the input 3×3 padded "
        "by 0 on each side), got 5; use a smaller kernel or more padding",
    ),
    (
        "conv2d(2, 4, padding=1), maxpool(3)",
        "1x3x3",
        "layers[2] 'maxpool(3)': size: expected at most 2, so that a window fits in "
        "the 2×2 input, got 3",
    ),
    (
        "maxpool(4)",
        "1x3x3",
        "layers[1] 'maxpool(4)': size: expected at most 3, so that a window fits in "
        "the 3×3 input, got 4",
    ),
    (
        "conv2d(2, 2), dense(3)",
        "1x4x4",
        "layers[2] 'dense(3)': input: expected a vector or a sequence T×d, got an image 2×3×3; "
        "add flatten before dense",
    ),
    (
        "dense(3), maxpool(2)",
        "4",
        "layers[2] 'maxpool(2)': input: expected an image C×H×W (pooling acts on the "
        "positions of each channel), got a vector of 3",
    ),
    ("conv2d(2, 2), softmax", "1x4x4", "layers[2] 'softmax': input: expected a vector"),
    (
        "dense(3), conv2d(1, 1)",
        "4",
        "layers[2] 'conv2d(1, 1)': input: expected an image C×H×W, got a vector of 3",
    ),
    (
        "gelu",
        "3",
        f"layers[1]: expected one of {', '.join(sorted(KINDS))}, got 'gelu'",
    ),
    (
        "dense(3, width=2)",
        "3",
        "layers[1] 'dense(3, width=2)': argument: expected one of units, got 'width'",
    ),
    ("dense(0)", "3", "layers[1] 'dense(0)': units: expected a whole number ≥ 1, got 0"),
    (
        "conv2d(2, -1)",
        "1x3x3",
        "layers[1] 'conv2d(2, -1)': kernel: expected a whole number ≥ 1, got -1",
    ),
    (
        "conv2d(2, 2, stride=1.5)",
        "1x3x3",
        "layers[1] 'conv2d(2, 2, stride=1.5)': stride: expected a whole number, got '1.5'",
    ),
    (
        "conv2d(2)",
        "1x3x3",
        "layers[1] 'conv2d(2)': expected kernel (k: the kernel is k × k), got none; "
        "write conv2d(out_channels, kernel, stride=1, padding=0)",
    ),
    ("relu(2)", "3", "layers[1] 'relu(2)': expected no arguments (relu takes none), got '2'"),
    ("dense(3", "3", "layers: expected balanced parentheses, got 'dense(3'"),
    (
        "dense(3),, relu",
        "3",
        "layers: expected comma-separated layers, got an empty layer in position 2",
    ),
    ("dense(3)", "0x3", "input: expected positive sizes, got '0x3'"),
    ("dense(3)", "1x2x3x4", "input: expected n (a vector), T×d (a sequence: tokens × features)"),
    (
        "maxpool(2)",
        "3x4",
        "expected an image C×H×W (pooling acts on the positions of each channel), got a "
        "sequence 3×4",
    ),
    ("dense(3)", "a", "input: expected a shape such as 3 or 1x28x28"),
]


@pytest.mark.parametrize(("layers", "shape", "expected"), BAD_SPECS)
def test_bad_specs_name_the_layer(
    capsys: pytest.CaptureFixture[str], layers: str, shape: str, expected: str
) -> None:
    code, out, err = run(capsys, "compare", "--layers", layers, "--input", shape)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("jacobians compare: error: ")
    assert expected in err, err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            (
                "--layers",
                "conv2d(2, 2), relu, flatten, dense(2), softmax",
                "--input",
                "1x4x4",
                "--loss",
                "bce",
            ),
            "loss: expected a sigmoid output for 'bce'",
        ),
        (
            ("--layers", "conv2d(2, 2), sigmoid", "--input", "1x4x4", "--loss", "bce"),
            "loss: expected a vector output for 'bce' (each output an independent "
            "probability), got an image 2×3×3; end the network in flatten, dense(n), "
            "sigmoid; or use mse or sum",
        ),
        (
            ("--layers", "flatten, dense(2), sigmoid", "--input", "1x4x4", "--loss", "ce"),
            "loss: expected a softmax output for 'ce'",
        ),
        (
            ("--layers", "dense(3)"),
            "--input: expected one example's shape with --layers, e.g. --input 3 or "
            "--input 1x28x28",
        ),
        (("--layers", "dense(3)", "--input", "3", "--sizes", "3,3"), "--sizes: not with --layers"),
        (("--input", "3"), "--input: only with --layers"),
    ],
)
def test_bad_combinations(
    capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], expected: str
) -> None:
    code, out, err = run(capsys, "compare", *argv)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert expected in err, err


def test_loss_defaults_to_the_output() -> None:
    assert Network.from_layers("flatten, dense(3), softmax", "1x2x2").loss.name == "ce"
    assert Network.from_layers("flatten, dense(1), sigmoid", "1x2x2").loss.name == "bce"
    assert Network.from_layers("conv2d(1, 2)", "1x2x2").loss.name == "mse"
    assert Network.from_layers("conv2d(1, 2), sigmoid", "1x4x4").loss.name == "mse"  # an image


def _cnn_arrays() -> tuple[Network, dict[str, object]]:
    net = Network.from_layers(SMALL_CNN, "1x4x4", "bce")
    return net, dict(init_parameters(net, 1, 2).arrays())


@pytest.mark.parametrize(
    ("change", "error", "pattern"),
    [
        ({"W1": np.zeros((2, 2, 2))}, ShapeError, r"array 'W1': expected shape 2×1×2×2, got 2×2×2"),
        ({"b1": np.zeros(3)}, ShapeError, r"array 'b1': expected shape 2, got 3"),
        (
            {"W4": np.zeros((2, 1))},
            ShapeError,
            r"array 'W4': expected shape 1×2, got 2×1; did you pass W4ᵀ\?",
        ),
        (
            {"x": np.zeros((2, 1, 4, 4))},
            ShapeError,
            r"array 'x': expected shape 1×4×4 \(one example\) or 1×4×4×B \(a batch, examples on "
            r"the last axis\), got 2×1×4×4; the batch goes last: np.moveaxis\(x, 0, -1\)",
        ),
        (
            {"y": np.zeros((1, 3))},
            ShapeError,
            r"array 'y': expected 2 examples on the last axis|expected 2 columns",
        ),
        (
            {"W2": np.zeros(1)},
            ParameterFileError,
            r"parameters: expected only W1, b1, W4, b4, x, y for 1x4x4: .*, got also 'W2'; "
            r"check --layers and --input",
        ),
    ],
)
def test_parameter_arrays_that_do_not_fit_the_spec(
    change: dict[str, object], error: type[Exception], pattern: str
) -> None:
    net, arrays = _cnn_arrays()
    arrays.update(change)
    with pytest.raises(error, match=pattern):
        parameters_from_arrays(net, arrays)


def test_one_image_may_come_without_a_batch_axis() -> None:
    net, arrays = _cnn_arrays()
    arrays["x"] = np.ones((1, 4, 4))
    arrays["y"] = 1.0
    params = parameters_from_arrays(net, arrays)
    assert params.x.shape == (1, 4, 4, 1) and params.y is not None and params.y.shape == (1, 1)


def test_a_network_without_parameters_is_refused() -> None:
    with pytest.raises(
        InvalidValueError,
        match=r"layers: expected at least one layer with parameters \(dense, conv2d\), got only "
        r"maxpool\(2\), flatten; nothing would have a gradient",
    ):
        Network.from_layers("maxpool(2), flatten", "1x4x4", "mse")


def test_unknown_names_are_listed() -> None:
    with pytest.raises(UnknownNameError, match="layers\\[2\\]: expected one of"):
        Network.from_layers("dense(2), swish", "3")
    with pytest.raises(InvalidValueError, match="layers: expected at least one layer"):
        Network.from_layers("", "3")


LENET = (
    "conv2d(6, 5, padding=2), relu, maxpool(2), conv2d(16, 5), relu, maxpool(2), flatten, "
    "dense(120), relu, dense(84), relu, dense(10), softmax"
)


def test_lenet_with_auto_leaves_dense_says_so_and_agrees(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(capsys, "compare", "--input", "1x28x28", "--layers", LENET)
    assert code == 0, err
    assert "structured Jacobian chains" in out.splitlines()[1]
    assert (
        "note: auto: J_a1_z1 (4704×4704) would take 169 MiB dense, over auto's limit of 64 MiB "
        "for a dense Jacobian: using structured Jacobians" in out
    )
    assert "parameters: 61,706" not in out and "= 61706" in out
    assert out.rstrip().endswith("the three routes agree")


def test_a_replay_keeps_every_digit_of_an_argument(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = ("--input", "3", "--layers", "dense(4), leaky_relu(0.123456789), dense(1)")
    code, out, _ = run(capsys, "compare", *spec, "--batch", "3", "--seed", "1", "--json")
    path = tmp_path / "run.json"
    path.write_text(out)
    code, again, err = run(capsys, "compare", "--params", str(path), "--json")
    assert code == 0, err
    first, second = json.loads(out), json.loads(again)
    assert second["network"]["layers"][1]["slope"] == 0.123456789
    assert second["cost"] == first["cost"]


@pytest.mark.parametrize(
    ("layers", "expected"),
    [
        (
            "dense(units=2, units=3)",
            "layers[1] 'dense(units=2, units=3)': expected units once, got units twice",
        ),
        (
            "dense(2), relu:",
            "layers[2] 'relu:': expected relu:<value> with a value after the colon",
        ),
        (
            "dense(2), leaky_relu(1e400)",
            "layers[2] 'leaky_relu(1e400)': slope: expected a finite number, got 1e400",
        ),
    ],
)
def test_specs_that_say_something_twice_or_nothing(
    capsys: pytest.CaptureFixture[str], layers: str, expected: str
) -> None:
    code, out, err = run(capsys, "compare", "--input", "3", "--layers", layers)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert expected in err, err


def test_a_described_network_is_checked_as_a_spec_is() -> None:
    layers = [{"kind": "conv2d", "out_channels": 2, "kernel": 3, "strid": 2}]
    with pytest.raises(
        InvalidValueError,
        match=r"network.layers\[1\] 'conv2d': expected only its "
        r"arguments \(kernel, out_channels, padding, stride\), got also 'strid'",
    ):
        Network.from_description({"input": [1, 5, 5], "layers": layers})
    with pytest.raises(
        InvalidValueError,
        match=r"network: expected input and layers, as compare "
        r"--json writes them, got no layers",
    ):
        Network.from_description({"input": [3]})
