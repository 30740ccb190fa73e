"""``maxpool(size, stride=size)`` and ``avgpool(size, stride=size)``: per channel, windows of
``size × size``.

On an image ``C × H × W``, window ``(i, j)`` of channel ``c`` covers rows ``i·s … i·s + k − 1``
and columns ``j·s … j·s + k − 1``; the output is ``C × H' × W'`` with ``H' = ⌊(H − k)/s⌋ + 1``.

- max pooling's ``∂vec(a)/∂vec(a_prev)`` is a *selection matrix*: one 1 per row, at the
  window's maximum. A tie takes the first maximum in row-major order, and is a kink: the
  function has no derivative there, like relu at 0.
- average pooling's is the *averaging matrix*: ``1/k²`` at each input of the window.

The compact backward routes each output's gradient to its window's maximum (max) or spreads it
evenly over the window (average); windows that overlap (``s < k``) add up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from .._typing import FloatArray
from ..correlation import im2row_index, output_size
from ..structured import Structured, averaging, selection
from .base import Kind, NodeNames, Params, Shape, argument, need, show

IntArray = npt.NDArray[np.intp]


@dataclass(frozen=True)
class Pool(Kind):
    """A pooling layer over ``size × size`` windows moved by ``stride`` (default ``size``)."""

    size: int = argument(minimum=1, help="k: windows of k × k")
    stride: int | None = argument(minimum=1, default=None, help="s (default: size)")

    def __post_init__(self) -> None:
        if self.stride == self.size:  # one spelling: maxpool(2) is maxpool(2, stride=2)
            object.__setattr__(self, "stride", None)

    @property
    def step(self) -> int:
        """The stride, ``size`` unless given."""
        return self.size if self.stride is None else self.stride

    def arguments(self) -> dict[str, Any]:
        return {"size": self.size, "stride": self.step}

    def out_shape(self, in_shape: Shape) -> Shape:
        need(
            len(in_shape) == 3,
            "input",
            "an image C×H×W (pooling acts on the positions of each channel)",
            show(in_shape),
            "pool before flatten, or drop the pooling",
        )
        C, H, W = in_shape
        need(
            self.size <= min(H, W),
            "size",
            f"at most {min(H, W)}, so that a window fits in the {H}×{W} input",
            f"{self.size}",
        )
        return C, output_size(H, self.size, self.step, 0), output_size(W, self.size, self.step, 0)

    def forward_cost(self, in_shape: Shape) -> int:
        """One operation per input of each window."""
        C, ho, wo = self.out_shape(in_shape)
        return C * ho * wo * self.size**2

    def windows(self, a: FloatArray) -> tuple[IntArray, FloatArray]:
        """For a batch ``a`` (``C × H × W × B``): every window's columns in the batch ``vec``
        (``C·H'W'·B × k²``, rows in the output's batch-last order) and its values (same shape)."""
        C, H, W, B = a.shape
        index = im2row_index(1, H, W, self.size, self.step, 0)  # (P, k²) into H·W
        channel = np.arange(C)[:, None, None, None] * (H * W)
        example = np.arange(B)[None, None, None, :]
        flat = (channel + index[None, :, :, None]) * B + example  # (C, P, k², B)
        columns = np.ascontiguousarray(flat.transpose(0, 1, 3, 2)).reshape(-1, index.shape[1])
        return columns, a.reshape(-1)[columns]

    def _output(self, values: FloatArray, a: FloatArray) -> FloatArray:
        C, H, W, B = a.shape
        ho, wo = output_size(H, self.size, self.step, 0), output_size(W, self.size, self.step, 0)
        return values.reshape(C, ho, wo, B)

    def _scatter(self, columns: IntArray, values: FloatArray, a: FloatArray) -> FloatArray:
        out = np.zeros(a.size)
        np.add.at(out, columns.reshape(-1), values.reshape(-1))
        return out.reshape(a.shape)


@dataclass(frozen=True)
class MaxPool(Pool):
    """``maxpool(size, stride=size)``: the maximum of each window."""

    name: ClassVar[str] = "maxpool"
    summary: ClassVar[str] = (
        "the maximum of each window, per channel; a selection matrix (one 1 per row)"
    )

    def forward(self, params: Params, a: FloatArray) -> FloatArray:
        _, values = self.windows(a)
        return self._output(values.max(axis=1), a)

    def selected(self, a: FloatArray) -> IntArray:
        """Each window's maximum as a column of the batch ``vec`` (the first in row-major order
        when several are equal)."""
        columns, values = self.windows(a)
        picked = columns[np.arange(columns.shape[0]), values.argmax(axis=1)]
        return np.asarray(picked, dtype=np.intp)

    def jacobians(self, params: Params, a: FloatArray, out: FloatArray) -> dict[str, Structured]:
        """A selection matrix: row ``r`` has its 1 at window ``r``'s maximum."""
        return {"input": selection(self.selected(a), a.size)}

    def backward(
        self, params: Params, a: FloatArray, out: FloatArray, g: FloatArray, need_input: bool = True
    ) -> tuple[FloatArray | None, dict[str, FloatArray]]:
        """Each output's gradient routed to its window's maximum."""
        if not need_input:
            return None, {}
        return self._scatter(self.selected(a), g, a), {}

    def crosses_kink(self, inputs: tuple[FloatArray, FloatArray, FloatArray]) -> bool:
        """A window whose maximum moves to another input across the stencil, or that has a tie
        at ``θ`` while its values move."""
        lo, mid, hi = (self.windows(a)[1] for a in inputs)
        pick = mid.argmax(axis=1)
        moves = np.any((lo != mid) | (hi != mid), axis=1)
        tie = (mid == mid.max(axis=1, keepdims=True)).sum(axis=1) > 1
        switch = (lo.argmax(axis=1) != pick) | (hi.argmax(axis=1) != pick)
        return bool(np.any(switch | (tie & moves)))

    kink_text: ClassVar[str] = "a max-pool window whose maximum changes or is tied"

    mistakes: ClassVar[dict[str, str]] = {
        "sent_to_every_entry": "the gradient of a window is sent to every entry of the window: "
        "max pooling passes it to the window's maximum only",
        "averaged_not_routed": "the gradient of a window is averaged over it (average "
        "pooling's rule): max pooling routes it to the window's maximum",
    }

    def mistaken_backward(
        self,
        mistake: str,
        params: Params,
        a: FloatArray,
        out: FloatArray,
        g: FloatArray,
        after: FloatArray | None = None,
    ) -> tuple[FloatArray, dict[str, FloatArray]]:
        columns, _ = self.windows(a)
        K = columns.shape[1]
        if mistake == "sent_to_every_entry":
            share = np.repeat(g.reshape(-1, 1), K, axis=1)
        elif mistake == "averaged_not_routed":
            share = np.repeat(g.reshape(-1, 1) / K, K, axis=1)
        else:
            raise KeyError(mistake)
        return self._scatter(columns, share, a), {}

    def structure(self, role: str, node: NodeNames) -> str:
        return f"selection: the maximum of each {self.size}×{self.size} window"


@dataclass(frozen=True)
class AvgPool(Pool):
    """``avgpool(size, stride=size)``: the mean of each window."""

    name: ClassVar[str] = "avgpool"
    summary: ClassVar[str] = (
        "the mean of each window, per channel; the averaging matrix (1/k² per entry)"
    )

    def forward(self, params: Params, a: FloatArray) -> FloatArray:
        _, values = self.windows(a)
        return self._output(values.mean(axis=1), a)

    def jacobians(self, params: Params, a: FloatArray, out: FloatArray) -> dict[str, Structured]:
        """The averaging matrix: ``1/k²`` at each input of a window."""
        columns, _ = self.windows(a)
        return {"input": averaging(columns, a.size)}

    def backward(
        self, params: Params, a: FloatArray, out: FloatArray, g: FloatArray, need_input: bool = True
    ) -> tuple[FloatArray | None, dict[str, FloatArray]]:
        """Each output's gradient spread evenly, ``1/k²`` to each input of its window."""
        if not need_input:
            return None, {}
        columns, _ = self.windows(a)
        share = np.repeat(g.reshape(-1, 1) / columns.shape[1], columns.shape[1], axis=1)
        return self._scatter(columns, share, a), {}

    def structure(self, role: str, node: NodeNames) -> str:
        return f"averaging: 1/{self.size**2} over each {self.size}×{self.size} window"
