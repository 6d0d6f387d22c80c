"""``codearc oracle check``: judge a candidate file against one hidden function.

Importing this module is cheap: the dataset, the sandboxes and Hypothesis load in handlers.
Exit codes: 0 pass, 1 fail, 2 anything else: a usage or harness error, or a crash of the tool
itself (its traceback goes to stderr). Only a failing verdict exits 1.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

_VARIANTS = ("annotated", "anonymized")
_STRENGTHS = ("fast", "default", "strong")


def register(subparsers: Any) -> None:
    oracle = subparsers.add_parser("oracle", help="the differential-testing oracle")
    oracle.set_defaults(func=lambda args: _usage(oracle))
    actions = oracle.add_subparsers(dest="oracle_command", metavar="ACTION")
    check = actions.add_parser(
        "check",
        help="check a candidate program against a hidden function",
        description="Run CANDIDATE.py against the hidden function and print the verdict; "
        "exit 0 when it passes, 1 when it fails.",
    )
    check.add_argument(
        "--problem",
        required=True,
        help="problem index (0-1113), or a problem id such as builtin/annotated/clamp_int",
    )
    check.add_argument("--variant", choices=_VARIANTS, default="annotated")
    check.add_argument(
        "--data-dir",
        help="a JSON Lines or upstream-layout data directory (default: $CODEARC_DATA_DIR, "
        "the cache, else a download)",
    )
    check.add_argument("--backend", help="sandbox backend (default: the strongest available)")
    check.add_argument("--seed", type=int, default=0, help="input generator seed (default 0)")
    check.add_argument("--strength", choices=_STRENGTHS, default="default")
    check.add_argument("--cache-dir", help="reference cache directory (default: the user cache)")
    check.add_argument("candidate", metavar="CANDIDATE.py", help="the candidate program")
    check.set_defaults(func=_check)
    from codearc_env.oracle.warm_cli import register_warm

    register_warm(actions)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _problem(args: argparse.Namespace) -> Any:
    """The one problem asked for; only its rows of the data are read."""
    from codearc_env.functions import load_problem, load_problem_by_id

    text = str(args.problem)
    if text.isdigit():
        return load_problem(args.variant, int(text), args.data_dir)
    return load_problem_by_id(text, args.data_dir)


def _check(args: argparse.Namespace) -> int:
    """Exit 0 or 1 only for a verdict; every error, expected or not, exits 2."""
    try:
        return _run_check(args)
    except Exception as exc:  # a crash must never read as a FAIL verdict
        import traceback

        from codearc_env.errors import EXIT_ERROR, CodeARCError

        if not isinstance(exc, CodeARCError):
            traceback.print_exc(file=sys.stderr)
        print(f"codearc: error: {exc}", file=sys.stderr)
        return EXIT_ERROR


def _run_check(args: argparse.Namespace) -> int:
    import warnings

    from codearc_env.oracle.oracle import Oracle
    from codearc_env.sandbox import make_sandbox

    try:
        candidate = Path(args.candidate).read_bytes()
    except OSError as exc:
        print(f"codearc: error: cannot read {args.candidate}: {exc.strerror}", file=sys.stderr)
        return 2
    fn = _problem(args)
    with warnings.catch_warnings():
        if args.backend == "process":  # named explicitly: the user has chosen it
            warnings.simplefilter("ignore")
        with make_sandbox(args.backend) as reference, make_sandbox(args.backend) as sandbox:
            oracle = Oracle(
                reference, sandbox, seed=args.seed, strength=args.strength, cache_dir=args.cache_dir
            )
            verdict = oracle.check(fn, candidate)
    status = "PASS" if verdict.passed else "FAIL"
    print(f"{status} {fn.problem_id} ({fn.target}): {verdict.reason}")
    print(f"inputs: {verdict.n_inputs}, time: {verdict.duration_s:.2f} s")
    if verdict.counterexample is not None:
        print(verdict.counterexample.feedback())
    return 0 if verdict.passed else 1
