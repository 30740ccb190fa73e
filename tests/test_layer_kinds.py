"""Every layer kind, the same operations over a table of settings (shapes, kernels, strides,
paddings, channels, batch sizes): forward, each Jacobian in every representation (dense,
sparse, structured) for one example and for a batch, ``v @ J`` without the matrix, and the
compact backward — against references written from the definitions with loops
(tests/references.py) and finite differences."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from jacobians.layers.base import Kind
from jacobians.layers.registry import parse_entry

from . import references as ref
from .representations import three
from .tolerances import EXACT, FINITE_DIFFERENCE


@dataclass(frozen=True)
class Setting:
    """A layer (its spec entry), one example's input shape, and a batch size."""

    spec: str
    shape: tuple[int, ...]
    batch: int

    def __str__(self) -> str:
        return f"{self.spec} on {'x'.join(map(str, self.shape))} × {self.batch}"


# (C, H, W) × conv2d(C_out, k, stride, padding) × B: kernels 1–5, strides 1–3, paddings 0–2,
# channels 1–3, odd and even sizes, batches 1–4
CONV = [
    Setting("conv2d(1, 1)", (1, 3, 3), 1),
    Setting("conv2d(2, 2)", (1, 3, 3), 1),
    Setting("conv2d(2, 2, stride=2)", (1, 4, 4), 2),
    Setting("conv2d(3, 3, padding=1)", (2, 5, 4), 3),
    Setting("conv2d(2, 3, stride=2, padding=1)", (3, 6, 7), 2),
    Setting("conv2d(1, 5, stride=3, padding=2)", (2, 7, 5), 4),
    Setting("conv2d(2, 4, stride=3, padding=2)", (1, 5, 5), 1),
    Setting("conv2d(3, 1, stride=3)", (3, 4, 6), 2),
    Setting("conv2d(2, 5, padding=2)", (2, 6, 6), 1),
    Setting("conv2d(2, 3, stride=3)", (1, 8, 5), 3),
    Setting("conv2d(1, 2, stride=2, padding=1)", (1, 5, 6), 2),
]
POOL = [
    Setting(f"{kind}({k}{', stride=' + str(s) if s else ''})", shape, B)
    for kind in ("maxpool", "avgpool")
    for k, s, shape, B in (
        (1, None, (1, 3, 3), 1),
        (2, None, (1, 4, 4), 1),
        (2, None, (2, 5, 5), 3),
        (2, 1, (1, 4, 5), 2),
        (3, 2, (3, 7, 6), 2),
        (3, 1, (2, 5, 5), 1),
        (2, 3, (1, 7, 8), 4),
    )
]
OTHER = [
    Setting("flatten", (2, 3, 4), 3),
    Setting("flatten", (5,), 2),
    Setting("relu", (2, 3, 3), 2),
    Setting("tanh", (1, 4, 3), 1),
    Setting("leaky_relu(0.2)", (3, 2, 2), 3),
    Setting("softmax", (4,), 3),
    Setting("dense(3)", (4,), 1),
    Setting("dense(2)", (5,), 3),
]
SETTINGS = CONV + POOL + OTHER


def _layer(setting: Setting, seed: int = 0) -> tuple[Kind, dict[str, np.ndarray], np.ndarray]:
    """The kind, parameters drawn for it, and a batch input (continuous values: no ties)."""
    kind = parse_entry(setting.spec, 1)
    rng = np.random.default_rng(seed)
    params = {r: kind.init(r, setting.shape, rng) for r in kind.roles}
    a = rng.standard_normal((*setting.shape, setting.batch))
    return kind, params, a


def _reference_forward(kind: Kind, params: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """One example through the loops of tests/references.py (or the definition itself)."""
    args = kind.arguments()
    if kind.name == "conv2d":
        return ref.conv_forward(x, params["W"], params["b"], args["stride"], args["padding"])
    if kind.name in ("maxpool", "avgpool"):
        return ref.pool_forward(x, args["size"], args["stride"], kind.name[:3])[0]
    if kind.name == "flatten":
        return np.array([x[i] for i in np.ndindex(x.shape)])
    if kind.name == "dense":
        return (
            np.array(
                [
                    sum(params["W"][i, k] * x[k] for k in range(x.size))
                    for i in range(len(params["b"]))
                ]
            )
            + params["b"]
        )
    if kind.name == "softmax":
        e = np.exp(x - x.max())
        return e / e.sum()
    slope = {"relu": 0.0, "leaky_relu": args.get("slope", 0.0)}
    if kind.name in slope:
        return np.where(x > 0, x, slope[kind.name] * x)
    return np.tanh(x)


def _example(a: np.ndarray, b: int) -> np.ndarray:
    return a[..., b : b + 1]


@pytest.mark.parametrize("setting", SETTINGS, ids=str)
def test_forward_equals_the_definition(setting: Setting) -> None:
    kind, params, a = _layer(setting)
    out = kind.forward(params, a)
    assert out.shape == (*kind.out_shape(setting.shape), setting.batch)
    for b in range(setting.batch):
        expected = _reference_forward(kind, params, a[..., b])
        np.testing.assert_allclose(out[..., b], expected, rtol=EXACT[0], atol=EXACT[1])


@pytest.mark.parametrize("setting", SETTINGS, ids=str)
def test_input_jacobian_of_one_example(setting: Setting) -> None:
    # every representation = the loop-built matrix (conv, pools) = finite differences
    kind, params, a = _layer(setting)
    x = _example(a, 0)
    J = kind.jacobians(params, x, kind.forward(params, x))["input"]
    numeric = ref.numerical_jacobian(lambda v: _reference_forward(kind, params, v), x[..., 0])
    args = kind.arguments()
    exact = None
    if kind.name == "conv2d":
        C, H, W = setting.shape
        exact = ref.conv_input_jacobian(params["W"], C, H, W, args["stride"], args["padding"])
    elif kind.name in ("maxpool", "avgpool"):
        exact = ref.pool_forward(x[..., 0], args["size"], args["stride"], kind.name[:3])[1]
    for matrix in three(J):
        assert matrix.shape == numeric.shape
        if exact is not None:
            np.testing.assert_allclose(matrix, exact, rtol=EXACT[0], atol=EXACT[1])
        np.testing.assert_allclose(matrix, numeric, *FINITE_DIFFERENCE)


@pytest.mark.parametrize("setting", [s for s in SETTINGS if parse_entry(s.spec, 1).roles], ids=str)
def test_parameter_jacobians_of_one_example(setting: Setting) -> None:
    # ∂vec(z)/∂vec(W) = I ⊗ U (U by loops) and ∂z/∂b = I ⊗ 1, also by finite differences
    kind, params, a = _layer(setting)
    x = _example(a, 0)
    jac = kind.jacobians(params, x, kind.forward(params, x))
    args = kind.arguments()
    for role in kind.roles:

        def moved(value: np.ndarray, role: str = role) -> np.ndarray:
            return _reference_forward(kind, {**params, role: value}, x[..., 0])

        numeric = ref.numerical_jacobian(moved, params[role])
        for matrix in three(jac[role]):
            np.testing.assert_allclose(matrix, numeric, *FINITE_DIFFERENCE)
    if kind.name == "conv2d":
        U = ref.im2row(x[..., 0], args["kernel"], args["stride"], args["padding"])
        C_out = args["out_channels"]
        np.testing.assert_allclose(jac["W"].dense(), np.kron(np.eye(C_out), U), atol=EXACT[1])
        np.testing.assert_array_equal(
            jac["b"].dense(), np.kron(np.eye(C_out), np.ones((len(U), 1)))
        )


@pytest.mark.parametrize("setting", SETTINGS, ids=str)
def test_batch_jacobians_interleave_the_examples(setting: Setting) -> None:
    # the batch-last vec: the input Jacobian is the examples' blocks interleaved; a parameter's
    # is their rows interleaved (NOTATION.md's batch Jacobian I_n ⊗ Aᵀ for dense layers)
    kind, params, a = _layer(setting)
    whole = kind.jacobians(params, a, kind.forward(params, a))
    single = []
    for b in range(setting.batch):
        x = _example(a, b)
        single.append(kind.jacobians(params, x, kind.forward(params, x)))
    expected = ref.interleave([s["input"].dense() for s in single])
    for matrix in three(whole["input"]):
        np.testing.assert_allclose(matrix, expected, rtol=EXACT[0], atol=EXACT[1])
    for role in kind.roles:
        expected = ref.stack([s[role].dense() for s in single])
        for matrix in three(whole[role]):
            np.testing.assert_allclose(matrix, expected, rtol=EXACT[0], atol=EXACT[1])


@pytest.mark.parametrize("rows", [1, 3])
@pytest.mark.parametrize("setting", SETTINGS, ids=str)
def test_structured_rows_multiply_like_the_matrix(setting: Setting, rows: int) -> None:
    # v @ J without the matrix (a correlation, a scatter, a Kronecker product) = v @ dense
    kind, params, a = _layer(setting)
    rng = np.random.default_rng(1)
    for J in kind.jacobians(params, a, kind.forward(params, a)).values():
        v = rng.standard_normal((rows, J.shape[0]))
        np.testing.assert_allclose(v @ J, v @ J.dense(), rtol=EXACT[0], atol=EXACT[1])


@pytest.mark.parametrize("setting", SETTINGS, ids=str)
def test_compact_backward_is_the_transposed_chain(setting: Setting) -> None:
    # the compact formulas (Δ U, the transposed correlation, the routed maximum, …) equal the
    # row vec(Δ)ᵀ times the batch Jacobians: the adjoint ⟨Δ, J v⟩ = ⟨Jᵀ Δ, v⟩
    kind, params, a = _layer(setting)
    out = kind.forward(params, a)
    g = np.random.default_rng(2).standard_normal(out.shape)
    back, grads = kind.backward(params, a, out, g)
    jac = kind.jacobians(params, a, out)
    row = g.reshape(1, -1)
    assert back is not None and back.shape == a.shape
    np.testing.assert_allclose(back.reshape(1, -1), row @ jac["input"].dense(), *EXACT)
    for role in kind.roles:
        assert grads[role].shape == params[role].shape
        expected = (row @ jac[role].dense()).reshape(params[role].shape)
        np.testing.assert_allclose(grads[role], expected, *EXACT)
    assert kind.backward(params, a, out, g, need_input=False)[0] is None


@st.composite
def conv_settings(draw: st.DrawFn) -> Setting:
    """A random convolution: channels 1–3, sizes 1–8, kernel up to the padded input, stride
    1–3, padding 0–2, batch 1–3."""
    C, H, W = draw(st.integers(1, 3)), draw(st.integers(1, 8)), draw(st.integers(1, 8))
    p = draw(st.integers(0, 2))
    k = draw(st.integers(1, min(H, W) + 2 * p))
    s = draw(st.integers(1, 3))
    out = draw(st.integers(1, 3))
    return Setting(
        f"conv2d({out}, {k}, stride={s}, padding={p})", (C, H, W), draw(st.integers(1, 3))
    )


@given(setting=conv_settings(), seed=st.integers(0, 2**16))
def test_random_convolutions_against_the_loops(setting: Setting, seed: int) -> None:
    kind, params, a = _layer(setting, seed)
    out = kind.forward(params, a)
    args = kind.arguments()
    C, H, W = setting.shape
    T = ref.conv_input_jacobian(params["W"], C, H, W, args["stride"], args["padding"])
    g = np.random.default_rng(seed).standard_normal(out.shape)
    back, grads = kind.backward(params, a, out, g)
    assert back is not None
    for b in range(setting.batch):
        x = a[..., b]
        np.testing.assert_allclose(
            out[..., b], _reference_forward(kind, params, x), rtol=EXACT[0], atol=EXACT[1]
        )
        # the transposed correlation is the transposed Toeplitz matrix, example by example
        np.testing.assert_allclose(
            back[..., b].reshape(-1), T.T @ g[..., b].reshape(-1), rtol=EXACT[0], atol=EXACT[1]
        )
    U = [
        ref.im2row(a[..., b], args["kernel"], args["stride"], args["padding"])
        for b in range(setting.batch)
    ]
    dW = sum(g[..., b].reshape(args["out_channels"], -1) @ U[b] for b in range(setting.batch))
    np.testing.assert_allclose(
        grads["W"], np.reshape(dW, params["W"].shape), rtol=EXACT[0], atol=EXACT[1]
    )
    np.testing.assert_allclose(grads["b"], g.sum(axis=(1, 2, 3)), rtol=EXACT[0], atol=EXACT[1])


def test_max_pool_ties_take_the_first_and_are_kinks() -> None:
    # a window of equal values: the selection takes the first in row-major order (as the
    # loops do), and a stencil that moves a tied window is reported as a kink, like relu at 0
    kind = parse_entry("maxpool(2)", 1)
    x = np.array([[[1.0, 1.0], [0.0, 1.0]]])[..., None]
    J = kind.jacobians({}, x, kind.forward({}, x))["input"].dense()
    np.testing.assert_array_equal(J, [[1.0, 0.0, 0.0, 0.0]])
    moved = x.copy()
    moved[0, 0, 1, 0] += 1e-6
    assert kind.crosses_kink((x, x, moved))
    assert not kind.crosses_kink((x, x, x))
    distinct = np.array([[[1.0, 2.0], [0.0, 3.0]]])[..., None]
    nudged = distinct + 1e-6
    assert not kind.crosses_kink((distinct - 1e-6, distinct, nudged))
