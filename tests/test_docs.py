"""The docs say what the code does: their examples run, their numbers are the code's."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from jacobians.cli import build_parser, main

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def _blocks(path: Path, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```$", path.read_text(), flags=re.S | re.M)


def test_readme_opens_with_the_two_commands() -> None:
    first = _blocks(ROOT / "README.md", "bash")[0].splitlines()
    assert first == [
        "python -m pip install . && jacobians compare",
        'python -m pip install ".[test,plot,docs]" && python -m pytest',
    ]


def test_start_page_gives_the_readme_commands() -> None:
    assert _blocks(DOCS / "index.md", "bash")[0] == _blocks(ROOT / "README.md", "bash")[0]


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


def _commands(parser: object) -> dict[str, object]:
    """A parser's subcommands by name (empty when it has none)."""
    for action in parser._actions:  # type: ignore[attr-defined]
        if isinstance(getattr(action, "choices", None), dict):
            return dict(action.choices)
    return {}


COMMANDS = sorted(_commands(build_parser()))


def test_cli_page_has_a_section_for_every_command() -> None:
    text = (ROOT / "docs" / "cli.md").read_text()
    sections = set(re.findall(r"^## `jacobians ([\w-]+)`$", text, re.M))
    assert sections == set(COMMANDS)
    for command, sub in _commands(build_parser()).items():  # plot chain|sweep|jacobians, …
        section = text.split(f"## `jacobians {command}`")[1].split("\n## ")[0]
        missing = [k for k in _commands(sub) if f"jacobians {command} {k}" not in section]
        assert not missing, (command, missing)


@pytest.mark.parametrize("command", COMMANDS)
def test_cli_page_lists_every_option(command: str) -> None:
    sub = _commands(build_parser())[command]
    options = _options(sub)
    text = (ROOT / "docs" / "cli.md").read_text()
    section = text.split(f"## `jacobians {command}`")[1].split("\n## ")[0]
    assert {o for o in options if f"`{o}" not in section} == {"--help"}


def test_foundations_page_example_runs() -> None:
    namespace: dict[str, object] = {}
    exec(_blocks(ROOT / "docs" / "foundations.md", "python")[0], namespace)
    assert namespace["row"]["dW1"].shape == (3, 4)  # type: ignore[index]


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


# The docs site (Sphinx + MyST): pages generated from the code stay current.


def test_walkthrough_derivation_is_current(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["derive", "--format", "markdown"]) == 0
    fresh = capsys.readouterr().out
    checked_in = (DOCS / "generated" / "walkthrough.md").read_text()
    assert fresh == checked_in, (
        "docs/generated/walkthrough.md is stale: regenerate it with "
        "`jacobians derive --format markdown > docs/generated/walkthrough.md`"
    )
    assert "```{include} generated/walkthrough.md" in (DOCS / "walkthrough.md").read_text()


def test_figures_are_current(tmp_path: Path) -> None:
    """The figure script runs; its pictures are the checked-in ones, pixel for pixel, when
    drawn by the matplotlib version that drew those (fonts and anti-aliasing change between
    versions, so another version is compared by size only)."""
    import importlib.util

    import matplotlib
    import numpy as np
    from matplotlib.image import imread

    spec = importlib.util.spec_from_file_location(
        "make_figures", DOCS / "figures" / "make_figures.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    drawn = module.make(tmp_path)
    manifest = json.loads((DOCS / "figures" / "figures.json").read_text())
    assert manifest["figures"] == module.FIGURES
    assert {p.name for p in drawn} == {p.name for p in (DOCS / "figures").glob("*.png")}
    same_version = manifest["matplotlib"] == matplotlib.__version__
    for path in drawn:
        fresh, checked_in = imread(path), imread(DOCS / "figures" / path.name)
        assert fresh.shape == checked_in.shape == (600, 800, 4)
        if same_version:
            assert np.array_equal(fresh, checked_in), (
                f"docs/figures/{path.name} is stale: run python docs/figures/make_figures.py"
            )


def test_every_figure_the_docs_show_exists() -> None:
    shown = {
        m
        for page in DOCS.glob("*.md")
        for m in re.findall(r"\]\((figures/[^)]+)\)", page.read_text())
    }
    assert shown and all((DOCS / m).is_file() for m in shown)


def test_order_page_table_is_the_composers_counts() -> None:
    from jacobians.chains import planned_reports
    from jacobians.network import Network

    text = (DOCS / "order.md").read_text()
    rows = re.findall(
        r"^\| ([\d-]+) \| ([\w, ;]+) \| (\d+) \| ([\d,]+) \| ([\d,]+) \| ([\d,]+) \|", text, re.M
    )
    assert len(rows) == 4
    for spec, functions, chains, *counts in rows:
        activations, loss = functions.split("; ")
        net = Network.from_spec(spec, activations.replace(" ", ""), loss)
        real = [
            sum(c.multiply_adds for c in planned_reports(net, order, fused=False))
            for order in ("reverse", "forward", "optimal")
        ]
        assert int(chains) == 3 * net.depth
        assert [int(c.replace(",", "")) for c in counts] == real, spec


def test_order_page_example_where_optimal_beats_reverse() -> None:
    from jacobians.chains import planned_reports
    from jacobians.network import Network

    net = Network.from_spec("5-10-200-200-1", "tanh,tanh,tanh,sigmoid", "bce")
    cost = {
        order: {c.target: c.multiply_adds for c in planned_reports(net, order, fused=False)}
        for order in ("reverse", "optimal")
    }
    reverse, optimal = cost["reverse"]["delta1"], cost["optimal"]["delta1"]
    assert optimal < reverse
    text = " ".join((DOCS / "order.md").read_text().split())
    assert f"costs {reverse:,} multiply–adds in reverse order and {optimal:,} when" in text


def test_api_page_documents_every_module() -> None:
    modules = {
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for package in ("jacobians", "derivations")
        for p in (ROOT / package).rglob("*.py")
    }
    public = {m for m in modules if not any(part.startswith("_") for part in m.split("."))}
    documented = set(re.findall(r"^\.\. automodule:: (\S+)$", (DOCS / "api.md").read_text(), re.M))
    assert public - documented <= {"jacobians.cli", "jacobians.exercises"}, public - documented


def test_every_page_is_in_the_toctree_and_the_readme_links_to_it() -> None:
    pages = {p.stem for p in DOCS.glob("*.md")} - {"index"}
    toctree = _blocks(DOCS / "index.md", r"\{toctree\}")[0]
    assert pages == {line for line in toctree.splitlines() if line and not line.startswith(":")}
    readme = (ROOT / "README.md").read_text()
    assert {p for p in pages | {"index"} if f"(docs/{p}.md)" not in readme} == set()
    assert len(readme.splitlines()) <= 100, "README.md stays short: move detail to docs/"
