"""Plots: each PNG is written, not blank, 800 × 600; the numbers behind each are tested apart."""

from __future__ import annotations

import struct
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from jacobians.cli import main
from jacobians.network import Network
from jacobians.parameters import Parameters, init_parameters
from jacobians.plots import (
    chain_curves,
    chain_order,
    jacobian_panels,
    jacobian_title,
    sweep_curve,
)
from jacobians.rowlayout import chapter_example, matrix_function

needs_matplotlib = pytest.mark.skipif(
    __import__("importlib").util.find_spec("matplotlib") is None,
    reason="the plot extra is not installed",
)


def _png(path: Path) -> tuple[int, int, np.ndarray]:
    import matplotlib.image

    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height, matplotlib.image.imread(path)


@needs_matplotlib
@pytest.mark.parametrize(
    "argv",
    [
        ["chain", "square", "sigmoid"],
        ["sweep"],
        ["jacobians", "--sizes", "3,4,2,1"],
        ["chain", "leaky_relu:0.2", "tanh", "--range", "-2", "2"],
    ],
)
def test_plot_writes_a_png_of_the_stated_size(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    out = tmp_path / "plot.png"
    assert main(["plot", *argv, "-o", str(out)]) == 0
    assert "800 × 600 pixels" in capsys.readouterr().out
    width, height, pixels = _png(out)
    assert (width, height) == (800, 600)
    assert pixels.std() > 0.05  # not blank: lines and heatmaps on a white background


def test_chain_curve_numbers() -> None:
    c = chain_curves(["square", "sigmoid"], -2.0, 2.0, points=401, numeric_points=41)
    s = 1 / (1 + np.exp(-(c.x**2)))
    np.testing.assert_allclose(c.value, s, rtol=1e-15)
    np.testing.assert_allclose(c.derivative, s * (1 - s) * 2 * c.x, rtol=1e-12, atol=1e-15)
    # the numeric points lie on the chain rule's curve (grids share every 10th point)
    np.testing.assert_allclose(c.numeric, c.derivative[::10], rtol=1e-5, atol=1e-7)


def test_sweep_curve_numbers() -> None:
    X, W = chapter_example()
    s = sweep_curve(X, W, (0, 0), span=1.0, points=201)
    mf = matrix_function(X, W)
    assert s.x0 == X[0, 0] and s.L0 == mf.L and s.slope == mf.dLdX[0, 0]
    mid = 100  # t[100] is the current value: curve and tangent touch there
    assert s.t[mid] == pytest.approx(X[0, 0]) and s.loss[mid] == pytest.approx(mf.L)
    assert s.tangent[mid] == pytest.approx(mf.L)
    # a true tangent: its error grows like the square of the distance (here d = 0.02 and 0.1,
    # so the ratio is near 25); a line of any other slope would be off linearly (ratio 5)
    near, far = (abs(s.loss[mid + k] - s.tangent[mid + k]) for k in (2, 10))
    assert 20 < far / near < 30


def test_jacobian_panels_show_the_layers_structure() -> None:
    # independent of the code that builds them: J_z1_W1 has the input x in its block rows,
    # J_a1_z1 has relu'(W1 x + b1) on its diagonal, J_z2_a1 is W2
    net = Network.from_spec()
    params = init_parameters(net, 8)
    panels = dict(jacobian_panels(net, params))
    x = params.x[:, 0]
    z1 = params.W[0] @ x + params.b[0]
    for i in range(4):
        row = np.zeros(12)
        row[3 * i : 3 * i + 3] = x
        np.testing.assert_array_equal(panels["J_z1_W1"][i], row)
    np.testing.assert_array_equal(panels["J_a1_z1"], np.diag((z1 > 0).astype(float)))
    np.testing.assert_array_equal(panels["J_z2_a1"], params.W[1])
    assert [name for name, _ in jacobian_panels(net, params)][:2] == ["J_L_a3", "J_a3_z3"]


def test_a_convolutional_network_shows_its_staircase_and_its_band() -> None:
    # independent of the layers' code: J_z1_W1 = I ⊗ U with U the windows of x (loops), and
    # J_z1_a0 the Toeplitz band, built entry by entry in tests/references.py
    from . import references as ref

    net = Network.from_layers("conv2d(2, 2), relu, maxpool(2), flatten, dense(1), sigmoid", "1x4x4")
    params = init_parameters(net, 8)
    panels = dict(jacobian_panels(net, params))
    x, W = params.x[..., 0], params["W1"]
    np.testing.assert_allclose(panels["J_z1_W1"], np.kron(np.eye(2), ref.im2row(x, 2, 1, 0)))
    np.testing.assert_allclose(panels["J_z1_a0"], ref.conv_input_jacobian(W, 1, 4, 4, 1, 0))
    selection = panels["J_a2_a1"]
    assert selection.shape == (2, 18) and (selection.sum(axis=1) == 1).all()


def test_the_jacobians_plot_obeys_the_memory_budget(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "x.png"
    assert (
        main(["plot", "jacobians", "--sizes", "8,8,1", "--memory-budget", "1K", "-o", str(out)])
        == 2
    )
    assert "memory budget of 1 KiB, got J_z1_W1 of shape 8×64" in capsys.readouterr().err
    # the first convolution's Toeplitz matrix is drawn too, so it counts (64 × 64, 32 KiB)
    spec = "conv2d(1, 3, padding=1), maxpool(2), flatten, dense(1)"
    argv = ["plot", "jacobians", "--input", "1x8x8", "--layers", spec, "--loss", "mse"]
    assert main([*argv, "--memory-budget", "16K", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "plot: expected dense Jacobians within the memory budget of 16 KiB, got J_a1_a0 " in err
    assert "draw a smaller network, or raise --memory-budget" in err
    assert not out.exists()


def test_plot_without_matplotlib_says_how_to_install(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert main(["plot", "sweep", "-o", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert (
        "matplotlib is not installed; install the plot extra: "
        "python -m pip install 'jacobians[plot]'" in err
    )
    assert not (tmp_path / "x.png").exists()


@needs_matplotlib
@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["chain", "relu", "--range", "2", "1"], "--range: expected LO < HI, got 2 1"),
        (["chain", "square", "--range", "0", "1e-300"], "range: expected LO < HI, apart enough"),
        (["sweep", "--span", "1e308"], "span: expected finite values to plot, got an overflow"),
        (["chain", "relu", "-o", "x.jpg"], "--output: expected a file name ending in .png"),
        (["sweep", "--entry", "4", "1"], "--entry: expected I ≤ 3 and J ≤ 3, got 4 1"),
        (
            ["chain", "relu", "-o", "/no/such/folder/x.png"],
            "--output: expected a file in an existing folder",
        ),
    ],
)
def test_plot_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], expected: str
) -> None:
    if "-o" not in argv:
        argv = [*argv, "-o", str(tmp_path / "x.png")]
    assert main(["plot", *argv]) == 2
    assert expected in capsys.readouterr().err


def _figure_panels(net: Network, params: Parameters) -> list[tuple[Any, Any]]:
    """The heatmap axes of :func:`jacobians_figure`, each with its image's array, in order."""
    from jacobians.plots import jacobians_figure

    fig = jacobians_figure(net, params)
    fig.canvas.draw()
    return [(ax, ax.images[0]) for ax in fig.axes if ax.images]


@needs_matplotlib
def test_jacobian_panels_are_titled_in_partial_notation_in_chain_order() -> None:
    net = Network.from_spec()
    panels = _figure_panels(net, init_parameters(net, 8))
    titles = [ax.get_title().split("\n")[0].rstrip("*") for ax, _ in panels]
    assert titles == [
        "∂L/∂a[3]",
        "∂a[3]/∂z[3]",
        "∂L/∂z[3]  (fused)",
        "∂z[3]/∂a[2]",
        "∂z[3]/∂vec(W[3])",
        "∂z[3]/∂b[3]",
        "∂a[2]/∂z[2]",
        "∂z[2]/∂a[1]",
        "∂z[2]/∂vec(W[2])",
        "∂z[2]/∂b[2]",
        "∂a[1]/∂z[1]",
        "∂z[1]/∂vec(W[1])",
        "∂z[1]/∂b[1]",
    ]


def test_a_residual_block_is_shown_as_the_chain_meets_it() -> None:
    # backward from the loss, a block's whole Jacobian comes first, then the path through f
    # from the block's output inwards; the nested block likewise, inside the outer one
    net = Network.from_layers(
        "dense(2), residual(dense(2), tanh, residual(dense(2), relu)), dense(1), sigmoid", "2"
    )
    names = [name for name, _ in jacobian_panels(net, init_parameters(net, 3))]
    titles = [jacobian_title(net, name) for name in chain_order(net, names)]
    assert titles[titles.index("∂z[3]/∂b[3]") + 1 :] == [
        "∂a[2]/∂a[1]",
        "∂a[2]/∂a[2_2]",
        "∂a[2_2]/∂a[2_1]",
        "∂a[2_2]/∂a[2_2_1]",
        "∂a[2_2_1]/∂z[2_2_1]",
        "∂z[2_2_1]/∂a[2_1]",
        "∂z[2_2_1]/∂vec(W[2_2_1])",
        "∂z[2_2_1]/∂b[2_2_1]",
        "∂a[2_1]/∂z[2_1]",
        "∂z[2_1]/∂a[1]",
        "∂z[2_1]/∂vec(W[2_1])",
        "∂z[2_1]/∂b[2_1]",
        "∂a[1]/∂a[0]",
        "∂a[1]/∂vec(W[1])",
        "∂a[1]/∂b[1]",
    ]
    assert sorted(chain_order(net, names)) == sorted(names)


def test_batch_norm_panels_name_gamma_and_beta_as_derive_does() -> None:
    # derive writes the batch-norm parameters as γ[2] and β[2]; the titles must agree.
    net = Network.from_layers("dense(2), batchnorm, sigmoid", "2")
    titles = {jacobian_title(net, name, 4) for name in ("J_z2_gamma2", "J_z2_beta2")}
    assert titles == {"∂z[2]/∂γ[2]", "∂z[2]/∂β[2]"}


@needs_matplotlib
@pytest.mark.parametrize(
    ("layers", "shape", "batch"),
    [
        (None, "", 1),
        ("conv2d(2, 2), relu, maxpool(2), flatten, dense(1), sigmoid", "1x4x4", 1),
        ("dense(2), batchnorm, sigmoid", "2", 4),
        ("attention(2, d_v=3)", "4x3", 1),
    ],
)
def test_jacobian_panels_are_drawn_to_one_scale_on_their_own_colours(
    layers: str | None, shape: str, batch: int
) -> None:
    net = Network.from_spec() if layers is None else Network.from_layers(layers, shape)
    params = init_parameters(net, 3, batch)
    panels = _figure_panels(net, params)
    assert len(panels) == len(jacobian_panels(net, params))
    cells = set()
    for ax, image in panels:
        J = np.asarray(image.get_array())
        rows, cols = J.shape
        box = ax.get_window_extent()
        # proportional: the box is cols × rows cells (a panel marked * is at least 6 px)
        if not ax.get_title().split("\n")[0].endswith("*"):
            assert box.width / box.height == pytest.approx(cols / rows, rel=1e-6)
            cells.add(round(box.width / cols, 6))
        # its own colour scale, symmetric about 0, up to its largest entry in absolute value
        top = float(np.max(np.abs(J)))
        assert image.get_clim() == (-top, top)
        assert f"{rows}×{cols}, max |entry| {top:.3g}" in ax.get_title()
        # rows and columns say what they index
        assert ax.get_xlabel() and ax.get_ylabel()
        assert "∂" in ax.get_title() and "J_" not in ax.get_title()
    assert len(cells) == 1  # one cell size in every panel


@needs_matplotlib
def test_jacobian_panels_label_their_rows_and_columns() -> None:
    net = Network.from_spec()
    panels = {
        ax.get_title().split("\n")[0]: ax for ax, _ in _figure_panels(net, init_parameters(net, 8))
    }
    dW2 = panels["∂z[2]/∂vec(W[2])"]
    assert dW2.get_xlabel() == "vec(W[2]): 2×4, row-major"
    assert dW2.get_ylabel() == "z[2]"
    ticks = [t.get_text() for t in dW2.get_xticklabels()]
    assert ticks == ["1,1", "1,2", "1,3", "1,4", "2,1", "2,2", "2,3", "2,4"]
    assert [t.get_text() for t in dW2.get_yticklabels()] == ["1", "2"]
    loss = panels["∂L/∂a[3]"]
    assert (loss.get_ylabel(), loss.get_xlabel()) == ("L", "a[3]")


@needs_matplotlib
def test_a_big_jacobian_is_labelled_by_ranges_and_the_scaling_is_stated() -> None:
    net = Network.from_spec("30-30-1", "relu,sigmoid")
    from jacobians.plots import jacobians_figure

    fig = jacobians_figure(net, init_parameters(net, 1))
    notes = " ".join(t.get_text() for t in fig.texts)
    assert "one cell = 0.8" in notes and "a cell is under a pixel" in notes
    assert "* drawn 6 px thick to be seen" in notes
    assert "each panel coloured by its own max |entry|" in notes
    (wide,) = [ax for ax in fig.axes if ax.get_title().startswith("∂z[1]/∂vec(W[1])")]
    ticks = [t.get_text() for t in wide.get_xticklabels()]
    assert 2 < len(ticks) < 40 and ticks[0] == "1,1" and ticks[-1] == "30,30"
    assert wide.get_xlabel() == "vec(W[1]): 30×30, row-major"


def test_panel_layout_keeps_every_panel_in_proportion_inside_the_figure() -> None:
    from jacobians.plots import MIN_SIDE, panel_layout

    shapes = [(1, 1), (1, 8), (4, 4), (4, 12), (2, 200)]
    layout = panel_layout(shapes, [12] * 5, 800, 600)
    for (r, c), (x, y, w, h), big in zip(shapes, layout.boxes, layout.enlarged, strict=True):
        assert (w, h) == (max(c * layout.cell, MIN_SIDE), max(r * layout.cell, MIN_SIDE))
        assert big == (min(r, c) * layout.cell < MIN_SIDE)
        assert 0 <= x and x + w <= 800 and 0 <= y and y + h <= 600
    assert layout.enlarged == (True, True, False, False, False)
    # the widest panel sets the cell: 200 columns, with its margins, fill the 800 pixels
    assert 3 < layout.cell < 800 / 200


def test_panel_layout_that_cannot_fit_is_refused() -> None:
    from jacobians.errors import InvalidValueError
    from jacobians.plots import panel_layout

    with pytest.raises(InvalidValueError, match="plot: expected panels that fit 200 × 100 pixels"):
        panel_layout([(1, 1)] * 10, [10] * 10, 200, 100)
