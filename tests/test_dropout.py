"""Dropout: the mask drawn from the run's seed and carried by the run (JSON, parameter files),
its Jacobian diag(mask)/(1 − p) against finite differences, the routes, and the checker's
dropout mistakes computed here from their definitions."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from jacobians.comparison import compare
from jacobians.errors import InvalidValueError, ParameterFileError
from jacobians.exercises.grading import check
from jacobians.exercises.sets import network_exercise
from jacobians.network import Network, forward
from jacobians.parameters import init_parameters, parameters_from_arrays
from jacobians.paramfile import write

from . import references as ref
from .commands import run
from .tolerances import EXACT, FINITE_DIFFERENCE

SPEC = "dense(4), relu, dropout(0.5), dense(2), softmax"


def test_the_mask_comes_from_the_seed() -> None:
    net = Network.from_layers("dense(50), dropout(0.3)", "2", "sum")
    one, two = init_parameters(net, 4, 200), init_parameters(net, 4, 200)
    np.testing.assert_array_equal(one.state["mask2"], two.state["mask2"])
    mask = one.state["mask2"]
    assert mask.shape == (50, 200) and set(np.unique(mask)) == {0.0, 1.0}
    assert abs(mask.mean() - 0.7) < 0.02  # kept with probability 1 − p (10,000 draws)
    # drawn after everything else: the parameters are those of the same network without it
    plain = init_parameters(Network.from_layers("dense(50)", "2", "sum"), 4, 200)
    np.testing.assert_array_equal(one["W1"], plain["W1"])
    np.testing.assert_array_equal(one.x, plain.x)


def test_the_jacobian_is_the_mask_over_one_minus_p() -> None:
    net = Network.from_layers(SPEC, "3", "ce")
    params = init_parameters(net, 2, 3)
    node = net.nodes[2]
    a = forward(net, params).values[node.input]
    values = params.of(node)
    for b in range(3):
        x = a[..., b : b + 1]
        one = {"mask": values["mask"][..., b : b + 1]}
        J = node.kind.jacobians(one, x, node.kind.forward(one, x))["input"].dense()
        numeric = ref.numerical_jacobian(lambda v, m=one: node.kind.forward(m, v), x)
        np.testing.assert_allclose(J, numeric, *FINITE_DIFFERENCE)
        np.testing.assert_array_equal(J, np.diag(values["mask"][:, b] / 0.5))


@pytest.mark.parametrize("batch", [1, 4])
@pytest.mark.parametrize("representation", ["dense", "sparse", "structured"])
def test_the_routes_agree_through_dropout(batch: int, representation: str) -> None:
    for spec, shape in (
        (SPEC, "3"),
        ("conv2d(2, 2), dropout(0.25), relu, flatten, dense(1)", "1x3x3"),
    ):
        net = Network.from_layers(spec, shape)
        result = compare(net, init_parameters(net, 5, batch), jacobians=representation)
        assert result.agree


def test_the_json_carries_the_mask_and_replays(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(
        capsys, "compare", "--input", "3", "--layers", SPEC, "--batch", "3", "--json"
    )
    data = json.loads(out)
    layer = data["network"]["layers"][2]
    assert layer["kind"] == "dropout" and layer["p"] == 0.5 and np.shape(layer["mask"]) == (4, 3)
    assert "mask2" not in data["parameters"]  # not a parameter: nothing differentiates it
    path = tmp_path / "run.json"
    path.write_text(out)
    code, again, err = run(capsys, "compare", "--params", str(path), "--json")
    assert code == 0, err
    assert json.loads(again)["cost"] == data["cost"]
    assert json.loads(again)["network"]["layers"][2]["mask"] == layer["mask"]


@pytest.mark.parametrize("suffix", [".npz", ".toml"])
def test_parameter_files_hold_the_mask(tmp_path: Path, suffix: str) -> None:
    net = Network.from_layers(SPEC, "3", "ce")
    params = init_parameters(net, 7, 2)
    path = tmp_path / f"p{suffix}"
    write(path, params.arrays())
    from jacobians.paramfile import read

    back = parameters_from_arrays(net, read(path))
    np.testing.assert_array_equal(back.state["mask2"], params.state["mask2"])


def test_a_missing_or_wrong_mask_is_named() -> None:
    net = Network.from_layers(SPEC, "3", "ce")
    arrays = dict(init_parameters(net, 7, 2).arrays())
    del arrays["mask2"]
    with pytest.raises(ParameterFileError, match=r"got no 'mask2'"):
        parameters_from_arrays(net, arrays)
    arrays = dict(init_parameters(net, 7, 2).arrays())
    arrays["mask2"] = np.full((4, 2), 0.5)
    with pytest.raises(InvalidValueError, match=r"array 'mask2': expected a mask of 0s and 1s"):
        parameters_from_arrays(net, arrays)


@pytest.mark.parametrize("p", ["1", "-0.1", "1.5"])
def test_p_outside_zero_one_is_refused(capsys: pytest.CaptureFixture[str], p: str) -> None:
    code, _, err = run(capsys, "compare", "--input", "3", "--layers", f"dense(2), dropout({p})")
    assert code == 2
    assert f"layers[2] 'dropout({p})': p: expected a number in [0, 1), got {p}" in err


def test_the_checker_names_a_forgotten_mask_or_scale() -> None:
    # the gradient reaching a[1] (before the dropout): δ3ᵀ W3 ⊙ mask/(1 − p), right; without the
    # mask, or without the scale — each computed here from the definition
    exercise = network_exercise(layers=SPEC, input_shape="3", loss="ce", seed=2)
    params = exercise.problem.params  # type: ignore[union-attr]
    env = exercise.key.env
    at_a2 = env["delta3"].T @ params["W3"]  # ∂L/∂a[2], a row
    mask = params.state["mask2"][:, 0]
    right = at_a2 * mask / 0.5
    np.testing.assert_allclose(exercise.key.entries["J_L_a1"].reference, right, *EXACT)
    for wrong, mistake in (
        (at_a2 / 0.5, "dropout_mask_forgotten"),
        (at_a2 * mask, "dropout_scale_forgotten"),
    ):
        result = next(
            r
            for r in check(exercise, {"J_L_a1": wrong.tolist()}, time_limit=None).results
            if r.name == "J_L_a1"
        )
        assert (result.verdict, result.mistake) == ("incorrect", mistake)
