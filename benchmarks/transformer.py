"""A transformer block on a 64 × 64 sequence at batch 1 and 16: the structured route against
the compact one (issue: sequences and attention, point 7).

Run: python benchmarks/transformer.py [--threads N] [--batches 1,16] [--sections 1,2,3]
(prints Markdown tables; not part of the tests)

1. gradients: the structured route (reverse order; at a batch its default, one chain through
   the batch Jacobians) against the compact route, as ratios measured in alternating rounds
   (``harness.paired_rounds``: the median ratio, as ``paired_ratio``, and the extremes), with
   the largest gradient difference between the two; at a batch also the structured route per
   example (``--strategy examples``), in fewer rounds;
2. ``jacobians compare`` with the default ``--jacobians auto`` at each batch: the whole
   command's wall time and peak memory, the representation it chose and why, and whether it
   reports agreement; then ``--jacobians dense`` at the largest batch (refused);
3. ``jacobians compare --jacobians dense`` at batch 1, once: minutes and gigabytes (about 85 s
   and 3.6 GiB on the machine of benchmarks/README.md), hence a section of its own.

BLAS runs on ``--threads`` threads (default 1), pinned and printed; ``compare`` runs with
``OPENBLAS_NUM_THREADS`` set to the same. torch and jax are not measured here; the script says
whether they were importable.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
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
from jacobians.network import Network
from jacobians.parameters import init_parameters

SPEC = (
    "residual(attention(64)), layernorm, residual(dense(64), relu, dense(64)), layernorm, "
    "flatten, dense(10), softmax"
)
INPUT = "64x64"  # T = 64 tokens of d = 64; the loss is the default for softmax, ce
BATCHES = "1,16"
SEED = 0


def network() -> Network:
    """The transformer block on a 64 × 64 sequence, softmax + cross-entropy."""
    return Network.from_layers(SPEC, INPUT)


# --- 1. gradients ------------------------------------------------------------------------


Task = tuple[str, Callable[[], object], int, int]  # label, task, rounds, timed runs a round


def gradients(batches: list[int]) -> None:
    """Table 1: per batch, the compact and the structured route's median milliseconds, the
    median of the rounds' ratios with the smallest and largest round, and the largest gradient
    difference from the compact route."""
    print("## 1. Gradients: the structured route against the compact route\n")
    print(
        "Alternating rounds: in each, the compact route and then the structured route run once "
        "untimed and several times timed; the ratio is the median over the rounds of the ratio "
        "of their medians (milliseconds are medians too), beside the smallest and largest "
        "round.\n"
    )
    cells = "| batch | route | compact (ms) | structured (ms) | ÷ compact | rounds' ratios |"
    print(cells + " rounds × runs | max abs Δ |")
    print("|---:|---|---:|---:|---:|---:|---:|---|")
    net = network()
    for batch in batches:
        params = init_parameters(net, SEED, batch)
        base = partial(vectorized_route, net, params)
        route = partial(jacobian_route, net, params, "reverse", "structured")
        tasks: list[Task] = [("structured" + (", batch chain" if batch > 1 else ""), route, 7, 5)]
        if batch > 1:
            tasks.append(("structured, per example", partial(route, strategy="examples"), 3, 3))
        ours = base().gradients
        for label, task, rounds, repeats in tasks:
            theirs = task().gradients
            pairs = paired_rounds(task, base, rounds, repeats)
            ratios = sorted(t / b for t, b in pairs)
            t = statistics.median(t for t, _ in pairs)
            b = statistics.median(b for _, b in pairs)
            print(
                f"| {batch} | {label} | {b * 1e3:.2f} | {t * 1e3:.2f} | "
                f"{statistics.median(ratios):.2f}× | {ratios[0]:.2f}–{ratios[-1]:.2f}× | "
                f"{rounds} × {repeats} | {max_difference(ours, theirs)} |"
            )
    print()


# --- 2, 3. jacobians compare -------------------------------------------------------------


def compare_args(batch: int, extra: tuple[str, ...] = ()) -> list[str]:
    """The arguments of ``jacobians compare`` on the network at ``batch``."""
    return ["compare", "--layers", SPEC, "--input", INPUT, "--batch", str(batch), *extra]


# Run in a small Python between this process and the command: a child forked from this
# process (a hundred MiB once table 1 has run) would carry its resident size as the floor of
# its peak through exec (Linux keeps the larger of the two in ``ru_maxrss``).
TRAMPOLINE = """import os, subprocess, sys, time
start = time.perf_counter()
proc = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(proc.pid, 0)
seconds = time.perf_counter() - start
with open(sys.argv[1], "w") as f:
    f.write(f"{seconds} {usage.ru_maxrss} {os.waitstatus_to_exitcode(status)}")
"""


def run_once(cmd: list[str], env: dict[str, str]) -> tuple[float, float, int, str, str]:
    """Wall seconds, peak resident MiB (``wait4``, in :data:`TRAMPOLINE`), exit status,
    stdout and stderr of one run of ``cmd``; its output goes to temporary files (the report
    is tens of kilobytes)."""
    with (
        tempfile.TemporaryFile("w+") as out,
        tempfile.TemporaryFile("w+") as err,
        tempfile.NamedTemporaryFile("r") as stats,
    ):
        trampoline = [sys.executable, "-c", TRAMPOLINE, stats.name, *cmd]
        subprocess.run(trampoline, stdout=out, stderr=err, env=env, check=True)
        seconds, kib, code = stats.read().split()
        out.seek(0)
        err.seek(0)
        return float(seconds), int(kib) / 1024, int(code), out.read(), err.read()


def run_compare(batch: int, extra: tuple[str, ...], runs: int, threads: int) -> str:
    """A table row: the wall time of each of ``runs`` runs of the whole command (start-up
    included), the largest peak memory, the representation the report's second line names,
    its ``note: auto:`` lines and its last line (or, for a refusal, the error's last line)."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": str(threads)}
    exe = shutil.which("jacobians")  # the installed script, else python -m jacobians
    cmd = [exe] if exe else [sys.executable, "-m", "jacobians"]
    cmd += compare_args(batch, extra)
    done = [run_once(cmd, env) for _ in range(runs)]
    _, _, code, out, err = done[-1]
    lines = out.splitlines() or [""]
    second = lines[1] if len(lines) > 1 else ""
    chose = next((r for r in ("dense", "sparse", "structured") if f"{r} Jacobian" in second), "—")
    auto = [ln.removeprefix("note: auto:").strip() for ln in lines if ln.startswith("note: auto:")]
    last = lines[-1] if out.strip() else (err.strip().splitlines() or ["(no output)"])[-1]
    seconds = ", ".join(f"{t:.2f}" for t in sorted(r[0] for r in done))
    peak = max(r[1] for r in done)
    options = " ".join(extra) or "(defaults: `--jacobians auto`)"
    return (
        f"| {batch} | {options} | {seconds} | {peak:,.0f} | {chose} | {'; '.join(auto) or '—'} | "
        f"{last} (exit {code}) |"
    )


def compare_header(threads: int, batch: int) -> None:
    """The command (at ``batch``), what the columns mean, and the table's header."""
    shown = shlex.join(["jacobians", *compare_args(batch)])
    print(
        f"`{shown}` (other batches and options as in the rows): seconds of each run of the "
        f"whole command, start-up included, fastest first; the largest peak resident memory "
        f"of the runs; `OPENBLAS_NUM_THREADS={threads}`.\n"
    )
    print("| batch | options | seconds | peak MiB | chose | `note: auto:` | last line |")
    print("|---:|---|---|---:|---|---|---|")


def compare(batches: list[int], threads: int) -> None:
    """Table 2: ``jacobians compare`` with its defaults at each batch (three runs at batch 1,
    two above), then ``--jacobians dense`` at the largest batch above 1, once."""
    print("## 2. `jacobians compare` on the network\n")
    compare_header(threads, max(batches))
    for batch in batches:
        print(run_compare(batch, (), 3 if batch == 1 else 2, threads))
    if max(batches) > 1:  # at batch 1 it is table 3
        print(run_compare(max(batches), ("--jacobians", "dense"), 1, threads))
    print()


def compare_dense(threads: int) -> None:
    """Table 3: ``jacobians compare --jacobians dense`` at batch 1, once (minutes)."""
    print("## 3. `jacobians compare --jacobians dense` at batch 1\n")
    compare_header(threads, 1)
    print(run_compare(1, ("--jacobians", "dense"), 1, threads))
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads")
    parser.add_argument("--batches", default=BATCHES, help="batches of tables 1 and 2")
    parser.add_argument("--sections", default="1,2,3", help="which tables, e.g. 1 or 1,2")
    args = parser.parse_args()
    sections = set(args.sections.split(","))
    batches = [int(b) for b in args.batches.split(",")]
    found = frameworks()
    print(f"{machine()}; medians of repeated runs\n")
    print(pin_blas_threads(args.threads) + "\n")
    notes = [skipped(found)] if skipped(found) else []
    notes += [f"{name}: importable, not measured here" for name in found]
    if notes:
        print("\n".join(notes) + "\n")
    if "1" in sections:
        gradients(batches)
    if "2" in sections:
        compare(batches, args.threads)
    if "3" in sections:
        compare_dense(args.threads)


if __name__ == "__main__":
    main()
