"""The docs say what the code does: their examples run, their numbers are the code's."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from jacobians.cli import build_parser, main

ROOT = Path(__file__).resolve().parent.parent


def _blocks(path: Path, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```$", path.read_text(), flags=re.S | re.M)


def test_readme_opens_with_the_two_commands() -> None:
    first = _blocks(ROOT / "README.md", "bash")[0].splitlines()
    assert first == [
        "python -m pip install . && jacobians compare",
        'python -m pip install ".[test,plot]" && python -m pytest',
    ]


def test_readme_python_example_runs() -> None:
    namespace: dict[str, object] = {}
    exec(_blocks(ROOT / "README.md", "python")[0], namespace)
    assert namespace["jac"].jacobians["J_z2_W2"].shape == (2, 8)  # type: ignore[attr-defined]


def test_cli_page_example_file_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "net.toml"
    path.write_text(_blocks(ROOT / "docs" / "cli.md", "toml")[0])
    assert main(["compare", "--params", str(path), "--activations", "tanh,sigmoid", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["network"]["sizes"] == [2, 2, 1]


def _options(parser: object) -> set[str]:
    found = set()
    for action in parser._actions:  # type: ignore[attr-defined]
        found |= {s for s in action.option_strings if s.startswith("--")}
        choices = getattr(action, "choices", None)
        if isinstance(choices, dict):  # a subcommand's own parsers
            for child in choices.values():
                found |= _options(child)
    return found


@pytest.mark.parametrize(
    "command", ["compare", "derive", "chain", "matrix-function", "plot", "exercises", "check"]
)
def test_cli_page_lists_every_option(command: str) -> None:
    parser = build_parser()
    sub = parser._subparsers._group_actions[0].choices[command]  # type: ignore[union-attr]
    options = _options(sub)
    text = (ROOT / "docs" / "cli.md").read_text()
    section = text.split(f"## `jacobians {command}`")[1].split("\n## ")[0]
    assert {o for o in options if f"`{o}" not in section} == {"--help"}


def test_foundations_page_example_runs() -> None:
    namespace: dict[str, object] = {}
    exec(_blocks(ROOT / "docs" / "foundations.md", "python")[0], namespace)
    assert namespace["row"]["dW1"].shape == (3, 4)  # type: ignore[index]


def test_foundations_page_chain_output_is_real(capsys: pytest.CaptureFixture[str]) -> None:
    main(["chain", "square", "sigmoid", "--at", "0.5"])
    out = capsys.readouterr().out.splitlines()
    sample = _blocks(ROOT / "docs" / "foundations.md", "text")[0].splitlines()[1:]
    assert sample and all(line in out for line in sample)


def test_derivations_page_example_runs() -> None:
    namespace: dict[str, object] = {}
    code = _blocks(ROOT / "docs" / "derivations.md", "python")[0].replace("print(", "str(")
    exec(code, namespace)
    assert namespace["d"].holds  # type: ignore[attr-defined]


def test_routes_page_states_the_real_counts(capsys: pytest.CaptureFixture[str]) -> None:
    counts = {}
    for order in ("reverse", "forward"):
        main(["compare", "--json", "--order", order])
        counts[order] = json.loads(capsys.readouterr().out)["multiply_adds"]
    text = (ROOT / "docs" / "routes.md").read_text()
    assert (
        f"costs {counts['reverse']} multiply–adds in reverse order and "
        f"{counts['forward']} in forward order"
    ) in text


def test_readme_sample_output_is_the_real_output(capsys: pytest.CaptureFixture[str]) -> None:
    main(["compare"])
    out = capsys.readouterr().out.splitlines()
    sample = _blocks(ROOT / "README.md", "text")[0].splitlines()
    shown = [line for line in sample if "…" not in line]
    assert shown and all(line in out for line in shown), [l for l in shown if l not in out]


def test_readme_derive_sample_is_the_real_output(capsys: pytest.CaptureFixture[str]) -> None:
    main(["derive", "--layer", "2", "--param", "W"])
    out = capsys.readouterr().out.splitlines()
    sample = _blocks(ROOT / "README.md", "text")[1].splitlines()
    assert all(line in out for line in sample)


def test_exercises_page_examples_run(tmp_path: Path) -> None:
    import tomllib

    from jacobians.exercises.grading import check
    from jacobians.exercises.sets import walkthrough

    page = ROOT / "docs" / "exercises.md"
    exec(_blocks(page, "python")[0], {})  # our own documentation
    answers = tomllib.loads(_blocks(page, "toml")[0])
    report = check(walkthrough(), answers, time_limit=None)
    verdicts = {r.name: r.verdict for r in report.results if r.name in answers}
    assert verdicts == dict.fromkeys(answers, "correct")


def test_gradescope_example_autograder_runs(tmp_path: Path) -> None:
    import os
    import stat
    import subprocess
    import sys

    from jacobians.exercises.exercise import to_toml
    from jacobians.exercises.sets import walkthrough
    from jacobians.exercises.solve import solution_json

    (tmp_path / "source").mkdir()
    (tmp_path / "submission").mkdir()
    exercise = walkthrough()
    (tmp_path / "source" / "exercise.toml").write_text(to_toml(exercise))
    (tmp_path / "submission" / "answers.json").write_text(json.dumps(solution_json(exercise)))
    wrapper = tmp_path / "jacobians"
    wrapper.write_text(f'#!/bin/sh\nexec {sys.executable} -m jacobians "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    env = {**os.environ, "AUTOGRADER": str(tmp_path), "JACOBIANS": str(wrapper)}
    subprocess.run(
        ["bash", str(ROOT / "docs" / "gradescope" / "run_autograder")],
        env=env,
        check=True,
        cwd=ROOT,
        capture_output=True,
    )
    results = json.loads((tmp_path / "results" / "results.json").read_text())
    assert results["score"] == 24 and len(results["tests"]) == 24
    assert {t["status"] for t in results["tests"]} == {"passed"}
