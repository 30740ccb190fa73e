"""Grade answers: a verdict per question (correct, incorrect, invalid), the mistake it matches,
which entries are off, and a score.

A numeric answer is right when every entry satisfies ``|a − r| ≤ atol + rtol·|r|`` (both
tolerances together: a relu gradient is exactly 0 in places, where a relative test alone
fails). A symbolic answer is parsed safely (:mod:`jacobians.exercises.expression`),
shape-checked, and evaluated at the answer key's random instantiations of every name; it is
right when it equals the reference at all of them. A wrong answer is compared with every
mistake model that applies (:mod:`jacobians.exercises.key`) and the one it matches is named.
An invalid answer (unreadable, the wrong form, names it may not use) scores nothing and says
how to fix it.

>>> from jacobians.exercises.sets import walkthrough
>>> exercise = walkthrough()
>>> right = exercise.key.entries["dW3"].reference
>>> report = check(exercise, {"dW3": right.T.tolist(), "db3": "delta3"}, time_limit=None)
>>> [(r.name, r.verdict, r.mistake) for r in report.results if r.name in ("dW3", "db3")]
[('dW3', 'incorrect', 'transposed'), ('db3', 'correct', None)]
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache

import numpy as np

from .._typing import Matrix
from ..errors import shape_str
from .answers import AnswerError, check_names, matrix_value
from .exercise import Exercise
from .expression import ExpressionError, Node, evaluate, names, parse, shape
from .key import AnswerKey, Entry, as_matrix, close, same
from .mistakes import MISTAKES
from .report import Report, Result
from .sandbox import TimeLimitError, run_limited

TIME_LIMIT = 1.0
"""Seconds one symbolic answer may take before its evaluation is killed."""
MAX_LISTED = 6
"""Wrong entries named in a message."""


def check(
    exercise: Exercise, answers: Mapping[str, object], time_limit: float | None = TIME_LIMIT
) -> Report:
    """Grade ``answers`` (question name → number, nested lists or expression text).

    ``time_limit``: seconds per symbolic answer, enforced by a child process (``None``: no
    child, only the expression limits). Raises
    :class:`~jacobians.exercises.answers.AnswersFileError` for an answer to a question the
    exercise does not ask."""
    check_names(answers, [q.name for q in exercise.questions])
    key = exercise.key
    symbolic = [q.name for q in exercise.questions if isinstance(answers.get(q.name), str)]
    graded = _grade_symbolic(key, {n: str(answers[n]) for n in symbolic}, time_limit)
    results = []
    for q in exercise.questions:
        entry = key.entries[q.name]
        if q.name not in answers:
            results.append(_invalid(entry, f"no answer; add {q.name} = … to the answers file"))
        elif q.name in graded:
            results.append(graded[q.name])
        else:
            results.append(grade_numeric(entry, answers[q.name]))
    return Report(exercise.title, tuple(results))


def _invalid(entry: Entry, text: str, form: str | None = None) -> Result:
    return Result(entry.question.name, "invalid", None, text, 0.0, entry.question.points, form)


# --- numeric answers --------------------------------------------------------------------


def grade_numeric(entry: Entry, value: object) -> Result:
    """The verdict on a number or nested lists."""
    q = entry.question
    if q.form == "symbolic":
        return _invalid(entry, "this question asks for a formula: write it as text in quotes")
    try:
        answer = matrix_value(value, f"answer to {q.name}")
    except AnswerError as e:
        return _invalid(entry, str(e), "numeric")
    ref = entry.reference
    hint = ""
    if isinstance(value, list) and value and not isinstance(value[0], list) and ref.shape[0] == 1:
        hint = "; a flat list is read as a column: write a row as [[…]]"
    if answer.shape == ref.shape:
        ok = close(answer, ref, q.rtol, q.atol)
        if ok.all():
            return Result(q.name, "correct", None, "correct", q.points, q.points, "numeric")
        mistake = _match(entry, answer, q.rtol, q.atol)
        if mistake is not None:
            return _mistaken(entry, mistake, "numeric", hint)
        wrong = tuple(tuple(int(i) + 1 for i in index) for index in np.argwhere(~ok))
        score = q.points * float(ok.mean()) if q.partial else 0.0
        listed = ", ".join(f"({', '.join(map(str, w))})" for w in wrong[:MAX_LISTED])
        more = f" and {len(wrong) - MAX_LISTED} more" if len(wrong) > MAX_LISTED else ""
        axes = "(row, column)" if ok.ndim == 2 else "(index)"
        text = (
            f"{len(wrong)} of {ok.size} entries are off: {axes} {listed}{more}"
            if ok.size > 1
            else f"the value is off: expected about {_short(ref)}, got {_short(answer)}"
        )
        return Result(q.name, "incorrect", None, text, score, q.points, "numeric", wrong=wrong)
    mistake = _match(entry, answer, q.rtol, q.atol)
    if mistake is not None:
        return _mistaken(entry, mistake, "numeric", hint)
    return _wrong_shape(entry, answer.shape, "numeric", hint)


def _short(m: Matrix) -> str:
    return f"{float(m.reshape(-1)[0]):.6g}"


def _match(entry: Entry, answer: Matrix, rtol: float, atol: float) -> tuple[str, str] | None:
    for c in entry.candidates:
        if c.value.shape == answer.shape and close(answer, c.value, rtol, atol).all():
            return c.model.mistake, c.model.note
    return None


def _mistaken(entry: Entry, mistake: tuple[str, str], form: str, hint: str = "") -> Result:
    name, note = mistake
    q = entry.question
    text = MISTAKES[name] + (f" ({note})" if note else "")
    if name == "transposed":
        text += hint
    return Result(q.name, "incorrect", name, text, 0.0, q.points, form)


def _wrong_shape(entry: Entry, got: tuple[int, ...], form: str, hint: str = "") -> Result:
    q, quantity = entry.question, entry.quantity
    text = (
        f"wrong shape: expected {shape_str(quantity.shape)} because {quantity.why},"
        f" got {shape_str(got)}"
    )
    if tuple(got) == quantity.shape[::-1]:
        text += f", the shape of {q.name}ᵀ"
    return Result(q.name, "incorrect", "wrong_shape", text + hint, 0.0, q.points, form)


# --- symbolic answers -------------------------------------------------------------------


def _grade_symbolic(
    key: AnswerKey, texts: dict[str, str], time_limit: float | None
) -> dict[str, Result]:
    """Grade every symbolic answer; with a time limit, all in one child process, and each in
    its own only when that one ran out of time (to find which answer took long)."""
    if not texts:
        return {}
    if time_limit is None:
        return _grade_all(key, texts)
    _load_display()
    try:
        out: dict[str, Result] = run_limited(
            _grade_all, (key, texts), time_limit * len(texts) + 0.5
        )
        return out
    except TimeLimitError:
        pass
    results: dict[str, Result] = {}
    for name, text in texts.items():
        try:
            results[name] = run_limited(grade_symbolic, (key.entries[name], key, text), time_limit)
        except TimeLimitError:
            results[name] = _invalid(
                key.entries[name],
                f"the formula took longer than {time_limit:g} s to check; simplify it",
                "symbolic",
            )
    return results


def _grade_all(key: AnswerKey, texts: dict[str, str]) -> dict[str, Result]:
    return {name: grade_symbolic(key.entries[name], key, text) for name, text in texts.items()}


def grade_symbolic(entry: Entry, key: AnswerKey, text: str) -> Result:
    """The verdict on an expression: read, shape-checked, evaluated at the key's
    instantiations and compared with the reference and the mistake models there."""
    q = entry.question
    if q.form == "numeric":
        return _invalid(
            entry, "this question asks for numbers, not a formula: write a matrix [[…], …]"
        )
    try:
        tree = parse(text)
    except ExpressionError as e:
        return _invalid(entry, str(e), "symbolic")
    shown = _display(tree)
    used = sorted(names(tree) - set(entry.names))
    if used:
        return _with(
            _invalid(
                entry,
                f"answer: {q.name} may not be written with {', '.join(used)}; it may use"
                f" {', '.join(entry.names)}",
                "symbolic",
            ),
            shown,
        )
    shapes = {n: key.env[n].shape for n in entry.names if n in key.env}
    try:
        got = shape(tree, shapes, key.integers) or (1, 1)
        values = [as_matrix(evaluate(tree, env, key.integers)) for env in key.envs]
    except ExpressionError as e:
        return _with(_invalid(entry, str(e), "symbolic"), shown)
    if got == entry.quantity.shape and all(
        same(v, r) for v, r in zip(values, entry.instances, strict=True)
    ):
        return _with(
            Result(q.name, "correct", None, "correct", q.points, q.points, "symbolic"), shown
        )
    for c in entry.candidates:
        if all(same(v, w) for v, w in zip(values, c.instances, strict=True)):
            return _with(_mistaken(entry, (c.model.mistake, c.model.note), "symbolic"), shown)
    if got != entry.quantity.shape:
        return _with(_wrong_shape(entry, got, "symbolic"), shown)
    return _with(
        Result(
            q.name,
            "incorrect",
            None,
            "the formula differs from the right one at random values of the names",
            0.0,
            q.points,
            "symbolic",
        ),
        shown,
    )


@cache
def _load_display() -> None:
    """Import sympy and warm its printers here, before a child is forked to grade formulas.

    What a forked child imports or caches dies with it: without this every submission's child
    would import sympy again (about half a second, eating into the answer's time limit), and
    the first division or power sympy prints costs a child another 0.1 s. The formula touches
    every operator and a few functions (``benchmarks/scale.py``, section 6, measures it)."""
    _display(parse("-(a.T @ kron(eye(2), b)) / m + 2 * c ** 2 - diag(d) * sigmoid(x)"))


def _display(tree: Node) -> tuple[str, str]:
    """Unicode and LaTeX by sympy; the plain re-rendering if sympy cannot print it."""
    from .expression import render

    try:
        from .display import latex, unicode

        return unicode(tree), latex(tree)
    except Exception:
        text = render(tree)
        return text, text


def _with(result: Result, shown: tuple[str, str]) -> Result:
    from dataclasses import replace

    return replace(result, shown=shown[0], latex=shown[1])
