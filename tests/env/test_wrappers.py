"""RecordEpisode writes the agents' trace format, one flushed event per line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from codearc_env.config import EnvConfig
from codearc_env.errors import SandboxError
from codearc_env.testing import TOY_SOLUTIONS, make_toy_env
from codearc_env.trace import (
    EpisodeEnd,
    EpisodeStart,
    Error,
    Observation,
    ToolCall,
    TraceWriter,
    VerdictEvent,
    read_trace,
)
from codearc_env.wrappers import RecordEpisode, env_settings, settings_digest

ADD = "builtin/annotated/add"


def _ids() -> Any:
    counter = iter(range(100))
    return lambda: f"ep{next(counter)}"


def test_records_a_full_episode(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    env = RecordEpisode(make_toy_env(), path, agent="scripted", model="none",
                        new_episode_id=_ids())
    env.reset(seed=3, options={"problem": ADD})
    env.step({"kind": 0, "text": "add(2, 2)"})
    # flushed per step: readable before the episode ends
    assert [type(e) for e in read_trace(path)] == [EpisodeStart, Observation, ToolCall, Observation]
    env.step({"kind": 1, "text": "def add(a, b):\n    return 0"})
    env.step({"kind": 1, "text": TOY_SOLUTIONS[ADD]})
    env.close()
    events = read_trace(path)
    assert [e.type for e in events] == [
        "EpisodeStart", "Observation",
        "ToolCall", "Observation",
        "ToolCall", "Observation", "Verdict",
        "ToolCall", "Observation", "Verdict",
        "EpisodeEnd",
    ]
    start, end = events[0], events[-1]
    assert isinstance(start, EpisodeStart) and isinstance(end, EpisodeEnd)
    assert (start.episode_id, start.problem_id, start.target, start.agent, start.b_io) == (
        "ep0", ADD, "add", "scripted", 30)
    assert start.meta["seed"] == 3
    assert events[2] == ToolCall("ep0", kind="query", text="add(2, 2)", step=1, t=events[2].t)
    assert events[3].text == "add(2, 2) -> 4\nQueries left: 19."
    first, last = events[6], events[9]
    assert isinstance(first, VerdictEvent) and not first.passed and not first.final
    assert first.counterexample["call_text"] == "add(0, -3)"
    assert isinstance(last, VerdictEvent) and last.passed and last.final
    assert (end.status, end.reward, end.n_io, end.n_oracle, end.paper_io, end.paper_oracle,
            end.turns) == ("success", 1.0, 11, 2, 1, 2, 3)


def test_malformed_actions_are_recorded_readably(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    env = RecordEpisode(make_toy_env(), path, new_episode_id=_ids())
    env.reset(seed=0, options={"problem": ADD})
    env.step({"kind": 0, "text": b"\xff"})
    env.step({"kind": "x", "text": "ok\udcff"})
    env.step(None)
    env.close()
    calls = [e for e in read_trace(path) if isinstance(e, ToolCall)]
    assert [(c.kind, c.text) for c in calls] == [
        ("query", "b'\\xff'"), ("query", "ok\udcff"), ("query", "None")]
    end = read_trace(path)[-1]
    assert isinstance(end, EpisodeEnd) and end.message == "closed before the episode ended"


def test_reset_mid_episode_ends_the_old_one(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    with TraceWriter(path) as writer:
        env = RecordEpisode(make_toy_env(), writer, new_episode_id=_ids())
        env.reset(seed=0)
        env.reset(seed=1)
        env.close()
        env.close()
    ends = [e for e in read_trace(path) if isinstance(e, EpisodeEnd)]
    assert [(e.episode_id, e.status, e.message) for e in ends] == [
        ("ep0", "failure", "reset before the episode ended"),
        ("ep1", "failure", "closed before the episode ended"),
    ]


def test_infra_error_is_recorded_and_raised(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    env = RecordEpisode(make_toy_env(), path, new_episode_id=_ids())
    env.reset(seed=0, options={"problem": ADD})
    env.unwrapped._reference.fail_with = "worker died"
    with pytest.raises(SandboxError):
        env.step({"kind": 0, "text": "add(1, 1)"})
    env.close()
    events = read_trace(path)
    assert isinstance(events[-2], Error) and events[-2].kind == "infra"
    assert isinstance(events[-1], EpisodeEnd) and events[-1].status == "infra_error"


def test_truncating_infra_error_ends_with_infra_status(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    env = RecordEpisode(make_toy_env(on_infra_error="truncate"), path, new_episode_id=_ids())
    env.reset(seed=0, options={"problem": ADD})
    env.unwrapped._reference.fail_with = "worker died"
    env.step({"kind": 0, "text": "add(1, 1)"})
    env.close()
    end = read_trace(path)[-1]
    assert isinstance(end, EpisodeEnd) and end.status == "infra_error"


def test_verdict_events_keep_the_oracles_duration(tmp_path: Path) -> None:
    import dataclasses

    from codearc_env.testing import TableOracle

    class Timed(TableOracle):
        def check(self, fn: Any, candidate_source: str, extra_inputs: Any = ()) -> Any:
            return dataclasses.replace(super().check(fn, candidate_source, extra_inputs),
                                       duration_s=0.25)

    base = make_toy_env()
    base._oracle = Timed(base._oracle.accepted)
    path = tmp_path / "t.jsonl"
    env = RecordEpisode(base, path)
    env.reset(options={"problem": ADD})
    env.step({"kind": 1, "text": TOY_SOLUTIONS[ADD]})
    env.close()
    (verdict,) = [e for e in read_trace(path) if isinstance(e, VerdictEvent)]
    assert verdict.duration_s == 0.25


def test_env_settings_and_digest_are_those_recorded_before_env_config() -> None:
    # The digest a trace of the default setting carried while the settings were separate
    # attributes of the env: traces stay comparable across that change.
    env = make_toy_env()
    settings = env_settings(env)
    assert settings == {
        "variant": "annotated", "b_io": 30, "b_oracle": 2, "max_turns": 50, "oracle_seed": 0,
        "oracle_strength": "default",
    }
    assert settings_digest(settings) == "c340de57c5e628d2"
    # An environment without an EnvConfig has no settings to record.
    assert set(env_settings(object()).values()) == {None}
    changed = env_settings(make_toy_env(config=EnvConfig(b_io=12), oracle_seed=3))
    assert (changed["b_io"], changed["oracle_seed"]) == (12, 3)
