"""Typed, versioned trace events and a JSON Lines writer/reader.

A trace is one JSON object per line, each with ``"type"`` (the event's name: its class name,
except :class:`VerdictEvent`, written as ``"Verdict"``) and ``"v"`` (the schema version). The writer flushes after every event, so a crash loses at
most the line being written, and fsyncs when an episode ends. The reader skips a torn
last line (what a SIGKILL mid-write leaves) but rejects corruption anywhere else.

Events of one episode, in order::

    EpisodeStart, then any of ModelMessage / ToolCall / Observation / Verdict / Error,
    then EpisodeEnd (missing when the process died mid-episode).

``ModelMessage`` records every message of the conversation (system, user, assistant, tool),
so a trace alone is enough to rebuild what the model saw and said for fine-tuning export.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, ClassVar, Literal

from codearc_env.config import DEFAULT_CONFIG
from codearc_env.errors import CodeARCError

SCHEMA_VERSION = 1
"""Bumped on any change that an old reader would misread (renamed or retyped fields)."""

Role = Literal["system", "user", "assistant", "tool"]
EpisodeStatus = Literal["success", "failure", "agent_error", "api_error", "infra_error"]
ErrorKind = Literal["api", "infra", "agent", "context_overflow", "internal"]


class TraceError(CodeARCError):
    """A trace file is corrupt, or was written by a newer schema than this reader knows."""


def _now() -> float:
    return time.time()


@dataclass(frozen=True)
class ToolCallRequest:
    """One tool call as the model emitted it; ``arguments`` is the raw JSON text, unparsed."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class Event:
    """Base of every trace event."""

    type: ClassVar[str] = "Event"
    episode_id: str
    t: float = field(default_factory=_now, kw_only=True)
    """Unix time when the event was created."""


@dataclass(frozen=True)
class EpisodeStart(Event):
    type: ClassVar[str] = "EpisodeStart"
    problem_id: str
    variant: str = ""
    source: str = ""
    target: str = ""
    """Name of the hidden function (the only thing about it the agent is told)."""
    agent: str = ""
    model: str = ""
    b_io: int = DEFAULT_CONFIG.b_io
    b_oracle: int = DEFAULT_CONFIG.b_oracle
    attempt: int = 1
    """1 for a first try; higher when the runner retries after an API or infra failure."""
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelMessage(Event):
    """A message of the conversation: a prompt we sent or a reply the model gave."""

    type: ClassVar[str] = "ModelMessage"
    role: Role
    content: str
    """The raw text, exactly as sent or received (assistant: may be empty with tool calls)."""
    tool_calls: tuple[ToolCallRequest, ...] = ()
    tool_call_id: str | None = None
    """For ``role="tool"``: the id of the call this message answers."""
    name: str | None = None
    """For ``role="tool"``: the tool's name."""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    duration_s: float = 0.0
    privileged: bool = False
    """Shows the hidden function (a teacher's prefix): dropped from student exports."""


@dataclass(frozen=True)
class ToolCall(Event):
    """An action sent to the environment."""

    type: ClassVar[str] = "ToolCall"
    kind: Literal["query", "submit"]
    text: str
    call_id: str | None = None
    step: int = 0


@dataclass(frozen=True)
class Observation(Event):
    """What the environment returned for an action."""

    type: ClassVar[str] = "Observation"
    text: str
    reward: float = 0.0
    terminated: bool = False
    truncated: bool = False
    step: int = 0
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class VerdictEvent(Event):
    """The record of the oracle's verdict on a submission (the verdict itself is
    :class:`codearc_env.oracle.verdict.Verdict`)."""

    type: ClassVar[str] = "Verdict"
    """The name in trace files, as it always was: traces written before and after the class
    got its name read alike."""
    passed: bool
    reason: str = ""
    counterexample: dict[str, Any] | None = None
    n_inputs: int = 0
    duration_s: float = 0.0
    final: bool = False
    """True when this verdict ended the episode."""


@dataclass(frozen=True)
class Error(Event):
    """Something went wrong: an API failure, a harness failure, or an unusable agent reply."""

    type: ClassVar[str] = "Error"
    kind: ErrorKind
    message: str
    exc_type: str = ""
    retryable: bool = False


@dataclass(frozen=True, kw_only=True)
class EpisodeOutcome:
    """How an episode ended. The one definition shared by the trace's EpisodeEnd event and a
    run's result line (``codearc_env.agents.results.EpisodeResult``)."""

    status: EpisodeStatus
    reward: float = 0.0
    n_io: int = 0
    """Input/output pairs used, counting the initial examples."""
    n_oracle: int = 0
    paper_io: int = 0
    """#I/O by the paper's convention: ``b_io`` when failed, else the extra queries used."""
    paper_oracle: int = 0
    """#Oracle by the paper's convention: ``b_oracle`` when failed, else the oracle calls
    used."""
    turns: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    duration_s: float = 0.0
    message: str = ""


def outcome_fields(outcome: EpisodeOutcome) -> dict[str, Any]:
    """The outcome part of an EpisodeEnd or a result, as keyword arguments."""
    return {f.name: getattr(outcome, f.name) for f in dataclasses.fields(EpisodeOutcome)}


@dataclass(frozen=True)
class EpisodeEnd(Event, EpisodeOutcome):
    type: ClassVar[str] = "EpisodeEnd"


EVENT_TYPES: dict[str, type[Event]] = {
    cls.type: cls
    for cls in (EpisodeStart, ModelMessage, ToolCall, Observation, VerdictEvent, Error, EpisodeEnd)
}


def jsonable(value: Any) -> Any:
    """Turn ``value`` into plain JSON data: dataclasses become dicts, tuples lists, the rest repr.

    Non-finite floats become strings, so every line is strict JSON that any loader reads.
    """
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return jsonable(value.item())
    return repr(value)


def json_line(data: Any) -> str:
    """``data`` as one line of strict JSON that UTF-8 can always hold.

    Text is written as it is, except when it holds something UTF-8 cannot encode (a lone
    surrogate, as a decoded byte string can carry): then the line is written with ``\\u``
    escapes, which JSON readers turn back into the very same string.
    """
    line = json.dumps(data, ensure_ascii=False, allow_nan=False)
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        line = json.dumps(data, ensure_ascii=True, allow_nan=False)
    return line


def event_to_dict(event: Event) -> dict[str, Any]:
    out: dict[str, Any] = {"type": event.type, "v": SCHEMA_VERSION}
    for f in dataclasses.fields(event):
        out[f.name] = jsonable(getattr(event, f.name))
    return out


def event_from_dict(data: Mapping[str, Any]) -> Event:
    """Rebuild an event; unknown extra keys are ignored so additive changes stay readable."""
    kind = data.get("type")
    cls = EVENT_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise TraceError(f"unknown trace event type: {kind!r}")
    version = data.get("v")
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise TraceError(
            f"trace schema version {version!r} is not supported (this reader knows up to "
            f"{SCHEMA_VERSION})"
        )
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs = {k: v for k, v in data.items() if k in names}
    if cls is ModelMessage:
        kwargs["tool_calls"] = tuple(ToolCallRequest(**tc) for tc in kwargs.get("tool_calls") or ())
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise TraceError(f"bad {kind} event: {exc}") from None


class TraceWriter(contextlib.AbstractContextManager["TraceWriter"]):
    """Append events to a JSON Lines file: flush per event, fsync at episode end and close.

    Thread-safe. ``mode="w"`` starts the file afresh (a retried episode replaces its
    partial trace); ``mode="a"`` appends. As a context manager it closes on exit.
    """

    def __init__(self, path: str | os.PathLike[str], mode: Literal["a", "w"] = "a") -> None:
        if mode not in ("a", "w"):
            raise ValueError(f"mode must be 'a' or 'w', not {mode!r}")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._file: IO[str] | None = open(self.path, mode, encoding="utf-8")  # noqa: SIM115

    def write(self, event: Event) -> None:
        line = json_line(event_to_dict(event))
        with self._lock:
            if self._file is None:
                raise TraceError(f"trace writer for {self.path} is closed")
            self._file.write(line + "\n")
            self._file.flush()
            if isinstance(event, EpisodeEnd):
                os.fsync(self._file.fileno())

    def close(self) -> None:
        """Flush, fsync and close (idempotent)."""
        with self._lock:
            if self._file is None:
                return
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._file = None

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def read_trace(path: str | os.PathLike[str]) -> list[Event]:
    """All events of a trace file. A torn final line is skipped; other bad lines raise."""
    return list(iter_trace(path))


def iter_trace(path: str | os.PathLike[str]) -> Iterator[Event]:
    with open(path, encoding="utf-8") as fh:
        lines = fh.read().split("\n")
    # The text after the last newline is either empty or a line torn by a crash.
    complete, tail = lines[:-1], lines[-1]
    for lineno, line in enumerate(complete, 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise TraceError(f"{path}:{lineno}: not JSON ({exc.msg})") from None
        if not isinstance(data, dict):
            raise TraceError(f"{path}:{lineno}: expected a JSON object")
        try:
            yield event_from_dict(data)
        except TraceError as exc:
            raise TraceError(f"{path}:{lineno}: {exc}") from None
    del tail


def split_episodes(events: Iterable[Event]) -> list[list[Event]]:
    """Group events into episodes, each starting at an EpisodeStart (stray events dropped)."""
    episodes: list[list[Event]] = []
    for event in events:
        if isinstance(event, EpisodeStart):
            episodes.append([event])
        elif episodes and event.episode_id == episodes[-1][0].episode_id:
            episodes[-1].append(event)
    return episodes
