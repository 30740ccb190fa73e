"""Speed and memory of the explicit route at scale (issue: performance and scale).

Run: python benchmarks/scale.py [--threads N] [--section N ...] [--quick]
(prints Markdown tables; not part of the tests)

1. gradients of a 784-256-128-10 MLP, batch 1 and 64: the Jacobian route in each
   representation against the compact route, as ratios measured in the same run;
2. building ∂z/∂vec(W) densely, beside writing as many bytes into fresh memory;
3. accumulation orders: multiply–adds and times;
4. symbolic derivations (see also derive_speed.py);
5. start-up of the command line, and what it imports;
6. the exercise checker: 1,000 answer files through the API, 20 through the CLI; the
   CLI's start-up with and without a formula answer; issue 15's hostile inputs;
7. the compact route against a minimal numpy implementation of the same gradients (issue
   16, point 10), batch 1 and 64.

Where torch or jax can be imported, tables 1 and 2 add their gradients and their ``jacrev``
Jacobians; they are never dependencies, and the script says when they were skipped.

BLAS runs on ``--threads`` threads (default 1): every section pins it again before it times
anything and prints what the libraries report (torch is set alike; the child processes of
sections 5 and 6 get ``OPENBLAS_NUM_THREADS``). Unpinned, a busy two-core machine showed
outliers 50–120 times the median. ``--section 1 --section 3`` or ``--section 1,3`` runs only
those sections; ``--quick`` repeats every measurement fewer times (a smoke run whose figures
are too noisy to quote).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
from harness import (
    frameworks,
    machine,
    median_seconds,
    paired_ratio,
    paired_rounds,
    pin_blas_threads,
    skipped,
)

from jacobians.backprop import vectorized_route
from jacobians.chains import chain, example_jacobians, jacobian_route, output_factors
from jacobians.compose import Factor, dimensions, multiply, optimal_splits, order_cost
from jacobians.errors import JacobiansError
from jacobians.layers import jacobian_z_W
from jacobians.network import Network, forward
from jacobians.parameters import init_parameters
from jacobians.structured import KronIdentityRow

MLP = ("784-256-128-10", "relu,relu,softmax", "ce")
SECTIONS = 7


@dataclass(frozen=True)
class Effort:
    """How many times each section repeats its measurements."""

    rounds: int = 7
    """Paired rounds of table 1 (and their timed runs, ``repeats``)."""
    repeats: int = 5
    dense_rounds: int = 3
    """Paired rounds (and timed runs) of the dense route, seconds a run."""
    dense_repeats: int = 3
    small_builds: int = 41
    """Timed runs of a dense build under 100 MB (microseconds each), and above."""
    large_builds: int = 5
    medians: int = 3
    """Timed runs of an accumulation order and of a symbolic derivation."""
    startups: int = 5
    """Timed runs of each command of table 5."""
    submissions: int = 1000
    """Submissions through the checker's API, and through its command line."""
    cli_submissions: int = 20
    probes: int = 5
    """Runs of each ``jacobians check`` start-up probe."""
    minimal_rounds: int = 21
    """Paired rounds of table 7 (and their timed runs, ``minimal_repeats``)."""
    minimal_repeats: int = 20


FULL = Effort()
QUICK = Effort(
    rounds=2,
    repeats=2,
    dense_rounds=1,
    dense_repeats=1,
    small_builds=3,
    large_builds=1,
    medians=1,
    startups=1,
    submissions=50,
    cli_submissions=2,
    probes=1,
    minimal_rounds=3,
    minimal_repeats=5,
)


@dataclass(frozen=True)
class Threads:
    """The BLAS thread count every section runs on."""

    count: int

    def pin(self, found: dict[str, object] | None = None) -> None:
        """Pin every loaded OpenBLAS (and torch, when in ``found``) to ``count`` threads and
        print what they report: call it after the imports that load BLAS, before timing."""
        line = pin_blas_threads(self.count)
        torch = (found or {}).get("torch")
        if torch is not None:
            torch.set_num_threads(self.count)
            line += f"; torch threads: {torch.get_num_threads()}"
        print(line + "\n")

    def env(self) -> dict[str, str]:
        """The environment of a child process, its BLAS pinned through the variable."""
        return {**os.environ, "OPENBLAS_NUM_THREADS": str(self.count)}

    def child_line(self) -> str:
        """What a section with child processes prints about them."""
        return f"Child processes: `OPENBLAS_NUM_THREADS={self.count}`.\n"


# --- optional: torch and jax, never dependencies ---------------------------------------


def _mlp_loss(
    W: list[object], b: list[object], x: object, y: object, log_softmax: object
) -> object:
    """The MLP's cost written once for numpy-like libraries (relu as ``z * (z > 0)``, which
    torch and jax both read): relu, relu, softmax + ce, the mean over the batch (columns)."""
    a = x
    for l, (Wl, bl) in enumerate(zip(W, b, strict=True)):
        z = Wl @ a + bl[:, None]
        a = z * (z > 0) if l < len(W) - 1 else z
    B = x.shape[1]
    return -(y * log_softmax(a)).sum() / B


def framework_gradients(name: str, module: object, params: object) -> Callable[[], object]:
    """A function computing ``dW, db`` of the MLP with ``name``'s reverse-mode autodiff
    (torch: eager autograd; jax: ``jit(grad)``, compiled before timing)."""
    p = params
    if name == "torch":
        torch = module
        W = [torch.tensor(w, requires_grad=True) for w in p.W]
        b = [torch.tensor(v, requires_grad=True) for v in p.b]
        x, y = torch.tensor(p.x), torch.tensor(p.y)

        def run() -> object:
            loss = _mlp_loss(W, b, x, y, lambda z: torch.log_softmax(z, dim=0))
            return torch.autograd.grad(loss, [*W, *b])

        return run
    jax = module
    jnp = jax.numpy
    grad = jax.jit(
        jax.grad(
            lambda W, b: _mlp_loss(
                W,
                b,
                jnp.asarray(p.x),
                jnp.asarray(p.y),
                lambda z: jax.nn.log_softmax(z, axis=0),
            ),
            argnums=(0, 1),
        )
    )
    W, b = [jnp.asarray(w) for w in p.W], [jnp.asarray(v) for v in p.b]

    def run() -> object:
        dW, db = jax.block_until_ready(grad(W, b))
        return [*dW, *db]  # as torch's: dW1, …, dWL, db1, …, dbL

    run()  # compile
    return run


def framework_jacobian(name: str, module: object, a: np.ndarray, n: int) -> Callable[[], object]:
    """``∂z/∂vec(W)`` of ``z = W a`` by ``name``'s ``jacrev``, at a random ``W`` (``n × m``):
    ``(n, n, m)`` reshaped to ``(n, n·m)``, row-major like ours."""
    m = a.size
    W0 = np.random.default_rng(1).standard_normal((n, m))
    if name == "torch":
        torch = module
        at, Wt = torch.tensor(a), torch.tensor(W0)
        jac = torch.func.jacrev(lambda W: W @ at)
        return lambda: jac(Wt).reshape(n, n * m)
    jax = module
    jnp = jax.numpy
    aj, Wj = jnp.asarray(a), jnp.asarray(W0)
    jac = jax.jit(jax.jacrev(lambda W: W @ aj))

    def run() -> object:
        return jax.block_until_ready(jac(Wj).reshape(n, n * m))

    run()  # compile
    return run


def mlp_gradients(effort: Effort, threads: Threads) -> None:
    print("## 1. Gradients of the 784-256-128-10 MLP (relu, relu, softmax, ce)\n")
    print(
        "Each explicit route timed against the compact route in alternating rounds: the "
        "median of the rounds' ratios (the route's median seconds in brackets).\n"
    )
    found = frameworks()
    threads.pin(found)
    extra = "".join(f" {name} |" for name in found)
    print("| batch | strategy | compact (s) | structured | sparse | dense |" + extra)
    print("|---:|---|---:|---:|---:|---:|" + "---:|" * len(found))
    net = Network.from_spec(*MLP)
    for batch, strategy in ((1, "examples"), (64, "examples"), (64, "batch")):
        params = init_parameters(net, 0, batch)
        base = partial(vectorized_route, net, params)
        compacts, cells = [], []
        for representation in ("structured", "sparse", "dense"):
            if representation == "dense" and batch > 1:
                cells.append("skipped (64 × a 411 MB J_z1_W1; batch: W ⊗ I is B² larger)")
                continue
            rounds, repeats = (
                (effort.dense_rounds, effort.dense_repeats)
                if representation == "dense"
                else (effort.rounds, effort.repeats)
            )
            task = partial(
                jacobian_route, net, params, "reverse", representation, strategy=strategy
            )
            try:
                task()
            except JacobiansError:
                cells.append("refused: its batch factors exceed the 1 GiB budget")
                continue
            ratio, t, compact = paired_ratio(task, base, rounds, repeats)
            compacts.append(compact)
            cells.append(f"{ratio:.1f}× ({t:.3f} s)")
        if strategy == "examples":  # their gradients do not depend on our strategies
            for name, module in found.items():
                run = framework_gradients(name, module, params)
                expected = vectorized_route(net, params).gradients["dW1"]
                got = np.asarray(run()[0])
                assert np.allclose(got, expected, rtol=1e-9, atol=1e-12), name
                ratio, t, compact = paired_ratio(run, base, effort.rounds, effort.repeats)
                compacts.append(compact)
                cells.append(f"{ratio:.1f}× ({t:.4f} s)")
        else:
            cells += ["(as above)"] * len(found)
        label = "—" if batch == 1 else strategy
        compact = statistics.median(compacts)
        print(f"| {batch} | {label} | {compact:.4f} | " + " | ".join(cells) + " |")
    print()
    if skipped(found):
        print(skipped(found) + "\n")


def dense_build(effort: Effort, threads: Threads) -> None:
    print("## 2. Building ∂z/∂vec(W) = I_n ⊗ aᵀ densely\n")
    found = frameworks()
    threads.pin(found)
    extra = "".join(f" {name} jacrev (s; ours ×faster) |" for name in found)
    print(
        "| (n, m) | bytes | block fill (s, GB/s) | np.kron (s, GB/s) | fresh write (s, GB/s) |"
        + extra
    )
    print("|---|---:|---:|---:|---:|" + "---:|" * len(found))
    rng = np.random.default_rng(0)
    for n, m in ((64, 64), (256, 256), (512, 512)):
        a = rng.standard_normal(m)
        size = 8 * n * n * m
        # small builds take microseconds: more repeats
        repeats = effort.small_builds if size < 10**8 else effort.large_builds
        t_fill = median_seconds(partial(jacobian_z_W, a, n), repeats)
        t_kron = median_seconds(partial(np.kron, np.eye(n), a.reshape(1, -1)), repeats)
        t_write = median_seconds(partial(np.full, (n, n * m), 1.0), repeats)
        cells = [f"{t:.4f} ({size / t / 1e9:.1f})" for t in (t_fill, t_kron, t_write)]
        for name, module in found.items():
            run = framework_jacobian(name, module, a, n)
            assert np.array_equal(np.asarray(run()), jacobian_z_W(a, n)), name
            t_theirs = median_seconds(run, repeats)
            cells.append(f"{t_theirs:.4f} ({t_theirs / t_fill:.1f}×)")
        print(f"| ({n}, {m}) | {size:,} | " + " | ".join(cells) + " |")
    assert np.array_equal(
        KronIdentityRow(3, np.arange(2.0)).dense(),
        np.kron(np.eye(3), np.arange(2.0).reshape(1, -1)),
    )
    print()
    if skipped(found):
        print(skipped(found) + "\n")


def _multiply_all(chains: list[list[Factor]], order: str) -> object:
    return [multiply(f, order) for f in chains]


def orders(effort: Effort, threads: Threads) -> None:
    print("## 3. Accumulation order: multiply–adds (and seconds) of every chain, one example\n")
    threads.pin()
    print("| network | reverse | forward | optimal |")
    print("|---|---:|---:|---:|")
    for spec, representation in (
        (("3-4-2-1", "relu,relu,sigmoid", "bce"), "dense"),
        (MLP, "structured"),
    ):
        net = Network.from_spec(*spec)
        params = init_parameters(net, 0)
        jac = example_jacobians(net, params, forward(net, params), 0, representation)
        head, _ = output_factors(net, jac)
        chains = [
            chain(net, jac, head, l, end)
            for l in range(1, net.depth + 1)
            for end in ("z", "W", "b")
        ]
        cells = []
        for order in ("reverse", "forward", "optimal"):
            count = 0
            for factors in chains:
                dims = dimensions(factors)
                count += optimal_splits(dims)[0] if order == "optimal" else order_cost(dims, order)
            if count > 2e9:
                cells.append(f"{count:,} (not timed)")
                continue
            t = median_seconds(partial(_multiply_all, chains, order), effort.medians)
            cells.append(f"{count:,} ({t:.4f} s)")
        print(f"| {spec[0]} | " + " | ".join(cells) + " |")
    print(
        "\nCounts are those of dense factors; the MLP's chains were multiplied as structured "
        "objects.\n"
    )


def symbolic(effort: Effort, threads: Threads) -> None:
    print("## 4. Symbolic derivations (seconds, derive + prove + render every layer)\n")
    from sympy.core.cache import clear_cache

    from derivations.derive import derive
    from derivations.general import general_derivation

    threads.pin()

    print("| network | seconds |")
    print("|---|---:|")
    for spec in (
        ("3-4-2-1", "relu,relu,sigmoid", "bce"),
        ("4-4-4-1", "relu,relu,sigmoid", "bce"),
        ("8-8-8-1", "relu,relu,sigmoid", "bce"),
    ):
        net = Network.from_spec(*spec)

        def task(net: Network = net) -> object:
            clear_cache()
            return [d.unicode() for d in derive(net)]

        print(f"| {spec[0]} | {median_seconds(task, effort.medians):.2f} |")
    print(f"| general n, m | {median_seconds(general_derivation, effort.medians):.2f} |\n")


def startup(effort: Effort, threads: Threads) -> None:
    print("## 5. Start-up\n")
    print(threads.child_line())
    print("| command | seconds | imports sympy | imports matplotlib |")
    print("|---|---:|---|---|")
    probe = (
        "import sys, runpy; sys.argv = {argv!r}\n"
        "try:\n    runpy.run_module('jacobians', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "sys.stderr.write(repr(['sympy' in sys.modules, 'matplotlib' in sys.modules]))"
    )
    for argv in (["jacobians", "--help"], ["jacobians", "compare"]):

        def run(argv: list[str] = argv) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-c", probe.format(argv=argv)],
                capture_output=True,
                text=True,
                check=False,
                env=threads.env(),
            )

        t = median_seconds(run, effort.startups)
        flags = run().stderr.strip().splitlines()[-1]
        sympy, mpl = (v.strip() for v in flags.strip("[]").split(","))
        print(f"| `{' '.join(argv)}` | {t:.2f} | {sympy} | {mpl} |")
    print()


def _submissions(count: int) -> list[dict[str, object]]:
    """Answers files of the walk-through exercise: the reference with one question in three
    wrong (transposed, negated or noise) and one in six given as a formula."""
    from jacobians.exercises.sets import walkthrough
    from jacobians.exercises.solve import answer_form

    exercise = walkthrough()
    rng = np.random.default_rng(0)
    out = []
    for _ in range(count):
        answers: dict[str, object] = {}
        for name, entry in exercise.key.entries.items():
            ref, roll = entry.reference, rng.random()
            if roll < 1 / 6 and entry.formula is not None and name.startswith(("d", "J_z")):
                answers[name] = entry.formula
            elif roll < 0.3:
                answers[name] = answer_form(ref.T)
            elif roll < 0.4:
                answers[name] = answer_form(-ref)
            else:
                noise = (rng.random() < 0.1) * rng.standard_normal(ref.shape)
                answers[name] = answer_form(ref + noise)
        out.append(answers)
    return out


_PROBE = """
import sys, time
t0 = time.perf_counter()
from jacobians.exercises.answers import load_answers
from jacobians.exercises.exercise import read_exercise
from jacobians.exercises import grading
exercise = read_exercise(sys.argv[1])
exercise.key
t1 = time.perf_counter()
answers = load_answers(sys.argv[2])
if answers.may_hold_formula():
    grading._load_display()
t2 = time.perf_counter()
grading.check(exercise, answers)
t3 = time.perf_counter()
print(t1 - t0, t2 - t1, t3 - t2, "sympy" in sys.modules)
"""


def _hostile(folder: Path) -> dict[str, Path]:
    """The inputs of issue 15's "Why" list, each in an otherwise right answers file."""
    import json

    from jacobians.exercises.sets import walkthrough
    from jacobians.exercises.solve import solution_json

    key = {k: json.dumps(v) for k, v in solution_json(walkthrough()).items()}

    def product(n: int) -> str:
        return "eye(368)" if n == 1 else f"({product(n // 2)} @ {product(n - n // 2)})"

    tower = "z2"
    for _ in range(12):
        tower = f"({tower}) ** 9"
    files = {
        "JSON NaN, Infinity, a 5,001-digit integer, `dw3`, a BOM": (
            "json",
            {"dW3": "[[NaN, 0]]", "db3": "Infinity", "db1": "1" * 5001, "dw3": "1"},
        ),
        'TOML 5,001-digit integer, `"ｄＷ３"`, a BOM': (
            "toml",
            {"db1": "1" * 5001, '"ｄＷ３"': "1"},
        ),
        "a tower of powers (not finite)": ("json", {"delta2": json.dumps(tower)}),
        "48 `eye(368)` multiplied, in 9 answers": (
            "json",
            {
                n: json.dumps(product(48))
                for n in ("dW3", "db3", "delta2", "dW2", "db2", "delta1", "dW1", "db1", "delta3")
            },
        ),
        "5,000 names that are no question (an 86 kB file)": (
            "json",
            {json.dumps(f"dw{i}"): "1" for i in range(5_000)},
        ),
        "one answer a list of 18,000 numbers (a 92 kB file; the limit is 93 kB)": (
            "toml",
            {"J_L_a3": "[" + ", ".join(["1.5"] * 18_000) + "]"},
        ),
    }
    out = {}
    for label, (kind, replaced) in files.items():
        items = key | replaced
        if kind == "json":
            text = "{" + ", ".join(f"{json.dumps(k)}: {v}" for k, v in items.items()) + "}"
        else:
            text = "".join(f"{k} = {v}\n" for k, v in items.items())
        path = folder / f"{len(out)}.{kind}"
        path.write_bytes(b"\xef\xbb\xbf" + text.encode())
        out[label] = path
    big = folder / "big.toml"
    big.write_text(
        ("junk = [" + ", ".join(["1.5"] * 1_200_000))[:4_999_000].rsplit(",", 1)[0] + "]"
    )
    out["a 5 MB TOML file"] = big
    return out


def checker(effort: Effort, threads: Threads) -> None:
    import json
    import tempfile

    from jacobians.exercises.answers import AnswersFileError, load_answers
    from jacobians.exercises.exercise import to_toml
    from jacobians.exercises.grading import _load_display, check
    from jacobians.exercises.sets import walkthrough

    print("## 6. The exercise checker (the walk-through exercise, 24 questions)\n")
    threads.pin()
    print(threads.child_line())
    print("| how | submissions | seconds per submission |")
    print("|---|---:|---:|")
    exercise = walkthrough()
    subs = _submissions(effort.submissions)
    start = time.perf_counter()
    for answers in subs:
        check(exercise, answers)
    api = (time.perf_counter() - start) / len(subs)
    how = "API, one process (each submission in a child with the 1 s limit)"
    print(f"| {how} | {len(subs)} | {api:.4f} |")
    start = time.perf_counter()
    for answers in subs:
        check(exercise, answers, time_limit=None)
    inline = (time.perf_counter() - start) / len(subs)
    print(f"| API, one process, no child process | {len(subs)} | {inline:.4f} |")
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        ex = folder / "ex.toml"
        ex.write_text(to_toml(exercise))
        paths = []
        for i, answers in enumerate(subs[: effort.cli_submissions]):
            p = folder / f"a{i}.json"
            p.write_text(json.dumps(answers))
            paths.append(p)
        start = time.perf_counter()
        for p in paths:
            subprocess.run(
                [sys.executable, "-m", "jacobians", "check", str(ex), str(p), "--json"],
                capture_output=True,
                check=False,
                env=threads.env(),
            )
        cli = (time.perf_counter() - start) / len(paths)
        print(f"| CLI, a process per submission | {len(paths)} | {cli:.3f} |\n")

        numeric = folder / "numeric.json"
        numeric.write_text(json.dumps(solution_answers := _reference_answers()))
        formula = folder / "formula.json"
        formula.write_text(json.dumps(solution_answers | {"db3": "delta3"}))
        print(
            "| CLI `jacobians check ex.toml answers` | wall (s) | start-up (s) | sympy (s) |"
            " grading (s) | imports sympy |"
        )
        print("|---|---:|---:|---:|---:|---|")
        for label, path in (("numbers only", numeric), ("one formula", formula)):
            walls, parts = [], []
            for _ in range(effort.probes):
                begin = time.perf_counter()
                out = subprocess.run(
                    [sys.executable, "-c", _PROBE, str(ex), str(path)],
                    capture_output=True,
                    text=True,
                    check=True,
                    env=threads.env(),
                )
                walls.append(time.perf_counter() - begin)
                parts.append(out.stdout.split())
            med = [statistics.median(float(p[i]) for p in parts) for i in range(3)]
            print(
                f"| {label} | {statistics.median(walls):.2f} | {med[0]:.2f} | {med[1]:.2f} |"
                f" {med[2]:.3f} | {parts[-1][3]} |"
            )
        print()

        _load_display()
        print("| hostile input (in a right answers file) | grading (s) | outcome |")
        print("|---|---:|---|")
        for label, path in _hostile(folder).items():
            begin = time.perf_counter()
            try:
                report = check(exercise, load_answers(path))
                counts = {
                    v: sum(r.verdict == v for r in report.results) for v in ("correct", "invalid")
                }
                outcome = (
                    f"{counts['correct']} correct, {counts['invalid']} invalid,"
                    f" {len(report.unknown)} to no question"
                )
            except AnswersFileError as e:
                outcome = f"whole file refused: {str(e).split(': ', 1)[1][:60]}…"
            print(f"| {label} | {time.perf_counter() - begin:.2f} | {outcome} |")
        print()


# --- 7. the compact route against a minimal numpy implementation ------------------------


def minimal_gradients(
    W: list[np.ndarray], b: list[np.ndarray], x: np.ndarray, y: np.ndarray
) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """``dW, db`` and each layer's ``δ`` of a dense relu, …, relu, softmax network with ce,
    written as briefly as numpy allows (the yardstick of table 7): ``z = W a + b``,
    ``a = relu(z)`` (softmax last); ``δ[L] = a[L] − y``, ``dW = δ aᵀ / B``, ``db = δ 1 / B``,
    ``δ[l-1] = (Wᵀ δ) ⊙ (z > 0)``. It returns the ``δ``s because the compact route returns
    them (the report shows them); nothing is checked or named; the ``/ B`` is skipped at
    ``B = 1``."""
    B, L = x.shape[1], len(W)
    a, z = [x], []
    for l in range(L):
        zl = W[l] @ a[-1]
        zl += b[l][:, None]
        z.append(zl)
        if l < L - 1:
            a.append(np.maximum(zl, 0.0))
        else:
            e = np.exp(zl - zl.max(axis=0))
            e /= e.sum(axis=0)
            a.append(e)
    d = a[-1] - y
    dW: list[np.ndarray] = [d] * L
    db: list[np.ndarray] = [d] * L
    deltas: list[np.ndarray] = [d] * L
    for l in range(L - 1, -1, -1):
        deltas[l] = d
        dW[l], db[l] = d @ a[l].T, d.sum(axis=1)
        if B > 1:
            dW[l] /= B
            db[l] /= B
        if l:
            d = (W[l].T @ d) * (z[l - 1] > 0)
    return dW, db, deltas


def against_minimal(effort: Effort, threads: Threads) -> None:
    print("## 7. The compact route against a minimal numpy implementation\n")
    threads.pin()
    print(
        "`vectorized_route` timed against `minimal_gradients` (the same arithmetic and the "
        "same outputs, `dW`, `db` and each layer's `δ`; nothing named or checked) in "
        f"alternating rounds: {effort.minimal_rounds} rounds of {effort.minimal_repeats} timed "
        "runs each; the median of the rounds' ratios, the smallest and largest round, and "
        "the medians in milliseconds. The gradients and `δ`s agree to 1e-12 relative.\n"
    )
    print("| batch | compact (ms) | minimal (ms) | ÷ minimal | rounds' ratios |")
    print("|---:|---:|---:|---:|---:|")
    net = Network.from_spec(*MLP)
    for batch in (1, 64):
        params = init_parameters(net, 0, batch)
        W, b, x, y = list(params.W), list(params.b), params.x, params.y
        assert y is not None
        dW, db, deltas = minimal_gradients(W, b, x, y)
        route = vectorized_route(net, params)
        ours = {**route.gradients, **route.deltas}
        for l in range(len(W)):
            checks = ((f"dW{l + 1}", dW[l]), (f"db{l + 1}", db[l]), (f"delta{l + 1}", deltas[l]))
            for name, theirs in checks:
                scale = float(np.max(np.abs(theirs)))
                gap = float(np.max(np.abs(ours[name] - theirs)))
                assert gap <= 1e-12 * scale, f"{name}: {gap:.1e} against {scale:.1e}"
        pairs = paired_rounds(
            partial(vectorized_route, net, params),
            partial(minimal_gradients, W, b, x, y),
            effort.minimal_rounds,
            effort.minimal_repeats,
        )
        ratios = [t / m for t, m in pairs]
        compact = statistics.median(t for t, _ in pairs) * 1e3
        minimal = statistics.median(m for _, m in pairs) * 1e3
        print(
            f"| {batch} | {compact:.3f} | {minimal:.3f} | {statistics.median(ratios):.2f}× |"
            f" {min(ratios):.2f}–{max(ratios):.2f}× |"
        )
    print()


def _reference_answers() -> dict[str, object]:
    from jacobians.exercises.sets import walkthrough
    from jacobians.exercises.solve import solution_json

    return solution_json(walkthrough())


def sections(values: list[str] | None) -> list[int]:
    """The section numbers of ``--section`` (each repeated option a number or a comma list),
    in order and once each; all of them when none is given. Raises ``ValueError`` with a
    message for people where one is not a number from 1 to ``SECTIONS``."""
    if not values:
        return list(range(1, SECTIONS + 1))
    chosen: set[int] = set()
    for value in values:
        for item in value.split(","):
            text = item.strip()
            if not (text.isdigit() and 1 <= int(text) <= SECTIONS):
                raise ValueError(
                    f"--section: expected section numbers from 1 to {SECTIONS} "
                    f"(e.g. --section 1 --section 3 or --section 1,3), got {value!r}"
                )
            chosen.add(int(text))
    return sorted(chosen)


RUNS: dict[int, Callable[[Effort, Threads], None]] = {
    1: mlp_gradients,
    2: dense_build,
    3: orders,
    4: symbolic,
    5: startup,
    6: checker,
    7: against_minimal,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--threads", type=int, default=1, help="BLAS (and torch) threads (default 1)"
    )
    parser.add_argument(
        "--section",
        "--sections",
        action="append",
        metavar="N",
        help=f"run only section N (1 to {SECTIONS}); repeat it or give a comma list, "
        "e.g. --section 1,3 (default: all)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="repeat every measurement fewer times: a smoke run, not figures to quote",
    )
    args = parser.parse_args()
    if args.threads < 1:
        parser.error(f"--threads: expected a whole number of at least 1, got {args.threads}")
    try:
        chosen = sections(args.section)
    except ValueError as e:
        parser.error(str(e))
    effort = QUICK if args.quick else FULL
    how = (
        "quick run (fewer repetitions: figures not to quote)"
        if args.quick
        else "medians of repeated runs"
    )
    print(f"{machine()}; {how}; sections {', '.join(map(str, chosen))}\n")
    for number in chosen:
        RUNS[number](effort, Threads(args.threads))


if __name__ == "__main__":
    main()
