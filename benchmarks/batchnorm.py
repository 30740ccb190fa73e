"""784-256-128-10 with batch norm after each hidden dense layer: the structured route against
the compact one at batch 64 (issue: normalization, dropout and residual blocks, point 7).

Run: python benchmarks/batchnorm.py [--threads N] [--batches 64,256] [--sections 1,2]
(prints Markdown tables; not part of the tests)

1. gradients: the structured route (reverse order; with batch norm always one chain through
   the batch Jacobians) against the compact route, as ratios measured in alternating rounds
   (``harness.paired_rounds``: the median ratio, as ``paired_ratio``, and the extremes);
   beside them the same MLP without batch norm, for the cost of the two batch-norm layers in
   each route; and what the other routes say (all refused for this network at batch 64);
2. ``jacobians compare`` with the default ``--jacobians auto``: the whole command's wall time,
   the representation it chose and why, and whether it reports agreement; ``--strategy
   examples`` once, for its refusal.

BLAS runs on ``--threads`` threads (default 1), pinned and printed. torch and jax are not
measured here; the script says whether they were importable.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial

from harness import (
    frameworks,
    machine,
    max_difference,
    paired_rounds,
    pin_blas_threads,
    skipped,
)

from jacobians.backprop import vectorized_route
from jacobians.chains import jacobian_route
from jacobians.errors import JacobiansError
from jacobians.network import Network
from jacobians.parameters import init_parameters

SPEC = "dense(256), batchnorm, relu, dense(128), batchnorm, relu, dense(10), softmax"
PLAIN = "dense(256), relu, dense(128), relu, dense(10), softmax"  # the same MLP, no batch norm
INPUT, LOSS = "784", "ce"
GOAL_BATCH = 64
SEED = 0


def network(spec: str = SPEC) -> Network:
    """The 784-256-128-10 network of ``spec``, softmax + cross-entropy."""
    return Network.from_layers(spec, INPUT, LOSS)


# --- 1. gradients ------------------------------------------------------------------------


def refusal(task: Callable[[], object]) -> str:
    """The package's message if ``task`` is refused, else ``''``."""
    try:
        task()
    except JacobiansError as e:
        return str(e)
    return ""


def gradients(batches: list[int]) -> None:
    """Table 1: the structured route's median seconds and its ratio to the compact route, per
    network and batch, with its largest gradient difference from the compact route; then the
    routes the package refuses for this network, with its messages."""
    print("## 1. Gradients: the structured route against the compact route\n")
    print(
        "Alternating rounds: in each, the compact route and then the structured route run once "
        "untimed and five times timed; the ratio is the median over seven rounds of the ratio "
        "of their medians (milliseconds are medians too), beside the smallest and largest of the "
        "seven.\n"
    )
    cells = "| network | batch | compact (ms) | structured (ms) | ÷ compact | rounds' ratios |"
    print(cells + " max abs Δ |")
    print("|---|---:|---:|---:|---:|---:|---|")
    refused: dict[str, str] = {}
    for label, spec in (("with batchnorm", SPEC), ("without batchnorm", PLAIN)):
        net = network(spec)
        for batch in batches:
            params = init_parameters(net, SEED, batch)
            base = partial(vectorized_route, net, params)
            task = partial(jacobian_route, net, params, "reverse", "structured")
            ours, theirs = base().gradients, task().gradients
            pairs = paired_rounds(task, base, 7, 5)
            ratios = sorted(t / b for t, b in pairs)
            t = statistics.median(t for t, _ in pairs)
            b = statistics.median(b for _, b in pairs)
            print(
                f"| {label} | {batch} | {b * 1e3:.2f} | {t * 1e3:.2f} | "
                f"{statistics.median(ratios):.2f}× | {ratios[0]:.2f}–{ratios[-1]:.2f}× | "
                f"{max_difference(ours, theirs)} |"
            )
            if spec == SPEC and batch == GOAL_BATCH:
                route = partial(jacobian_route, net, params)
                others = {
                    "structured, --strategy examples": partial(
                        route, "reverse", "structured", strategy="examples"
                    ),
                    "structured, forward order": partial(route, "forward", "structured"),
                    "sparse": partial(route, "reverse", "sparse"),
                    "dense": partial(route, "reverse", "dense"),
                }
                refused = {k: refusal(v) or "ran (not timed)" for k, v in others.items()}
    print()
    print(f"The other routes at batch {GOAL_BATCH}, with batch norm (not timed):\n")
    for label, why in refused.items():
        print(f"- {label}: {why}")
    print()


# --- 2. jacobians compare ----------------------------------------------------------------


def compare_args(batch: int, extra: tuple[str, ...] = ()) -> list[str]:
    """The arguments of ``jacobians compare`` on the network at ``batch``."""
    base = ["compare", "--input", INPUT, "--layers", SPEC, "--loss", LOSS, "--batch", str(batch)]
    return [*base, *extra]


def run_compare(batch: int, extra: tuple[str, ...], runs: int, threads: int) -> str:
    """A table row: the wall time of each of ``runs`` runs of the whole command (start-up
    included), the representation the report's second line names, its ``note: auto:`` lines
    and its last line (or, for a refusal, the error's first line)."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": str(threads)}
    exe = shutil.which("jacobians")  # the installed script, else python -m jacobians
    cmd = [exe] if exe else [sys.executable, "-m", "jacobians"]
    cmd += compare_args(batch, extra)
    times, out, err = [], "", ""
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
        times.append(time.perf_counter() - start)
        out, err = done.stdout, done.stderr
    lines = out.splitlines() or [""]
    second = lines[1] if len(lines) > 1 else ""
    chose = next((r for r in ("dense", "sparse", "structured") if f"{r} Jacobian" in second), "—")
    auto = [ln.removeprefix("note: auto:").strip() for ln in lines if ln.startswith("note: auto:")]
    last = lines[-1] if out.strip() else (err.strip().splitlines() or ["(no output)"])[-1]
    seconds = ", ".join(f"{t:.2f}" for t in sorted(times))
    options = " ".join(extra) or "(defaults: `--jacobians auto`)"
    return (
        f"| {batch} | {options} | {seconds} | {chose} | {'; '.join(auto) or '—'} | "
        f"{last} (exit {done.returncode}) |"
    )


def compare(threads: int) -> None:
    """Table 2: ``jacobians compare`` with its defaults at batch 64, three runs; then once with
    ``--strategy examples``, which the package refuses for this network."""
    print("## 2. `jacobians compare` on the network\n")
    shown = shlex.join(["jacobians", *compare_args(GOAL_BATCH)])
    print(
        f"`{shown}`: seconds of each run of the whole command, start-up included, fastest "
        f"first; `OPENBLAS_NUM_THREADS={threads}`.\n"
    )
    print("| batch | options | seconds | chose | `note: auto:` | last line |")
    print("|---:|---|---|---|---|---|")
    print(run_compare(GOAL_BATCH, (), 3, threads))
    print(run_compare(GOAL_BATCH, ("--strategy", "examples"), 1, threads))
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads")
    parser.add_argument("--batches", default=f"{GOAL_BATCH},256", help="batches of table 1")
    parser.add_argument("--sections", default="1,2", help="which tables, e.g. 2")
    args = parser.parse_args()
    sections = set(args.sections.split(","))
    found = frameworks()
    print(f"{machine()}; medians of repeated runs\n")
    print(pin_blas_threads(args.threads) + "\n")
    notes = [skipped(found)] if skipped(found) else []
    notes += [f"{name}: importable, not measured here" for name in found]
    print("\n".join(notes) + "\n")
    if "1" in sections:
        gradients([int(b) for b in args.batches.split(",")])
    if "2" in sections:
        compare(args.threads)


if __name__ == "__main__":
    main()
