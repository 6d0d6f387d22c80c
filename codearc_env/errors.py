"""All harness errors derive from one base class.

Mistakes of the agent (a bad query, a candidate that does not compile) are *observations*,
never exceptions. The classes here are for failures of the harness or of its inputs: bad
data, a sandbox that is down, a misconfigured environment.
"""

from __future__ import annotations


class CodeARCError(Exception):
    """Base class of every error raised by codearc-env."""


class DataError(CodeARCError):
    """The benchmark data is missing, corrupt, or in an unexpected layout."""


class DataUnavailableError(DataError):
    """No data source could be reached (offline with no local copy)."""


class SandboxError(CodeARCError):
    """The sandbox infrastructure failed (not the code that ran inside it)."""


class SandboxUnavailableError(SandboxError):
    """The requested sandbox backend cannot run on this machine."""


class ReferenceUnavailableError(SandboxError):
    """The hidden function finished on no input within its time limits (a machine too busy,
    for example): no verdict on the candidate can be given, so this is not one."""


class CallParseError(CodeARCError):
    """A call text is not exactly one call of the target with literal arguments."""


class UsageError(CodeARCError):
    """The command line or a setting names something invalid (exit code 2, like argparse)."""


# Exit codes of the `codearc` command, the same for every subcommand (as diff and grep use them).
EXIT_OK = 0
EXIT_FAIL = 1  # a verdict of FAIL or a failing check: the command worked, the answer is no
EXIT_ERROR = 2  # no answer: bad command line or input, missing data, a sandbox failure, a bug
EXIT_INTERRUPTED = 130  # Ctrl-C, as a shell reports SIGINT


def exit_code(exc: BaseException) -> int:
    """The exit code for an exception that ends a command: the one mapping the CLI uses.

    A bug exits 2 as well (with its traceback shown), never 1: Python's own exit code for an
    uncaught exception would read as a FAIL verdict.
    """
    return EXIT_INTERRUPTED if isinstance(exc, KeyboardInterrupt) else EXIT_ERROR
