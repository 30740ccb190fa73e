"""The registry of layer kinds by spec name, and the spec parser.

A spec is comma-separated entries, each ``name`` or ``name(arguments)``: positional arguments
first, then ``key=value``; values are whole numbers, numbers or ``true``/``false``:

    conv2d(4, 3, padding=1), relu, maxpool(2), flatten, dense(10), softmax

Names are normalised like the activations' (case, ``-`` for ``_``); ``leaky_relu:0.2`` is
read as ``leaky_relu(0.2)``. Adding a kind is one line in :data:`KINDS`; its arguments, their
defaults and their checks come from the kind's own fields.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Sequence
from typing import Any

from ..activations import normalize
from ..errors import InvalidValueError, message, unknown_name
from .activation import activation_kinds
from .attention import Attention
from .base import Kind, spec_value
from .batchnorm import BatchNorm
from .conv2d import Conv2d
from .dense import Dense
from .dropout import Dropout
from .embedding import Embedding
from .flatten import Flatten
from .layernorm import LayerNorm
from .pool import AvgPool, MaxPool
from .residual import Residual

KINDS: dict[str, type[Kind]] = {
    "dense": Dense,
    "conv2d": Conv2d,
    "maxpool": MaxPool,
    "avgpool": AvgPool,
    "flatten": Flatten,
    "batchnorm": BatchNorm,
    "layernorm": LayerNorm,
    "dropout": Dropout,
    "residual": Residual,
    "embedding": Embedding,
    "attention": Attention,
    **dict(activation_kinds()),
}
"""Every layer kind by its spec name."""

_ENTRY = re.compile(r"^\s*([A-Za-z][\w-]*)\s*(?:\((.*)\))?\s*$", re.S)
_KEYWORD = re.compile(r"^\s*([A-Za-z_]\w*)\s*=(.*)$", re.S)
_INT = re.compile(r"^[+-]?\d+$")
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def split_top(text: str, what: str) -> list[str]:
    """``text`` split at the commas outside parentheses; raises on unbalanced parentheses.

    >>> split_top("conv2d(4, 3), relu", "layers")
    ['conv2d(4, 3)', ' relu']
    """
    parts, depth, start = [], 0, 0
    for i, c in enumerate(text):
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth < 0:
                break
        elif c == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    if depth != 0:
        raise InvalidValueError(
            message(what, "balanced parentheses", repr(text), "close every ( with a )")
        )
    parts.append(text[start:])
    return parts


def parse_value(text: str, annotation: str, where: str) -> Any:
    """A spec value for a field annotated ``int``, ``float`` or ``bool`` (``… | None`` too)."""
    value = text.strip()
    if "bool" in annotation:
        if value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise InvalidValueError(message(where, "true or false", repr(value)))
    if "int" in annotation:
        if _INT.match(value):
            return int(value)
        raise InvalidValueError(message(where, "a whole number", repr(value)))
    if _NUMBER.match(value):
        return float(value)
    raise InvalidValueError(message(where, "a number", repr(value)))


def build(
    kind: type[Kind], positional: Sequence[str], keywords: dict[str, str], where: str
) -> Kind:
    """An instance of ``kind`` from spec arguments, each converted and checked by its field."""
    fields = [f for f in dataclasses.fields(kind) if f.init]
    names = [f.name for f in fields]
    if positional and not fields:
        raise InvalidValueError(
            message(where, f"no arguments ({kind.name} takes none)", text(positional))
        )
    if len(positional) > len(fields):
        raise InvalidValueError(
            message(
                where,
                f"at most {len(fields)} argument{'s' if len(fields) != 1 else ''}"
                + (f" ({', '.join(names)})" if names else ""),
                f"{len(positional)}",
            )
        )
    given: dict[str, str] = dict(zip(names, positional, strict=False))
    for key, value in keywords.items():
        if key not in names:
            raise unknown_name(f"{where}: argument", key, names or ["(none)"])
        if key in given:
            raise InvalidValueError(message(where, f"{key} once", "it twice"))
        given[key] = value
    values: dict[str, Any] = {}
    for f in fields:
        if f.name not in given:
            if f.default is dataclasses.MISSING:
                raise InvalidValueError(
                    message(where, f"{f.name} ({f.metadata.get('help', '')})", "none", _usage(kind))
                )
            continue
        value = parse_value(given[f.name], str(f.type), f"{where}: {f.name}")
        bounds = _bounds(f.metadata, isinstance(value, int))
        if bounds is not None and not _within(value, f.metadata):
            raise InvalidValueError(message(f"{where}: {f.name}", bounds, given[f.name].strip()))
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidValueError(
                message(f"{where}: {f.name}", "a finite number", given[f.name].strip())
            )
        values[f.name] = value
    return kind(**values)


def _bounds(metadata: Any, whole: bool) -> str | None:
    """``a whole number ≥ 1``, ``a number > 0``, ``a number in [0, 1)``: a field's bounds."""
    low, above, below = metadata.get("minimum"), metadata.get("above"), metadata.get("below")
    kind = "a whole number" if whole else "a number"
    if low is not None and below is not None:
        return f"{kind} in {'(' if above else '['}{low:g}, {below:g})"
    if low is not None:
        return f"{kind} {'>' if above else '≥'} {low:g}"
    return None


def _within(value: float, metadata: Any) -> bool:
    low, above, below = metadata.get("minimum"), metadata.get("above"), metadata.get("below")
    if low is not None and (value <= low if above else value < low):
        return False
    return below is None or value < below


def text(parts: Sequence[str]) -> str:
    """Arguments as they were written: ``'2, 3'``."""
    return repr(", ".join(p.strip() for p in parts))


def _usage(kind: type[Kind]) -> str:
    """``write conv2d(out_channels, kernel, stride=1, padding=0)``."""
    return f"write {signature(kind)}"


def parse_entry(text: str, position: int) -> Kind:
    """One entry (``maxpool(2, stride=1)``) as a kind; errors name its position."""
    where = f"layers[{position}] {text.strip()!r}"
    entry = text.strip()
    if ":" in entry and "(" not in entry:  # leaky_relu:0.2, as --activations writes it
        head, _, tail = entry.partition(":")
        if not tail.strip():
            raise InvalidValueError(
                message(where, f"{head}:<value> with a value after the colon", repr(entry))
            )
        entry = f"{head}({tail})"
    match = _ENTRY.match(entry)
    if match is None:
        raise InvalidValueError(
            message(where, "a layer written name or name(arguments)", repr(text.strip()))
        )
    key = normalize(match.group(1))
    if key not in KINDS:
        raise unknown_name(f"layers[{position}]", match.group(1), KINDS)
    inner = match.group(2)
    positional: list[str] = []
    keywords: dict[str, str] = {}
    if inner is not None and inner.strip():
        for part in split_top(inner, where):
            if not part.strip():
                raise InvalidValueError(message(where, "no empty argument", repr(inner)))
            keyword = _KEYWORD.match(part)  # key=value at the top level, not inside a layer
            name, equals, value = (
                (keyword.group(1), "=", keyword.group(2))
                if keyword
                else (
                    part,
                    "",
                    "",
                )
            )
            if equals:
                if name.strip() in keywords:
                    raise InvalidValueError(
                        message(where, f"{name.strip()} once", f"{name.strip()} twice")
                    )
                keywords[name.strip()] = value
            elif keywords:
                raise InvalidValueError(
                    message(where, "positional arguments before key=value ones", repr(inner))
                )
            else:
                positional.append(part)
    return KINDS[key].parse(positional, keywords, where)


def parse_layers(spec: str | Sequence[str | Kind]) -> list[Kind]:
    """``"conv2d(4, 3, padding=1), relu, …"`` (or a list of entries or kinds) → the kinds.

    >>> [k.spec() for k in parse_layers("conv2d(4, 3, padding=1), relu, maxpool(2)")]
    ['conv2d(4, 3, padding=1)', 'relu', 'maxpool(2)']
    """
    entries = split_top(spec, "layers") if isinstance(spec, str) else list(spec)
    if isinstance(spec, str) and not spec.strip():
        raise InvalidValueError(message("layers", "at least one layer", "an empty spec"))
    kinds: list[Kind] = []
    for i, entry in enumerate(entries, start=1):
        if isinstance(entry, Kind):
            kinds.append(entry)
            continue
        if not str(entry).strip():
            raise InvalidValueError(
                message("layers", "comma-separated layers", f"an empty layer in position {i}")
            )
        kinds.append(parse_entry(str(entry), i))
    return kinds


def kinds_from_description(layers: object) -> list[Kind]:
    """The kinds of ``network.layers`` as ``compare --json`` writes it (``[{"kind": "conv2d",
    "out_channels": 4, "kernel": 3, …}, …]``); every argument is checked as a spec's is."""
    if not isinstance(layers, list) or not all(isinstance(x, dict) for x in layers):
        raise InvalidValueError(message("network.layers", "a list of layer objects", repr(layers)))
    kinds: list[Kind] = []
    for i, layer in enumerate(layers, start=1):
        name = str(layer.get("kind", ""))
        if normalize(name) not in KINDS:
            raise unknown_name(f"network.layers[{i}].kind", name, KINDS)
        kind = KINDS[normalize(name)]
        if kind.block:
            where = f"network.layers[{i}] {name!r}: "
            try:
                inner = kinds_from_description(layer.get("layers"))
            except InvalidValueError as e:
                raise InvalidValueError(f"{where}{e}") from None
            kinds.append(kind(tuple(inner)))  # type: ignore[call-arg]
            continue
        fields = {f.name for f in dataclasses.fields(kind)}
        known = {"kind", "parameters", "layer", "output", *kind.state}
        unknown = sorted(set(layer) - fields - known)
        if unknown:
            raise InvalidValueError(
                message(
                    f"network.layers[{i}] {name!r}",
                    f"only its arguments ({', '.join(sorted(fields)) or 'none'})",
                    f"also {', '.join(map(repr, unknown))}",
                )
            )
        given = {k: spec_value(v) for k, v in layer.items() if k in fields}
        kinds.append(build(kind, [], given, f"network.layers[{i}] {name!r}"))
    return kinds


def signature(kind: type[Kind]) -> str:
    """``conv2d(out_channels, kernel, stride=1, padding=0)``; ``relu``; ``residual(layer, …)``."""
    if kind.block:
        return f"{kind.name}(layer, …)"
    parts = []
    for f in dataclasses.fields(kind):
        if f.default is dataclasses.MISSING:
            parts.append(f.name)
        else:
            default = f.metadata.get("help", "").partition("default: ")[2].rstrip(")") or (
                spec_value(f.default)
            )
            parts.append(f"{f.name}={default}")
    return f"{kind.name}({', '.join(parts)})" if parts else kind.name


def catalogue() -> str:
    """Every kind of :data:`KINDS`: its signature, its forward map and its Jacobians."""
    rows = [(signature(kind), kind.summary) for kind in KINDS.values()]
    width = max(len(s) for s, _ in rows)
    return "\n".join(f"{s:<{width}}  {line}" for s, line in rows)
