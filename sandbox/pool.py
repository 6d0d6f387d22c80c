"""A shared execution pool: a few warm sandboxes serving many environments in one process.

One environment alone owns two sandboxes, idle almost all the time. A pool holds a fixed set
instead, split in two disjoint halves:

- reference sandboxes run hidden functions; a call is routed by its module source (so by
  problem), so one problem's calls always meet the same worker;
- candidate sandboxes run submissions; a call leases whichever one is idle.

A sandbox never serves both sides, and every call still runs in a fresh child of its worker:
the isolation the conformance suite checks is the members' own. The pool is thread-safe (a
member serves one call at a time) and has an async entry point, :meth:`SandboxPool.arun`,
which runs the call on the pool's threads so an event loop never blocks on a sandbox.

    with SandboxPool(size=8) as pool:
        env_a = CodeARCEnv(pool=pool)
        env_b = CodeARCEnv(pool=pool)   # same eight sandboxes
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as futures_wait
from dataclasses import dataclass
from types import TracebackType
from typing import Literal, TypeVar

from codearc_env.errors import SandboxError
from codearc_env.sandbox.base import (
    BackendInfo,
    CallResult,
    Invocation,
    Isolation,
    Limits,
    Sandbox,
)
from codearc_env.sandbox.workerbox import KILLED, RecentResidents, limits_token

Side = Literal["reference", "candidate"]
T = TypeVar("T")
DEFAULT_SIZE = 8
DEFAULT_ASYNC_THREADS = 64
"""Threads behind :meth:`SandboxPool.arun`: a call waiting for a busy member holds one, so
there are more than members, and a burst does not queue behind one problem's member."""
MAX_ROUTES = 4096
"""Module sources whose reference member the pool remembers (see SandboxPool._route)."""


@dataclass
class PoolStats:
    """Counts since the pool was made (they only grow)."""

    reference_calls: int = 0
    reference_merged: int = 0
    """Reference calls that ran inside another caller's request to the same member (queries of
    one hidden function from several episodes at once: see :meth:`SandboxPool.run`)."""
    candidate_calls: int = 0
    candidate_waits: int = 0
    """Candidate calls that found every candidate sandbox busy and waited."""
    started: int = 0
    """Members started (each at most once, on first use)."""


class _Member:
    """One sandbox of the pool and the lock that gives it to one call at a time."""

    def __init__(self, box: Sandbox) -> None:
        self.box = box
        self.lock = threading.Lock()
        self.started = False
        self.waiting: dict[tuple[object, ...], list[_Waiting]] = {}
        """Resident calls waiting for this member, by what they run (see _run_merged)."""
        self.waiting_lock = threading.Lock()
        self.recent = RecentResidents()
        """Checked before a warm-up is scheduled at all (the member's own check is later)."""

    def recent_key(self, source: str, function: str, limits: Limits) -> tuple[object, ...]:
        """A key of ``recent``: it names the member's worker too, as a new worker has none of
        the old one's resident processes."""
        return (getattr(self.box, "generation", 0), source, function, limits_token(limits))


class _Waiting:
    """One caller's resident call while it waits for its member; filled by whichever caller
    gets the member first and runs it together with others of the same function."""

    def __init__(self, invocations: Sequence[Invocation]) -> None:
        self.invocations = invocations
        self.results: list[CallResult] | None = None
        self.error: BaseException | None = None


class SandboxPool:
    """``size`` sandboxes (at least 2), half for references and half for candidates.

    Args:
        size: how many sandboxes in all; references get ``size // 2``, candidates the rest.
        backend, limits: as for :func:`codearc_env.sandbox.make_sandbox`.
        make_member: makes one (unstarted) member instead, e.g. a test double.
        async_threads: threads serving :meth:`arun`.

    Members start on first use. The pool owns its members: :meth:`close` stops them all.
    """

    def __init__(
        self,
        size: int = DEFAULT_SIZE,
        backend: str | None = None,
        limits: Limits | None = None,
        *,
        make_member: Callable[[], Sandbox] | None = None,
        async_threads: int = DEFAULT_ASYNC_THREADS,
    ) -> None:
        if size < 2:
            raise ValueError(
                f"a pool needs at least 2 sandboxes (references and candidates never share "
                f"one), got size={size}"
            )
        if make_member is None:
            from codearc_env.sandbox import make_sandbox

            make_member = functools.partial(make_sandbox, backend, limits)
        self.size = size
        self.limits = limits or Limits()
        boxes = [make_member() for _ in range(size)]
        if len({id(b) for b in boxes}) != size:
            raise ValueError("make_member must return a new sandbox on every call")
        n_reference = size // 2
        self._reference = [_Member(b) for b in boxes[:n_reference]]
        self._candidate = [_Member(b) for b in boxes[n_reference:]]
        self._idle = list(self._candidate)
        self._set_up_calls(async_threads)

    def _set_up_calls(self, async_threads: int) -> None:
        """State every pool needs to take calls, whoever runs them (also used by the Ray
        client in :mod:`codearc_env.sandbox.ray_pool`)."""
        self._idle_changed = threading.Condition()
        self._routes: dict[str, _Member] = {}
        """Reference member by module source, as _route chose it (sources are few: one per
        problem, the same str object on every call of an episode)."""
        self._routes_lock = threading.Lock()
        self._assigned: dict[int, int] = {}
        """How many of the remembered sources each reference member serves (by its index)."""
        self._closed = False
        self._async_threads = async_threads
        self._executor: ThreadPoolExecutor | None = None
        self._meet = threading.Barrier(1)  # what the executor's first threads wait on
        self._executor_lock = threading.Lock()
        self.stats = PoolStats()
        self._stats_lock = threading.Lock()
        self._warming: set[Future[None]] = set()
        self.reference: Sandbox = PoolSide(self, "reference")
        """A :class:`Sandbox` view whose calls go to the reference half."""
        self.candidate: Sandbox = PoolSide(self, "candidate")
        """A :class:`Sandbox` view whose calls go to the candidate half."""

    # ---- members ----------------------------------------------------------------------
    @property
    def members(self) -> tuple[Sandbox, ...]:
        """Every member, references first (for diagnostics and tests)."""
        return tuple(m.box for m in self._reference + self._candidate)

    def backend_info(self) -> BackendInfo:
        """What the members run on (they all share one backend)."""
        return self.members[0].info()

    def reference_member(self, source: str) -> Sandbox:
        """The member that runs calls of this module source."""
        return self._route(source).box

    def _route(self, source: str) -> _Member:
        member = self._routes.get(source)
        if member is None:
            with self._routes_lock:  # one choice per source, whichever thread makes it
                member = self._routes.get(source) or self._assign(source)
        return member

    def _assign(self, source: str) -> _Member:
        """With ``_routes_lock`` held: the member a new source keeps from now on. The one
        serving the fewest sources, looking from the source's checksum on, so the few problems
        of a batch spread over every member instead of meeting on one by their checksums."""
        if len(self._routes) >= MAX_ROUTES:
            self._routes.clear()  # more problems than that: start over rather than grow
            self._assigned.clear()
        n = len(self._reference)
        start = zlib.crc32(source.encode("utf-8"))  # not hash(): the same in every process
        index = min(((start + k) % n for k in range(n)), key=lambda i: self._assigned.get(i, 0))
        self._assigned[index] = self._assigned.get(index, 0) + 1
        member = self._routes[source] = self._reference[index]
        return member

    def _ready(self, member: _Member) -> Sandbox:
        """With ``member.lock`` held: the member, started."""
        if self._closed:
            raise SandboxError("the sandbox pool is closed")
        if not member.started:
            member.box.start()
            member.started = True
            self._count("started")
        return member.box

    def _count(self, name: str) -> None:
        with self._stats_lock:  # += on an attribute is not atomic across threads
            setattr(self.stats, name, getattr(self.stats, name) + 1)

    def _lease(self) -> _Member:
        with self._idle_changed:
            if not self._idle:
                self._count("candidate_waits")
            while not self._idle:
                if self._closed:
                    raise SandboxError("the sandbox pool is closed")
                self._idle_changed.wait()
            return self._idle.pop()

    def _give_back(self, member: _Member) -> None:
        with self._idle_changed:
            self._idle.append(member)
            self._idle_changed.notify()

    # ---- calls ------------------------------------------------------------------------
    def run(
        self,
        side: Side,
        source: str,
        function: str,
        invocations: Sequence[Invocation],
        limits: Limits | None = None,
        *,
        isolation: Isolation = "call",
    ) -> list[CallResult]:
        """Run a call on a member of ``side`` (blocks while that member is busy)."""
        if side not in ("reference", "candidate"):
            raise ValueError(f"side must be 'reference' or 'candidate', not {side!r}")
        if side == "candidate" and isolation == "resident":
            raise ValueError("resident isolation is for hidden functions, never for a candidate")
        return self._run_on(side, source, function, invocations, limits, isolation)

    def _run_on(
        self, side: Side, source: str, function: str, invocations: Sequence[Invocation],
        limits: Limits | None, isolation: Isolation,
    ) -> list[CallResult]:
        """:meth:`run` once ``side`` is known to be valid (where the calls go: members here)."""
        def on(member: _Member) -> list[CallResult]:
            with member.lock:
                box = self._ready(member)
                return box.run(source, function, invocations, limits, isolation=isolation)

        if side == "reference":
            with self._stats_lock:
                self.stats.reference_calls += 1
            member = self._route(source)
            if isolation == "resident" and invocations:
                return self._run_merged(member, source, function, invocations, limits)
            return on(member)
        member = self._lease()
        self._count("candidate_calls")
        try:
            return on(member)
        finally:
            self._give_back(member)

    def _run_merged(
        self, member: _Member, source: str, function: str, invocations: Sequence[Invocation],
        limits: Limits | None,
    ) -> list[CallResult]:
        """A resident call that may share one request with others waiting for ``member``.

        Callers queue by what they run (source, function, limits). The first to get the
        member runs every call queued under its key as one request and hands each caller its
        own results; the others find theirs ready when they get the member. A burst of
        episodes querying one hidden function (a GRPO group) thus costs one sandbox request,
        not one each. Every invocation still runs in a fresh namespace of the resident child.
        When the merged request fails, or has a call killed or left unrun (the sandbox's kill
        and restart caps count per request), each caller's calls run again alone. What merged
        calls do share is what the calls of one request share: files left in the scratch
        directory are wiped between requests, not between invocations (the hidden functions
        are the benchmark's own code).
        """
        limits = limits or self.limits
        member.recent.use(member.recent_key(source, function, limits))
        key = (source, function, limits_token(limits))  # equal limits, one key
        mine = _Waiting(invocations)
        with member.waiting_lock:
            member.waiting.setdefault(key, []).append(mine)
        with member.lock:
            if mine.results is None and mine.error is None:
                with member.waiting_lock:
                    batch = member.waiting.pop(key, [])
                self._serve(member, source, function, limits, batch)
        if mine.error is not None:
            raise mine.error
        assert mine.results is not None
        return mine.results

    def _serve(
        self, member: _Member, source: str, function: str, limits: Limits,
        batch: list[_Waiting],
    ) -> None:
        """With ``member.lock`` held: run ``batch`` as one request and fill every entry. When
        the merged request fails, or has a call killed or left unrun, each entry runs again
        alone and gets what it gets alone (results or its own error)."""
        def run(w: _Waiting | None) -> list[CallResult]:
            invocations = [i for e in batch for i in e.invocations] if w is None else w.invocations
            results = self._ready(member).run(
                source, function, invocations, limits, isolation="resident"
            )
            if len(results) != len(invocations):
                raise SandboxError(f"the sandbox returned {len(results)} results for "
                                   f"{len(invocations)} calls")
            return results

        if len(batch) > 1:
            try:
                merged = run(None)
            except SandboxError:
                merged = None  # each caller alone: whose call broke the request shows there
            if merged is not None and not any(r.error_type == KILLED for r in merged):
                with self._stats_lock:
                    self.stats.reference_merged += len(batch) - 1
                at = 0
                for w in batch:
                    w.results, at = merged[at : at + len(w.invocations)], at + len(w.invocations)
                return
        for w in batch:
            try:
                w.results = run(w)
            except BaseException as exc:  # the caller's own call stopped: it raises there
                w.error = exc

    def warm(self, source: str, function: str, limits: Limits | None = None) -> None:
        """Start the resident process of a hidden function on its reference member, in the
        background: an episode's first query then finds it ready, and the caller never waits
        behind that member's other calls. Best effort: a failure here is left for the
        queries themselves to meet (and report)."""
        member = self._route(source)
        key = (source, function, limits or self.limits)
        if member.recent.use(member.recent_key(*key)):
            return  # its resident process is most likely running: a warm-up would cost a call

        def warm_up() -> None:
            with member.lock:
                box = self._ready(member)
                # Noted again under the worker now running: the first warm-up starts it.
                member.recent.use(member.recent_key(*key))
                box.warm(source, function, limits)

        with contextlib.suppress(SandboxError, RuntimeError):  # closed or closing: nothing to do
            future = self.executor().submit(warm_up)
            with self._stats_lock:
                self._warming.add(future)
            future.add_done_callback(self._warmed)

    def _warmed(self, future: Future[None]) -> None:
        with self._stats_lock:
            self._warming.discard(future)

    def wait_warm(self, timeout: float | None = None) -> bool:
        """Wait until the warm-ups asked for so far have ended (or ``timeout`` seconds);
        whether they all have. For measurements that must not overlap them."""
        with self._stats_lock:
            pending = list(self._warming)
        return not futures_wait(pending, timeout).not_done

    async def arun(
        self,
        side: Side,
        source: str,
        function: str,
        invocations: Sequence[Invocation],
        limits: Limits | None = None,
        *,
        isolation: Isolation = "call",
    ) -> list[CallResult]:
        """:meth:`run` without blocking the event loop (it runs on the pool's threads)."""
        call = functools.partial(
            self.run, side, source, function, invocations, limits, isolation=isolation
        )
        return await self.submit(call)

    async def submit(self, work: Callable[[], T]) -> T:
        """Await ``work()`` run on the pool's threads (used by environments' ``astep``)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor(), work)

    def executor(self) -> ThreadPoolExecutor:
        with self._executor_lock:
            if self._closed:
                raise SandboxError("the sandbox pool is closed")
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    self._async_threads, thread_name_prefix="codearc-pool"
                )
                # All its threads now (the first use is mostly a reset's warm-up), not one per
                # submission in the first burst of ``astep`` calls. It makes a thread on each
                # submission while none is idle: tasks that wait for each other keep them busy.
                self._meet = threading.Barrier(self._async_threads, timeout=10)
                for _ in range(self._async_threads):
                    self._executor.submit(self._meet.wait)
            return self._executor

    # ---- lifecycle --------------------------------------------------------------------
    def start(self) -> None:
        """Start every member now (otherwise each starts on its first call)."""
        for member in self._reference + self._candidate:
            with member.lock:
                self._ready(member)

    def close(self) -> None:
        """Stop every member (idempotent). Calls in flight finish first; later ones raise."""
        with self._idle_changed:
            if self._closed:
                return
            self._closed = True
            self._idle_changed.notify_all()
        with self._executor_lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            self._meet.abort()  # a thread still waiting for the others (its task cancelled)
            executor.shutdown(wait=False, cancel_futures=True)
        errors = []
        for member in self._reference + self._candidate:
            with member.lock:
                try:
                    member.box.close()
                except Exception as exc:  # close every member even if one fails
                    errors.append(exc)
        if errors:
            raise SandboxError(f"closing a pooled sandbox failed: {errors[0]}") from errors[0]

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> SandboxPool:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class PoolSide(Sandbox):
    """One half of a pool seen as a :class:`Sandbox`, for code written against one sandbox
    (the query runner, the oracle). ``start`` and ``close`` leave the members alone: they
    belong to the pool."""

    def __init__(self, pool: SandboxPool, side: Side) -> None:
        super().__init__(pool.limits)
        self.pool = pool
        self.side: Side = side
        self.name = f"pool-{side}"

    def start(self) -> None:
        if self.pool.closed:
            raise SandboxError("the sandbox pool is closed")

    def close(self) -> None:
        """Nothing to stop: the pool owns the sandboxes."""

    def warm(self, source: str, function: str, limits: Limits | None = None) -> None:
        if self.side == "reference":
            self.pool.warm(source, function, limits or self.limits)

    def _run_calls(
        self, source: str, function: str, invocations: Sequence[Invocation], limits: Limits,
        isolation: Isolation,
    ) -> list[CallResult]:
        return self.pool.run(self.side, source, function, invocations, limits, isolation=isolation)

    def info(self) -> BackendInfo:
        inner = self.pool.backend_info()
        details = dict(inner.details, pool_size=str(self.pool.size), pool_side=self.side)
        return BackendInfo(inner.name, inner.is_security_boundary, details)
