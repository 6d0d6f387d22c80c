"""What every backend shares: talking to the warm worker, replacing it when it dies, cleanup.

A backend only says how to launch the worker (``_launch``) and how to tear that launch down
(``_terminate``); this class owns the request loop, restarts and the atexit safety net.
"""

from __future__ import annotations

import abc
import atexit
import contextlib
import functools
import itertools
import os
import signal
import threading
import time
import weakref
from collections.abc import Sequence
from dataclasses import asdict, fields
from typing import Any

from codearc_env.errors import SandboxError
from codearc_env.sandbox import codec
from codearc_env.sandbox.base import BackendInfo, CallResult, Invocation, Isolation, Limits, Sandbox
from codearc_env.sandbox.channel import (
    Channel,
    ChannelClosed,
    ChannelTimeout,
    decode,
    json_string,
    to_json,
)
from codearc_env.sandbox.wire import DONE_BODY

START_TIMEOUT_S = 30.0
"""How long a fresh worker may take to answer its first ping (container start included)."""
REPLY_SLACK_S = 10.0
"""Beyond a call's own limits, how long the harness waits before declaring the worker hung."""
MAX_RESTARTS_PER_RUN = 8
"""After this many worker restarts in one run, the calls left are not run (see run)."""
MAX_KILLS_PER_RUN = 3
"""After this many calls of one run killed their worker, the rest are not run: each would
cost two sandbox starts, and the verdict on such code is already a failure."""

KILLED = "SandboxKilled"
"""The error type of a call that killed (or hung) its sandbox's worker twice in a row."""
KILLED_WHY = "the call killed its sandbox, and killed a fresh sandbox again"

_LIVE: weakref.WeakSet[WorkerSandbox] = weakref.WeakSet()


def _close_all() -> None:
    for box in list(_LIVE):
        with contextlib.suppress(Exception):  # best effort at interpreter exit
            box.close()


atexit.register(_close_all)


def _on_sigterm(signum: int, frame: object) -> None:
    _close_all()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)  # die of the signal as we would have without this handler


def _install_sigterm_handler() -> None:
    """Clean up on SIGTERM too (atexit does not run then), unless the program handles it."""
    if threading.current_thread() is not threading.main_thread():
        return
    with contextlib.suppress(ValueError, OSError):
        if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _on_sigterm)


def encode_invocation(inv: Invocation) -> dict[str, Any]:
    """The invocation as a request carries it. The tree is the caller's to read, never to
    change: arguments seen again (the same tuple objects: a query text parsed before, see
    codearc_env.functions.calls.parse_calls) get the tree made the first time."""
    if inv.expression is not None:
        return {"args": [], "kwargs": [], "expression": inv.expression}
    args, kwargs = inv.args, inv.kwargs
    kept = _ENCODED.get(id(args))
    if kept is not None and kept[0] is args and kept[1] is kwargs:
        return kept[2]
    encoded = {
        "args": [codec.encode(a) for a in args],
        "kwargs": [[k, codec.encode(v)] for k, v in kwargs],
        "expression": None,
    }
    if _small_and_immutable((args, kwargs), [MAX_KEPT_LEAVES]):
        # The entry holds the tuples, so their ids name no other object while it is kept;
        # and nothing in them can change, so neither can their encoding.
        if len(_ENCODED) >= MAX_ENCODED_KEPT:
            _ENCODED.clear()
        _ENCODED[id(args)] = (args, kwargs, encoded)
    return encoded


MAX_ENCODED_KEPT = 1024
MAX_KEPT_LEAVES = 32
MAX_KEPT_CHARS = 256
_ENCODED: dict[int, tuple[tuple[Any, ...], tuple[tuple[str, Any], ...], dict[str, Any]]] = {}
_LEAVES = (int, bool, float, complex, type(None))


def _small_and_immutable(value: Any, budget: list[int]) -> bool:
    """Whether ``value`` is built of tuples, frozensets, numbers, None and short strings only
    (exact types: a subclass may change), with at most ``budget[0]`` leaves."""
    budget[0] -= 1
    if budget[0] < 0:
        return False
    t = type(value)
    if t in _LEAVES:
        return True
    if t is str or t is bytes:
        return len(value) <= MAX_KEPT_CHARS
    if t is tuple or t is frozenset:
        return all(_small_and_immutable(v, budget) for v in value)
    return False


_RESULT_FIELDS = {f.name for f in fields(CallResult)}


def to_call_result(reply: dict[str, Any]) -> CallResult:
    if reply.keys() <= _RESULT_FIELDS and reply.get("ok") is True:
        return CallResult(**reply)  # a value, as the worker sends it: nothing to leave out
    kwargs = {k: v for k, v in reply.items() if k in _RESULT_FIELDS}
    kwargs["ok"] = reply.get("ok") is True
    return CallResult(**kwargs)


_TOKENS_LOCK = threading.Lock()
_TOKEN_BY_ID: dict[int, tuple[Limits, int]] = {}
_TOKEN_BY_VALUE: dict[Limits, int] = {}
_NEXT_TOKEN = itertools.count()
_LIMITS_JSON: dict[int, str] = {}
MAX_LIMITS_KEPT = 256


def limits_token(limits: Limits) -> int:
    """A number naming ``limits`` by value (equal Limits, one number), found by identity.

    A Limits hashes all its fields on every use, and a query's keys holding one were hashed
    about seven times; a key holding this number hashes at once. A number is never given to
    other limits, even once forgotten (past MAX_LIMITS_KEPT values or objects): then the same
    limits get a new one, and at worst a warm-up is not skipped."""
    entry = _TOKEN_BY_ID.get(id(limits))
    if entry is not None and entry[0] is limits:  # the entry holds it: its id is not reused
        return entry[1]
    with _TOKENS_LOCK:
        if len(_TOKEN_BY_ID) >= MAX_LIMITS_KEPT:
            _TOKEN_BY_ID.clear()
        if len(_TOKEN_BY_VALUE) >= MAX_LIMITS_KEPT:
            _TOKEN_BY_VALUE.clear()
            _LIMITS_JSON.clear()
        token = _TOKEN_BY_VALUE.get(limits)
        if token is None:
            token = _TOKEN_BY_VALUE[limits] = next(_NEXT_TOKEN)
            _LIMITS_JSON[token] = to_json(asdict(limits))
        _TOKEN_BY_ID[id(limits)] = (limits, token)
        return token


RECENT_RESIDENTS = 16
"""Resident processes a worker keeps, least recently used out (worker_resident.RESIDENT_CHILDREN)."""


class RecentResidents:
    """What a worker ran resident lately, most recent last, as many as it keeps resident
    processes for: a warm-up of one of these would cost a request for nothing."""

    def __init__(self) -> None:
        # A plain dict keeps insertion order: re-inserting a key makes it the most recent.
        # Each use hashes its key twice (pop, insert), and a key holds a Limits, whose hash
        # is computed afresh each time.
        self._keys: dict[tuple[object, ...], bool] = {}
        self._lock = threading.Lock()

    def use(self, key: tuple[object, ...]) -> bool:
        """Note a resident use of ``key``; whether it was among the recent ones."""
        with self._lock:
            known = self._keys.pop(key, False)
            self._keys[key] = True
            if len(self._keys) > RECENT_RESIDENTS:  # one key added: at most one too many
                del self._keys[next(iter(self._keys))]
            return known

    def clear(self) -> None:
        with self._lock:
            self._keys.clear()


def _reply_wait(limits: Limits) -> float:
    """How long the harness waits for each reply of a request: the call's time limit, the
    worker's own grace (3 s), then ours."""
    return limits.timeout_s + 3.0 + REPLY_SLACK_S


def _limits_json(limits: Limits) -> str:
    """``asdict(limits)`` as JSON, made once per distinct (frozen) Limits rather than on
    every request: ``asdict`` deep-copies every field, and the floats are slow to encode."""
    text = _LIMITS_JSON.get(limits_token(limits))
    return to_json(asdict(limits)) if text is None else text  # None: forgotten meanwhile


@functools.lru_cache(maxsize=64)
def _source_json(source: str) -> str:
    """A module source as JSON, made once per source (an episode sends the same one on
    every query)."""
    return json_string(source)


def run_request(
    rid: int, source: str, function: str, invocations: list[dict[str, Any]], limits: Limits,
    isolation: Isolation,
) -> str:
    """The JSON text of a run request: what ``to_json`` makes of the request's dict (the same
    keys in the same order), with the parts that repeat from one request to the next made
    once (the request id is an int, whose JSON is its str())."""
    return (
        f'{{"op":"run","id":{int(rid)},"source":{_source_json(source)},'
        f'"function":{json_string(function)},"invocations":{to_json(invocations)},'
        f'"limits":{_limits_json(limits)},"isolation":{json_string(isolation)}}}'
    )


class WorkerSandbox(Sandbox):
    """A Sandbox driven through the frame protocol of :mod:`codearc_env.sandbox.worker`."""

    def __init__(self, limits: Limits | None = None) -> None:
        super().__init__(limits)
        self._channel: Channel | None = None
        self._lock = threading.RLock()
        self._recent = RecentResidents()
        self._request_id = 0
        self._hello: dict[str, Any] = {}
        self.restarts = 0
        self.infra_replacements = 0
        """Workers replaced because they reported they could not go on (not a call's fault)."""
        self.start_time_s: float | None = None
        """Seconds the last (re)start took, from launch to the worker's first reply."""
        self.generation = 0
        """Workers started so far: a new one has none of the old one's resident processes."""

    # -- backend hooks

    @abc.abstractmethod
    def _launch(self) -> Channel:
        """Start a worker and return a channel to it."""

    @abc.abstractmethod
    def _terminate(self) -> None:
        """Stop the worker started by the last _launch and remove what it created."""

    def _describe(self) -> dict[str, str]:
        return {}

    def _diagnostics(self) -> str:
        """Extra text for error messages (for example the container's stderr)."""
        return ""

    # -- lifecycle

    def start(self) -> None:
        with self._lock:
            if self._channel is not None:
                return
            began = time.monotonic()
            try:
                channel = self._launch()
            except SandboxError:
                self._terminate()
                raise
            try:
                channel.send({"op": "ping"})
                hello = channel.recv(time.monotonic() + START_TIMEOUT_S)
            except (ChannelClosed, ChannelTimeout) as exc:
                detail = self._diagnostics()
                channel.close()
                self._terminate()
                raise SandboxError(
                    f"the {self.name} sandbox worker did not start: {exc}"
                    + (f" ({detail})" if detail else "")
                ) from exc
            if hello.get("op") != "pong":
                channel.close()
                self._terminate()
                raise SandboxError(f"the {self.name} sandbox worker sent {hello!r} instead of pong")
            self._hello = hello
            self._channel = channel
            self.start_time_s = time.monotonic() - began
            self.generation += 1
            _LIVE.add(self)
            _install_sigterm_handler()

    def close(self) -> None:
        with self._lock:
            self._recent.clear()  # its resident processes end with the worker
            channel, self._channel = self._channel, None
            if channel is not None:
                with contextlib.suppress(ChannelClosed):
                    channel.send({"op": "exit"})
                channel.close()
            self._terminate()
            _LIVE.discard(self)

    def _restart(self) -> None:
        self.restarts += 1
        self.close()
        self.start()

    def info(self) -> BackendInfo:
        details = {k: str(v) for k, v in self._hello.items() if k != "op"}
        details.update(self._describe())
        return BackendInfo(self.name, self.is_security_boundary, details)

    is_security_boundary = True

    # -- calls

    def _run_calls(
        self, source: str, function: str, invocations: Sequence[Invocation], limits: Limits,
        isolation: Isolation,
    ) -> list[CallResult]:
        encoded = [encode_invocation(inv) for inv in invocations]
        results: list[CallResult | None] = [None] * len(encoded)
        per_call = _reply_wait(limits)
        if isolation == "resident":
            self._recent.use((source, function, limits_token(limits)))
        with self._lock:
            self.start()
            todo = list(range(len(encoded)))
            restarts = kills = 0
            while todo:
                replaced = self.infra_replacements
                done, lost = self._run_batch(
                    source, function, encoded, todo, limits, per_call, results, isolation
                )
                todo = todo[done:]
                if lost is None:  # finished, or the worker asked to be replaced between calls
                    if self.infra_replacements != replaced:
                        restarts += 1
                        if todo and restarts >= MAX_RESTARTS_PER_RUN:
                            # Only code that undoes its own scratch (possible on `process`)
                            # gets here this often: it must not cost a worker per call.
                            self._not_run(results, todo, f"left its sandbox unusable {restarts}")
                            todo = []
                    continue
                # The worker was lost during todo[0]: run that call again, alone, on a fresh
                # worker. Lost again, the call is what killed it; else the loss was ours.
                index, todo = todo[0], todo[1:]
                restarts += 1
                self._restart()  # SandboxError here: the sandbox cannot come back
                again: list[CallResult | None] = [None]
                self._run_batch(
                    source, function, [encoded[index]], [0], limits, per_call, again, isolation
                )
                if again[0] is not None:
                    results[index] = again[0]
                    continue
                restarts += 1
                self._restart()
                kills += 1
                results[index] = CallResult(ok=False, error_type=KILLED, error_message=KILLED_WHY)
                if todo and (kills >= MAX_KILLS_PER_RUN or restarts >= MAX_RESTARTS_PER_RUN):
                    # Code that keeps killing its worker must not hold the harness hostage.
                    self._not_run(results, todo, f"killed its sandbox {kills}")
                    todo = []
        return [r for r in results if r is not None]

    def warm(self, source: str, function: str, limits: Limits | None = None) -> None:
        """Start the resident process of ``function`` now: a resident run with no invocation.
        A sandbox not started yet stays so (warming must not start sandboxes), and one that
        ran the function resident lately is left as it is."""
        limits = limits or self.limits
        with self._lock:
            if self._channel is None or self._recent.use((source, function, limits_token(limits))):
                return
            per_call = _reply_wait(limits)
            # Best effort: a worker that cannot come back fails the next real call instead.
            with contextlib.suppress(SandboxError):
                self._run_batch(source, function, [], [], limits, per_call, [], "resident")

    @staticmethod
    def _not_run(results: list[CallResult | None], todo: list[int], what: str) -> None:
        message = f"not run: this code {what} times in this run"
        for i in todo:
            results[i] = CallResult(ok=False, error_type=KILLED, error_message=message)

    def _run_batch(
        self,
        source: str,
        function: str,
        encoded: list[dict[str, Any]],
        todo: list[int],
        limits: Limits,
        per_call: float,
        results: list[CallResult | None],
        isolation: Isolation = "call",
    ) -> tuple[int, str | None]:
        """Send todo as one request and fill results.

        Returns how many results arrived, and, when the worker was lost while it ran the
        next one (it died, hung or broke the protocol), why. A worker that reports it cannot
        go on (its scratch directory is unusable) is replaced here; its results stand.
        """
        if self._channel is None:
            raise SandboxError(f"the {self.name} sandbox is not started")
        self._request_id += 1
        rid = self._request_id
        done = 0
        try:
            self._channel.send_json(
                run_request(rid, source, function, [encoded[i] for i in todo], limits, isolation)
            )
            done_frame = DONE_BODY % rid  # as the worker writes it
            while True:
                body = self._channel.recv_frame(time.monotonic() + per_call)
                if done == len(todo) and body == done_frame:
                    op = "done"
                    break
                reply = decode(body)
                op = reply.get("op")
                if op == "broken" and reply.get("id") == rid:
                    self.infra_replacements += 1
                    self._restart()
                    return done, None
                if done == len(todo):
                    break
                if op != "result" or reply.get("id") != rid or reply.get("i") != done:
                    raise ChannelClosed(f"unexpected reply {str(reply)[:200]}")
                results[todo[done]] = to_call_result(reply["r"])
                done += 1
            if op != "done":
                raise ChannelClosed(f"unexpected reply {str(reply)[:200]}")
            return done, None
        except (ChannelClosed, ChannelTimeout, TypeError, KeyError) as exc:
            detail = self._diagnostics()
            if done == len(todo):  # every result arrived; only the end marker was lost
                self._restart()
                return done, None
            return done, f"{exc}" + (f" ({detail})" if detail else "")
