"""A network: sizes ``n_0-n_1-…-n_L``, one activation per layer, and a loss.

``z[l] = W[l] a[l-1] + b[l]``, ``a[l] = g[l](z[l])``, ``ŷ = a[L]``; a batch stacks examples as
columns and the cost is the mean of their losses, ``J = (1/B) Σ_i L(ŷ(i), y(i))``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from ._typing import FloatArray
from .activations import Activation, get_activation
from .errors import InvalidValueError, message
from .layers import forward as layer_forward
from .losses import FUSED, FusedOutput, Loss, get_loss
from .parameters import Parameters

DEFAULT_SIZES = (3, 4, 2, 1)
DEFAULT_ACTIVATIONS = ("relu", "relu", "sigmoid")
DEFAULT_LOSS = "bce"


def parse_sizes(sizes: str | Sequence[int]) -> tuple[int, ...]:
    """``'3-4-2-1'``, ``'3,4,2,1'`` or ``[3, 4, 2, 1]`` → ``(3, 4, 2, 1)``.

    >>> parse_sizes("3-4-2-1")
    (3, 4, 2, 1)
    """
    if isinstance(sizes, str):
        text = sizes.strip()
        # commas separate when present (so "3,-4,1" reads as -4 and is refused); else - x ×
        parts = [p.strip() for p in (text.split(",") if "," in text else re.split(r"[-x×]", text))]
        if not all(re.fullmatch(r"[+-]?\d+", p) for p in parts):
            raise InvalidValueError(
                message("sizes", "whole numbers such as 3,4,2,1 or 3-4-2-1", repr(sizes))
            )
        values = [int(p) for p in parts]
    else:
        values = list(sizes)
        if not all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in values):
            raise InvalidValueError(message("sizes", "whole numbers", repr(sizes)))
    if len(values) < 2:
        raise InvalidValueError(
            message("sizes", "at least two sizes (inputs and outputs)", repr(sizes))
        )
    if min(values) < 1:
        raise InvalidValueError(message("sizes", "positive sizes", repr(sizes)))
    return tuple(int(v) for v in values)


def parse_names(names: str | Sequence[str], what: str = "activations") -> list[str]:
    """``'relu,relu,sigmoid'`` or a sequence → a list of names; an empty name is refused."""
    parts = names.split(",") if isinstance(names, str) else [str(n) for n in names]
    out = [n.strip() for n in parts]
    empty = [i for i, n in enumerate(out, start=1) if not n]
    if empty:
        raise InvalidValueError(
            message(
                what,
                "comma-separated names",
                f"an empty name in position {empty[0]} of {names!r}"
                if isinstance(names, str)
                else f"an empty name in position {empty[0]}",
            )
        )
    return out


@dataclass(frozen=True)
class Network:
    """The architecture: sizes, activations and loss (no parameter values)."""

    sizes: tuple[int, ...]
    activations: tuple[Activation, ...]
    loss: Loss

    @classmethod
    def from_spec(
        cls,
        sizes: str | Sequence[int] = DEFAULT_SIZES,
        activations: str | Sequence[str] = DEFAULT_ACTIVATIONS,
        loss: str = DEFAULT_LOSS,
    ) -> Network:
        """Build and validate a network from its spec.

        >>> Network.from_spec("3-4-2-1", "relu,relu,sigmoid", "bce").parameter_count
        29
        """
        n = parse_sizes(sizes)
        names = parse_names(activations)
        if len(names) != len(n) - 1:
            spec = "-".join(map(str, n))
            raise InvalidValueError(
                message(
                    "activations",
                    f"{len(n) - 1} names, one per layer of {spec}",
                    f"{len(names)}: {','.join(names) or '(none)'}",
                )
            )
        acts = tuple(get_activation(a, f"activations[{i}]") for i, a in enumerate(names, 1))
        net = cls(n, acts, get_loss(loss))
        net._check_output_range()
        return net

    def _check_output_range(self) -> None:
        required, got = self.loss.output, self.activations[-1].name
        if required is not None and got != required:
            other = "ce with softmax" if required == "sigmoid" else "bce with sigmoid"
            raise InvalidValueError(
                message(
                    "loss",
                    f"a {required} output for {self.loss.name!r} ({self.loss.why_output})",
                    f"{got!r}",
                    f"end the network in {required}, or use {other}, mse or sum",
                )
            )

    @property
    def depth(self) -> int:
        """``L``, the number of layers with parameters."""
        return len(self.sizes) - 1

    @property
    def spec(self) -> str:
        """``'3-4-2-1'``."""
        return "-".join(map(str, self.sizes))

    def weight_shape(self, l: int) -> tuple[int, int]:
        """``W[l]`` is ``n_l × n_{l-1}`` (``l`` counts from 1)."""
        return self.sizes[l], self.sizes[l - 1]

    @property
    def parameter_count(self) -> int:
        """``Σ_l n_l·n_{l-1} + n_l``."""
        return sum(n * m + n for m, n in pairwise(self.sizes))

    @property
    def fused(self) -> FusedOutput | None:
        """The output pair whose ``∂L/∂z[L]`` is ``(a[L] − y)ᵀ``, if this network ends in one."""
        return FUSED.get((self.activations[-1].name, self.loss.name))

    def describe(self) -> dict[str, object]:
        """``sizes``, ``activations``, ``loss`` as plain data (for JSON)."""
        return {
            "sizes": list(self.sizes),
            "activations": [a.name for a in self.activations],
            "loss": self.loss.name,
        }


@dataclass(frozen=True)
class Cache:
    """The forward pass: ``z[1..L]`` and ``a[0..L]``, each ``(n_l, B)``; ``z[0]`` is unused."""

    z: tuple[FloatArray, ...]
    a: tuple[FloatArray, ...]


def forward(net: Network, params: Parameters) -> Cache:
    """Run ``z[l] = W[l] a[l-1] + b[l]``, ``a[l] = g[l](z[l])`` on the whole batch ``x``."""
    zs: list[FloatArray] = [np.empty((0, params.batch))]
    acts: list[FloatArray] = [params.x]
    for l, g in enumerate(net.activations, start=1):
        z, a = layer_forward(params.W[l - 1], params.b[l - 1], acts[-1], g)
        zs.append(z)
        acts.append(a)
    return Cache(tuple(zs), tuple(acts))


def losses(net: Network, params: Parameters, cache: Cache | None = None) -> FloatArray:
    """Each example's loss, shape ``(B,)``; a fused output pair is evaluated from its logits."""
    cache = forward(net, params) if cache is None else cache
    y = params.target(net)
    fused = net.fused
    if fused is not None:
        return fused.logit_value(cache.z[-1], y)
    return net.loss.value(cache.a[-1], y)


def cost(net: Network, params: Parameters, cache: Cache | None = None) -> float:
    """``J = (1/B) Σ_i L(ŷ(i), y(i))``."""
    return float(np.mean(losses(net, params, cache)))


def check_finite(net: Network, params: Parameters) -> None:
    """Raise :class:`InvalidValueError` where a forward value overflows or the loss (or its
    ``∂L/∂ŷ``) is infinite: no route can differentiate there.

    With bce only after sigmoid and ce only after softmax, both evaluated from the logits, an
    infinite loss comes from overflow: weights or inputs too large for float64.
    """
    with np.errstate(all="ignore"):
        cache = forward(net, params)
        for l in range(1, net.depth + 1):
            for name, value in ((f"z[{l}]", cache.z[l]), (f"a[{l}]", cache.a[l])):
                if not np.all(np.isfinite(value)):
                    i, k = (int(v) for v in np.argwhere(~np.isfinite(value))[0])
                    raise InvalidValueError(
                        message(
                            "parameters",
                            "finite values through the network",
                            f"{name} = {value[i, k]} for example {k}",
                            "the values overflow float64: use smaller weights or inputs",
                        )
                    )
        values = losses(net, params, cache)
        row = net.loss.gradient(cache.a[-1], params.target(net))
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        i = int(bad[0])
        raise InvalidValueError(
            message(
                "parameters",
                f"a finite {net.loss.name} loss",
                f"{values[i]} for example {i}",
                "the values overflow float64: use smaller weights or inputs",
            )
        )
    if net.fused is None and not np.all(np.isfinite(row)):
        i = int(np.argwhere(~np.isfinite(row))[0][1])
        raise InvalidValueError(
            message(
                "parameters",
                f"a finite ∂L/∂ŷ for {net.loss.name}",
                f"infinity for example {i}",
                "the values overflow float64: use smaller weights or inputs",
            )
        )


def check_compatible(net: Network, params: Parameters) -> None:
    """Raise if ``params`` does not fit ``net`` (shapes) or ``y`` is not what the loss accepts."""
    params.check_shapes(net.sizes)
    if net.loss.needs_target:
        if params.y is None:
            raise InvalidValueError(
                message("y", f"targets for loss {net.loss.name!r}", "none", "give y")
            )
        net.loss.validate_target(params.y)
    elif params.y is not None and not np.all(np.isfinite(params.y)):
        raise InvalidValueError(message("y", "finite values", "NaN or infinity"))
