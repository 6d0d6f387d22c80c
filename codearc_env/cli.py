"""The `codearc` command: one parser, with subcommands contributed by each area.

Each area module exposes ``register(subparsers)`` and sets ``func`` on its parsers; heavy
imports stay inside the handlers so that ``codearc --help`` is instant.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from codearc_env import __version__
from codearc_env.errors import CodeARCError

# Order is the order of `codearc --help`.
AREA_MODULES = (
    "codearc_env.functions.cli",  # data
    "codearc_env.sandbox.cli",  # sandbox
    "codearc_env.oracle.cli",  # oracle
    "codearc_env.agents.cli",  # eval, traces, collect
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="codearc",
        description="CodeARC inductive program synthesis: data, sandbox, oracle, evaluation.",
    )
    parser.add_argument("--version", action="version", version=f"codearc-env {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in AREA_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    # litellm must not fetch its cost map over the network when some command imports it.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return int(func(args) or 0)
    except CodeARCError as exc:
        print(f"codearc: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("codearc: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
