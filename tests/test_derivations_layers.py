"""The symbolic derivations of networks of layers (derivations.layers): the proofs hold over a
table of convolution settings and are refuted for wrong compact formulas; every derived
Jacobian, at the numbers of a seeded example, is the numeric package's; sympy's own derivative
of the composed network equals the chain; the printouts carry the labels and the shapes.

The references are independent of the code under test: the numeric package
(``example_jacobians``, ``vectorized_route``), the loop implementations of
``tests/references.py``, sympy differentiating the composed loss, and matrices written out
here entry by entry from the index rules.
"""

from __future__ import annotations

import re
from itertools import product

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import derivations.layers.conv2d as conv2d
from derivations.functions import NUMPY
from derivations.layers import (
    MAX_ENTRIES,
    MAX_PARAMETERS,
    SymbolicModel,
    compact_route,
    derive_network,
    jacobians,
    prove_network,
    structure_checks,
)
from derivations.layers.base import Gradients, zeros
from derivations.layers.chains import rows_to_outputs
from derivations.layers.pool import MaxPool
from jacobians.backprop import vectorized_route
from jacobians.chains import example_jacobians
from jacobians.errors import InvalidValueError, UnknownNameError
from jacobians.network import Network, forward
from jacobians.parameters import Parameters, init_parameters

from .references import conv_forward, conv_input_jacobian, im2row
from .tolerances import EXACT

SHOWCASE = ("conv2d(1, 2), relu, maxpool(2), flatten, dense(1), sigmoid", "1x3x3", "bce")
TWO_CHANNELS = ("conv2d(2, 2), relu, flatten, dense(1), sigmoid", "1x3x3", "bce")

# (layers, input, loss): kernel 1–2, stride 1–2, padding 0–1, channels 1–2, max and average
# pooling, with and without a dense head, two convolutions in a row
SETTINGS = [
    SHOWCASE,
    TWO_CHANNELS,
    ("conv2d(2, 1, stride=2), tanh", "2x3x3", "mse"),
    ("conv2d(1, 2, padding=1), avgpool(2)", "1x3x3", "sum"),
    ("conv2d(2, 2, stride=2, padding=1), relu, flatten, dense(2), softmax", "2x3x3", "ce"),
    ("conv2d(2, 2), square, maxpool(2, stride=1), flatten, dense(1)", "1x4x4", "mse"),
    (
        "conv2d(1, 2), leaky_relu(0.2), conv2d(2, 2), softplus, avgpool(2), flatten, dense(1), "
        "sigmoid",
        "1x4x4",
        "bce",
    ),
    ("conv2d(2, 1), identity, maxpool(2), flatten, dense(2), tanh", "1x4x4", "sum"),
]
IDS = [f"{spec} on {shape}" for spec, shape, _ in SETTINGS]


def _net(setting: tuple[str, str, str]) -> Network:
    return Network.from_layers(*setting)


# --- the proofs ----------------------------------------------------------------------------------


@pytest.mark.parametrize("setting", SETTINGS, ids=IDS)
def test_every_proof_holds(setting: tuple[str, str, str]) -> None:
    model = SymbolicModel(_net(setting))
    jac = jacobians(model)
    claims = prove_network(model, jac)
    parametric = [n for n in model.net.nodes if n.kind.roles]
    assert len(claims) == 4 * len(parametric)
    assert all(c.holds for c in claims), [c.statement for c in claims if not c.holds]
    # and every derived Jacobian equals the matrix its index rule builds
    checks = structure_checks(model, jac)
    assert all(c.holds for c in checks.values()), [c.name for c in checks.values() if not c.holds]


@settings(max_examples=6)
@given(
    channels=st.integers(1, 2),
    out_channels=st.integers(1, 2),
    size=st.integers(2, 4),
    kernel=st.integers(1, 2),
    stride=st.integers(1, 2),
    padding=st.integers(0, 1),
)
def test_proofs_hold_for_random_convolutions(
    channels: int, out_channels: int, size: int, kernel: int, stride: int, padding: int
) -> None:
    spec = f"conv2d({out_channels}, {kernel}, stride={stride}, padding={padding}), tanh"
    model = SymbolicModel(Network.from_layers(spec, f"{channels}x{size}x{size}", "mse"))
    assert all(c.holds for c in prove_network(model, params=("W", "b", "input")))


def _refuted(setting: tuple[str, str, str], param: str) -> list[tuple[int, str]]:
    model = SymbolicModel(_net(setting))
    return [(c.layer, c.param) for c in prove_network(model, params=(param,)) if not c.holds]


def test_an_unflipped_kernel_is_refuted(monkeypatch: pytest.MonkeyPatch) -> None:
    # channels swapped but each k × k slice not turned by 180°: the input gradient is wrong
    monkeypatch.setattr(conv2d, "flip", lambda K: np.ascontiguousarray(K.transpose(1, 0, 2, 3)))
    assert _refuted(TWO_CHANNELS, "input") == [(1, "input")]
    (d,) = derive_network(_net(TWO_CHANNELS), ("input",))[1:]
    assert not d.holds and "FAILS ✗" in d.unicode()


def test_a_kernel_turned_but_channels_not_swapped_is_refuted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def turned_only(K: np.ndarray) -> np.ndarray:  # W[c, o, …] read as W[o, c, …]
        out = np.empty(K.shape, dtype=object)
        k = K.shape[-1]
        for o, c, u, v in product(*(range(n) for n in K.shape)):
            out[o, c, u, v] = K[o, c, k - 1 - u, k - 1 - v]
        return out

    monkeypatch.setattr(conv2d, "flip", turned_only)
    assert _refuted(("conv2d(2, 2), tanh", "2x3x3", "mse"), "input") == [(1, "input")]


def test_padding_not_cropped_is_refuted(monkeypatch: pytest.MonkeyPatch) -> None:
    # the gradient of the padded input cut at its top-left corner instead of p in from each side
    def corner(G: np.ndarray, padding: int, size: tuple[int, int]) -> np.ndarray:
        return np.asarray(G[:, : size[0], : size[1]], dtype=object)

    monkeypatch.setattr(conv2d, "crop", corner)
    assert _refuted(("conv2d(1, 2, padding=1), avgpool(2)", "1x3x3", "sum"), "input") == [
        (1, "input")
    ]
    # with p = 0 the corner is the whole: nothing to refute, and the proof still holds
    assert _refuted(TWO_CHANNELS, "input") == []


def test_channels_swapped_in_dW_are_refuted(monkeypatch: pytest.MonkeyPatch) -> None:
    right = conv2d.weight_gradient

    def swapped(D: np.ndarray, U: sp.Matrix, shape: tuple[int, ...]) -> np.ndarray:
        return np.ascontiguousarray(right(D, U, shape).transpose(1, 0, 2, 3))

    monkeypatch.setattr(conv2d, "weight_gradient", swapped)
    assert _refuted(("conv2d(2, 2), tanh", "2x3x3", "mse"), "W") == [(1, "W")]


def test_a_max_pool_routing_to_the_wrong_entry_is_refuted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(MaxPool, "backward", _route_to_corner)
    model = SymbolicModel(_net(SHOWCASE), {"argmax": (1, 1)})
    assert {(c.layer, c.param) for c in prove_network(model) if not c.holds} == {
        (1, "W"),
        (1, "b"),
        (1, "delta"),
        (1, "input"),
    }


def _route_to_corner(
    self: MaxPool, a: np.ndarray, out: np.ndarray, params: object, g: np.ndarray
) -> Gradients:
    back = zeros(a.shape)
    for w in self.windows():
        back[self.entries(w)[0]] += g[w]  # the top-left entry, whatever the assumption says
    return Gradients(back)


# --- the numbers of a seeded example -------------------------------------------------------------


def _values(model: SymbolicModel, params: Parameters) -> dict[sp.Symbol, float]:
    net = model.net
    cache = forward(net, params)
    values: dict[sp.Symbol, float] = {}
    for name, tensor in model.tensors.items():
        values.update(zip(tensor.reshape(-1), cache.values[name][..., 0].reshape(-1), strict=True))
    for name, tensor in model.params.items():
        values.update(zip(tensor.reshape(-1), params[name].reshape(-1), strict=True))
    target = params.target(net)[..., 0].reshape(-1)
    values.update(zip(model.y.reshape(-1), target, strict=True))
    return values


def _evaluate(expr: sp.Matrix, values: dict[sp.Symbol, float]) -> np.ndarray:
    symbols = sorted(values, key=str)
    f = sp.lambdify(symbols, expr, modules=[NUMPY, "numpy"])
    return np.asarray(f(*(values[s] for s in symbols)), dtype=float)


@pytest.mark.parametrize("setting", SETTINGS, ids=IDS)
def test_symbolic_jacobians_equal_numeric(setting: tuple[str, str, str]) -> None:
    net, seed = _net(setting), 3
    params = init_parameters(net, seed)
    model = SymbolicModel(net, {"seed": seed})  # max pooling assumes this example's argmax
    symbolic = jacobians(model)
    numeric = example_jacobians(net, params, forward(net, params), 0, "dense", first_input=True)
    assert set(symbolic) == set(numeric)
    values = _values(model, params)
    rtol, atol = EXACT
    for name, J in symbolic.items():
        np.testing.assert_allclose(_evaluate(J, values), numeric[name], rtol, atol, err_msg=name)
    # the compact formulas, too, against the numeric package's compact route
    compact = compact_route(model)
    gradients = vectorized_route(net, params).gradients
    for name, tensor in compact.params.items():
        got = _evaluate(sp.Matrix(list(tensor.reshape(-1))), values).reshape(tensor.shape)
        np.testing.assert_allclose(got, gradients[f"d{name}"], rtol, atol, err_msg=name)


def test_the_default_max_pool_assumption_at_a_point_where_it_holds() -> None:
    # the default assumption is the top-left entry of every window; find a seeded example
    # where that entry is the strict maximum, and compare the Jacobians there
    net = _net(SHOWCASE)
    model = SymbolicModel(net)
    symbolic = jacobians(model)
    for seed in range(100):
        params = init_parameters(net, seed)
        a1 = forward(net, params).values["a1"][0, :, :, 0]
        if a1[0, 0] > max(a1[0, 1], a1[1, 0], a1[1, 1]):
            break
    else:
        pytest.fail("no seed below 100 puts the maximum top-left")
    numeric = example_jacobians(net, params, forward(net, params), 0, "dense", first_input=True)
    values = _values(model, params)
    for name, J in symbolic.items():
        np.testing.assert_allclose(_evaluate(J, values), numeric[name], *EXACT, err_msg=name)
    assert symbolic["J_a2_a1"] == sp.Matrix([[1, 0, 0, 0]])


@pytest.mark.parametrize(
    ("spec", "shape", "stride", "padding"),
    [("conv2d(2, 2)", "1x3x3", 1, 0), ("conv2d(2, 2, stride=2, padding=1)", "2x4x3", 2, 1)],
)
def test_local_map_and_factors_against_loop_references(
    spec: str, shape: str, stride: int, padding: int
) -> None:
    net = Network.from_layers(spec, shape, "sum")
    params = init_parameters(net, 5)
    model = SymbolicModel(net)
    values = _values(model, params)
    x, W, b = params.x[..., 0], params["W1"], params["b1"]
    z = _evaluate(sp.Matrix(list(model.local(0).reshape(-1))), values)
    np.testing.assert_allclose(z.reshape(-1), conv_forward(x, W, b, stride, padding).reshape(-1))
    jac = jacobians(model)
    k = W.shape[-1]
    U = im2row(x, k, stride, padding)
    node = net.nodes[0]  # no activation follows: the output is a[1]
    J_W, J_x = jac[node.jacobian_name("W")], jac[node.jacobian_name("input")]
    np.testing.assert_allclose(_evaluate(J_W, values), np.kron(np.eye(2), U))
    np.testing.assert_allclose(
        _evaluate(J_x, values), conv_input_jacobian(W, *x.shape, stride, padding)
    )


# --- sympy's own derivative of the composed network ----------------------------------------------

DIRECT = [
    TWO_CHANNELS,
    ("conv2d(2, 1, stride=2), tanh", "2x3x3", "mse"),
    ("conv2d(1, 2, padding=1), avgpool(2), flatten, dense(1), sigmoid", "1x3x3", "bce"),
]


def _same(chain: sp.Matrix, direct: sp.Matrix) -> bool:
    """``chain − direct`` is 0 as a rational function of its function applications: each
    distinct ``σ(…)``, ``H(…)``, ``relu(…)``, ``tanh(…)`` becomes a fresh symbol (the same one
    wherever it occurs), then ``sympy.cancel`` decides. Equal as a rational function of
    independent atoms is sufficient for equal; it keeps cancel fast on the nested arguments."""
    difference = chain - direct
    atoms = set().union(*(e.atoms(sp.Function) for e in difference))
    frozen = difference.xreplace({a: sp.Dummy() for a in atoms})
    return all(sp.cancel(e) == 0 for e in frozen)


def _direct(model: SymbolicModel, name: str, whole: sp.Expr) -> sp.Matrix:
    return sp.Matrix([[whole.diff(s) for s in model.params[name].reshape(-1)]])


@pytest.mark.parametrize("setting", DIRECT, ids=[s[0] for s in DIRECT])
def test_chain_equals_sympys_derivative_of_the_composed_network(
    setting: tuple[str, str, str],
) -> None:
    # substitute the layers into each other, let sympy differentiate L(W, b, x, y) directly,
    # and compare with the chain under the same substitution (decided symbolically, no numbers)
    model = SymbolicModel(_net(setting))
    composed = model.forward_substitution()
    whole = model.loss_expr().xreplace(composed)
    jac = jacobians(model)
    rows = rows_to_outputs(model, jac)
    for j, node in enumerate(model.net.nodes):
        for role, name in node.parameters.items():
            chain = (rows[j] * jac[node.jacobian_name(role)]).xreplace(composed)
            assert _same(chain, _direct(model, name, whole)), (setting, name)


def test_the_direct_oracle_catches_a_convolution_for_a_correlation() -> None:
    # the kernel's window read backwards in ∂z/∂vec(W) (a true convolution, x[i + 1 − u, …]):
    # the composed network's derivative disagrees. (The transposed staircase would not do: with
    # a 2×2 kernel on a 3×3 input, U[(i, j), (u, v)] = x[i + u, j + v] is symmetric.)
    model = SymbolicModel(_net(TWO_CHANNELS))
    composed = model.forward_substitution()
    whole = model.loss_expr().xreplace(composed)
    jac = jacobians(model)
    backwards = [4 * o + 3 - t for o in range(2) for t in range(4)]
    assert jac["J_z1_W1"][:4, :4] == jac["J_z1_W1"][:4, :4].T
    jac["J_z1_W1"] = jac["J_z1_W1"][:, backwards]
    chain = (rows_to_outputs(model, jac)[0] * jac["J_z1_W1"]).xreplace(composed)
    assert not _same(chain, _direct(model, "W1", whole))


# --- the printouts -------------------------------------------------------------------------------


def test_the_staircase_and_the_toeplitz_matrix() -> None:
    model = SymbolicModel(_net(TWO_CHANNELS))
    jac = jacobians(model)
    x = model.tensors["a0"]
    # U written out from im2row's definition: row (i, j), column (u, v) holds x[0, i + u, j + v]
    U = sp.Matrix([[x[0, i + u, j + v] for u in range(2) for v in range(2)] for i in range(2)
                   for j in range(2)])  # fmt: skip
    staircase = sp.Matrix(sp.BlockDiagMatrix(U, U))
    assert jac["J_z1_W1"] == staircase and jac["J_z1_W1"].shape == (8, 8)
    assert jac["J_z1_b1"] == sp.Matrix(sp.BlockDiagMatrix(sp.ones(4, 1), sp.ones(4, 1)))
    T = jac["J_z1_a0"]
    assert T.shape == (8, 9)
    assert sum(1 for e in T if e != 0) == 8 * 4  # every output sees its k × k field
    W = model.params["W1"]
    assert list(T.row(0)) == [W[0, 0, 0, 0], W[0, 0, 0, 1], 0, W[0, 0, 1, 0], W[0, 0, 1, 1], 0,
                              0, 0, 0]  # fmt: skip


def test_derivations_render_in_every_format() -> None:
    ds = derive_network(_net(SHOWCASE))
    assert [d.title.split()[0] for d in ds] == ["dW[4]", "db[4]", "dW[1]", "db[1]"]
    assert all(d.holds for d in ds)
    d = ds[2]
    unicode = d.render("unicode")
    assert "∂z[1]/∂vec(W[1])" in unicode and "∂a[2]/∂a[1]" in unicode
    assert "\\" not in unicode and "{" not in unicode
    assert "(4 × 4)" in unicode  # the staircase U
    assert "holds ✓" in unicode and "FAILS" not in unicode
    simplified = next(s for s in ds[0].steps if s.title.startswith("Simplified"))
    assert simplified.title == "Simplified: δ[4] = a[4] − y" and "holds ✓" in simplified.text
    # the input gradient's statement is proved with every derivation of the layer
    assert "flip(W[1])))) = 0: holds ✓" in unicode
    assert "top-left entry, (u*, v*) = (0, 0)" in unicode
    assert "H(z) = 1 for z > 0 and 0 for z ≤ 0" in unicode
    assert re.search(r"x₁₁₁ +x₁₁₂ +x₁₂₁ +x₁₂₂", unicode)
    latex = d.render("latex")
    assert latex.isascii(), sorted({c for c in latex if not c.isascii()})
    assert r"\frac{\partial z^{[1]}}{\partial \operatorname{vec}(W^{[1]})}" in latex
    assert r"x_{111} & x_{112} & x_{121} & x_{122}\\x_{112} & x_{113}" in latex
    markdown = d.render("markdown")
    fences = [line for line in markdown.splitlines() if line.strip() == "$$"]
    assert fences and len(fences) % 2 == 0
    assert r"\frac{\partial z^{[1]}}{\partial \operatorname{vec}(W^{[1]})}" in markdown
    prose = re.sub(r"^\$\$\n.*?^\$\$$", "", markdown, flags=re.S | re.M)
    assert not re.search(r"(?<!\\)[\[\]$]", prose)


@pytest.mark.parametrize("setting", [SETTINGS[4], SETTINGS[6]], ids=[IDS[4], IDS[6]])
def test_every_kind_of_derivation_renders_as_ascii_latex(setting: tuple[str, str, str]) -> None:
    for d in derive_network(_net(setting), ("W", "b", "delta", "input")):
        assert d.holds, d.title
        text = d.render("latex")
        assert text.isascii(), (d.title, sorted({c for c in text if not c.isascii()}))
        d.render("markdown")


def test_the_input_gradient_shows_the_transposed_correlation() -> None:
    net = Network.from_layers("conv2d(2, 2, stride=2, padding=1), tanh", "2x3x3", "mse")
    (d,) = derive_network(net, ("input",))
    text = d.unicode()
    assert "∂z[1]/∂x" in text and "(8 × 18)" in text  # the Toeplitz matrix
    for title in ("dilated by 2 and padded by k − 1 = 1", "the flipped kernel", "crop by p = 1"):
        assert title in text
    assert "W_flip[1, 0]" in text and "(6 × 6)" in text and "∂L/∂x[1]" in text
    assert d.holds


def test_a_seeded_max_pool_assumption_lists_the_pattern_and_its_ties() -> None:
    # seed 0 leaves every relu input below 0: the window is four zeros, a tie
    net = _net(SHOWCASE)
    (d,) = derive_network(net, ("W",), {"seed": 0})[1:]
    text = d.unicode()
    assert "init_parameters(net, seed=0)" in text and "(0, 0, 0) → (0, 0)" in text
    assert "hold a tie" in text
    model = SymbolicModel(net, {"argmax": (1, 0)})
    assert jacobians(model)["J_a2_a1"] == sp.Matrix([[0, 0, 1, 0]])


# --- what is refused -----------------------------------------------------------------------------


def test_a_network_too_large_is_refused() -> None:
    wide = Network.from_layers("conv2d(4, 3), relu, flatten, dense(10), softmax", "1x8x8")
    with pytest.raises(
        InvalidValueError,
        match=rf"network: expected at most {MAX_PARAMETERS} parameters .*got 1490",
    ):
        derive_network(wide)
    large = Network.from_layers("conv2d(1, 1), relu", "1x8x8", "sum")
    with pytest.raises(
        InvalidValueError,
        match=rf"Jacobians of at most {MAX_ENTRIES:,} entries .*J_a1_z1 of 64×64 .*smaller input",
    ):
        derive_network(large)
    # the first layer's input Jacobian counts too: 1 × 2,601 here, though W1 has 2 entries
    first = Network.from_layers("avgpool(51), flatten, dense(1)", "1x51x51", "mse")
    with pytest.raises(InvalidValueError, match=r"J_a1_a0 of 1×2601 = 2,601"):
        derive_network(first)


def test_arguments_are_checked() -> None:
    net = _net(SHOWCASE)
    with pytest.raises(
        UnknownNameError,
        match=r"params: expected one of E, W, Wk, Wq, Wv, b, beta, delta, gamma, input, got .dx.",
    ):
        derive_network(net, ("dx",))
    with pytest.raises(UnknownNameError, match=r"example: expected one of argmax, params, seed"):
        derive_network(net, example={"sed": 1})
    with pytest.raises(InvalidValueError, match=r"example\['argmax'\]: expected two offsets"):
        derive_network(net, example={"argmax": (2, 0)})
    with pytest.raises(InvalidValueError, match=r"example\['seed'\]: expected a whole number"):
        derive_network(net, example={"seed": -1})


def test_an_assumption_that_contradicts_itself_is_refused() -> None:
    # 3×3 windows moved by 1: "the centre is the maximum" asks a[1][0, 1, 1] > a[1][0, 1, 2]
    # of the first window and the reverse of the second; a corner is always consistent
    net = Network.from_layers("conv2d(1, 1), maxpool(3, stride=1), flatten, dense(1)", "1x4x4")
    with pytest.raises(
        InvalidValueError, match=r"which asks a\[1\]\[0, 1, 1\] > .* choose a corner"
    ):
        SymbolicModel(net, {"argmax": (1, 1)})
    for corner in ((0, 0), (0, 2), (2, 2)):
        assert all(c.holds for c in prove_network(SymbolicModel(net, {"argmax": corner})))


def test_cli_derives_a_cnn(capsys: pytest.CaptureFixture[str]) -> None:
    from jacobians.cli import main

    spec = "conv2d(1, 2), relu, maxpool(2), flatten, dense(1), sigmoid"
    argv = ["derive", "--input", "1x3x3", "--layers", spec, "--layer", "1", "--param", "input"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "∂L/∂x = ∂L/∂a[4] · ∂a[4]/∂z[4]" in out and "∂z[1]/∂x" in out
    assert "holds ✓" in out and "FAILS" not in out
    for options, expected in (
        (("--abstract",), "--abstract: only for dense networks"),
        (("--layer", "2"), "layer: expected a layer with parameters (1, 4), got 2"),
    ):
        assert main(["derive", "--input", "1x3x3", "--layers", spec, *options]) == 2
        assert expected in capsys.readouterr().err
    assert main(["derive", "--param", "input"]) == 2
    assert "--param input: the gradient at a layer's input is derived for networks" in (
        capsys.readouterr().err
    )
    assert main(["derive", "--general", "--layers", spec]) == 2
    assert "--general: expected no network options" in capsys.readouterr().err


@pytest.mark.parametrize("slope", ["1e-5", "-2", "0.123456789"])
def test_a_leaky_relu_slope_is_derived_exactly(slope: str) -> None:
    net = Network.from_layers(f"dense(2), leaky_relu({slope}), dense(1)", "2", "mse")
    derivations = derive_network(net, ("W",))
    assert all(d.holds for d in derivations)
    assert f"leaky_relu:{slope.replace('1e-5', '1e-05')}" in derivations[-1].render("unicode")
