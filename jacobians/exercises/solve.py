"""The reference answers of an exercise, for instructors: as text, and as an answers file."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._typing import Matrix
from ..errors import shape_str
from .exercise import Exercise, vec_note
from .key import problems


def answer_form(value: Matrix) -> Any:
    """A value as an answers file holds it: a number for ``1 × 1``, a flat list for a column,
    a list of rows for a matrix, nested lists for a tensor."""
    if value.shape == (1, 1):
        return float(value[0, 0])
    if value.ndim != 2:
        return value.tolist()
    if value.shape[1] == 1:
        return [float(v) for v in value[:, 0]]
    return [[float(v) for v in row] for row in value]


def solution_json(exercise: Exercise) -> dict[str, Any]:
    """``{question: reference answer}``; :func:`~jacobians.exercises.grading.check` gives it
    full marks."""
    return {name: answer_form(e.reference) for name, e in exercise.key.entries.items()}


def format_solution(exercise: Exercise, digits: int = 6) -> str:
    """Every question with its prompt, shape, formula and reference value; under the title,
    the flattening when it is not NOTATION's row-major one."""
    lines = [exercise.title]
    if exercise.variant is not None:
        lines[0] += f" (variant {exercise.variant})"
    if exercise.vec != "row":
        lines.append(f"vec = {exercise.vec!r}: {vec_note(exercise)}")
    lines.append("")
    for name, e in exercise.key.entries.items():
        head = f"{name}  {shape_str(e.quantity.shape)}"
        if e.question.prompt:
            head += f"  {e.question.prompt}"
        lines.append(head)
        if e.formula:
            lines.append(f"  = {e.formula}")
        text = np.array2string(
            e.reference, precision=digits, separator=", ", suppress_small=False, max_line_width=100
        )
        lines += ["  " + line for line in text.splitlines()]
        if e.candidates:
            mistakes = ", ".join(dict.fromkeys(c.model.mistake for c in e.candidates))
            lines.append(f"  mistakes recognised: {mistakes}")
        lines.append("")
    trouble = problems(exercise.key)
    if trouble:
        lines.append("warning: these values do not tell every mistake from the right answer:")
        lines += [f"  {t}" for t in trouble]
    return "\n".join(lines).rstrip()
