"""docs/tensor.md ("why is dW a matrix and not a tensor?") shows real output and runs.

Every transcript on the page (a ``text`` block starting with ``$ jacobians …``) is run, and
the lines it shows must appear in the real output **in the order shown**; a line holding
``…`` marks a cut and is skipped. The page's Python examples run, in one namespace, as a
reader would type them; the shapes the page talks about are then checked on what they built.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.test_docs_examples import _jacobians, blocks

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "tensor.md"
TRANSCRIPTS = [b for lang, b in blocks(PAGE) if lang == "text" and b.startswith("$ jacobians")]
EXAMPLES = [b for lang, b in blocks(PAGE) if lang == "python"]


def shown_lines(transcript: str) -> list[str]:
    """The output lines a transcript shows: not the command, not blank, not a cut (``…``)."""
    return [line for line in transcript.splitlines()[1:] if line.strip() and "…" not in line]


def first_out_of_order(shown: list[str], real: list[str]) -> str | None:
    """The first shown line not found in ``real`` after the previous shown line's match;
    None when every shown line appears in order."""
    position = 0
    for line in shown:
        try:
            position = real.index(line, position) + 1
        except ValueError:
            return line
    return None


def check_transcript(transcript: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Run the transcript's command; its status must be 0 and its shown lines in order."""
    command = transcript.splitlines()[0].removeprefix("$ ")
    status, out = _jacobians(command, capsys)
    assert status == 0, f"{command!r} exited {status}"
    shown = shown_lines(transcript)
    assert shown, f"{command}: the transcript shows no output"
    missing = first_out_of_order(shown, out.splitlines())
    assert missing is None, f"{command}: not in the real output, in this order: {missing!r}"


def test_the_page_has_transcripts_and_examples() -> None:
    """The runner keys on the fences: a page whose blocks went unrecognised would pass
    vacuously."""
    commands = [t.splitlines()[0] for t in TRANSCRIPTS]
    assert "$ jacobians matrix-function" in commands
    assert "$ jacobians compare" in commands
    assert len(EXAMPLES) >= 2


@pytest.mark.parametrize("transcript", TRANSCRIPTS, ids=lambda t: t.splitlines()[0][2:])
def test_transcript_lines_appear_in_order(
    transcript: str, capsys: pytest.CaptureFixture[str]
) -> None:
    check_transcript(transcript, capsys)


def test_the_examples_run_and_build_what_the_page_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    for body in EXAMPLES:
        exec(compile(body, "tensor.md example", "exec"), namespace)  # our own docs
    # The page's claims, checked on the arrays the examples built: ∂N/∂W has four indices
    # and flattens to 6 × 6; ∂z/∂W of z = W a is (n, n, m) and flattens to n × n·m.
    T, J, D = (np.asarray(namespace[k]) for k in ("T", "J", "D"))
    assert T.shape == (3, 2, 3, 2) and J.shape == (6, 6)
    assert D.shape == (2, 2, 4)
    # Independent of the page's own construction: ∂N[i, j]/∂W[k, l] = X[i, k] [j = l].
    X = np.asarray(namespace["X"])
    for i, j, k, l in np.ndindex(*T.shape):
        assert T[i, j, k, l] == (X[i, k] if j == l else 0.0)
        assert J[2 * i + j, 2 * k + l] == T[i, j, k, l]  # row-major vec on both sides


def test_the_start_page_and_readme_link_the_page() -> None:
    index = (ROOT / "docs" / "index.md").read_text()
    assert "](tensor.md)" in index
    toctree = index.split("```{toctree}")[1].split("```")[0]
    assert "tensor" in toctree.split()
    assert "](docs/tensor.md)" in (ROOT / "README.md").read_text()


# The check itself can fail.


def test_shown_lines_skip_cuts_and_blanks() -> None:
    assert shown_lines("$ jacobians x\n…\nA\n\n  … more\nB") == ["A", "B"]


def test_lines_out_of_order_are_caught() -> None:
    real = ["a", "b", "c"]
    assert first_out_of_order(["a", "c"], real) is None
    assert first_out_of_order(["c", "a"], real) == "a"
    assert first_out_of_order(["b", "b"], real) == "b"  # one real line matches once
    assert first_out_of_order(["a", "d"], real) == "d"


def test_a_wrong_transcript_fails(capsys: pytest.CaptureFixture[str]) -> None:
    swapped = "$ jacobians matrix-function\nL: 2.3755\nW:"  # W is printed before L
    with pytest.raises(AssertionError, match="in this order: 'W:'"):
        check_transcript(swapped, capsys)
    changed = "$ jacobians matrix-function\nL: 2.3756"
    with pytest.raises(AssertionError, match="not in the real output"):
        check_transcript(changed, capsys)
    with pytest.raises(AssertionError, match="shows no output"):
        check_transcript("$ jacobians matrix-function\n…", capsys)


def test_a_failing_command_fails(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(AssertionError, match="exited 2"):
        check_transcript("$ jacobians matrix-function --activation nosuch\nL: 2.3755", capsys)
