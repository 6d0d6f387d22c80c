"""The `codearc` command: one parser, with subcommands contributed by each layer's CLI.

Each layer's ``cli`` module exposes ``register(subparsers)`` and sets ``func`` on its parsers;
heavy imports stay inside the handlers so that ``codearc --help`` is instant. This module sits
above every layer (it imports all four CLIs), and it is the one place where an exception that
ends a command becomes an exit code (:func:`codearc_env.errors.exit_code`).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback

from codearc_env import __version__
from codearc_env.agents import cli as agents_cli
from codearc_env.errors import EXIT_ERROR, CodeARCError, exit_code
from codearc_env.functions import cli as functions_cli
from codearc_env.oracle import cli as oracle_cli
from codearc_env.sandbox import cli as sandbox_cli

# Order is the order of `codearc --help`: data, sandbox, oracle, then eval, collect, traces.
LAYER_CLIS = (functions_cli, sandbox_cli, oracle_cli, agents_cli)
LOG_LEVELS = ("debug", "info", "warning", "error")
log = logging.getLogger("codearc_env")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="codearc",
        description="CodeARC inductive program synthesis: data, sandbox, oracle, evaluation.",
    )
    parser.add_argument("--version", action="version", version=f"codearc-env {__version__}")
    parser.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        default="info",
        help="diagnostics on stderr (progress, retries, warnings) at this level and above",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for layer_cli in LAYER_CLIS:
        layer_cli.register(subparsers)
    return parser


_handler: logging.Handler | None = None


def configure_logging(level: str) -> None:
    """Diagnostics of the package go to stderr, one plain line each; results go to stdout.

    The handler is made anew for each run, on the current ``sys.stderr``, replacing the last.
    """
    global _handler
    if _handler is not None:
        log.removeHandler(_handler)
    _handler = logging.StreamHandler(sys.stderr)
    _handler.setFormatter(logging.Formatter("codearc: %(message)s"))
    log.addHandler(_handler)
    log.setLevel(level.upper())


def main(argv: list[str] | None = None) -> int:
    # litellm must not fetch its cost map over the network when some command imports it.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.log_level)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return EXIT_ERROR
    try:
        return int(func(args) or 0)
    except (Exception, KeyboardInterrupt) as exc:
        if isinstance(exc, KeyboardInterrupt):
            print("codearc: interrupted", file=sys.stderr)
        elif isinstance(exc, CodeARCError):
            print(f"codearc: error: {exc}", file=sys.stderr)
        else:  # a bug: the traceback is the useful report
            traceback.print_exc(file=sys.stderr)
            print(f"codearc: error: unexpected {type(exc).__name__}: {exc}", file=sys.stderr)
        return exit_code(exc)


if __name__ == "__main__":
    sys.exit(main())
