"""Turn recorded episodes into fine-tuning data: OpenAI chat JSONL or TRL conversations.

One output line per finished episode: the conversation as the model saw it, minus privileged
messages (a teacher's view of the hidden function), and minus anything after the model's last
reply, which a trainer could not learn from.

- ``openai``: ``{"messages": [...], "tools": [...]}`` as OpenAI chat fine-tuning reads it;
  tool-call arguments stay JSON strings, exactly as the model wrote them.
- ``trl``: the conversational format with tools that TRL's SFT trainer reads; tool-call
  arguments are objects (normalised to ``{"calls": ...}`` / ``{"code": ...}``), tool replies
  carry the tool's name.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from codearc_env import trace as tr
from codearc_env.agents.parsing import ParsedAction, parse_tool_call
from codearc_env.agents.react import TOOLS

from codearc_env.errors import CodeARCError

Format = Literal["openai", "trl"]
FORMATS: tuple[Format, ...] = ("openai", "trl")


@dataclass(frozen=True)
class Episode:
    """The events of one finished episode."""

    start: tr.EpisodeStart
    end: tr.EpisodeEnd
    events: tuple[tr.Event, ...]

    @property
    def status(self) -> str:
        return self.end.status


def trace_files(path: str | os.PathLike[str]) -> list[Path]:
    """Trace files under ``path``: a file, a folder of ``*.jsonl``, or a run folder."""
    p = Path(path)
    if p.is_file():
        return [p]
    if not p.is_dir():
        raise CodeARCError(f"no traces at {p}: not a file or a folder")
    folder = p / "traces" if (p / "traces").is_dir() else p
    files = sorted(f for f in folder.glob("*.jsonl") if f.name != "results.jsonl")
    if not files:
        raise CodeARCError(f"no trace files (*.jsonl) in {folder}")
    return files


def episodes(paths: Iterable[Path]) -> Iterator[Episode]:
    """Finished episodes (those with an EpisodeEnd), in file order."""
    for path in paths:
        for events in tr.split_episodes(tr.iter_trace(path)):
            start, end = events[0], events[-1]
            if isinstance(start, tr.EpisodeStart) and isinstance(end, tr.EpisodeEnd):
                yield Episode(start, end, tuple(events))


def _messages(ep: Episode) -> list[tr.ModelMessage]:
    msgs = [e for e in ep.events if isinstance(e, tr.ModelMessage) and not e.privileged]
    while msgs and msgs[-1].role != "assistant":
        msgs.pop()
    return msgs


def _trl_arguments(name: str, arguments: str) -> dict[str, Any]:
    action = parse_tool_call(name, arguments)
    if isinstance(action, ParsedAction):
        return {"calls": action.text} if action.kind == "query" else {"code": action.text}
    return {"raw": arguments}


def to_record(ep: Episode, fmt: Format) -> dict[str, Any] | None:
    """One training example, or None when the episode has no model reply to learn from."""
    msgs = _messages(ep)
    if not msgs:
        return None
    out: list[dict[str, Any]] = []
    uses_tools = False
    for m in msgs:
        row: dict[str, Any] = {"role": m.role, "content": m.content}
        if m.tool_calls:
            uses_tools = True
            row["tool_calls"] = [
                {
                    "id": tc.id,
                    "type": "function",
                    "function": {
                        "name": tc.name,
                        "arguments": tc.arguments
                        if fmt == "openai"
                        else _trl_arguments(tc.name, tc.arguments),
                    },
                }
                for tc in m.tool_calls
            ]
            if fmt == "openai" and not m.content:
                row["content"] = None
        if m.role == "tool":
            uses_tools = True
            row["tool_call_id"] = m.tool_call_id
            if fmt == "trl":
                row["name"] = m.name
        out.append(row)
    record: dict[str, Any] = {"messages": out}
    if uses_tools:
        record["tools"] = [dict(t) for t in TOOLS]
    return record


@dataclass(frozen=True)
class ExportStats:
    episodes: int
    written: int
    skipped_unsuccessful: int
    skipped_empty: int


def export(
    source: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    fmt: Format,
    *,
    only_successful: bool = False,
    statuses: tuple[str, ...] | None = None,
) -> ExportStats:
    """Write one JSON line per episode of ``source`` to ``out_path`` (replaced).

    By default graded episodes (success and failure) are written; ``only_successful`` keeps
    successes only; ``statuses`` picks any set of statuses.
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if only_successful:
        statuses = ("success",)
    elif statuses is None:  # API/infra failures are not the agent's behaviour: leave them out
        statuses = ("success", "failure")
    n = written = unsuccessful = empty = 0
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        for ep in episodes(trace_files(source)):
            n += 1
            if statuses is not None and ep.status not in statuses:
                unsuccessful += 1
                continue
            record = to_record(ep, fmt)
            if record is None:
                empty += 1
                continue
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            written += 1
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, out)
    return ExportStats(n, written, unsuccessful, empty)
