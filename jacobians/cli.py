"""The ``jacobians`` command line: parse, call the packages, format. No mathematics lives here.

Exit codes: 0 success (routes agree), 1 the routes disagree, 2 a usage error or bad input
(one line on stderr, never a traceback). Heavy modules are imported inside the commands, so
``jacobians --help`` stays fast and nothing imports sympy or matplotlib until a command needs it.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable, Sequence
from typing import Any, NoReturn

PROG = "jacobians"
DEFAULT_SEED = 8
"""The walk-through network's seed: one dead relu unit in layer 1, every z at least 0.3 from
a kink, so the default run shows a zero row in dW1 and no stencil crosses a kink."""


class Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors: ``jacobians compare: error: …`` and exit 2."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # read -1e-3 as a number, not an option (argparse knows only -1 and -0.5)
        self._negative_number_matcher = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")

    def add_subparsers(self, **kwargs: Any) -> Any:
        """Subcommands parsed by :class:`Subparser`, which reports what it does not know."""
        kwargs.setdefault("parser_class", Subparser)
        return super().add_subparsers(**kwargs)


class Subparser(Parser):
    """A subcommand's parser: an argument it does not know is an error under its own name
    (``jacobians compare: error: unrecognized arguments: --bogus``), not handed back to the
    top-level parser to report as ``jacobians: error: …``. argparse's subcommand action calls
    :meth:`parse_known_args` and passes the leftovers up; here there are none."""

    def parse_known_args(
        self, args: Iterable[str] | None = None, namespace: Any = None
    ) -> tuple[Any, list[str]]:
        """Parse ``args``; an argument left over is a usage error of this subcommand."""
        parsed, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed, extras


class UsageError(Exception):
    """Bad input found by a command (the packages raise JacobiansError, also a usage error)."""


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number ≥ 1, got {value}")
    return value


BUDGET_ENV = "JACOBIANS_MEMORY_BUDGET"
_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def _byte_size(text: str) -> int:
    """``1073741824``, ``512M``, ``2G``, ``1.5GiB`` → bytes."""
    import re

    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?\s*", text, flags=re.IGNORECASE)
    if m is None:
        raise argparse.ArgumentTypeError(f"expected a size such as 512M or 2G, got {text!r}")
    value = int(float(m.group(1)) * _UNITS[m.group(2).upper()])
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a size of at least 1 byte, got {text!r}")
    return value


def _sample(text: str) -> int | str | None:
    if text in ("auto", "all"):
        return None if text == "all" else "auto"
    try:
        return _positive_int(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"expected auto, all or a whole number ≥ 1, got {text!r}"
        ) from None


def _memory_budget(args: argparse.Namespace) -> int:
    import os

    if args.memory_budget is not None:
        return int(args.memory_budget)
    env = os.environ.get(BUDGET_ENV)
    if env is None:
        return 2**30
    try:
        return _byte_size(env)
    except argparse.ArgumentTypeError as e:
        raise UsageError(f"{BUDGET_ENV}: {e}") from None


def _digits(text: str) -> int:
    value = _positive_int(text)
    if value > 17:
        raise argparse.ArgumentTypeError(f"expected at most 17 digits (float64), got {value}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"expected a seed from 0 to 2**32 − 1, got {value}")
    return value


def _finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text!r}")
    return value


COMPARE_EPILOG = """\
examples:
  jacobians compare                                   the walk-through network 3-4-2-1
  jacobians compare --sizes 4,5,3 --activations tanh,softmax --loss ce --batch 8
  jacobians compare --input 1x6x6 --layers "conv2d(2, 3), relu, maxpool(2), flatten, dense(3)"
  jacobians compare --params net.toml --order optimal --json
  jacobians compare --json > run.json; jacobians compare --params run.json     a replay

the network: --sizes 3,4,2,1 --activations relu,relu,sigmoid is shorthand for
--input 3 --layers "dense(4), relu, dense(2), relu, dense(1), sigmoid". A parametric layer
(dense, conv2d) followed by an activation is one layer l (z[l], then a[l]); every other entry is
a layer of its own (a[l]). `jacobians layers` lists every kind.

parameter files (.json, .toml or .npz) hold every parameter by name (W1, b1, …), x and y in the
shapes of the notation: a dense W[l] is n_l × n_{l-1}, a conv2d W[l] is C_out × C_in × k × k,
b[l] a vector; x is one example's shape, or that × B (examples on the last axis: n_0 × B for
vectors, C × H × W × B for images); y likewise with the output's shape. Without --sizes or
--layers the network is the one a compare --json file names, or the sizes of the W arrays.

exit status: 0 the routes agree, 1 they do not, 2 a usage error or bad input.
"""


LAYERS_HELP = (
    "the network as a sequence of layers, comma-separated, each name or name(arguments): "
    "e.g. 'conv2d(4, 3, padding=1), relu, maxpool(2), flatten, dense(10), softmax'; "
    "with --input; `jacobians layers` lists every kind and its arguments"
)


def _add_network_options(
    parser: argparse.ArgumentParser, sizes_note: str = "", params: bool = False
) -> None:
    """``--sizes``, ``--activations``, ``--loss`` (the dense shorthand) or ``--layers`` and
    ``--input`` (any sequence of layers): the network, shared by every command."""
    parser.add_argument(
        "--sizes",
        help="layer sizes n_0,…,n_L of a dense network, e.g. 3,4,2,1 or 3-4-2-1 "
        f"(default 3-4-2-1{', ' + sizes_note if sizes_note else ''})",
    )
    parser.add_argument(
        "--activations",
        help="one per layer, comma-separated: identity, relu, "
        "leaky_relu[:slope], sigmoid, tanh, softplus, square, softmax "
        "(default relu for hidden layers, sigmoid for the output)",
    )
    parser.add_argument("--layers", metavar="SPEC", help=LAYERS_HELP)
    parser.add_argument(
        "--input",
        metavar="SHAPE",
        help="one example's shape with --layers: n for a vector (or T token ids before an "
        "embedding), T×d for a sequence (one token per row), C×H×W for an image, e.g. 3, 8x4 "
        "or 1x28x28"
        + (" (default: read off a --params file written by compare --json)" if params else ""),
    )
    parser.add_argument(
        "--loss",
        help="bce, ce, mse or sum (default bce; with --layers: ce after softmax, bce after "
        "sigmoid, mse otherwise)",
    )


def _network(
    args: argparse.Namespace,
    arrays: dict[str, object] | None = None,
    described: dict[str, Any] | None = None,
) -> Any:
    """The network of ``--layers --input`` or ``--sizes --activations``, and ``--loss``;
    without either, the network a ``compare --json`` file describes, the sizes of a parameter
    file's ``W`` arrays, or the walk-through's ``3-4-2-1``."""
    from .network import DEFAULT_SIZES, Network, parse_sizes
    from .parameters import sizes_from_arrays

    if args.layers is not None:
        shorthand = [f"--{k}" for k in ("sizes", "activations") if getattr(args, k) is not None]
        if shorthand:
            raise UsageError(
                f"{', '.join(shorthand)}: not with --layers (the spec gives every layer); "
                "use one or the other"
            )
        shape = args.input if args.input is not None else (described or {}).get("input")
        if shape is None:
            raise UsageError(
                "--input: expected one example's shape with --layers, e.g. --input 3 or "
                "--input 1x28x28"
            )
        return Network.from_layers(args.layers, shape, args.loss)
    if args.input is not None:
        raise UsageError(
            "--input: only with --layers (the dense shorthand's input size is the first of --sizes)"
        )
    if described is not None and args.sizes is None and args.activations is None:
        return Network.from_description(described, args.loss)
    if args.sizes is not None:
        sizes = parse_sizes(args.sizes)
    elif arrays is not None:
        sizes = sizes_from_arrays(arrays)
    else:
        sizes = DEFAULT_SIZES
    activations = args.activations
    if activations is None:
        activations = ["relu"] * (len(sizes) - 2) + ["sigmoid"]
    return Network.from_spec(sizes, activations, args.loss or "bce")


DERIVE_EPILOG = """\
examples:
  jacobians derive                                    every layer of the walk-through network
  jacobians derive --layer 2 --param W                dW[2] only
  jacobians derive --sizes 2,3,2 --activations tanh,softmax --loss ce --format markdown
  jacobians derive --abstract                         activations as g[l], derivatives g[l]'
  jacobians derive --general                          the proof for every size n, m
  jacobians derive --input 1x3x3 --layers "conv2d(1, 2), relu, maxpool(2), flatten, dense(1)"
  jacobians derive --input 2x2 --layers "attention(2), flatten, dense(1), sigmoid" --param Wk
                                                      attention step by step, C included

exit status: 0 every proof holds, 1 one fails, 2 a usage error or bad input.
"""


VEC_HELP = (
    "how the Jacobian route flattens a matrix: row (row-major, C order: ∂z/∂vec(W) = I ⊗ aᵀ, "
    "dW reshaped row by row) or column (column-major, Magnus–Neudecker, Fortran order: "
    "∂z/∂vec(W) = aᵀ ⊗ I, dW reshaped column by column); the same dW either way; column for "
    "dense networks only"
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = Parser(
        prog=PROG,
        description="The linear algebra of backpropagation made explicit: every layer's full "
        "Jacobian as a matrix, chained and reshaped into dW and db, checked against the "
        "compact formulas and finite differences.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    compare = sub.add_parser(
        "compare",
        help="gradients by Jacobian chains vs vectorized backprop vs finite differences",
        description="Compute every gradient three ways — multiplying each layer's full "
        "Jacobians, the compact formulas δ[l] = (W[l+1]ᵀ δ[l+1]) ⊙ g'(z[l]) and dW = δ aᵀ, "
        "and central finite differences of the cost — and show they agree.",
        epilog=COMPARE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_network_options(compare, "or read off --params", params=True)
    source = compare.add_mutually_exclusive_group()
    source.add_argument(
        "--seed", type=_seed, help=f"random parameters from this seed (default {DEFAULT_SEED})"
    )
    source.add_argument(
        "--params", metavar="FILE", help="read W1, b1, …, x, y from a .json, .toml or .npz file"
    )
    compare.add_argument(
        "--batch",
        type=_positive_int,
        help="examples in the batch, as columns "
        "of x (default 1; with --params, taken from the file)",
    )
    compare.add_argument(
        "--order",
        default="reverse",
        choices=("reverse", "forward", "optimal"),
        help="how each chain is multiplied: reverse (loss side first, "
        "backprop), forward (parameter side first) or optimal (fewest "
        "multiply–adds); default reverse",
    )
    compare.add_argument(
        "--step", type=_positive_float, default=None, help="finite-difference step h (default 1e-6)"
    )
    compare.add_argument(
        "--digits", type=_digits, default=6, help="digits printed after the point (default 6)"
    )
    compare.add_argument(
        "--jacobians",
        default="auto",
        choices=("dense", "sparse", "structured", "auto"),
        help="how each Jacobian is held: dense numpy arrays, scipy.sparse, structured objects "
        "(I ⊗ aᵀ, diagonals, …) or auto: dense while the largest fits the memory budget and "
        "64 MiB (default auto)",
    )
    compare.add_argument(
        "--strategy",
        default="auto",
        choices=("examples", "batch", "auto"),
        help="for a batch: one chain per example, averaged (examples), or one chain through "
        "the batch Jacobians such as I ⊗ Aᵀ (batch); auto: batch for structured Jacobians in "
        "reverse order, examples otherwise, the faster for each (default auto)",
    )
    compare.add_argument(
        "--memory-budget",
        type=_byte_size,
        default=None,
        metavar="BYTES",
        help="the largest dense Jacobian allowed, e.g. 512M or 2G (default 1G, or the "
        f"environment variable {BUDGET_ENV})",
    )
    compare.add_argument(
        "--sample",
        type=_sample,
        default="auto",
        help="numerical route: 'all' entries, N random entries of each W and b, or auto "
        "(all up to 2,000 parameters, else 20 each; default auto)",
    )
    compare.add_argument(
        "--layout",
        default="column",
        choices=("column", "row"),
        help="row: also compute the gradients with observations as rows (N = A W, "
        "∂vec(N)/∂vec(W) = A ⊗ I, W stored n_{l-1} × n_l) and check them against the column "
        "layout's transposed; dense networks only (default column)",
    )
    compare.add_argument(
        "--vec",
        default="row",
        choices=("row", "column"),
        help=VEC_HELP + "; the report and --json say which (default row)",
    )
    compare.add_argument("--json", action="store_true", help="print one JSON object instead")
    compare.set_defaults(handler=_compare)

    derive = sub.add_parser(
        "derive",
        help="print symbolic derivations of the gradients and prove dW = δ aᵀ",
        description="Derive every Jacobian of the chain symbolically (sympy), multiply and "
        "reshape it, and prove that it equals the compact formulas dW[l] = δ[l] a[l-1]ᵀ, "
        "db[l] = δ[l] and δ[l] = (W[l+1]ᵀ δ[l+1]) ⊙ g'(z[l]); print the derivation step by step.",
        epilog=DERIVE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_network_options(derive)
    derive.add_argument(
        "--layer", type=_positive_int, help="only this layer (default: all, output first)"
    )
    derive.add_argument(
        "--param",
        choices=("W", "b", "gamma", "beta", "Wq", "Wk", "Wv", "E", "delta", "input"),
        action="append",
        help="W, b, delta, or input (the gradient at the layer's input: a convolution's "
        "transposed correlation; with --layers); gamma and beta of a norm (W and b name them "
        "too); Wq, Wk, Wv of attention (W names all three); E of an embedding (W names it too) "
        "— repeat for several; default W and b",
    )
    derive.add_argument(
        "--format",
        default="unicode",
        choices=("unicode", "latex", "markdown"),
        help="unicode for a terminal (default), latex, or markdown with $$ blocks",
    )
    derive.add_argument(
        "--standalone",
        action="store_true",
        help="with --format latex: a complete document for pdflatex (amsmath, amssymb, "
        "graphicx, geometry; wide equations scaled to the line) instead of a fragment",
    )
    derive.add_argument(
        "--general",
        action="store_true",
        help="the proof for symbolic sizes n, m instead of a concrete network",
    )
    derive.add_argument(
        "--abstract",
        action="store_true",
        help="keep elementwise activations as g[l] with derivative g[l]'",
    )
    derive.add_argument(
        "--batch",
        type=_positive_int,
        help="examples, for a network with a layer that couples them (batchnorm): its B × B "
        "Jacobian per feature; required there, 2 or more",
    )
    derive.add_argument(
        "--vec",
        default="row",
        choices=("row", "column"),
        help="how W[l] is flattened: row (row-major, C order: ∂z/∂vec(W) = I ⊗ aᵀ) or column "
        "(column-major, Magnus–Neudecker, Fortran order: ∂z/∂vec_col(W) = aᵀ ⊗ I, also proved "
        "equal to sympy's Kronecker product); the proofs hold in both; column for dense "
        "networks only (default row)",
    )
    derive.set_defaults(handler=_derive)

    chain = sub.add_parser(
        "chain",
        help="a chain of scalar functions: each link's derivative, their product, and the "
        "numeric derivative",
        description="Evaluate f_K(⋯ f_2(f_1(x))) for elementwise functions named in order of "
        "application, each link's derivative at the value flowing into it, their product (the "
        "chain rule) and the central difference of the whole chain.",
        epilog="example:\n  jacobians chain square sigmoid --at 0.5\n  jacobians chain "
        "leaky_relu:0.2 square sigmoid --at -1.5 --numeric-links",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    chain.add_argument(
        "functions",
        nargs="+",
        metavar="FUNCTION",
        help="identity, relu, leaky_relu[:slope], sigmoid, tanh, softplus, square",
    )
    chain.add_argument("--at", type=_finite_float, default=0.5, help="the point x (default 0.5)")
    chain.add_argument(
        "--step",
        type=_positive_float,
        default=None,
        help="central-difference step h (default 0.001, the chapter's)",
    )
    chain.add_argument(
        "--numeric-links",
        action="store_true",
        help="take each link's derivative numerically instead of by its rule",
    )
    chain.set_defaults(handler=_chain)

    mf = sub.add_parser(
        "matrix-function",
        help="the foundations chapter's L = Λ(σ(X W)) and its gradients, two ways",
        description="Reproduce the foundations chapter's matrix function: X (3 × 3) and W "
        "(3 × 2) drawn with numpy's legacy generator from --seed, N = X W, S = σ(N), L = Σ S, "
        "and dL/dX, dL/dW by the chapter's formulas and by explicit Jacobians (row layout).",
    )
    mf.add_argument(
        "--seed", type=_seed, default=None, help="the seed (default 190204, the chapter's)"
    )
    mf.add_argument("--activation", default="sigmoid", help="the elementwise σ (default sigmoid)")
    mf.add_argument(
        "--digits",
        type=_digits,
        default=4,
        help="decimals shown (default 4, as the chapter prints)",
    )
    mf.set_defaults(handler=_matrix_function)

    plot = sub.add_parser(
        "plot",
        help="plots of a chain, a sweep of L, or a network's Jacobians (needs the plot extra)",
        description="Write a PNG (800 × 600 pixels). Needs matplotlib: python -m pip install "
        "'.[plot]' in a source checkout.",
    )
    kinds = plot.add_subparsers(dest="kind", metavar="KIND", required=True)
    p_chain = kinds.add_parser("chain", help="a chain and its derivative over a range")
    p_chain.add_argument("functions", nargs="+", metavar="FUNCTION")
    p_chain.add_argument(
        "--range",
        nargs=2,
        type=_finite_float,
        default=(-3.0, 3.0),
        metavar=("LO", "HI"),
        help="the x range (default -3 3)",
    )
    p_sweep = kinds.add_parser("sweep", help="L as one entry of X moves, with its tangent")
    p_sweep.add_argument("--seed", type=_seed, default=None, help="default 190204")
    p_sweep.add_argument(
        "--entry",
        nargs=2,
        type=_positive_int,
        default=(1, 1),
        metavar=("I", "J"),
        help="which x_ij moves, 1-based (default 1 1)",
    )
    p_sweep.add_argument(
        "--span", type=_positive_float, default=3.0, help="how far either side it moves (default 3)"
    )
    p_jac = kinds.add_parser("jacobians", help="every Jacobian factor of a network as a heatmap")
    _add_network_options(p_jac)
    p_jac.add_argument("--seed", type=_seed, default=None, help=f"default {DEFAULT_SEED}")
    p_jac.add_argument(
        "--batch",
        type=_positive_int,
        help="examples (default 1); with a layer that couples them (batchnorm) the batch "
        "Jacobians are drawn",
    )
    p_jac.add_argument(
        "--memory-budget",
        type=_byte_size,
        default=None,
        metavar="BYTES",
        help="the memory the plot may take: its largest dense Jacobian (as for compare) and "
        f"about 10 × all their bytes while drawn (default 1G, or {BUDGET_ENV})",
    )
    for p in (p_chain, p_sweep, p_jac):
        p.add_argument("-o", "--output", required=True, metavar="PNG", help="the file to write")
    plot.set_defaults(handler=_plot)
    catalogue = sub.add_parser(
        "layers",
        help="every layer kind a --layers spec can use, with its arguments and Jacobians",
        description="List the layer kinds of the registry: each with its spec signature and "
        "what its Jacobians are.",
    )
    catalogue.set_defaults(handler=_layers)
    _add_exercise_commands(sub)
    return parser


def _layers(args: argparse.Namespace) -> int:
    from .layers.registry import catalogue

    print(catalogue())
    return 0


EXERCISES_EPILOG = """\
examples:
  jacobians exercises list
  jacobians exercises new walkthrough -o walkthrough.toml
  jacobians exercises new walkthrough --seed 17 -o student17.toml     a per-student variant
  jacobians exercises new network --sizes 2,3,2 --activations tanh,softmax --loss ce --batch 4
  jacobians exercises new cnn -o cnn.toml                 convolution and pooling as matrices
  jacobians exercises new attention -o attention.toml     self-attention, one step at a time
  jacobians exercises new walkthrough --vec column -o mn.toml   vec stacks columns: aᵀ ⊗ I_n
  jacobians exercises solve walkthrough.toml --json > key.json
"""

CHECK_EPILOG = """\
An answers file (TOML or JSON) maps question names to a matrix (a list of rows), a vector (a
flat list, read as a column), a number, or a formula in quotes:

  dW3 = [[0.0123, -0.0456]]
  delta2 = "(W3.T @ delta3) * relu_prime(z2)"

Formulas use the exercise's names (W1, b1, x, y, z1, a1, yhat, delta1, m, …), @ (matrix
product), * and / (elementwise), + -, ** with a number, .T, and relu, relu_prime, sigmoid,
sigmoid_prime, tanh, softplus, softmax, exp, log, sum, diag, eye(n), ones(n, k), kron, vec,
reshape(A, r, c). Nothing in the file is executed.

exit status: 0 every answer correct, 1 some are not, 2 a file cannot be used.

examples:
  jacobians check walkthrough.toml answers.toml
  jacobians check walkthrough.toml answers.json --json
  jacobians check walkthrough.toml answers.toml --gradescope /autograder/results/results.json
"""


def _add_exercise_commands(sub: Any) -> None:
    exercises = sub.add_parser(
        "exercises",
        help="write, list and solve textbook exercises on Jacobians and gradients",
        description="Built-in exercise sets (the walk-through network, the foundations "
        "chapter's matrix function, any network) as TOML files, per-student variants by seed, "
        "and their reference answers.",
        epilog=EXERCISES_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = exercises.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("list", help="the built-in sets").set_defaults(handler=_exercises_list)
    new = actions.add_parser(
        "new",
        help="write a built-in set as an exercise file",
        description="Write a built-in exercise set as TOML: walkthrough, foundations, cnn (a "
        "small convolutional network), batchnorm (a batch of 4, coupled), residual (a residual "
        "block), attention (self-attention on a 3x2 sequence), or network (any architecture, "
        "with --sizes --activations --loss --batch, or --input --layers).",
    )
    new.add_argument(
        "name",
        metavar="NAME",
        help="walkthrough, foundations, cnn, batchnorm, residual, attention or network",
    )
    new.add_argument(
        "--seed",
        type=_student_id,
        metavar="ID",
        help="a per-student variant: the same questions with other numbers; a whole number "
        "or any student id (s1234567, an email), mapped by SHA-256 (default: variant 0; for "
        "foundations, the chapter's own X and W)",
    )
    _add_network_options(new, "for network only")
    new.add_argument(
        "--batch",
        type=_positive_int,
        help="examples for network (default 1; above 1 the questions are delta, dW and db)",
    )
    new.add_argument(
        "--vec",
        choices=("row", "column"),
        default="row",
        help="the flattening the answers use: row (NOTATION's, C order; the default) or column "
        "(Magnus–Neudecker's: vec stacks the columns, ∂z/∂vec(W) = aᵀ ⊗ I_n, reshaped in "
        "Fortran order); column for walkthrough, foundations and a dense network",
    )
    new.add_argument("-o", "--output", metavar="FILE", help="write here (default: print)")
    new.add_argument("--force", action="store_true", help="overwrite an existing --output")
    new.set_defaults(handler=_exercises_new)
    solve = actions.add_parser(
        "solve",
        help="print an exercise's reference answers (for instructors)",
        description="Print every question's reference answer with its shape and formula.",
    )
    solve.add_argument("exercise", metavar="EXERCISE", help="an exercise file (.toml or .json)")
    solve.add_argument(
        "--json", action="store_true", help="print the answers as an answers file holds them"
    )
    solve.add_argument(
        "--digits", type=_positive_int, default=6, help="significant digits (default 6)"
    )
    solve.set_defaults(handler=_exercises_solve)

    check = sub.add_parser(
        "check",
        help="grade an answers file against an exercise, naming the mistakes made",
        description="Grade every answer: correct, incorrect (with the mistake it matches: "
        "transposed, sign flipped, a missing 1/m or activation derivative, a[l] for a[l-1], "
        "* for @, column-major flattening, wrong shape) or invalid (with how to fix it).",
        epilog=CHECK_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument("exercise", metavar="EXERCISE", help="an exercise file (.toml or .json)")
    check.add_argument("answers", metavar="ANSWERS", help="an answers file (.toml or .json)")
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.add_argument(
        "--gradescope",
        metavar="FILE",
        help="also write a Gradescope autograder results file (results.json)",
    )
    check.add_argument(
        "--time-limit",
        type=_positive_float,
        default=1.0,
        metavar="SECONDS",
        help="for the whole submission, reading the file included, enforced by a child"
        " process (default 1)",
    )
    check.set_defaults(handler=_check)


def _exercises_list(args: argparse.Namespace) -> int:
    from .exercises.sets import SETS

    width = max(map(len, SETS))
    for name, line in SETS.items():
        print(f"{name:<{width}}  {line}")
    return 0


def _student_id(text: str) -> int | str:
    """``--seed`` of ``exercises new``: a whole number below 2**32 as it is, any other text
    as a student id (see :func:`jacobians.exercises.sets.variant_seed`)."""
    from .exercises.exercise import ExerciseFileError
    from .exercises.sets import student_id

    try:
        return student_id(text)
    except ExerciseFileError as e:
        raise argparse.ArgumentTypeError(str(e).removeprefix("seed: ")) from None


def _exercises_new(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .exercises.exercise import ExerciseFileError, to_toml
    from .exercises.sets import COLUMN_VEC_SETS, SETS, new

    if args.name not in SETS:
        raise UsageError(f"NAME: expected one of {', '.join(SETS)}, got {args.name!r}")
    given = [
        f"--{k}"
        for k in ("sizes", "activations", "layers", "input", "loss", "batch")
        if getattr(args, k) is not None
    ]
    if args.name != "network" and given:
        raise UsageError(
            f"{', '.join(given)}: only the network set takes network options; "
            f"{args.name} has its own network"
        )
    if args.output is not None:
        path = Path(args.output)
        if path.suffix.lower() != ".toml":
            raise UsageError(f"--output: expected a file name ending in .toml, got {args.output!r}")
        if path.exists() and not args.force:
            raise UsageError(f"--output: {args.output!r} exists; choose another name or --force")
        if not path.resolve().parent.is_dir():
            raise UsageError(
                f"--output: expected a file in an existing folder, got {args.output!r}"
            )
    options: dict[str, Any] = {}
    command = f"jacobians exercises new {args.name}"
    if args.name == "network":
        net = _network(args)
        options = {"loss": net.loss.name, "batch": args.batch or 1}
        if net.is_dense and args.layers is None:
            options |= {"sizes": net.sizes, "activations": [a.name for a in net.activations]}
            spec = "-".join(map(str, net.sizes))
            command += f" --sizes {spec} --activations {','.join(options['activations'])}"
        else:
            shape = "x".join(map(str, net.input_shape))
            options |= {"layers": net.layer_spec, "input_shape": shape}
            command += f' --input {shape} --layers "{net.layer_spec}"'
        command += f" --loss {options['loss']} --batch {options['batch']}"
    if args.vec != "row" and args.name not in COLUMN_VEC_SETS:
        raise UsageError(
            f"--vec {args.vec}: expected row for {args.name}, a network of layers (NOTATION "
            f"flattens every tensor row-major); column is for {', '.join(COLUMN_VEC_SETS)}"
        )
    try:
        exercise = new(args.name, args.seed, args.vec, **options)
    except ExerciseFileError as e:
        if str(e).startswith("vec: "):  # a network of layers: name the option given
            raise UsageError(f"--vec {args.vec}: {str(e).removeprefix('vec: ')}") from None
        raise
    if args.seed is not None:
        import shlex

        command += f" --seed {shlex.quote(str(args.seed))}"
    if args.vec != "row":
        command += f" --vec {args.vec}"
    text = to_toml(exercise, f"{exercise.title}\nwritten by: {command}")
    if args.output is None:
        print(text, end="")
    else:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {args.output} ({len(exercise.questions)} questions)")
    return 0


def _exercises_solve(args: argparse.Namespace) -> int:
    from .exercises.exercise import read_exercise
    from .exercises.solve import format_solution, solution_json

    exercise = read_exercise(args.exercise)
    if args.json:
        print(json.dumps(solution_json(exercise), indent=1))
    else:
        print(format_solution(exercise, args.digits))
    return 0


def _check(args: argparse.Namespace) -> int:
    from .exercises.answers import load_answers
    from .exercises.exercise import read_exercise
    from .exercises.grading import check

    try:
        exercise = read_exercise(args.exercise)
        report = check(exercise, load_answers(args.answers), args.time_limit)
    except Exception as error:
        if args.gradescope is not None:
            from contextlib import suppress

            from .errors import JacobiansError
            from .exercises.answers import AnswersFileError
            from .exercises.report import Report

            # The student's file unusable, the exercise fine: every question failed (exit 2
            # all the same). The exercise unusable, or our own failure: no tests, which
            # run_autograder reports as the instructor's failure.
            results = Report.gradescope_not_graded(f"not graded: {error}")
            if isinstance(error, AnswersFileError):
                with suppress(JacobiansError):
                    read = read_exercise(args.exercise)
                    questions = tuple((q.name, q.points) for q in read.questions)
                    results = Report.gradescope_unusable_answers(read.title, questions, str(error))
            _write_json(args.gradescope, results)
        raise
    if args.gradescope is not None:
        _write_json(args.gradescope, report.gradescope())
    if args.json:
        print(json.dumps(report.as_json(), indent=1, ensure_ascii=False))
    else:
        print(report.text())
    return 0 if report.all_correct else 1


def _write_json(path: str, data: dict[str, Any]) -> None:
    from pathlib import Path

    try:
        Path(path).write_text(json.dumps(data, indent=1, ensure_ascii=False), encoding="utf-8")
    except OSError as e:
        raise UsageError(f"--gradescope: cannot write {path!r}: {e.strerror}") from None


def _compare(args: argparse.Namespace) -> int:
    from .comparison import compare
    from .numerical import DEFAULT_STEP
    from .parameters import init_parameters, parameters_from_arrays
    from .paramfile import read_run
    from .report import comparison_json, format_comparison

    arrays, described = read_run(args.params) if args.params is not None else (None, None)
    net = _network(args, arrays, described)
    if arrays is not None:
        params = parameters_from_arrays(net, arrays)
        if args.batch is not None and args.batch != params.batch:
            raise UsageError(
                f"--batch: expected {params.batch} to match x in {args.params} "
                f"(n_0 × B), got {args.batch}; leave --batch out with --params"
            )
        source: dict[str, object] = {"params": args.params}
        label = f"parameters from {args.params}"
    else:
        from .comparison import check_budget, resolve_jacobians, sample_size

        entries = sample_size(net, args.sample)
        representation, _ = resolve_jacobians(
            net, args.batch or 1, args.jacobians, _memory_budget(args), entries
        )
        check_budget(net, args.batch or 1, representation, entries)
        seed = DEFAULT_SEED if args.seed is None else args.seed
        params = init_parameters(net, seed, args.batch or 1)
        source, label = {"seed": seed}, f"seed {seed}"
    if args.vec == "column":
        _check_column(args, net)
    if args.layout == "row":
        from .rownet import check_row_batch

        check_row_batch(net, params.batch, _memory_budget(args))
    result = compare(
        net,
        params,
        args.order,
        args.step or DEFAULT_STEP,
        args.jacobians,
        _memory_budget(args),
        args.sample,
        args.strategy,
        args.vec,
    )
    row = None
    if args.layout == "row":
        from .rownet import check_row_layout

        row = check_row_layout(net, params, result.vectorized.gradients, args.order)
    if args.json:
        data = comparison_json(result, source)
        if row is not None:
            from .report import row_layout_json

            data["row_layout"] = row_layout_json(row)
            data["agree"] = result.agree and row.agree  # the exit status, as without --layout
        print(json.dumps(data, indent=1))
    else:
        print(format_comparison(result, label, args.digits))
        if row is not None:
            from .report import format_row_layout

            print(format_row_layout(row, args.digits))
    return 0 if result.agree and (row is None or row.agree) else 1


def _check_column(args: argparse.Namespace, net: Any) -> None:
    """Refuse ``--vec column`` where it is not implemented: with ``--layout row`` (compare)
    and for a network that is not dense."""
    from .columnvec import check_column

    if getattr(args, "layout", "column") == "row":
        raise UsageError(
            "--vec column: not with --layout row (the row layout's N = A W has its own "
            "flattening, ∂vec(N)/∂vec(W) = A ⊗ I); use one or the other"
        )
    check_column(net)


MAX_SYMBOLIC_PARAMETERS = 600
"""Above this many parameters a derivation takes more than a few seconds (16-16-16-1, 561
parameters, takes about 6 s; 40-40-2 takes 95 s) and prints matrices no one reads."""


def _derive(args: argparse.Namespace) -> int:
    if args.standalone and args.format != "latex":
        raise UsageError(
            "--standalone: only with --format latex (it makes the LaTeX fragment a complete "
            f"document), got --format {args.format}; add --format latex"
        )
    if args.general:
        given = [
            f"--{k}"
            for k in ("sizes", "activations", "layers", "input", "loss", "layer", "param", "batch")
            if getattr(args, k) is not None
        ] + (["--abstract"] if args.abstract else [])
        if given:
            raise UsageError(
                f"--general: expected no network options (the proof covers every "
                f"size and activation), got {', '.join(given)}"
            )
        from derivations.general import general_derivation

        derivations = [general_derivation(args.vec)]
    else:
        net = _network(args)
        if args.vec == "column":
            _check_column(args, net)
        params = tuple(dict.fromkeys(args.param or ["W", "b"]))
        if not net.is_dense:
            derivations = _derive_layers(args, net, params)
        else:
            if args.batch is not None:
                raise UsageError(
                    "--batch: only for a network with a layer that couples examples "
                    "(batchnorm); a dense network's derivation is of one example"
                )
            if "input" in params:
                raise UsageError(
                    "--param input: the gradient at a layer's input is derived for networks "
                    "with convolutions or pooling; a dense layer's is the δ recursion "
                    "(--param delta)"
                )
            if args.layer is not None and args.layer > net.depth:
                raise UsageError(
                    f"--layer: expected a layer from 1 to {net.depth} for {net.spec}, "
                    f"got {args.layer}"
                )
            if net.parameter_count > MAX_SYMBOLIC_PARAMETERS:
                raise UsageError(
                    f"--sizes: expected at most {MAX_SYMBOLIC_PARAMETERS} parameters for a "
                    f"symbolic derivation, got {net.parameter_count} for {net.spec}; derive a "
                    "narrower network (the algebra is the same for every width) or use --general"
                )
            from derivations.derive import derive

            derivations = derive(net, args.abstract, args.layer, params, vec=args.vec)
    if args.standalone:
        from derivations.derivation import latex_document

        print(latex_document(derivations), end="")
    else:
        print("\n".join(d.render(args.format) for d in derivations), end="")
    return 0 if all(d.holds for d in derivations) else 1


def _derive_layers(args: argparse.Namespace, net: Any, params: tuple[str, ...]) -> Any:
    """The derivations of a network given by ``--layers`` (convolutions, pooling, …)."""
    if args.abstract:
        raise UsageError(
            "--abstract: only for dense networks (--sizes); with --layers every activation is "
            "written as itself"
        )
    from .paths import coupled

    joint = coupled(net)
    if joint is None and args.batch not in (None, 1):
        raise UsageError(
            f"--batch: only for a network with a layer that couples examples (batchnorm); "
            f"without one a derivation is of one example, got {args.batch}"
        )
    if joint is not None and (args.batch or 1) < 2:
        raise UsageError(
            f"--batch: expected 2 or more examples for a network with {joint.kind.name} "
            f"(layers[{joint.entry}]): it couples the examples, and over one it outputs β; "
            "e.g. --batch 3"
        )
    from derivations.layers import derive_network

    return derive_network(net, params, layer=args.layer, batch=args.batch or 1)


def _chain(args: argparse.Namespace) -> int:
    from .chainrule import DEFAULT_STEP, chain
    from .report import format_chain

    result = chain(args.functions, args.at, args.step or DEFAULT_STEP, args.numeric_links)
    print(format_chain(result, args.functions))
    return 0


def _matrix_function(args: argparse.Namespace) -> int:
    from .report import format_matrix_function
    from .rowlayout import CHAPTER_SEED, chapter_example, matrix_function, perturbation_slope

    seed = CHAPTER_SEED if args.seed is None else args.seed
    X, W = chapter_example(seed)
    mf = matrix_function(X, W, args.activation)
    slope = perturbation_slope(X, W, (0, 0), activation=args.activation)
    print(format_matrix_function(mf, seed, slope, args.digits))
    return 0


PLOT_EXTRA = (
    "python -m pip install 'jacobians[plot]' "
    "(in a source checkout: python -m pip install '.[plot]')"
)


def _plot(args: argparse.Namespace) -> int:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise UsageError(
            f"matplotlib is not installed; install the plot extra: {PLOT_EXTRA}"
        ) from None
    from pathlib import Path

    from . import plots

    folder = Path(args.output).resolve().parent
    if Path(args.output).suffix.lower() != ".png":
        raise UsageError(f"--output: expected a file name ending in .png, got {args.output!r}")
    if not folder.is_dir():
        raise UsageError(f"--output: expected a file in an existing folder, got {args.output!r}")
    if args.kind == "chain":
        lo, hi = args.range
        if not lo < hi:
            raise UsageError(f"--range: expected LO < HI, got {lo:g} {hi:g}")
        path = plots.draw_chain(args.functions, args.output, lo, hi)
    elif args.kind == "sweep":
        from .rowlayout import CHAPTER_SEED, chapter_example

        X, W = chapter_example(CHAPTER_SEED if args.seed is None else args.seed)
        i, j = args.entry
        if i > X.shape[0] or j > X.shape[1]:
            raise UsageError(
                f"--entry: expected I ≤ {X.shape[0]} and J ≤ {X.shape[1]}, got {i} {j}"
            )
        path = plots.draw_sweep(X, W, args.output, (i - 1, j - 1), args.span)
    else:
        from .parameters import init_parameters

        net = _network(args)
        budget = _memory_budget(args)
        plots.check_plot_memory(net, args.batch or 1, budget)  # before anything is built
        seed = DEFAULT_SEED if args.seed is None else args.seed
        params = init_parameters(net, seed, args.batch or 1)
        path = plots.draw_jacobians(net, params, args.output, memory_budget=budget)
    print(
        f"wrote {path} ({plots.DPI * plots.SIZE[0]:.0f} × {plots.DPI * plots.SIZE[1]:.0f} pixels)"
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    from .errors import JacobiansError

    try:
        return int(args.handler(args))
    except (JacobiansError, UsageError) as error:
        print(f"{PROG} {args.command}: error: {error}", file=sys.stderr)
        return 2
    except MemoryError:
        print(
            f"{PROG} {args.command}: error: out of memory; use a smaller network or batch",
            file=sys.stderr,
        )
        return 2
    except BrokenPipeError:
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
