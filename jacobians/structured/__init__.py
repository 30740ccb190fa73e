"""Jacobians that know their structure, and three representations of every factor.

A dense ``∂z/∂vec(W)`` has ``n²m`` entries — 6.6 GB for one example of a 1024 × 784 layer —
but it is ``I_n ⊗ aᵀ``, and a row ``v`` times it is ``vec(vᵀ aᵀ)``: an outer product of
``n·m`` multiplications. That is why ``dW = δ aᵀ`` is both right and cheap. The factors here
are still the Jacobians of the chain, each one materialisable as a dense or a sparse matrix
(:meth:`Structured.dense`, :meth:`Structured.sparse`); they just multiply the way their
structure allows:

============================  ==========================  ==================================
Jacobian                      class                       ``v @ J`` for a row ``v``
============================  ==========================  ==================================
``I_n``                       :class:`Identity`           ``v``
``diag(d)``                   :class:`Diagonal`           ``v ⊙ d``
``diag(s) − s sᵀ``            :class:`SoftmaxJacobian`    ``v ⊙ s − (v·s) s``
``I_n ⊗ aᵀ``                  :class:`KronIdentityRow`    ``vec(vᵀ aᵀ)``
``a ⊗ I_n`` (row layout)      :class:`KronRowIdentity`    ``vec(aᵀ v)``
``I_n ⊗ U`` (conv, batch)     :class:`KronIdentity`       ``vec(V U)``
conv input (Toeplitz)         :class:`Correlation`        the transposed correlation of ``v``
pooling                       :class:`Selection`,         ``v`` scattered back to the window
                              :class:`Averaging`
softmax per row (attention)   :class:`RowSoftmax`         ``u ⊙ a_r − (u·a_r) a_r`` per row
``vec(Mᵀ) = C vec(M)``        :class:`Commutation`        ``v`` transposed back
a chain, paths added          :class:`Product`,           through each factor, each path
                              :class:`Sum`
examples side by side         :class:`BatchDiagonal`,     each example's block
                              :class:`BatchStack`
any other (``W``, ``∂L/∂ŷ``)  :class:`Dense`              ``v @ M``
============================  ==========================  ==================================

The column-major ``vec`` (``compare --vec column``) has ``∂z/∂vec_col(W) = aᵀ ⊗ I_n``, and
for a batch ``Aᵀ ⊗ I_n``: :class:`KronTransposeIdentity`, ``v @ J = vec_col(V Aᵀ)``.

Representations: ``dense`` (numpy arrays, the teaching default), ``sparse`` (scipy.sparse
CSR, ``I_n ⊗ aᵀ`` built directly; a factor that is dense by nature, ``W``, stays an array),
``structured`` (the classes above).

One module per kind of structure: :mod:`.base` (the protocol, :class:`Dense`,
:class:`Identity`, :class:`Diagonal`, :func:`represent`), :mod:`.kron`, :mod:`.softmax`,
:mod:`.convolution`, :mod:`.gather`, :mod:`.normalization`, :mod:`.skip`, :mod:`.compose`,
:mod:`.commutation`; this package gathers their names.
"""

from __future__ import annotations

from .base import REPRESENTATIONS, Dense, Diagonal, Identity, Structured, represent, to_dense
from .commutation import Commutation
from .compose import BatchDiagonal, BatchStack, Product, Sum, per_example
from .convolution import Correlation
from .gather import Averaging, Gather, Selection, averaging, selection
from .kron import (
    KronIdentity,
    KronIdentityBatch,
    KronIdentityRow,
    KronOnesBatch,
    KronRowIdentity,
    KronTransposeIdentity,
    KronWeightBatch,
    kron_identity_fill,
)
from .skip import SkipSum
from .softmax import RowSoftmax, SoftmaxBatch, SoftmaxJacobian

__all__ = [
    "REPRESENTATIONS",
    "Averaging",
    "BatchDiagonal",
    "BatchStack",
    "Commutation",
    "Correlation",
    "Dense",
    "Diagonal",
    "Gather",
    "Identity",
    "KronIdentity",
    "KronIdentityBatch",
    "KronIdentityRow",
    "KronOnesBatch",
    "KronRowIdentity",
    "KronTransposeIdentity",
    "KronWeightBatch",
    "Product",
    "RowSoftmax",
    "Selection",
    "SkipSum",
    "SoftmaxBatch",
    "SoftmaxJacobian",
    "Structured",
    "Sum",
    "averaging",
    "kron_identity_fill",
    "per_example",
    "represent",
    "selection",
    "to_dense",
]
