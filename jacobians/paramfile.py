"""Read and write parameter files: JSON, TOML (nested lists) or NumPy ``.npz``.

A file holds every parameter (``W1, b1, …``), ``x`` and ``y`` under those names, in the shapes
of :mod:`jacobians.parameters` (the batch on the last axis). The JSON that
``jacobians compare --json`` prints is a parameter file too: its ``parameters``, ``x`` and
``y`` replay the run, and its ``network`` says which network it was. Reading returns the raw
mapping; checking against a network is :func:`jacobians.parameters.parameters_from_arrays`.
"""

from __future__ import annotations

import json
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ._typing import FloatArray
from .errors import ParameterFileError, message

FORMATS = (".json", ".toml", ".npz")


def read(path: str | Path) -> dict[str, object]:
    """The arrays of a ``.json``, ``.toml`` or ``.npz`` file, by name (not yet checked); a
    ``compare --json`` output gives its ``parameters``, ``x`` and ``y``."""
    return read_run(path)[0]


def read_run(path: str | Path) -> tuple[dict[str, object], dict[str, Any] | None]:
    """The arrays of a parameter file, and the network it describes when it is the output of
    ``jacobians compare --json`` (``network`` with ``input``, ``layers``, ``loss``), so that a
    run can be replayed from its own output."""
    data = _read(path)
    if isinstance(data.get("parameters"), dict) and "x" in data:
        arrays: dict[str, object] = dict(data["parameters"])
        arrays["x"] = data["x"]
        if data.get("y") is not None:
            arrays["y"] = data["y"]
        network = data.get("network")
        if not isinstance(network, dict):
            return arrays, None
        _masks(network.get("layers"), arrays)
        return arrays, network
    return data, None


def _masks(layers: object, arrays: dict[str, object]) -> None:
    """Dropout's masks from the layers' objects (``"mask"`` beside ``"layer": 3`` is
    ``mask3``), blocks' own layers included."""
    if not isinstance(layers, list):
        return
    for layer in layers:
        if isinstance(layer, dict):
            if "mask" in layer and "layer" in layer:
                arrays[f"mask{layer['layer']}"] = layer["mask"]
            _masks(layer.get("layers"), arrays)


def _read(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    what = f"parameter file {str(p)!r}"
    if p.suffix.lower() not in FORMATS:
        raise ParameterFileError(
            message(
                what, f"a name ending in {', '.join(FORMATS)}", repr(p.suffix or "no extension")
            )
        )
    if p.suffix.lower() == ".npz" and p.is_file() and not zipfile.is_zipfile(p):
        raise ParameterFileError(
            message(
                what,
                "a .npz archive (a zip of .npy arrays, as numpy.savez writes)",
                "a file that is not a zip archive",
            )
        )
    try:
        if p.suffix.lower() == ".npz":
            if p.exists() and not zipfile.is_zipfile(p):
                raise ParameterFileError(
                    message(
                        what,
                        "a .npz archive (a zip of .npy arrays, as numpy.savez writes)",
                        "a file that is not a zip archive",
                    )
                )
            with np.load(p, allow_pickle=False) as data:
                return {k: data[k] for k in data.files}
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ParameterFileError(message(what, "an existing file", "no such file")) from None
    except (OSError, ValueError, zipfile.BadZipFile) as e:
        raise ParameterFileError(message(what, "a readable file", str(e))) from None
    try:
        data = json.loads(text) if p.suffix.lower() == ".json" else tomllib.loads(text)
    except json.JSONDecodeError as e:
        raise ParameterFileError(
            message(what, "valid JSON", f"{e.msg} at line {e.lineno}")
        ) from None
    except tomllib.TOMLDecodeError as e:
        raise ParameterFileError(message(what, "valid TOML", str(e))) from None
    if not isinstance(data, dict):
        raise ParameterFileError(message(what, "an object of named arrays", type(data).__name__))
    return dict(data)


def write(path: str | Path, arrays: dict[str, FloatArray]) -> None:
    """Write arrays as ``.json``, ``.toml`` or ``.npz``, chosen by the file's extension."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".npz":
        np.savez(p, **arrays)  # type: ignore[arg-type]
    elif suffix == ".json":
        p.write_text(json.dumps({k: v.tolist() for k, v in arrays.items()}, indent=1) + "\n")
    elif suffix == ".toml":
        p.write_text("".join(f"{k} = {json.dumps(v.tolist())}\n" for k, v in arrays.items()))
    else:
        raise ParameterFileError(
            message(
                f"parameter file {str(p)!r}", f"a name ending in {', '.join(FORMATS)}", repr(suffix)
            )
        )
