"""The sandbox contract: a small ABC, a frozen request/result pair and a lifecycle.

A sandbox is stateless between calls: each request carries the module source to run, and
the worker inside executes it in a fresh child process. Separation of the hidden function
from candidates is therefore a matter of using separate sandbox instances.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal

Isolation = Literal["call", "batch", "resident"]
"""How invocations of one ``run`` are separated: a process each, one process per batch, or one
warm process per (module, function, limits) kept between runs (hidden functions only)."""
ISOLATION_MODES: tuple[Isolation, ...] = ("call", "batch", "resident")


def check_isolation(isolation: object) -> Isolation:
    """Validate an ``isolation`` argument (ValueError naming the choices)."""
    if isolation == "call" or isolation == "batch" or isolation == "resident":
        return isolation
    raise ValueError(f"isolation must be 'call', 'batch' or 'resident', not {isolation!r}")


@dataclass(frozen=True)
class Limits:
    """Per-call resource limits enforced inside the sandbox."""

    timeout_s: float = 5.0
    """Wall-clock limit of one call; the call's whole process group is killed after it."""
    cpu_s: int = 10
    """CPU-time limit (RLIMIT_CPU) of one call."""
    memory_mb: int = 512
    """Address-space limit (RLIMIT_AS) of one call, on top of the warm worker's own (a forked
    call starts with the worker's address space)."""
    file_size_mb: int = 16
    """Largest file the call may write (RLIMIT_FSIZE)."""
    open_files: int = 64
    """Most open file descriptors (RLIMIT_NOFILE)."""
    output_chars: int = 200_000
    """Cap on the encoded return value and on its str() rendering; longer ones are truncated."""
    stdout_chars: int = 64_000
    """Cap on the captured stdout (and stderr) of one call; the rest is dropped."""
    processes: int = 64
    """Most processes one call may run at once (RLIMIT_NPROC where the backend can enforce it;
    docker enforces its own pids limit per container)."""
    batch_budget_s: float | None = None
    """Batch isolation only: once the batch's invocations have taken this long in total, the
    remaining ones are not run and come back as timed out. None: no budget."""


@dataclass(frozen=True)
class Invocation:
    """One call of the target: literal arguments, or (for stored examples) a call expression.

    When ``expression`` is set it is evaluated in the module's namespace inside the sandbox
    and ``args``/``kwargs`` are ignored. Agents never get this form: their queries are parsed
    to literals on the host.
    """

    args: tuple[Any, ...] = ()
    kwargs: tuple[tuple[str, Any], ...] = ()
    expression: str | None = None


@dataclass(frozen=True)
class CallResult:
    """What one invocation produced, as plain data.

    Exactly one of these holds: ``ok`` (a return value), ``error_type`` set (the code raised),
    ``timed_out``, or ``infra_error`` set (the sandbox itself failed: not the code's fault).
    """

    ok: bool
    value: Any = None
    """The return value, encoded by :mod:`codec` (a JSON tree); None unless ok."""
    value_str: str = ""
    """``str()`` of the return value, as computed inside the sandbox (capped)."""
    error_type: str | None = None
    """Exception class name, e.g. ``"ValueError"``; never a traceback."""
    error_message: str = ""
    """``str()`` of the exception (capped)."""
    timed_out: bool = False
    duration_s: float = 0.0
    truncated: bool = False
    """The value or its rendering exceeded ``Limits.output_chars``."""
    infra_error: str | None = None
    """Set when the sandbox failed for a reason no call caused; a call that kills its own
    sandbox gets the error ``SandboxKilled`` instead."""
    stdout: str = ""
    """What the call printed (capped); usually ignored."""
    stdout_truncated: bool = False
    """The call printed more than ``Limits.stdout_chars``."""

    @property
    def raised(self) -> bool:
        return self.error_type is not None


@dataclass(frozen=True)
class BackendInfo:
    name: str
    is_security_boundary: bool
    details: dict[str, str] = field(default_factory=dict)


class Sandbox(abc.ABC):
    """An isolated place to run untrusted Python. Use as a context manager.

    ``run`` executes ``source`` (a whole module) and calls ``function`` once per invocation,
    each in a fresh child process, and returns one result per invocation in order. It raises
    :class:`codearc_env.errors.SandboxError` only when the sandbox cannot be (re)started. A
    worker lost mid-call is replaced and the call run again on the new one; a call that loses
    that one too is what kills it, and its result is the error ``SandboxKilled``.
    """

    name: str = "abstract"

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()

    @abc.abstractmethod
    def start(self) -> None:
        """Start the sandbox (idempotent)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Stop the sandbox and remove everything it created (idempotent)."""

    def run(
        self,
        source: str,
        function: str,
        invocations: Sequence[Invocation],
        limits: Limits | None = None,
        *,
        isolation: Isolation = "call",
    ) -> list[CallResult]:
        """Run ``function`` from ``source`` on each invocation; see the class docstring.

        ``limits`` defaults to the sandbox's own. ``isolation="call"`` (the default) forks a
        fresh process per invocation. ``isolation="batch"`` runs the invocations one after
        another in one forked process (a new one after a crash, kill or timeout), each in a
        fresh module namespace: no Python state of the module carries over, but files and
        processes an invocation leaves may be seen by later invocations of the same batch.
        ``isolation="resident"`` runs them as a batch does, in a process that stays for the
        next ``run`` of the same source, function and limits, so a query costs no fork; for
        trusted code only (the hidden functions): never ask for it for a candidate. Files are
        wiped and processes ended between runs, as in the other modes.
        See docs/sandbox.md. Any other ``isolation`` is a ValueError.
        """
        isolation = check_isolation(isolation)
        return self._run_calls(source, function, invocations, limits or self.limits, isolation)

    @abc.abstractmethod
    def _run_calls(
        self, source: str, function: str, invocations: Sequence[Invocation], limits: Limits,
        isolation: Isolation,
    ) -> list[CallResult]:
        """What :meth:`run` does once its limits and isolation are settled (a backend's part)."""

    @abc.abstractmethod
    def info(self) -> BackendInfo:
        """What this backend is and whether it is a security boundary."""

    def warm(self, source: str, function: str, limits: Limits | None = None) -> None:
        """Get ready for resident runs of ``function`` from ``source`` (see :meth:`run`), so the
        first one does not pay for starting its process. Best effort and never required: a
        backend without resident processes, or a sandbox not started yet, does nothing."""
        return None

    def run_one(
        self, source: str, function: str, invocation: Invocation, limits: Limits | None = None
    ) -> CallResult:
        return self.run(source, function, [invocation], limits)[0]

    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
