"""The answer language: hostile input is refused with our own error, limits hold, and the
interpreter computes what numpy computes."""

from __future__ import annotations

import ast
import string

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from jacobians.exercises import expression as E
from jacobians.exercises.expression import ExpressionError, evaluate, parse, render, shape

SHAPES = {"W3": (1, 2), "delta3": (1, 1), "z2": (2, 1), "a1": (4, 1), "delta2": (2, 1), "m": ()}
RNG = np.random.default_rng(0)
ENV = {k: RNG.standard_normal(s) if s else np.float64(3.0) for k, s in SHAPES.items()}


BALANCED = "z2"
for _ in range(7):
    BALANCED = f"({BALANCED}+{BALANCED})"  # 255 nodes, only 8 deep


def value(text: str) -> np.ndarray:
    tree = parse(text)
    shape(tree, SHAPES, {"m": 3})
    return evaluate(tree, ENV, {"m": 3})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("W3.T @ delta3", lambda e: e["W3"].T @ e["delta3"]),
        ("(W3.T @ delta3) * relu_prime(z2)", lambda e: (e["W3"].T @ e["delta3"]) * (e["z2"] > 0)),
        ("delta2 @ a1.T / m", lambda e: np.outer(e["delta2"], e["a1"]) / 3.0),
        ("kron(eye(2), a1.T)", lambda e: np.kron(np.eye(2), e["a1"].T)),
        ("vec(delta2 @ a1.T)", lambda e: np.outer(e["delta2"], e["a1"]).reshape(-1, 1)),
        (
            "reshape(vec(delta2 @ a1.T), 4, 2)",
            lambda e: np.outer(e["delta2"], e["a1"]).reshape(4, 2),
        ),
        (
            "diag(sigmoid_prime(z2))",
            lambda e: np.diag((s := 1 / (1 + np.exp(-e["z2"][:, 0]))) * (1 - s)),
        ),
        ("z2 ** 2 - -z2", lambda e: e["z2"] ** 2 + e["z2"]),
        ("ones(2, m) * 2", lambda e: np.full((2, 3), 2.0)),
        ("leaky_relu(z2, 0.2)", lambda e: np.where(e["z2"] > 0, e["z2"], 0.2 * e["z2"])),
        ("sum(exp(z2))", lambda e: np.sum(np.exp(e["z2"]))),
    ],
)
def test_the_interpreter_computes_what_numpy_computes(text: str, expected: object) -> None:
    np.testing.assert_allclose(value(text), expected(ENV), rtol=1e-14)  # type: ignore[operator]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("__import__('os').system('ls')", "character"),
        ("(lambda: 42)()", "character"),  # ':' is not in the alphabet
        ("W3.__class__", "attribute .__class__ is not allowed"),
        ("W3.shape", "attribute .shape is not allowed"),
        ("__builtins__", "never start with _"),
        ("_x", "never start with _"),
        ("open(W3)", "unknown function 'open'"),
        ("eval(W3)", "unknown function 'eval'"),
        ("[z2 for z2 in W3]", "character"),
        ("(z2 for z2 in W3)", "a comprehension is not allowed"),
        ("z2 if W3 else z2", "if/else is not allowed"),
        ("z2 < W3", "character"),
        ("z2 ** 100000", "exponent between -10 and 10"),
        ("z2 ** z2", "needs a number as exponent"),
        ("9" * 400, "magnitude"),
        ("1e999", "magnitude"),
        ("1j", "real numbers only"),
        ("True", "real numbers only"),
        ("W3 W3", "not a formula"),
        ("relu", "is a function; call it"),
        ("relu(z2, z2)", "takes 1 argument"),
        ("(" * 250 + "z2" + ")" * 250, "not a formula"),
        ("relu(" * 60 + "z2" + ")" * 60, "nesting"),
        ("-" * 300 + "z2", "nesting"),
        (BALANCED, "names, numbers and operations"),
        ("x" * 2000, "at most 1000 characters"),
        ("ｚ2", "character 'ｚ'"),
        ("", "empty"),
        ("eye(100000000)", "too large"),
        ("kron(eye(2000), eye(2000))", "larger than the limit"),
        ("eye(2.5)", "whole numbers"),
        ("W3 @ a1", "inner sizes 2 and 4 differ"),
        ("2 @ W3", "to scale by a number use *"),
        ("delta2 * a1.T", "for a matrix product use @"),
        ("reshape(z2, 3, 3)", "needs 2 entries"),
        ("q7", "unknown name 'q7'"),
    ],
)
def test_hostile_and_wrong_input_is_refused_with_a_message(text: str, match: str) -> None:
    with pytest.raises(ExpressionError, match=match):
        value(text)


def test_a_non_finite_value_is_refused() -> None:
    with pytest.raises(ExpressionError, match="not finite"):
        value("log(z2 * 0)")


ALPHABET = string.ascii_letters + string.digits + "_ +-*/@().,\t\n'\"[]{}:;=<>!~^&|%#$\\ｚé"


@given(st.text(alphabet=ALPHABET, max_size=200))
def test_random_text_raises_nothing_but_our_error(text: str) -> None:
    try:
        value(text)
    except ExpressionError:
        pass


def _leaves() -> st.SearchStrategy[ast.expr]:
    names = st.sampled_from([*SHAPES, "x", "__class__", "open", "relu"]).map(
        lambda n: ast.Name(n, ast.Load())
    )
    numbers = st.one_of(
        st.integers(-(10**30), 10**30), st.floats(allow_nan=True, allow_infinity=True)
    ).map(lambda v: ast.Constant(v))
    return st.one_of(names, numbers)


def _extend(children: st.SearchStrategy[ast.expr]) -> st.SearchStrategy[ast.expr]:
    ops = st.sampled_from(
        [ast.Add(), ast.Sub(), ast.Mult(), ast.Div(), ast.MatMult(), ast.Pow(), ast.Mod()]
    )
    funcs = st.sampled_from(
        ["relu", "diag", "eye", "kron", "vec", "reshape", "sum", "ones", "getattr"]
    )
    return st.one_of(
        st.builds(ast.BinOp, children, ops, children),
        st.builds(ast.UnaryOp, st.sampled_from([ast.USub(), ast.Not()]), children),
        st.builds(
            lambda c, a: ast.Attribute(c, a, ast.Load()),
            children,
            st.sampled_from(["T", "__dict__"]),
        ),
        st.builds(
            lambda f, args: ast.Call(ast.Name(f, ast.Load()), args, []),
            funcs,
            st.lists(children, max_size=3),
        ),
    )


@given(st.recursive(_leaves(), _extend, max_leaves=60))
def test_random_trees_raise_nothing_but_our_error_and_stay_within_the_limits(
    tree: ast.expr,
) -> None:
    text = ast.unparse(ast.fix_missing_locations(ast.Expression(tree)))
    try:
        result = value(text)
    except ExpressionError:
        return
    assert result.size <= E.MAX_ELEMENTS
    assert len(text) <= E.MAX_LENGTH
    # what was accepted reads back to the same value
    again = parse(render(parse(text)))
    np.testing.assert_array_equal(evaluate(again, ENV, {"m": 3}), result)
