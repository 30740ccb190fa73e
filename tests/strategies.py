"""Hypothesis strategies shared by the tests: architectures, activations, losses, parameters."""

from __future__ import annotations

import numpy as np
from hypothesis import reject
from hypothesis import strategies as st

from jacobians.errors import InvalidValueError
from jacobians.network import Network, check_finite
from jacobians.parameters import Parameters, init_parameters

ELEMENTWISE = [
    "identity",
    "relu",
    "leaky_relu",
    "leaky_relu:0.2",
    "sigmoid",
    "tanh",
    "softplus",
    "square",
]
ACTIVATIONS = [*ELEMENTWISE, "softmax"]


@st.composite
def networks(
    draw: st.DrawFn, max_depth: int = 4, max_width: int = 6, activations: list[str] = ACTIVATIONS
) -> Network:
    """A valid network: depth 1..max_depth, widths 1..max_width, activations drawn from
    ``activations``, a loss that the output activation allows (bce needs sigmoid outputs, ce
    softmax)."""
    depth = draw(st.integers(1, max_depth))
    sizes = draw(st.lists(st.integers(1, max_width), min_size=depth + 1, max_size=depth + 1))
    hidden = draw(st.lists(st.sampled_from(activations), min_size=depth - 1, max_size=depth - 1))
    output = draw(st.sampled_from(activations))
    losses = ["mse", "sum", *{"sigmoid": ["bce"], "softmax": ["ce"]}.get(output, [])]
    loss = draw(st.sampled_from(losses))
    return Network.from_spec(sizes, [*hidden, output], loss)


@st.composite
def problems(
    draw: st.DrawFn,
    max_depth: int = 4,
    max_width: int = 6,
    max_batch: int = 5,
    activations: list[str] = ACTIVATIONS,
) -> tuple[Network, Parameters]:
    """A network and parameters for it, batch 1..max_batch, from a drawn seed."""
    net = draw(networks(max_depth, max_width, activations))
    seed = draw(st.integers(0, 2**32 - 1))
    batch = draw(st.integers(1, max_batch))
    params = init_parameters(net, seed, batch)
    try:
        check_finite(net, params)
    except InvalidValueError:
        reject()  # e.g. a single softmax output (always 1) under bce with y = 0: L = ∞
    return net, params


def relative_gap(a: np.ndarray, b: np.ndarray) -> float:
    """``max|a − b| / max(max|a|, max|b|)`` (0 when both are 0)."""
    scale = max(float(np.max(np.abs(a), initial=0.0)), float(np.max(np.abs(b), initial=0.0)))
    gap = float(np.max(np.abs(a - b), initial=0.0))
    return gap / scale if scale else 0.0


@st.composite
def layer_networks(draw: st.DrawFn, max_batch: int = 3) -> Network:
    """A random convolutional network: an image input, one or two conv2d layers (kernel,
    stride, padding drawn to fit), each maybe followed by an activation and a pool, then
    flatten, maybe a dense layer, and an output activation with a loss it allows."""
    C, H, W = draw(st.integers(1, 2)), draw(st.integers(2, 7)), draw(st.integers(2, 7))
    shape, layers = (C, H, W), []
    if draw(st.booleans()):  # a first layer without parameters
        size = draw(st.integers(1, 2))
        layers.append(f"{draw(st.sampled_from(['maxpool', 'avgpool']))}({size}, stride=1)")
        shape = (C, H - size + 1, W - size + 1)
    for _ in range(draw(st.integers(1, 2))):
        p = draw(st.integers(0, 1))
        k = draw(st.integers(1, min(shape[1:]) + 2 * p))
        s = draw(st.integers(1, 2))
        out = draw(st.integers(1, 3))
        layers.append(f"conv2d({out}, {k}, stride={s}, padding={p})")
        shape = (out, (shape[1] + 2 * p - k) // s + 1, (shape[2] + 2 * p - k) // s + 1)
        if draw(st.booleans()):
            layers.append(draw(st.sampled_from(ELEMENTWISE)))
        if min(shape[1:]) >= 2 and draw(st.booleans()):
            size = draw(st.integers(1, min(shape[1:])))
            stride = draw(st.integers(1, size))
            layers.append(
                f"{draw(st.sampled_from(['maxpool', 'avgpool']))}({size}, stride={stride})"
            )
            shape = (shape[0], (shape[1] - size) // stride + 1, (shape[2] - size) // stride + 1)
    layers.append("flatten")
    if draw(st.booleans()):
        layers.append(f"dense({draw(st.integers(1, 4))})")
    output = draw(st.sampled_from([*ELEMENTWISE, "softmax"]))
    layers.append(output)
    losses = ["mse", "sum", *{"sigmoid": ["bce"], "softmax": ["ce"]}.get(output, [])]
    return Network.from_layers(", ".join(layers), (C, H, W), draw(st.sampled_from(losses)))


@st.composite
def layer_problems(draw: st.DrawFn, max_batch: int = 3) -> tuple[Network, Parameters]:
    """A random convolutional network and parameters for it (see :func:`layer_networks`)."""
    net = draw(layer_networks())
    params = init_parameters(net, draw(st.integers(0, 2**32 - 1)), draw(st.integers(1, max_batch)))
    try:
        check_finite(net, params)
    except InvalidValueError:
        reject()
    return net, params


@st.composite
def vector_layer_networks(draw: st.DrawFn) -> Network:
    """A random sequence of dense layers, each followed by an activation or not (so that some
    layers have no ``z``), on a vector input; the loss suits the last layer."""
    layers: list[str] = []
    for _ in range(draw(st.integers(1, 3))):
        layers.append(f"dense({draw(st.integers(1, 4))})")
        if draw(st.booleans()):
            layers.append(draw(st.sampled_from(ACTIVATIONS)))
    last = layers[-1]
    losses = ["mse", "sum", *{"sigmoid": ["bce"], "softmax": ["ce"]}.get(last, [])]
    return Network.from_layers(
        ", ".join(layers), draw(st.integers(1, 4)), draw(st.sampled_from(losses))
    )


@st.composite
def vector_layer_problems(draw: st.DrawFn) -> tuple[Network, Parameters]:
    """A random :func:`vector_layer_networks` network and parameters for it."""
    net = draw(vector_layer_networks())
    params = init_parameters(net, draw(st.integers(0, 2**32 - 1)), draw(st.integers(1, 3)))
    try:
        check_finite(net, params)
    except InvalidValueError:
        reject()
    return net, params
