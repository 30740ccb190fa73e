"""Parameter files: JSON, TOML and .npz round trips, and every bad file explained."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from jacobians.errors import InvalidValueError, ParameterFileError, ShapeError
from jacobians.network import Network
from jacobians.parameters import init_parameters, parameters_from_arrays, sizes_from_arrays
from jacobians.paramfile import read, write

NET = Network.from_spec("3-4-2-1", "relu,relu,sigmoid", "bce")


def _arrays(batch: int = 1) -> dict[str, object]:
    return {k: v.tolist() for k, v in init_parameters(NET, 5, batch).arrays().items()}


@pytest.mark.parametrize("suffix", [".json", ".toml", ".npz"])
def test_round_trip(tmp_path: Path, suffix: str) -> None:
    params = init_parameters(NET, 5, 3)
    path = tmp_path / f"p{suffix}"
    write(path, params.arrays())
    back = parameters_from_arrays(NET, read(path))
    for k, v in params.arrays().items():
        np.testing.assert_array_equal(back.arrays()[k], v)
    assert sizes_from_arrays(read(path)) == (3, 4, 2, 1)


def test_one_example_may_be_a_vector_and_b_a_column() -> None:
    arrays = _arrays()
    arrays["x"] = [1.0, 2.0, 3.0]
    arrays["y"] = 1.0
    arrays["b1"] = [[0.1], [0.2], [0.3], [0.4]]
    params = parameters_from_arrays(NET, arrays)
    assert params.x.shape == (3, 1) and params.y is not None and params.y.shape == (1, 1)
    assert params.b[0].shape == (4,)


@pytest.mark.parametrize(
    ("change", "error", "pattern"),
    [
        (
            {"W2": np.zeros((4, 2)).tolist()},
            ShapeError,
            r"array 'W2': expected shape 2×4, got 4×2; did you pass W2ᵀ\?",
        ),
        ({"b3": [0.0, 0.0]}, ShapeError, r"array 'b3': expected shape 1, got 2"),
        ({"x": [[1.0, 2.0]]}, ShapeError, r"array 'x': expected shape 3 \(one example\) or 3×B"),
        (
            {"W1": [[1.0, "a", 2.0]] * 4},
            InvalidValueError,
            r"array 'W1': expected numbers \(a nested list of equal-length rows\), got",
        ),
        ({"W1": [[1.0, 2.0, 3.0], [1.0]] * 2}, InvalidValueError, r"array 'W1': expected numbers"),
        (
            {"b2": [0.0, float("nan")]},
            InvalidValueError,
            r"array 'b2': expected finite numbers, got nan at index \(1,\)",
        ),
        (
            {"x": [[1.0], [float("inf")], [0.0]]},
            InvalidValueError,
            r"array 'x': expected finite numbers, got inf at index \(1, 0\)",
        ),
        (
            {"y": [[2.0]]},
            InvalidValueError,
            r"y: expected values in \[0, 1\] for loss 'bce', got a value 2 outside \[0, 1\]",
        ),
        (
            {"W4": [[1.0]]},
            ParameterFileError,
            r"parameters: expected only W1, b1, W2, b2, W3, b3, x, y for the 3-layer 3-4-2-1, "
            r"got also 'W4'; check --sizes",
        ),
        (
            {"y": [[1.0, 0.0]]},
            ShapeError,
            r"array 'y': expected 1 columns, one per example of x, got shape 1×2",
        ),
    ],
)
def test_bad_arrays(change: dict[str, object], error: type[Exception], pattern: str) -> None:
    arrays = _arrays()
    arrays.update(change)
    with pytest.raises(error, match=pattern):
        parameters_from_arrays(NET, arrays)


def test_missing_array_is_named() -> None:
    arrays = _arrays()
    del arrays["b2"], arrays["y"]
    with pytest.raises(
        ParameterFileError,
        match=r"parameters: expected arrays W1, b1, W2, b2, W3, "
        r"b3, x, y for 3-4-2-1, got no 'b2', 'y'",
    ):
        parameters_from_arrays(NET, arrays)


@pytest.mark.parametrize(
    ("name", "text", "pattern"),
    [
        (
            "p.json",
            "{not json",
            r"parameter file '.*p.json': expected valid JSON, got .* at line 1",
        ),
        ("p.toml", "W1 = [", r"parameter file '.*p.toml': expected valid TOML, got"),
        ("p.json", "[1, 2]", r"expected an object of named arrays, got list"),
        ("p.csv", "1,2", r"expected a name ending in .json, .toml, .npz, got '.csv'"),
        (
            "p.npz",
            "not a zip",
            r"parameter file '.*p.npz': expected a .npz archive .*, "
            r"got a file that is not a zip archive",
        ),
    ],
)
def test_bad_files(tmp_path: Path, name: str, text: str, pattern: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ParameterFileError, match=pattern):
        read(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ParameterFileError, match=r"expected an existing file, got no such file"):
        read(tmp_path / "absent.json")


def test_sizes_need_consecutive_weights(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"W1": [[1.0]], "W3": [[1.0]]}))
    with pytest.raises(ParameterFileError, match=r"parameters: expected array 'W2', got none"):
        sizes_from_arrays(read(path))
