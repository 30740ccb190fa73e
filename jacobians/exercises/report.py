"""A graded submission: per-question results and the score, as text, JSON, Gradescope
results, and Markdown/HTML for Jupyter."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

VERDICTS = ("correct", "incorrect", "invalid")
_MARK = {"correct": "✓", "incorrect": "✗", "invalid": "?"}


@dataclass(frozen=True)
class Result:
    """One question's verdict.

    ``mistake`` names the diagnosed mistake (a key of
    :data:`~jacobians.exercises.mistakes.MISTAKES`) or is ``None``; ``form`` is ``numeric``,
    ``symbolic`` or ``None`` (no answer); ``shown`` and ``latex`` render a symbolic answer as
    it was read; ``wrong`` lists the (row, column) entries that are off (every index of a
    tensor), counted from 1."""

    name: str
    verdict: str
    mistake: str | None
    message: str
    score: float
    max_score: float
    form: str | None = None
    shown: str | None = None
    latex: str | None = None
    wrong: tuple[tuple[int, ...], ...] = ()

    def as_json(self) -> dict[str, Any]:
        """The fields ``--json`` prints for a question."""
        out: dict[str, Any] = {
            "name": self.name,
            "verdict": self.verdict,
            "mistake": self.mistake,
            "message": self.message,
            "score": self.score,
            "max_score": self.max_score,
        }
        if self.shown is not None:
            out["read_as"] = self.shown
            out["latex"] = self.latex
        if self.wrong:
            out["wrong_entries"] = [list(ij) for ij in self.wrong]
        return out


@dataclass(frozen=True)
class Report:
    """Every question's result, in the exercise's order."""

    title: str
    results: tuple[Result, ...]

    @property
    def score(self) -> float:
        """Points earned."""
        return sum(r.score for r in self.results)

    @property
    def max_score(self) -> float:
        """Points available."""
        return sum(r.max_score for r in self.results)

    @property
    def all_correct(self) -> bool:
        """Whether every question is correct."""
        return all(r.verdict == "correct" for r in self.results)

    def as_json(self) -> dict[str, Any]:
        """``score``, ``max_score`` and ``questions`` (see :meth:`Result.as_json`)."""
        return {
            "title": self.title,
            "score": self.score,
            "max_score": self.max_score,
            "questions": [r.as_json() for r in self.results],
        }

    def gradescope(self) -> dict[str, Any]:
        """The Gradescope autograder ``results.json``: ``score`` and one test per question,
        our verdict and mistake in ``extra_data``."""
        return {
            "score": self.score,
            "output": f"{self.title}: {_points(self.score)} of {_points(self.max_score)} points",
            "tests": [
                {
                    "name": r.name,
                    "score": r.score,
                    "max_score": r.max_score,
                    "status": "passed" if r.verdict == "correct" else "failed",
                    "output": r.message + (f"\nread as: {r.shown}" if r.shown else ""),
                    "extra_data": {"verdict": r.verdict, "mistake": r.mistake},
                }
                for r in self.results
            ],
        }

    def text(self) -> str:
        """A line per question and the score."""
        width = max((len(r.name) for r in self.results), default=4)
        lines = [self.title, ""]
        for r in self.results:
            points = f"{_points(r.score)}/{_points(r.max_score)}"
            said = r.verdict if r.message == r.verdict else f"{r.verdict}: {r.message}"
            lines.append(f"{_MARK[r.verdict]} {r.name:<{width}}  {points:>7}  {said}")
            if r.shown is not None:
                pad = " " * (width + 13)
                shown = r.shown.splitlines()
                lines.append(f"{pad}read as {shown[0]}")
                lines += [f"{pad}        {line}" for line in shown[1:]]
        counts = {v: sum(r.verdict == v for r in self.results) for v in VERDICTS}
        lines += [
            "",
            f"score: {_points(self.score)} of {_points(self.max_score)}"
            f" ({counts['correct']} correct, {counts['incorrect']} incorrect,"
            f" {counts['invalid']} invalid)",
        ]
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:
        rows = [f"**{self.title}**: {_points(self.score)} of {_points(self.max_score)}", ""]
        rows += ["| question | verdict | points | feedback |", "|---|---|---|---|"]
        for r in self.results:
            shown = f" — read as ${r.latex}$" if r.latex else ""
            message = r.message.replace("|", "\\|")
            rows.append(
                f"| `{r.name}` | {_MARK[r.verdict]} {r.verdict} |"
                f" {_points(r.score)}/{_points(r.max_score)} | {message}{shown} |"
            )
        return "\n".join(rows)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td><code>{html.escape(r.name)}</code></td><td>{_MARK[r.verdict]}"
            f" {r.verdict}</td><td>{_points(r.score)}/{_points(r.max_score)}</td>"
            f"<td>{html.escape(r.message)}"
            + (f"<br>read as \\({html.escape(r.latex or '')}\\)" if r.latex else "")
            + "</td></tr>"
            for r in self.results
        )
        return (
            f"<p><b>{html.escape(self.title)}</b>: {_points(self.score)} of"
            f" {_points(self.max_score)}</p><table><tr><th>question</th><th>verdict</th>"
            f"<th>points</th><th>feedback</th></tr>{rows}</table>"
        )


def _points(x: float) -> str:
    return f"{x:g}" if x == round(x, 2) else f"{x:.2f}"
