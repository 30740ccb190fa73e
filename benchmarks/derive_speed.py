"""Seconds to derive and prove symbolically, per network size (issue: `jacobians derive`).

Run: python benchmarks/derive_speed.py  (prints a Markdown table; not part of the tests)
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial

from sympy.core.cache import clear_cache

from derivations.chains import jacobians, prove
from derivations.derive import derive
from derivations.general import general_derivation
from derivations.network import SymbolicNetwork
from jacobians.network import Network

NETWORKS = [
    ("3-4-2-1", "relu,relu,sigmoid", "bce"),
    ("4-4-4-1", "relu,relu,sigmoid", "bce"),
    ("8-8-8-1", "relu,relu,sigmoid", "bce"),
    ("8-8-8-8", "tanh,tanh,softmax", "ce"),
    ("16-16-16-1", "relu,relu,sigmoid", "bce"),
]
REPEATS = 3


def seconds(task: Callable[[], object]) -> float:
    """Median wall time of ``REPEATS`` runs, each from an empty sympy cache (a fresh process's
    cost; sympy otherwise remembers every expansion and the repeats would measure lookups)."""
    times = []
    for _ in range(REPEATS):
        clear_cache()
        start = time.perf_counter()
        task()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next(
                (line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), ""
            )
    except OSError:
        return ""


def _jacobians(net: Network) -> object:
    return jacobians(SymbolicNetwork(net))


def _derive_and_render(net: Network) -> object:
    return [d.unicode() for d in derive(net)]


def main() -> None:
    cpu = _cpu_model() or platform.machine()
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} cores, {cpu}; "
        f"median of {REPEATS}, sympy cache cleared before each"
    )
    print()
    print(
        "| network | parameters | Jacobians (s) | proofs (s) | `derive` all layers, W and b (s) |"
    )
    print("|---|---:|---:|---:|---:|")
    for spec in NETWORKS:
        net = Network.from_spec(*spec)
        sn = SymbolicNetwork(net)
        jac = jacobians(sn)
        t_jac = seconds(partial(_jacobians, net))
        t_prove = seconds(partial(prove, sn, jac))
        t_all = seconds(partial(_derive_and_render, net))
        label = f"{spec[0]} ({spec[1]}; {spec[2]})"
        print(f"| {label} | {net.parameter_count} | {t_jac:.2f} | {t_prove:.2f} | {t_all:.2f} |")
    print(f"| general n, m (`--general`) | – | – | – | {seconds(general_derivation):.2f} |")


if __name__ == "__main__":
    main()
