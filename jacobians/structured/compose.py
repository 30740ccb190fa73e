"""Jacobians built from others: a product, a sum, and a batch of per-example blocks.

A layer made of several steps (attention: three projections, the scores, a softmax per row,
``Y = A V``) has, with respect to each input, a Jacobian that is the chain rule over its own
steps: a :class:`Product` of their Jacobians, or a :class:`Sum` of products where one input
reaches the output along several paths (``X`` through ``Q``, ``K`` and ``V``). A row times
either is carried through the factors one at a time — nothing is multiplied out.

A batch of examples that do not interact has block Jacobians: with the batch on the last axis
and a row-major ``vec``, entry ``i`` of example ``b`` sits at ``i·B + b``. Between two batched
tensors that is :class:`BatchDiagonal` (one block per example, interleaved); from a parameter
shared by the examples it is :class:`BatchStack` (the examples' blocks, rows interleaved).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import reduce
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from .._typing import Matrix
from .base import Structured

if TYPE_CHECKING:
    import scipy.sparse as sps  # imported where used: see jacobians.logistic


@dataclass(frozen=True)
class Product(Structured):
    """``F_1 F_2 ⋯ F_k`` (``F_1`` nearest the output): ``v @ J`` is ``v`` through each factor."""

    factors: tuple[Structured, ...]
    name: ClassVar[str] = "product"

    @property
    def shape(self) -> tuple[int, int]:
        return self.factors[0].shape[0], self.factors[-1].shape[1]

    def vjp(self, v: Matrix) -> Matrix:
        return np.asarray(reduce(lambda acc, F: F.vjp(acc), self.factors, np.asarray(v)))

    def dense(self) -> Matrix:
        denses = [F.dense() for F in self.factors]
        return denses[0] if len(denses) == 1 else np.linalg.multi_dot(denses)

    def sparse(self) -> sps.csr_array:
        import scipy.sparse as sps

        parts = [F.sparse() for F in self.factors]
        return sps.csr_array(reduce(lambda acc, F: acc @ F, parts[1:], parts[0]))


@dataclass(frozen=True)
class Sum(Structured):
    """``T_1 + T_2 + ⋯``: the paths by which one input reaches the output, added."""

    terms: tuple[Structured, ...]
    name: ClassVar[str] = "sum"

    @property
    def shape(self) -> tuple[int, int]:
        return self.terms[0].shape

    def vjp(self, v: Matrix) -> Matrix:
        return np.asarray(sum(T.vjp(v) for T in self.terms[1:]) + self.terms[0].vjp(v))

    def dense(self) -> Matrix:
        return np.asarray(sum(T.dense() for T in self.terms[1:]) + self.terms[0].dense())

    def sparse(self) -> sps.csr_array:
        import scipy.sparse as sps

        return sps.csr_array(sum(T.sparse() for T in self.terms[1:]) + self.terms[0].sparse())


def _split(v: Matrix, rows: int, batch: int) -> np.ndarray:
    """``v`` (``k × rows·B``) as ``k × rows × B``: each example's columns of the row block."""
    return np.asarray(v).reshape(v.shape[0], rows, batch)


@dataclass(frozen=True)
class BatchDiagonal(Structured):
    """One ``r × c`` block per example, at rows ``i·B + b`` and columns ``j·B + b``: the batch
    Jacobian between two batch-last tensors of examples that do not interact."""

    blocks: tuple[Structured, ...]
    name: ClassVar[str] = "per example"

    @property
    def shape(self) -> tuple[int, int]:
        r, c = self.blocks[0].shape
        return r * len(self.blocks), c * len(self.blocks)

    def vjp(self, v: Matrix) -> Matrix:
        (r, c), B = self.blocks[0].shape, len(self.blocks)
        V = _split(v, r, B)
        out = np.empty((V.shape[0], c, B))
        for b, block in enumerate(self.blocks):
            out[:, :, b] = block.vjp(np.ascontiguousarray(V[:, :, b]))
        return out.reshape(V.shape[0], c * B)

    def dense(self) -> Matrix:
        (r, c), B = self.blocks[0].shape, len(self.blocks)
        out = np.zeros((r, B, c, B))
        for b, block in enumerate(self.blocks):
            out[:, b, :, b] = block.dense()
        return out.reshape(r * B, c * B)

    def sparse(self) -> sps.csr_array:
        import scipy.sparse as sps

        B = len(self.blocks)
        rows, cols, vals = [], [], []
        for b, block in enumerate(self.blocks):
            coo = sps.coo_array(block.sparse())
            rows.append(coo.row * B + b)
            cols.append(coo.col * B + b)
            vals.append(coo.data)
        return sps.csr_array(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=self.shape
        )


@dataclass(frozen=True)
class BatchStack(Structured):
    """One ``r × c`` block per example at rows ``i·B + b``, every example over the same ``c``
    columns: the batch Jacobian with respect to a parameter the examples share; ``v @ J`` is
    the sum of the examples' ``v_b @ J_b``."""

    blocks: tuple[Structured, ...]
    name: ClassVar[str] = "per example, shared parameter"

    @property
    def shape(self) -> tuple[int, int]:
        r, c = self.blocks[0].shape
        return r * len(self.blocks), c

    def vjp(self, v: Matrix) -> Matrix:
        r, B = self.blocks[0].shape[0], len(self.blocks)
        V = _split(v, r, B)
        total = self.blocks[0].vjp(np.ascontiguousarray(V[:, :, 0]))
        for b in range(1, B):
            total = total + self.blocks[b].vjp(np.ascontiguousarray(V[:, :, b]))
        return np.asarray(total)

    def dense(self) -> Matrix:
        (r, c), B = self.blocks[0].shape, len(self.blocks)
        out = np.zeros((r, B, c))
        for b, block in enumerate(self.blocks):
            out[:, b, :] = block.dense()
        return out.reshape(r * B, c)

    def sparse(self) -> sps.csr_array:
        import scipy.sparse as sps

        B = len(self.blocks)
        rows, cols, vals = [], [], []
        for b, block in enumerate(self.blocks):
            coo = sps.coo_array(block.sparse())
            rows.append(coo.row * B + b)
            cols.append(coo.col)
            vals.append(coo.data)
        return sps.csr_array(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=self.shape
        )


def per_example(blocks: Sequence[Structured], shared: bool = False) -> Structured:
    """The batch Jacobian of independent examples' ``blocks``: the block itself for one
    example; else :class:`BatchDiagonal`, or :class:`BatchStack` with ``shared`` (a parameter)."""
    if len(blocks) == 1:
        return blocks[0]
    return BatchStack(tuple(blocks)) if shared else BatchDiagonal(tuple(blocks))
