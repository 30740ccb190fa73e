"""Regenerate the figures of the docs with the same commands a reader would type.

Run from the project root, with the plot extra installed:

    python docs/figures/make_figures.py            # rewrites docs/figures/*.png
    python docs/figures/make_figures.py OUT_DIR    # writes them somewhere else

Each figure is ``jacobians plot …`` with the arguments in ``FIGURES``; ``figures.json``
records the matplotlib version that drew them, which the tests use to decide whether the
checked-in pictures can be compared pixel by pixel with freshly drawn ones.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

from jacobians.cli import main as jacobians

HERE = Path(__file__).resolve().parent

# file name → the arguments of `jacobians plot` that draw it
FIGURES: dict[str, list[str]] = {
    "chain.png": ["chain", "square", "sigmoid"],
    "sweep.png": ["sweep"],
    "jacobians.png": ["jacobians", "--sizes", "3,4,2,1"],
    "convolution.png": [
        "jacobians",
        "--input",
        "1x4x4",
        "--layers",
        "conv2d(2, 2), relu, maxpool(2), flatten, dense(1), sigmoid",
    ],
    "batchnorm.png": [
        "jacobians",
        "--input",
        "2",
        "--layers",
        "dense(2), batchnorm, sigmoid",
        "--batch",
        "4",
        "--seed",
        "3",
    ],
    "residual.png": [
        "jacobians",
        "--input",
        "3",
        "--layers",
        "dense(3), relu, residual(dense(3), tanh), dense(1), sigmoid",
    ],
    "attention.png": [
        "jacobians",
        "--input",
        "4x3",
        "--layers",
        "attention(2, d_v=3)",
        "--loss",
        "sum",
        "--seed",
        "1",
    ],
}


def make(folder: Path) -> list[Path]:
    """Draw every figure into ``folder``; return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, args in FIGURES.items():
        path = folder / name
        status = jacobians(["plot", *args, "-o", str(path)])
        if status != 0:
            raise SystemExit(f"jacobians plot {' '.join(args)} exited {status}")
        paths.append(path)
    return paths


def main(argv: list[str]) -> int:
    folder = Path(argv[0]) if argv else HERE
    make(folder)
    if folder.resolve() == HERE:
        manifest = {"matplotlib": matplotlib.__version__, "figures": FIGURES}
        (HERE / "figures.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
