"""An exercise: a network (or the foundations' matrix function), its values, and questions.

The file is TOML (see ``docs/exercises.md`` for every field)::

    title = "The walk-through network"
    set = "walkthrough"          # where it came from (a built-in set, or "custom")
    variant = 0                  # a per-student variant's seed or student id ("s1234567")
    vec = "column"               # optional: Magnus–Neudecker's vec; absent means "row"

    [network]
    layout = "column"            # or "row": the matrix function L = Σ g(X W)
    sizes = [3, 4, 2, 1]
    activations = ["relu", "relu", "sigmoid"]
    loss = "bce"

    [values]                     # the arrays, or: seed = 4 or "s1234567" (and batch = …)
    W1 = [[…], …]

    [defaults]                   # optional: what every question inherits
    rtol = 1e-3
    atol = 1e-6

    [[questions]]
    name = "dW2"                 # a NOTATION.md name
    prompt = "…"
    form = "either"              # numeric, symbolic or either
    points = 1
    partial = false              # score per correct entry of a numeric answer
    names = ["delta2", "a1"]     # optional: what a symbolic answer may use

Reading never executes anything from the file; every problem is reported with its place
(``exercise 'ex.toml': questions[3].form: …``) as an :class:`ExerciseFileError`.
"""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..columnvec import VECS
from ..errors import JacobiansError, message
from ..network import Network, check_compatible, check_finite
from ..parameters import Parameters, parameters_from_arrays
from .quantities import ColumnProblem, Problem, RowProblem, quantity

if TYPE_CHECKING:
    from .key import AnswerKey

FORMS = ("numeric", "symbolic", "either")
LAYOUTS = ("column", "row")
DEFAULT_RTOL = 1e-3
"""Relative tolerance: an answer rounded to 4 significant digits is off by at most 5e-4."""
DEFAULT_ATOL = 1e-6
"""Absolute tolerance, for entries that are exactly 0 (a relu gradient) written as 1e-9."""
MAX_QUESTIONS = 500


class ExerciseFileError(JacobiansError, ValueError):
    """An exercise file that cannot be used; the message names the place."""


@dataclass(frozen=True)
class Question:
    """One question: the quantity ``name``, how it may be answered and how it is scored."""

    name: str
    prompt: str = ""
    form: str = "either"
    points: float = 1.0
    rtol: float = DEFAULT_RTOL
    atol: float = DEFAULT_ATOL
    partial: bool = False
    names: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Exercise:
    """A problem with its values, and the questions about it."""

    title: str
    problem: Problem
    questions: tuple[Question, ...]
    set: str = "custom"
    variant: int | str | None = None
    vec: str = "row"
    """The flattening the answers use: ``row`` (NOTATION's, C order) or ``column``
    (Magnus–Neudecker's, stacking the columns; dense networks and the row layout only)."""
    notes: tuple[str, ...] = field(default=(), compare=False)

    @cached_property
    def key(self) -> AnswerKey:
        """The reference answers and the mistake models that apply, computed once."""
        from .key import answer_key

        return answer_key(self)

    @property
    def max_score(self) -> float:
        """The sum of the questions' points."""
        return sum(q.points for q in self.questions)

    def question(self, name: str) -> Question:
        """The question called ``name``."""
        for q in self.questions:
            if q.name == name:
                return q
        raise KeyError(name)


# --- reading ----------------------------------------------------------------------------


def read_exercise(path: str | Path) -> Exercise:
    """Read and check an exercise file (TOML, or JSON with the same structure)."""
    p = Path(path)
    where = f"exercise {str(p)!r}"
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ExerciseFileError(message(where, "an existing file", "no such file")) from None
    except (OSError, UnicodeDecodeError) as e:
        raise ExerciseFileError(message(where, "a readable UTF-8 file", str(e))) from None
    try:
        data = json.loads(text) if p.suffix.lower() == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as e:
        kind = "JSON" if p.suffix.lower() == ".json" else "TOML"
        raise ExerciseFileError(message(where, f"valid {kind}", str(e))) from None
    return exercise_from_data(data, where)


def exercise_from_data(data: Mapping[str, Any], where: str = "exercise") -> Exercise:
    """Build an :class:`Exercise` from parsed TOML/JSON data; ``where`` names the source."""
    if not isinstance(data, Mapping):
        raise ExerciseFileError(message(where, "a table at the top level", type(data).__name__))
    _known(
        data,
        where,
        ("title", "set", "variant", "vec", "network", "values", "defaults", "questions"),
    )
    title = _string(data, "title", where, default="Exercise")
    network = _table(data, "network", where)
    values = _table(data, "values", where, required=False)
    defaults = _table(data, "defaults", where, required=False)
    raw_questions = data.get("questions")
    if not isinstance(raw_questions, list) or not raw_questions:
        raise ExerciseFileError(
            message(f"{where}: questions", "a list of [[questions]] tables", _kind(raw_questions))
        )
    if len(raw_questions) > MAX_QUESTIONS:
        raise ExerciseFileError(
            message(f"{where}: questions", f"at most {MAX_QUESTIONS}", str(len(raw_questions)))
        )
    base = _question_defaults(defaults, f"{where}: defaults")
    variant = data.get("variant")
    if variant is not None and (not isinstance(variant, int | str) or isinstance(variant, bool)):
        raise ExerciseFileError(
            message(f"{where}: variant", "a whole number or a student id (text)", _kind(variant))
        )
    questions = tuple(
        _question(q, base, f"{where}: questions[{i}]") for i, q in enumerate(raw_questions)
    )
    names = [q.name for q in questions]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ExerciseFileError(
            message(f"{where}: questions", "each name once", f"{', '.join(duplicates)} twice")
        )
    exercise_set = _string(data, "set", where, default="custom")
    vec = data.get("vec", "row")
    if vec not in VECS:
        raise ExerciseFileError(message(f"{where}: vec", '"row" or "column"', _kind(vec)))
    problem_of = _problem_maker(network, where)
    check_vec(vec, problem_of, f"{where}: vec")
    if "seed" in values:
        from .sets import draw_variant

        seed, batch = _seed(values, where)
        return draw_variant(title, problem_of, questions, seed, batch, exercise_set, vec)
    problem = problem_of(values, f"{where}: values")
    exercise = Exercise(title, problem, questions, exercise_set, variant, vec)
    _check_questions(exercise, where)
    return exercise


def check_vec(vec: str, maker: ProblemMaker, where: str = "vec") -> None:
    """Refuse ``vec = "column"`` for a network written as layers: NOTATION flattens every
    tensor of such a network row-major, and its answers are graded so."""
    if vec == "column" and isinstance(maker, _ColumnMaker) and not maker.net.is_dense:
        raise ExerciseFileError(
            message(
                where,
                '"row" for a network written as layers (NOTATION flattens every tensor of it'
                ' row-major); "column" is for a dense network (sizes and activations) or the'
                " row layout",
                '"column"',
            )
        )


def _known(data: Mapping[str, Any], where: str, keys: tuple[str, ...]) -> None:
    unknown = [k for k in data if k not in keys]
    if unknown:
        raise ExerciseFileError(
            message(where, f"only the keys {', '.join(keys)}", f"unknown key {unknown[0]!r}")
        )


def _kind(value: object) -> str:
    if value is None:
        return "nothing"
    return f"{type(value).__name__} {value!r}"[:80]


def _string(data: Mapping[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = data.get(key, default)
    if not isinstance(value, str):
        raise ExerciseFileError(message(f"{where}: {key}", "a string", _kind(value)))
    return value


def _table(
    data: Mapping[str, Any], key: str, where: str, required: bool = True
) -> Mapping[str, Any]:
    value = data.get(key, None if required else {})
    if not isinstance(value, Mapping):
        raise ExerciseFileError(message(f"{where}: {key}", f"a [{key}] table", _kind(value)))
    return value


def _number(value: object, place: str, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ExerciseFileError(message(place, "a number", _kind(value)))
    number = float(value)
    if not math.isfinite(number) or number < 0 or (positive and number == 0):
        raise ExerciseFileError(
            message(
                place,
                "a finite positive number" if positive else "a finite number ≥ 0",
                repr(value),
            )
        )
    return number


def _question_defaults(table: Mapping[str, Any], where: str) -> Question:
    _known(table, where, ("form", "points", "rtol", "atol", "partial"))
    return _fill(Question("?"), table, where)


def _fill(base: Question, table: Mapping[str, Any], where: str) -> Question:
    changes: dict[str, Any] = {}
    if "form" in table:
        form = table["form"]
        if form not in FORMS:
            raise ExerciseFileError(
                message(f"{where}.form", f"one of {', '.join(FORMS)}", _kind(form))
            )
        changes["form"] = form
    for key in ("points", "rtol", "atol"):
        if key in table:
            changes[key] = _number(table[key], f"{where}.{key}", positive=key == "rtol")
    if "partial" in table:
        if not isinstance(table["partial"], bool):
            raise ExerciseFileError(
                message(f"{where}.partial", "true or false", _kind(table["partial"]))
            )
        changes["partial"] = table["partial"]
    return replace(base, **changes)


def _question(raw: object, base: Question, where: str) -> Question:
    if not isinstance(raw, Mapping):
        raise ExerciseFileError(message(where, "a [[questions]] table", _kind(raw)))
    _known(raw, where, ("name", "prompt", "form", "points", "rtol", "atol", "partial", "names"))
    name = _string(raw, "name", where)
    prompt = _string(raw, "prompt", where, default="")
    q = replace(_fill(base, raw, where), name=name, prompt=prompt)
    if "names" in raw:
        names = raw["names"]
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ExerciseFileError(message(f"{where}.names", "a list of names", _kind(names)))
        q = replace(q, names=tuple(names))
    return q


def _seed(values: Mapping[str, Any], where: str) -> tuple[int | str, int]:
    """``seed`` (a whole number ≥ 0 or a student id) and ``batch`` of a ``[values]`` table."""
    from .sets import student_id

    _known(values, f"{where}: values", ("seed", "batch"))
    seed, batch = values["seed"], values.get("batch", 1)
    if not isinstance(batch, int) or isinstance(batch, bool) or batch < 1:
        raise ExerciseFileError(
            message(f"{where}: values.batch", "a whole number ≥ 1", _kind(batch))
        )
    try:
        return student_id(seed), batch
    except ExerciseFileError as e:
        raise ExerciseFileError(f"{where}: values.{e}") from None


ProblemMaker = Any
"""``(values, where) → Problem`` for given arrays, or ``(rng, batch) → Problem`` via ``.draw``."""


@dataclass(frozen=True)
class _ColumnMaker:
    net: Network

    def __call__(self, values: Mapping[str, Any], where: str) -> Problem:
        arrays = {k: v for k, v in values.items()}
        try:
            params = parameters_from_arrays(self.net, arrays)
            check_compatible(self.net, params)
            check_finite(self.net, params)
        except JacobiansError as e:
            raise ExerciseFileError(f"{where}: {e}") from None
        return ColumnProblem(self.net, params)

    def draw(self, rng: np.random.Generator, batch: int) -> Problem:
        from ..parameters import init_parameters

        return ColumnProblem(self.net, init_parameters(self.net, int(rng.integers(2**32)), batch))

    def describe(self) -> dict[str, Any]:
        net = self.net.describe()
        if self.net.is_dense:
            return {"layout": "column", **{k: net[k] for k in ("sizes", "activations", "loss")}}
        return {
            "layout": "column",
            "input": net["input"],
            "layers": self.net.layer_spec,
            "loss": net["loss"],
        }


@dataclass(frozen=True)
class _RowMaker:
    activation: str
    sizes: tuple[int, int]

    def __call__(self, values: Mapping[str, Any], where: str) -> Problem:
        _known(values, where, ("X", "W"))
        arrays: dict[str, np.ndarray] = {}
        for key in ("X", "W"):
            if key not in values:
                raise ExerciseFileError(message(where, f"an array {key}", "none"))
            arrays[key] = _matrix(values[key], f"{where}.{key}")
        X, W = arrays["X"], arrays["W"]
        if W.shape != self.sizes or X.shape[1] != self.sizes[0]:
            raise ExerciseFileError(
                message(
                    where,
                    f"W of shape {self.sizes[0]}×{self.sizes[1]} and X with {self.sizes[0]} columns"
                    " (network.sizes = [n_in, n_out])",
                    f"W {W.shape[0]}×{W.shape[1]}, X {X.shape[0]}×{X.shape[1]}",
                )
            )
        return RowProblem(self.activation, X, W)

    def draw(self, rng: np.random.Generator, batch: int) -> Problem:
        X = rng.standard_normal((batch, self.sizes[0]))
        W = rng.standard_normal(self.sizes)
        return RowProblem(self.activation, X, W)

    def describe(self) -> dict[str, Any]:
        return {
            "layout": "row",
            "sizes": list(self.sizes),
            "activations": [self.activation],
            "loss": "sum",
        }


def _matrix(value: object, place: str) -> np.ndarray:
    from .answers import AnswerError, matrix_value

    try:
        return matrix_value(value, place)
    except AnswerError as e:
        raise ExerciseFileError(str(e)) from None


def _problem_maker(network: Mapping[str, Any], where: str) -> ProblemMaker:
    place = f"{where}: network"
    _known(network, place, ("layout", "sizes", "activations", "loss", "input", "layers"))
    layout = network.get("layout", "column")
    if layout not in LAYOUTS:
        raise ExerciseFileError(message(f"{place}.layout", "column or row", _kind(layout)))
    if "layers" in network or "input" in network:
        return _layered_maker(network, place, layout)
    sizes, activations = network.get("sizes"), network.get("activations")
    loss = network.get("loss", "sum" if layout == "row" else None)
    if (
        not isinstance(sizes, list)
        or not isinstance(activations, list)
        or not isinstance(loss, str)
    ):
        raise ExerciseFileError(
            message(
                place,
                "sizes (a list of numbers), activations (a list of names) and loss",
                _kind(dict(network)),
            )
        )
    try:
        net = Network.from_spec(sizes, activations, loss)
    except JacobiansError as e:
        raise ExerciseFileError(f"{place}: {e}") from None
    if layout == "row":
        if net.depth != 1 or loss != "sum" or not net.activations[0].elementwise:
            raise ExerciseFileError(
                message(
                    place,
                    'for layout = "row", the foundations chapter\'s matrix function L = Σ g(X W):'
                    ' sizes = [n_in, n_out], one elementwise activation, loss = "sum"',
                    f"sizes {sizes}, activations {activations}, loss {loss!r}",
                )
            )
        return _RowMaker(net.activations[0].name, (net.sizes[0], net.sizes[1]))
    return _ColumnMaker(net)


def _layered_maker(network: Mapping[str, Any], place: str, layout: str) -> ProblemMaker:
    """A network written as ``input`` (one example's shape) and ``layers`` (a spec string)."""
    given = [k for k in ("sizes", "activations") if k in network]
    if given or layout != "column":
        raise ExerciseFileError(
            message(
                place,
                'input and layers (a spec) with layout = "column", or sizes and activations',
                f"also {', '.join(given)}" if given else f"layout {layout!r}",
            )
        )
    shape, layers, loss = network.get("input"), network.get("layers"), network.get("loss")
    if not isinstance(layers, str) or not isinstance(loss, str):
        raise ExerciseFileError(
            message(
                place,
                'layers (a spec such as "conv2d(2, 2), relu, flatten, dense(1), sigmoid") and loss',
                _kind(dict(network)),
            )
        )
    try:
        net = Network.from_layers(layers, shape, loss)  # type: ignore[arg-type]
    except JacobiansError as e:
        raise ExerciseFileError(f"{place}: {e}") from None
    return _ColumnMaker(net)


def _check_questions(exercise: Exercise, where: str) -> None:
    from .quantities import environment

    env = environment(exercise.problem)
    for i, q in enumerate(exercise.questions):
        place = f"{where}: questions[{i}].name"
        try:
            quantity(exercise.problem, q.name, place)
        except JacobiansError as e:
            hint = ""
            if q.name.startswith("J_") and isinstance(exercise.problem, ColumnProblem):
                if exercise.problem.batch > 1:
                    hint = "; Jacobians are asked of one example: use batch = 1"
            raise ExerciseFileError(f"{e}{hint}") from None
        for n in q.names or ():
            if n not in env:
                raise ExerciseFileError(
                    message(
                        f"{where}: questions[{i}].names",
                        f"names of the exercise ({', '.join(env)})",
                        repr(n),
                    )
                )


# --- writing ----------------------------------------------------------------------------


def to_toml(exercise: Exercise, comment: str = "") -> str:
    """The exercise as a TOML file :func:`read_exercise` reads back to the same exercise."""
    lines = [f"# {line}" for line in comment.splitlines()]
    lines += [f"title = {_str(exercise.title)}", f"set = {_str(exercise.set)}"]
    if isinstance(exercise.variant, str):
        lines.append(f"variant = {_str(exercise.variant)}")
    elif exercise.variant is not None:
        lines.append(f"variant = {exercise.variant}")
    if exercise.vec != "row":
        lines.append(f"vec = {_str(exercise.vec)}  # {vec_note(exercise)}")
    lines += ["", "[network]"]
    for key, value in network_description(exercise.problem).items():
        lines.append(f"{key} = {json.dumps(value)}")
    lines += ["", "[values]"]
    for key, array in values_of(exercise.problem).items():
        lines.append(f"{key} = {_array(array)}")
    for q in exercise.questions:
        lines += ["", "[[questions]]", f"name = {_str(q.name)}"]
        if q.prompt:
            lines.append(f"prompt = {_str(q.prompt)}")
        lines.append(f"form = {_str(q.form)}")
        lines.append(f"points = {q.points!r}")
        if q.rtol != DEFAULT_RTOL:
            lines.append(f"rtol = {q.rtol!r}")
        if q.atol != DEFAULT_ATOL:
            lines.append(f"atol = {q.atol!r}")
        if q.partial:
            lines.append("partial = true")
        if q.names is not None:
            lines.append(f"names = {json.dumps(list(q.names))}")
    return "\n".join(lines) + "\n"


def vec_note(exercise: Exercise) -> str:
    """What a ``vec = "column"`` exercise says about its flattening, in its file and its
    solution: the weight factor of its own layout (``z = W a``: ``aᵀ ⊗ I_n``; the row
    layout's ``N = X W``: ``I ⊗ X``)."""
    if isinstance(exercise.problem, RowProblem):
        factor = "∂vec(N)/∂vec(W) = I ⊗ X"
    else:
        factor = "∂z/∂vec(W) = aᵀ ⊗ I_n"
    return (
        f"vec stacks columns (column-major, Magnus–Neudecker): {factor};"
        " reshape back in Fortran order"
    )


def network_description(problem: Problem) -> dict[str, Any]:
    """``layout``, ``sizes``, ``activations``, ``loss`` as the file holds them."""
    if isinstance(problem, RowProblem):
        n_in, n_out = problem.W.shape
        return _RowMaker(problem.activation, (int(n_in), int(n_out))).describe()
    return _ColumnMaker(problem.net).describe()


def values_of(problem: Problem) -> dict[str, np.ndarray]:
    """The arrays of the problem as the file holds them (vectors flat, as NOTATION writes)."""
    if isinstance(problem, RowProblem):
        return {"X": problem.X, "W": problem.W}
    params: Parameters = problem.params
    out: dict[str, np.ndarray] = dict(params.values)
    out["x"] = params.x[..., 0] if params.batch == 1 else params.x
    if params.y is not None:
        out["y"] = params.y[..., 0] if params.batch == 1 else params.y
    for name, mask in params.state.items():  # dropout's masks, as the run drew them
        out[name] = mask[..., 0] if params.batch == 1 else mask
    return out


def _str(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _array(array: np.ndarray) -> str:
    """A nested list with every float written exactly (``repr``), as deep as the array."""
    if array.ndim == 0:
        return repr(float(array))
    if array.ndim == 1:
        return "[" + ", ".join(repr(float(v)) for v in array) + "]"
    return "[" + ", ".join(_array(row) for row in array) + "]"
