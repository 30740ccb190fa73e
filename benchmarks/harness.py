"""What the benchmarks here share: medians and paired ratios of timings, the machine's line,
the BLAS thread count, the optional frameworks (torch, jax), and the largest gradient
difference between two routes.

Imported by ``scale.py``, ``lenet.py``, ``batchnorm.py`` and ``transformer.py`` (run as
``python benchmarks/<name>.py``, which puts this folder on ``sys.path``); not part of the
package or of the tests.
"""

from __future__ import annotations

import ctypes
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np

# The setters and getters of OpenBLAS's thread count, under the names its builds export
# (numpy's and scipy's wheels prefix them with ``scipy_`` and suffix the 64-bit-integer ones).
_OPENBLAS_THREADS = (
    ("scipy_openblas_set_num_threads64_", "scipy_openblas_get_num_threads64_"),
    ("scipy_openblas_set_num_threads", "scipy_openblas_get_num_threads"),
    ("openblas_set_num_threads64_", "openblas_get_num_threads64_"),
    ("openblas_set_num_threads", "openblas_get_num_threads"),
)


def median_seconds(task: Callable[[], object], repeats: int = 5) -> float:
    """The median wall time of ``repeats`` calls of ``task``."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        task()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def paired_rounds(
    task: Callable[[], object], base: Callable[[], object], rounds: int = 7, repeats: int = 5
) -> list[tuple[float, float]]:
    """``(task, base)`` median seconds of each of ``rounds`` rounds; in each, ``base`` and then
    ``task`` run once untimed (warm caches) and ``repeats`` times timed."""
    out = []
    for _ in range(rounds):
        base()
        b = median_seconds(base, repeats)
        task()
        t = median_seconds(task, repeats)
        out.append((t, b))
    return out


def paired_ratio(
    task: Callable[[], object], base: Callable[[], object], rounds: int = 7, repeats: int = 5
) -> tuple[float, float, float]:
    """``task`` against ``base`` in ``rounds`` rounds; in each, ``base`` and then ``task`` run
    once untimed (warm caches) and ``repeats`` times timed, and the round's ratio is the
    ratio of their medians. Returns the median ratio over the rounds and the median seconds
    of each. A shared machine's speed drifts: a round compares two measurements made a moment
    apart, and each is of a warm route (alternating single runs would let the explicit
    route's memory traffic evict the compact route's data and flatter the ratio)."""
    pairs = paired_rounds(task, base, rounds, repeats)
    return (
        statistics.median(t / b for t, b in pairs),
        statistics.median(t for t, _ in pairs),
        statistics.median(b for _, b in pairs),
    )


def machine() -> str:
    """Python and numpy versions, the core count and the CPU's model name."""
    cpu = platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(
                (ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), cpu
            )
    except OSError:
        pass
    return f"python {sys.version.split()[0]}, numpy {np.__version__}, {os.cpu_count()} cores, {cpu}"


def _loaded_openblas() -> list[str]:
    """Paths of the OpenBLAS libraries this process has loaded (numpy's, scipy's once
    ``scipy.linalg`` is imported); empty where ``/proc/self/maps`` cannot be read."""
    try:
        with open("/proc/self/maps") as f:
            paths = {ln.split()[-1] for ln in f if "openblas" in ln.lower() and "/" in ln}
    except OSError:
        return []
    return sorted(paths)


def pin_blas_threads(threads: int) -> str:
    """Set every loaded OpenBLAS library's thread count to ``threads`` (at run time, through
    its own setter, as threadpoolctl does) and say what each now reports, e.g.
    ``BLAS threads: 1 (libscipy_openblas64_-….so)``. Call it after the imports that load BLAS;
    a library it cannot pin is named as such."""
    cells = []
    for path in _loaded_openblas():
        name = os.path.basename(path)
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            cells.append(f"{name}: not pinned")
            continue
        for setter, getter in _OPENBLAS_THREADS:
            if hasattr(lib, setter) and hasattr(lib, getter):
                getattr(lib, setter)(ctypes.c_int(threads))
                cells.append(f"{getattr(lib, getter)()} ({name})")
                break
        else:
            cells.append(f"{name}: not pinned (no setter found)")
    if not cells:
        env = os.environ.get("OPENBLAS_NUM_THREADS", "unset")
        return f"BLAS threads: not pinned (no OpenBLAS loaded; OPENBLAS_NUM_THREADS={env})"
    return "BLAS threads: " + ", ".join(cells)


# --- optional: torch and jax, never dependencies ---------------------------------------


def frameworks() -> dict[str, object]:
    """The importable ones of torch and jax, by name; the others are reported as skipped."""
    found: dict[str, object] = {}
    try:
        import torch

        found["torch"] = torch
    except ImportError:
        pass
    try:
        import jax

        jax.config.update("jax_enable_x64", True)  # float64, as everywhere here
        found["jax"] = jax
    except ImportError:
        pass
    return found


def skipped(found: dict[str, object]) -> str:
    """``'torch, jax: skipped (not importable)'`` for those missing from ``found``; or ``''``."""
    missing = [name for name in ("torch", "jax") if name not in found]
    return f"{', '.join(missing)}: skipped (not importable)" if missing else ""


def max_difference(ours: dict[str, np.ndarray], theirs: dict[str, np.ndarray]) -> str:
    """The largest absolute difference over every gradient, and where: ``'2.2e-16 (dW3)'``;
    an ``AssertionError`` unless every gradient agrees (relative 1e-9, absolute 1e-12)."""
    for k, v in ours.items():
        assert np.allclose(theirs[k], v, rtol=1e-9, atol=1e-12), f"{k} differs"
    gaps = {k: float(np.max(np.abs(np.asarray(theirs[k]) - v))) for k, v in ours.items()}
    worst = max(gaps, key=gaps.__getitem__)
    return f"{gaps[worst]:.1e} ({worst})"
