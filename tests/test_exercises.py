"""The exercise checker: built-in sets, verdicts, mistake diagnosis, files and the CLI."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jacobians.backprop import vectorized_route
from jacobians.cli import main
from jacobians.exercises.answers import AnswersFileError, parse_answers
from jacobians.exercises.exercise import Exercise, ExerciseFileError, read_exercise, to_toml
from jacobians.exercises.grading import check
from jacobians.exercises.key import close, problems
from jacobians.exercises.mistakes import MISTAKES
from jacobians.exercises.sandbox import TimeLimitError, run_limited
from jacobians.exercises.sets import (
    attention,
    batchnorm,
    cnn,
    foundations,
    network_exercise,
    residual,
    walkthrough,
)
from jacobians.exercises.solve import answer_form, solution_json
from jacobians.network import Network

from .strategies import ELEMENTWISE

SETS = {
    "walkthrough": walkthrough(),
    "walkthrough-7": walkthrough(7),
    "foundations": foundations(),
    "foundations-3": foundations(3),
    "network": network_exercise("3-4-4-3", "tanh,leaky_relu:0.2,softmax", "ce", seed=1, batch=3),
    "network-mse": network_exercise("2-3-2", "sigmoid,identity", "mse", seed=2),
    "cnn": cnn(),
    "cnn-5": cnn(5),
    "batchnorm": batchnorm(),
    "batchnorm-2": batchnorm(2),
    "residual": residual(),
    "attention": attention(),
    "attention-4": attention(4),
    "layers-attention": network_exercise(
        layers="embedding(5, 2), attention(2, causal=true), flatten, dense(1), sigmoid",
        input_shape="3",
        loss="bce",
        seed=2,
    ),
    "layers-dropout": network_exercise(
        layers="dense(4), relu, dropout(0.5), dense(2), softmax", input_shape="3", loss="ce", seed=4
    ),
    "layers": network_exercise(
        layers="conv2d(2, 2, stride=2), tanh, avgpool(1), flatten, dense(2), softmax",
        input_shape="2x5x5",
        loss="ce",
        seed=3,
    ),
    "layers-batch": network_exercise(
        layers="conv2d(1, 2, padding=1), relu, maxpool(2, stride=1), flatten",
        input_shape="1x3x3",
        loss="mse",
        seed=1,
        batch=2,
    ),
}


def grade(exercise: Exercise, answers: dict[str, object]) -> dict[str, tuple[str, str | None]]:
    report = check(exercise, answers, time_limit=None)
    return {r.name: (r.verdict, r.mistake) for r in report.results}


@pytest.mark.parametrize("name", SETS)
def test_reference_answers_score_full_marks(name: str) -> None:
    exercise = SETS[name]
    report = check(exercise, solution_json(exercise), time_limit=None)
    assert report.all_correct and report.score == report.max_score == len(exercise.questions)
    assert problems(exercise.key) == []


@pytest.mark.parametrize("name", SETS)
def test_every_mistake_applied_to_the_reference_is_diagnosed_as_itself(name: str) -> None:
    exercise = SETS[name]
    for question, entry in exercise.key.entries.items():
        for c in entry.candidates:
            got = grade(exercise, {question: answer_form(c.value)})[question]
            assert got == ("incorrect", c.model.mistake), (question, c.model)


@pytest.mark.parametrize("name", SETS)
def test_right_formulas_and_mistaken_formulas_are_graded_symbolically(name: str) -> None:
    exercise = SETS[name]
    for question, entry in exercise.key.entries.items():
        if entry.formula is None or entry.question.names is not None:
            continue
        names = set(entry.names)
        if not names >= _names_in(entry.formula):
            continue  # the textbook formula uses the quantity itself (x, W1 …)
        assert grade(exercise, {question: entry.formula})[question] == ("correct", None)
        for c in entry.candidates:
            text = c.model.formula
            if c.model.transform == "T":
                text = f"({entry.formula}).T"
            elif c.model.transform == "neg":
                text = f"-({entry.formula})"
            if text is None or not _names_in(text) <= names:
                continue
            got = grade(exercise, {question: text})[question]
            assert got == ("incorrect", c.model.mistake), (question, text)


def _names_in(formula: str) -> set[str]:
    from jacobians.exercises.expression import names, parse

    return names(parse(formula))


@pytest.mark.parametrize("name", SETS)
def test_rounded_answers_pass_and_transposed_or_negated_ones_never(name: str) -> None:
    exercise = SETS[name]
    for question, entry in exercise.key.entries.items():
        ref = entry.reference
        rounded = np.vectorize(lambda v: float(f"{v:.4g}"))(ref)
        assert grade(exercise, {question: rounded.tolist()})[question][0] == "correct"
        assert grade(exercise, {question: (-ref).tolist()})[question] == (
            "incorrect",
            "sign_flipped",
        )
        if ref.shape != ref.T.shape or not np.allclose(ref, ref.T):
            assert grade(exercise, {question: ref.T.tolist()})[question][0] == "incorrect"


@settings(max_examples=20)
@given(st.integers(0, 2**32 - 1), st.sampled_from(list(SETS)))
def test_random_wrong_answers_are_incorrect_without_a_false_diagnosis(seed: int, name: str) -> None:
    exercise = SETS[name]
    rng = np.random.default_rng(seed)
    for question, entry in exercise.key.entries.items():
        wrong = rng.standard_normal(entry.reference.shape)
        q, ref = entry.question, entry.reference
        scale = np.vdot(ref, wrong) / np.vdot(ref, ref) if np.count_nonzero(ref) > 1 else 1.0
        multiple = scale * ref
        if any(
            value.shape == wrong.shape and close(wrong, value, q.rtol, q.atol).all()
            for value in (ref, multiple, *(c.value for c in entry.candidates))
        ):
            continue  # a 1 × 1 drawn within tolerance of the answer (J_z3_b3 = [[1]] took
            # 1.0009 at seed 18633), of a mistake's value, or of a multiple of the answer (a
            # 2-vector at the answer's ratio, about 1 in 2,000) is that answer or that mistake
        assert grade(exercise, {question: wrong.tolist()})[question] == ("incorrect", None)


@settings(max_examples=10, deadline=None)
@given(
    st.lists(st.integers(2, 5), min_size=3, max_size=4),
    st.lists(st.sampled_from([a for a in ELEMENTWISE if a != "identity"]), min_size=3, max_size=3),
    st.sampled_from(["mse", "sum", "bce"]),
    st.integers(0, 1000),
    st.integers(1, 3),
)
def test_the_generator_works_for_any_architecture(
    sizes: list[int], activations: list[str], loss: str, seed: int, batch: int
) -> None:
    depth = len(sizes) - 1
    acts = activations[:depth]
    if loss == "bce":
        acts[-1] = "sigmoid"
    try:
        exercise = network_exercise(sizes, acts, loss, seed=seed, batch=batch)
    except ExerciseFileError as e:
        assert "within 200 draws" in str(e)
        return
    assert problems(exercise.key) == []
    assert check(exercise, solution_json(exercise), time_limit=None).all_correct
    for question, entry in exercise.key.entries.items():
        for c in entry.candidates:
            assert grade(exercise, {question: answer_form(c.value)})[question] == (
                "incorrect",
                c.model.mistake,
            )


def test_formulas_equal_the_numeric_routes() -> None:
    """The mistake models' right formulas, run by the interpreter, give the numeric routes'
    references: two independent computations of every quantity."""
    for exercise in SETS.values():
        for entry in exercise.key.entries.values():
            if entry.formula is None:
                continue
            from jacobians.exercises.key import model_value
            from jacobians.exercises.mistakes import Model

            key = exercise.key
            got = model_value(
                Model("right", entry.formula), entry.reference, key.env, key.integers, (1, 1)
            )
            np.testing.assert_allclose(got, entry.reference, rtol=1e-10, atol=1e-13)


def test_references_come_from_the_routes() -> None:
    exercise = SETS["walkthrough"]
    net = Network.from_spec("3-4-2-1", "relu,relu,sigmoid", "bce")
    assert exercise.problem.net == net  # type: ignore[union-attr]
    route = vectorized_route(net, exercise.problem.params)  # type: ignore[union-attr]
    np.testing.assert_allclose(
        exercise.key.entries["dW2"].reference, route.gradients["dW2"], rtol=1e-12
    )
    f = SETS["foundations"].key.entries
    np.testing.assert_allclose(f["L"].reference, [[2.3755]], atol=5e-5)
    assert round(float(f["dLdX"].reference[0, 0]), 4) == 0.2489


def test_variants_differ_in_numbers_and_agree_in_questions() -> None:
    a, b = walkthrough(1), walkthrough(2)
    assert [q.name for q in a.questions] == [q.name for q in b.questions]
    assert not np.allclose(a.key.entries["dW1"].reference, b.key.entries["dW1"].reference)
    again = walkthrough(1)
    np.testing.assert_array_equal(
        a.key.entries["dW1"].reference, again.key.entries["dW1"].reference
    )
    assert foundations(3).variant == 3 and foundations().variant is None


def test_a_dead_or_all_alive_relu_layer_is_drawn_again() -> None:
    """A 2-unit relu layer discriminates only with one unit dead and one alive (all dead:
    dW1 = 0; all alive: relu' = 1 and a missing derivative goes unseen): half the draws."""
    for seed in range(6):
        exercise = network_exercise("2-2-1", "relu,sigmoid", "bce", seed=seed)
        z1 = exercise.key.env["z1"]
        assert np.any(z1 > 0) and np.any(z1 < 0)
    with pytest.raises(ExerciseFileError, match=r"within 200 draws.*use wider layers"):
        network_exercise("2-1-1", "relu,sigmoid", "bce")  # 1 unit: dead, or relu' = 1


def test_verdict_messages() -> None:
    exercise = walkthrough()
    e = exercise.key.entries
    answers: dict[str, object] = {
        "dW2": e["dW2"].reference.T.tolist(),
        "dW1": np.zeros((3, 3)).tolist(),
        "db2": e["db2"].reference.T.tolist(),
        "J_L_z2": e["J_L_z2"].reference[0].tolist(),
        "delta2": "(W3.T @ delta3) * relu_prime(z3)",
        "delta1": "dW1",
        "J_z2_W2": "kron(a1.T, eye(2))",
        "J_z1_W1": [[1, 2], [3]],
        "J_z1_b1": "W1 @",
        "J_L_a3": float("nan"),
        "db1": "delta1",
        "J_z2_b2": [[1.0, 0.0], [0.0, 1.0]],
    }
    report = check(exercise, answers, time_limit=None)
    r = {x.name: x for x in report.results}
    assert (r["dW2"].verdict, r["dW2"].mistake) == ("incorrect", "transposed")
    assert r["dW1"].mistake == "wrong_shape" and "expected 4×3" in r["dW1"].message
    assert "a gradient has the shape of its parameter" in r["dW1"].message
    assert r["db2"].mistake == "transposed" and "flat list" not in r["db2"].message
    assert (
        r["J_L_z2"].mistake == "transposed"
        and "a flat list is read as a column" in r["J_L_z2"].message
    )
    assert r["delta2"].verdict == "incorrect"
    assert r["delta2"].shown is not None and r["delta2"].latex is not None
    assert r["delta1"].verdict == "invalid" and "may not be written with dW1" in r["delta1"].message
    assert r["J_z2_W2"].mistake == "column_major"
    assert r["J_z1_W1"].verdict == "invalid" and "rows of equal length" in r["J_z1_W1"].message
    assert r["J_z1_b1"].verdict == "invalid" and "not a formula" in r["J_z1_b1"].message
    assert r["J_L_a3"].verdict == "invalid" and "finite" in r["J_L_a3"].message
    assert r["db1"].verdict == "correct" and r["J_z2_b2"].verdict == "correct"
    assert r["J_a1_z1"].verdict == "invalid" and "no answer" in r["J_a1_z1"].message
    assert all(x.score == 0 for x in report.results if x.verdict != "correct")
    assert set(MISTAKES) >= {x.mistake for x in report.results if x.mistake}


def test_wrong_entries_are_named_and_partial_credit_counts_them() -> None:
    exercise = walkthrough()
    from dataclasses import replace

    partial = replace(
        exercise, questions=tuple(replace(q, partial=True) for q in exercise.questions)
    )
    ref = exercise.key.entries["dW2"].reference.copy()
    ref[1, 2] += 1.0
    r = check(partial, {"dW2": ref.tolist()}, time_limit=None).results
    dW2 = next(x for x in r if x.name == "dW2")
    assert dW2.wrong == ((2, 3),) and "(2, 3)" in dW2.message
    assert dW2.score == pytest.approx(7 / 8)
    plain = next(
        x
        for x in check(exercise, {"dW2": ref.tolist()}, time_limit=None).results
        if x.name == "dW2"
    )
    assert plain.score == 0


def test_a_form_the_question_does_not_take_is_invalid() -> None:
    exercise = walkthrough()
    from dataclasses import replace

    questions = tuple(
        replace(q, form="numeric" if q.name == "dW3" else "symbolic") for q in exercise.questions
    )
    strict = replace(exercise, questions=questions)
    r = {
        x.name: x
        for x in check(strict, {"dW3": "delta3 @ a2.T", "db3": [1.0]}, time_limit=None).results
    }
    assert r["dW3"].verdict == "invalid" and "asks for numbers" in r["dW3"].message
    assert r["db3"].verdict == "invalid" and "asks for a formula" in r["db3"].message


def test_an_answer_to_no_question_is_reported_and_costs_nothing() -> None:
    """It was a whole-file AnswersFileError; now it is listed, with the question meant."""
    report = check(walkthrough(), {"dW9": 1.0}, time_limit=None)
    assert [u.name for u in report.unknown] == ["dW9"]
    assert report.unknown[0].message.startswith("no question `dW9`; did you mean")
    assert report.max_score == 24 and len(report.results) == 24


NESTED = "dense(2), residual(dense(2), tanh, residual(dense(2), relu)), dense(1), sigmoid"


@pytest.mark.parametrize(
    ("exercise", "order"),
    [
        (SETS["walkthrough"], ["1", "2", "3"]),
        (SETS["residual"], ["1", "2_1", "3"]),
        (
            network_exercise(layers=NESTED, input_shape="2", loss="bce", seed=1),
            ["1", "2_1", "2_2_1", "3"],
        ),
    ],
    ids=["walkthrough", "residual", "nested"],
)
def test_an_answer_may_use_the_deltas_of_the_layers_the_forward_pass_meets_after_its_own(
    exercise: Exercise, order: list[str]
) -> None:
    # `order`, the layers with a delta in the order the forward pass meets them, is read off
    # the spec by hand: a block's own layers come after the layer before the block and before
    # the one after it. A delta's answer may use the deltas after its layer, a dW's and a db's
    # also its own; a name outside that set is "may not be written with", whatever the value.
    # (The layer labels used to be read with int(): "2_1" as 21, above layer 3, so that the
    # answer to delta2_1 could not use delta3, the backward pass's own step.)
    asked = {q.name for q in exercise.questions}
    for i, label in enumerate(order):
        for question, allowed in ((f"delta{label}", order[i + 1 :]), (f"dW{label}", order[i:])):
            if question not in asked:
                continue
            for other in order:
                result = check(exercise, {question: f"delta{other}"}, time_limit=None).results
                (got,) = [r for r in result if r.name == question]
                refused = f"may not be written with delta{other}" in got.message
                assert refused == (other not in allowed), (question, other, got.message)


@pytest.mark.parametrize(
    ("text", "kind", "match"),
    [
        ("dW2 = [1, ", "toml", "valid TOML"),
        ('{"dW2": 1, "dW2": 2}', "json", r"each question answered once\), got 'dW2' twice"),
        ("[1, 2]", "json", "a table of question = answer"),
    ],
)
def test_malformed_answers_files(text: str, kind: str, match: str) -> None:
    with pytest.raises(AnswersFileError, match=match):
        parse_answers(text, kind)


def test_exercise_files_round_trip(tmp_path: Path) -> None:
    for exercise in SETS.values():
        path = tmp_path / "ex.toml"
        path.write_text(to_toml(exercise))
        again = read_exercise(path)
        assert again.questions == exercise.questions and again.variant == exercise.variant
        for name, entry in exercise.key.entries.items():
            np.testing.assert_array_equal(again.key.entries[name].reference, entry.reference)


def test_an_exercise_file_with_a_seed_draws_its_values(tmp_path: Path) -> None:
    path = tmp_path / "seed.toml"
    path.write_text(
        '[network]\nsizes = [3, 4, 2, 1]\nactivations = ["relu", "relu", "sigmoid"]\n'
        'loss = "bce"\n[values]\nseed = 7\n[[questions]]\nname = "dW1"\n'
    )
    ex = read_exercise(path)
    from jacobians.exercises.exercise import Question, _ColumnMaker
    from jacobians.exercises.sets import draw_variant

    net = Network.from_spec("3-4-2-1", "relu,relu,sigmoid", "bce")  # variant 7 of its questions
    drawn = draw_variant("Exercise", _ColumnMaker(net), (Question("dW1"),), 7, 1, "custom")
    np.testing.assert_array_equal(
        ex.key.entries["dW1"].reference, drawn.key.entries["dW1"].reference
    )


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("title = [", "valid TOML"),
        (
            '[network]\nsizes=[3,1]\nactivations=["relu"]\nloss="bce"\n[[questions]]\nname="dW1"',
            "sigmoid output",
        ),
        (
            '[network]\nsizes=[3,1]\nactivations=["sigmoid"]\nloss="bce"\n[values]\nseed=1\n[[questions]]\nname="dW7"',
            "questions\\[0\\].name: expected one of",
        ),
        (
            '[network]\nsizes=[3,1]\nactivations=["sigmoid"]\nloss="bce"\n[values]\nseed=1\nbatch=2\n[[questions]]\nname="J_z1_W1"',
            "use batch = 1",
        ),
        (
            '[network]\nsizes=[3,1]\nactivations=["sigmoid"]\nloss="bce"\n[values]\nseed=1\n[[questions]]\nname="dW1"\nform="essay"',
            "questions\\[0\\].form: expected one of",
        ),
        (
            '[network]\nsizes=[3,1]\nactivations=["sigmoid"]\nloss="bce"\n[values]\nseed=1\n[[questions]]\nname="dW1"\nrtol=-1',
            "rtol: expected a finite positive",
        ),
        (
            '[network]\nsizes=[3,1]\nactivations=["sigmoid"]\nloss="bce"\n[values]\nW1=[[1,2,3]]\nb1=[0]\nx=[1,2]\ny=[1]\n[[questions]]\nname="dW1"',
            "array 'x'",
        ),
        (
            '[network]\nsizes=[3,1]\nactivations=["sigmoid"]\nloss="bce"\n[values]\nseed=1\n',
            "a list of \\[\\[questions\\]\\]",
        ),
        (
            '[network]\nlayout="row"\nsizes=[3,4,1]\nactivations=["relu","sigmoid"]\n[values]\nseed=1\n[[questions]]\nname="L"',
            "matrix function",
        ),
        ("surprise = 1\n[network]\nsizes=[3,1]\n", "unknown key 'surprise'"),
    ],
)
def test_malformed_exercise_files_name_the_place(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ExerciseFileError, match=match):
        read_exercise(path)


def _slow() -> None:
    time.sleep(10)


def test_the_hard_time_limit_kills_a_long_evaluation() -> None:
    start = time.perf_counter()
    with pytest.raises(TimeLimitError):
        run_limited(_slow, (), 0.3)
    assert time.perf_counter() - start < 3
    assert run_limited(sum, ([1, 2],), 5.0) == 3


def test_sympy_is_loaded_before_the_child_is_forked() -> None:
    """What a forked child imports dies with it: the printers of the formula display must be
    loaded in the grading process, or every submission's child pays sympy's import (half a
    second) inside the answer's time limit. Checked in a fresh interpreter."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from jacobians.exercises.grading import check\n"
        "from jacobians.exercises.sets import walkthrough\n"
        "report = check(walkthrough(), {'dW3': 'delta3 @ a2.T / m'}, time_limit=5.0)\n"
        "assert next(r for r in report.results if r.name == 'dW3').verdict == 'correct'\n"
        "print('sympy.printing.pretty' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"


def test_symbolic_answers_are_graded_in_a_child_process() -> None:
    exercise = walkthrough()
    report = check(exercise, {"dW3": "delta3 @ a2.T / m", "db3": "(delta3"}, time_limit=2.0)
    r = {x.name: x for x in report.results}
    assert r["dW3"].verdict == "correct" and r["db3"].verdict == "invalid"


def test_report_renders_for_jupyter() -> None:
    report = check(walkthrough(), {"dW3": "delta3 @ a2.T / m"}, time_limit=None)
    assert "| `dW3` | ✓ correct |" in report._repr_markdown_()
    assert "<table>" in report._repr_html_()


# --- the command line ---------------------------------------------------------------------


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_new_solve_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ex = tmp_path / "ex.toml"
    code, out, _ = run(["exercises", "new", "walkthrough", "--seed", "3", "-o", str(ex)], capsys)
    assert code == 0 and "24 questions" in out
    code, _, err = run(["exercises", "new", "walkthrough", "-o", str(ex)], capsys)
    assert code == 2 and "exists" in err
    code, out, _ = run(["exercises", "solve", str(ex), "--json"], capsys)
    key = tmp_path / "key.json"
    key.write_text(out)
    code, out, _ = run(["check", str(ex), str(key), "--json"], capsys)
    report = json.loads(out)
    assert code == 0 and report["score"] == report["max_score"] == 24
    assert set(report["questions"][0]) >= {"name", "verdict", "mistake", "message"}
    answers = json.loads(key.read_text())
    answers["dW2"] = np.array(answers["dW2"]).T.tolist()
    key.write_text(json.dumps(answers))
    results = tmp_path / "results.json"
    code, out, _ = run(["check", str(ex), str(key), "--gradescope", str(results)], capsys)
    assert code == 1 and "✗ dW2" in out and "transposed" in out
    gs = json.loads(results.read_text())
    test = next(t for t in gs["tests"] if t["name"] == "dW2")
    assert gs["score"] == 23 and test["status"] == "failed" and test["max_score"] == 1
    assert test["extra_data"] == {"verdict": "incorrect", "mistake": "transposed"}


def test_cli_unusable_files_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ex = tmp_path / "ex.toml"
    ex.write_text(to_toml(walkthrough()))
    bad = tmp_path / "a.toml"
    bad.write_text("dW2 = [")
    results = tmp_path / "r.json"
    code, _, err = run(["check", str(ex), str(bad), "--gradescope", str(results)], capsys)
    assert code == 2 and "valid TOML" in err and "Traceback" not in err
    assert json.loads(results.read_text())["score"] == 0
    code, _, err = run(["check", str(tmp_path / "none.toml"), str(bad)], capsys)
    assert code == 2 and "no such file" in err


def test_cli_list_and_network_options(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["exercises", "list"], capsys)
    assert code == 0 and out.split()[::1][0] == "walkthrough" and "foundations" in out
    code, _, err = run(["exercises", "new", "walkthrough", "--sizes", "2,2"], capsys)
    assert code == 2 and "only the network set" in err
    code, out, _ = run(
        [
            "exercises",
            "new",
            "network",
            "--sizes",
            "2,3,2",
            "--activations",
            "tanh,softmax",
            "--loss",
            "ce",
            "--batch",
            "2",
        ],
        capsys,
    )
    assert code == 0 and 'name = "dW1"' in out and "J_" not in out
    code, _, err = run(["exercises", "new", "nope"], capsys)
    assert code == 2 and "expected one of walkthrough, foundations, network" in err
