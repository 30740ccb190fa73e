"""Layers: one module per kind, all speaking the protocol of :mod:`jacobians.layers.base`.

=====================  ==========================================  ===========================
spec                   module                                      Jacobians
=====================  ==========================================  ===========================
``dense(units)``       :mod:`jacobians.layers.dense`               ``I ⊗ aᵀ``, ``I``, ``W``
``conv2d(C_out, k,     :mod:`jacobians.layers.conv2d`              ``I ⊗ U``, ``I ⊗ 1``,
stride, padding)``                                                 Toeplitz (a correlation)
``maxpool(k, s)``,     :mod:`jacobians.layers.pool`                selection, averaging
``avgpool(k, s)``
``flatten``            :mod:`jacobians.layers.flatten`             ``I``
``relu``, …,           :mod:`jacobians.layers.activation`          ``diag(g'(z))``,
``softmax``                                                        ``diag(s) − s sᵀ``
=====================  ==========================================  ===========================

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
