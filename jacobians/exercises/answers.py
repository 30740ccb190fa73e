"""Answers files: a TOML or JSON table from question names to answers.

An answer is a matrix (nested lists, one list per row), a vector (a flat list, read as a column,
as NOTATION writes vectors), a number (a ``1 × 1``), or a text: a symbolic expression over the
exercise's names (:mod:`jacobians.exercises.expression`)::

    dW3 = [[0.0123, -0.0456]]
    db3 = [0.0789]
    delta2 = "(W3.T @ delta3) * relu_prime(z2)"

Nothing in the file is executed. A file that cannot be used at all (bad TOML/JSON, not a
table, an unknown question) raises :class:`AnswersFileError`; a single unusable answer (ragged,
not numeric, NaN) raises :class:`AnswerError` when it is graded, and costs nothing.
"""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Iterable, Mapping
from math import prod
from pathlib import Path

import numpy as np

from .._typing import Matrix
from ..errors import JacobiansError, message

MAX_FILE_BYTES = 5_000_000
MAX_ENTRIES = 1_000_000


class AnswersFileError(JacobiansError, ValueError):
    """An answers file that cannot be graded at all; the message names the place."""


class AnswerError(JacobiansError, ValueError):
    """One answer that cannot be read as a matrix; the message says how to write it."""


def read_answers(path: str | Path) -> dict[str, object]:
    """The answers of a ``.toml`` or ``.json`` file, by question name (not yet graded)."""
    p = Path(path)
    where = f"answers {str(p)!r}"
    if p.suffix.lower() not in (".toml", ".json"):
        raise AnswersFileError(
            message(where, "a .toml or .json file", repr(p.suffix or "no extension"))
        )
    try:
        size = p.stat().st_size
        if size > MAX_FILE_BYTES:
            raise AnswersFileError(message(where, f"at most {MAX_FILE_BYTES:,} bytes", f"{size:,}"))
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise AnswersFileError(message(where, "an existing file", "no such file")) from None
    except (OSError, UnicodeDecodeError) as e:
        raise AnswersFileError(message(where, "a readable UTF-8 file", str(e))) from None
    return parse_answers(text, "json" if p.suffix.lower() == ".json" else "toml", where)


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not a number an answer can hold")


def parse_answers(text: str, kind: str = "toml", where: str = "answers") -> dict[str, object]:
    """Parse the text of an answers file (``kind`` ``toml`` or ``json``)."""
    try:
        data = (
            json.loads(text, parse_constant=_no_constant) if kind == "json" else tomllib.loads(text)
        )
    except (json.JSONDecodeError, tomllib.TOMLDecodeError, ValueError, RecursionError) as e:
        raise AnswersFileError(message(where, f"valid {kind.upper()}", str(e)[:200])) from None
    if not isinstance(data, dict):
        raise AnswersFileError(message(where, "a table of question = answer", type(data).__name__))
    return data


def check_names(
    answers: Mapping[str, object], questions: Iterable[str], where: str = "answers"
) -> None:
    """Raise :class:`AnswersFileError` for an answer to a question the exercise does not ask."""
    asked = list(questions)
    unknown = [k for k in answers if k not in asked]
    if unknown:
        raise AnswersFileError(
            message(
                where,
                f"answers to the exercise's questions ({', '.join(asked)})",
                f"an answer to {unknown[0]!r}",
                "check the spelling: names are as in NOTATION.md (dW2, delta2, J_z2_W2)",
            )
        )


def matrix_value(value: object, place: str = "answer") -> Matrix:
    """A number → ``1 × 1``; a flat list → a column; a list of equal-length lists → a matrix;
    lists nested deeper → a tensor (an image ``C × H × W``, a kernel ``C_out × C_in × k × k``).

    >>> matrix_value([[1, 2], [3, 4]]).shape, matrix_value([1, 2]).shape, matrix_value(5).shape
    ((2, 2), (2, 1), (1, 1))
    >>> matrix_value([[1, 2], [3]])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    jacobians.exercises.answers.AnswerError: answer: expected rows of equal length, got row 2 ...
    """
    if _is_number(value):
        return np.array([[_finite(value, place)]])
    if not isinstance(value, list) or not value:
        raise AnswerError(
            message(
                place,
                "a number, a list of numbers (a column) or a list of rows [[…], […]]",
                _describe(value),
            )
        )
    if all(_is_number(v) for v in value):
        if len(value) > MAX_ENTRIES:
            raise AnswerError(message(place, f"at most {MAX_ENTRIES:,} entries", f"{len(value):,}"))
        return np.array([[_finite(v, f"{place}[{i + 1}]")] for i, v in enumerate(value)])
    if not all(isinstance(row, list) for row in value):
        raise AnswerError(
            message(place, "either numbers (a column) or rows (lists) throughout", "a mix")
        )
    if value[0] and all(isinstance(v, list) for v in value[0]):
        return _tensor_value(value, place)
    width = len(value[0])
    if width == 0:
        raise AnswerError(message(place, "rows with at least one entry", "an empty row"))
    if len(value) * width > MAX_ENTRIES:
        raise AnswerError(message(place, f"at most {MAX_ENTRIES:,} entries", "more"))
    rows = []
    for i, row in enumerate(value, start=1):
        if len(row) != width:
            raise AnswerError(
                message(
                    place,
                    "rows of equal length",
                    f"row {i} with {len(row)} entries and row 1 with {width}",
                    "a matrix is a list of rows",
                )
            )
        rows.append([_finite(v, f"{place} row {i}, column {j}") for j, v in enumerate(row, 1)])
    return np.array(rows, dtype=np.float64)


def _tensor_value(value: list[object], place: str) -> np.ndarray:
    """Lists nested three or more deep, as a tensor answer is written (an image ``C × H × W``
    is a list of channels, each a list of rows): every level the same length throughout."""
    shape: list[int] = []
    level: object = value
    while isinstance(level, list):
        if not level:
            raise AnswerError(message(place, "no empty list", "an empty list"))
        shape.append(len(level))
        level = level[0]
    if prod(shape) > MAX_ENTRIES:
        raise AnswerError(message(place, f"at most {MAX_ENTRIES:,} entries", "more"))

    def check(item: object, depth: int, where: tuple[int, ...]) -> None:
        if depth == len(shape):
            _finite(item, f"{place} entry {', '.join(str(i + 1) for i in where)}")
            return
        if not isinstance(item, list) or len(item) != shape[depth]:
            got = f"{len(item)} entries" if isinstance(item, list) else _describe(item)
            at = ", ".join(str(i + 1) for i in where) or "the top"
            raise AnswerError(
                message(
                    place,
                    f"lists of {shape[depth]} at depth {depth + 1}, as in the first entry",
                    f"{got} at ({at})",
                    "a tensor is lists of equal length at every level",
                )
            )
        for i, sub in enumerate(item):
            check(sub, depth + 1, (*where, i))

    check(value, 0, ())
    return np.array(value, dtype=np.float64)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _finite(value: object, place: str) -> float:
    if not _is_number(value):
        raise AnswerError(message(place, "a number", _describe(value)))
    try:
        number = float(value)  # type: ignore[arg-type]
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise AnswerError(message(place, "a finite number", repr(value)[:40]))
    return number


def _describe(value: object) -> str:
    if isinstance(value, str):
        return f"text {value[:40]!r}"
    if isinstance(value, list):
        return "an empty list" if not value else "a list"
    if isinstance(value, dict):
        return "a table"
    return f"{type(value).__name__} {value!r}"[:60]
