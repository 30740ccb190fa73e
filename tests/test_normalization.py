"""Batch norm and layer norm over a table of settings (features 1–6, batches 1–6, images with
1–3 channels, ε values): forward against loops over the batch, the batch Jacobians in every
representation against finite differences of the whole batch, the compact backward against
the transposed Jacobian; and the routes, the batch strategies and the report around them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jacobians.chains import jacobian_route
from jacobians.cli import main
from jacobians.comparison import compare
from jacobians.errors import InvalidValueError, ShapeError
from jacobians.layers.base import Kind
from jacobians.layers.registry import parse_entry
from jacobians.network import Network
from jacobians.parameters import init_parameters

from . import references as ref
from .representations import three
from .tolerances import EXACT, FINITE_DIFFERENCE


@dataclass(frozen=True)
class Setting:
    spec: str
    shape: tuple[int, ...]
    batch: int

    def __str__(self) -> str:
        return f"{self.spec} on {'x'.join(map(str, self.shape))} × {self.batch}"


SETTINGS = [
    *(Setting("batchnorm", (n,), B) for n, B in ((1, 2), (3, 2), (4, 5), (6, 3), (2, 6))),
    Setting("batchnorm(eps=0.1)", (3,), 4),
    Setting("batchnorm", (1, 2, 2), 2),
    Setting("batchnorm", (3, 2, 3), 1),
    Setting("batchnorm(eps=1e-3)", (2, 3, 2), 3),
    *(Setting("layernorm", (n,), B) for n, B in ((2, 1), (3, 2), (6, 4))),
    Setting("layernorm(eps=0.5)", (4,), 3),
    Setting("layernorm", (2, 2, 3), 2),
    Setting("layernorm", (1, 3, 3), 1),
]


def _layer(setting: Setting, seed: int = 0) -> tuple[Kind, dict[str, np.ndarray], np.ndarray]:
    kind = parse_entry(setting.spec, 1)
    rng = np.random.default_rng(seed)
    params = {r: kind.init(r, setting.shape, rng) for r in kind.roles}
    return kind, params, rng.standard_normal((*setting.shape, setting.batch))


def _loops(kind: Kind, params: dict[str, np.ndarray], a: np.ndarray) -> np.ndarray:
    """The definition, with loops: batch norm per feature (channel) over the batch (and the
    positions), layer norm per example over its features; biased variance; ``y = γ x̂ + β``."""
    eps = kind.arguments()["eps"]
    out = np.zeros_like(a)
    if kind.name == "batchnorm":
        for c in range(a.shape[0]):
            values = a[c].reshape(-1)
            mean = sum(values) / len(values)
            var = sum((v - mean) ** 2 for v in values) / len(values)
            out[c] = params["gamma"][c] * (a[c] - mean) / np.sqrt(var + eps) + params["beta"][c]
        return out
    for b in range(a.shape[-1]):
        values = a[..., b].reshape(-1)
        mean = sum(values) / len(values)
        var = sum((v - mean) ** 2 for v in values) / len(values)
        xhat = (a[..., b] - mean) / np.sqrt(var + eps)
        out[..., b] = params["gamma"] * xhat + params["beta"]
    return out


@pytest.mark.parametrize("setting", SETTINGS, ids=str)
def test_forward_equals_the_loops(setting: Setting) -> None:
    kind, params, a = _layer(setting)
    np.testing.assert_allclose(kind.forward(params, a), _loops(kind, params, a), *EXACT)


@pytest.mark.parametrize("setting", SETTINGS, ids=str)
def test_batch_jacobians_are_the_finite_differences_of_the_whole_batch(setting: Setting) -> None:
    # the whole batch's vec in, the whole batch's vec out: batch norm's examples are coupled
    kind, params, a = _layer(setting)
    jac = kind.jacobians(params, a, kind.forward(params, a))
    numeric = ref.numerical_jacobian(lambda v: _loops(kind, params, v), a)
    for matrix in three(jac["input"]):
        np.testing.assert_allclose(matrix, numeric, *FINITE_DIFFERENCE)
    for role in kind.roles:
        moved = ref.numerical_jacobian(
            lambda v, r=role: _loops(kind, {**params, r: v}, a), params[role]
        )
        for matrix in three(jac[role]):
            np.testing.assert_allclose(matrix, moved, *FINITE_DIFFERENCE)


@pytest.mark.parametrize("setting", [s for s in SETTINGS if len(s.shape) == 1], ids=str)
def test_each_block_is_a_scaled_identity_minus_two_rank_one_terms(setting: Setting) -> None:
    # NOTATION.md: per group, (γ/σ)(I − 11ᵀ/m − x̂ x̂ᵀ/m) — evaluated here from the loops' x̂
    kind, params, a = _layer(setting)
    J = kind.jacobians(params, a, kind.forward(params, a))["input"].dense()
    eps, (n, B) = kind.arguments()["eps"], a.shape
    batchnorm = kind.name == "batchnorm"
    groups = (
        [(j, [j * B + b for b in range(B)]) for j in range(n)]
        if batchnorm
        else [(b, [j * B + b for j in range(n)]) for b in range(B)]
    )
    for g, index in groups:
        x = a[g] if batchnorm else a[:, g]
        m = len(x)
        sigma = np.sqrt(np.mean((x - x.mean()) ** 2) + eps)
        xhat = (x - x.mean()) / sigma
        scale = params["gamma"][g] if batchnorm else params["gamma"]
        block = np.diag(scale / sigma * np.ones(m)) @ (np.eye(m) - 1 / m - np.outer(xhat, xhat) / m)
        np.testing.assert_allclose(J[np.ix_(index, index)], block, *EXACT)
    if not batchnorm:  # layer norm does not couple examples: nothing across columns
        mask = np.ones_like(J, dtype=bool)
        for _, index in groups:
            mask[np.ix_(index, index)] = False
        assert not J[mask].any()


@pytest.mark.parametrize("rows", [1, 3])
@pytest.mark.parametrize("setting", SETTINGS, ids=str)
def test_rows_multiply_without_the_blocks(setting: Setting, rows: int) -> None:
    kind, params, a = _layer(setting)
    v = np.random.default_rng(1)
    for J in kind.jacobians(params, a, kind.forward(params, a)).values():
        u = v.standard_normal((rows, J.shape[0]))
        np.testing.assert_allclose(u @ J, u @ J.dense(), *EXACT)


@pytest.mark.parametrize("setting", SETTINGS, ids=str)
def test_compact_backward_is_the_transposed_batch_jacobian(setting: Setting) -> None:
    # dx = (γ/σ)(dy − mean(dy) − x̂ ⊙ mean(dy ⊙ x̂)), dγ = Σ dy ⊙ x̂, dβ = Σ dy
    kind, params, a = _layer(setting)
    out = kind.forward(params, a)
    g = np.random.default_rng(2).standard_normal(out.shape)
    back, grads = kind.backward(params, a, out, g)
    jac = kind.jacobians(params, a, out)
    row = g.reshape(1, -1)
    assert back is not None
    np.testing.assert_allclose(back.reshape(1, -1), row @ jac["input"].dense(), *EXACT)
    for role in kind.roles:
        np.testing.assert_allclose(grads[role].reshape(1, -1), row @ jac[role].dense(), *EXACT)


NETWORKS = [
    ("dense(3), batchnorm, relu, dense(2), softmax", "4", 3),
    ("dense(4), batchnorm(eps=0.01), tanh, dense(1), sigmoid", "2", 5),
    ("conv2d(2, 2), batchnorm, relu, maxpool(2), flatten, dense(2), softmax", "1x5x5", 2),
    ("dense(3), layernorm, relu, dense(2)", "4", 3),
    ("conv2d(2, 2), layernorm, tanh, flatten, dense(1), sigmoid", "1x4x4", 2),
    ("batchnorm, dense(2), softmax", "3", 4),
]


@settings(max_examples=12)
@given(
    case=st.sampled_from(NETWORKS),
    seed=st.integers(0, 2**32 - 1),
    representation=st.sampled_from(["dense", "sparse", "structured"]),
    order=st.sampled_from(["reverse", "forward", "optimal"]),
)
def test_the_three_routes_agree_through_the_norms(
    case: tuple[str, str, int], seed: int, representation: str, order: str
) -> None:
    spec, shape, batch = case
    net = Network.from_layers(spec, shape)
    result = compare(net, init_parameters(net, seed, batch), order, jacobians=representation)
    assert all(d.agree for d in result.jacobian_vs_vectorized.values())
    assert all(d.agree or d.inconclusive for d in result.numerical_vs_vectorized.values())


def test_batch_norm_refuses_per_example_chains_and_auto_takes_the_batch() -> None:
    net = Network.from_layers("dense(3), batchnorm, relu, dense(1), sigmoid", "2")
    params = init_parameters(net, 0, 4)
    with pytest.raises(
        InvalidValueError,
        match=r"strategy: expected batch or auto for a network with batchnorm \(layers\[2\]\), got "
        r"examples; batchnorm couples the examples: its mean and variance are taken over the batch",
    ):
        jacobian_route(net, params, strategy="examples")
    route = jacobian_route(net, params, jacobians="dense")
    assert route.strategy == "batch"
    assert route.chains[0].factors[0] == ("J_L_a3", (1, 4))  # the whole batch's loss row
    # layer norm does not couple: per-example chains stay allowed
    other = Network.from_layers("dense(3), layernorm, relu, dense(1), sigmoid", "2")
    assert jacobian_route(other, init_parameters(other, 0, 4), strategy="examples").strategy == (
        "examples"
    )


def test_a_batch_of_one_is_said(capsys: pytest.CaptureFixture[str]) -> None:
    spec = "dense(3), batchnorm, relu, dense(1), sigmoid"
    assert main(["compare", "--input", "2", "--layers", spec]) == 0
    out = capsys.readouterr().out
    assert (
        "note: the batchnorm of layer 2 normalizes each feature over a batch of 1: x − μ = 0, so "
        "z[2] = β whatever its input, and its Jacobian is 0" in out
    )
    assert main(["compare", "--input", "2", "--layers", spec, "--batch", "3"]) == 0
    out = capsys.readouterr().out
    assert "batch of 1" not in out and "Jacobians (the batch of 3)" in out
    assert "J_z2_a1         9×9   (γ/σ)(I − 11ᵀ/3 − x̂x̂ᵀ/3) per feature: couples the batch" in out


@pytest.mark.parametrize(
    ("layers", "shape", "error", "pattern"),
    [
        (
            "dense(1), layernorm",
            "3",
            ShapeError,
            r"layers\[2\] 'layernorm': input: expected at least 2 features \(over one, "
            r"x − μ = 0 and the output is β whatever the input\), got 1",
        ),
        (
            "dense(2), batchnorm(eps=0)",
            "3",
            InvalidValueError,
            r"layers\[2\] 'batchnorm\(eps=0\)': "
            r"eps: expected a number > 0, got 0",
        ),
        ("dense(2), layernorm(eps=-1)", "3", InvalidValueError, r"eps: expected a number > 0"),
    ],
)
def test_bad_norms_name_the_layer(
    layers: str, shape: str, error: type[Exception], pattern: str
) -> None:
    with pytest.raises(error, match=pattern):
        Network.from_layers(layers, shape, "mse")


def test_parameters_are_named_and_counted_by_role(capsys: pytest.CaptureFixture[str]) -> None:
    # a convolution followed by batch norm is a layer of its own (batch norm is no activation);
    # batch norm and relu are one layer, as in the walk-through
    net = Network.from_layers(
        "conv2d(2, 2), batchnorm, relu, flatten, layernorm, dense(1)", "1x3x3"
    )
    assert net.parameter_shapes == {
        "W1": (2, 1, 2, 2),
        "b1": (2,),
        "gamma2": (2,),
        "beta2": (2,),
        "gamma4": (8,),
        "beta4": (8,),
        "W5": (1, 8),
        "b5": (1,),
    }
    assert [n.output for n in net.nodes] == ["a1", "z2", "a2", "a3", "a4", "a5"]
    code = main(["compare", "--input", "1x3x3", "--layers", net.layer_spec, "--batch", "2"])
    assert code == 0
    out = capsys.readouterr().out
    assert "parameters: 16 weights + 3 biases + 10 scales + 10 shifts = 39" in out


def test_the_batch_norm_set_names_each_mistake_of_dx() -> None:
    # dx over the batch of 4 for the one feature, from its definition: with g the per-example
    # gradients at z2 (B·∂J/∂z2), u = g γ/σ, dx = (u − mean(u) − x̂ mean(u x̂))/B as ∂J/∂a1 —
    # and each mistake written out here
    from jacobians.exercises.grading import check
    from jacobians.exercises.sets import batchnorm

    exercise = batchnorm()
    problem = exercise.problem
    net, params = problem.net, problem.params  # type: ignore[union-attr]
    from jacobians.network import forward

    x = forward(net, params).values["a1"][0]  # the feature over the batch
    g = exercise.key.entries["delta2"].reference[0]  # B·∂J/∂z2
    gamma, eps, B = params["gamma2"][0], 1e-5, x.size
    centred = x - x.mean()
    sigma = np.sqrt(np.mean(centred**2) + eps)
    xhat = centred / sigma
    u = g * gamma / sigma
    right = (u - u.mean() - xhat * np.mean(u * xhat)) / B
    np.testing.assert_allclose(exercise.key.entries["J_L_a1"].reference[0], right, *EXACT)
    s_unbiased = np.sqrt(np.sum(centred**2) / (B - 1) + eps)
    x_unbiased, u_unbiased = centred / s_unbiased, g * gamma / s_unbiased
    wrong = {
        "mu_sigma_constant": u / B,
        "mean_term_forgotten": (u - xhat * np.mean(u * xhat)) / B,
        "variance_term_forgotten": (u - u.mean()) / B,
        "unbiased_variance": (
            u_unbiased - u_unbiased.mean() - x_unbiased * np.mean(u_unbiased * x_unbiased)
        )
        / B,
    }
    for mistake, value in wrong.items():
        result = next(
            r
            for r in check(exercise, {"J_L_a1": [value.tolist()]}, time_limit=None).results
            if r.name == "J_L_a1"
        )
        assert (result.verdict, result.mistake) == ("incorrect", mistake), mistake
    # the batch Jacobian of the feature: (γ/σ)(I − 11ᵀ/B − x̂ x̂ᵀ/B)
    block = gamma / sigma * (np.eye(B) - 1 / B - np.outer(xhat, xhat) / B)
    np.testing.assert_allclose(exercise.key.entries["J_z2_a1"].reference, block, *EXACT)


def test_a_bias_before_batch_norm_is_not_the_largest_relative_difference(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # the mean removes a bias just before batch norm: its gradient is zero, and its
    # difference is rounding over rounding, which no relative figure should be read from
    spec = "dense(3), batchnorm, relu, dense(2), softmax"
    net = Network.from_layers(spec, "4")
    result = compare(net, init_parameters(net, 0, 5), "reverse")
    exact = result.jacobian_vs_vectorized["db1"]
    assert exact.negligible and not result.jacobian_vs_vectorized["dW3"].negligible
    assert result.largest("jacobian")[1].name != "db1"
    assert result.largest("numerical")[1].name != "db1"
    assert main(["compare", "--input", "4", "--batch", "5", "--layers", spec]) == 0
    out = capsys.readouterr().out
    assert "(the gradient is zero within the tolerance)" in out
    assert "(db1)" not in out.split("largest difference")[1]


def test_the_sampling_note_names_every_role(capsys: pytest.CaptureFixture[str]) -> None:
    spec = "dense(40), batchnorm, relu, dense(60), batchnorm, dense(2), softmax"
    assert main(["compare", "--input", "30", "--batch", "3", "--layers", spec]) == 0
    assert "20 random entries of each W, b, gamma and beta (182 of 4022 parameters)" in (
        capsys.readouterr().out
    )


def test_a_dense_refusal_for_a_coupled_batch_offers_only_what_fits(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # sparse batch factors are held to the batch bound: 8·(8·6)·(8·6) bytes > 1 KiB here
    spec = "dense(6), batchnorm, dense(1), sigmoid"
    args = ["compare", "--input", "6", "--layers", spec, "--jacobians", "dense"]
    assert main([*args, "--batch", "8", "--memory-budget", "1KiB"]) == 2
    assert "use --jacobians structured, or raise --memory-budget" in capsys.readouterr().err
    # layer norm does not couple: one example's sparse Jacobians are within the budget
    other = "dense(6), layernorm, dense(1), sigmoid"
    assert main([*args[:-3], other, "--jacobians", "dense", "--memory-budget", "200B"]) == 2
    assert "use --jacobians sparse or structured, or raise" in capsys.readouterr().err
