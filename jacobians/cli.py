"""The ``jacobians`` command line: parse, call the packages, format. No mathematics lives here.

Exit codes: 0 success (routes agree), 1 the routes disagree, 2 a usage error or bad input
(one line on stderr, never a traceback). Heavy modules are imported inside the commands, so
``jacobians --help`` stays fast and nothing imports sympy or matplotlib until a command needs it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

PROG = "jacobians"
DEFAULT_SEED = 8
"""The walk-through network's seed: one dead relu unit in layer 1, every z at least 0.3 from
a kink, so the default run shows a zero row in dW1 and no stencil crosses a kink."""


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
  jacobians compare --params net.toml --order optimal --json

parameter files (.json, .toml or .npz) hold W1, b1, …, WL, bL, x and y in the shapes of the
notation: W[l] is n_l × n_{l-1}, b[l] has n_l entries, x is n_0 or n_0 × B (examples as
columns), y is n_L or n_L × B. Without --sizes the sizes are read off the W arrays.

exit status: 0 the routes agree, 1 they do not, 2 a usage error or bad input.
"""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
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
    compare.add_argument(
        "--sizes",
        help="layer sizes n_0,…,n_L, e.g. 3,4,2,1 or 3-4-2-1 "
        "(default 3-4-2-1, or read off --params)",
    )
    compare.add_argument(
        "--activations",
        help="one per layer, comma-separated: identity, relu, "
        "leaky_relu[:slope], sigmoid, tanh, softplus, square, softmax "
        "(default relu for hidden layers, sigmoid for the output)",
    )
    compare.add_argument("--loss", default="bce", help="bce, ce, mse or sum (default bce)")
    source = compare.add_mutually_exclusive_group()
    source.add_argument(
        "--seed", type=int, help=f"random parameters from this seed (default {DEFAULT_SEED})"
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
        "--digits", type=_positive_int, default=6, help="digits printed after the point (default 6)"
    )
    compare.add_argument("--json", action="store_true", help="print one JSON object instead")
    compare.set_defaults(handler=_compare)
    return parser


def _compare(args: argparse.Namespace) -> int:
    from .compare import compare
    from .network import DEFAULT_SIZES, Network, parse_sizes
    from .numerical import DEFAULT_STEP
    from .parameters import init_parameters, parameters_from_arrays, sizes_from_arrays
    from .paramfile import read
    from .report import comparison_json, format_comparison

    arrays = read(args.params) if args.params else None
    if args.sizes is not None:
        sizes = parse_sizes(args.sizes)
    elif arrays is not None:
        sizes = sizes_from_arrays(arrays)
    else:
        sizes = DEFAULT_SIZES
    activations = args.activations
    if activations is None:
        activations = ["relu"] * (len(sizes) - 2) + ["sigmoid"]
    net = Network.from_spec(sizes, activations, args.loss)
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
        seed = DEFAULT_SEED if args.seed is None else args.seed
        params = init_parameters(net, seed, args.batch or 1)
        source, label = {"seed": seed}, f"seed {seed}"
    result = compare(net, params, args.order, args.step or DEFAULT_STEP)
    if args.json:
        print(json.dumps(comparison_json(result, source), indent=1))
    else:
        print(format_comparison(result, label, args.digits))
    return 0 if result.agree else 1


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
    except BrokenPipeError:
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
