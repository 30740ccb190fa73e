"""Answers files: a TOML or JSON table from question names to answers.

An answer is a matrix (nested lists, one list per row), a vector (a flat list, read as a column,
as NOTATION writes vectors), a number (a ``1 × 1``), or a text: a symbolic expression over the
exercise's names (:mod:`jacobians.exercises.expression`)::

    dW3 = [[0.0123, -0.0456]]
    db3 = [0.0789]
    delta2 = "(W3.T @ delta3) * relu_prime(z2)"

Nothing in the file is executed. Only a file that cannot be read at all raises
:class:`AnswersFileError`: not UTF-8 (a byte-order mark is fine), not TOML/JSON, not a table,
larger than :data:`MAX_FILE_BYTES`, or a question answered twice. Anything wrong inside one
answer costs that answer only: a number no float can hold (JSON's ``NaN``, ``Infinity``, TOML's
``nan``, ``inf``, ``1e999``, a 5,001-digit integer) is read as a :class:`BadNumber`, lists
nested deeper than the parser follows as a :class:`TooDeep`, and :func:`matrix_value` refuses
either, like ragged rows or text where a number belongs, with an
:class:`AnswerError` the grader turns into an ``invalid`` verdict. An answer to a question the
exercise does not ask is reported (:func:`unknown_answers`, with the question meant) and
costs nothing else.
"""

from __future__ import annotations

import difflib
import json
import math
import re
import tomllib
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from math import prod
from pathlib import Path

import numpy as np

from .._typing import Matrix
from ..errors import JacobiansError, message

MAX_FILE_BYTES = 5_000_000
MAX_ENTRIES = 1_000_000
MAX_DEPTH = 8
"""Nesting of the lists of one answer (a kernel ``C_out × C_in × k × k`` nests 4 deep)."""
MAX_DIGITS = 309
"""Digits of a whole number a float can hold (``1.8e308`` has 309)."""


class AnswersFileError(JacobiansError, ValueError):
    """An answers file that cannot be graded at all; the message names the place."""


class AnswerError(JacobiansError, ValueError):
    """One answer that cannot be read as a matrix; the message says how to write it."""


@dataclass(frozen=True)
class BadNumber:
    """A number in the file that no float holds; ``what`` says it for a student
    (``NaN``, ``a whole number with 5,001 digits``)."""

    what: str


@dataclass(frozen=True)
class TooDeep:
    """An answer whose lists nest so deep that the file's parser cannot follow them
    (``levels`` deep): read in place of that answer alone (:func:`parse_answers`)."""

    levels: int


@dataclass(frozen=True)
class AnswersText:
    """An answers file read from disk but not yet parsed (``kind`` ``toml`` or ``json``).

    Parsing a large TOML file takes seconds, so the grader parses it inside the child process
    whose deadline bounds the whole submission (:func:`~jacobians.exercises.grading.check`)."""

    text: str
    kind: str
    where: str = "answers"

    def parse(self) -> dict[str, object]:
        """The answers by question name; :class:`AnswersFileError` if the file is unusable."""
        return parse_answers(self.text, self.kind, self.where)

    def may_hold_formula(self) -> bool:
        """Whether some answer may be a text (a formula): a cheap look at the raw text that
        never misses one (and at worst says yes for a text value in a comment, ``# x = "y"``).
        In JSON a string value ends before ``,``, ``]`` or ``}`` (a key before ``:``); in TOML
        a formula is a string value, which starts on its key's line right after ``=`` (a
        quoted key or a quote in a comment is not one).

        >>> AnswersText("dW3 = [[1, 2]]", "toml").may_hold_formula()
        False
        >>> AnswersText('# my "answers"\\n"dW3" = [[1, 2]]', "toml").may_hold_formula()
        False
        >>> AnswersText("dW3 = 'delta3 @ a2.T'", "toml").may_hold_formula()
        True
        >>> AnswersText('{"dW3": "delta3 @ a2.T"}', "json").may_hold_formula()
        True
        """
        if self.kind == "json":
            return re.search(r'"\s*[,\]}]', self.text) is not None
        return re.search(r"=\s*[\"']", self.text) is not None


def load_answers(path: str | Path) -> AnswersText:
    """The text of a ``.toml`` or ``.json`` answers file, checked for size and encoding (a
    UTF-8 byte-order mark is dropped); :class:`AnswersFileError` names what is wrong."""
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
        text = p.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise AnswersFileError(message(where, "an existing file", "no such file")) from None
    except UnicodeDecodeError as e:
        raise AnswersFileError(
            message(
                where,
                "a text file in UTF-8",
                f"byte {e.object[e.start]:#04x} at position {e.start + 1:,}",
                "save it as UTF-8 (plain text) in your editor",
            )
        ) from None
    except OSError as e:
        raise AnswersFileError(message(where, "a readable file", str(e.strerror))) from None
    return AnswersText(text, "json" if p.suffix.lower() == ".json" else "toml", where)


def read_answers(path: str | Path) -> dict[str, object]:
    """The answers of a ``.toml`` or ``.json`` file, by question name (not yet graded)."""
    return load_answers(path).parse()


class _DuplicateKeyError(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def parse_answers(text: str, kind: str = "toml", where: str = "answers") -> dict[str, object]:
    """Parse the text of an answers file (``kind`` ``toml`` or ``json``); a leading byte-order
    mark is dropped, numbers no float holds become :class:`BadNumber`.

    >>> parse_answers('{"dW3": [1, NaN]}', "json")
    {'dW3': [1, BadNumber(what='NaN')]}
    >>> parse_answers('{"dW3": 1, "dW3": 2}', "json")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    jacobians.exercises.answers.AnswersFileError: answers: ... got 'dW3' twice; keep one
    """
    text = text.removeprefix("\ufeff")
    try:
        data = _parse(text, kind)
    except _DuplicateKeyError as e:
        raise AnswersFileError(
            message(
                where,
                "each name once in an object (each question answered once)",
                f"{e.key!r} twice",
                "keep one",
            )
        ) from None
    except RecursionError:
        raise AnswersFileError(
            message(where, f"lists nested at most {MAX_DEPTH} deep", "lists nested far deeper")
        ) from None
    except (json.JSONDecodeError, tomllib.TOMLDecodeError, ValueError) as e:
        got = str(e)[:200]
        raise AnswersFileError(
            message(where, f"valid {kind.upper()}", got, _non_ascii_name(text, got))
        ) from None
    if not isinstance(data, dict):
        raise AnswersFileError(message(where, "a table of question = answer", type(data).__name__))
    return data


_DEEP = 64
"""Lists nested deeper than this (far past :data:`MAX_DEPTH`) in one answer are set aside when
the parser runs out of recursion: a JSON parser follows about 1,000 levels, TOML's 500."""

_TOKENS = {
    "json": re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]'),
    "toml": re.compile(
        r'"""[\s\S]*?"""|\'\'\'[\s\S]*?\'\'\'|"(?:[^"\\\n]|\\.)*"|\'[^\'\n]*\'|#[^\n]*|[\[\]{}]'
    ),
}
"""A file's strings and comments (skipped: a bracket inside them is text) and its brackets."""

_SET_ASIDE = "\x00jacobians: nested "
"""The text a set-aside answer is parsed as, until :class:`TooDeep` takes its place (it starts
with a NUL, which a student's string could hold only written as an escape)."""


def _parse(text: str, kind: str) -> object:
    """``text`` parsed as ``kind``; where the parser runs out of recursion, parsed again with
    the answers nested too deep set aside (:func:`_parse_without_the_deep`)."""
    try:
        return _parse_json(text) if kind == "json" else _parse_toml(text)
    except RecursionError:
        return _parse_without_the_deep(text, kind)


def _parse_without_the_deep(text: str, kind: str) -> object:
    """Parse ``text`` with every answer nested more than :data:`_DEEP` deep replaced by a
    :class:`TooDeep` (found by counting brackets outside strings and comments, no recursion),
    so that such an answer costs only itself; raises ``RecursionError`` where the file is
    still too deep (nested tables of answers)."""
    base = 1 if kind == "json" else 0  # the depth at which an answer's value starts
    depth, start, deepest = 0, 0, 0
    pieces, kept = [], 0
    for token in _TOKENS[kind].finditer(text):
        bracket = token.group()
        if bracket in ("[", "{"):
            if depth == base:
                start, deepest = token.start(), 0
            depth += 1
            deepest = max(deepest, depth - base)
        elif bracket in ("]", "}"):
            depth -= 1
            if depth == base and deepest > _DEEP:
                pieces += [text[kept:start], json.dumps(f"{_SET_ASIDE}{deepest}")]
                kept = token.end()
    shallow = "".join([*pieces, text[kept:]])
    data = _parse_json(shallow) if kind == "json" else _parse_toml(shallow)
    return _deep_answers(data) if isinstance(data, dict) else data


def _deep_answers(table: dict[str, object]) -> dict[str, object]:
    """``table`` with each set-aside answer (:func:`_parse_without_the_deep`) a :class:`TooDeep`."""
    out: dict[str, object] = {}
    for key, value in table.items():
        if isinstance(value, str) and value.startswith(_SET_ASIDE):
            value = TooDeep(int(value.removeprefix(_SET_ASIDE)))
        elif isinstance(value, dict):
            value = _deep_answers(value)
        out[key] = value
    return out


def _non_ascii_name(text: str, error: str) -> str:
    """A hint when the line a TOML error names starts with a name in non-ASCII letters
    (``ｄＷ３ = …`` is not TOML: a bare name is ASCII), or gives a name a second time (TOML's
    "Cannot overwrite a value" does not say which)."""
    at = re.search(r"at line (\d+)", error)
    lines = text.splitlines()
    if at is None or not 1 <= int(at.group(1)) <= len(lines):
        return ""
    name = lines[int(at.group(1)) - 1].split("=", 1)[0].strip()
    if error.startswith("Cannot overwrite a value") and name:
        return f"the name {_show_name(name)} is given twice; keep one"
    odd = [c for c in dict.fromkeys(name) if not c.isascii()][:3]
    if not odd:
        return ""
    chars = ", ".join(f"`{c}` is {_char_name(c)}" for c in odd)
    return f"the name {_show_name(name)} is not plain ASCII ({chars}); type it again in ASCII"


def _parse_json(text: str) -> object:
    return json.loads(
        text,
        parse_constant=BadNumber,
        parse_int=_whole_number,
        parse_float=_float,
        object_pairs_hook=_no_duplicates,
    )


def _parse_toml(text: str) -> object:
    try:
        return tomllib.loads(text, parse_float=_float)
    except ValueError as e:
        if "integer string conversion" not in str(e):
            raise
    # a whole number of thousands of digits: Python refuses to read it (the int-string limit);
    # a float literal that overflows the same way, its digits counted, stands in for it
    return tomllib.loads(_LONG_INTEGER.sub(_stand_in, text), parse_float=_float)


_LONG_INTEGER = re.compile(r"(?<![\w.])([+-]?)(\d[\d_]{1000,})(?![\w.])")
_STAND_IN = re.compile(r"[+-]?9\.(\d+)e999999")


def _stand_in(match: re.Match[str]) -> str:
    return f"{match.group(1)}9.{len(match.group(2).replace('_', ''))}e999999"


def _whole_number(text: str) -> int | BadNumber:
    digits = len(text.lstrip("+-"))
    if digits > MAX_DIGITS:
        return BadNumber(f"a whole number with {digits:,} digits")
    return int(text)


def _float(text: str) -> float | BadNumber:
    value = float(text)
    if math.isfinite(value):
        return value
    if stand_in := _STAND_IN.fullmatch(text):
        return BadNumber(f"a whole number with {int(stand_in.group(1)):,} digits")
    if text.lstrip("+-").lower() in ("nan", "inf"):
        return BadNumber(text)
    return BadNumber(f"a number beyond ±1.8e308 ({text[:20]})")


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKeyError(key)
        out[key] = value
    return out


# --- names ------------------------------------------------------------------------------

_LOOKALIKES = str.maketrans(
    dict(
        zip(
            "АВЕКМНОРСТХУаеорсхуіІјЈѕЅԁԀԜԝΑΒΕΖΗΙΚΜΝΟΡΤΥΧο",
            "ABEKMHOPCTXYaeopcxyiIjJsSdDWwABEZHIKMNOPTYXo",
            strict=True,
        )
    )
    | {"δ": "delta", "Δ": "delta"}
)
"""Cyrillic and Greek letters that look like Latin ones, and δ as in δ2 for delta2."""


def _fold(name: str) -> str:
    """``name`` as it looks: compatibility forms (full-width ``ｄＷ３``) and look-alike letters
    made plain, case ignored."""
    return unicodedata.normalize("NFKC", name).translate(_LOOKALIKES).casefold()


def suggest(name: str, questions: Iterable[str]) -> str | None:
    """The question ``name`` was probably meant for: the same name up to case, full-width and
    look-alike letters, else the closest by :mod:`difflib`; ``None`` if none is close.

    >>> suggest("dw3", ["dW3", "db3"]), suggest("ｄＷ３", ["dW3"]), suggest("xyz", ["dW3"])
    ('dW3', 'dW3', None)
    """
    asked = list(questions)
    folded = {_fold(q): q for q in asked}
    if _fold(name) in folded:
        return folded[_fold(name)]
    close = difflib.get_close_matches(_fold(name), list(folded), n=1, cutoff=0.6)
    return folded[close[0]] if close else None


MAX_SUGGESTED = 20
"""Answers to no question (in the file's order) that are told the question meant: each is a
fuzzy comparison with every question, and a file of thousands of such names would spend the
submission's time on them; the others are listed without one."""


def unknown_answers(
    names: Iterable[str], questions: Iterable[str]
) -> list[tuple[str, str | None, str]]:
    """``(name, question meant or None, message)`` for each answer to a question the exercise
    does not ask, in the file's order; past the first :data:`MAX_SUGGESTED`, no question meant
    is looked for (the message says so).

    >>> unknown_answers(["dw3"], ["dW3", "db3"])[0][1:]
    ('dW3', 'no question `dw3`; did you mean `dW3`? (this answer is not graded and costs nothing)')
    >>> unknown_answers([f"x{i}" for i in range(21)], ["dW3"])[-1][1:]
    (None, 'no question `x20` (this answer is not graded and costs nothing)')
    """
    asked = list(questions)
    out: list[tuple[str, str | None, str]] = []
    for i, name in enumerate(names):
        if i < MAX_SUGGESTED:
            meant = suggest(name, asked)
            out.append((name, meant, unknown_message(name, asked, meant)))
        else:
            out.append((name, None, f"no question {_show_name(name)} ({_NOT_GRADED})"))
    return out


_NOT_GRADED = "this answer is not graded and costs nothing"


def unknown_message(name: str, questions: Iterable[str], meant: str | None) -> str:
    """What to say of an answer to a question the exercise does not ask, ``meant`` the question
    :func:`suggest` found for it.

    >>> unknown_message("dw3", ["dW3", "db3"], "dW3")
    'no question `dw3`; did you mean `dW3`? (this answer is not graded and costs nothing)'
    """
    shown = _show_name(name)
    odd = [c for c in dict.fromkeys(name) if not c.isascii()][:3]
    if odd:
        shown += " (" + ", ".join(f"`{c}` is {_char_name(c)}" for c in odd) + ")"
    hint = f"did you mean `{meant}`?" if meant else f"the questions are {', '.join(questions)}"
    return f"no question {shown}; {hint} ({_NOT_GRADED})"


def _show_name(name: str) -> str:
    text = name if len(name) <= 40 else name[:40] + "…"
    return f"`{text}`" if text.isprintable() else repr(text)


def _char_name(c: str) -> str:
    return f"U+{ord(c):04X} {unicodedata.name(c, 'an unnamed character')}"


# --- values -----------------------------------------------------------------------------


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
    if isinstance(value, TooDeep):
        got = f"lists nested {value.levels:,} deep"
        raise AnswerError(message(place, f"lists nested at most {MAX_DEPTH} deep", got))
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
        if len(shape) == MAX_DEPTH:
            raise AnswerError(
                message(place, f"lists nested at most {MAX_DEPTH} deep", "deeper nesting")
            )
        shape.append(len(level))
        level = level[0]
    if prod(shape) > MAX_ENTRIES:
        raise AnswerError(message(place, f"at most {MAX_ENTRIES:,} entries", "more"))

    def check(item: object, depth: int, where: tuple[int, ...]) -> float | list[object]:
        if depth == len(shape):
            return _finite(item, f"{place} entry {', '.join(str(i + 1) for i in where)}")
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
        return [check(sub, depth + 1, (*where, i)) for i, sub in enumerate(item)]

    return np.array(check(value, 0, ()), dtype=np.float64)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float | BadNumber) and not isinstance(value, bool)


def _finite(value: object, place: str) -> float:
    if not _is_number(value):
        raise AnswerError(message(place, "a number", _describe(value)))
    if isinstance(value, BadNumber):
        raise AnswerError(message(place, "a finite number", value.what))
    try:
        number = float(value)  # type: ignore[arg-type]
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise AnswerError(message(place, "a finite number", _describe(value)))
    return number


def _describe(value: object) -> str:
    if isinstance(value, str):
        return f"text {value[:40]!r}"
    if isinstance(value, list):
        return "an empty list" if not value else "a list"
    if isinstance(value, dict):
        return "a table"
    if value is None:
        return "null (no value)"
    if isinstance(value, BadNumber):
        return value.what
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("-" if value < 0 else "") + "Infinity"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**MAX_DIGITS:
        digits = int(value.bit_length() * math.log10(2)) + 1
        return f"a whole number with about {digits:,} digits"
    return f"{type(value).__name__} {value!r}"[:60]
