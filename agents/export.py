"""Turn recorded episodes into fine-tuning data: OpenAI chat JSONL or TRL conversations.

One output line per finished episode: the conversation as the model saw it, minus privileged
messages (a teacher's view of the hidden function), and minus anything after the model's last
reply, which a trainer could not learn from.

- ``openai``: ``{"messages": [...], "tools": [...]}`` as OpenAI chat fine-tuning reads it;
  tool-call arguments stay JSON strings, exactly as the model wrote them.
- ``trl``: the conversational format with tools that TRL's SFT trainer reads; tool-call
  arguments are the objects the model wrote (text that is no JSON object: ``{"raw": ...}``),
  tool replies carry the tool's name.

Every record also holds ``metadata``: problem id, variant, source, status, reward, #I/O,
#oracle, model, sample and the run's settings hash. Submitted code is byte-exact in both
formats. Traces written by ``RecordEpisode`` (no model messages) export as the tool-calling
conversation of their actions and observations.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from codearc_env import trace as tr
from codearc_env.agents.results import GRADED
from codearc_env.agents.vocabulary import TOOLS
from codearc_env.errors import CodeARCError

Format = Literal["openai", "trl"]
FORMATS: tuple[Format, ...] = ("openai", "trl")


@dataclass(frozen=True)
class RecordedEpisode:
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


def episodes(paths: Iterable[Path]) -> Iterator[RecordedEpisode]:
    """Finished episodes (those with an EpisodeEnd), in file order."""
    for path in paths:
        for events in tr.split_episodes(tr.iter_trace(path)):
            start, end = events[0], events[-1]
            if isinstance(start, tr.EpisodeStart) and isinstance(end, tr.EpisodeEnd):
                yield RecordedEpisode(start, end, tuple(events))


def _conversation(ep: RecordedEpisode) -> list[tr.ModelMessage]:
    """The messages of an LLM agent's episode, or, for a trace without any (one recorded by
    ``RecordEpisode`` around any agent), the actions and observations as a tool-calling
    conversation: the first observation as the user's turn, each action as an assistant's
    tool call, each response as the tool's reply."""
    msgs = [e for e in ep.events if isinstance(e, tr.ModelMessage) and not e.privileged]
    if msgs or not any(isinstance(e, tr.ToolCall) for e in ep.events):
        return msgs
    out: list[tr.ModelMessage] = []
    pending: tr.ToolCall | None = None
    for e in ep.events:
        if isinstance(e, tr.Observation) and e.step == 0 and not out:
            out.append(tr.ModelMessage(ep.start.episode_id, role="user", content=e.text))
        elif isinstance(e, tr.ToolCall):
            key = "calls" if e.kind == "query" else "code"
            call = tr.ToolCallRequest(
                id=f"call_{e.step}",
                name=e.kind,
                arguments=json.dumps({key: e.text}, ensure_ascii=False),
            )
            out.append(
                tr.ModelMessage(
                    ep.start.episode_id, role="assistant", content="", tool_calls=(call,)
                )
            )
            pending = e
        elif isinstance(e, tr.Observation) and pending is not None:
            out.append(
                tr.ModelMessage(
                    ep.start.episode_id,
                    role="tool",
                    content=e.text,
                    tool_call_id=f"call_{pending.step}",
                    name=pending.kind,
                )
            )
            pending = None
    return out


def _messages(ep: RecordedEpisode) -> list[tr.ModelMessage]:
    msgs = _conversation(ep)
    while msgs and msgs[-1].role != "assistant":
        msgs.pop()
    return msgs


def _trl_arguments(arguments: str) -> dict[str, Any]:
    # The model's own object, value for value (a program keeps its last newline); text that
    # is not a JSON object is kept whole under "raw".
    try:
        data = json.loads(arguments)
    except json.JSONDecodeError:
        data = None
    return data if isinstance(data, dict) else {"raw": arguments}


def metadata(ep: RecordedEpisode) -> dict[str, Any]:
    """What a record says about its episode, to filter, weight or split a data set by."""
    start, end = ep.start, ep.end
    return {
        "problem_id": start.problem_id,
        "variant": start.variant,
        "source": start.source,
        "status": end.status,
        "reward": end.reward,
        "n_io": end.n_io,
        "n_oracle": end.n_oracle,
        "paper_io": end.paper_io,
        "paper_oracle": end.paper_oracle,
        "turns": end.turns,
        "model": start.model,
        "agent": start.agent,
        "sample": start.meta.get("sample", 0),
        "attempt": start.attempt,
        # Two digests, where the trace has them: the run's settings (codearc eval/collect)
        # and the environment's own settings (every recorder writes it).
        "run_settings_hash": start.meta.get("run_settings_hash"),
        "env_settings_digest": start.meta.get("env_settings_digest"),
        "episode_id": start.episode_id,
    }


def to_record(ep: RecordedEpisode, fmt: Format) -> dict[str, Any] | None:
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
                        else _trl_arguments(tc.arguments),
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
    record["metadata"] = metadata(ep)
    return record


@dataclass(frozen=True)
class ExportStats:
    episodes: int
    written: int
    skipped_unsuccessful: int
    """Graded episodes left out by the status filter (failures, with only_successful)."""
    skipped_errors: int
    """Episodes that ended in an API, infra or agent error: not the agent's behaviour."""
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
    n = written = unsuccessful = errors = empty = 0
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        for ep in episodes(trace_files(source)):
            n += 1
            if statuses is not None and ep.status not in statuses:
                if ep.status in GRADED:
                    unsuccessful += 1
                else:
                    errors += 1
                continue
            record = to_record(ep, fmt)
            if record is None:
                empty += 1
                continue
            fh.write(tr.json_line(record) + "\n")
            written += 1
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, out)
    return ExportStats(n, written, unsuccessful, errors, empty)
