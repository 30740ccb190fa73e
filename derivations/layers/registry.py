"""The symbolic layer kinds by spec name: one line per module, as :mod:`jacobians.layers.registry`.

:func:`symbolic_layer` turns a numeric :class:`~jacobians.network.Node` into its
:class:`~derivations.layers.base.SymbolicLayer`; a kind without a symbolic module
is refused with the list of those that have one.
"""

from __future__ import annotations

from jacobians.errors import UnknownNameError, message
from jacobians.network import Node

from .activation import Activation
from .attention import Attention
from .base import Context, SymbolicLayer
from .batchnorm import BatchNorm
from .conv2d import Conv2d
from .dense import Dense
from .dropout import Dropout
from .embedding import Embedding
from .flatten import Flatten
from .layernorm import LayerNorm
from .pool import AvgPool, MaxPool
from .residual import Residual

SYMBOLIC: dict[str, type[SymbolicLayer]] = {
    name: cls
    for cls in (
        Dense,
        Conv2d,
        MaxPool,
        AvgPool,
        Flatten,
        Activation,
        BatchNorm,
        LayerNorm,
        Dropout,
        Residual,
        Embedding,
        Attention,
    )
    for name in cls.kinds
}
"""Every layer kind that has a symbolic module, by its spec name."""


def symbolic_layer(node: Node, context: Context) -> SymbolicLayer:
    """The symbolic layer of ``node`` (its kind looked up by name).

    Raises :class:`~jacobians.errors.UnknownNameError` naming the entry and the kinds that
    have a symbolic derivation."""
    cls = SYMBOLIC.get(node.kind.name)
    if cls is None:
        raise UnknownNameError(
            message(
                f"layers[{node.entry}] {node.kind.spec()!r}",
                f"a kind with a symbolic derivation, one of {', '.join(sorted(SYMBOLIC))}",
                repr(node.kind.name),
                "derive a network of these kinds, or compare it numerically",
            )
        )
    return cls.build(node, context)
