"""Gradescope: ``results.json`` against Gradescope's documented format, and
``docs/gradescope/run_autograder`` run as Gradescope runs it, on every kind of upload.

The format is Gradescope's "Autograder Specifications", section "Output format"
(https://gradescope-autograders.readthedocs.io/en/latest/specs/): every key of
``results.json`` and of a test is optional (a top-level ``score`` or one on every test); a
test's ``status`` is ``passed`` or ``failed``; ``visibility`` and ``stdout_visibility`` are
``hidden``, ``after_due_date``, ``after_published`` or ``visible``; the ``*_format`` keys are
``text``, ``html``, ``simple_format``, ``md`` or ``ansi``; ``number`` is a string ("1.1").
:data:`TOP_LEVEL` and :data:`TEST` below are that section written out, independent of our
code.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from jacobians.cli import main
from jacobians.exercises.exercise import read_exercise
from jacobians.exercises.grading import check
from jacobians.exercises.report import Report, Result, Unknown
from jacobians.exercises.sets import walkthrough

ROOT = Path(__file__).resolve().parents[1]
RUN_AUTOGRADER = ROOT / "docs" / "gradescope" / "run_autograder"
JACOBIANS = shutil.which("jacobians", path=str(Path(sys.executable).parent))
QUESTIONS = len(walkthrough().questions)

# --- Gradescope's documented format ---------------------------------------------------------

FORMATS = frozenset({"text", "html", "simple_format", "md", "ansi"})
VISIBILITIES = frozenset({"hidden", "after_due_date", "after_published", "visible"})
STATUSES = frozenset({"passed", "failed"})


def _number(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def _one_of(allowed: frozenset[str]) -> Callable[[object], bool]:
    return lambda x: isinstance(x, str) and x in allowed


def _list_of(kind: type) -> Callable[[object], bool]:
    return lambda x: isinstance(x, list) and all(isinstance(item, kind) for item in x)


TOP_LEVEL: dict[str, Callable[[object], bool]] = {
    "score": _number,
    "execution_time": _number,
    "output": lambda x: isinstance(x, str),
    "output_format": _one_of(FORMATS),
    "test_output_format": _one_of(FORMATS),
    "test_name_format": _one_of(FORMATS),
    "visibility": _one_of(VISIBILITIES),
    "stdout_visibility": _one_of(VISIBILITIES),
    "extra_data": lambda x: isinstance(x, dict),
    "tests": _list_of(dict),
    "leaderboard": _list_of(dict),
}
TEST: dict[str, Callable[[object], bool]] = {
    "score": _number,
    "max_score": _number,
    "status": _one_of(STATUSES),
    "name": lambda x: isinstance(x, str),
    "name_format": _one_of(FORMATS),
    "number": lambda x: isinstance(x, str),
    "output": lambda x: isinstance(x, str),
    "output_format": _one_of(FORMATS),
    "tags": _list_of(str),
    "visibility": _one_of(VISIBILITIES),
    "extra_data": lambda x: isinstance(x, dict),
}


def format_problems(results: object) -> list[str]:
    """Every way ``results`` departs from the documented format (empty if none)."""
    try:
        json.dumps(results, allow_nan=False)
    except (TypeError, ValueError) as e:
        return [f"not JSON: {e}"]
    if not isinstance(results, dict):
        return [f"expected an object, got {type(results).__name__}"]
    problems = _problems(results, TOP_LEVEL, "results")
    tests = results.get("tests", [])
    if isinstance(tests, list):
        for i, test in enumerate(tests):
            if isinstance(test, dict):
                problems += _problems(test, TEST, f"tests[{i}]")
        if "score" not in results and not all(isinstance(t, dict) and "score" in t for t in tests):
            problems.append("results: no top-level score and a test without one")
    return problems


def _problems(
    data: dict[str, Any], schema: dict[str, Callable[[object], bool]], where: str
) -> list[str]:
    unknown = [f"{where}: undocumented key {key!r}" for key in data if key not in schema]
    wrong = [
        f"{where}: {key} = {value!r} is not allowed"
        for key, value in data.items()
        if key in schema and not schema[key](value)
    ]
    return unknown + wrong


@pytest.mark.parametrize(
    ("results", "problem"),
    [
        ({"score": 1, "tests": [], "colour": "red"}, "undocumented key 'colour'"),
        ({"score": "1"}, "score = '1'"),
        ({"score": True}, "score = True"),
        ({"score": 1, "output_format": "markdown"}, "output_format = 'markdown'"),
        ({"score": 1, "visibility": "public"}, "visibility = 'public'"),
        ({"score": 1, "tests": [{"score": 1, "status": "ok"}]}, "tests[0]: status = 'ok'"),
        ({"score": 1, "tests": [{"score": 1, "number": 1}]}, "tests[0]: number = 1"),
        ({"score": 1, "tests": [{"score": 1, "tags": [1]}]}, "tests[0]: tags = [1]"),
        ({"tests": [{"name": "a"}]}, "no top-level score"),
        ({"score": float("nan")}, "not JSON"),
        ([], "expected an object"),
    ],
)
def test_format_check_finds_departures(results: object, problem: str) -> None:
    assert any(problem in p for p in format_problems(results)), format_problems(results)


def test_format_check_accepts_the_documented_example() -> None:
    """The example results.json of the specification, every key present, passes."""
    example = {
        "score": 44.0,
        "execution_time": 136,
        "output": "Text relevant to the entire submission",
        "output_format": "simple_format",
        "test_output_format": "text",
        "test_name_format": "text",
        "visibility": "after_due_date",
        "stdout_visibility": "visible",
        "extra_data": {},
        "tests": [
            {
                "score": 2.0,
                "max_score": 2.0,
                "status": "passed",
                "name": "Your name here",
                "name_format": "text",
                "number": "1.1",
                "output": "Giant multiline string",
                "output_format": "text",
                "tags": ["tag1", "tag2", "tag3"],
                "visibility": "visible",
                "extra_data": {},
            }
        ],
        "leaderboard": [{"name": "Accuracy", "value": 0.926}],
    }
    assert format_problems(example) == []


# --- our results.json ----------------------------------------------------------------------


def assert_ours(results: dict[str, Any]) -> None:
    """Documented format, and our choices: plain text, tests visible, score their sum."""
    assert format_problems(results) == []
    assert results["output_format"] == "text" and results["test_output_format"] == "text"
    assert results["stdout_visibility"] == "hidden" and "visibility" not in results
    assert all(t["visibility"] == "visible" for t in results["tests"])
    assert results["score"] == sum(t["score"] for t in results["tests"])


def test_report_gradescope_is_documented_format() -> None:
    report = check(walkthrough(), {"dW3": "delta3 @ a2.T / m", "db3": "-delta3"}, time_limit=None)
    results = report.gradescope()
    assert_ours(results)
    tests = {t["name"]: t for t in results["tests"]}
    assert len(tests) == QUESTIONS and tests["dW3"]["status"] == "passed"
    assert (
        tests["db3"]["status"] == "failed" and tests["db3"]["extra_data"]["verdict"] == "incorrect"
    )
    assert tests["db2"]["status"] == "failed" and "no answer" in tests["db2"]["output"]
    assert results["output"] == f"{report.title}: 1 of {QUESTIONS} points"
    noted = report.gradescope("Graded: answers.toml.")
    assert noted["output"] == f"Graded: answers.toml.\n\n{report.title}: 1 of {QUESTIONS} points"


def test_gradescope_output_names_answers_to_questions_not_asked() -> None:
    asked = Result("dW3", "correct", None, "correct", 1.0, 1.0)
    said = "no question `dw3`; did you mean `dW3`?"
    report = Report("T", (asked,), (Unknown("dw3", "dW3", said),))
    results = report.gradescope("Graded: a.toml.")
    assert_ours(results)
    assert results["output"] == f"Graded: a.toml.\n\nT: 1 of 1 points\n{said}"


def test_unusable_answers_result_lists_every_question() -> None:
    results = Report.gradescope_unusable_answers("T", (("dW2", 1.0), ("db2", 2.0)), "not UTF-8")
    assert_ours(results)
    assert [(t["name"], t["score"], t["max_score"], t["status"]) for t in results["tests"]] == [
        ("dW2", 0.0, 1.0, "failed"),
        ("db2", 0.0, 2.0, "failed"),
    ]
    assert {t["output"] for t in results["tests"]} == {"not UTF-8"}
    assert results["output"].startswith("Your answers file could not be read")


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(argv)
    return code, capsys.readouterr().err


def test_cli_unreadable_answers_fail_every_question(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A whole-submission error (not UTF-8) exits 2, and results.json lists every question
    of the exercise as failed with the reason, instead of no tests."""
    exercise = tmp_path / "exercise.toml"
    assert main(["exercises", "new", "walkthrough", "-o", str(exercise)]) == 0
    answers = tmp_path / "answers.toml"
    answers.write_bytes(b'dW3 = "\xff"\n')
    out = tmp_path / "results.json"
    code, err = run(["check", str(exercise), str(answers), "--gradescope", str(out)], capsys)
    assert code == 2 and "UTF-8" in err and "Traceback" not in err
    reason = err.split("error: ", 1)[1].strip()  # the CLI's message, whatever its words
    results = json.loads(out.read_text(encoding="utf-8"))
    assert_ours(results)
    names = [q.name for q in read_exercise(exercise).questions]
    assert [t["name"] for t in results["tests"]] == names
    assert {t["status"] for t in results["tests"]} == {"failed"} and results["score"] == 0
    assert {t["output"] for t in results["tests"]} == {reason}
    assert "could not be read" in results["output"] and reason in results["output"]


def test_cli_unreadable_exercise_lists_no_test(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    exercise = tmp_path / "exercise.toml"
    exercise.write_text("[network\n")
    answers = tmp_path / "answers.toml"
    answers.write_bytes(b'dW3 = "\xff"\n')  # unusable too: the exercise is named first
    out = tmp_path / "results.json"
    code, err = run(["check", str(exercise), str(answers), "--gradescope", str(out)], capsys)
    assert code == 2 and "expected valid TOML" in err
    results = json.loads(out.read_text(encoding="utf-8"))
    assert format_problems(results) == []
    assert results["tests"] == [] and results["score"] == 0
    assert (
        results["output"].startswith("not graded: exercise") and "valid TOML" in results["output"]
    )


# --- run_autograder ------------------------------------------------------------------------


def _jacobians(*args: str) -> str:
    assert JACOBIANS is not None, "the jacobians command is not installed next to python"
    done = subprocess.run([JACOBIANS, *args], capture_output=True, text=True, check=True)
    return done.stdout


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """An exercise (by ``jacobians exercises new``), its reference answers as TOML (24 of 24
    points), and as JSON with ``db3`` left out (23 of 24), so a score tells which was graded."""
    folder = tmp_path_factory.mktemp("made")
    exercise = folder / "exercise.toml"
    _jacobians("exercises", "new", "walkthrough", "-o", str(exercise))
    key = json.loads(_jacobians("exercises", "solve", str(exercise), "--json"))
    toml = folder / "full.toml"
    toml.write_text("".join(f"{name} = {json.dumps(value)}\n" for name, value in key.items()))
    del key["db3"]
    short = folder / "short.json"
    short.write_text(json.dumps(key))
    return {"exercise": exercise, "toml": toml, "json": short}


def autograde(
    tmp_path: Path, made: dict[str, Path], uploads: dict[str, Path | bytes], **env: str
) -> tuple[int, dict[str, Any], str]:
    """Run run_autograder with ``uploads`` (name → file to copy, or contents) as the
    submission; return its exit status, results.json and stderr."""
    (tmp_path / "source").mkdir()
    shutil.copy(made["exercise"], tmp_path / "source" / "exercise.toml")
    submission = tmp_path / "submission"
    submission.mkdir()
    for name, content in uploads.items():
        (submission / name).parent.mkdir(exist_ok=True)
        if isinstance(content, Path):
            shutil.copy(content, submission / name)
        else:
            (submission / name).write_bytes(content)
    environment = {
        **os.environ,
        "AUTOGRADER": str(tmp_path),
        "JACOBIANS": str(JACOBIANS),
        "PYTHON": sys.executable,
        **env,
    }
    done = subprocess.run(
        ["bash", str(RUN_AUTOGRADER)], env=environment, capture_output=True, text=True
    )
    results = json.loads((tmp_path / "results" / "results.json").read_text(encoding="utf-8"))
    assert format_problems(results) == []
    return done.returncode, results, done.stderr


def test_autograder_grades_answers_toml(tmp_path: Path, made: dict[str, Path]) -> None:
    code, results, _ = autograde(tmp_path, made, {"answers.toml": made["toml"]})
    assert code == 0 and results["score"] == QUESTIONS and len(results["tests"]) == QUESTIONS
    assert_ours(results)
    assert (
        results["output"].startswith("Graded: answers.toml.\n")
        and "Ignored" not in results["output"]
    )


def test_autograder_grades_answers_json(tmp_path: Path, made: dict[str, Path]) -> None:
    code, results, _ = autograde(tmp_path, made, {"answers.json": made["json"]})
    assert code == 0 and results["score"] == QUESTIONS - 1
    assert results["output"].startswith("Graded: answers.json.\n")


def test_autograder_prefers_toml_and_names_the_ignored(
    tmp_path: Path, made: dict[str, Path]
) -> None:
    uploads: dict[str, Path | bytes] = {
        "answers.json": made["json"],
        "answers.toml": made["toml"],
        "notes.txt": b"scratch",
    }
    code, results, _ = autograde(tmp_path, made, uploads)
    assert code == 0 and results["score"] == QUESTIONS  # the TOML's score, not the JSON's
    assert results["output"].startswith("Graded: answers.toml. Ignored: answers.json, notes.txt")


def test_autograder_grades_a_renamed_upload(tmp_path: Path, made: dict[str, Path]) -> None:
    code, results, _ = autograde(tmp_path, made, {"answers (1).toml": made["toml"]})
    assert code == 0 and results["score"] == QUESTIONS
    assert results["output"].startswith("Graded: answers (1).toml.\n")


def test_autograder_without_answers_fails_every_question(
    tmp_path: Path, made: dict[str, Path]
) -> None:
    uploads: dict[str, Path | bytes] = {"notes.txt": b"I forgot", "hw/answers.toml": made["toml"]}
    code, results, _ = autograde(tmp_path, made, uploads)
    assert code == 0 and results["score"] == 0 and len(results["tests"]) == QUESTIONS
    assert {t["status"] for t in results["tests"]} == {"failed"}
    assert results["output"].startswith(
        "Not graded: the submission holds no .toml or .json answers file (it holds hw/, notes.txt)."
    )


def test_autograder_refuses_to_guess_among_several(tmp_path: Path, made: dict[str, Path]) -> None:
    uploads: dict[str, Path | bytes] = {"b.json": made["json"], "a.toml": made["toml"]}
    code, results, _ = autograde(tmp_path, made, uploads)
    assert code == 0 and results["score"] == 0 and len(results["tests"]) == QUESTIONS
    assert results["output"].startswith(
        "Not graded: the submission holds several answers files (a.toml, b.json)"
    )


def test_autograder_unreadable_answers_are_the_students(
    tmp_path: Path, made: dict[str, Path]
) -> None:
    code, results, stderr = autograde(tmp_path, made, {"answers.toml": b'dW3 = "\xff"\n'})
    assert code == 0 and results["score"] == 0 and len(results["tests"]) == QUESTIONS
    assert "could not be read" in results["output"] and "UTF-8" in stderr


def test_autograder_fails_on_a_broken_exercise(tmp_path: Path, made: dict[str, Path]) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("[network\n")
    code, results, stderr = autograde(
        tmp_path, {**made, "exercise": broken}, {"answers.toml": made["toml"]}
    )
    assert code == 1 and results["tests"] == [] and results["score"] == 0
    assert (
        "expected valid TOML" in results["output"] and "tell your instructor" in results["output"]
    )
    assert "run_autograder: not graded:" in stderr and "expected valid TOML" in stderr


def test_autograder_fails_without_jacobians(tmp_path: Path, made: dict[str, Path]) -> None:
    missing = str(tmp_path / "nowhere" / "jacobians")
    code, results, stderr = autograde(
        tmp_path, made, {"answers.toml": made["toml"]}, JACOBIANS=missing
    )
    assert code == 1 and results["tests"] == []
    assert f"jacobians not found at '{missing}'" in results["output"]
    assert f"jacobians not found at '{missing}'" in stderr
