"""The column-major flattening (``--vec column``, :mod:`jacobians.columnvec`).

Laws checked, against references independent of the code under test:

- ``∂z/∂vec_col(W) = aᵀ ⊗ I_n`` equals central differences of ``z = W a + b`` taken with
  respect to ``W`` flattened in Fortran order (one column per entry, by a loop here), and
  equals the row-major Jacobian times the commutation ``K`` (``K vec_col(W) = vec(W)``, built
  entry by entry by a naive loop): ``J_col = J_row K``;
- the batch's ``∂vec_col(Z)/∂vec_col(W) = Aᵀ ⊗ I_n`` equals central differences of
  ``vec_col(W A + b 1ᵀ)``;
- ``dW`` by the column route equals the row route's and the vectorized ``δ aᵀ``, for every
  representation, strategy and order (hypothesis over architectures and batches);
- the CLI names the convention, ``--json`` records it, ``--vec row`` changes nothing, and the
  refusals exit 2 with their message;
- ``derive --vec column``: every statement holds, and a wrong column Jacobian (``I ⊗ aᵀ`` with
  the Fortran reshape) is refuted.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings

from jacobians.backprop import vectorized_route
from jacobians.batchchain import batch_jacobians, batch_route
from jacobians.chains import example_jacobians, jacobian_route
from jacobians.cli import main
from jacobians.comparison import compare
from jacobians.errors import InvalidValueError, UnknownNameError
from jacobians.network import Network, forward
from jacobians.parameters import Parameters, init_parameters
from jacobians.structured import KronTransposeIdentity

from .commands import run
from .strategies import problems
from .tolerances import EXACT, FINITE_DIFFERENCE, STEP

ARCHITECTURES = [
    ("3-4-2-1", "relu,relu,sigmoid", "bce"),
    ("2-3-3", "tanh,softmax", "ce"),
    ("4-2-3", "sigmoid,identity", "mse"),
    ("3-3-2-2", "softplus,leaky_relu,square", "sum"),
    ("1-2-1", "tanh,sigmoid", "bce"),
]


def close(a: np.ndarray, b: np.ndarray, tol: tuple[float, float]) -> bool:
    rtol, atol = tol
    scale = max(float(np.max(np.abs(a))), float(np.max(np.abs(b))), 0.0)
    return float(np.max(np.abs(a - b))) <= rtol * scale + atol


def fortran_differences(
    f: Callable[[np.ndarray], np.ndarray], W: np.ndarray, h: float = STEP
) -> np.ndarray:
    """``∂f/∂vec_col(W)`` by central differences: column ``k·n + i`` perturbs ``W[i, k]``."""
    n, m = W.shape
    columns = []
    for c in range(n * m):
        i, k = c % n, c // n
        up, down = W.copy(), W.copy()
        up[i, k] += h
        down[i, k] -= h
        columns.append((f(up) - f(down)) / (2 * h))
    return np.stack(columns, axis=1)


def commutation(n: int, m: int) -> np.ndarray:
    """``K`` with ``K vec_col(W) = vec(W)`` for ``W`` of ``n × m``, entry by entry: row
    ``i·m + k`` of ``vec(W)`` is entry ``k·n + i`` of ``vec_col(W)``."""
    K = np.zeros((n * m, n * m))
    for i in range(n):
        for k in range(m):
            K[i * m + k, k * n + i] = 1.0
    return K


def setup(spec: tuple[str, str, str], batch: int = 1, seed: int = 4) -> tuple[Network, Parameters]:
    net = Network.from_spec(*spec)
    return net, init_parameters(net, seed, batch)


@pytest.mark.parametrize("spec", ARCHITECTURES)
def test_column_jacobian_is_finite_differences_in_fortran_order(
    spec: tuple[str, str, str],
) -> None:
    net, params = setup(spec, batch=2)
    cache = forward(net, params)
    for i in range(params.batch):
        jac = example_jacobians(net, params, cache, i, "dense", vec="column")
        for l in net.layers():
            W, b = params.values[f"W{l}"], params.values[f"b{l}"]
            a = cache.values[f"a{l - 1}"][:, i]
            reference = fortran_differences(lambda V, a=a, b=b: V @ a + b, W)
            J = jac[f"J_z{l}_W{l}"]
            assert J.shape == (W.shape[0], W.size)
            assert close(J, reference, FINITE_DIFFERENCE)


@pytest.mark.parametrize("spec", ARCHITECTURES)
@pytest.mark.parametrize("representation", ["dense", "sparse", "structured"])
def test_column_jacobian_is_the_row_one_times_the_commutation(
    spec: tuple[str, str, str], representation: str
) -> None:
    net, params = setup(spec)
    cache = forward(net, params)
    col = example_jacobians(net, params, cache, 0, representation, vec="column")
    row = example_jacobians(net, params, cache, 0, "dense")
    for l in net.layers():
        n, m = net.weight_shape(l)
        name = f"J_z{l}_W{l}"
        J = col[name]
        dense = (
            J.dense()
            if representation == "structured"
            else np.asarray(J.todense())
            if (representation == "sparse")
            else J
        )
        assert np.array_equal(dense, row[name] @ commutation(n, m))
        a = cache.values[f"a{l - 1}"][:, 0]
        assert np.array_equal(dense, np.kron(a.reshape(1, -1), np.eye(n)))
        for other in (f"J_z{l}_b{l}", f"J_a{l}_z{l}"):  # between vectors: the same matrices
            value = col[other]
            value = value.dense() if representation == "structured" else value
            value = np.asarray(value.todense()) if representation == "sparse" else value
            assert np.array_equal(value, row[other])


@pytest.mark.parametrize("spec", ARCHITECTURES)
def test_batch_column_jacobian_is_finite_differences_of_vec_col_z(
    spec: tuple[str, str, str],
) -> None:
    net, params = setup(spec, batch=3)
    cache = forward(net, params)
    jac = batch_jacobians(net, params, "dense", vec="column")
    for l in net.layers():
        W, b = params.values[f"W{l}"], params.values[f"b{l}"]
        A = cache.values[f"a{l - 1}"]

        def z_col(V: np.ndarray, A: np.ndarray = A, b: np.ndarray = b) -> np.ndarray:
            return (V @ A + b[:, None]).reshape(-1, order="F")

        reference = fortran_differences(z_col, W)
        J = jac[f"J_z{l}_W{l}"]
        assert close(J, reference, FINITE_DIFFERENCE)
        if l > 1:  # ∂vec_col(Z)/∂vec_col(A) = I_B ⊗ W, by differences in A too
            J_in = jac[f"J_z{l}_a{l - 1}"]
            ref_in = fortran_differences(
                lambda X, W=W, b=b: (W @ X + b[:, None]).reshape(-1, order="F"), A
            )
            assert close(J_in, ref_in, FINITE_DIFFERENCE)


def test_kron_transpose_identity_representations_agree() -> None:
    rng = np.random.default_rng(0)
    A, n = rng.standard_normal((3, 4)), 2
    J = KronTransposeIdentity(A, n)
    naive = np.zeros((n * 4, 3 * n))  # row b·n + i, column k·n + i holds A[k, b]
    for b in range(4):
        for i in range(n):
            for k in range(3):
                naive[b * n + i, k * n + i] = A[k, b]
    assert J.shape == naive.shape
    assert np.array_equal(J.dense(), naive)
    assert np.array_equal(J.sparse().toarray(), naive)
    v = rng.standard_normal((2, n * 4))
    assert close(J.vjp(v), v @ naive, EXACT)


@settings(max_examples=40, deadline=None)
@given(problems(max_depth=3, max_width=4, max_batch=4))
def test_column_route_gives_the_same_gradients(problem: tuple[Network, Parameters]) -> None:
    net, params = problem
    vectorized = vectorized_route(net, params)
    row = jacobian_route(net, params, "reverse", "dense")
    for representation, strategy, order in [
        ("dense", "examples", "reverse"),
        ("dense", "batch", "forward"),
        ("sparse", "examples", "optimal"),
        ("structured", "batch", "reverse"),
        ("structured", "examples", "forward"),
    ]:
        col = jacobian_route(net, params, order, representation, strategy=strategy, vec="column")
        assert col.vec == "column"
        for name, value in vectorized.gradients.items():
            assert col.gradients[name].shape == value.shape
            assert close(col.gradients[name], value, EXACT)
            assert close(col.gradients[name], row.gradients[name], EXACT)
        for name, value in vectorized.deltas.items():
            assert close(col.deltas[name], value, EXACT)


@pytest.mark.parametrize("spec", ARCHITECTURES)
def test_column_dw_is_delta_a_transposed(spec: tuple[str, str, str]) -> None:
    """dW from the column route against ``(1/B) Δ Aᵀ`` built here from the routes' deltas and
    the forward values."""
    net, params = setup(spec, batch=3)
    cache = forward(net, params)
    route = jacobian_route(net, params, "reverse", "structured", strategy="batch", vec="column")
    vectorized = vectorized_route(net, params)
    for l in net.layers():
        Delta = vectorized.deltas[f"delta{l}"]
        outer = Delta @ cache.values[f"a{l - 1}"].T / params.batch
        assert close(route.gradients[f"dW{l}"], outer, EXACT)
    assert batch_route(net, params, vec="column").keys() == vectorized.gradients.keys()


def test_compare_records_the_vec_and_agrees() -> None:
    net, params = setup(ARCHITECTURES[0], batch=2)
    result = compare(net, params, vec="column")
    assert result.agree and result.jacobian.vec == "column"
    assert compare(net, params).jacobian.vec == "row"


def test_api_refusals() -> None:
    net, params = setup(ARCHITECTURES[0])
    with pytest.raises(UnknownNameError, match="vec: expected one of column, row, got 'rows'"):
        compare(net, params, vec="rows")
    conv = Network.from_layers("conv2d(1, 2), relu, flatten, dense(1), sigmoid", "1x3x3")
    conv_params = init_parameters(conv, 1, 1)
    with pytest.raises(InvalidValueError, match="vec: expected a dense network for --vec column"):
        jacobian_route(conv, conv_params, vec="column")


def test_cli_compare_names_the_convention(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "compare", "--vec", "column", "--batch", "2")
    assert code == 0
    assert "vec: column-major (Magnus–Neudecker)" in out
    assert "Fortran order" in out
    assert "J_z2_W2       2×8   a[1]ᵀ ⊗ I_2 (column-major vec)" in out
    assert "I_2 ⊗ a[1]ᵀ" not in out
    assert out.rstrip().endswith("the three routes agree")


def test_cli_compare_json_has_vec(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "compare", "--vec", "column", "--json", "--batch", "3", "--jacobians", "structured"
    )
    data = json.loads(out)
    assert code == 0 and data["vec"] == "column" and data["agree"]
    assert data["strategy"] == "batch"
    assert any("Aᵀ ⊗ I, examples one after the other" in n for n in data["notes"])
    code, out, _ = run(capsys, "compare", "--json", "--batch", "3", "--jacobians", "structured")
    row = json.loads(out)
    assert "vec" not in row
    assert row["jacobian"].keys() == data["jacobian"].keys()
    for name, value in row["jacobian"].items():
        assert close(np.array(data["jacobian"][name]), np.array(value), EXACT)


@pytest.mark.parametrize(
    "argv",
    [
        ["compare"],
        ["compare", "--batch", "2", "--json"],
        ["compare", "--sizes", "2-3-3", "--activations", "tanh,softmax", "--loss", "ce"],
        ["derive", "--sizes", "2-2-1", "--param", "W"],
        ["derive", "--general"],
    ],
)
def test_vec_row_changes_nothing(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    default = run(capsys, *argv)
    explicit = run(capsys, *argv, "--vec", "row")
    assert default == explicit and default[0] == 0


@pytest.mark.parametrize(
    ("argv", "text"),
    [
        (
            ["compare", "--vec", "column", "--layout", "row"],
            "jacobians compare: error: --vec column: not with --layout row",
        ),
        (
            [
                "compare",
                "--vec",
                "column",
                "--layers",
                "conv2d(1, 2), relu, flatten, dense(1), sigmoid",
                "--input",
                "1x3x3",
            ],
            "jacobians compare: error: vec: expected a dense network for --vec column",
        ),
        (
            [
                "derive",
                "--vec",
                "column",
                "--layers",
                "conv2d(1, 2), relu, flatten, dense(1)",
                "--input",
                "1x3x3",
            ],
            "use --vec row (the default)",
        ),
        (["compare", "--vec", "diagonal"], "argument --vec: invalid choice: 'diagonal'"),
    ],
)
def test_cli_refusals(capsys: pytest.CaptureFixture[str], argv: list[str], text: str) -> None:
    if argv[-1] == "diagonal":
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        code, err = exit_info.value.code, capsys.readouterr().err
    else:
        code, _, err = run(capsys, *argv)
    assert code == 2
    assert text in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "spec", [ARCHITECTURES[0], ARCHITECTURES[1], ("2-2-2", "leaky_relu,sigmoid", "mse")]
)
def test_derive_column_every_statement_holds(spec: tuple[str, str, str]) -> None:
    from derivations.derive import derive

    net = Network.from_spec(*spec)
    derivations = derive(net, params=("W", "b", "delta"), vec="column")
    assert derivations and all(d.holds for d in derivations)
    text = "".join(d.render("unicode") for d in derivations)
    assert "FAILS" not in text
    assert "= a[1]ᵀ ⊗ I_" in text and "Column-major (Fortran order)" in text
    assert all(d.render("latex").isascii() for d in derivations)


def test_derive_column_factor_is_derived_by_sympy() -> None:
    """The derived ``∂z/∂vec_col(W)`` against the Kronecker product written out by a loop."""
    from derivations.chains import jacobians
    from derivations.network import SymbolicNetwork

    sn = SymbolicNetwork(Network.from_spec("3-2-2", "tanh,identity", "mse"), vec="column")
    jac = jacobians(sn)
    for l in (1, 2):
        n, m = sn.net.weight_shape(l)
        a = sn.a[l - 1]
        expected = sp.zeros(n, n * m)
        for k in range(m):
            for i in range(n):
                expected[i, k * n + i] = a[k]
        assert jac[f"J_z{l}_W{l}"] == expected


def test_derive_refutes_a_wrong_column_jacobian() -> None:
    from derivations.chains import jacobians, prove
    from derivations.derive import derive_layer
    from derivations.network import SymbolicNetwork

    net = Network.from_spec("3-2-2", "tanh,identity", "mse")
    sn = SymbolicNetwork(net, vec="column")
    jac = jacobians(sn)
    assert all(c.holds for c in prove(sn, jac))
    n = net.weight_shape(1)[0]
    wrong = sp.Matrix(sp.BlockDiagMatrix(*[sn.a[0].T] * n))  # I ⊗ aᵀ: the row-major factor
    assert wrong.shape == jac["J_z1_W1"].shape and wrong != jac["J_z1_W1"]
    broken = {**jac, "J_z1_W1": wrong}
    claims = {(c.layer, c.param): c.holds for c in prove(sn, broken)}
    assert claims[(1, "W")] is False
    assert claims[(1, "b")] and claims[(2, "W")]
    derivation = derive_layer(sn, broken, prove(sn, broken), 1, "W")
    assert not derivation.holds
    assert "FAILS ✗" in derivation.render("unicode")


def test_general_column_holds(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "derive", "--general", "--vec", "column")
    assert code == 0
    assert "∂z/∂vec_col(W) = aᵀ ⊗ I_n" in out and "(q − 1)·n + p" in out
    assert "FAILS" not in out
