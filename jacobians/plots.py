"""Pictures of functions, derivatives and Jacobians (the ``plot`` extra: matplotlib).

Each plot has a data function (tested on its numbers) and a drawing function that writes a
PNG with the Agg backend. matplotlib is imported only inside the drawing functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from math import ceil
from pathlib import Path
from typing import Any

import numpy as np

from ._typing import FloatArray, Matrix
from .chainrule import DEFAULT_STEP, chain_value, elementwise_link, numeric_derivative
from .chains import DEFAULT_MEMORY_BUDGET, _bytes, example_jacobians
from .errors import InvalidValueError, message
from .network import Network, forward
from .parameters import Parameters
from .paths import coupled, jacobian_shapes, largest_dense
from .rowlayout import matrix_function

SIZE = (8.0, 6.0)
DPI = 100
"""Every plot is ``SIZE`` inches at ``DPI``: 800 × 600 pixels unless told otherwise."""


@dataclass(frozen=True)
class ChainCurves:
    """A chain and its derivative on a grid; the numeric derivative on a coarser one."""

    x: FloatArray
    value: FloatArray
    derivative: FloatArray
    x_numeric: FloatArray
    numeric: FloatArray


def chain_curves(
    names: Sequence[str],
    lo: float = -3.0,
    hi: float = 3.0,
    points: int = 400,
    numeric_points: int = 25,
    step: float = DEFAULT_STEP,
) -> ChainCurves:
    """``f(x)`` and the chain rule's ``f'(x) = Π_k f_k'(u_{k-1})`` on ``points`` values in
    ``[lo, hi]``; the central difference of the whole chain on ``numeric_points`` of them."""
    if not hi - lo > 1e-9 * max(1.0, abs(lo), abs(hi)):
        raise InvalidValueError(message("range", "LO < HI, apart enough to draw", f"{lo:g} {hi:g}"))
    x = np.linspace(lo, hi, points)
    u, slope = x, np.ones_like(x)
    for i, name in enumerate(names, start=1):
        g = elementwise_link(name, f"function {i}")
        slope = slope * g.derivative(u)
        u = g(u)
    xn = np.linspace(lo, hi, numeric_points)
    with np.errstate(all="ignore"):
        numeric = numeric_derivative(lambda v: chain_value(names, v), xn, step)
    _finite("range", u, slope, numeric)
    return ChainCurves(x, u, slope, xn, numeric)


@dataclass(frozen=True)
class SweepCurve:
    """``L`` as ``X[i, j]`` moves, and the tangent at the current value."""

    t: FloatArray
    loss: FloatArray
    tangent: FloatArray
    x0: float
    L0: float
    slope: float


def sweep_curve(
    X: Matrix,
    W: Matrix,
    index: tuple[int, int] = (0, 0),
    span: float = 3.0,
    points: int = 200,
    activation: str = "sigmoid",
) -> SweepCurve:
    """``L(X with X[i, j] = t)`` for ``t`` within ``span`` of the current value, and the line
    through ``(x0, L0)`` with slope ``∂L/∂X[i, j]`` from the formula."""
    base = matrix_function(X, W, activation)
    x0 = float(X[index])
    with np.errstate(all="ignore"):
        t = np.linspace(x0 - span, x0 + span, points)
        loss = np.empty_like(t)
        for k, value in enumerate(t):
            moved = np.array(X, dtype=np.float64)
            moved[index] = value
            loss[k] = matrix_function(moved, W, activation).L
        slope = float(base.dLdX[index])
        tangent = base.L + slope * (t - x0)
    _finite("span", t)
    _finite("span", loss, tangent)
    return SweepCurve(t, loss, tangent, x0, base.L, slope)


DRAWING_COPIES = 10
"""Bytes matplotlib holds per byte of a heatmap's matrix while it draws (its float copy, the
normalised and masked arrays, the resampling): measured 10.1 on 200-200-1 and 300-300-1 (peak
resident memory 0.73 and 2.2 GB for 64 and 217 MB of Jacobians)."""


def panel_bytes(net: Network, batch: int = 1) -> int:
    """Bytes of every panel :func:`jacobian_panels` builds, dense float64, from the shapes alone
    (``batch`` examples when the network couples them, else one).

    >>> panel_bytes(Network.from_spec())  # 3-4-2-1: 1+1+2+2+1+1, 4+8+16+4, 16+48+16 entries
    960
    """
    first = not net.is_dense
    joint = batch if coupled(net) else 1
    return sum(8 * r * c for r, c in jacobian_shapes(net, first, joint).values())


def check_plot_memory(net: Network, batch: int, memory_budget: int) -> None:
    """Refuse, from the shapes alone and before anything is built, a Jacobian plot beyond
    ``memory_budget`` bytes: as ``compare --jacobians dense``, its largest dense Jacobian; then
    what drawing them all takes, ``DRAWING_COPIES`` × :func:`panel_bytes`."""
    first = not net.is_dense
    joint = batch if coupled(net) else 1
    name, shape = _check_largest(net, first, joint, memory_budget)
    held = panel_bytes(net, batch)
    drawing = DRAWING_COPIES * held
    if drawing > memory_budget:
        shown = "x".join(map(str, net.input_shape))
        label = net.spec if net.is_dense else f"the network on inputs {shown}"
        if joint > 1:
            label += f" with a batch of {joint}"
        raise InvalidValueError(
            message(
                "memory budget",
                f"a plot that fits {_bytes(memory_budget)} while drawn",
                f"{label}: its Jacobians take {_bytes(held)}, about {_bytes(drawing)} to draw "
                f"({DRAWING_COPIES} copies while matplotlib draws; the largest, {name}, is "
                f"{shape[0]}×{shape[1]})",
                "draw a smaller network (--sizes, --layers, --batch), or raise --memory-budget "
                f"to {_size_option(drawing)}",
            )
        )


def _check_largest(
    net: Network, first: bool, batch: int, memory_budget: int
) -> tuple[str, tuple[int, int]]:
    """Refuse, as ``compare --jacobians dense`` does, a largest dense Jacobian beyond
    ``memory_budget`` bytes; return its name and shape."""
    name, shape, size = largest_dense(net, first, batch)
    if size > memory_budget:
        raise InvalidValueError(
            message(
                "plot",
                f"dense Jacobians within the memory budget of {_bytes(memory_budget)}",
                f"{name} of shape {shape[0]}×{shape[1]}, {size:,} bytes ({_bytes(size)})",
                "draw a smaller network, or raise --memory-budget",
            )
        )
    return name, shape


def _size_option(size: int) -> str:
    """``size`` bytes, rounded up, as ``--memory-budget`` reads it: ``9.4G``, ``640M``."""
    if size > 2**30:
        return f"{ceil(size * 10 / 2**30) / 10:g}G"
    return f"{ceil(size / 2**20)}M"


def jacobian_panels(
    net: Network, params: Parameters, memory_budget: int = DEFAULT_MEMORY_BUDGET
) -> list[tuple[str, Matrix]]:
    """Every Jacobian factor of example 0, from the loss side to the input side, dense; for a
    network other than the dense shorthand also the first layer's input Jacobian (a
    convolution's Toeplitz band); for a network whose examples are coupled (batch norm) and
    a batch, the batch Jacobians. Refused, as ``compare --jacobians dense`` is, when the
    largest would exceed ``memory_budget`` bytes."""
    first = not net.is_dense
    batch = params.batch if coupled(net) else 1
    _check_largest(net, first, batch, memory_budget)
    if batch > 1:  # the examples are coupled: the batch's Jacobians, the only ones there are
        from .batchchain import batch_jacobians

        jac = batch_jacobians(net, params, "dense", first_input=first)
    else:
        jac = example_jacobians(net, params, forward(net, params), first_input=first)
    return list(jac.items())


def _figure(size: tuple[float, float]) -> Any:
    """A matplotlib Figure drawn by the Agg canvas, without pyplot: no global backend is set,
    so a notebook's own backend is left alone."""
    from matplotlib.figure import Figure

    return Figure(figsize=size)


def _save(fig: Any, out: str | Path) -> Path:
    path = Path(out)
    try:
        fig.savefig(path, dpi=DPI, format="png")
    except OSError as e:
        raise InvalidValueError(
            message("output", "a writable PNG file", f"{path}: {e.strerror}")
        ) from None
    return path


def _finite(what: str, *arrays: FloatArray) -> None:
    if not all(np.all(np.isfinite(a)) for a in arrays):
        raise InvalidValueError(
            message(
                what,
                "finite values to plot",
                "an overflow (inf or nan)",
                "choose a smaller range or span",
            )
        )


def draw_chain(
    names: Sequence[str],
    out: str | Path,
    lo: float = -3.0,
    hi: float = 3.0,
    size: tuple[float, float] = SIZE,
) -> Path:
    """The chain over ``[lo, hi]`` (top) and its derivative (bottom): the chain rule's curve
    with the numeric derivative's points on it."""
    c = chain_curves(names, lo, hi)
    fig = _figure(size)
    top, bottom = fig.subplots(2, 1, sharex=True)
    title = " ∘ ".join(reversed(list(names)))
    top.plot(c.x, c.value, color="C0")
    top.set_ylabel("f(x)")
    top.set_title(f"f = {title}")
    bottom.plot(c.x, c.derivative, color="C1", label="chain rule  Π f_k'(u_{k-1})")
    bottom.plot(c.x_numeric, c.numeric, "o", color="C2", ms=4, label="central difference")
    bottom.set_xlabel("x")
    bottom.set_ylabel("f'(x)")
    bottom.legend()
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return _save(fig, out)


def draw_sweep(
    X: Matrix,
    W: Matrix,
    out: str | Path,
    index: tuple[int, int] = (0, 0),
    span: float = 3.0,
    size: tuple[float, float] = SIZE,
) -> Path:
    """``L`` as one entry of ``X`` moves, with the tangent of slope ``∂L/∂X[i, j]``."""
    s = sweep_curve(X, W, index, span)
    fig = _figure(size)
    ax = fig.subplots()
    i, j = index
    ax.plot(s.t, s.loss, color="C0", label=f"L as x[{i + 1},{j + 1}] moves")
    ax.plot(s.t, s.tangent, "--", color="C1", label=f"tangent, slope ∂L/∂x = {s.slope:.4f}")
    ax.plot([s.x0], [s.L0], "o", color="C3")
    ax.set_xlabel(f"x[{i + 1},{j + 1}]")
    ax.set_ylabel("L = Λ(σ(X W))")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return _save(fig, out)


def draw_jacobians(
    net: Network,
    params: Parameters,
    out: str | Path,
    size: tuple[float, float] = SIZE,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
) -> Path:
    """Every Jacobian factor as a heatmap titled with its name and shape: for a convolutional
    network the staircase of ``I ⊗ U`` and the band of the Toeplitz matrix among them.
    Refused before anything is built when drawing would exceed ``memory_budget`` bytes
    (:func:`check_plot_memory`)."""
    check_plot_memory(net, params.batch, memory_budget)
    panels = jacobian_panels(net, params, memory_budget)
    fig = _figure(size)
    cols = min(4, len(panels))
    rows = -(-len(panels) // cols)
    axes = fig.subplots(rows, cols, squeeze=False)
    # one colour scale for every panel, so signs and sizes compare across factors; set by the
    # layers' Jacobians, not by the loss rows (∂L/∂ŷ can be 30 where the layers are below 1:
    # a loss row beyond the scale is drawn at its end and says so)
    layers = [J for name, J in panels if not name.startswith("J_L_")] or [J for _, J in panels]
    limit = max(float(np.max(np.abs(J))) for J in layers) or 1.0
    image = None
    for ax, (name, J) in zip(axes.flat, panels, strict=False):
        clipped = "  (clipped)" if float(np.max(np.abs(J))) > limit else ""
        wide = J.shape[1] > 8 * J.shape[0]  # stretch very wide factors so blocks stay visible
        image = ax.imshow(
            J,
            cmap="RdBu_r",
            vmin=-limit,
            vmax=limit,
            interpolation="nearest",
            aspect="auto" if wide else "equal",
        )
        ax.set_title(f"{name}  {J.shape[0]}×{J.shape[1]}{clipped}", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    shape = "x".join(map(str, net.input_shape))
    title = net.spec if net.is_dense else f"the network on inputs {shape}"
    which = f"a batch of {params.batch}" if coupled(net) and params.batch > 1 else "example 0"
    fig.suptitle(f"Jacobians of {title} ({which}); one colour scale for all")
    fig.tight_layout()
    if image is not None:
        fig.colorbar(image, ax=list(axes.flat), shrink=0.6)
    return _save(fig, out)
