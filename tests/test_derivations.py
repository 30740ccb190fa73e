"""The symbolic package: its proofs hold (and can fail), its Jacobians and gradients equal the
numeric package's, and sympy's own derivative of the composed network agrees."""

from __future__ import annotations

import re

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import derivations.chains as chains
from derivations.chains import jacobians, product, prove
from derivations.derive import derive, simplify_output
from derivations.functions import NUMPY
from derivations.general import equal, general_derivation, within_ranges
from derivations.network import SymbolicNetwork
from jacobians.backprop import vectorized_route
from jacobians.chains import example_jacobians
from jacobians.network import Network, forward
from jacobians.parameters import init_parameters

from .strategies import ACTIVATIONS, networks

# A loss and its valid output activations; hidden layers take every activation.
PAIRS = [(act, loss) for act in ACTIVATIONS for loss in ("mse", "sum")] + [
    ("sigmoid", "bce"),
    ("softmax", "ce"),
]


def test_walkthrough_proofs_hold() -> None:
    claims = prove(SymbolicNetwork(Network.from_spec()))
    assert len(claims) == 9 and all(c.holds for c in claims)
    assert {(c.layer, c.param) for c in claims} == {
        (l, p) for l in (1, 2, 3) for p in ("W", "b", "delta")
    }


@settings(max_examples=25)
@given(net=networks(max_depth=3, max_width=3), abstract=st.booleans())
def test_proofs_hold_for_random_small_networks(net: Network, abstract: bool) -> None:
    assert all(c.holds for c in prove(SymbolicNetwork(net, abstract=abstract)))


def test_a_wrong_flattening_is_refuted(monkeypatch: pytest.MonkeyPatch) -> None:
    # the proof can fail: with column-major vec, the reshaped row is not δ aᵀ
    monkeypatch.setattr(chains, "vec", lambda M: sp.Matrix(list(M.T)))
    claims = prove(SymbolicNetwork(Network.from_spec()))
    assert {(c.layer, c.param) for c in claims if not c.holds} == {(1, "W"), (2, "W")}


def test_a_wrong_recursion_is_refuted(monkeypatch: pytest.MonkeyPatch) -> None:
    # δ[l] = (W[l+1] δ[l+1]) ⊙ g' (no transpose) is wrong for a square W: the proof says so
    def wrong(sn, l, delta_next, jac):  # type: ignore[no-untyped-def]
        back = sn.W[l + 1] * delta_next
        return sp.Matrix([v * sn.derivative[l](z) for v, z in zip(back, sn.z[l], strict=True)])

    monkeypatch.setattr(chains, "recursion", wrong)
    claims = prove(SymbolicNetwork(Network.from_spec("2-2-2", "tanh,identity", "mse")))
    assert not all(c.holds for c in claims if c.layer == 1)


@pytest.mark.parametrize(("activation", "loss"), [("sigmoid", "bce"), ("softmax", "ce")])
def test_fused_output_simplifies_to_a_minus_y(activation: str, loss: str) -> None:
    sn = SymbolicNetwork(Network.from_spec("2-3", activation, loss))
    form, assumption, holds = simplify_output(sn, jacobians(sn))  # type: ignore[misc]
    assert holds and form == (sn.a[1] - sn.y).T
    assert "σ" in assumption if activation == "sigmoid" else "one-hot" in assumption


def test_softmax_with_mse_has_no_simplified_form() -> None:
    sn = SymbolicNetwork(Network.from_spec("2-3", "softmax", "mse"))
    assert simplify_output(sn, jacobians(sn)) is None


def test_general_proof_holds_and_can_fail() -> None:
    assert general_derivation().holds
    n, m = sp.symbols("n m", integer=True, positive=True)
    i, p, q = sp.symbols("i p q", integer=True, positive=True)
    d, a = sp.IndexedBase("δ"), sp.IndexedBase("a")
    summed = within_ranges(
        sp.Sum(d[i] * sp.KroneckerDelta(i, p) * a[q], (i, 1, n)).doit(), {p: (1, n), q: (1, m)}
    )
    assert summed == d[p] * a[q]
    assert not equal(summed, d[q] * a[p])  # the transpose is not the gradient
    assert not equal(summed, 2 * d[p] * a[q])


def _values(sn: SymbolicNetwork, net: Network, seed: int) -> dict[sp.Symbol, float]:
    params = init_parameters(net, seed)
    cache = forward(net, params)
    values: dict[sp.Symbol, float] = {}
    for l in range(1, net.depth + 1):
        values.update(zip(sn.W[l], params.W[l - 1].ravel(), strict=True))
        values.update(zip(sn.b[l], params.b[l - 1], strict=True))
        values.update(zip(sn.z[l], cache.z[l][:, 0], strict=True))
        values.update(zip(sn.a[l], cache.a[l][:, 0], strict=True))
    values.update(zip(sn.x, params.x[:, 0], strict=True))
    values.update(zip(sn.y, params.target(net)[:, 0], strict=True))
    return values


def _evaluate(expr: sp.Matrix, values: dict[sp.Symbol, float]) -> np.ndarray:
    symbols = sorted(values, key=str)
    f = sp.lambdify(symbols, expr, modules=[NUMPY, "numpy"])
    return np.asarray(f(*(values[s] for s in symbols)), dtype=float)


@pytest.mark.parametrize(("output", "loss"), PAIRS)
@pytest.mark.parametrize(
    "hidden", ["relu", "leaky_relu:0.2", "tanh", "softplus", "square", "softmax"]
)
def test_symbolic_equals_numeric(hidden: str, output: str, loss: str) -> None:
    net = Network.from_spec("3-3-2", f"{hidden},{output}", loss)
    seed = 4
    sn = SymbolicNetwork(net)
    values = _values(sn, net, seed)
    params = init_parameters(net, seed)
    numeric = example_jacobians(net, params, forward(net, params))
    symbolic = jacobians(sn)
    assert set(symbolic) == set(numeric)
    for name, J in symbolic.items():
        np.testing.assert_allclose(
            _evaluate(J, values), numeric[name], rtol=1e-12, atol=1e-14, err_msg=name
        )
    grads = vectorized_route(net, params).gradients
    for l in (1, 2):
        names = chains.chain_names(2, l, "W")
        dW = product([symbolic[k] for k in names]).reshape(*net.weight_shape(l))
        np.testing.assert_allclose(_evaluate(dW, values), grads[f"dW{l}"], rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize(
    "spec",
    [
        ("2-3-1", "relu,sigmoid", "bce"),
        ("2-2-3", "tanh,softmax", "ce"),
        ("2-2-2", "leaky_relu:0.2,square", "mse"),
        ("3-2-2", "softplus,identity", "sum"),
    ],
)
def test_sympy_differentiating_the_composed_network_agrees(spec: tuple[str, str, str]) -> None:
    # an oracle independent of the chain: substitute the layers into each other and let
    # sympy differentiate L(W, b, x, y) directly, then evaluate at the numeric values
    net = Network.from_spec(*spec)
    sn = SymbolicNetwork(net)
    whole = sn.loss_expr().xreplace(sn.forward_substitution())
    values = _values(sn, net, 2)
    grads = vectorized_route(net, init_parameters(net, 2)).gradients
    for l in (1, 2):
        W = sn.W[l]
        direct = sp.Matrix(W.shape[0], W.shape[1], lambda i, k, W=W: whole.diff(W[i, k]))
        np.testing.assert_allclose(
            _evaluate(direct, values), grads[f"dW{l}"], rtol=1e-10, atol=1e-14
        )


def test_derivations_render_in_every_format() -> None:
    (d,) = derive(Network.from_spec(), layer=2, params=("W",))
    assert d.holds
    latex = d.latex()
    # the 2 × 8 block matrix I_2 ⊗ a[1]ᵀ, entry by entry
    block = (
        r"\frac{\partial z^{[2]}}{\partial \operatorname{vec}(W^{[2]})} = \left(\begin{matrix}"
        r"a^{[1]}_{1} & a^{[1]}_{2} & a^{[1]}_{3} & a^{[1]}_{4} & 0 & 0 & 0 & 0\\"
        r"0 & 0 & 0 & 0 & a^{[1]}_{1} & a^{[1]}_{2} & a^{[1]}_{3} & a^{[1]}_{4}\end{matrix}\right)"
        r"\qquad (2 \times 8)"
    )
    assert block in latex
    markdown = d.markdown()
    fences = [line for line in markdown.splitlines() if line.strip() == "$$"]
    assert fences and len(fences) % 2 == 0
    assert block in markdown
    unicode = d.unicode()
    assert "\\" not in unicode and "{" not in unicode
    assert "∂z[2]/∂vec(W[2])" in unicode and "(2 × 8)" in unicode
    assert "holds ✓" in unicode
    assert d._repr_latex_().startswith("$$") and d._repr_markdown_() == markdown
    # outside the $$ blocks, prose such as `g[2](z[2])` must not read as a Markdown link
    prose = re.sub(r"^\$\$\n.*?^\$\$$", "", markdown, flags=re.S | re.M)
    assert "g\\[2\\](z\\[2\\])" in prose
    assert not re.search(r"(?<!\\)[\[\]$]", prose)


def test_relu_derivative_is_a_step_with_its_value_at_zero_stated() -> None:
    (d,) = derive(Network.from_spec(), layer=1, params=("W",))
    text = d.unicode()
    assert "H(z[1]₁)" in text
    assert "H(z) = 1 for z > 0 and 0 for z ≤ 0" in text


def test_sigmoid_bce_derivation_shows_a_minus_y() -> None:
    (d,) = derive(Network.from_spec(), layer=3, params=("W",))
    step = next(s for s in d.steps if s.title.startswith("Simplified"))
    assert "holds ✓" in step.text
    sn = SymbolicNetwork(Network.from_spec())  # symbols are equal by name: a[3]₁ and y₁
    assert step.equations[0].rhs == sp.Matrix([[sn.a[3][0] - sn.y[0]]])


DIRECT = [
    ("2-2-1", "relu,sigmoid", "bce"),
    ("2-2-2", "tanh,identity", "mse"),
    ("2-2-2", "leaky_relu:0.2,square", "sum"),
    ("2-2-1", "softplus,sigmoid", "mse"),
]


@pytest.mark.parametrize("spec", DIRECT)
def test_chain_equals_sympys_derivative_of_the_composed_network(spec: tuple[str, str, str]) -> None:
    # a symbolic oracle for the factors themselves: sympy differentiates L(W, b, x, y) with
    # the layers substituted into each other; the chain, with the same substitution, must be
    # the same rational function of the same atoms (sympy.cancel decides; no numbers)
    net = Network.from_spec(*spec)
    sn = SymbolicNetwork(net)
    forward_values = sn.forward_substitution()
    whole = sn.loss_expr().xreplace(forward_values)
    jac = jacobians(sn)
    for l in range(1, net.depth + 1):
        chain = product([jac[k] for k in chains.chain_names(net.depth, l, "W")])
        dW = chain.reshape(*net.weight_shape(l)).xreplace(forward_values)
        direct = sn.W[l].applyfunc(whole.diff)
        assert all(sp.cancel(e) == 0 for e in dW - direct), (spec, l)


def test_a_wrong_derivative_rule_is_caught_by_the_direct_oracle() -> None:
    # the same check with a deliberately wrong ∂a/∂z: the composed derivative disagrees
    net = Network.from_spec("2-2-1", "tanh,identity", "mse")
    sn = SymbolicNetwork(net)
    forward_values = sn.forward_substitution()
    whole = sn.loss_expr().xreplace(forward_values)
    jac = jacobians(sn)
    jac["J_a1_z1"] = sp.diag(*[1 - sp.tanh(z) for z in sn.z[1]])  # 1 − tanh, not 1 − tanh²
    chain = product([jac[k] for k in chains.chain_names(2, 1, "W")])
    dW = chain.reshape(2, 2).xreplace(forward_values)
    assert not all(sp.cancel(e) == 0 for e in dW - sn.W[1].applyfunc(whole.diff))


@pytest.mark.parametrize(("output", "loss"), PAIRS)
def test_symbolic_db_and_delta_equal_numeric(output: str, loss: str) -> None:
    net = Network.from_spec("3-3-2", f"tanh,{output}", loss)
    sn = SymbolicNetwork(net)
    values = _values(sn, net, 5)
    route = vectorized_route(net, init_parameters(net, 5))
    symbolic = jacobians(sn)
    for l in (1, 2):
        to_z = product([symbolic[k] for k in chains.chain_names(2, l, "z")])
        db = to_z * symbolic[f"J_z{l}_b{l}"]
        np.testing.assert_allclose(
            _evaluate(to_z, values)[0], route.deltas[f"delta{l}"][:, 0], rtol=1e-10, atol=1e-14
        )
        np.testing.assert_allclose(
            _evaluate(db, values)[0], route.gradients[f"db{l}"], rtol=1e-10, atol=1e-14
        )


LATEX_CASES = [
    (("3-4-2-1", "relu,relu,sigmoid", "bce"), False),
    (("2-3-3", "leaky_relu:0.2,softmax", "ce"), False),
    (("2-2-2", "tanh,square", "mse"), True),
    (("2-2-1", "softplus,identity", "sum"), True),
]


@pytest.mark.parametrize(("spec", "abstract"), LATEX_CASES)
def test_latex_is_plain_ascii(spec: tuple[str, str, str], abstract: bool) -> None:
    # pdflatex without unicode set-up accepts only ASCII: every symbol and word is a command
    for d in derive(
        Network.from_spec(*spec),
        abstract=abstract,
        params=("W", "b", "delta"),
        abstract_loss=abstract,
    ):
        for text in (d.latex(), d._repr_latex_()):
            assert text.isascii(), sorted({c for c in text if not c.isascii()})
    assert general_derivation().latex().isascii()


def test_jupyter_latex_is_one_gathered_block() -> None:
    (d,) = derive(Network.from_spec(), layer=3, params=("b",))
    text = d._repr_latex_()
    assert text.startswith(r"$$\begin{gathered}") and text.endswith(r"\end{gathered}$$")


def test_leaky_relu_prints_its_name_whole() -> None:
    (d,) = derive(
        Network.from_spec("2-2-1", "leaky_relu:0.2,identity", "mse"), layer=1, params=("delta",)
    )
    assert "leaky_relu(z[1]₁, 1/5)" in d.unicode()


def test_derive_checks_its_arguments() -> None:
    from jacobians.errors import InvalidValueError, UnknownNameError

    with pytest.raises(
        InvalidValueError, match=r"layer: expected a layer from 1 to 3 for 3-4-2-1, got 5"
    ):
        derive(Network.from_spec(), layer=5)
    with pytest.raises(UnknownNameError, match=r"params: expected one of W, b, delta, got 'x'"):
        derive(Network.from_spec(), params=("x",))


# ---------------------------------------------------------------------------------------------
# The steps a reader looks for (issue 16): the lumped factor ∂z[l+1]/∂z[l], the transposition of
# the row δ[l]ᵀ into the column recursion, and σ' written as a(1 − a).

import derivations.derive as derive_module  # noqa: E402
from derivations.derivation import Derivation, Step  # noqa: E402
from derivations.functions import sigmoid as sigmoid_fn  # noqa: E402
from derivations.functions import step as step_fn  # noqa: E402

LUMPED_1 = "The lumped factor ∂z[2]/∂z[1] = W[2] diag(g'(z[1]))"
TRANSPOSE_1 = "From the row δ[1]ᵀ to the column δ[1]: (ABC)ᵀ = CᵀBᵀAᵀ"
SIGMOID_3 = "σ' in the form a(1 − a): ∂a[3]/∂z[3]"


def _step(d: Derivation, title: str) -> Step:
    found = [s for s in d.steps if s.title == title]
    assert len(found) == 1, [s.title for s in d.steps]
    return found[0]


def test_the_lumped_factor_of_the_walkthrough_is_2_by_4_and_proved() -> None:
    (d,) = derive(Network.from_spec(), layer=1, params=("delta",))
    lumped = _step(d, LUMPED_1)
    assert "holds ✓" in lumped.text and "(2×4)·(4×4) → (2×4)" in lumped.text
    assert [e.shape for e in lumped.equations] == [(2, 4), (2, 4)]
    # the reference, written by hand: column k of W[2] scaled by relu'(z[1]ₖ) = H(z[1]ₖ)
    sn = SymbolicNetwork(Network.from_spec())  # symbols are equal by name
    expected = sp.Matrix(2, 4, lambda i, k: sn.W[2][i, k] * step_fn(sn.z[1][k]))
    assert lumped.equations[1].rhs == expected
    assert sp.Matrix(lumped.equations[0].rhs.doit()) == expected  # W[2] · diag(H), unevaluated
    assert d.holds


def test_the_lumped_factor_appears_below_the_output_only_with_its_shape() -> None:
    shapes = {1: (2, 4), 2: (1, 2)}
    for d in derive(Network.from_spec(), params=("W", "b", "delta")):
        l = int(re.search(r"\[(\d)\]", d.title).group(1))  # type: ignore[union-attr]
        steps = [s for s in d.steps if s.title.startswith("The lumped factor")]
        transposed = [s for s in d.steps if s.title.startswith("From the row")]
        if l == 3:
            assert steps == [] and transposed == []
        else:
            assert [e.shape for e in steps[0].equations] == [shapes[l]] * 2
            assert len(transposed) == 1 and transposed[0].equations[0].shape == (shapes[l][1], 1)


def test_the_transposition_names_its_rule_and_is_proved() -> None:
    (d,) = derive(Network.from_spec(), layer=1, params=("delta",))
    step = _step(d, TRANSPOSE_1)
    for phrase in (
        "δ[1]ᵀ = δ[2]ᵀ W[2] diag(g'(z[1]))  ⇒  δ[1] = diag(g'(z[1])) W[2]ᵀ δ[2]",
        "= (W[2]ᵀ δ[2]) ⊙ g'(z[1])",
        "(ABC)ᵀ = CᵀBᵀAᵀ",
        "diag(·)ᵀ = diag(·)",
        "symmetric",
        "holds ✓",
    ):
        assert phrase in step.text, phrase
    sn = SymbolicNetwork(Network.from_spec())
    # the reference by hand: δ[1]ₖ = (Σⱼ W[2]ⱼₖ δ[2]ⱼ) H(z[1]ₖ)
    expected = sp.Matrix(
        [
            sum(sn.W[2][j, k] * sn.delta[2][j] for j in range(2)) * step_fn(sn.z[1][k])
            for k in range(4)
        ]
    )
    product_form, hadamard = step.equations
    assert product_form.shape == hadamard.shape == (4, 1)
    assert hadamard.rhs == expected
    assert chains.is_zero(sp.Matrix(product_form.rhs.doit()) - expected)


def test_sigmoid_derivative_is_also_shown_as_a_times_one_minus_a() -> None:
    (d,) = derive(Network.from_spec(), layer=3, params=("b",))
    step = _step(d, SIGMOID_3)
    assert "holds ✓" in step.text and "diag(a[3] ⊙ (1 − a[3]))" in step.text
    sn = SymbolicNetwork(Network.from_spec())
    s, a = sigmoid_fn(sn.z[3][0]), sn.a[3][0]
    sigma_form, a_form = step.equations
    assert sigma_form.rhs == sp.Matrix([[s * (1 - s)]]) and a_form.rhs == sp.Matrix([[a * (1 - a)]])
    assert sigma_form.shape == a_form.shape == (1, 1)
    # every walk-through derivation has the sigmoid output in its chain; relu layers get no σ step
    for each in derive(Network.from_spec(), params=("W", "b", "delta")):
        assert [t.title for t in each.steps if t.title.startswith("σ'")] == [SIGMOID_3]


def test_sigmoid_step_for_a_hidden_layer_and_never_for_an_abstract_one() -> None:
    net = Network.from_spec("2-3-1", "sigmoid,identity", "mse")
    (d,) = derive(net, layer=1, params=("W",))
    step = _step(d, "σ' in the form a(1 − a): ∂a[1]/∂z[1]")
    sn = SymbolicNetwork(net)
    assert step.equations[1].rhs == sp.diag(*[v * (1 - v) for v in sn.a[1]])
    assert step.equations[1].shape == (3, 3) and d.holds
    (abstract,) = derive(net, abstract=True, layer=1, params=("W",))
    assert not any(t.title.startswith("σ'") for t in abstract.steps)


def test_the_new_steps_render_in_every_format() -> None:
    (d,) = derive(Network.from_spec(), layer=1, params=("delta",))
    (out,) = derive(Network.from_spec(), layer=3, params=("delta",))
    unicode, latex, markdown = d.unicode(), d.latex(), d.markdown()
    assert LUMPED_1 in unicode and TRANSPOSE_1 in unicode
    lumped = unicode.split(LUMPED_1)[1].split(TRANSPOSE_1)[0]
    assert "∂z[2]/∂z[1] = " in lumped and lumped.count("    (2 × 4)\n") == 2
    transposed = unicode.split(TRANSPOSE_1)[1].split("The compact formula")[0]
    assert "δ[1] = " in transposed and transposed.count("    (4 × 1)\n") == 2
    lhs = r"\frac{\partial z^{[2]}}{\partial z^{[1]}} = "
    for text in (latex, markdown):
        assert lhs + r"\left(\begin{matrix}W^{[2]}_{11} H\left(z^{[1]}_{1}\right) & " in text
        assert r"\end{matrix}\right)\qquad (2 \times 4)" in text
    assert r"\paragraph{The lumped factor $\partial$z[2]/$\partial$z[1] = W[2] diag(g'(z[1]))}" in (
        latex
    )
    assert r"(ABC)$^\top$ = C$^\top$B$^\top$A$^\top$" in latex and r"$\Rightarrow$" in latex
    assert "### The lumped factor ∂z\\[2\\]/∂z\\[1\\] = W\\[2\\] diag(g'(z\\[1\\]))" in markdown
    assert "### From the row δ\\[1\\]ᵀ to the column δ\\[1\\]: (ABC)ᵀ = CᵀBᵀAᵀ" in markdown
    a_form = r"\frac{\partial a^{[3]}}{\partial z^{[3]}} = \left(\begin{matrix}a^{[3]}_{1} "
    assert a_form + r"\left(1 - a^{[3]}_{1}\right)\end{matrix}\right)\qquad (1 \times 1)" in (
        out.latex()
    )
    assert "∂a[3]/∂z[3] = [a[3]₁⋅(1 - a[3]₁)]    (1 × 1)" in out.unicode()
    assert "### σ' in the form a(1 − a): ∂a\\[3\\]/∂z\\[3\\]" in out.markdown()
    for text in (latex, out.latex()):
        assert text.isascii(), sorted({c for c in text if not c.isascii()})


def test_hidden_softmax_lumped_factor_and_transposition_hold_in_plain_ascii_latex() -> None:
    (d,) = derive(Network.from_spec("2-3-2", "softmax,tanh", "mse"), layer=1, params=("delta",))
    lumped = _step(d, "The lumped factor ∂z[2]/∂z[1] = W[2] (diag(a[1]) − a[1] a[1]ᵀ)")
    assert "holds ✓" in lumped.text and lumped.equations[1].shape == (2, 3)
    transposed = _step(d, TRANSPOSE_1)
    assert "is symmetric" in transposed.text and "holds ✓" in transposed.text
    assert d.holds and d.latex().isascii()


@settings(max_examples=15, deadline=None)
@given(net=networks(max_depth=3, max_width=3), abstract=st.booleans())
def test_the_new_steps_hold_for_random_small_networks(net: Network, abstract: bool) -> None:
    for d in derive(net, abstract=abstract, params=("delta",)):
        new = [
            s for s in d.steps if s.title.startswith(("The lumped factor", "From the row", "σ'"))
        ]
        assert all("holds ✓" in s.text for s in new) and d.holds
        l = int(re.search(r"δ\[(\d)\]", d.title).group(1))  # type: ignore[union-attr]
        if l < net.depth:
            lumped = next(s for s in new if s.title.startswith("The lumped factor"))
            assert lumped.equations[1].shape == (net.sizes[l + 1], net.sizes[l])


def test_a_lumped_factor_without_diag_g_prime_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    # ∂z[2]/∂z[1] = W[2] (the activation's factor forgotten) is refuted by Matrix.jacobian
    monkeypatch.setattr(derive_module, "lumped_factor", lambda sn, jac, l: sn.W[l + 1])
    (d,) = derive(Network.from_spec(), layer=1, params=("delta",))
    assert "FAILS ✗" in _step(d, LUMPED_1).text and not d.holds


def test_a_recursion_without_the_transpose_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    # (ABC)ᵀ taken as C B Aᵀ (W[2] not transposed; square, so the shapes still fit)
    def wrong(sn, jac, l):  # type: ignore[no-untyped-def]
        return jac[f"J_a{l}_z{l}"] * sn.W[l + 1] * sn.delta[l + 1]

    monkeypatch.setattr(derive_module, "column_recursion", wrong)
    (d,) = derive(Network.from_spec("2-2-2", "tanh,identity", "mse"), layer=1, params=("W",))
    assert "FAILS ✗" in _step(d, TRANSPOSE_1).text and not d.holds


def test_a_wrong_sigmoid_form_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(derive_module, "sigmoid_in_a", lambda a: sp.diag(*[v * (1 + v) for v in a]))
    (d,) = derive(Network.from_spec(), layer=3, params=("b",))
    assert "FAILS ✗" in _step(d, SIGMOID_3).text and not d.holds


def test_a_wrong_sigmoid_rule_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    # the rule itself is checked against d/dz 1/(1 + e^{−z}): σ' = σ (no 1 − σ) is refuted
    assert derive_module._sigmoid_rule_holds()
    monkeypatch.setattr(sigmoid_fn, "fdiff", lambda self, argindex=1: sigmoid_fn(self.args[0]))
    sp.core.cache.clear_cache()
    try:
        assert not derive_module._sigmoid_rule_holds()
        (d,) = derive(Network.from_spec(), layer=3, params=("b",))
        assert "FAILS ✗" in _step(d, SIGMOID_3).text and not d.holds
    finally:
        monkeypatch.undo()
        sp.core.cache.clear_cache()  # no derivative taken with the wrong rule outlives the test
