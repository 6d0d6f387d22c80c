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


class CallParseError(CodeARCError):
    """A call text is not exactly one call of the target with literal arguments."""
