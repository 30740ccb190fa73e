"""The attention exercise set and the checker's attention mistakes: every reference and every
mistaken answer computed here from the definitions (``Q = X Wq``, ``S = Q Kᵀ/√d_k``, a softmax
per row, ``Y = A V``, then the dense layer and the loss), never from the layer's own backward
pass; the network set on attention and embedding networks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest

from jacobians.cli import main
from jacobians.exercises.exercise import Exercise, Question
from jacobians.exercises.grading import check
from jacobians.exercises.key import close, problems
from jacobians.exercises.mistakes import MISTAKES
from jacobians.exercises.quantities import ColumnProblem, quantities, references
from jacobians.exercises.sets import SETS, attention, network_exercise, new
from jacobians.exercises.solve import answer_form, solution_json
from jacobians.layers.attention import Attention
from jacobians.network import Network
from jacobians.paths import jacobian_shapes

from .tolerances import EXACT, FINITE_DIFFERENCE, STEP

EXERCISE = attention()
KEY = EXERCISE.key.entries
MISTAKE_IDS = (
    "scale_forgotten",
    "softmax_over_columns",
    "softmax_diagonal_only",
    "dk_not_transposed",
    "one_path_into_dx",
)


def problem_of(exercise: Exercise) -> ColumnProblem:
    assert isinstance(exercise.problem, ColumnProblem)
    return exercise.problem


def verdicts(
    exercise: Exercise, answers: Mapping[str, object]
) -> dict[str, tuple[str, str | None]]:
    report = check(exercise, answers, time_limit=None)
    return {r.name: (r.verdict, r.mistake) for r in report.results if r.name in answers}


# --- the definitions, written out here ------------------------------------------------


def row_softmax_jacobian(a: np.ndarray) -> np.ndarray:
    """``∂a_i/∂s_j = a_i (δ_ij − a_j)``, entry by entry."""
    n = len(a)
    return np.array([[a[i] * ((i == j) - a[j]) for j in range(n)] for i in range(n)])


@dataclass(frozen=True)
class Hand:
    """One example of ``attention(d_k), flatten, dense(1), sigmoid`` with bce, forward and
    backward by the definitions; ``mistake`` makes one step of the backward wrong."""

    X: np.ndarray
    Wq: np.ndarray
    Wk: np.ndarray
    Wv: np.ndarray
    W3: np.ndarray
    b3: np.ndarray
    y: float

    @property
    def root(self) -> float:
        return float(np.sqrt(self.Wq.shape[1]))

    def forward(self) -> dict[str, np.ndarray]:
        Q, K, V = self.X @ self.Wq, self.X @ self.Wk, self.X @ self.Wv
        S = np.einsum("tk,uk->tu", Q, K) / self.root
        E = np.exp(S)
        A = E / E.sum(axis=1)[:, None]
        Y = A @ V
        z = float((self.W3 @ Y.reshape(-1))[0] + self.b3[0])
        return {
            "Q": Q,
            "K": K,
            "V": V,
            "S": S,
            "A": A,
            "Y": Y,
            "yhat": np.array(1 / (1 + np.exp(-z))),
        }

    def loss(self) -> float:
        p = float(self.forward()["yhat"])
        return float(-(self.y * np.log(p) + (1 - self.y) * np.log(1 - p)))

    def backward(self, mistake: str | None = None) -> dict[str, np.ndarray]:
        f = self.forward()
        Q, K, V, A = f["Q"], f["K"], f["V"], f["A"]
        T = A.shape[0]
        dz = float(f["yhat"]) - self.y  # sigmoid with bce: ŷ − y
        dY = (dz * self.W3).reshape(f["Y"].shape)  # through dense(1) and flatten
        dV = A.T @ dY
        dA = dY @ V.T
        if mistake == "softmax_diagonal_only":
            dS = A * dA
        elif mistake == "softmax_over_columns":
            dS = np.column_stack([row_softmax_jacobian(A[:, j]) @ dA[:, j] for j in range(T)])
        else:  # each row through its block (symmetric: Jᵀ = J)
            dS = np.vstack([row_softmax_jacobian(A[t]) @ dA[t] for t in range(T)])
        root = 1.0 if mistake == "scale_forgotten" else self.root
        dQ = dS @ K / root
        dK = (dS if mistake == "dk_not_transposed" else dS.T) @ Q / root
        dX = dQ @ self.Wq.T
        if mistake != "one_path_into_dx":
            dX = dX + dK @ self.Wk.T + dV @ self.Wv.T
        return {
            "delta1": dY,
            "dV1": dV,
            "dA1": dA,
            "dS1": dS,
            "dQ1": dQ,
            "dK1": dK,
            "dWq1": self.X.T @ dQ,
            "dWk1": self.X.T @ dK,
            "dWv1": self.X.T @ dV,
            "J_L_a0": dX.reshape(1, -1),
        }


def hand(exercise: Exercise) -> Hand:
    p = problem_of(exercise).params
    assert p.y is not None
    return Hand(
        p.x[..., 0], p["Wq1"], p["Wk1"], p["Wv1"], p["W3"], p["b3"], float(p.y.reshape(-1)[0])
    )


# --- the set ------------------------------------------------------------------------------


def test_the_set_asks_what_the_issue_lists() -> None:
    assert "attention" in SETS
    assert [q.name for q in EXERCISE.questions] == [
        "delta1",
        "dV1",
        "dA1",
        "dS1",
        "J_A1_S1_row2",
        "dWq1",
        "J_L_a0",
    ]
    shapes = {n: e.quantity.shape for n, e in KEY.items()}
    assert shapes == {
        "delta1": (3, 2),
        "dV1": (3, 2),
        "dA1": (3, 3),
        "dS1": (3, 3),
        "J_A1_S1_row2": (3, 3),
        "dWq1": (2, 2),
        "J_L_a0": (1, 6),
    }
    assert problem_of(EXERCISE).net.spec == "3x2: attention(2), flatten, dense(1), sigmoid"


def test_the_references_are_the_definitions() -> None:
    h = hand(EXERCISE)
    right = h.backward()
    for name in ("delta1", "dV1", "dA1", "dS1", "dWq1", "J_L_a0"):
        np.testing.assert_allclose(KEY[name].reference, right[name], *EXACT, err_msg=name)
    a2 = h.forward()["A"][1]
    np.testing.assert_allclose(KEY["J_A1_S1_row2"].reference, row_softmax_jacobian(a2), *EXACT)
    assert check(EXERCISE, solution_json(EXERCISE), time_limit=None).all_correct
    assert problems(EXERCISE.key) == []


def test_dwq_and_dx_agree_with_finite_differences_of_the_loss() -> None:
    h = hand(EXERCISE)
    for name, field in (("dWq1", "Wq"), ("J_L_a0", "X")):
        value = getattr(h, field)
        grad = np.zeros(value.size)
        for i in range(value.size):
            e = np.zeros(value.size)
            e[i] = STEP
            up = replace(h, **{field: value + e.reshape(value.shape)}).loss()
            down = replace(h, **{field: value - e.reshape(value.shape)}).loss()
            grad[i] = (up - down) / (2 * STEP)
        np.testing.assert_allclose(
            KEY[name].reference.reshape(-1), grad, *FINITE_DIFFERENCE, err_msg=name
        )


def test_intermediate_gradients_agree_with_the_chain_of_the_steps_jacobians() -> None:
    # the references of dV1, dA1, dS1, dQ1, dK1 come from the compact backward; the chain of
    # the Jacobian route's step Jacobians is a second, independent computation
    r = references(EXERCISE.problem)
    row = r["J_L_a1"]
    chains = {
        "dV1": row @ r["J_a1_V1"],
        "dA1": row @ r["J_a1_A1"],
        "dS1": row @ r["J_a1_A1"] @ r["J_A1_S1"],
        "dQ1": row @ r["J_a1_A1"] @ r["J_A1_S1"] @ r["J_S1_Q1"],
        "dK1": row @ r["J_a1_A1"] @ r["J_A1_S1"] @ r["J_S1_K1"],
    }
    for name, chain in chains.items():
        np.testing.assert_allclose(r[name].reshape(1, -1), chain, *EXACT, err_msg=name)


def test_variants_differ_by_seed_and_the_cli_names_them() -> None:
    other = attention(5)
    assert [q.name for q in other.questions] == [q.name for q in EXERCISE.questions]
    assert not np.allclose(other.key.entries["dS1"].reference, KEY["dS1"].reference)
    assert problems(other.key) == []
    assert new("attention", 5).key.entries["dWq1"].reference.tolist() == (
        other.key.entries["dWq1"].reference.tolist()
    )


# --- the mistakes ---------------------------------------------------------------------------


CHANGES = {
    "scale_forgotten": ("dWq1", "J_L_a0"),
    "softmax_over_columns": ("dS1", "dWq1", "J_L_a0"),
    "softmax_diagonal_only": ("dS1", "dWq1", "J_L_a0"),
    "dk_not_transposed": ("J_L_a0",),
    "one_path_into_dx": ("J_L_a0",),
}


def test_every_attention_mistake_has_its_sentence() -> None:
    assert tuple(Attention.mistakes) == MISTAKE_IDS
    for mistake in MISTAKE_IDS:
        assert MISTAKES[mistake] == Attention.mistakes[mistake]


@pytest.mark.parametrize("mistake", MISTAKE_IDS)
def test_each_mistake_is_named_where_it_shows(mistake: str) -> None:
    h = hand(EXERCISE)
    wrong = h.backward(mistake)
    right = h.backward()
    answers = {name: wrong[name].tolist() for name in CHANGES[mistake]}
    got = verdicts(EXERCISE, answers)
    assert got == {name: ("incorrect", mistake) for name in CHANGES[mistake]}
    report = check(EXERCISE, answers, time_limit=None)
    for r in report.results:
        if r.name in answers:
            assert r.message.startswith(MISTAKES[mistake])
            assert "in the attention(2) of layer 1 (a[1])" in r.message
    unchanged = [n for n in ("dV1", "dA1", "dS1", "dWq1") if n not in CHANGES[mistake]]
    for name in unchanged:  # the mistake leaves these right: the right answer is not it
        np.testing.assert_allclose(wrong[name], right[name], *EXACT)
        assert verdicts(EXERCISE, {name: wrong[name].tolist()})[name] == ("correct", None)


def test_the_softmax_block_taken_as_its_diagonal_term_only() -> None:
    a2 = hand(EXERCISE).forward()["A"][1]
    got = verdicts(EXERCISE, {"J_A1_S1_row2": np.diag(a2).tolist()})
    assert got == {"J_A1_S1_row2": ("incorrect", "softmax_diagonal_only")}
    # the block is symmetric: its transpose is right, not a mistake
    block = KEY["J_A1_S1_row2"].reference
    assert verdicts(EXERCISE, {"J_A1_S1_row2": block.T.tolist()})["J_A1_S1_row2"][0] == "correct"


def test_dk_wk_and_the_steps_jacobians_name_their_mistakes() -> None:
    # the same values, asked what the set does not ask: dK1, dWk1, dQ1 and the steps'
    # Jacobians, each mistaken one written here from its definition
    questions = tuple(
        Question(n, form="numeric")
        for n in ("dK1", "dWk1", "dQ1", "J_A1_S1", "J_S1_K1", "J_S1_Q1", "J_A1_S1_row1")
    )
    exercise = Exercise("steps", EXERCISE.problem, questions, "custom")
    assert problems(exercise.key) == []
    h = hand(exercise)
    f = h.forward()
    Q, K, A, T, root = f["Q"], f["K"], f["A"], 3, h.root
    wrong = h.backward("dk_not_transposed")
    assert verdicts(exercise, {"dK1": wrong["dK1"].tolist(), "dWk1": wrong["dWk1"].tolist()}) == {
        "dK1": ("incorrect", "dk_not_transposed"),
        "dWk1": ("incorrect", "dk_not_transposed"),
    }
    scaled = h.backward("scale_forgotten")
    assert verdicts(exercise, {"dQ1": scaled["dQ1"].tolist()})["dQ1"] == (
        "incorrect",
        "scale_forgotten",
    )
    by_columns = np.zeros((T * T, T * T))  # ∂vec(A)/∂vec(S) with one block per column
    for j in range(T):
        idx = np.arange(T) * T + j
        by_columns[np.ix_(idx, idx)] = row_softmax_jacobian(A[:, j])
    S_K_untransposed = np.kron(np.eye(T), Q) / root  # S = Q K: ∂vec(S)/∂vec(K) = I ⊗ Q
    answers: dict[str, object] = {
        "J_A1_S1": np.diag(A.reshape(-1)).tolist(),
        "J_S1_K1": S_K_untransposed.tolist(),
        "J_S1_Q1": np.kron(np.eye(T), K).tolist(),  # no 1/√d_k
        "J_A1_S1_row1": np.diag(A[0]).tolist(),
    }
    assert verdicts(exercise, answers) == {
        "J_A1_S1": ("incorrect", "softmax_diagonal_only"),
        "J_S1_K1": ("incorrect", "dk_not_transposed"),
        "J_S1_Q1": ("incorrect", "scale_forgotten"),
        "J_A1_S1_row1": ("incorrect", "softmax_diagonal_only"),
    }
    got = verdicts(exercise, {"J_A1_S1": by_columns.tolist()})
    assert got == {"J_A1_S1": ("incorrect", "softmax_over_columns")}


def test_right_and_random_answers_are_not_taken_for_a_mistake() -> None:
    rng = np.random.default_rng(7)
    for name, entry in KEY.items():
        assert verdicts(EXERCISE, {name: entry.reference.tolist()})[name] == ("correct", None)
        for _ in range(5):
            wrong = rng.standard_normal(entry.reference.shape)
            q = entry.question
            if any(
                c.value.shape == wrong.shape and close(wrong, c.value, q.rtol, q.atol).all()
                for c in entry.candidates
            ):
                continue
            assert verdicts(EXERCISE, {name: wrong.tolist()})[name] == ("incorrect", None)
    for name, entry in KEY.items():  # each candidate is named as itself, and only as itself
        for c in entry.candidates:
            got = verdicts(EXERCISE, {name: answer_form(c.value)})[name]
            assert got == ("incorrect", c.model.mistake), (name, c.model.mistake)


def test_formulas_are_graded_and_a_later_gradient_is_not_allowed() -> None:
    answers = {
        "dV1": "A1.T @ delta1",
        "dA1": "delta1 @ V1.T",
        "dS1": "A1 * (dA1 - (dA1 * A1) @ ones(3, 1))",
        "dWq1": "x.T @ dQ1",
        "J_L_a0": "vec(dQ1 @ Wq1.T + dK1 @ Wk1.T + dV1 @ Wv1.T).T",
    }
    got = verdicts(EXERCISE, answers)
    assert got == {name: ("correct", None) for name in answers}
    wrong = {"dS1": "A1 * dA1", "J_L_a0": "vec(dQ1 @ Wq1.T).T", "dWq1": "x.T @ dQ1 * 2 ** 0.5"}
    assert verdicts(EXERCISE, wrong) == {
        "dS1": ("incorrect", "softmax_diagonal_only"),
        "J_L_a0": ("incorrect", "one_path_into_dx"),
        "dWq1": ("incorrect", "scale_forgotten"),
    }
    report = check(EXERCISE, {"dS1": "dQ1 @ K1.T"}, time_limit=None)
    result = next(r for r in report.results if r.name == "dS1")
    assert result.verdict == "invalid" and "may not be written with dQ1" in result.message


# --- the network set on sequences -----------------------------------------------------------


@pytest.mark.parametrize(
    ("layers", "input_shape"),
    [
        ("attention(2), flatten, dense(1), sigmoid", "2x2"),
        ("embedding(5, 2), attention(2, causal=true), flatten, dense(1), sigmoid", "3"),
        ("residual(attention(2)), flatten, dense(1), sigmoid", "2x2"),
    ],
)
def test_the_network_set_takes_attention_networks(layers: str, input_shape: str) -> None:
    # it crashed: the steps' Jacobians (J_a1_A1, J_A1_S1, …) were not quantities
    exercise = network_exercise(layers=layers, input_shape=input_shape, loss="bce")
    problem = problem_of(exercise)
    table = quantities(problem)
    refs = references(problem)
    for name, shape in jacobian_shapes(problem.net, first_input=True).items():
        assert table[name].shape == shape and refs[name].shape == shape, name
    node = next(n for n in problem.net.all_nodes if n.kind.name == "attention")
    names = [q.name for q in exercise.questions]
    assert {f"d{t}{node.label}" for t in "ASVKQ"} <= set(names)
    assert check(exercise, solution_json(exercise), time_limit=None).all_correct
    assert problems(exercise.key) == []


def test_the_network_set_takes_an_embedding_and_names_the_path_into_the_table() -> None:
    exercise = network_exercise(
        layers="embedding(5, 2), attention(2), flatten, dense(1), sigmoid",
        input_shape="3",
        loss="bce",
        seed=1,
    )
    names = [q.name for q in exercise.questions]
    assert "J_L_a0" not in names and "J_a1_a0" not in names  # token ids: no gradient
    assert "J_L_a0" not in quantities(exercise.problem)
    assert check(exercise, solution_json(exercise), time_limit=None).all_correct
    params = problem_of(exercise).params
    assert params.y is not None
    ids = params.x[:, 0].astype(int)
    X = params["E1"][ids]
    y = float(params.y.reshape(-1)[0])
    h = Hand(X, params["Wq2"], params["Wk2"], params["Wv2"], params["W4"], params["b4"], y)
    dX = h.backward("one_path_into_dx")["J_L_a0"].reshape(X.shape)
    dE = np.zeros_like(params["E1"])
    for t, token in enumerate(ids):  # the table's rows gather the tokens' gradients
        dE[token] += dX[t]
    assert verdicts(exercise, {"dE1": dE.tolist()}) == {"dE1": ("incorrect", "one_path_into_dx")}


def test_a_causal_network_exercise_is_consistent() -> None:
    exercise = network_exercise(
        layers="attention(2, causal=true), flatten, dense(1)", input_shape="3x2", loss="mse"
    )
    assert problems(exercise.key) == []
    assert check(exercise, solution_json(exercise), time_limit=None).all_correct
    net = Network.from_layers("attention(2, causal=true), flatten, dense(1)", "3x2", "mse")
    assert problem_of(exercise).net == net


# --- the command line -----------------------------------------------------------------------


def test_cli_writes_solves_and_checks_the_attention_set(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["exercises", "list"]) == 0
    assert "attention" in capsys.readouterr().out
    out = tmp_path / "a.toml"
    assert main(["exercises", "new", "attention", "--seed", "3", "-o", str(out)]) == 0
    assert capsys.readouterr().out == f"wrote {out} (7 questions)\n"
    assert 'layers = "attention(2), flatten, dense(1), sigmoid"' in out.read_text()
    assert "variant = 3" in out.read_text()
    key = tmp_path / "key.json"
    assert main(["exercises", "solve", str(out), "--json"]) == 0
    key.write_text(capsys.readouterr().out)
    assert main(["check", str(out), str(key)]) == 0
    assert "score: 7 of 7" in capsys.readouterr().out
    answers = tmp_path / "answers.toml"
    answers.write_text('dS1 = "A1 * dA1"\nJ_L_a0 = "vec(dQ1 @ Wq1.T).T"\n')
    assert main(["check", str(out), str(answers)]) == 1
    text = capsys.readouterr().out
    assert "only the diag(a_t) term of the softmax Jacobian" in text
    assert "only one of the three paths into dX" in text


def test_the_exercises_page_attention_answers_are_right() -> None:
    import re
    import tomllib

    page = (Path(__file__).resolve().parent.parent / "docs" / "exercises.md").read_text()
    blocks = re.findall(r"^```toml\n(.*?)^```$", page, flags=re.S | re.M)
    block = next(b for b in blocks if b.startswith("# attention-answers.toml"))
    answers = tomllib.loads(block)
    assert verdicts(EXERCISE, answers) == dict.fromkeys(answers, ("correct", None))
    for mistake in MISTAKE_IDS:
        assert f"| `{mistake}` |" in page
