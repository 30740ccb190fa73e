"""The checker on networks of any layers: the convolution set's mistakes, each computed here
independently from its definition (loops, tests/references.py), tensors written as nested
lists, exercise files with a spec, and the CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from jacobians.cli import main
from jacobians.exercises.answers import AnswerError, matrix_value
from jacobians.exercises.exercise import ExerciseFileError, read_exercise, to_toml
from jacobians.exercises.grading import check
from jacobians.exercises.sets import cnn
from jacobians.exercises.solve import answer_form, solution_json

from . import references as ref

EXERCISE = cnn()
KEY = EXERCISE.key.entries


def verdict(answers: dict[str, object]) -> dict[str, tuple[str, str | None]]:
    report = check(EXERCISE, answers, time_limit=None)
    return {r.name: (r.verdict, r.mistake) for r in report.results if r.name in answers}


def _values() -> tuple[np.ndarray, np.ndarray, int, int]:
    """W1 (2 × 1 × 3 × 3), x (1 × 4 × 4), the padding and the pooling window."""
    problem = EXERCISE.problem
    params = problem.params  # type: ignore[union-attr]
    return params["W1"], params.x[..., 0], 1, 2


def test_the_set_asks_what_the_issue_lists() -> None:
    assert [q.name for q in EXERCISE.questions] == [
        "delta4",
        "dW4",
        "J_a2_a1",
        "J_L_a1",
        "delta1",
        "J_z1_W1",
        "dW1",
        "db1",
        "J_L_a0",
    ]
    shapes = {n: e.quantity.shape for n, e in KEY.items()}
    assert shapes["J_z1_W1"] == (32, 18)  # I_2 ⊗ U, U is 16 × 9
    assert shapes["dW1"] == (2, 1, 3, 3) and shapes["delta1"] == (2, 4, 4)
    assert shapes["J_a2_a1"] == (8, 32) and shapes["J_L_a0"] == (1, 16)


def test_the_im2row_jacobian_is_the_staircase_of_the_loops() -> None:
    _, x, p, _ = _values()
    U = ref.im2row(x, 3, 1, p)
    np.testing.assert_allclose(KEY["J_z1_W1"].reference, np.kron(np.eye(2), U), atol=1e-15)


def test_kernel_not_flipped_is_the_transposed_toeplitz_of_the_rotated_kernel() -> None:
    # the right gradient through the convolution is vec(δ1)ᵀ T(W); not flipping the kernel
    # gives vec(δ1)ᵀ T(rot180(W)): both Toeplitz matrices are built by loops here
    W, _, p, _ = _values()
    delta1 = KEY["delta1"].reference.reshape(1, -1)
    right = delta1 @ ref.conv_input_jacobian(W, 1, 4, 4, 1, p)
    rotated = delta1 @ ref.conv_input_jacobian(W[:, :, ::-1, ::-1], 1, 4, 4, 1, p)
    np.testing.assert_allclose(KEY["J_L_a0"].reference, right, rtol=1e-10, atol=1e-13)
    assert verdict({"J_L_a0": rotated.tolist()}) == {"J_L_a0": ("incorrect", "kernel_not_flipped")}


def test_padding_not_cropped_keeps_the_border() -> None:
    # the gradient of the 6 × 6 padded input, border included: T of the padded image
    W, _, p, _ = _values()
    delta1 = KEY["delta1"].reference.reshape(1, -1)
    padded = delta1 @ ref.conv_input_jacobian(W, 1, 6, 6, 1, 0)
    assert padded.shape == (1, 36)
    assert verdict({"J_L_a0": padded.tolist()}) == {"J_L_a0": ("incorrect", "padding_not_cropped")}
    cropped = padded.reshape(6, 6)[p:-p, p:-p].reshape(1, -1)
    assert verdict({"J_L_a0": cropped.tolist()}) == {"J_L_a0": ("correct", None)}


def test_a_window_gradient_sent_everywhere_or_averaged_is_named() -> None:
    # the gradient reaching the pooling's output (2 × 2 × 2) is δ4ᵀ W4 (flatten is the
    # identity); given back to the 2 × 2 windows of a1 (2 × 4 × 4) by loops: to the maximum
    # (right, through the selection matrix built by loops), to every entry, or a quarter each
    W4 = EXERCISE.problem.params["W4"]  # type: ignore[union-attr]
    g = (KEY["delta4"].reference @ W4).reshape(2, 2, 2)
    a1 = EXERCISE.key.env.get("a1")
    assert a1 is None  # an image: no formula may name it, so take it from the forward pass
    from jacobians.network import forward

    problem = EXERCISE.problem
    image = forward(problem.net, problem.params).values["a1"][..., 0]  # type: ignore[union-attr]
    _, selection = ref.pool_forward(image, 2, 2, "max")
    right = (g.reshape(1, -1) @ selection).reshape(2, 4, 4)
    np.testing.assert_allclose(KEY["J_L_a1"].reference.reshape(2, 4, 4), right, atol=1e-15)
    np.testing.assert_array_equal(KEY["J_a2_a1"].reference, selection)
    every = np.zeros((2, 4, 4))
    for c in range(2):
        for i in range(2):
            for j in range(2):
                every[c, 2 * i : 2 * i + 2, 2 * j : 2 * j + 2] += g[c, i, j]
    assert verdict({"J_L_a1": every.reshape(1, -1).tolist()}) == {
        "J_L_a1": ("incorrect", "sent_to_every_entry")
    }
    assert verdict({"J_L_a1": (every / 4).reshape(1, -1).tolist()}) == {
        "J_L_a1": ("incorrect", "averaged_not_routed")
    }


def test_channels_swapped_in_dW_is_named_despite_the_shape() -> None:
    dW1 = KEY["dW1"].reference
    swapped = dW1.transpose(1, 0, 2, 3)  # 1 × 2 × 3 × 3
    assert verdict({"dW1": swapped.tolist()}) == {"dW1": ("incorrect", "channels_swapped")}
    result = check(EXERCISE, {"dW1": dW1[:, :, :2, :].tolist()}, time_limit=None).results
    wrong = next(r for r in result if r.name == "dW1")
    assert wrong.mistake == "wrong_shape" and "expected 2×1×3×3" in wrong.message


def test_tensor_answers_are_nested_lists() -> None:
    delta1 = KEY["delta1"].reference
    assert verdict({"delta1": delta1.tolist()}) == {"delta1": ("correct", None)}
    off = delta1.copy()
    off[1, 2, 3] += 1.0
    result = next(
        r
        for r in check(EXERCISE, {"delta1": off.tolist()}, time_limit=None).results
        if r.name == "delta1"
    )
    assert result.verdict == "incorrect" and result.wrong == ((2, 3, 4),)
    assert "1 of 32 entries are off: (index) (2, 3, 4)" in result.message


@pytest.mark.parametrize(
    ("value", "pattern"),
    [
        (
            [[[1.0, 2.0], [3.0]]],
            r"expected lists of 2 at depth 3, as in the first entry, got 1 "
            r"entries at \(1, 2\)",
        ),
        ([[[1.0, "a"]]], r"entry 1, 1, 2: expected a number"),
        ([[[1.0, float("nan")]]], r"expected a finite number"),
        ([[[]]], r"expected no empty list"),
    ],
)
def test_ragged_tensors_are_refused_with_the_place(value: object, pattern: str) -> None:
    with pytest.raises(AnswerError, match=pattern):
        matrix_value(value, "answer")


def test_tensors_round_trip_through_the_exercise_file(tmp_path: Path) -> None:
    path = tmp_path / "cnn.toml"
    path.write_text(to_toml(EXERCISE))
    back = read_exercise(path)
    for name, entry in back.key.entries.items():
        np.testing.assert_array_equal(entry.reference, KEY[name].reference)
    assert [q.form for q in back.questions] == [q.form for q in EXERCISE.questions]
    report = check(back, {k: answer_form(v.reference) for k, v in KEY.items()}, time_limit=None)
    assert report.all_correct


def test_a_network_table_takes_sizes_or_layers_not_both(tmp_path: Path) -> None:
    text = to_toml(EXERCISE).replace('layout = "column"', 'layout = "column"\nsizes = [3, 1]')
    path = tmp_path / "both.toml"
    path.write_text(text)
    with pytest.raises(ExerciseFileError, match=r"network: expected input and layers"):
        read_exercise(path)
    bad = to_toml(EXERCISE).replace("conv2d(2, 3, padding=1)", "conv2d(2, 9)")
    path.write_text(bad)
    with pytest.raises(ExerciseFileError, match=r"network: layers\[1\] 'conv2d\(2, 9\)': kernel"):
        read_exercise(path)


def test_cli_new_cnn_and_network_layers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cnn.toml"
    assert main(["exercises", "new", "cnn", "-o", str(out)]) == 0
    assert capsys.readouterr().out == f"wrote {out} (9 questions)\n"
    key = tmp_path / "key.json"
    assert main(["exercises", "solve", str(out), "--json"]) == 0
    key.write_text(capsys.readouterr().out)
    assert main(["check", str(out), str(key)]) == 0
    assert "score: 9 of 9" in capsys.readouterr().out
    spec = "conv2d(1, 2), avgpool(2), flatten, dense(2), softmax"
    assert main(["exercises", "new", "network", "--input", "1x3x3", "--layers", spec]) == 0
    text = capsys.readouterr().out
    assert f'layers = "{spec}"' in text and "input = [1, 3, 3]" in text
    assert main(["exercises", "new", "cnn", "--layers", spec]) == 2
    assert "--layers: only the network set takes network options" in capsys.readouterr().err


def test_the_reference_answers_come_from_the_jacobian_route() -> None:
    # not from the compact formulas the mistake models use: a wrong compact backward pass
    # cannot make its own answers right
    from jacobians.chains import jacobian_route

    problem = EXERCISE.problem
    route = jacobian_route(problem.net, problem.params)  # type: ignore[union-attr]
    np.testing.assert_array_equal(KEY["dW1"].reference, route.gradients["dW1"])
    assert solution_json(EXERCISE)["dW1"] == KEY["dW1"].reference.tolist()


def test_a_dense_layer_in_a_spec_has_its_mistakes_too() -> None:
    # dW2 = δ2 a2ᵀ (a[l] for a[l-1]), made by the dense layer's own mistaken backward pass
    from jacobians.exercises.sets import network_exercise

    exercise = network_exercise(
        layers="dense(4), relu, dense(2), relu, dense(1)", input_shape="3", loss="mse", seed=1
    )
    values = exercise.key.env
    wrong = values["delta2"] @ values["a2"].T
    result = next(
        r
        for r in check(exercise, {"dW2": wrong.tolist()}, time_limit=None).results
        if r.name == "dW2"
    )
    assert (result.verdict, result.mistake) == ("incorrect", "wrong_layer_activation")


def test_networks_too_large_to_answer_by_hand_are_refused() -> None:
    from jacobians.exercises.sets import network_exercise

    with pytest.raises(
        ExerciseFileError,
        match=r"network: expected questions of at most 100,000 entries \(answers are written by "
        r"hand\), got J_a\d_[az]1 with 331,776; use a smaller network, or --batch 2",
    ):
        network_exercise(
            layers="conv2d(4, 3, padding=1), relu, flatten, dense(2)",
            input_shape="1x12x12",
            loss="mse",
        )
