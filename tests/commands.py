"""Running the command line in-process, as the tests of every command do."""

from __future__ import annotations

import pytest

from jacobians.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``jacobians ARGV…``: its exit status, and what it printed to stdout and stderr."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err
