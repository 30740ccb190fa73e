"""Every representation of a structured Jacobian, made dense: what the layer tests compare
with their references, so that a dense, a sparse and a structured route are each checked."""

from __future__ import annotations

import numpy as np

from jacobians.structured import Structured, represent


def three(J: Structured) -> list[np.ndarray]:
    """``J`` as the dense, the sparse and the structured route hold it, each made dense."""
    out = []
    for representation in ("dense", "sparse", "structured"):
        value = represent(J, representation)
        if isinstance(value, Structured):
            value = value.dense()
        elif hasattr(value, "toarray"):
            value = value.toarray()
        out.append(np.asarray(value))
    return out
