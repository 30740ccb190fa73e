"""Pictures of functions, derivatives and Jacobians (the ``plot`` extra: matplotlib).

Each plot has a data function (tested on its numbers) and a drawing function that writes a
PNG with the Agg backend. matplotlib is imported only inside the drawing functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ._typing import FloatArray, Matrix
from .chainrule import DEFAULT_STEP, chain_value, elementwise_link, numeric_derivative
from .chains import example_jacobians
from .errors import InvalidValueError, message
from .network import Network, forward
from .parameters import Parameters
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
    x = np.linspace(lo, hi, points)
    u, slope = x, np.ones_like(x)
    for i, name in enumerate(names, start=1):
        g = elementwise_link(name, f"function {i}")
        slope = slope * g.derivative(u)
        u = g(u)
    xn = np.linspace(lo, hi, numeric_points)
    numeric = numeric_derivative(lambda v: chain_value(names, v), xn, step)
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
    span: float = 1.0,
    points: int = 200,
    activation: str = "sigmoid",
) -> SweepCurve:
    """``L(X with X[i, j] = t)`` for ``t`` within ``span`` of the current value, and the line
    through ``(x0, L0)`` with slope ``∂L/∂X[i, j]`` from the formula."""
    base = matrix_function(X, W, activation)
    x0 = float(X[index])
    t = np.linspace(x0 - span, x0 + span, points)
    loss = np.empty_like(t)
    for k, value in enumerate(t):
        moved = np.array(X, dtype=np.float64)
        moved[index] = value
        loss[k] = matrix_function(moved, W, activation).L
    slope = float(base.dLdX[index])
    return SweepCurve(t, loss, base.L + slope * (t - x0), x0, base.L, slope)


def jacobian_panels(net: Network, params: Parameters) -> list[tuple[str, Matrix]]:
    """Every Jacobian factor of example 0, from the loss side to the input side."""
    jac = example_jacobians(net, params, forward(net, params))
    return list(jac.items())


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, out: str | Path) -> Path:
    path = Path(out)
    try:
        fig.savefig(path, dpi=DPI, format="png")
    except OSError as e:
        raise InvalidValueError(
            message("output", "a writable PNG file", f"{path}: {e.strerror}")
        ) from None
    finally:
        _pyplot().close(fig)
    return path


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
    plt = _pyplot()
    fig, (top, bottom) = plt.subplots(2, 1, figsize=size, sharex=True)
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
    span: float = 1.0,
    size: tuple[float, float] = SIZE,
) -> Path:
    """``L`` as one entry of ``X`` moves, with the tangent of slope ``∂L/∂X[i, j]``."""
    s = sweep_curve(X, W, index, span)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=size)
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
    net: Network, params: Parameters, out: str | Path, size: tuple[float, float] = SIZE
) -> Path:
    """Every Jacobian factor as a heatmap titled with its name and shape."""
    panels = jacobian_panels(net, params)
    plt = _pyplot()
    cols = min(4, len(panels))
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=size, squeeze=False)
    for ax, (name, J) in zip(axes.flat, panels, strict=False):
        limit = float(np.max(np.abs(J))) or 1.0
        ax.imshow(
            J, cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest", aspect="equal"
        )
        ax.set_title(f"{name}  {J.shape[0]}×{J.shape[1]}", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    fig.suptitle(f"Jacobians of {net.spec} (example 0)")
    fig.tight_layout()
    return _save(fig, out)
