"""Every transcript in the docs and the README is the real output, cut only where it says so.

**What counts as a transcript.** On every page, ``docs/*.md`` and ``README.md``, a fenced
block (as ``tests.test_docs_examples.blocks`` reads them) is a transcript when either

1. its first line is ``$ jacobians …``: that line is the command, the rest is its output; or
2. it is a ``text`` block and the page's previous fenced block is a ``bash`` block holding
   exactly one ``jacobians …`` command (prose may sit between the two): that is the command,
   and the whole ``text`` block is its output.

Any other block (an error message shown without its command, say) is not a transcript.

**What a transcript must show.** Its command runs as ``python -m jacobians …`` in a fresh
folder, after the page's earlier blocks that make files have been replayed there (``toml``
blocks headed ``# NAME.toml``, and ``jacobians … -o FILE`` commands other than ``plot``). It
must exit 0 (``check`` may exit 1: it does when an answer is wrong, which the docs show on
purpose) with nothing on stderr. Then, comparing lines with trailing spaces stripped and blank
lines left out on both sides:

- a line that is only ``…`` marks a cut: any number of lines of the output are left out there;
- a line that ends in ``…`` is cut at the right: the output's line starts with the text before;
- every other line is an output line, exactly; lines shown one after another (with no ``…``
  line between) are consecutive in the output;
- the first line shown is the output's first, unless the block opens with a ``…`` line, and
  the last is the output's last, unless it closes with one.

So a transcript that shows the whole output needs no mark, and one that leaves lines out
cannot hide it. No transcript is slow enough to skip (the slowest, a symbolic derivation of
attention, takes about 10 s); a ``plot`` command is skipped only without matplotlib.
"""

from __future__ import annotations

import importlib.util
import os
import shlex
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.test_docs_examples import PAGES, ROOT, blocks

CUT = "…"
TIMEOUT = 300  # seconds; a hung command fails instead of stalling the suite


@dataclass(frozen=True)
class Transcript:
    """One transcript: its page, its command, the lines it shows, the files it needs."""

    page: str
    command: str
    shown: tuple[str, ...]
    setup: tuple[tuple[str, str], ...]  # ("file", "NAME.toml\nbody") or ("run", command)

    @property
    def id(self) -> str:
        """The test id: the page and the command."""
        return f"{self.page}: {self.command}"


def _commands(body: str) -> list[str]:
    """The ``jacobians …`` commands of a bash block, one per line or ``&&`` part."""
    parts = (part.strip() for line in body.splitlines() for part in line.split("&&"))
    return [p for p in parts if shlex.split(p, comments=True)[:1] == ["jacobians"]]


def _makes_files(command: str) -> bool:
    """Whether a command writes a file a later command may read (``-o``, not a plot)."""
    args = shlex.split(command, comments=True)
    return ("-o" in args or "--output" in args) and args[1:2] != ["plot"]


def _setup_step(language: str, body: str) -> list[tuple[str, str]]:
    """What replaying one earlier block means: a file to write or commands to run."""
    first = body.splitlines()[0] if body else ""
    if language == "toml" and first.startswith("# ") and first.endswith(".toml"):
        return [("file", f"{first[2:]}\n{body}")]
    if language == "bash":
        return [("run", c) for c in _commands(body) if _makes_files(c)]
    if first.startswith("$ jacobians") and _makes_files(first[2:]):
        return [("run", first[2:])]
    return []


def transcripts(page: Path, root: Path = ROOT) -> list[Transcript]:
    """The page's transcripts, by the rule in the module docstring, in page order; each
    names its page relative to ``root``."""
    found: list[Transcript] = []
    setup: list[tuple[str, str]] = []
    previous: tuple[str, str] = ("", "")
    for language, body in blocks(page):
        lines = body.splitlines()
        command = None
        if lines and lines[0].startswith("$ jacobians"):
            command, shown = lines[0].removeprefix("$ "), lines[1:]
        elif language == "text" and previous[0] == "bash" and len(_commands(previous[1])) == 1:
            command, shown = _commands(previous[1])[0], lines
        if command is not None:
            name = page.relative_to(root).as_posix()
            found.append(Transcript(name, command, tuple(shown), tuple(setup)))
        setup += _setup_step(language, body)
        previous = (language, body)
    return found


ALL = [t for page in PAGES for t in transcripts(page)]


# The comparison: pure, so that it can be shown to fail.


def _same(shown: str, real: str) -> bool:
    """A shown line equals the real one, or is its start when it ends in ``…``."""
    if shown.endswith(CUT):
        return real.startswith(shown.removesuffix(CUT).rstrip())
    return shown == real


def _runs(shown: list[str]) -> tuple[list[list[str]], bool, bool]:
    """The shown lines split at the cuts into runs of consecutive lines, and whether the
    transcript opens and closes with a cut. Blank lines are left out, trailing spaces
    stripped."""
    lines = [line.rstrip() for line in shown if line.strip()]
    runs: list[list[str]] = [[]]
    for line in lines:
        if line.strip() == CUT:
            runs.append([])
        else:
            runs[-1].append(line)
    opens = bool(lines) and lines[0].strip() == CUT
    closes = bool(lines) and lines[-1].strip() == CUT
    return [run for run in runs if run], opens, closes


def _find(run: list[str], real: list[str], start: int) -> int | None:
    """The first index ≥ ``start`` where ``run`` matches consecutive lines of ``real``."""
    for at in range(start, len(real) - len(run) + 1):
        if all(_same(s, r) for s, r in zip(run, real[at : at + len(run)], strict=True)):
            return at
    return None


def mismatch(shown: list[str], output: str) -> str | None:
    """Why the lines a transcript shows are not the output cut where marked; None if they are.

    Each run of lines between cuts is placed at its earliest match after the previous run:
    a later place would only leave less room for the runs after it.
    """
    real = [line.rstrip() for line in output.splitlines() if line.strip()]
    runs, opens, closes = _runs(shown)
    if not runs:
        return "the transcript shows no output"
    position = 0
    for i, run in enumerate(runs):
        at = _find(run, real, position)
        if at is None:
            lost = next((s for s in run if not any(_same(s, r) for r in real)), None)
            if lost is not None:
                return f"not in the real output: {lost!r}"
            return (
                f"these lines are not consecutive in the real output after the lines before "
                f"them (a cut without a '…' line, or lines out of order): {run!r}"
            )
        if i == 0 and not opens and at != 0:
            return f"the output's first {at} lines are left out without a '…' line above"
        position = at + len(run)
    if not closes and position != len(real):
        return f"the output's last {len(real) - position} lines are left out without a '…' line"
    return None


# Running a command the way a reader would.


def _environment() -> dict[str, str]:
    """The environment for ``python -m jacobians``: the checkout importable, UTF-8 output,
    matplotlib without a display."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, "PYTHONIOENCODING": "utf-8", "MPLBACKEND": "Agg"}


def _in_folder(args: list[str], folder: Path) -> list[str]:
    """The arguments with an absolute ``-o`` path moved into ``folder`` (a relative one
    already lands there, the command running in it)."""
    moved = list(args)
    for i, arg in enumerate(moved[:-1]):
        if arg in ("-o", "--output") and Path(moved[i + 1]).is_absolute():
            moved[i + 1] = str(folder / Path(moved[i + 1]).name)
    return moved


def run(command: str, folder: Path) -> subprocess.CompletedProcess[str]:
    """Run a docs' ``jacobians …`` command as ``python -m jacobians …`` in ``folder``."""
    args = shlex.split(command, comments=True)
    assert args[0] == "jacobians", f"not a jacobians command: {command!r}"
    return subprocess.run(
        [sys.executable, "-m", "jacobians", *_in_folder(args[1:], folder)],
        cwd=folder,
        env=_environment(),
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=TIMEOUT,
        check=False,
    )


def _prepare(transcript: Transcript, folder: Path) -> None:
    """Replay the page's earlier blocks that make files, in order, in ``folder``."""
    for kind, what in transcript.setup:
        if kind == "file":
            name, body = what.split("\n", 1)
            tomllib.loads(body)
            (folder / name).write_text(body)
        else:
            done = run(what, folder)
            assert done.returncode == 0, f"setup {what!r} exited {done.returncode}: {done.stderr}"


def check(transcript: Transcript, folder: Path) -> None:
    """Run the transcript's command; fail unless the page shows its real output."""
    _prepare(transcript, folder)
    done = run(transcript.command, folder)
    allowed = {0, 1} if shlex.split(transcript.command)[1:2] == ["check"] else {0}
    where = f"{transcript.page}, `{transcript.command}`"
    assert done.returncode in allowed, f"{where} exited {done.returncode}: {done.stderr}"
    assert done.stderr == "", (
        f"{where} wrote to stderr, which the page does not show:\n{done.stderr}"
    )
    problem = mismatch(list(transcript.shown), done.stdout)
    assert problem is None, f"{where}: {problem}"


def _needs_matplotlib(transcript: Transcript) -> bool:
    """Whether the transcript's command draws a picture (``plot``: the plot extra)."""
    return shlex.split(transcript.command)[1:2] == ["plot"]


@pytest.mark.parametrize("transcript", ALL, ids=[t.id for t in ALL])
def test_the_transcript_is_the_real_output(transcript: Transcript, tmp_path: Path) -> None:
    if _needs_matplotlib(transcript) and importlib.util.find_spec("matplotlib") is None:
        pytest.skip("plot needs matplotlib (the plot extra)")
    check(transcript, tmp_path)


# The discovery finds what the pages show.


def test_every_dollar_block_is_a_transcript_and_the_known_ones_are_found() -> None:
    """A page whose transcripts went unrecognised would pass vacuously."""
    dollar = sum(b.startswith("$ jacobians") for page in PAGES for _, b in blocks(page))
    assert dollar >= 10
    found = {(t.page, t.command) for t in ALL}
    assert len(ALL) == dollar + 1  # the one text block shown after its bash command
    assert {
        ("README.md", "jacobians compare"),
        ("docs/index.md", "jacobians check walkthrough.toml answers.toml"),
        ("docs/foundations.md", "jacobians chain square sigmoid --at 0.5"),
        (
            "docs/attention.md",
            'jacobians derive --input 2x2 --layers "attention(2), flatten, dense(1), sigmoid"'
            " --layer 1 --param input",
        ),
    } <= found


def test_a_text_block_after_a_bash_command_is_a_transcript(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "```bash\njacobians chain square --at 2\n```\n\nprints\n\n```text\n…\nvalue: 4\n```\n"
        "```text\nnot a transcript: no command before it\n```\n"
        "```bash\njacobians compare\njacobians derive\n```\n```text\nnor after two\n```\n"
    )
    assert transcripts(page, tmp_path) == [
        Transcript("page.md", "jacobians chain square --at 2", ("…", "value: 4"), ())
    ]


def test_files_an_earlier_block_makes_are_replayed(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "```bash\njacobians exercises new walkthrough -o w.toml\n"
        "jacobians plot jacobians -o j.png\njacobians compare\n```\n"
        "```toml\n# a.toml\nx = 1\n```\n```text\n$ jacobians check w.toml a.toml\n…\n```\n"
    )
    (transcript,) = transcripts(page, tmp_path)
    assert transcript.setup == (
        ("run", "jacobians exercises new walkthrough -o w.toml"),
        ("file", "a.toml\n# a.toml\nx = 1\n"),
    )


# The check can fail.

OUTPUT = "title\n\nA\nB  \nC\nD\nthe end\n"


def test_a_faithful_transcript_passes() -> None:
    assert mismatch(["title", "A", "B", "C", "D", "the end"], OUTPUT) is None  # all of it
    assert mismatch(["…", "B", "C", "…"], OUTPUT) is None
    assert mismatch(["title", "…", "B", "", "C", "…", "the end"], OUTPUT) is None
    assert mismatch(["title", "A", "B", "C", "D", "the e  …"], OUTPUT) is None  # cut at right


def test_a_changed_line_fails() -> None:
    assert mismatch(["…", "B", "X", "…"], OUTPUT) == "not in the real output: 'X'"
    assert mismatch(["…", "B", "Cx …", "…"], OUTPUT) == "not in the real output: 'Cx …'"


def test_swapped_lines_fail() -> None:
    problem = mismatch(["…", "C", "B", "…"], OUTPUT)
    assert problem is not None and "not consecutive" in problem
    problem = mismatch(["…", "C", "…", "B", "…"], OUTPUT)  # even across a cut
    assert problem is not None and "not consecutive" in problem


def test_a_cut_without_a_mark_fails() -> None:
    problem = mismatch(["…", "A", "C", "…"], OUTPUT)  # B left out in the middle
    assert problem is not None and "not consecutive" in problem
    assert mismatch(["A", "B", "…"], OUTPUT) == (
        "the output's first 1 lines are left out without a '…' line above"
    )
    assert mismatch(["…", "C", "D"], OUTPUT) == (
        "the output's last 1 lines are left out without a '…' line"
    )
    assert mismatch(["…"], OUTPUT) == "the transcript shows no output"


def test_a_real_transcript_with_a_changed_or_swapped_line_fails(tmp_path: Path) -> None:
    """End to end, on the foundations page's transcript: the true one passes, one changed
    digit or two swapped lines fail."""
    (true,) = [t for t in ALL if t.command == "jacobians chain square sigmoid --at 0.5"]
    check(true, tmp_path)
    shown = list(true.shown)
    changed = [line.replace("0.5621765009", "0.5621765008") for line in shown]
    assert changed != shown
    with pytest.raises(AssertionError, match=r"not in the real output: 'value: +0\.5621765008'"):
        check(Transcript(true.page, true.command, tuple(changed), ()), tmp_path)
    i = next(i for i, line in enumerate(shown) if line.startswith("1. square"))
    swapped = [*shown[:i], shown[i + 1], shown[i], *shown[i + 2 :]]
    with pytest.raises(AssertionError, match="not consecutive"):
        check(Transcript(true.page, true.command, tuple(swapped), ()), tmp_path)


def test_a_failing_command_fails(tmp_path: Path) -> None:
    bad = Transcript("page.md", "jacobians chain square --at nonsense", ("…",), ())
    with pytest.raises(AssertionError, match="exited 2"):
        check(bad, tmp_path)


def test_output_on_stderr_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A warning on stderr would sit among the lines a reader sees: the transcript hides it."""
    import tests.test_transcripts as this

    def noisy(command: str, folder: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess([command], 0, "value: 4\n", "Warning: …\n")

    monkeypatch.setattr(this, "run", noisy)
    transcript = Transcript("page.md", "jacobians chain square --at 2", ("value: 4",), ())
    with pytest.raises(AssertionError, match="wrote to stderr, which the page does not show"):
        check(transcript, tmp_path)


def test_a_failing_setup_fails(tmp_path: Path) -> None:
    setup = (("run", "jacobians exercises new nosuch -o w.toml"),)
    needy = Transcript("page.md", "jacobians check w.toml a.toml", ("…",), setup)
    with pytest.raises(
        AssertionError, match=r"setup 'jacobians exercises new nosuch -o w\.toml' exited 2"
    ):
        check(needy, tmp_path)
