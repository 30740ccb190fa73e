"""Guards and errors: the Jacobian plot is refused, from the shapes alone, beyond the memory
budget; an unknown option is reported by the subcommand it was given to; the Python API's
``compare`` takes ``sample="all"`` as the command line does."""

from __future__ import annotations

import re
import subprocess
import sys
import tracemalloc
import types
from pathlib import Path

import numpy as np
import pytest

from jacobians import plots
from jacobians.cli import main
from jacobians.comparison import SAMPLE, SAMPLE_ABOVE, compare, sample_size
from jacobians.errors import InvalidValueError
from jacobians.network import Network
from jacobians.parameters import init_parameters


def _nothing_may_be_built(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make drawing, building the panels or drawing parameters an error, and let ``import
    matplotlib`` succeed whether or not it is installed (an empty module: anything drawn
    from it fails)."""

    def built(*_: object, **__: object) -> None:
        raise AssertionError("built before the memory budget was checked")

    monkeypatch.setitem(sys.modules, "matplotlib", types.ModuleType("matplotlib"))
    monkeypatch.setattr("jacobians.parameters.init_parameters", built)
    monkeypatch.setattr(plots, "jacobian_panels", built)
    monkeypatch.setattr(plots, "_figure", built)


def test_a_plot_of_500_500_1_is_refused_before_anything_is_built(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # its largest Jacobian, J_z1_W1 (500 × 250000, 1e9 bytes), fits the 1 GiB budget, as it
    # does for compare --jacobians dense; drawing all of them took 61 s and 9.9 GB
    _nothing_may_be_built(monkeypatch)
    monkeypatch.delenv("JACOBIANS_MEMORY_BUDGET", raising=False)
    out = tmp_path / "x.png"
    tracemalloc.start()
    try:
        code = main(["plot", "jacobians", "--sizes", "500,500,1", "-o", str(out)])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    err = capsys.readouterr().err
    assert code == 2
    assert peak < 2**20  # shapes only: not a single Jacobian (J_z1_W1 alone is 1e9 bytes)
    assert err.count("\n") == 1
    assert err == (
        "jacobians plot: error: memory budget: expected a plot that fits 1 GiB while drawn, got "
        "500-500-1: its Jacobians take 957 MiB, about 9.35 GiB to draw (10 copies while "
        "matplotlib draws; the largest, J_z1_W1, is 500×250000); draw a smaller network "
        "(--sizes, --layers, --batch), or raise --memory-budget to 9.4G\n"
    )
    assert not out.exists()


def test_the_suggested_budget_is_enough(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # 8-8-1 holds 8·(1+1+8+8+1+64+512+64+1) = 5,280 bytes of Jacobians: 52,800 to draw
    net = Network.from_spec("8-8-1", "relu,sigmoid")
    assert plots.panel_bytes(net) == 5280
    plots.check_plot_memory(net, 1, 52_800)  # exactly the budget: drawn
    with pytest.raises(InvalidValueError, match=r"about 51\.6 KiB to draw .* to 1M$"):
        plots.check_plot_memory(net, 1, 52_799)
    _nothing_may_be_built(monkeypatch)
    argv = ["plot", "jacobians", "--sizes", "8,8,1", "--activations", "relu,sigmoid"]
    assert main([*argv, "--memory-budget", "52799", "-o", str(tmp_path / "x.png")]) == 2
    assert "or raise --memory-budget to 1M\n" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("net", "batch"),
    [
        (Network.from_spec(), 1),
        (Network.from_spec("4-5-3", "tanh,softmax", "ce"), 3),
        (Network.from_layers("conv2d(2, 3, padding=1), relu, flatten, dense(1)", "1x4x4"), 1),
        (Network.from_layers("dense(3), batchnorm, relu, dense(1)", 2, "mse"), 4),
    ],
)
def test_panel_bytes_are_those_of_the_panels_drawn(net: Network, batch: int) -> None:
    """The estimate counts every panel, the convolution's Toeplitz matrix and a coupled
    batch's Jacobians included, from the shapes alone."""
    panels = plots.jacobian_panels(net, init_parameters(net, 8, batch))
    assert plots.panel_bytes(net, batch) == sum(J.nbytes for _, J in panels)


def test_a_coupled_batch_is_counted_whole() -> None:
    """Batch norm couples the examples: its batch Jacobian alone is ``(3·64)²`` entries, more
    than 64 examples' own Jacobians."""
    net = Network.from_layers("dense(3), batchnorm, relu, dense(1)", 2, "mse")
    assert plots.panel_bytes(net, 64) > 8 * (3 * 64) ** 2 > 64 * plots.panel_bytes(net, 1)
    with pytest.raises(
        InvalidValueError,
        match=r"^memory budget: .* got the network on inputs 2 with a batch of 64",
    ):
        plots.check_plot_memory(net, 64, 2**20)


def test_draw_jacobians_is_refused_in_the_api(monkeypatch: pytest.MonkeyPatch) -> None:
    net = Network.from_spec("8-8-1", "relu,sigmoid")
    params = init_parameters(net, 8)
    _nothing_may_be_built(monkeypatch)
    with pytest.raises(
        InvalidValueError, match=r"^memory budget: expected a plot that fits 10 KiB"
    ):
        plots.draw_jacobians(net, params, "unused.png", memory_budget=10 * 2**10)


SUBCOMMANDS = [
    ("compare", ["compare"]),
    ("derive", ["derive"]),
    ("check", ["check", "exercise.toml", "answers.toml"]),
    ("exercises new", ["exercises", "new", "walkthrough"]),
    ("plot", ["plot"]),  # before its KIND: the plot command's own option
    ("plot jacobians", ["plot", "jacobians", "-o", "x.png"]),
    ("plot chain", ["plot", "chain", "relu", "-o", "x.png"]),
]


@pytest.mark.parametrize(("prog", "argv"), SUBCOMMANDS)
def test_an_unknown_option_is_reported_by_its_subcommand(
    capsys: pytest.CaptureFixture[str], prog: str, argv: list[str]
) -> None:
    if prog == "plot":
        argv = [*argv, "--bogus", "jacobians", "-o", "x.png"]
    else:
        argv = [*argv, "--bogus"]
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == (
        f"jacobians {prog}: error: unrecognized arguments: --bogus (see jacobians {prog} --help)\n"
    )


def test_an_unknown_option_before_the_subcommand_is_the_top_level_s(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--bogus", "compare"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.startswith("jacobians: error: unrecognized arguments: --bogus")


def test_a_stray_argument_is_reported_by_its_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["compare", "--sizes", "3,2", "extra", "--bogus=1"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.startswith(
        "jacobians compare: error: unrecognized arguments: extra --bogus=1 (see"
    )


def test_the_command_reports_an_unknown_option_without_a_traceback() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "jacobians", "compare", "--bogus"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == (
        "jacobians compare: error: unrecognized arguments: --bogus (see jacobians compare --help)\n"
    )


def test_compare_takes_sample_all_as_the_command_line_does() -> None:
    net = Network.from_spec()
    params = init_parameters(net, 8, 2)
    every = compare(net, params, sample="all")
    assert every.numerical.sample is None
    assert all(checked.all() for checked in every.numerical.checked.values())
    unsampled = compare(net, params, sample=None)
    for name, gradient in every.numerical.gradients.items():
        np.testing.assert_array_equal(gradient, unsampled.numerical.gradients[name])
    assert every.agree


def test_sample_all_differentiates_every_parameter_where_auto_samples() -> None:
    net = Network.from_spec("50-40-1", "relu,sigmoid")  # 2,081 parameters
    assert net.parameter_count > SAMPLE_ABOVE
    assert sample_size(net, "auto") == SAMPLE
    assert sample_size(net, "all") is None
    assert sample_size(net, None) is None
    assert sample_size(net, 3) == 3


@pytest.mark.parametrize("sample", ["every", "ALL", "", "20", 0, -1, True, 2.5])
def test_a_bad_sample_is_refused_with_the_choices(sample: object) -> None:
    net = Network.from_spec()
    with pytest.raises(
        InvalidValueError,
        match=(
            rf"^sample: expected 'all', 'auto', a whole number ≥ 1 or None, got {re_repr(sample)}; "
            r"'all' differentiates every parameter, 'auto' samples above 2,000 parameters$"
        ),
    ):
        compare(net, init_parameters(net, 8), sample=sample)  # type: ignore[arg-type]


@pytest.mark.parametrize("sample", ["ALL", "1.5", "0", "every"])
def test_a_bad_sample_on_the_command_line_names_every_choice(
    sample: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # it said "expected a whole number", though auto and all are taken too
    with pytest.raises(SystemExit) as exit_info:
        main(["compare", "--sample", sample])
    assert exit_info.value.code == 2
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err
    assert f"--sample: expected auto, all or a whole number ≥ 1, got {sample!r}" in err


def re_repr(value: object) -> str:
    """``repr(value)`` as a regular expression that matches it literally."""
    return re.escape(repr(value))
