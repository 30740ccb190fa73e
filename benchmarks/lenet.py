"""LeNet-5 at batch 1 and 32: the explicit route against the compact one (issue: convolutions
at scale).

Run: python benchmarks/lenet.py [--threads N] [--sections 1,2,3]
(prints Markdown tables; not part of the tests)

1. gradients: each Jacobian route against the compact route, as ratios measured in alternating
   rounds (``harness.paired_ratio``); torch's autograd of the same network, weights and input
   where torch is importable, its gradients checked against ours;
2. building the first convolution's ``∂vec(z1)/∂vec(W1) = I_6 ⊗ U`` densely (``U`` the im2row
   matrix of the input), against writing as many bytes into fresh memory, round by round;
   beside ``np.kron`` and torch's ``jacrev``;
3. ``jacobians compare`` with the default ``--jacobians auto``: the whole command's wall time,
   the representation it chose and why, and whether it reports agreement.

BLAS runs on ``--threads`` threads (default 1; torch too), pinned and printed. torch and jax
are never dependencies: the script says when they were skipped (jax is not measured here).
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

import numpy as np
from harness import (
    frameworks,
    machine,
    max_difference,
    median_seconds,
    paired_ratio,
    paired_rounds,
    pin_blas_threads,
    skipped,
)

from jacobians.backprop import vectorized_route
from jacobians.chains import jacobian_route
from jacobians.correlation import im2row
from jacobians.network import Network
from jacobians.parameters import Parameters, init_parameters
from jacobians.structured import KronIdentity

LENET = (
    "conv2d(6,5,padding=2), relu, maxpool(2), conv2d(16,5), relu, maxpool(2), flatten, "
    "dense(120), relu, dense(84), relu, dense(10), softmax"
)
INPUT, LOSS = "1x28x28", "ce"
BATCHES = (1, 32)
SEED = 0


def lenet() -> Network:
    """LeNet-5 on a 1 × 28 × 28 input, softmax + cross-entropy."""
    return Network.from_layers(LENET, INPUT, LOSS)


# --- torch: the same network, weights and input (never a dependency) --------------------


def torch_forward(torch: object, net: Network, values: dict[str, object], x: object) -> object:
    """The logits of ``net`` on ``x`` (``B × C × H × W``) with torch's functional ops, walking
    the network's nodes; the last softmax is left to the loss (log-softmax)."""
    F = torch.nn.functional
    if type(net.nodes[-1].kind).__name__ != "Softmaxed":
        raise NotImplementedError("torch_forward: a network ending in softmax + ce only")
    a = x
    for node in net.nodes[:-1]:
        kind, name = node.kind, type(node.kind).__name__
        p = {role: values[param] for role, param in node.parameters.items()}
        if name == "Conv2d":
            a = F.conv2d(a, p["W"], p["b"], stride=kind.stride, padding=kind.padding)
        elif name == "MaxPool":
            a = F.max_pool2d(a, kind.size, kind.stride or kind.size)
        elif name == "Flatten":
            a = a.flatten(1)  # row-major over (C, H, W) per example, as ours
        elif name == "Dense":
            a = F.linear(a, p["W"], p["b"])
        elif getattr(kind, "name", "") == "relu":
            a = F.relu(a)
        else:
            raise NotImplementedError(f"torch_forward: no torch op for {node.kind}")
    return a


def torch_gradients(
    torch: object, net: Network, params: Parameters
) -> Callable[[], dict[str, np.ndarray]]:
    """A function computing every ``dθ`` of ``net`` with torch's eager autograd, in float64:
    the mean over the batch of the cross-entropy with one-hot ``y``, as ours. Our batch is the
    last axis (``C × H × W × B``, ``y`` is ``10 × B``), torch's the first; weights have the
    same layout in both (conv ``C_out × C_in × k × k``, dense ``units × inputs``)."""
    values = {k: torch.tensor(v, requires_grad=True) for k, v in params.values.items()}
    x = torch.tensor(np.ascontiguousarray(np.moveaxis(params.x, -1, 0)))
    y = torch.tensor(np.ascontiguousarray(params.target(net).T))
    F = torch.nn.functional

    def run() -> dict[str, np.ndarray]:
        logits = torch_forward(torch, net, values, x)
        loss = -(y * F.log_softmax(logits, dim=1)).sum() / x.shape[0]
        grads = torch.autograd.grad(loss, list(values.values()))
        return {f"d{k}": g.numpy() for k, g in zip(values, grads, strict=True)}

    return run


def torch_conv_jacobian(torch: object, x: np.ndarray, W: np.ndarray, padding: int) -> Callable:
    """``∂vec(z)/∂vec(W)`` of a convolution by ``torch.func.jacrev``: ``(C_out·H'·W', |W|)``,
    rows and columns row-major as ours (one example: ``x`` is ``C × H × W × 1``)."""
    F = torch.nn.functional
    xt, Wt = torch.tensor(np.moveaxis(x, -1, 0).copy()), torch.tensor(W)
    jac = torch.func.jacrev(lambda w: F.conv2d(xt, w, padding=padding).reshape(-1))
    return lambda: jac(Wt).reshape(-1, W.size)


# --- 1. gradients ------------------------------------------------------------------------


Task = tuple[str, Callable[[], object], int, int]  # label, task, rounds, timed runs a round


def route_tasks(net: Network, params: Parameters) -> list[Task]:
    """The Jacobian routes to time at this batch: the structured route in its default strategy
    (and, for a batch, per example) in seven rounds of five timed runs; sparse and dense,
    slow here, in fewer."""
    route = partial(jacobian_route, net, params, "reverse")
    tasks: list[Task] = [("structured", partial(route, "structured"), 7, 5)]
    if params.batch > 1:
        per_example = partial(route, "structured", strategy="examples")
        tasks.append(("structured, per example", per_example, 3, 3))
    rounds, repeats = (3, 3) if params.batch == 1 else (1, 2)
    for representation in ("sparse", "dense"):
        tasks.append((representation, partial(route, representation), rounds, repeats))
    return tasks


def gradients(torch: object | None) -> None:
    """Table 1: every route's median seconds and its ratio to the compact route, per batch;
    each route's largest gradient difference from the compact route's."""
    print("## 1. LeNet-5 gradients: each route against the compact route\n")
    print(
        "Alternating rounds: in each, the compact route and then the other run once untimed "
        "and several times timed; the ratio is the median over the rounds of the ratio of "
        "their medians (milliseconds are medians too).\n"
    )
    print("| batch | route | compact (ms) | route (ms) | ÷ compact | rounds × runs | max abs Δ |")
    print("|---:|---|---:|---:|---:|---:|---|")
    net = lenet()
    for batch in BATCHES:
        params = init_parameters(net, SEED, batch)
        base = partial(vectorized_route, net, params)
        ours = base().gradients
        tasks = route_tasks(net, params)
        if torch is not None:
            run = torch_gradients(torch, net, params)
            tasks.append((f"torch {torch.__version__} autograd", run, 7, 5))
        for label, task, rounds, repeats in tasks:
            result = task()
            theirs = result if isinstance(result, dict) else result.gradients
            ratio, t, b = paired_ratio(task, base, rounds, repeats)
            print(
                f"| {batch} | {label} | {b * 1e3:.2f} | {t * 1e3:.2f} | {ratio:.2f}× | "
                f"{rounds} × {repeats} | {max_difference(ours, theirs)} |"
            )
    print()


# --- 2. the dense build of I ⊗ U ---------------------------------------------------------


def dense_build(torch: object | None) -> None:
    """Table 2: ``I_6 ⊗ U`` built densely against ``np.full`` of the same shape (a fresh write
    of as many bytes), in alternating rounds; ``np.kron`` and torch's ``jacrev`` beside."""
    print("## 2. Building ∂vec(z1)/∂vec(W1) = I_6 ⊗ U densely (U = im2row of the input)\n")
    print(
        "Dense build (`KronIdentity(6, U).dense()`) and a fresh write of as many bytes "
        "(`np.full`) in alternating rounds, each the median of its timed runs; GB/s are bytes of "
        "the result per second; 'faster' counts the rounds in which the build beat the write.\n"
    )
    cells = "| batch | U | I ⊗ U | bytes | build (ms, GB/s) | fresh write (ms, GB/s) | faster |"
    cells += " np.kron (ms, GB/s) |"
    if torch is not None:
        cells += " torch jacrev (ms; build ×faster) |"
    print(cells)
    print("|---:|---|---|---:|---:|---:|---:|---:|" + ("---:|" if torch is not None else ""))
    net = lenet()
    for batch in BATCHES:
        params = init_parameters(net, SEED, batch)
        U = im2row(params.x, 5, 1, 2)
        J = KronIdentity(6, U)
        size = 8 * J.shape[0] * J.shape[1]
        assert np.array_equal(J.dense(), np.kron(np.eye(6), U))
        rounds, repeats = (15, 21) if size < 10**8 else (9, 5)
        pairs = paired_rounds(J.dense, partial(np.full, J.shape, 1.0), rounds, repeats)
        build = statistics.median(t for t, _ in pairs)
        write = statistics.median(b for _, b in pairs)
        kron = median_seconds(partial(np.kron, np.eye(6), U), repeats)
        row = [f"{batch}", f"{U.shape[0]} × {U.shape[1]}", f"{J.shape[0]} × {J.shape[1]}"]
        row.append(f"{size:,}")
        row += [f"{t * 1e3:.2f} ({size / t / 1e9:.1f})" for t in (build, write)]
        row.append(f"{sum(t < b for t, b in pairs)} of {rounds}")
        row.append(f"{kron * 1e3:.2f} ({size / kron / 1e9:.1f})")
        if torch is not None and batch == 1:
            W1 = params["W1"]
            jac = torch_conv_jacobian(torch, params.x, W1, 2)
            assert np.allclose(jac().numpy(), J.dense(), rtol=0, atol=1e-15)
            t_jac = median_seconds(jac, 5)
            row.append(f"{t_jac * 1e3:.1f} ({t_jac / build:.0f}×)")
        elif torch is not None:
            rows = J.shape[0]  # jacrev's cotangents: one per output, each of every output
            row.append(
                f"not run ({rows:,} cotangents of {rows:,} entries: {8 * rows**2 / 1e9:.0f} GB)"
            )
        print("| " + " | ".join(row) + " |")
    print()


# --- 3. jacobians compare ----------------------------------------------------------------


def compare_args(batch: int, jacobians: str) -> list[str]:
    """The arguments of ``jacobians compare`` on LeNet-5 at ``batch``."""
    cmd = ["compare", "--input", INPUT, "--layers", LENET, "--loss", LOSS]
    if batch > 1:
        cmd += ["--batch", str(batch)]
    if jacobians != "auto":
        cmd += ["--jacobians", jacobians]
    return cmd


def run_compare(batch: int, jacobians: str, runs: int, threads: int) -> str:
    """A table row: the wall time of each of ``runs`` runs of the whole command (start-up
    included), the representation the report's second line names, its ``note: auto:`` lines
    and its last line."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": str(threads)}
    exe = shutil.which("jacobians")  # the installed script, else python -m jacobians
    cmd = [exe] if exe else [sys.executable, "-m", "jacobians"]
    cmd += compare_args(batch, jacobians)
    times, out = [], ""
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
        times.append(time.perf_counter() - start)
        out = done.stdout
    lines = out.splitlines() or [""]
    second = lines[1] if len(lines) > 1 else done.stderr.strip()[-200:]
    chose = next((r for r in ("dense", "sparse", "structured") if f"{r} Jacobian" in second), "?")
    auto = [ln.removeprefix("note: auto:").strip() for ln in lines if ln.startswith("note: auto:")]
    seconds = ", ".join(f"{t:.2f}" for t in sorted(times))
    return (
        f"| {batch} | `{jacobians}` | {seconds} | {chose} | {'; '.join(auto) or '—'} | "
        f"{lines[-1]} (exit {done.returncode}) |"
    )


def compare_auto(threads: int) -> None:
    """Table 3: ``jacobians compare`` with ``--jacobians auto`` (the default) and, for contrast,
    ``structured``, at batch 1 and 32."""
    print("## 3. `jacobians compare` on LeNet-5\n")
    shown = shlex.join(["jacobians", *compare_args(32, "auto")])
    print(
        f"`{shown}` (without `--batch 32` at batch 1; `--jacobians structured` added for the "
        "contrast): seconds of each run of the whole command, start-up included, fastest first.\n"
    )
    print("| batch | --jacobians | seconds | chose | `note: auto:` | last line |")
    print("|---:|---|---|---|---|---|")
    for batch in BATCHES:
        runs = 3 if batch == 1 else 2
        for jacobians in ("auto", "structured"):
            print(run_compare(batch, jacobians, runs, threads))
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="BLAS (and torch) threads")
    parser.add_argument("--sections", default="1,2,3", help="which tables, e.g. 2 or 1,3")
    args = parser.parse_args()
    sections = set(args.sections.split(","))
    found = frameworks()
    torch = found.get("torch")
    print(f"{machine()}; medians of repeated runs\n")
    threads = pin_blas_threads(args.threads)
    if torch is not None:
        torch.set_num_threads(args.threads)
        threads += f"; torch {torch.__version__} threads: {torch.get_num_threads()}"
    print(threads + "\n")
    notes = [skipped(found)] if skipped(found) else []
    if "jax" in found:
        notes.append("jax: importable, not measured for LeNet-5 (torch only)")
    if notes:
        print("\n".join(notes) + "\n")
    if "1" in sections:
        gradients(torch)
    if "2" in sections:
        dense_build(torch)
    if "3" in sections:
        compare_auto(args.threads)


if __name__ == "__main__":
    main()
