"""Read and write parameter files: JSON, TOML (nested lists) or NumPy ``.npz``.

A file holds ``W1, b1, …, WL, bL, x`` and ``y`` under those names, in the shapes of
:mod:`jacobians.parameters`. Reading returns the raw mapping; checking against a network is
:func:`jacobians.parameters.parameters_from_arrays`.
"""

from __future__ import annotations

import json
import tomllib
import zipfile
from pathlib import Path

import numpy as np

from ._typing import FloatArray
from .errors import ParameterFileError, message

FORMATS = (".json", ".toml", ".npz")


def read(path: str | Path) -> dict[str, object]:
    """The arrays of a ``.json``, ``.toml`` or ``.npz`` file, by name (not yet checked)."""
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
