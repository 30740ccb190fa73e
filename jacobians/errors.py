"""The package's exceptions: one root, a few kinds, messages built by one helper.

Every message names the argument, what was expected and what was given, and where it can,
what to do. The CLI prints ``str(error)`` and exits 2.
"""

from __future__ import annotations

from collections.abc import Iterable


class JacobiansError(Exception):
    """Root of every error the package raises on purpose."""


class ShapeError(JacobiansError, ValueError):
    """An array does not have the shape the notation requires."""


class UnknownNameError(JacobiansError, ValueError):
    """A name (activation, loss, order, …) is not in its registry."""


class InvalidValueError(JacobiansError, ValueError):
    """A value is of the right shape but not allowed (NaN, out of range, not numeric)."""


class ParameterFileError(JacobiansError, ValueError):
    """A parameter file cannot be read or lacks an array."""


def message(what: str, expected: str, got: str, hint: str = "") -> str:
    """Build the one-line message every error uses: ``what: expected …, got …; hint``."""
    text = f"{what}: expected {expected}, got {got}"
    return f"{text}; {hint}" if hint else text


def unknown_name(what: str, name: str, valid: Iterable[str]) -> UnknownNameError:
    """The error for a name missing from a registry; it lists the valid names.

    >>> str(unknown_name("loss", "hinge", ["mse", "bce"]))
    "loss: expected one of bce, mse, got 'hinge'"
    """
    names = ", ".join(sorted(valid))
    return UnknownNameError(message(what, f"one of {names}", repr(name)))


def shape_str(shape: tuple[int, ...]) -> str:
    """``(2, 3)`` as ``2×3``, ``(4,)`` as ``4``: how shapes are printed everywhere."""
    return "×".join(str(s) for s in shape) if shape else "scalar"
