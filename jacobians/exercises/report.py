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
class Unknown:
    """An answer to a question the exercise does not ask: not graded, no points lost.
    ``suggestion`` is the question probably meant (``dW3`` for ``dw3``) or ``None``;
    ``message`` says both to the student."""

    name: str
    suggestion: str | None
    message: str

    def as_json(self) -> dict[str, Any]:
        """The fields ``--json`` prints for it."""
        return {"name": self.name, "suggestion": self.suggestion, "message": self.message}


@dataclass(frozen=True)
class Report:
    """Every question's result, in the exercise's order; ``unknown`` lists the answers to
    questions the exercise does not ask (they carry no points)."""

    title: str
    results: tuple[Result, ...]
    unknown: tuple[Unknown, ...] = ()

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
        """``score``, ``max_score``, ``questions`` (see :meth:`Result.as_json`) and
        ``unknown`` (see :meth:`Unknown.as_json`)."""
        return {
            "title": self.title,
            "score": self.score,
            "max_score": self.max_score,
            "questions": [r.as_json() for r in self.results],
            "unknown": [u.as_json() for u in self.unknown],
        }

    def gradescope(self, note: str = "") -> dict[str, Any]:
        """The Gradescope autograder ``results.json``: ``score``, one test per question (our
        verdict and mistake in its ``extra_data``), and ``output``: ``note`` if given, the
        score line, and a line per answer to a question not asked (:class:`Unknown`).

        Every text is plain (``output_format`` ``text``): messages and answers hold ``*``,
        ``_``, ``|`` and matrices laid out in columns, which Markdown would turn into emphasis,
        tables or one reflowed line. Every test is ``visible``, its feedback being the point
        of the exercise; ``stdout`` (our own log) is ``hidden``. When students see the results
        is left to the assignment's settings on Gradescope (no top-level ``visibility``).
        """
        line = f"{self.title}: {_points(self.score)} of {_points(self.max_score)} points"
        tests = [
            {
                "name": r.name,
                "score": r.score,
                "max_score": r.max_score,
                "status": "passed" if r.verdict == "correct" else "failed",
                "output": r.message + (f"\nread as: {r.shown}" if r.shown else ""),
                "visibility": "visible",
                "extra_data": {"verdict": r.verdict, "mistake": r.mistake},
            }
            for r in self.results
        ]
        output = "\n".join([line, *(u.message for u in self.unknown)])
        return Report._gradescope_results(
            self.score, f"{note}\n\n{output}" if note else output, tests
        )

    @staticmethod
    def _gradescope_results(
        score: float, output: str, tests: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """A ``results.json`` with our display settings (see :meth:`gradescope`)."""
        return {
            "score": score,
            "output": output,
            "output_format": "text",
            "test_output_format": "text",
            "test_name_format": "text",
            "stdout_visibility": "hidden",
            "tests": tests,
        }

    @classmethod
    def unusable(cls, title: str, questions: tuple[tuple[str, float], ...], reason: str) -> Report:
        """The report of a submission whose answers file cannot be used at all: each of
        ``questions`` (name, points) ``invalid``, 0 points, with ``reason`` as its message.

        >>> report = Report.unusable("T", (("dW2", 1.0), ("db2", 2.0)), "not UTF-8")
        >>> [(r.name, r.verdict, r.score, r.max_score) for r in report.results]
        [('dW2', 'invalid', 0.0, 1.0), ('db2', 'invalid', 0.0, 2.0)]
        """
        results = (Result(name, "invalid", None, reason, 0.0, points) for name, points in questions)
        return cls(title, tuple(results))

    @staticmethod
    def gradescope_unusable_answers(
        title: str, questions: tuple[tuple[str, float], ...], reason: str
    ) -> dict[str, Any]:
        """The ``results.json`` of a student's answers file that cannot be read at all (not
        UTF-8, not TOML/JSON, too large): every question a failed test with ``reason`` as
        its output, and ``output`` saying what to do."""
        note = (
            "Your answers file could not be read, so none of its answers was graded."
            f" Fix it and submit again.\n{reason}"
        )
        return Report.unusable(title, questions, reason).gradescope(note)

    @staticmethod
    def gradescope_not_graded(reason: str) -> dict[str, Any]:
        """The ``results.json`` of a submission that could not be graded at all (the exercise
        file unusable): score 0, ``reason`` in ``output``, no tests."""
        return Report._gradescope_results(0.0, reason, [])

    def text(self) -> str:
        """A line per question, a line per answer to no question, and the score."""
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
        if self.unknown:
            lines += ["", *(f"! {u.message}" for u in self.unknown)]
        counts = {v: sum(r.verdict == v for r in self.results) for v in VERDICTS}
        extra = len(self.unknown)
        lines += [
            "",
            f"score: {_points(self.score)} of {_points(self.max_score)}"
            f" ({counts['correct']} correct, {counts['incorrect']} incorrect,"
            f" {counts['invalid']} invalid"
            + (f"; {extra} answer{'s' * (extra > 1)} to no question" if extra else "")
            + ")",
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
        rows += [
            "| `{}` | ! not a question | 0/0 | {} |".format(
                u.name.replace("|", "¦"), u.message.replace("|", "\\|")
            )
            for u in self.unknown
        ]
        return "\n".join(rows)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td><code>{html.escape(r.name)}</code></td><td>{_MARK[r.verdict]}"
            f" {r.verdict}</td><td>{_points(r.score)}/{_points(r.max_score)}</td>"
            f"<td>{html.escape(r.message)}"
            + (f"<br>read as \\({html.escape(r.latex or '')}\\)" if r.latex else "")
            + "</td></tr>"
            for r in self.results
        ) + "".join(
            f"<tr><td><code>{html.escape(u.name)}</code></td><td>! not a question</td>"
            f"<td>0/0</td><td>{html.escape(u.message)}</td></tr>"
            for u in self.unknown
        )
        return (
            f"<p><b>{html.escape(self.title)}</b>: {_points(self.score)} of"
            f" {_points(self.max_score)}</p><table><tr><th>question</th><th>verdict</th>"
            f"<th>points</th><th>feedback</th></tr>{rows}</table>"
        )


def _points(x: float) -> str:
    return f"{x:g}" if x == round(x, 2) else f"{x:.2f}"
