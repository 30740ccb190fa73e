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
from .network import Network, display, forward
from .parameters import Parameters
from .paths import (
    coupled,
    fused_name,
    head_names,
    jacobian_shapes,
    largest_dense,
    loss_name,
    skip_name,
)
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
    """Write :func:`jacobians_figure` as a PNG. Refused before anything is built when drawing
    would exceed ``memory_budget`` bytes (:func:`check_plot_memory`)."""
    check_plot_memory(net, params.batch, memory_budget)
    return _save(jacobians_figure(net, params, size, memory_budget), out)


CELL_MAX = 36.0
"""The largest cell drawn, in pixels: a small network's matrices are not blown up further."""
MIN_SIDE = 6.0
"""The smallest side of a panel, in pixels: a ``1 × 1`` factor stays visible next to a wide one
(such a panel is drawn larger than its share and marked ``*``)."""
MARGIN = {"left": 44.0, "bottom": 30.0, "top": 26.0, "right": 10.0}
"""Pixels around each panel for its tick labels, axis labels and two-line title."""
HEADER, FOOTER, SIDE = 52.0, 48.0, 8.0
"""Pixels above every panel (the title and notes), below (the colour bar) and at each side."""
TITLE_CHAR, LABEL_CHAR = 5.2, 4.4
"""Pixels per character of a panel's title and of its axis labels, at their font sizes."""


@dataclass(frozen=True)
class PanelLayout:
    """Where the panels go, in pixels from the figure's top left: each box is ``(x, y, width,
    height)``; ``cell`` is the side of one matrix entry, the same in every panel; ``enlarged``
    marks panels drawn at :data:`MIN_SIDE` rather than in proportion."""

    cell: float
    boxes: tuple[tuple[float, float, float, float], ...]
    enlarged: tuple[bool, ...]


def panel_layout(
    shapes: Sequence[tuple[int, int]],
    title_chars: Sequence[int],
    width: float,
    height: float,
) -> PanelLayout:
    """Lay the panels out in reading order (left to right, then the next row) at one cell size
    ``s``: a ``r × c`` matrix is ``c·s`` wide and ``r·s`` tall (at least :data:`MIN_SIDE`), with
    :data:`MARGIN` around it and room for a title of ``title_chars`` characters; ``s`` is the
    largest (up to :data:`CELL_MAX`) with which every panel fits a ``width × height`` figure.

    >>> layout = panel_layout([(1, 8), (4, 4)], [10, 10], 800, 600)
    >>> [(w, h) for _, _, w, h in layout.boxes] == [(8 * layout.cell, layout.cell),
    ...                                              (4 * layout.cell, 4 * layout.cell)]
    True
    """

    def place(s: float) -> tuple[list[tuple[float, float, float, float]], float] | None:
        boxes, x, y, row = [], SIDE, HEADER, 0.0
        for (r, c), chars in zip(shapes, title_chars, strict=True):
            w, h = max(c * s, MIN_SIDE), max(r * s, MIN_SIDE)
            slot_w = MARGIN["left"] + max(w, TITLE_CHAR * chars) + MARGIN["right"]
            slot_h = MARGIN["top"] + h + MARGIN["bottom"]
            if x + slot_w > width - SIDE and x > SIDE:  # the next row
                x, y, row = SIDE, y + row, 0.0
            if x + slot_w > width - SIDE:
                return None
            boxes.append((x + MARGIN["left"], y + MARGIN["top"], w, h))
            x, row = x + slot_w, max(row, slot_h)
        return (boxes, y + row) if y + row <= height - FOOTER else None

    lo, hi = 0.0, CELL_MAX
    if place(hi) is None:
        for _ in range(40):  # bisect: fitting only gets harder as cells grow
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if place(mid) is not None else (lo, mid)
        hi = lo
    placed = place(hi)
    if placed is None:
        raise InvalidValueError(
            message(
                "plot",
                f"panels that fit {width:.0f} × {height:.0f} pixels",
                f"{len(shapes)} panels that do not fit at any cell size",
                "draw a smaller network",
            )
        )
    boxes, bottom = placed
    drop = (height - FOOTER - bottom) / 2  # centre the rows in the height left over
    boxes = [(x, y + drop, w, h) for x, y, w, h in boxes]
    enlarged = tuple(c * hi < MIN_SIDE or r * hi < MIN_SIDE for r, c in shapes)
    return PanelLayout(hi, tuple(boxes), enlarged)


def _ends(net: Network) -> dict[str, tuple[str, str]]:
    """Every Jacobian's name → the tensors it differentiates, output first: ``J_z2_W2`` →
    ``("z2", "W2")``, the loss row ``J_L_a3`` → ``("L", "a3")``."""
    pairs = {loss_name(net): ("L", net.nodes[-1].output)}
    if net.fused is not None:
        pairs[fused_name(net)] = ("L", net.nodes[-1].input)
    for node in net.all_nodes:
        if node.inner:
            pairs[skip_name(node)] = (node.output, node.inner[-1].output)
        for role in node.jacobian_roles:
            if role == "input":
                pair = (node.output, node.input)
            elif role in node.parameters:
                pair = (node.output, node.parameters[role])
            else:
                out, of = role.split("_", 1)
                pair = (node.tensor(out), node.tensor(of))
            pairs[node.jacobian_name(role)] = pair
    return pairs


def _tensor_shapes(net: Network, batch: int) -> dict[str, tuple[int, ...]]:
    """The shape of every tensor the panels index (a batch's tensors with the batch last, as
    the batch Jacobians flatten them), and of every parameter."""
    shapes: dict[str, tuple[int, ...]] = {"L": ()}
    tail = (batch,) if batch > 1 else ()
    for node in net.all_nodes:
        shapes[node.input] = (*node.in_shape, *tail)
        shapes[node.output] = (*node.out_shape, *tail)
    shapes.update(net.parameter_shapes)
    return shapes


GREEK = {"gamma": "γ", "beta": "β"}
"""Parameter roles the derivations print as Greek letters (``gamma2`` → ``γ[2]``)."""


def _tensor_text(net: Network, name: str, batch: int) -> str:
    """A tensor as the derivations write it in a Jacobian's name: ``z[2]``, ``vec(W[2])`` for
    a parameter with two or more axes, ``γ[2]`` for ``gamma2``, ``L`` for the loss (``J``, a
    batch's mean cost)."""
    if name == "L":
        return "J" if batch > 1 else "L"
    shown = display(name)
    base, bracket, rest = shown.partition("[")
    shown = GREEK.get(base, base) + bracket + rest
    shape = net.parameter_shapes.get(name)
    return f"vec({shown})" if shape is not None and len(shape) > 1 else shown


def jacobian_title(net: Network, name: str, batch: int = 1) -> str:
    """A Jacobian's name in ∂ notation, as ``derive`` prints it: ``J_a3_z3`` →
    ``∂a[3]/∂z[3]``, ``J_z3_W3`` → ``∂z[3]/∂vec(W[3])``, ``J_L_a3`` → ``∂L/∂a[3]``.

    >>> jacobian_title(Network.from_spec(), "J_z2_W2")
    '∂z[2]/∂vec(W[2])'
    """
    out, of = _ends(net)[name]
    return f"∂{_tensor_text(net, out, batch)}/∂{_tensor_text(net, of, batch)}"


def axis_label(net: Network, tensor: str, batch: int = 1) -> str:
    """What a panel's rows or columns index: ``z[2]``, ``vec(W[2]): 2×4, row-major``, for a
    tensor of several axes (an image, a batch) ``vec(z[1]): 2×3×3, row-major``; a tensor whose
    shape the network does not list (a step inside a layer) by its name alone."""
    shape = _tensor_shapes(net, batch).get(tensor)
    text = _tensor_text(net, tensor, batch).removeprefix("vec(").removesuffix(")")
    if shape is None or len(shape) <= 1:
        return text
    return f"vec({text}): {'×'.join(map(str, shape))}, row-major"


def tick_positions(
    count: int, shape: tuple[int, ...] | None, room: float, spacing: float
) -> list[int]:
    """Which of ``count`` indices to label in ``room`` pixels, one per ``spacing`` at most: all
    when they fit; else, for a flattened array, the start of each of its first axis's slices if
    those fit; else evenly spaced ones from the first (and the last, if two fit)."""
    most = max(1, int(room // spacing))
    if count <= most:
        return list(range(count))
    if shape is not None and len(shape) > 1 and shape[0] <= most:
        return list(range(0, count, count // shape[0]))
    picks = np.linspace(0, count - 1, most).round().astype(int)
    return sorted(set(picks.tolist()))


def tick_label(position: int, shape: tuple[int, ...] | None) -> str:
    """Index ``position`` of a flattened array, 1-based as the notation counts: ``5`` of a
    vector is ``6``; of a ``2×4`` matrix it is ``2,2`` (row-major)."""
    if shape is None or len(shape) <= 1:
        return str(position + 1)
    return ",".join(str(int(i) + 1) for i in np.unravel_index(position, shape))


def chain_order(net: Network, names: Sequence[str]) -> list[str]:
    """The panels in the order the chain multiplies them from the loss end: the loss row, the
    last activation's Jacobian and the fused row that replaces both, then layer by layer; a
    residual block as the chain meets it, its whole Jacobian ``∂a[2]/∂a[1] = I + ∂f/∂a[1]``
    first, then the path through ``f`` from the block's output (``∂a[2]/∂a[2_1]``) inwards."""
    head = [n for n in head_names(net, False) if n in names]
    fused = [fused_name(net)] if net.fused is not None and fused_name(net) in names else []
    order = [*head, *fused, *(n for n in names if n not in head and n not in fused)]
    for block in (node for node in net.all_nodes if node.inner):  # outer blocks first
        lead = [n for n in (block.jacobian_name("input"), skip_name(block)) if n in order]
        inside = {m.jacobian_name(role) for m in block.inside for role in m.jacobian_roles}
        inside |= {skip_name(m) for m in block.inside if m.inner}
        rest = [n for n in order if n not in lead]
        first = next((i for i, n in enumerate(rest) if n in inside), len(rest))
        order = [*rest[:first], *lead, *rest[first:]]
    return order


def jacobians_figure(
    net: Network,
    params: Parameters,
    size: tuple[float, float] = SIZE,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
) -> Any:
    """Every Jacobian factor as a heatmap, in chain order from the loss end (read left to
    right, then down), titled in ∂ notation (``∂z[2]/∂vec(W[2])``) with its shape and largest
    entry; every panel drawn at the same cell size, so a ``1 × 8`` row is 8 cells wide and one
    tall; rows labelled by the output's entries, columns by the input's (``2,1`` is ``W[2]``'s
    entry in row 2, column 1); each panel coloured on its own scale, ``±max |entry|``, so the
    loss row cannot wash out the layers' factors. Returns the matplotlib Figure."""
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    batch = params.batch if coupled(net) else 1
    found = dict(jacobian_panels(net, params, memory_budget))
    order = chain_order(net, list(found))
    ends, tensors = _ends(net), _tensor_shapes(net, batch)
    headings = [_heading(net, name, batch, found[name]) for name in order]
    fig = _figure(size)
    width, height = size[0] * DPI, size[1] * DPI
    layout = panel_layout(
        [found[n].shape for n in order],
        [max(map(len, t.splitlines())) + 1 for t in headings],
        width,
        height,
    )
    for name, heading, (x, y, w, h), big in zip(
        order, headings, layout.boxes, layout.enlarged, strict=True
    ):
        J = found[name]
        ax = fig.add_axes((x / width, 1 - (y + h) / height, w / width, h / height))
        limit = float(np.max(np.abs(J))) or 1.0
        ax.imshow(J, cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest", aspect="auto")
        first, second = heading.split("\n")
        ax.set_title(f"{first}{'*' if big else ''}\n{second}", fontsize=7, pad=3)
        out, of = ends[name]
        _label_axis(ax.yaxis, J.shape[0], tensors.get(out), h, axis_label(net, out, batch))
        _label_axis(ax.xaxis, J.shape[1], tensors.get(of), w, axis_label(net, of, batch))
    shape = "x".join(map(str, net.input_shape))
    title = net.spec if net.is_dense else f"the network on inputs {shape}"
    which = f"a batch of {params.batch}" if batch > 1 else "example 0"
    fig.suptitle(f"Jacobians of {title} ({which})", y=1 - 6 / height, fontsize=11)
    scale = f"one cell = {layout.cell:.3g} px in every panel"
    if layout.cell < 1:
        scale += " (entries resampled: a cell is under a pixel)"
    if any(layout.enlarged):
        scale += f"; * drawn {MIN_SIDE:g} px thick to be seen"
    fig.text(
        0.5,
        1 - 26 / height,
        "chain order from the loss end, left to right, then down; rows: the output's entries, "
        f"columns: the input's (1-based)\n{scale}; each panel coloured by its own max |entry|",
        ha="center",
        va="top",
        fontsize=7,
    )
    bar = fig.add_axes((0.62, 22 / height, 0.3, 7 / height))
    colours = ScalarMappable(Normalize(-1.0, 1.0), "RdBu_r")
    fig.colorbar(colours, cax=bar, orientation="horizontal", ticks=[-1, 0, 1])
    bar.set_xticklabels(["−max |entry|", "0", "+max |entry|"], fontsize=6)
    bar.set_title("each panel's colour scale", fontsize=6, pad=2)
    return fig


def _heading(net: Network, name: str, batch: int, J: Matrix) -> str:
    """A panel's two-line title: the Jacobian in ∂ notation (the fused row marked so), then its
    shape and its largest entry in absolute value, the end of its colour scale."""
    fused = "  (fused)" if net.fused is not None and name == fused_name(net) else ""
    top = float(np.max(np.abs(J)))
    title = jacobian_title(net, name, batch)
    return f"{title}{fused}\n{J.shape[0]}×{J.shape[1]}, max |entry| {top:.3g}"


def _label_axis(
    axis: Any, count: int, shape: tuple[int, ...] | None, room: float, text: str
) -> None:
    """Ticks at a few of ``count`` indices, 1-based (:func:`tick_positions`), and the label
    naming the tensor they index (its shape left out when the panel is too small for it); none
    for the loss's single row."""
    if text in ("L", "J"):
        axis.set_ticks([])
        axis.set_label_text(text, fontsize=7)
        return
    across = axis.axis_name == "x"
    widest = len(tick_label(count - 1, shape))
    where = tick_positions(count, shape, room, 4.0 * widest + 8 if across else 10.0)
    axis.set_ticks(where)
    axis.set_ticklabels([tick_label(i, shape) for i in where], fontsize=5)
    axis.set_tick_params(length=2, pad=1)
    if LABEL_CHAR * len(text) > room + (MARGIN["left"] if across else MARGIN["top"]):
        text = text.split(":")[0]
    axis.set_label_text(text, fontsize=6)
    axis.labelpad = 1
