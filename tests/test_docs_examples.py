"""Every code example of the docs and the README runs, page by page, in the order shown.

A page's fenced blocks run in one scratch folder, top to bottom, the way a reader would type
them:

- ``python``: executed, all blocks of a page in one namespace;
- ``toml`` whose first line is ``# NAME.toml``: written to that file (other ``toml`` blocks
  must at least parse);
- ``bash``: every ``jacobians …`` line runs through the CLI and must not be a usage error
  (exit 0, or 1 where answers are wrong on purpose); the few other commands the docs show —
  installing, the tests, the docs build — are what CI itself runs, and are listed below;
- ``text`` starting with ``$ jacobians …``: a transcript; the command runs and every line
  shown (except lines with an ellipsis, ``…``, which mark a cut) must be in its output.
"""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

import pytest

from jacobians.cli import main

ROOT = Path(__file__).resolve().parent.parent
PAGES = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]

# Commands in the docs that are not `jacobians …`: CI runs each of them itself (.ci/run).
RUN_BY_CI = (
    "python -m pip install",
    "python -m pytest",
    "sphinx-build",
    "python docs/figures/make_figures.py",
)


def blocks(page: Path) -> list[tuple[str, str]]:
    """The fenced blocks of a page, in order: ``(language, body)``."""
    return re.findall(r"^```(\S*)\n(.*?)^```$", page.read_text(), flags=re.S | re.M)


def _jacobians(line: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    args = shlex.split(line, comments=True)
    assert args[0] == "jacobians", line
    capsys.readouterr()
    status = main(args[1:])
    return status, capsys.readouterr().out


def _bash(body: str, capsys: pytest.CaptureFixture[str]) -> None:
    for line in body.splitlines():
        for part in line.split("&&"):
            part = part.strip()
            if not shlex.split(part, comments=True) or part.startswith(RUN_BY_CI):
                continue
            status, _ = _jacobians(part, capsys)
            assert status in (0, 1), f"{part!r} exited {status}"


def _transcript(body: str, capsys: pytest.CaptureFixture[str]) -> None:
    lines = body.splitlines()
    status, out = _jacobians(lines[0].removeprefix("$ "), capsys)
    assert status in (0, 1), f"{lines[0]!r} exited {status}"
    real = out.splitlines()
    shown = [line for line in lines[1:] if line.strip() and "…" not in line]
    missing = [line for line in shown if line not in real]
    assert shown and not missing, f"{lines[0]}: not in the real output: {missing}"


def _toml(body: str) -> None:
    tomllib.loads(body)  # every TOML example parses
    first = body.splitlines()[0]
    if re.fullmatch(r"# [\w.-]+\.toml", first):
        Path(first[2:]).write_text(body)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_example_of_the_page_runs(
    page: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    for language, body in blocks(page):
        if language == "python":
            exec(compile(body, f"{page.name} example", "exec"), namespace)  # our own docs
        elif language == "toml":
            _toml(body)
        elif language == "bash":
            _bash(body, capsys)
        elif language == "text" and body.startswith("$ "):
            _transcript(body, capsys)


def test_the_runner_sees_the_examples() -> None:
    """The runner keys on the fences' languages: a page whose examples went unrecognised
    would pass vacuously."""
    seen = {lang for page in PAGES for lang, _ in blocks(page)}
    assert {"python", "bash", "toml", "text"} <= seen
    transcripts = [b for page in PAGES for lang, b in blocks(page) if lang == "text"]
    assert sum(b.startswith("$ jacobians") for b in transcripts) >= 4


def test_a_wrong_transcript_fails(capsys: pytest.CaptureFixture[str]) -> None:
    """The transcript check can fail: one changed digit is caught."""
    with pytest.raises(AssertionError, match="not in the real output"):
        _transcript("$ jacobians chain square sigmoid --at 0.5\n1. square   0.5      0.26", capsys)


def test_an_unknown_command_in_the_docs_fails(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(AssertionError):
        _bash("pip install something-else", capsys)
    with pytest.raises(AssertionError, match="exited 2"):
        _bash("jacobians compare --sizes 3", capsys)
