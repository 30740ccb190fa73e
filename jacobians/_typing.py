"""Type aliases shared by the whole package.

``Vector`` is a 1-D float64 array, ``Matrix`` a 2-D one; the aliases document intent, numpy's
type system does not check the number of dimensions.
"""

from __future__ import annotations

from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

FloatArray: TypeAlias = npt.NDArray[np.float64]
Vector: TypeAlias = FloatArray
Matrix: TypeAlias = FloatArray
ArrayLike: TypeAlias = npt.ArrayLike
Json: TypeAlias = dict[str, Any]
