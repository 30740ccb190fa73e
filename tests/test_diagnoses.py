"""The checker's diagnoses of a multiple of the right answer (``scaled``), of the parameter
given for its gradient (``parameter_given``), and its hint for an answer rounded to 2
significant digits — on every built-in set, with the older diagnoses keeping their priority.

Expected values are built here from the reference and the exercise's own parameters (numpy
and ``format``), never from the checker's models.
"""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jacobians.exercises.exercise import Exercise
from jacobians.exercises.grading import check, grade_numeric
from jacobians.exercises.key import Entry, close
from jacobians.exercises.mistakes import MISTAKES
from jacobians.exercises.quantities import RowProblem
from jacobians.exercises.report import Result
from jacobians.exercises.sets import walkthrough

from .test_exercises import SETS

MSE_SETS = [
    n
    for n, e in SETS.items()
    if not isinstance(e.problem, RowProblem) and e.problem.net.loss.name == "mse"
]
FACTORS = [(2.0, "2"), (0.5, "1/2"), (3.0, "3")]
ROUNDED_TOO_FAR = "; rounded too far: give 4 significant digits"


def results(exercise: Exercise, answers: dict[str, object]) -> dict[str, Result]:
    """Every answered question's result, graded in one submission."""
    report = check(exercise, answers, time_limit=None)
    return {r.name: r for r in report.results if r.name in answers}


def nonzero(entry: Entry) -> int:
    """Entries of the reference above the question's absolute tolerance."""
    return int(np.count_nonzero(np.abs(entry.reference) > entry.question.atol))


def earlier_mistake(entry: Entry, answer: np.ndarray) -> str | None:
    """The mistake model the answer already matches (they keep priority over ``scaled``)."""
    q = entry.question
    for c in entry.candidates:
        if c.value.shape == answer.shape and close(answer, c.value, q.rtol, q.atol).all():
            return c.model.mistake
    return None


def loss_gradient(entry: Entry) -> bool:
    """A gradient of the loss (where the loss's ½ and the batch's 1/m reach)."""
    return entry.quantity.kind == "gradient" or entry.question.name.startswith("J_L_")


# --- scaled -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SETS)
@pytest.mark.parametrize(("factor", "shown"), FACTORS)
def test_a_multiple_of_the_answer_is_scaled_and_names_the_factor(
    name: str, factor: float, shown: str
) -> None:
    exercise = SETS[name]
    asked = {q: e for q, e in exercise.key.entries.items() if nonzero(e) >= 2}
    assert asked, "every built-in set has questions of at least 2 nonzero entries"
    got = results(exercise, {q: (factor * e.reference).tolist() for q, e in asked.items()})
    for question, entry in asked.items():
        r = got[question]
        before = earlier_mistake(entry, factor * entry.reference)
        if before is not None:  # 3 × dW with m = 3 is the missing 1/m
            assert (r.verdict, r.mistake) == ("incorrect", before), question
            continue
        assert (r.verdict, r.mistake, r.score) == ("incorrect", "scaled", 0.0), question
        assert r.message.startswith(MISTAKES["scaled"])
        assert f"your answer is {shown} × the right one" in r.message, (question, r.message)


@settings(max_examples=40)
@given(
    # within 5 % of 1 a multiple may be the answer rounded to 2 significant digits (1.03 × 1
    # is 1.0 there), which is told "rounded too far" instead (tested below)
    st.floats(0.05, 20.0).filter(lambda c: abs(c - 1.0) > 0.06),
    st.booleans(),
    st.sampled_from(["dW1", "dW2", "delta1", "J_z1_W1", "J_a1_z1"]),
)
def test_any_factor_is_named_to_the_precision_it_is_checked(
    size: float, negative: bool, question: str
) -> None:
    """The factor printed reads back (a fraction or a decimal) within the tolerance."""
    exercise = SETS["walkthrough"]
    entry = exercise.key.entries[question]
    factor = -size if negative else size
    r = grade_numeric(entry, (factor * entry.reference).tolist())
    before = earlier_mistake(entry, factor * entry.reference)
    assert r.mistake == (before or "scaled")
    if before is None:
        printed = r.message.split("your answer is ")[1].split(" ×")[0]
        assert abs(float(Fraction(printed)) - factor) <= 5.01e-3 * abs(factor), r.message


def test_the_negative_is_still_sign_flipped_and_other_negative_factors_are_scaled() -> None:
    exercise = SETS["walkthrough"]
    ref = exercise.key.entries["dW1"].reference
    got = results(exercise, {"dW1": (-ref).tolist()})
    assert got["dW1"].mistake == "sign_flipped"
    got = results(exercise, {"dW1": (-2 * ref).tolist()})
    assert got["dW1"].mistake == "scaled"
    assert "your answer is -2 × the right one" in got["dW1"].message


def test_no_scaled_diagnosis_for_one_number_zeros_or_a_near_multiple() -> None:
    exercise = SETS["walkthrough"]
    entries = exercise.key.entries
    assert nonzero(entries["J_L_a3"]) == 1
    ref = entries["dW1"].reference
    near = 2 * ref
    near[0, 0] += 0.01 + 0.01 * abs(near[0, 0])  # one entry off the multiple
    got = results(
        exercise,
        {
            "J_L_a3": (2 * entries["J_L_a3"].reference).tolist(),
            "dW2": np.zeros_like(entries["dW2"].reference).tolist(),
            "dW1": near.tolist(),
        },
    )
    assert {q: (r.verdict, r.mistake) for q, r in got.items()} == dict.fromkeys(
        got, ("incorrect", None)
    )


@pytest.mark.parametrize(("formula", "shown"), [("2 * ({})", "2"), ("({}) / 3", "1/3")])
def test_a_multiple_of_the_right_formula_is_scaled_too(formula: str, shown: str) -> None:
    exercise = SETS["walkthrough"]
    right = {
        "dW3": "delta3 @ a2.T",
        "db3": "delta3",
        "J_L_a3": "((yhat - y) / (yhat * (1 - yhat))).T",
    }
    got = results(exercise, {name: formula.format(text) for name, text in right.items()})
    for name in right:
        assert got[name].mistake == "scaled" and got[name].form == "symbolic", name
        assert f"your formula is {shown} × the right one" in got[name].message
    # the right formula and its negative keep their verdicts
    same = results(exercise, {"dW3": right["dW3"], "db3": f"-({right['db3']})"})
    assert same["dW3"].verdict == "correct" and same["db3"].mistake == "sign_flipped"


@pytest.mark.parametrize("name", MSE_SETS)
def test_mse_names_its_half_as_the_likely_cause(name: str) -> None:
    exercise = SETS[name]
    asked = {q: e for q, e in exercise.key.entries.items() if nonzero(e) >= 2}
    for factor, cause in ((2.0, "the ½ of mse forgotten"), (0.5, "the ½ of mse taken twice")):
        got = results(exercise, {q: (factor * e.reference).tolist() for q, e in asked.items()})
        named = 0
        for question, entry in asked.items():
            r = got[question]
            if r.mistake != "scaled":
                continue  # an earlier model (the missing 1/m of a batch of 2)
            assert (cause in r.message) == loss_gradient(entry), (question, r.message)
            named += cause in r.message
        assert named > 0


def test_no_cause_is_named_where_the_loss_is_not_mse_and_the_batch_is_one() -> None:
    exercise = SETS["walkthrough"]
    asked = {q: e for q, e in exercise.key.entries.items() if nonzero(e) >= 2}
    for factor in (2.0, 0.5):
        got = results(exercise, {q: (factor * e.reference).tolist() for q, e in asked.items()})
        assert all(r.mistake == "scaled" and "likely" not in r.message for r in got.values())


def test_a_batch_names_1_over_m_left_out_or_applied_twice() -> None:
    exercise = SETS["network"]  # ce, a batch of 3
    entries = exercise.key.entries
    got = results(
        exercise,
        {
            "dW2": (entries["dW2"].reference / 3).tolist(),
            "delta2": (3 * entries["delta2"].reference).tolist(),
            "db2": (3 * entries["db2"].reference).tolist(),
        },
    )
    assert got["dW2"].mistake == "scaled"
    assert "1/3 × the right one; likely 1/m applied twice" in got["dW2"].message
    assert got["delta2"].mistake == "scaled"
    assert "likely the 1/m of the mean over the m = 3 examples left out" in got["delta2"].message
    assert got["db2"].mistake == "missing_mean"  # the older diagnosis keeps priority


# --- the parameter given for its gradient ---------------------------------------------------


def parameter_questions(exercise: Exercise) -> dict[str, tuple[str, np.ndarray]]:
    """Each question asking a parameter's gradient: the parameter and its values in the
    answer's shape (a bias as a column; the row ``vec(P)ᵀ`` for ``J_L_P``)."""
    problem = exercise.problem
    if isinstance(problem, RowProblem):
        values = {"W": problem.W}
        names = {"dLdW": "W", "J_L_W": "W"}
    else:
        values = dict(problem.params.values)
        names = {f"{prefix}{p}": p for p in values for prefix in ("d", "J_L_")}
    out = {}
    for q in exercise.questions:
        if q.name in names:
            value = values[names[q.name]]
            if q.name.startswith("J_L_"):
                value = value.reshape(1, -1)
            elif value.ndim == 1:
                value = value.reshape(-1, 1)
            out[q.name] = (names[q.name], value)
    return out


@pytest.mark.parametrize("name", SETS)
def test_the_parameter_given_for_its_gradient_is_diagnosed(name: str) -> None:
    exercise = SETS[name]
    asked = parameter_questions(exercise)
    assert asked, "every built-in set asks a parameter's gradient"
    got = results(exercise, {q: value.tolist() for q, (_, value) in asked.items()})
    for question, (parameter, _) in asked.items():
        r = got[question]
        assert (r.verdict, r.mistake, r.score) == ("incorrect", "parameter_given", 0.0)
        assert r.message.startswith(MISTAKES["parameter_given"])
        assert f"this is {parameter} itself, not its gradient {question}" in r.message


def test_the_parameter_written_as_a_formula_is_diagnosed_too() -> None:
    got = results(SETS["walkthrough"], {"dW2": "W2", "db1": "b1"})
    assert got["dW2"].mistake == "parameter_given" and got["dW2"].form == "symbolic"
    assert "this is W2 itself, not its gradient dW2" in got["dW2"].message
    assert got["db1"].mistake == "parameter_given"


def test_an_all_zero_parameter_is_not_a_diagnosis() -> None:
    """An answer of zeros for ``db`` where ``b = 0`` is told nothing about ``b``."""
    import tomllib

    from jacobians.exercises.exercise import exercise_from_data, to_toml

    data = tomllib.loads(to_toml(walkthrough()))
    data["values"]["b2"] = [0.0, 0.0]
    exercise = exercise_from_data(data)
    zeros = np.zeros((2, 1))
    assert results(exercise, {"db2": zeros.tolist()})["db2"].mistake is None


# --- rounded to 2 significant digits -------------------------------------------------------


def rounded(values: np.ndarray, digits: int) -> np.ndarray:
    return np.vectorize(lambda v: float(f"{v:.{digits}g}"))(values)


@pytest.mark.parametrize("name", SETS)
def test_an_answer_rounded_to_2_significant_digits_gets_the_hint(name: str) -> None:
    exercise = SETS[name]
    answers, passing = {}, {}
    for question, e in exercise.key.entries.items():
        two = rounded(e.reference, 2)
        if close(two, e.reference, e.question.rtol, e.question.atol).all():
            passing[question] = two.tolist()  # 2 digits are exact here (0, 1, 0.25)
        else:
            answers[question] = two.tolist()
    assert answers
    got = results(exercise, {**answers, **passing})
    for question in answers:
        r = got[question]
        assert (r.verdict, r.mistake) == ("incorrect", None), question
        assert r.message.endswith(ROUNDED_TOO_FAR), (question, r.message)
    for question in passing:
        assert got[question].verdict == "correct"


def test_3_significant_digits_get_the_hint_and_an_answer_further_off_does_not() -> None:
    exercise = SETS["walkthrough"]
    entry = exercise.key.entries["dW1"]
    ref, q = entry.reference, entry.question
    three = rounded(ref, 3)
    assert not close(three, ref, q.rtol, q.atol).all()  # else this test shows nothing
    assert results(exercise, {"dW1": three.tolist()})["dW1"].message.endswith(ROUNDED_TOO_FAR)
    off = rounded(ref, 2)
    big = int(np.argmax(np.abs(ref)))
    off.flat[big] = ref.flat[big] * 1.2  # 20 % off: not 2 significant digits
    got = results(exercise, {"dW1": off.tolist()})["dW1"]
    assert got.verdict == "incorrect" and "rounded" not in got.message


@pytest.mark.parametrize(
    ("rtol", "digits"), [(1e-5, 6), (1e-4, 5), (5e-4, 4), (2e-3, 4), (6e-3, 3)]
)
def test_the_hint_asks_for_the_digits_the_tolerance_needs(rtol: float, digits: int) -> None:
    """``digits`` is the fewest with ``½·10^(1−d) ≤ rtol``: rounding to it passes, and
    rounding to 2 does not and gets the hint."""
    entry = SETS["walkthrough"].key.entries["dW1"]
    entry = replace(entry, question=replace(entry.question, rtol=rtol))
    assert grade_numeric(entry, rounded(entry.reference, digits).tolist()).verdict == "correct"
    r = grade_numeric(entry, rounded(entry.reference, 2).tolist())
    assert r.message.endswith(f"; rounded too far: give {digits} significant digits")


def test_no_hint_when_the_tolerance_accepts_2_digits() -> None:
    entry = SETS["walkthrough"].key.entries["dW1"]
    entry = replace(entry, question=replace(entry.question, rtol=0.05))
    ref = entry.reference
    assert grade_numeric(entry, rounded(ref, 2).tolist()).verdict == "correct"
    r = grade_numeric(entry, rounded(ref, 1).tolist())
    assert "rounded" not in r.message


# --- the older verdicts -------------------------------------------------------------------


@pytest.mark.parametrize("name", SETS)
def test_right_negated_and_transposed_answers_keep_their_verdicts(name: str) -> None:
    exercise = SETS[name]
    entries = exercise.key.entries
    right = results(exercise, {q: e.reference.tolist() for q, e in entries.items()})
    negated = results(exercise, {q: (-e.reference).tolist() for q, e in entries.items()})
    assert all(r.verdict == "correct" for r in right.values())
    assert all(r.mistake == "sign_flipped" for r in negated.values())
    transposable = {
        q: e
        for q, e in entries.items()
        if any(c.model.mistake == "transposed" for c in e.candidates)
    }
    flipped = results(exercise, {q: e.reference.T.tolist() for q, e in transposable.items()})
    assert all(r.mistake == "transposed" for r in flipped.values())


def test_every_new_diagnosis_is_listed_and_documented() -> None:
    page = (Path(__file__).resolve().parent.parent / "docs" / "exercises.md").read_text()
    assert {"scaled", "parameter_given"} <= set(MISTAKES)
    assert "`scaled`" in page and "the parameter given for its gradient" in page
    assert '"rounded too far: give 4 significant digits"' in page
