"""Layers: one module per kind, all speaking the protocol of :mod:`jacobians.layers.base`.

- ``dense(units)`` (:mod:`.dense`): ``I ⊗ aᵀ``, ``I``, ``W``;
- ``conv2d(out_channels, kernel, stride, padding)`` (:mod:`.conv2d`): ``I ⊗ U``, ``I ⊗ 1``,
  the doubly-blocked Toeplitz matrix (applied as a correlation);
- ``maxpool(size, stride)``, ``avgpool(size, stride)`` (:mod:`.pool`): a selection matrix, the
  averaging matrix;
- ``flatten`` (:mod:`.flatten`): ``I``;
- ``relu``, …, ``softmax`` (:mod:`.activation`): ``diag(g'(z))``, ``diag(s) − s sᵀ``.

:mod:`jacobians.layers.registry` maps spec names to kinds and parses specs. The dense layer's
one-example functions (:func:`jacobian_z_W` and friends) are kept here by their old names.
"""

from __future__ import annotations

from .base import Kind, NodeNames, Shape
from .dense import (
    Dense,
    forward,
    jacobian_a_z,
    jacobian_z_a,
    jacobian_z_b,
    jacobian_z_W,
    preactivation,
)
from .registry import KINDS, parse_layers

__all__ = [
    "KINDS",
    "Dense",
    "Kind",
    "NodeNames",
    "Shape",
    "forward",
    "jacobian_a_z",
    "jacobian_z_W",
    "jacobian_z_a",
    "jacobian_z_b",
    "parse_layers",
    "preactivation",
]
