"""The command line: the default run, --json, exit codes, and every bad input as one line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import jacobians.comparison as compare_module
from jacobians.cli import main
from jacobians.network import Network
from jacobians.parameters import init_parameters
from jacobians.paramfile import write

from .commands import run


def test_default_run_shows_the_walkthrough(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "compare")
    assert code == 0, err
    assert "network 3-4-2-1 (relu, relu, sigmoid), loss bce, 1 example" in out
    assert "dW2     (1×1)·(1×1)·(1×2)·(2×2)·(2×8) → (1×8) → dW2 (2×4)" in out
    assert "J_z1_W1      4×12   I_4 ⊗ a[0]ᵀ" in out
    assert "parameters: 22 weights + 7 biases = 29" in out
    assert out.rstrip().endswith("the three routes agree")


def test_module_entry_point_runs() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "jacobians", "compare", "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["agree"] is True


def test_json_holds_the_routes_shapes_and_differences(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "compare", "--json", "--batch", "3", "--order", "optimal")
    assert code == 0
    data = json.loads(out)
    network = data["network"]
    assert {k: network[k] for k in ("sizes", "activations", "loss")} == {
        "sizes": [3, 4, 2, 1],
        "activations": ["relu", "relu", "sigmoid"],
        "loss": "bce",
    }
    # the layer sequence the shorthand stands for (NOTATION.md, "Beyond dense layers")
    assert [layer["kind"] for layer in network["layers"]] == [
        "dense",
        "relu",
        "dense",
        "relu",
        "dense",
        "sigmoid",
    ]
    assert network["layers"][2] == {
        "kind": "dense",
        "units": 2,
        "parameters": {"W": "W2", "b": "b2"},
        "layer": 2,
        "output": "z2",
    }
    assert data["batch"] == 3 and data["parameter_count"] == 29
    for route in ("jacobian", "vectorized", "numerical"):
        assert set(data[route]) == {"dW1", "db1", "dW2", "db2", "dW3", "db3"}
        assert np.shape(data[route]["dW1"]) == (4, 3)
        assert np.shape(data[route]["db2"]) == (2,)
    assert data["jacobian_shapes"]["J_z2_W2"] == [2, 8]
    assert data["jacobian_shapes"]["J_z1_W1"] == [4, 12]
    assert np.shape(data["deltas"]["vectorized"]["delta1"]) == (4, 3)
    diff = data["max_difference"]
    assert diff["jacobian_vs_vectorized"]["relative"] <= 1e-10
    assert diff["numerical_vs_vectorized"]["agree"] is True
    assert data["chains"]["dW2"]["factors"][-1] == ["J_z2_W2", [2, 8]]


@pytest.mark.parametrize("order", ["reverse", "forward", "optimal"])
@pytest.mark.parametrize(
    "spec",
    [
        ("--sizes", "4,5,3", "--activations", "tanh,softmax", "--loss", "ce", "--batch", "4"),
        ("--sizes", "2-3-2", "--activations", "leaky_relu:0.2,identity", "--loss", "mse"),
        ("--sizes", "3,3", "--activations", "square", "--loss", "sum", "--seed", "3"),
    ],
)
def test_other_networks_and_orders_agree(
    capsys: pytest.CaptureFixture[str], spec: tuple[str, ...], order: str
) -> None:
    code, _, err = run(capsys, "compare", *spec, "--order", order)
    assert code == 0, err


def test_multiply_adds_of_the_orders(capsys: pytest.CaptureFixture[str]) -> None:
    counts = {}
    for order in ("reverse", "forward", "optimal"):
        _, out, _ = run(capsys, "compare", "--json", "--order", order)
        counts[order] = json.loads(out)["multiply_adds"]
    assert counts["optimal"] <= counts["reverse"] < counts["forward"]


def test_exit_1_when_the_routes_disagree(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = compare_module.vectorized_route

    def off_by_a_little(net: Network, params: object) -> object:
        route = real(net, params)  # type: ignore[arg-type]
        route.gradients["dW1"] = route.gradients["dW1"] + 1e-6
        return route

    monkeypatch.setattr(compare_module, "vectorized_route", off_by_a_little)
    code, out, _ = run(capsys, "compare")
    assert code == 1
    assert "THE ROUTES DISAGREE" in out


def test_params_file_with_sizes_read_off_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    net = Network.from_spec("2,3,2", "tanh,softmax", "ce")
    path = tmp_path / "p.toml"
    write(path, init_parameters(net, 4, 2).arrays())
    code, out, err = run(
        capsys,
        "compare",
        "--params",
        str(path),
        "--activations",
        "tanh,softmax",
        "--loss",
        "ce",
        "--json",
    )
    assert code == 0, err
    data = json.loads(out)
    assert data["network"]["sizes"] == [2, 3, 2] and data["batch"] == 2
    assert data["source"] == {"params": str(path)}


def _file(tmp_path: Path, change: dict[str, object], drop: str = "") -> str:
    net = Network.from_spec()
    arrays: dict[str, object] = {k: v.tolist() for k, v in init_parameters(net, 1).arrays().items()}
    arrays.update(change)
    arrays.pop(drop, None)
    path = tmp_path / "p.json"
    path.write_text(json.dumps(arrays))  # json writes float("nan") as NaN, which it reads back
    return str(path)


BAD = [
    (
        ("--sizes", "3,4,2,1", "--activations", "relu,sigmoid"),
        "activations: expected 3 names, one per layer of 3-4-2-1, got 2: relu,sigmoid",
    ),
    (
        ("--activations", "relu,gelu,sigmoid"),
        "activations[2]: expected one of identity, leaky_relu, relu, sigmoid, softmax, softplus, "
        "square, tanh, got 'gelu'",
    ),
    (
        (
            "--loss",
            "hinge",
        ),
        "loss: expected one of bce, ce, mse, sum, got 'hinge'",
    ),
    (
        ("--sizes", "3,four"),
        "sizes: expected whole numbers such as 3,4,2,1 or 3-4-2-1, got '3,four'",
    ),
    (
        ("--sizes", "3,4", "--activations", "relu", "--loss", "ce"),
        "loss: expected a softmax output for 'ce' (the outputs a distribution over classes), "
        "got 'relu'",
    ),
    (("--params", "{tmp}/absent.json"), "expected an existing file, got no such file"),
]


@pytest.mark.parametrize(("argv", "expected"), BAD)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], expected: str
) -> None:
    code, out, err = run(capsys, "compare", *(a.format(tmp=tmp_path) for a in argv))
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("jacobians compare: error: ")
    assert expected in err


@pytest.mark.parametrize(
    ("change", "drop", "expected"),
    [
        (
            {"W2": np.zeros((4, 2)).tolist()},
            "",
            "array 'W2': expected 4 columns to match the 4 rows of W1, got shape 4×2; "
            "did you pass W2ᵀ?",
        ),
        (
            {"W3": np.zeros((2, 1)).tolist()},
            "",
            "array 'W3': expected 2 columns to match the 2 rows of W2",
        ),
        ({}, "b1", "got no 'b1'"),
        (
            {"x": [[1.0], [float("nan")], [0.0]]},
            "",
            "array 'x': expected finite numbers, got nan at index (1, 0)",
        ),
        ({"W3": [["a", "b"]]}, "", "array 'W3': expected numbers"),
        (
            {"y": [[3.0]]},
            "",
            "y: expected values in [0, 1] for loss 'bce', got a value 3 outside [0, 1]",
        ),
    ],
)
def test_bad_parameter_files(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    change: dict[str, object],
    drop: str,
    expected: str,
) -> None:
    code, out, err = run(capsys, "compare", "--params", _file(tmp_path, change, drop))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and expected in err


def test_ce_needs_one_hot_targets(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    net = Network.from_spec("2,3", "softmax", "ce")
    arrays = init_parameters(net, 1).arrays()
    arrays["y"] = np.array([[0.5], [0.5], [0.0]])
    path = tmp_path / "p.npz"
    write(path, arrays)
    code, _, err = run(
        capsys, "compare", "--params", str(path), "--activations", "softmax", "--loss", "ce"
    )
    assert code == 2
    assert "y: expected one-hot columns (one 1, the rest 0) for loss 'ce', got column 0" in err


def test_batch_must_match_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "compare", "--params", _file(tmp_path, {}), "--batch", "4")
    assert code == 2
    assert "--batch: expected 1 to match x in" in err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (("--batch", "0"), "argument --batch: expected a whole number ≥ 1, got 0"),
        (("--order", "sideways"), "argument --order: invalid choice: 'sideways'"),
        (
            ("--seed", "1", "--params", "p.json"),
            "argument --params: not allowed with argument --seed",
        ),
        (("--step", "-1"), "argument --step: expected a finite number > 0, got '-1'"),
    ],
)
def test_usage_errors_exit_2(
    capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], expected: str
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["compare", *argv])
    assert exit_info.value.code == 2
    assert expected in capsys.readouterr().err


def test_no_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "compare" in capsys.readouterr().err


def test_help_explains_the_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["compare", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for option in (
        "--sizes",
        "--activations",
        "--loss",
        "--seed",
        "--batch",
        "--params",
        "--order",
        "--json",
        "exit status",
    ):
        assert option in out


def test_compare_imports_neither_sympy_nor_matplotlib() -> None:
    code = (
        "import sys; from jacobians.cli import main; main(['compare', '--json']); "
        "sys.stderr.write(repr([m for m in ('sympy', 'matplotlib') if m in sys.modules]))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stderr == "[]"


def test_derive_walkthrough_every_layer(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "derive")
    assert code == 0, err
    for l in (3, 2, 1):
        assert f"dW[{l}] of the 3-4-2-1 network" in out and f"db[{l}] of the 3-4-2-1" in out
    assert out.count("holds ✓") >= 6 and "FAILS" not in out


@pytest.mark.parametrize("fmt", ["unicode", "latex", "markdown"])
def test_derive_formats(capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    code, out, _ = run(
        capsys,
        "derive",
        "--sizes",
        "2,3,2",
        "--activations",
        "tanh,softmax",
        "--loss",
        "ce",
        "--layer",
        "1",
        "--param",
        "delta",
        "--format",
        fmt,
    )
    assert code == 0
    assert ("\\frac" in out) == (fmt != "unicode")
    assert ("$$" in out) == (fmt == "markdown")


def test_derive_general_and_abstract(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "derive", "--general")
    assert code == 0 and "∂L/∂W_pq = δ_p a_q" in out and "for every n, m, r ≥ 1: holds ✓" in out
    code, out, _ = run(capsys, "derive", "--abstract", "--layer", "2", "--param", "W")
    assert code == 0 and "g[2]'(z[2]₁)" in out


def test_derive_exit_1_when_a_proof_fails(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import derivations.chains as chains

    monkeypatch.setattr(chains, "is_zero", lambda M: False)
    code, out, _ = run(capsys, "derive", "--layer", "3", "--param", "b")
    assert code == 1 and "FAILS ✗" in out


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (("--layer", "4"), "--layer: expected a layer from 1 to 3 for 3-4-2-1, got 4"),
        (
            ("--sizes", "40,40,10"),
            "--sizes: expected at most 600 parameters for a symbolic "
            "derivation, got 2050 for 40-40-10",
        ),
        (("--activations", "relu,swish,sigmoid"), "activations[2]: expected one of"),
    ],
)
def test_derive_bad_input(
    capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], expected: str
) -> None:
    code, out, err = run(capsys, "derive", *argv)
    assert code == 2 and out == "" and expected in err and err.count("\n") == 1


def test_help_imports_neither_sympy_nor_matplotlib() -> None:
    code = (
        "import sys; from jacobians.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "sys.stderr.write(repr([m for m in ('sympy', 'matplotlib', 'numpy') if m in sys.modules]))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stderr == "[]"


def test_chain_command(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "chain", "square", "sigmoid", "--at", "0.5")
    assert code == 0
    assert "1. square   0.5      0.25      1         1" in out
    assert "chain rule (product):             1 · 0.246134 = 0.2461340827" in out
    assert "numeric, whole chain (h = 0.001): 0.246134" in out


def test_matrix_function_command_reproduces_the_chapter(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "matrix-function", "--seed", "190204")
    assert code == 0
    assert "L: 2.3755" in out
    assert out.count("[[ 0.2489 -0.3748  0.0112]") == 2  # formulas and Jacobians
    assert "= 0.2489 (dL/dx11 = 0.2489)" in out


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (("chain", "softmax"), "function 1: expected an elementwise function, got 'softmax'"),
        (("chain", "cube"), "function 1: expected one of"),
        (("matrix-function", "--activation", "softmax"), "activation: expected an elementwise"),
    ],
)
def test_foundation_commands_bad_input(
    capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], expected: str
) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == "" and expected in err and err.count("\n") == 1


def test_chain_rejects_a_non_finite_point(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["chain", "relu", "--at", "nan"])
    assert exit_info.value.code == 2
    assert "argument --at: expected a finite number, got 'nan'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (("--sizes", "3,-4,1"), "sizes: expected positive sizes, got '3,-4,1'"),
        (("--sizes", "3,,4,1"), "sizes: expected whole numbers such as 3,4,2,1 or 3-4-2-1"),
        (
            ("--activations", ",relu,relu,sigmoid"),
            "activations: expected comma-separated names, got an empty name in position 1",
        ),
        (
            ("--activations", "leaky_relu:,relu,sigmoid"),
            "activations[1]: expected leaky_relu:<value> with a value after the colon",
        ),
        (
            ("--sizes", "10,10,1", "--batch", "100000000"),
            "sizes and batch: expected a comparison of at most 2e+10 multiply–adds",
        ),
        (
            ("--sizes", "2000,300,1", "--jacobians", "dense"),
            "jacobians: expected dense Jacobians within the memory budget of 1 GiB, got J_z1_W1 "
            "of shape 300×600000, 1,440,000,000 bytes (1.34 GiB); use --jacobians sparse or "
            "structured, or raise --memory-budget",
        ),
        (
            ("--sizes", "40,40,1", "--jacobians", "dense", "--memory-budget", "100K"),
            "memory budget of 100 KiB, got J_z1_W1 of shape 40×1600",
        ),
    ],
)
def test_more_bad_input(
    capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], expected: str
) -> None:
    code, out, err = run(capsys, "compare", *argv)
    assert code == 2 and out == "" and err.count("\n") == 1 and expected in err, err


def test_seed_must_be_a_valid_seed(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["compare", "--seed", "-1"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert (
        err.count("\n") == 1
        and "argument --seed: expected a seed from 0 to 2**32 − 1, got -1" in err
    )


def test_text_and_complex_values_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    toml = tmp_path / "p.toml"
    toml.write_text('W1 = [[1.0]]\nb1 = [0.0]\nx = [1.0]\ny = "1"\n')
    code, _, err = run(capsys, "compare", "--params", str(toml), "--activations", "sigmoid")
    assert code == 2 and "array 'y': expected numbers" in err
    npz = tmp_path / "p.npz"
    np.savez(npz, W1=np.array([[1 + 2j]]), b1=np.zeros(1), x=np.ones(1), y=np.ones(1))
    code, _, err = run(capsys, "compare", "--params", str(npz), "--activations", "sigmoid")
    assert code == 2 and "array 'W1': expected numbers" in err


def test_inconclusive_numerics_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"W1": [[0.5, -0.3]], "b1": [1e9], "x": [1, 2]}))
    code, out, _ = run(
        capsys, "compare", "--params", str(path), "--activations", "identity", "--loss", "sum"
    )
    assert code == 1
    assert "numerical − vectorized: INCONCLUSIVE: rounding of the cost" in out
    assert out.rstrip().endswith(
        "NOT CONFIRMED: the Jacobian and vectorized routes agree, but "
        "finite differences cannot decide here"
    )


def test_kink_entries_are_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "p.json"
    path.write_text(
        json.dumps({"W1": [[1.0, -1.0]], "b1": [0.0], "W2": [[1.0]], "b2": [0.0], "x": [1.0, 1.0]})
    )
    code, out, _ = run(
        capsys,
        "compare",
        "--params",
        str(path),
        "--activations",
        "leaky_relu:0.2,identity",
        "--loss",
        "sum",
    )
    assert code == 0
    assert (
        "not compared, the stencil crosses a kink (a relu or leaky_relu input within h of 0): "
        "dW1[0, 0], dW1[0, 1]"
    ) in out


def test_derive_general_refuses_network_options(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "derive", "--general", "--layer", "7", "--abstract")
    assert code == 2 and out == ""
    assert "--general: expected no network options (the proof covers every size and " in err
    assert "got --layer, --abstract" in err


def test_chain_reads_negative_numbers_in_scientific_notation(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "chain", "square", "--at", "-1e-3")
    assert code == 0 and "chain square at x = -0.001" in out


def test_chain_overflow_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "chain", "square", "sigmoid", "--at", "1e308")
    assert code == 2 and out == "" and "got an overflow at x = 1e+308" in err


def test_chain_notes_kinks_and_rounding(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "chain", "relu", "--at", "0")
    assert "note: the input of 1. relu is within h of its kink" in out
    _, out, _ = run(capsys, "chain", "sigmoid", "--at", "1", "--step", "1e-20")
    assert "note: the numeric derivative is lost in rounding" in out
