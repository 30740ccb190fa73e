"""The symbolic derivations of batch norm, layer norm, dropout and residual blocks
(derivations.layers): the proofs hold over a table of settings; every symbolic Jacobian, at the
numbers of a seeded example (a batch's for batch norm), is the numeric package's; wrong compact
formulas (the mistakes of the issue's exercise set) are refuted; the printouts carry the labels.

The references are independent of the code under test: the numeric package
(``example_jacobians``, ``batch_jacobians``, its routes), the statistics ``μ``, ``σ``, ``x̂``
computed here by loops over each group, and the batch Jacobian of batch norm written out here
entry by entry from ``(γ/σ)(I − 11ᵀ/B − x̂x̂ᵀ/B)`` (Ioffe & Szegedy 2015, section 3).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pytest
import sympy as sp

import derivations.layers.norm as norm
from derivations.functions import NUMPY
from derivations.layers import (
    SymbolicModel,
    compact_route,
    derive_network,
    jacobians,
    prove_network,
    structure_checks,
)
from derivations.layers.base import Gradients, vanishes
from derivations.layers.batchnorm import BatchNorm
from derivations.layers.dropout import Dropout
from derivations.layers.norm import Norm
from derivations.layers.residual import Residual
from jacobians.backprop import vectorized_route
from jacobians.batchchain import batch_jacobians, batch_route
from jacobians.chains import example_jacobians
from jacobians.errors import InvalidValueError
from jacobians.layers.norm import Norm as NumericNorm
from jacobians.network import Network, forward
from jacobians.parameters import Parameters, init_parameters

from .tolerances import EXACT

Setting = tuple[str, str, str | None, int]
"""(layers, input, loss, batch)."""

# batch norm on vectors of 1–2 features over batches of 2–3, with another ε, after a dense
# layer, on images; layer norm over 2–3 features; dropout(0.5); residual blocks around dense
# layers, nested once; all of them in one network; softmax and a residual block in a batch
SETTINGS: list[Setting] = [
    ("batchnorm, sigmoid", "1", None, 2),
    ("batchnorm, sigmoid", "1", None, 3),
    ("batchnorm, tanh", "2", "mse", 2),
    ("batchnorm, tanh", "2", "sum", 3),
    ("batchnorm(eps=0.001), sigmoid", "2", None, 2),
    ("dense(2), batchnorm, sigmoid", "2", None, 2),
    ("dense(2), batchnorm, relu, dense(1)", "2", "mse", 3),
    ("batchnorm, tanh", "2x1x2", "mse", 2),
    ("layernorm, tanh", "2", "mse", 1),
    ("dense(3), layernorm, relu, dense(1), sigmoid", "2", None, 1),
    ("layernorm(eps=0.01), softmax", "3", None, 1),
    ("dense(3), dropout(0.5), dense(1)", "2", "mse", 1),
    ("dense(2), tanh, dropout(0.5), dense(2), softmax", "2", None, 1),
    ("dense(2), residual(dense(2), relu), dense(1)", "2", "mse", 1),
    ("residual(dense(2), tanh, dense(2)), dense(1), sigmoid", "2", None, 1),
    ("dense(2), residual(dense(2), residual(dense(2), tanh)), dense(1)", "2", "sum", 1),
    ("dense(3), batchnorm, relu, layernorm, dropout(0.5), dense(1), sigmoid", "2", None, 2),
    ("dense(2), batchnorm, dense(2), softmax", "2", None, 2),
    ("residual(dense(2), batchnorm, tanh), dense(1)", "2", "mse", 2),
]
IDS = [f"{spec} on {shape}, batch {batch}" for spec, shape, _, batch in SETTINGS]
SEED = 3


def _net(setting: Setting) -> Network:
    spec, shape, loss, _ = setting
    return Network.from_layers(spec, shape, loss)


def _model(setting: Setting, example: Mapping[str, object] | None = None) -> SymbolicModel:
    return SymbolicModel(_net(setting), example, batch=setting[3])


# --- the proofs ----------------------------------------------------------------------------------


@pytest.mark.parametrize("setting", SETTINGS, ids=IDS)
def test_every_proof_holds(setting: Setting) -> None:
    model = _model(setting)
    jac = jacobians(model)
    claims = prove_network(model, jac)
    parametric = [n for n in model.nodes if n.kind.roles]
    blocks = [n for n in model.nodes if n.inner]
    assert len(claims) == 4 * len(parametric) + len(blocks)
    assert all(c.holds for c in claims), [c.statement for c in claims if not c.holds]
    checks = structure_checks(model, jac)
    assert all(c.holds for c in checks.values()), [c.name for c in checks.values() if not c.holds]


def test_every_statement_of_a_batch_is_derived_and_holds() -> None:
    derivations = derive_network(_net(SETTINGS[1]), ("W", "b", "delta", "input"), batch=3)
    text = "".join(d.unicode() for d in derivations)
    assert all(d.holds for d in derivations) and "holds ✓" in text and "FAILS" not in text


# --- the numbers of a seeded example -------------------------------------------------------------


def _groups(kind: str, a: np.ndarray) -> list[list[tuple[int, ...]]]:
    """The index tuples of each normalized group of the batch-last ``a``, by loops: batch norm a
    feature (channel) over the batch (and positions), layer norm an example over its features."""
    indices = list(np.ndindex(*a.shape))
    if kind == "batchnorm":
        return [[i for i in indices if i[0] == p] for p in range(a.shape[0])]
    return [[i for i in indices if i[-1] == b] for b in range(a.shape[-1])]


def _norm_values(layer: Norm, kind: str, a: np.ndarray, eps: float) -> dict[sp.Symbol, float]:
    """``σ``, ``x̂`` and ``ε`` of a norm at the numbers ``a`` (batch last), from definitions."""
    values: dict[sp.Symbol, float] = {layer.eps: eps}
    xhat = layer.xhat
    for sigma, group in zip(layer.sigma.reshape(-1), _groups(kind, a), strict=True):
        x = np.array([a[i] for i in group])
        s = float(np.sqrt(np.mean((x - x.mean()) ** 2) + eps))  # the biased variance
        values[sigma] = s
        for i, v in zip(group, x, strict=True):
            values[xhat[i]] = float((v - x.mean()) / s)
    return values


def _values(model: SymbolicModel, params: Parameters) -> dict[sp.Symbol, float]:
    net = model.net
    cache = forward(net, params)

    def shown(v: np.ndarray) -> np.ndarray:  # the model's shape: batch last, or one example
        return v if model.batched else v[..., 0]

    values: dict[sp.Symbol, float] = {}
    for name, tensor in model.tensors.items():
        values.update(zip(tensor.reshape(-1), shown(cache.values[name]).reshape(-1), strict=True))
    for name, tensor in model.params.items():
        values.update(zip(tensor.reshape(-1), params[name].reshape(-1), strict=True))
    values.update(zip(model.y.reshape(-1), shown(params.target(net)).reshape(-1), strict=True))
    for j, layer in enumerate(model.layers):
        if isinstance(layer, Norm):
            node = model.nodes[j]
            a = cache.values[node.input]
            assert isinstance(node.kind, NumericNorm)
            values.update(_norm_values(layer, node.kind.name, a, node.kind.eps))
    return values


def _evaluate(expr: sp.Matrix, values: dict[sp.Symbol, float]) -> np.ndarray:
    symbols = sorted(expr.free_symbols, key=str)
    f = sp.lambdify(symbols, expr, modules=[NUMPY, "numpy"])
    return np.asarray(f(*(values[s] for s in symbols)), dtype=float)


@pytest.mark.parametrize("setting", SETTINGS, ids=IDS)
def test_symbolic_jacobians_equal_numeric(setting: Setting) -> None:
    net, batch = _net(setting), setting[3]
    params = init_parameters(net, SEED, batch)
    model = _model(setting, {"seed": SEED})  # dropout takes this run's masks
    symbolic = jacobians(model)
    if batch > 1:
        numeric = batch_jacobians(net, params, "dense", first_input=True)
        gradients = batch_route(net, params, representation="dense")
    else:
        numeric = example_jacobians(net, params, forward(net, params), 0, "dense", first_input=True)
        gradients = vectorized_route(net, params).gradients
    assert set(symbolic) == set(numeric)
    values = _values(model, params)
    for name, J in symbolic.items():
        np.testing.assert_allclose(_evaluate(J, values), numeric[name], *EXACT, err_msg=name)
    # the compact formulas, too, against the numeric package's compact (or batch) route
    for name, tensor in compact_route(model).params.items():
        got = _evaluate(sp.Matrix(list(tensor.reshape(-1))), values).reshape(tensor.shape)
        np.testing.assert_allclose(got, gradients[f"d{name}"], *EXACT, err_msg=name)


def test_the_batch_jacobian_of_batch_norm_written_out() -> None:
    # (γ/σ)(δ_bc − 1/B − x̂_b x̂_c/B) with x̂ = (x − μ)/σ, entry by entry, against the derived
    # B × B block (Matrix.jacobian of the explicit map, σ written for √(var + ε))
    model = SymbolicModel(Network.from_layers("batchnorm, sigmoid", "1"), batch=3)
    jacobians(model)
    derived = model.derived["J_z1_a0"]
    x, gamma = model.tensors["a0"][0], model.params["gamma1"][0]
    layer = model.layers[0]
    assert isinstance(layer, BatchNorm)
    sigma = layer.sigma[0]
    mu = sum(x) / 3
    xhat = [(xb - mu) / sigma for xb in x]
    written = sp.Matrix(
        3, 3, lambda b, c: gamma / sigma * (int(b == c) - sp.Rational(1, 3) - xhat[b] * xhat[c] / 3)
    )
    assert derived.shape == (3, 3)
    assert all(sp.expand(e) == 0 for e in derived - written)
    assert layer.eps not in derived.free_symbols  # every power of var + ε is a power of σ


def test_batch_norm_couples_every_example_of_a_feature_and_no_other_feature() -> None:
    model = SymbolicModel(Network.from_layers("batchnorm, tanh", "2", "mse"), batch=3)
    J = jacobians(model)["J_z1_a0"]
    assert J.shape == (6, 6)  # vec row-major over the 2 × 3 batch-last array: feature-major
    assert all(e != 0 for e in J[:3, :3]) and all(e != 0 for e in J[3:, 3:])
    assert J[:3, 3:] == sp.zeros(3, 3) and J[3:, :3] == sp.zeros(3, 3)


# --- wrong compact formulas are refuted ----------------------------------------------------------

BATCH_NORM: Setting = ("dense(2), batchnorm, sigmoid", "2", None, 2)


def _refuted(setting: Setting) -> set[tuple[str, str]]:
    return {(c.label, c.param) for c in prove_network(_model(setting)) if not c.holds}


def _constants(u: Sequence[sp.Expr], xhat: Sequence[sp.Expr]) -> list[sp.Expr]:
    return list(u)  # μ and σ treated as constants: dx = γ dy/σ


def _mean_forgotten(u: Sequence[sp.Expr], xhat: Sequence[sp.Expr]) -> list[sp.Expr]:
    m = len(u)
    mean_ux = sp.Add(*[a * b for a, b in zip(u, xhat, strict=True)]) / m
    return [a - b * mean_ux for a, b in zip(u, xhat, strict=True)]


def _variance_forgotten(u: Sequence[sp.Expr], xhat: Sequence[sp.Expr]) -> list[sp.Expr]:
    mean_u = sp.Add(*u) / len(u)
    return [a - mean_u for a in u]


@pytest.mark.parametrize("wrong", [_constants, _mean_forgotten, _variance_forgotten])
def test_wrong_three_term_formulas_are_refuted(
    monkeypatch: pytest.MonkeyPatch, wrong: object
) -> None:
    monkeypatch.setattr(norm, "centred_gradient", wrong)
    # the input gradient of batch norm, and everything below it (the dense layer's) …
    expected = {("2", "input"), ("1", "W"), ("1", "b"), ("1", "delta"), ("1", "input")}
    if wrong is _variance_forgotten:
        # … but the bias before batch norm: its gradient Σ_b dx_b is 0 with the right formula
        # (Σ x̂ = 0) and with u − mean(u) alike, and the decision is exact enough to see it
        expected.remove(("1", "b"))
    assert _refuted(BATCH_NORM) == expected
    assert _refuted(("layernorm, tanh", "3", "mse", 1)) == {("1", "input")}
    (d,) = derive_network(_net(BATCH_NORM), ("input",), layer=2, batch=2)
    assert not d.holds and "(the three-term formula): FAILS ✗" in d.unicode()


def test_the_bias_before_batch_norm_has_no_gradient() -> None:
    model = _model(BATCH_NORM)
    db = compact_route(model).params["b1"]
    assert all(vanishes(sp.Matrix([e]), model.definitions) for e in db)


def _unbiased(
    self: BatchNorm, a: np.ndarray, out: np.ndarray, params: Mapping[str, np.ndarray], g: np.ndarray
) -> Gradients:
    """The three-term formula with x̂ and σ of the unbiased variance (over B − 1)."""
    flat, gflat = a.reshape(-1), g.reshape(-1)
    dx = np.empty(flat.size, dtype=object)
    for p, group in enumerate(self.group_entries()):
        x = [flat[i] for i in group]
        m, mu = len(x), sp.Add(*x) / len(x)
        sigma = sp.sqrt(sp.Add(*[(xi - mu) ** 2 for xi in x]) / (m - 1) + self.eps)
        xhat = [(xi - mu) / sigma for xi in x]
        u = [gflat[i] * params["gamma"][p] / sigma for i in group]
        mean_u, mean_ux = sp.Add(*u) / m, sp.Add(*[a * b for a, b in zip(u, xhat, strict=True)]) / m
        dx[list(group)] = [ui - mean_u - xi * mean_ux for ui, xi in zip(u, xhat, strict=True)]
    right = Norm.backward(self, a, out, params, g)
    return Gradients(dx.reshape(a.shape), right.params)


def test_the_unbiased_variance_is_refuted(monkeypatch: pytest.MonkeyPatch) -> None:
    # σ over B − 1 brings in a square root of its own: decided in x and ε, where the square roots
    # are independent (the third stage of vanishes)
    monkeypatch.setattr(BatchNorm, "backward", _unbiased)
    assert ("1", "input") in _refuted(("batchnorm, tanh", "1", "mse", 2))
    assert ("1", "input") in _refuted(("batchnorm, tanh", "2", "mse", 3))


def test_a_refutation_is_confirmed_at_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    # the refuted compact formula is wrong at the seeded example too: the decision is not an
    # artefact of the representation
    setting: Setting = ("batchnorm, tanh", "2", "mse", 3)
    net = _net(setting)
    params = init_parameters(net, SEED, 3)
    monkeypatch.setattr(norm, "centred_gradient", _variance_forgotten)
    model = _model(setting)
    compact = compact_route(model)
    values = _values(model, params)
    numeric = batch_jacobians(net, params, "dense", first_input=True)
    chain = numeric["J_L_a1"] @ numeric["J_a1_z1"] @ numeric["J_z1_a0"]
    wrong = _evaluate(sp.Matrix(list(compact.inputs[0].reshape(-1))), values)
    assert not np.allclose(wrong.reshape(-1), chain.reshape(-1))


def test_the_identity_path_forgotten_is_refuted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Residual, "combine", lambda self, g, through: through)
    setting: Setting = ("dense(2), residual(dense(2), relu), dense(1)", "2", "mse", 1)
    assert _refuted(setting) == {
        ("2", "input"),
        ("1", "W"),
        ("1", "b"),
        ("1", "delta"),
        ("1", "input"),
    }


def test_a_block_jacobian_without_its_identity_fails_its_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(Residual, "form", lambda self, inner: inner)  # J_f, not I + J_f
    setting: Setting = ("dense(2), residual(dense(2), relu), dense(1)", "2", "mse", 1)
    model = _model(setting)
    jac = jacobians(model)
    assert not structure_checks(model, jac)["J_a2_a1"].holds
    d = derive_network(_net(setting), ("W",), layer=1)[0]
    assert not d.holds and "FAILS ✗" in d.unicode()


def _mask(model: SymbolicModel) -> np.ndarray:
    """The mask of the model's dropout layer (its second node)."""
    layer = model.layers[1]
    assert isinstance(layer, Dropout)
    return layer.mask


def test_the_dropout_scale_forgotten_is_refuted(monkeypatch: pytest.MonkeyPatch) -> None:
    def unscaled(
        self: Dropout, a: np.ndarray, out: np.ndarray, params: object, g: np.ndarray
    ) -> Gradients:
        return Gradients(np.asarray(g * self.kept(), dtype=object))

    monkeypatch.setattr(Dropout, "backward", unscaled)
    setting: Setting = ("dense(3), dropout(0.5), dense(1)", "2", "mse", 1)
    model = _model(setting, {"seed": SEED})
    assert _mask(model).any()
    refuted = {(c.label, c.param) for c in prove_network(model) if not c.holds}
    assert refuted == {("1", "W"), ("1", "b"), ("1", "delta"), ("1", "input")}


# --- deciding zero -------------------------------------------------------------------------------


def test_vanishes_decides_in_stages() -> None:
    x1, x2 = sp.symbols("x1 x2", real=True)
    eps, sigma, xhat = (
        sp.Symbol("eps", positive=True),
        sp.Symbol("s", positive=True),
        sp.Symbol("h"),
    )
    var = ((x1 - x2) / 2) ** 2
    definitions = {xhat: (x1 - (x1 + x2) / 2) / sigma}
    meanings = {sigma: sp.sqrt(var + eps)}
    # true for every σ: the first two stages
    assert vanishes(sp.Matrix([xhat * sigma - (x1 - x2) / 2]), definitions)
    # true only because σ² = var + ε: the third
    assert not vanishes(sp.Matrix([sigma**2 - var - eps]), definitions)
    assert vanishes(sp.Matrix([sigma**2 - var - eps]), definitions, meanings)
    # and a nonzero difference stays refuted
    assert not vanishes(sp.Matrix([sigma**2 - var]), definitions, meanings)


# --- the printouts -------------------------------------------------------------------------------


def test_batch_norm_renders_its_block_and_the_three_term_proof() -> None:
    net = Network.from_layers("batchnorm, sigmoid", "1")
    ds = derive_network(net, ("W", "b", "input"), batch=3)
    assert [d.title.split()[0] for d in ds] == ["dγ[1]", "dβ[1]", "∂J/∂x"]
    assert all(d.holds for d in ds)
    text = ds[0].unicode()
    for label in (
        "(a batch of 3, loss bce)",
        "J = (1/3) Σ_b bce(a[1]⁽ᵇ⁾, y⁽ᵇ⁾)",
        "Batch norm at layer 1: the 3 × 3 block that couples the batch",
        "∂z[1][0, :]/∂x[0, :], derived",
        "∂z[1][0, :]/∂x[0, :], index rule",
        "(γ/σ)(I − 11ᵀ/3 − x̂x̂ᵀ/3) per feature",
        "derived = index rule, holds ✓",
        "Simplified: δ[1] = (a[1] − y)/3",
        "(the three-term formula): holds ✓",
        "∂J/∂γ[1] = ∂J/∂a[1] · ∂a[1]/∂z[1] · ∂z[1]/∂γ[1]",
    ):
        assert label in text, label
    assert text.index("x̂[1]₁⁽¹⁾") < text.index("x̂[1]₁⁽²⁾") < text.index("x̂[1]₁⁽³⁾")
    assert "FAILS" not in text
    three_term = ds[2].unicode()
    assert "∂J/∂x = (γ/σ)(δ − mean(δ) − x̂ ⊙ mean(δ ⊙ x̂))" in three_term
    for d in ds:
        latex = d.render("latex")
        assert latex.isascii(), sorted({c for c in latex if not c.isascii()})
        assert r"\hat{x}^{[1](2)}_{1}" in latex and r"\sigma^{[1]}_{1}" in latex
        markdown = d.render("markdown")
        fences = [line for line in markdown.splitlines() if line.strip() == "$$"]
        assert fences and len(fences) % 2 == 0


def test_layer_norm_dropout_and_residual_render() -> None:
    (ln,) = derive_network(Network.from_layers("layernorm, tanh", "3", "mse"), ("input",))
    text = ln.unicode()
    assert "diag(γ)(1/σ)(I − 11ᵀ/3 − x̂x̂ᵀ/3)" in text and "Layer norm at layer 1" in text
    assert "u = γ[1] ⊙ δ[1]/σ" in text and ln.holds
    net = Network.from_layers("dense(2), dropout(0.5), dense(1)", "2", "mse")
    drop = derive_network(net, ("W",), {"seed": SEED})[-1].unicode()
    mask = init_parameters(net, SEED).state["mask2"].reshape(-1)
    assert f"vec(mask) = ({', '.join(str(int(m)) for m in mask)})" in drop
    assert "∂a[2]/∂a[1] = diag(mask)/(1 − 1/2)" in drop
    net = Network.from_layers("dense(2), residual(dense(2), relu), dense(1)", "2", "mse")
    ds = derive_network(net, ("W",))
    assert [d.title.split()[0] for d in ds] == ["dW[3]", "dW[2_1]", "dW[1]"]
    inner, outer = ds[1].unicode(), ds[2].unicode()
    assert "∂L/∂vec(W[2_1]) = ∂L/∂a[3] · ∂a[3]/∂a[2] · ∂a[2]/∂a[2_1] · ∂a[2_1]/∂z[2_1]" in inner
    assert "∂a[2]/∂a[2_1] = I (∂y/∂f" in inner
    assert "The residual block a[2]: I + J_f" in outer
    assert "∂a[2]/∂a[1], derived" in outer
    assert "∂a[2]/∂a[1] = I + J_f, J_f = ∂a[2_1]/∂z[2_1] · ∂z[2_1]/∂a[1]" in outer
    assert "(the residual block residual(dense(2), relu)): holds ✓" in outer
    for d in (ln, *ds):
        assert d.holds and d.render("latex").isascii()
    assert r"W^{[2_1]}_{11}" in ds[1].render("latex")


def test_cli_derives_batch_norm_over_a_batch(capsys: pytest.CaptureFixture[str]) -> None:
    from jacobians.cli import main

    argv = ["derive", "--input", "1", "--layers", "batchnorm, sigmoid", "--batch", "3"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "holds ✓" in out and "FAILS" not in out
    assert main([*argv[:-1], "1"]) == 2
    assert "--batch: expected 2 or more examples" in capsys.readouterr().err
    assert main([*argv, "--param", "gamma"]) == 0
    assert "dγ[1]" in (out := capsys.readouterr().out) and "dβ[1]" not in out
    layered = ["derive", "--input", "2", "--layers", "dense(2), layernorm, sigmoid"]
    assert main([*layered, "--param", "beta", "--layer", "1"]) == 2
    err = capsys.readouterr().err
    assert "param: expected a role of layer 1 (W, b), delta or input, got beta" in err


# --- what is refused -----------------------------------------------------------------------------


def test_batches_are_refused_where_they_do_not_fit() -> None:
    dense = Network.from_layers("dense(2), residual(dense(2), relu), dense(1)", "2", "mse")
    with pytest.raises(InvalidValueError, match=r"batch: expected 1 for a network without"):
        derive_network(dense, batch=2)
    bn = Network.from_layers("batchnorm, sigmoid", "1")
    with pytest.raises(
        InvalidValueError, match=r"batch: expected 2 or more examples .*layers\[1\]"
    ):
        derive_network(bn)
    pooled = Network.from_layers("conv2d(1, 1), batchnorm, maxpool(2), flatten, dense(1)", "1x3x3")
    with pytest.raises(InvalidValueError, match=r"layers\[3\] 'maxpool\(2\)'.*one example's"):
        derive_network(pooled, batch=2)
    wide = Network.from_layers("batchnorm, tanh", "2x3x3", "mse")
    with pytest.raises(
        InvalidValueError, match=r"of 72×72 = 5,184 for 2x3x3: batchnorm, tanh at a batch of 4"
    ):
        derive_network(wide, batch=4)


def test_dropout_masks_come_from_the_example() -> None:
    net = Network.from_layers("dense(4), dropout(0.5), dense(1)", "2", "mse")
    for seed in (0, 1, 2):
        model = SymbolicModel(net, {"seed": seed})
        mask = init_parameters(net, seed).state["mask2"]
        np.testing.assert_array_equal(_mask(model), mask)
    params = init_parameters(net, 7, 2)
    model = SymbolicModel(net, {"params": params})
    np.testing.assert_array_equal(_mask(model), params.state["mask2"][..., :1])
    bn = Network.from_layers("batchnorm, dropout(0.5), dense(1)", "2", "mse")
    with pytest.raises(InvalidValueError, match=r"example\['params'\]: expected a batch of 3"):
        SymbolicModel(bn, {"params": init_parameters(bn, 0, 2)}, batch=3)
