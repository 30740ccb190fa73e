"""Grade answers: a verdict per question (correct, incorrect, invalid), the mistake it matches,
which entries are off, and a score.

A numeric answer is right when every entry satisfies ``|a − r| ≤ atol + rtol·|r|`` (both
tolerances together: a relu gradient is exactly 0 in places, where a relative test alone
fails). A symbolic answer is parsed safely (:mod:`jacobians.exercises.expression`),
shape-checked, and evaluated at the answer key's random instantiations of every name; it is
right when it equals the reference at all of them, and only then drawn with sympy ("read
as"). A wrong answer is compared with every mistake model that applies
(:mod:`jacobians.exercises.key`) and the one it matches is named. An invalid answer
(unreadable, not finite, the wrong form, names it may not use, not graded in time) scores
nothing and says how to fix it; every other answer is graded all the same.

One deadline bounds a whole submission (:data:`TIME_LIMIT`): a forked child parses the file,
grades the numeric answers, then the formulas, then draws the formulas, sending each result
as it is done; when time is up it is killed, and what it finished is kept.

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
from typing import Any

import numpy as np

from .._typing import Matrix
from ..errors import message, shape_str
from .answers import (
    MAX_FILE_BYTES,
    AnswerError,
    AnswersFileError,
    AnswersText,
    matrix_value,
    unknown_answers,
)
from .exercise import Exercise
from .expression import (
    MAX_LENGTH,
    ExpressionError,
    Node,
    evaluate,
    names,
    parse,
    render,
    shape,
)
from .key import AnswerKey, Entry, as_matrix, close, same
from .mistakes import MISTAKES
from .report import Report, Result, Unknown
from .sandbox import Emit, run_streaming

TIME_LIMIT = 1.0
"""Seconds a whole submission may take to grade (parsing, every answer, the display) before
its child process is killed: one deadline, not one per answer."""
MAX_LISTED = 6
"""Wrong entries named in a message."""
BYTES_PER_NUMBER = 64
"""Room for one number of an answer in a file (``-1.2345678901234567e-300,`` takes 25
characters at full precision, with a line's indent fewer than 40)."""
SPARE_BYTES = 65_536
"""Room in an answers file for what is not an answer: comments, names that are no question."""


def check(
    exercise: Exercise,
    answers: Mapping[str, object] | AnswersText,
    time_limit: float | None = TIME_LIMIT,
) -> Report:
    """Grade ``answers``: question name → number, nested lists or expression text, or the
    text of an answers file (:func:`~jacobians.exercises.answers.load_answers`), parsed here.

    ``time_limit``: seconds for the whole submission, parsing included, enforced by one
    forked child (``None``: no child, only the expression limits); an answer it did not finish
    is ``invalid`` and says so, the others keep their verdicts. An answer to a question the
    exercise does not ask is listed in :attr:`Report.unknown` and costs nothing. Raises
    :class:`~jacobians.exercises.answers.AnswersFileError` for a file that cannot be read at
    all (or not within ``time_limit``)."""
    key = exercise.key  # built before forking: a child's work is lost with it
    if isinstance(answers, AnswersText):
        _check_size(answers, size_limit(key))
    if time_limit is not None and _may_hold_formula(answers):
        _load_display()
    questions = tuple(q.name for q in exercise.questions)
    messages, _ = run_streaming(_grade_all, (key, questions, answers), time_limit)
    where = answers.where if isinstance(answers, AnswersText) else "answers"
    return _collect(exercise, messages, time_limit, where)


def size_limit(key: AnswerKey) -> int:
    """Bytes an answers file to ``key``'s exercise may hold: each answer written out at full
    precision, a number a line (:data:`BYTES_PER_NUMBER` each), or as a formula of the longest
    length allowed (:data:`~jacobians.exercises.expression.MAX_LENGTH` characters), whichever
    takes more, and :data:`SPARE_BYTES`; at most
    :data:`~jacobians.exercises.answers.MAX_FILE_BYTES`. A larger file holds what is not an
    answer, and parsing it (about 0.25 s per 100 kB of TOML) could take the submission's whole
    time."""
    room = sum(
        max(BYTES_PER_NUMBER * entry.reference.size, MAX_LENGTH + BYTES_PER_NUMBER)
        for entry in key.entries.values()
    )
    return min(MAX_FILE_BYTES, room + SPARE_BYTES)


def _check_size(answers: AnswersText, limit: int) -> None:
    """Refuse, before it is parsed, a file larger than ``limit`` bytes: a whole-file error."""
    size = len(answers.text.encode("utf-8"))
    if size > limit:
        raise AnswersFileError(
            message(
                answers.where,
                f"at most {limit:,} bytes, room for every answer of this exercise written out",
                f"{size:,}",
                "remove what is not an answer",
            )
        )


def _may_hold_formula(answers: Mapping[str, object] | AnswersText) -> bool:
    if isinstance(answers, AnswersText):
        return answers.may_hold_formula()
    return any(isinstance(v, str) for v in answers.values())


def _collect(
    exercise: Exercise, messages: list[Any], time_limit: float | None, where: str
) -> Report:
    """The report from what :func:`_grade_all` sent: a result per question, and for every
    question with an answer but no result, why (the deadline came first)."""
    results: dict[str, Result] = {}
    read: tuple[frozenset[str], frozenset[str], tuple[Unknown, ...]] | None = None
    working: str | None = None
    for tag, *data in messages:
        if tag == "file":
            raise AnswersFileError(data[0])
        if tag == "read":
            read = data[0], data[1], data[2]
        elif tag == "start":
            working = data[0]
        elif tag == "result":
            results[data[0].name], working = data[0], None
        elif tag == "shown":
            results[data[0]] = _with(results[data[0]], (data[1], data[2]))
    if read is None:
        raise AnswersFileError(
            message(
                where,
                f"a file read within the time limit of {time_limit:g} s",
                "one still being read",
                "an answers file needs a few kilobytes: remove what is not an answer",
            )
        )
    answered, formulas, unknown = read
    out = []
    for q in exercise.questions:
        entry = exercise.key.entries[q.name]
        if q.name in results:
            out.append(results[q.name])
        elif q.name not in answered:
            out.append(_invalid(entry, _no_answer(q.name, unknown)))
        else:
            form = "symbolic" if q.name in formulas else "numeric"
            out.append(_invalid(entry, _late(q.name, working, form, time_limit), form))
    return Report(exercise.title, tuple(out), unknown)


def _no_answer(name: str, unknown: tuple[Unknown, ...]) -> str:
    meant = [u.name for u in unknown if u.suggestion == name]
    if meant:
        return f"no answer; the file answers `{meant[0]}`: rename it {name}"
    return f"no answer; add {name} = … to the answers file"


def _late(name: str, working: str | None, form: str, time_limit: float | None) -> str:
    """Why an answer has no verdict: it was being graded, or waited, when time ran out."""
    limit = f"the submission's time limit of {time_limit:g} s"
    if name == working:
        what = "formula" if form == "symbolic" else "answer"
        return f"the {what} was still being checked when {limit} ran out; simplify it"
    cause = f" while {working} was being checked" if working else ""
    return f"not graded: {limit} ran out{cause}; simplify that answer and check again"


def _invalid(entry: Entry, text: str, form: str | None = None) -> Result:
    return Result(entry.question.name, "invalid", None, text, 0.0, entry.question.points, form)


# --- numeric answers --------------------------------------------------------------------


def grade_numeric(entry: Entry, value: object) -> Result:
    """The verdict on a number or nested lists.

    A wrong answer is named by the first mistake model it matches (the candidates of the
    key, in order: transposed, sign flipped, …, the parameter given for its gradient); else,
    when it is a multiple ``c·R`` of the right answer, as ``scaled`` with the factor
    (:func:`_scaled`); else the entries that are off are listed, with a hint when every entry
    is right to 2 significant digits but not to the question's tolerance
    (:func:`_rounding_hint`)."""
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
        scaled = _scaled(entry, answer)
        if scaled is not None:
            return scaled
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
        text += _rounding_hint(entry, answer)
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


def _scaled(entry: Entry, answer: Matrix) -> Result | None:
    """``scaled`` when the answer is ``c·R`` for a factor ``c`` other than 0 and ±1.

    ``c = ⟨A, R⟩ / ⟨R, R⟩`` (least squares over the entries), and every entry must satisfy
    the question's rule ``|a − c·r| ≤ atol + rtol·|c·r|``. Only for a reference with at
    least 2 entries larger than ``atol`` (a single number is a multiple of any other).
    The message names the factor and, where it fits, the cause (:func:`_scale_causes`).

    >>> from jacobians.exercises.sets import walkthrough
    >>> entry = walkthrough().key.entries["dW1"]
    >>> print(_scaled(entry, 2 * entry.reference).message)
    scaled: a multiple of the right answer (your answer is 2 × the right one)"""
    q, ref = entry.question, entry.reference
    if np.count_nonzero(np.abs(ref) > q.atol) < 2 or np.all(np.abs(answer) <= q.atol):
        return None
    if _two_digits(entry, answer):
        return None  # ±0.25 for ±0.2474 is 1.01 × the answer, but rounded, not scaled
    c = float(np.vdot(ref, answer) / np.vdot(ref, ref))
    if not np.isfinite(c) or c == 0.0 or abs(abs(c) - 1.0) <= q.rtol:
        return None
    if not close(answer, c * ref, q.rtol, q.atol).all():
        return None
    return _scaled_by(entry, c, q.rtol, "numeric")


def _scaled_formula(entry: Entry, values: list[Matrix]) -> Result | None:
    """``scaled`` for a formula that is ``c`` times the right one at every instantiation, with
    one ``c`` (fitted over them all, ``c = ⟨v, r⟩ / ⟨r, r⟩``) other than 0 and ±1: ``2 * (delta3
    @ a2.T)`` for ``dW3``. References with fewer than 2 nonzero entries in all are left alone."""
    refs = entry.instances
    if any(v.shape != r.shape for v, r in zip(values, refs, strict=True)):
        return None
    ref = np.concatenate([r.reshape(-1) for r in refs])
    if np.count_nonzero(ref) < 2:
        return None
    got = np.concatenate([v.reshape(-1) for v in values])
    c = float(np.vdot(ref, got) / np.vdot(ref, ref))
    if not np.isfinite(c) or c == 0.0 or abs(abs(c) - 1.0) <= 1e-8:
        return None
    if not all(same(v, c * r) for v, r in zip(values, refs, strict=True)):
        return None
    return _scaled_by(entry, c, 1e-8, "symbolic")


def _scaled_by(entry: Entry, c: float, rtol: float, form: str) -> Result:
    """The ``scaled`` verdict: the factor ``c`` as people write it (within ``rtol``) and, where
    it fits, the likely cause (:func:`_scale_causes`)."""
    what = "answer" if form == "numeric" else "formula"
    note = f"your {what} is {_factor(c, rtol)} × the right one"
    causes = _scale_causes(entry, c)
    if causes:
        note += f"; likely {' or '.join(causes)}"
    return _mistaken(entry, ("scaled", note), form)


def _factor(c: float, rtol: float) -> str:
    """``c`` as people write a factor: ``2``, ``1/2``, ``-1/3``, ``2/3``; else 3 significant
    digits (``1.37``)."""
    from fractions import Fraction

    near = Fraction(c).limit_denominator(12)
    if abs(float(near) - c) <= rtol * abs(c):
        return str(near)
    return f"{c:.3g}"


def _scale_causes(entry: Entry, c: float) -> list[str]:
    """What makes a gradient of the loss ``c`` times too large: the ``½`` of ``mse`` forgotten
    (``c = 2``) or taken twice (``½``); the ``1/m`` of the mean over a batch left out
    (``c = m``) or applied twice (``1/m``). Nothing for other quantities or factors."""
    q = entry.question
    if entry.quantity.kind != "gradient" and not q.name.startswith("J_L_"):
        return []

    def near(target: float) -> bool:
        return abs(c - target) <= q.rtol * abs(target)

    out = []
    if entry.loss == "mse" and near(2.0):
        out.append("the ½ of mse forgotten: L = ½ Σ (ŷ − y)², so ∂L/∂ŷ = ŷ − y")
    if entry.loss == "mse" and near(0.5):
        out.append("the ½ of mse taken twice: L = ½ Σ (ŷ − y)², so ∂L/∂ŷ = ŷ − y")
    m = entry.batch
    if m > 1 and near(float(m)):
        out.append(f"the 1/m of the mean over the m = {m} examples left out")
    if m > 1 and near(1.0 / m):
        out.append(f"1/m applied twice (the mean over the m = {m} examples)")
    return out


def _significant_digits(rtol: float) -> int:
    """The fewest significant digits whose rounding stays within ``rtol``:
    ``0.5·10^(1−d) ≤ rtol`` (4 for the default ``1e-3``)."""
    return max(1, int(np.ceil(1.0 - np.log10(2.0 * rtol) - 1e-9)))


def _rounding_hint(entry: Entry, answer: Matrix) -> str:
    """``"; rounded too far: give 4 significant digits"`` when the answer is right to 2
    significant digits (:func:`_two_digits`) and the question asks for more; else ``""``.
    Called only for an answer the tolerance refused."""
    digits = _significant_digits(entry.question.rtol)
    if digits > 2 and _two_digits(entry, answer):
        return f"; rounded too far: give {digits} significant digits"
    return ""


def _two_digits(entry: Entry, answer: Matrix) -> bool:
    """Every entry within the rounding error of 2 significant digits of the reference:
    ``|a − r| ≤ ½·10^(⌊log₁₀|r|⌋ − 1) + atol`` (``|a| ≤ atol`` where ``r = 0``)."""
    q, ref = entry.question, entry.reference
    size = np.abs(ref)
    exponent = np.floor(np.log10(np.where(size > 0, size, 1.0)))
    unit = np.where(size > 0, 0.5 * 10.0 ** (exponent - 1), 0.0)
    return bool(np.all(np.abs(answer - ref) <= unit * (1 + 1e-9) + q.atol))


# --- the child's work: every answer, one at a time --------------------------------------


def _grade_all(
    key: AnswerKey,
    questions: tuple[str, ...],
    answers: Mapping[str, object] | AnswersText,
    emit: Emit,
) -> None:
    """Parse ``answers`` if it is a file's text, then send, in this order: ``("read",
    answered, formulas, unknown)``; for every numeric answer, then every formula,
    ``("start", name)`` and ``("result", Result)``; then for every formula ``("shown", name,
    unicode, latex)``, sympy's drawing (slow for some, so last: a verdict never waits for it).
    An unusable file sends ``("file", message)`` alone."""
    if isinstance(answers, AnswersText):
        try:
            answers = answers.parse()
        except AnswersFileError as e:
            emit(("file", str(e)))
            return
    given = [n for n in questions if n in answers]
    formulas = [n for n in given if isinstance(answers[n], str)]
    unknown = tuple(
        Unknown(*u)
        for u in unknown_answers([str(n) for n in answers if n not in questions], questions)
    )
    emit(("read", frozenset(given), frozenset(formulas), unknown))
    trees: dict[str, Node] = {}
    for name in [n for n in given if n not in formulas] + formulas:
        emit(("start", name))
        result, tree = _grade_one(key.entries[name], key, answers[name])
        emit(("result", result))
        if tree is not None:
            trees[name] = tree
    for name, tree in trees.items():
        emit(("shown", name, *_display(tree)))


def _grade_one(entry: Entry, key: AnswerKey, value: object) -> tuple[Result, Node | None]:
    """The verdict on one answer, and its tree if it is a formula that was read; whatever
    goes wrong inside costs this answer only."""
    try:
        if isinstance(value, str):
            return _grade_formula(entry, key, value)
        return grade_numeric(entry, value), None
    except Exception as e:  # a limit nothing above foresaw (recursion, memory): this answer
        text = f"answer to {entry.question.name}: could not be graded ({type(e).__name__})"
        return _invalid(entry, text + "; write it more simply"), None


# --- symbolic answers -------------------------------------------------------------------


def grade_symbolic(entry: Entry, key: AnswerKey, text: str) -> Result:
    """The verdict on an expression: read, shape-checked, evaluated at the key's
    instantiations and compared with the reference and the mistake models there; then drawn
    with sympy ("read as")."""
    result, tree = _grade_formula(entry, key, text)
    return result if tree is None else _with(result, _display(tree))


def _grade_formula(entry: Entry, key: AnswerKey, text: str) -> tuple[Result, Node | None]:
    """:func:`grade_symbolic` without sympy: the verdict, shown as our own plain rendering,
    and the tree to draw (``None`` if the text could not be read)."""
    q = entry.question
    if q.form == "numeric":
        return _invalid(
            entry, "this question asks for numbers, not a formula: write a matrix [[…], …]"
        ), None
    try:
        tree = parse(text)
    except ExpressionError as e:
        return _invalid(entry, str(e), "symbolic"), None
    return _with(_formula_verdict(entry, key, tree), (render(tree), None)), tree


def _formula_verdict(entry: Entry, key: AnswerKey, tree: Node) -> Result:
    q = entry.question
    used = sorted(names(tree) - set(entry.names))
    if used:
        return _invalid(
            entry,
            f"answer: {q.name} may not be written with {', '.join(used)}; it may use"
            f" {', '.join(entry.names)}",
            "symbolic",
        )
    shapes = {n: key.env[n].shape for n in entry.names if n in key.env}
    try:
        got = shape(tree, shapes, key.integers) or (1, 1)
        values = [as_matrix(evaluate(tree, env, key.integers)) for env in key.envs]
    except ExpressionError as e:
        return _invalid(entry, str(e), "symbolic")
    if got == entry.quantity.shape and all(
        same(v, r) for v, r in zip(values, entry.instances, strict=True)
    ):
        return Result(q.name, "correct", None, "correct", q.points, q.points, "symbolic")
    for c in entry.candidates:
        if all(same(v, w) for v, w in zip(values, c.instances, strict=True)):
            return _mistaken(entry, (c.model.mistake, c.model.note), "symbolic")
    if got != entry.quantity.shape:
        return _wrong_shape(entry, got, "symbolic")
    scaled = _scaled_formula(entry, values)
    if scaled is not None:
        return scaled
    return Result(
        q.name,
        "incorrect",
        None,
        "the formula differs from the right one at random values of the names",
        0.0,
        q.points,
        "symbolic",
    )


@cache
def _load_display() -> None:
    """Import sympy and warm its printers here, before a child is forked to grade formulas.

    What a forked child imports or caches dies with it: without this every submission's child
    would import sympy again (about half a second, eating into the submission's time limit),
    and the first division or power sympy prints costs a child another 0.1 s. The formula
    touches every operator and a few functions (``benchmarks/scale.py``, section 6, measures
    it). Called only when the answers may hold a formula: a numeric submission never imports
    sympy."""
    _display(parse("-(a.T @ kron(eye(2), b)) / m + 2 * c ** 2 - diag(d) * sigmoid(x)"))


def _display(tree: Node) -> tuple[str, str | None]:
    """Unicode and LaTeX by sympy; the plain re-rendering (and no LaTeX) if sympy cannot
    print it."""
    try:
        from .display import latex, unicode

        return unicode(tree), latex(tree)
    except Exception:
        return render(tree), None


def _with(result: Result, shown: tuple[str, str | None]) -> Result:
    from dataclasses import replace

    return replace(result, shown=shown[0], latex=shown[1])
