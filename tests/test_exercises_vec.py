"""Exercises in Magnus–Neudecker's column-major ``vec`` (``vec = "column"``).

In a column file every answer that depends on the flattening is the column-major one
(``∂z/∂vec(W) = aᵀ ⊗ I_n``, ``∂vec(X W)/∂vec(W) = I_p ⊗ X``), NOTATION's row-major answer is
diagnosed as ``row_major``, and the answers that do not depend on it (``dW`` as a matrix,
``δ``, ``db``) are unchanged. The references here are independent of the code under test:
central differences of the forward pass written out below, with every matrix argument
flattened in Fortran order, and Kronecker products built with ``np.kron``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from jacobians.cli import main
from jacobians.exercises.exercise import (
    Exercise,
    ExerciseFileError,
    Question,
    exercise_from_data,
    read_exercise,
    to_toml,
)
from jacobians.exercises.grading import check
from jacobians.exercises.key import problems
from jacobians.exercises.quantities import ColumnProblem, RowProblem
from jacobians.exercises.sets import new
from jacobians.exercises.solve import answer_form, format_solution, solution_json

from .tolerances import EXACT, FINITE_DIFFERENCE, STEP

NETWORK: dict[str, Any] = {"sizes": [2, 3, 3], "activations": ["tanh", "sigmoid"], "loss": "mse"}
DEEP: dict[str, Any] = {
    "sizes": [3, 4, 4, 2],
    "activations": ["relu", "tanh", "softmax"],
    "loss": "ce",
}
CASES: dict[str, tuple[str, int | str | None, dict[str, Any]]] = {
    "walkthrough-0": ("walkthrough", 0, {}),
    "walkthrough-7": ("walkthrough", 7, {}),
    "walkthrough-s1234567": ("walkthrough", "s1234567", {}),
    "foundations-chapter": ("foundations", None, {}),
    "foundations-3": ("foundations", 3, {}),
    "foundations-11": ("foundations", 11, {}),
    "network-2": ("network", 2, NETWORK),
    "network-5": ("network", 5, NETWORK),
    "network-deep-1": ("network", 1, DEEP),
}
"""The built-in sets with flattening-dependent answers (the others are networks of layers and
refuse ``vec = "column"``), at several seeds."""

FOUNDATIONS_FLATTENED = {"J_S_N", "J_N_X", "J_N_W", "J_L_X", "J_L_W"}


def flattened(exercise: Exercise) -> set[str]:
    """The questions whose answer depends on the flattening, from the shapes: the foundations'
    Jacobians of ``3 × 2`` matrices (``J_L_S`` is a row of ones), and ``∂z[l]/∂vec(W[l])``
    where ``W[l]`` has more than one row and column (``aᵀ ⊗ I_1 = I_1 ⊗ aᵀ``: the
    walk-through's ``J_z3_W3``)."""
    if exercise.set == "foundations":
        return set(FOUNDATIONS_FLATTENED)
    n = exercise.problem.net.sizes  # type: ignore[union-attr]
    return {f"J_z{l}_W{l}" for l in range(1, len(n)) if n[l] > 1 and n[l - 1] > 1}


def column(case: str) -> Exercise:
    name, seed, network = CASES[case]
    return new(name, seed, "column", **network)


def row_twin(exercise: Exercise) -> Exercise:
    """The same values and questions in NOTATION's row-major ``vec``."""
    return Exercise(
        exercise.title, exercise.problem, exercise.questions, exercise.set, exercise.variant
    )


def grade(exercise: Exercise, answers: dict[str, object]) -> dict[str, tuple[str, str | None]]:
    report = check(exercise, answers, time_limit=None)
    return {r.name: (r.verdict, r.mistake) for r in report.results}


# --- independent references -------------------------------------------------------------


def fortran_jacobian(f: Callable[[np.ndarray], np.ndarray], M: np.ndarray) -> np.ndarray:
    """Central differences of ``vec_col(f(M))`` with respect to ``vec_col(M)``: entry ``j`` of a
    column-major ``vec`` is ``M[j mod rows, j div rows]``."""
    rows = M.shape[0]
    out0 = np.atleast_1d(f(M)).reshape(-1, order="F")
    J = np.zeros((out0.size, M.size))
    for j in range(M.size):
        index = (j % rows, j // rows)
        up, down = M.copy(), M.copy()
        up[index] += STEP
        down[index] -= STEP
        diff = np.atleast_1d(f(up)) - np.atleast_1d(f(down))
        J[:, j] = diff.reshape(-1, order="F") / (2 * STEP)
    return J


ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "relu": lambda z: np.maximum(z, 0.0),
    "tanh": np.tanh,
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "softmax": lambda z: np.exp(z - z.max()) / np.exp(z - z.max()).sum(),
}


def z_of(problem: ColumnProblem, layer: int) -> Callable[[np.ndarray], np.ndarray]:
    """``W[layer] ↦ z[layer]`` of one example, the forward pass written out here."""
    values = problem.params.values

    def f(W: np.ndarray) -> np.ndarray:
        return np.asarray(W @ activations_of(problem)[layer - 1] + values[f"b{layer}"])

    return f


def activations_of(problem: ColumnProblem) -> list[np.ndarray]:
    """``a[0] … a[L]`` of one example, the forward pass written out here."""
    values = problem.params.values
    out = [problem.params.x[:, 0]]
    for l, activation in enumerate(problem.net.activations, start=1):
        z = values[f"W{l}"] @ out[-1] + values[f"b{l}"]
        out.append(ACTIVATIONS[activation.name](z))
    return out


def row_layout_references(
    X: np.ndarray, W: np.ndarray
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """``N = X W``, ``S = σ(N)``, ``L = Σ S``: the Jacobians by central differences in
    Fortran order, and ``∂vec(N)/∂vec(X) = Wᵀ ⊗ I_B``, ``∂vec(N)/∂vec(W) = I_p ⊗ X`` by
    ``np.kron``."""
    (B, _), p = X.shape, W.shape[1]
    s = ACTIVATIONS["sigmoid"]
    differences = {
        "J_N_X": fortran_jacobian(lambda M: M @ W, X),
        "J_N_W": fortran_jacobian(lambda M: X @ M, W),
        "J_S_N": fortran_jacobian(s, X @ W),
        "J_L_X": fortran_jacobian(lambda M: np.sum(s(M @ W)), X),
        "J_L_W": fortran_jacobian(lambda M: np.sum(s(X @ M)), W),
    }
    return differences, {"J_N_X": np.kron(W.T, np.eye(B)), "J_N_W": np.kron(np.eye(p), X)}


def test_the_key_equals_finite_differences_in_fortran_order_and_np_kron() -> None:
    checked = 0
    for case in CASES:
        exercise = column(case)
        problem = exercise.problem
        refs = {name: e.reference for name, e in exercise.key.entries.items()}
        if isinstance(problem, RowProblem):
            independent, kron = row_layout_references(problem.X, problem.W)
        else:
            independent, kron = {}, {}
            a = activations_of(problem)
            for l in range(1, problem.net.depth + 1):
                W = problem.params.values[f"W{l}"]
                independent[f"J_z{l}_W{l}"] = fortran_jacobian(z_of(problem, l), W)
                kron[f"J_z{l}_W{l}"] = np.kron(a[l - 1][None, :], np.eye(W.shape[0]))
        for name, value in independent.items():
            np.testing.assert_allclose(refs[name], value, *FINITE_DIFFERENCE, err_msg=name)
            checked += 1
        for name, value in kron.items():
            np.testing.assert_allclose(refs[name], value, *EXACT, err_msg=name)
            checked += 1
    assert checked == 2 * 3 * 3 + 7 * 3 + 2 * 2 * 2 + 3 * 2


# --- grading in the file's convention ---------------------------------------------------


@pytest.mark.parametrize("case", CASES)
def test_column_references_grade_correct_and_row_answers_are_row_major(case: str) -> None:
    exercise = column(case)
    assert exercise.vec == "column" and problems(exercise.key) == []
    assert grade(exercise, solution_json(exercise)) == {
        q.name: ("correct", None) for q in exercise.questions
    }
    row = row_twin(exercise)
    differ = {
        name
        for name, e in exercise.key.entries.items()
        if not np.allclose(e.reference, row.key.entries[name].reference, *EXACT)
    }
    assert differ == flattened(exercise) & set(exercise.key.entries)
    got = grade(exercise, solution_json(row))
    for name in exercise.key.entries:
        expected = ("incorrect", "row_major") if name in differ else ("correct", None)
        assert got[name] == expected, name


@pytest.mark.parametrize("case", CASES)
def test_a_row_file_still_diagnoses_column_major(case: str) -> None:
    exercise = column(case)
    row = row_twin(exercise)
    got = grade(row, solution_json(exercise))
    for name in flattened(exercise) & set(row.key.entries):
        assert got[name] == ("incorrect", "column_major"), name


@pytest.mark.parametrize("case", CASES)
def test_formulas_are_graded_in_the_files_convention(case: str) -> None:
    exercise = column(case)
    for name in flattened(exercise) & set(exercise.key.entries):
        entry = exercise.key.entries[name]
        rows = [c.model.formula for c in entry.candidates if c.model.mistake == "row_major"]
        if entry.formula is None or not rows or rows[0] is None:
            continue
        assert grade(exercise, {name: entry.formula})[name] == ("correct", None)
        assert grade(exercise, {name: rows[0]})[name] == ("incorrect", "row_major")


def test_a_kronecker_formula_in_each_order() -> None:
    exercise = column("walkthrough-0")
    assert grade(exercise, {"J_z2_W2": "kron(a1.T, eye(2))"})["J_z2_W2"] == ("correct", None)
    assert grade(exercise, {"J_z2_W2": "kron(eye(2), a1.T)"})["J_z2_W2"] == (
        "incorrect",
        "row_major",
    )
    row = row_twin(exercise)
    assert grade(row, {"J_z2_W2": "kron(eye(2), a1.T)"})["J_z2_W2"] == ("correct", None)
    assert grade(row, {"J_z2_W2": "kron(a1.T, eye(2))"})["J_z2_W2"] == (
        "incorrect",
        "column_major",
    )


def test_the_row_major_message_says_the_file_asks_for_column_major() -> None:
    exercise = column("walkthrough-0")
    row = solution_json(row_twin(exercise))
    report = check(exercise, {"J_z1_W1": row["J_z1_W1"]}, time_limit=None)
    result = next(r for r in report.results if r.name == "J_z1_W1")
    assert result.message.startswith("flattened row-major: this exercise asks for the")
    assert 'column-major vec (vec = "column"' in result.message


def test_gradients_of_a_matrix_are_unchanged_and_its_reshape_by_rows_is_row_major() -> None:
    """``dW2`` is the same matrix in both files; reshaping its column-major ``vec`` in C order
    (numpy's default) is the ``row_major`` mistake of a column file."""
    exercise = column("walkthrough-7")
    row = row_twin(exercise)
    for name in ("dW2", "dW1", "delta2", "db1"):
        np.testing.assert_array_equal(
            exercise.key.entries[name].reference, row.key.entries[name].reference
        )
    dW2 = exercise.key.entries["dW2"].reference
    vec_col = np.array([dW2[i, k] for k in range(dW2.shape[1]) for i in range(dW2.shape[0])])
    by_rows = vec_col.reshape(dW2.shape)  # C order
    assert grade(exercise, {"dW2": by_rows.tolist()})["dW2"] == ("incorrect", "row_major")


def test_a_row_of_a_flattened_weight_follows_the_convention(tmp_path: Path) -> None:
    """A custom column file may ask ``J_L_W2 = ∂L/∂vec(W2)``: the gradient's columns stacked;
    the row-major row is ``row_major``, and ``W2`` itself flattened by columns is
    ``parameter_given``."""
    base = column("network-2")
    problem = base.problem
    assert isinstance(problem, ColumnProblem)
    questions = (Question("J_L_W2"), Question("J_L_W1"))
    exercise = Exercise("rows", problem, questions, "custom", vec="column")
    values = problem.params.values
    x, y = problem.params.x[:, 0], problem.params.y[:, 0]  # type: ignore[index]

    def loss(W: np.ndarray) -> np.ndarray:
        a1 = np.tanh(values["W1"] @ x + values["b1"])
        a2 = ACTIVATIONS["sigmoid"](W @ a1 + values["b2"])
        return np.asarray(0.5 * np.sum((a2 - y) ** 2))

    J = fortran_jacobian(loss, values["W2"])
    np.testing.assert_allclose(exercise.key.entries["J_L_W2"].reference, J, *FINITE_DIFFERENCE)
    row = row_twin(exercise)
    got = grade(exercise, solution_json(row))
    assert got == {"J_L_W2": ("incorrect", "row_major"), "J_L_W1": ("incorrect", "row_major")}
    given = values["W2"].reshape(1, -1, order="F").tolist()
    assert grade(exercise, {"J_L_W2": given})["J_L_W2"] == ("incorrect", "parameter_given")
    entry = exercise.key.entries["J_L_W2"]
    assert grade(exercise, {"J_L_W2": entry.formula})["J_L_W2"] == ("correct", None)


# --- the file ---------------------------------------------------------------------------


@pytest.mark.parametrize("case", ["walkthrough-7", "foundations-chapter", "network-2"])
def test_a_column_file_states_its_convention_and_reads_back(case: str, tmp_path: Path) -> None:
    exercise = column(case)
    text = to_toml(exercise)
    assert '\nvec = "column"  # vec stacks columns (column-major, Magnus–Neudecker)' in text
    # the weight factor of the file's own layout: z = W a, or the foundations' N = X W
    factor = "∂vec(N)/∂vec(W) = I ⊗ X" if case.startswith("foundations") else "aᵀ ⊗ I_n"
    header = text.split("[network]")[0]
    assert factor in header and ("aᵀ" in header) == (factor == "aᵀ ⊗ I_n")
    path = tmp_path / "ex.toml"
    path.write_text(text, encoding="utf-8")
    back = read_exercise(path)
    assert back.vec == "column"
    for name, e in exercise.key.entries.items():
        np.testing.assert_array_equal(back.key.entries[name].reference, e.reference)
    prompts = {q.name: q.prompt for q in back.questions}
    for name in flattened(exercise) & set(prompts):
        assert "column-major vec: vec stacks the columns" in prompts[name], name


@pytest.mark.parametrize("case", ["walkthrough-7", "foundations-chapter", "network-2"])
def test_a_row_file_is_written_as_before(case: str) -> None:
    name, seed, network = CASES[case]
    default, row = new(name, seed, **network), new(name, seed, "row", **network)
    assert to_toml(default) == to_toml(row)
    assert "vec" not in to_toml(row).split("[network]")[0]
    assert "column" not in " ".join(q.prompt for q in row.questions)


def test_a_seeded_column_file_draws_its_values_in_the_convention(tmp_path: Path) -> None:
    path = tmp_path / "seeded.toml"
    path.write_text(
        'vec = "column"\n[network]\nsizes = [3, 4, 2, 1]\nactivations = ["relu", "relu",'
        ' "sigmoid"]\nloss = "bce"\n[values]\nseed = 7\n[[questions]]\nname = "J_z2_W2"\n',
        encoding="utf-8",
    )
    exercise = read_exercise(path)
    assert exercise.vec == "column"
    entry = exercise.key.entries["J_z2_W2"]
    assert entry.formula == "kron(a1.T, eye(2))"
    assert "row_major" in [c.model.mistake for c in entry.candidates]


def test_solve_prints_the_convention() -> None:
    text = format_solution(column("foundations-3"))
    assert text.splitlines()[1].startswith("vec = 'column': vec stacks columns (column-major")
    assert "vec =" not in format_solution(row_twin(column("foundations-3")))


# --- errors -----------------------------------------------------------------------------


BASE = '[network]\nsizes = [2, 2]\nactivations = ["sigmoid"]\nloss = "bce"\n[values]\nseed = 1\n'


@pytest.mark.parametrize(
    ("line", "match"),
    [
        ('vec = "col"', r"ex.toml': vec: expected \"row\" or \"column\", got str 'col'"),
        ('vec = "Column"', r"vec: expected \"row\" or \"column\", got str 'Column'"),
        ("vec = 1", r"vec: expected \"row\" or \"column\", got int 1"),
    ],
)
def test_an_unknown_vec_names_the_field_and_the_values(
    line: str, match: str, tmp_path: Path
) -> None:
    path = tmp_path / "ex.toml"
    path.write_text(f'{line}\n{BASE}[[questions]]\nname = "dW1"\n', encoding="utf-8")
    with pytest.raises(ExerciseFileError, match=match):
        read_exercise(path)


def test_a_network_of_layers_refuses_the_column_vec() -> None:
    data = {
        "vec": "column",
        "network": {"input": [1, 3, 3], "layers": "conv2d(1, 2), flatten", "loss": "sum"},
        "values": {"seed": 1},
        "questions": [{"name": "dW1"}],
    }
    with pytest.raises(ExerciseFileError, match=r'ex: vec: expected "row" for a network written'):
        exercise_from_data(data, "ex")
    with pytest.raises(ExerciseFileError, match=r'vec: expected "row" for the cnn set'):
        new("cnn", 0, "column")
    with pytest.raises(ExerciseFileError, match=r"vec: expected \"row\" or \"column\", got 'c'"):
        new("walkthrough", 0, "c")
    with pytest.raises(ExerciseFileError, match=r"vec: expected \"row\" or \"column\", got 'c'"):
        new("foundations", None, "c")


# --- the command line -------------------------------------------------------------------


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("name", "flattened"),
    [("walkthrough", "J_z2_W2"), ("foundations", "J_N_W")],
)
def test_cli_new_vec_column_solve_and_check(
    name: str, flattened: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ex = tmp_path / "ex.toml"
    code, _, _ = run(["exercises", "new", name, "--vec", "column", "-o", str(ex)], capsys)
    assert code == 0
    assert "--vec column" in ex.read_text(encoding="utf-8").splitlines()[1]
    code, out, _ = run(["exercises", "solve", str(ex), "--json"], capsys)
    key = tmp_path / "key.json"
    key.write_text(out, encoding="utf-8")
    code, out, _ = run(["check", str(ex), str(key), "--json"], capsys)
    report = json.loads(out)
    assert code == 0 and report["score"] == report["max_score"]
    # the row-major answer of the same values is the row_major mistake, here and on Gradescope
    row = read_exercise(ex)
    answers = json.loads(key.read_text(encoding="utf-8"))
    answers[flattened] = answer_form(row_twin(row).key.entries[flattened].reference)
    key.write_text(json.dumps(answers), encoding="utf-8")
    results = tmp_path / "results.json"
    argv = ["check", str(ex), str(key), "--json", "--gradescope", str(results)]
    code, out, _ = run(argv, capsys)
    verdicts = {q["name"]: (q["verdict"], q["mistake"]) for q in json.loads(out)["questions"]}
    assert code == 1 and verdicts[flattened] == ("incorrect", "row_major")
    tests = {t["name"]: t for t in json.loads(results.read_text(encoding="utf-8"))["tests"]}
    test = next(t for n, t in tests.items() if n.startswith(flattened))
    assert test["status"] == "failed" and "flattened row-major" in test["output"]


def test_cli_refuses_vec_column_for_a_network_of_layers(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = run(["exercises", "new", "attention", "--vec", "column"], capsys)
    assert code == 2
    assert "--vec column: expected row for attention, a network of layers" in err
    argv = ["exercises", "new", "network", "--input", "1x3x3", "--layers", "conv2d(1, 2)"]
    code, _, err = run([*argv, "--loss", "sum", "--vec", "column"], capsys)
    assert code == 2 and '--vec column: expected "row" for a network written as layers' in err
    with pytest.raises(SystemExit) as exited:
        main(["exercises", "new", "walkthrough", "--vec", "col"])
    assert exited.value.code == 2
    assert "argument --vec: invalid choice: 'col' (choose from 'row', 'column')" in (
        capsys.readouterr().err
    )
