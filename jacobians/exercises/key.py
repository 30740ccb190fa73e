"""The answer key of an exercise: reference answers, the mistake models that apply, and the
random instantiations symbolic answers are evaluated at.

A mistake model *applies* to a question when it can be evaluated for this network and differs
from the right answer at random values of the names (``δ aᵀ`` transposed is a mistake; ``I``
transposed is not). An exercise *discriminates* when, at its own values, the reference is
not all zeros and every model that applies is far (ten tolerances) from the reference, and
two tolerances from every other model of its shape: then a right answer cannot be mistaken
for a known mistake, and a known mistake is named without ambiguity. :func:`problems`
lists what fails.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .._typing import Matrix
from .expression import ExpressionError, evaluate, parse, shape
from .mistakes import Model, apply_transform, flattened_shape, models
from .quantities import (
    ColumnProblem,
    Problem,
    Quantity,
    allowed_names,
    environment,
    instantiate,
    quantity,
    references,
)

if TYPE_CHECKING:
    from .exercise import Exercise, Question

INSTANCES = 4
"""Random instantiations a symbolic answer is evaluated at."""
INSTANCE_SEED = 20_261_123
MARGIN = 10.0
"""How many tolerances apart a mistake must be from the right answer."""
PAIR_MARGIN = 2.0
"""How many tolerances apart two mistakes must be, so that one answer matches only one."""


@dataclass(frozen=True)
class Candidate:
    """A mistake model that applies, with its values here and at the instantiations."""

    model: Model
    value: Matrix
    instances: tuple[Matrix, ...]


@dataclass(frozen=True)
class Entry:
    """Everything needed to grade one question."""

    question: Question
    quantity: Quantity
    formula: str | None
    reference: Matrix
    instances: tuple[Matrix, ...]
    candidates: tuple[Candidate, ...]
    names: tuple[str, ...]
    loss: str | None = None
    """The network's loss (``mse``, ``bce``, …); ``None`` for the row layout's ``Σ g(X W)``."""
    batch: int = 1
    """The examples the cost averages over (``m``)."""


@dataclass(frozen=True)
class AnswerKey:
    """The entries by question name, and the environments answers are evaluated in."""

    entries: dict[str, Entry]
    env: dict[str, Matrix]
    envs: tuple[dict[str, Matrix], ...]
    integers: dict[str, int]


def _integers(problem: Problem) -> dict[str, int]:
    return {"m": problem.batch} if isinstance(problem, ColumnProblem) else {}


def as_matrix(value: np.ndarray) -> Matrix:
    """A scalar as ``1 × 1``; matrices unchanged."""
    return np.reshape(value, (1, 1)) if value.ndim == 0 else value


def model_value(
    model: Model,
    reference: Matrix,
    env: Mapping[str, Matrix],
    integers: Mapping[str, int],
    flat: tuple[int, int],
    problem: Problem | None = None,
) -> Matrix:
    """The wrong answer ``model`` gives where the right one is ``reference`` (for ``problem``);
    raises :class:`ExpressionError` when its formula does not fit this network, or the
    mistake does not reach this quantity."""
    return model_values(model, (reference,), (env,), integers, flat, (problem,))[0]


def model_values(
    model: Model,
    references: tuple[Matrix, ...],
    envs: tuple[Mapping[str, Matrix], ...],
    integers: Mapping[str, int],
    flat: tuple[int, int],
    problems: tuple[Problem | None, ...],
) -> tuple[Matrix, ...]:
    """:func:`model_value` at several values of the same network (the exercise's and its
    instantiations', which share every shape): a formula is parsed and shape-checked once."""
    if model.compute is not None or model.transform is not None:
        return tuple(
            _computed(model, r, integers, flat, p)
            for r, p in zip(references, problems, strict=True)
        )
    tree = parse(model.formula or "")
    shape(tree, {k: v.shape for k, v in envs[0].items()}, integers)
    return tuple(as_matrix(evaluate(tree, env, integers)) for env in envs)


def _computed(
    model: Model,
    reference: Matrix,
    integers: Mapping[str, int],
    flat: tuple[int, int],
    problem: Problem | None,
) -> Matrix:
    """A model that is a function of the problem, or a transform of the right answer."""
    if model.compute is not None:
        value = model.compute(problem) if problem is not None else None
        if value is None:
            raise ExpressionError(f"{model.mistake} does not reach this quantity")
        return as_matrix(np.asarray(value, dtype=np.float64))
    assert model.transform is not None
    return apply_transform(model.transform, reference, integers.get("m", 1), flat)


def same(a: Matrix, b: Matrix, rtol: float = 1e-8) -> bool:
    """Equal up to rounding (relative to the larger entry), for values at instantiations."""
    if a.shape != b.shape:
        return False
    scale = max(1.0, float(np.max(np.abs(a), initial=0.0)), float(np.max(np.abs(b), initial=0.0)))
    return bool(np.all(np.abs(a - b) <= rtol * scale))


def close(answer: Matrix, reference: Matrix, rtol: float, atol: float) -> np.ndarray:
    """Per entry: ``|answer − reference| ≤ atol + rtol·|reference|`` (same shapes)."""
    return np.abs(answer - reference) <= atol + rtol * np.abs(reference)


def distinct(a: Matrix, b: Matrix, rtol: float, atol: float, margin: float = MARGIN) -> bool:
    """Different shapes, or some entry more than ``margin`` tolerances apart."""
    if a.shape != b.shape:
        return True
    bound = margin * (atol + rtol * np.maximum(np.abs(a), np.abs(b)))
    return bool(np.any(np.abs(a - b) > bound))


def answer_key(exercise: Exercise) -> AnswerKey:
    """Build the key: reference values here and at :data:`INSTANCES` random instantiations,
    and the mistake models that apply to each question, all in the exercise's ``vec``."""
    problem, vec = exercise.problem, exercise.vec
    integers = _integers(problem)
    env = environment(problem)
    rng = np.random.default_rng(INSTANCE_SEED)
    instances: list[Problem] = [instantiate(problem, rng) for _ in range(INSTANCES)]
    envs = tuple(environment(p) for p in instances)
    refs = references(problem, vec)
    inst_refs = [references(p, vec) for p in instances]
    entries: dict[str, Entry] = {}
    for q in exercise.questions:
        formula, wrong = models(problem, q.name, vec)
        flat = flattened_shape(problem, q.name)
        reference = refs[q.name]
        at = tuple(r[q.name] for r in inst_refs)
        candidates: list[Candidate] = []
        for model in wrong:
            try:
                value, *rest = model_values(
                    model, (reference, *at), (env, *envs), integers, flat, (problem, *instances)
                )
                values = tuple(rest)
            except ExpressionError:
                continue  # the formula does not fit this network's sizes
            if all(same(v, r) for v, r in zip(values, at, strict=True)):
                continue  # not a mistake here (the transpose of a diagonal)
            if model.mistake == "missing_activation_derivative" and np.array_equal(
                value, reference
            ):
                continue  # relu' is exactly 1 wherever it matters here: no mistake at these values
            if any(
                all(same(v, w) for v, w in zip(values, c.instances, strict=True))
                for c in candidates
            ):
                continue  # the same wrong answer as an earlier model
            candidates.append(Candidate(model, value, values))
        names = q.names if q.names is not None else tuple(allowed_names(problem, q.name, env))
        entries[q.name] = Entry(
            q,
            quantity(problem, q.name),
            formula,
            reference,
            at,
            tuple(candidates),
            names,
            problem.net.loss.name if isinstance(problem, ColumnProblem) else None,
            problem.batch if isinstance(problem, ColumnProblem) else 1,
        )
    return AnswerKey(entries, env, envs, integers)


def problems(key: AnswerKey) -> list[str]:
    """Why the exercise's values do not discriminate (empty when they do): a reference of
    zeros, or a mistake too close to the right answer or to another mistake."""
    out: list[str] = []
    for name, e in key.entries.items():
        q, ref = e.question, e.reference
        if np.all(np.abs(ref) <= q.atol * MARGIN):
            out.append(f"{name}: the right answer is all zeros")
            continue
        for i, c in enumerate(e.candidates):
            if not distinct(c.value, ref, q.rtol, q.atol):
                out.append(f"{name}: the {c.model.mistake} answer is too close to the right one")
            for d in e.candidates[i + 1 :]:
                if not distinct(c.value, d.value, q.rtol, q.atol, PAIR_MARGIN):
                    out.append(
                        f"{name}: the {c.model.mistake} and {d.model.mistake} answers coincide"
                    )
    return out
