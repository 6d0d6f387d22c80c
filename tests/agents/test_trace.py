"""Trace events: round trip, version checks, torn lines, flushing."""

from __future__ import annotations

import json

import pytest

from codearc_env import trace as tr


def _events() -> list[tr.Event]:
    return [
        tr.EpisodeStart(
            "e1", problem_id="annotated/3", variant="annotated", target="f", meta={"k": 1}
        ),
        tr.ModelMessage("e1", role="user", content="hello"),
        tr.ModelMessage(
            "e1",
            role="assistant",
            content="",
            tool_calls=(tr.ToolCallRequest("c1", "query", '{"calls": "f(1)"}'),),
            prompt_tokens=10,
            completion_tokens=3,
        ),
        tr.ToolCall("e1", kind="query", text="f(1)", call_id="c1", step=1),
        tr.Observation("e1", text="f(1) -> 2", info={"x": float("nan"), "t": (1, 2)}, step=1),
        tr.VerdictEvent("e1", passed=False, reason="mismatch", counterexample={"call_text": "f(0)"}),
        tr.Error("e1", kind="api", message="rate limited", retryable=True),
        tr.EpisodeEnd("e1", status="failure", paper_io=30, paper_oracle=2),
    ]


def test_round_trip(tmp_path):
    path = tmp_path / "t.jsonl"
    with tr.TraceWriter(path) as writer:
        for event in _events():
            writer.write(event)
    back = tr.read_trace(path)
    assert [type(e) for e in back] == [type(e) for e in _events()]
    assert back[2].tool_calls == (tr.ToolCallRequest("c1", "query", '{"calls": "f(1)"}'),)
    # non-finite floats and tuples become strict JSON
    assert back[4].info == {"x": "nan", "t": [1, 2]}
    for line in path.read_text().splitlines():
        data = json.loads(line)
        assert data["v"] == tr.SCHEMA_VERSION


def test_verdict_events_keep_their_name_in_trace_files(tmp_path):
    # Written before the class was named VerdictEvent (a line of such a trace, verbatim).
    old = (
        '{"type": "Verdict", "v": 1, "episode_id": "e1", "t": 1.5, "passed": true, '
        '"reason": "equivalent", "counterexample": null, "n_inputs": 40, "duration_s": 0.25, '
        '"final": true}'
    )
    path = tmp_path / "old.jsonl"
    path.write_text(old + "\n")
    (event,) = tr.read_trace(path)
    assert event == tr.VerdictEvent(
        "e1", t=1.5, passed=True, reason="equivalent", n_inputs=40, duration_s=0.25, final=True
    )
    assert tr.event_to_dict(event) == json.loads(old)


def test_flushes_each_event_before_close(tmp_path):
    path = tmp_path / "t.jsonl"
    writer = tr.TraceWriter(path)
    writer.write(_events()[0])
    assert len(tr.read_trace(path)) == 1
    writer.close()
    writer.close()  # idempotent
    with pytest.raises(tr.TraceError, match="is closed"):
        writer.write(_events()[1])


def test_torn_last_line_is_skipped_but_middle_corruption_raises(tmp_path):
    path = tmp_path / "t.jsonl"
    with tr.TraceWriter(path) as writer:
        writer.write(_events()[0])
    with open(path, "a") as fh:
        fh.write('{"type": "ModelMessage", "v": 1, "epis')
    assert len(tr.read_trace(path)) == 1
    path.write_text(path.read_text() + "\n")
    with pytest.raises(tr.TraceError, match=r"t.jsonl:2: not JSON"):
        tr.read_trace(path)


def test_rejects_newer_schema_and_unknown_types():
    with pytest.raises(tr.TraceError, match="trace schema version 99 is not supported"):
        tr.event_from_dict(
            {"type": "Error", "v": 99, "episode_id": "e", "kind": "api", "message": ""}
        )
    with pytest.raises(tr.TraceError, match="unknown trace event type: 'Nope'"):
        tr.event_from_dict({"type": "Nope", "v": 1})


def test_unknown_fields_ignored_and_missing_fields_reported():
    event = tr.event_from_dict(
        {"type": "Error", "v": 1, "episode_id": "e", "kind": "api", "message": "m", "extra": 1}
    )
    assert event == tr.Error("e", kind="api", message="m", t=event.t)
    with pytest.raises(tr.TraceError, match="bad Error event"):
        tr.event_from_dict({"type": "Error", "v": 1, "episode_id": "e"})


def test_split_episodes_groups_by_start():
    events = _events() + [
        tr.EpisodeStart("e2", problem_id="p"),
        tr.EpisodeEnd("e2", status="success"),
    ]
    episodes = tr.split_episodes(events)
    assert [len(e) for e in episodes] == [8, 2]


def test_text_utf8_cannot_hold_is_escaped_and_round_trips(tmp_path):
    path = tmp_path / "t.jsonl"
    odd = "lone \udcff and \ud800 surrogates, é and \u2603 as they are"
    with tr.TraceWriter(path) as w:
        w.write(tr.EpisodeStart("e", problem_id="p"))
        w.write(tr.Observation("e", text=odd, info={"out": odd}))
        w.write(tr.ModelMessage("e", role="user", content="é plain"))
    raw = path.read_bytes()
    raw.decode("utf-8")  # the file is valid UTF-8
    assert b"\\udcff" in raw and "é plain".encode() in raw  # escaped only where needed
    events = tr.read_trace(path)
    assert events[1].text == odd and events[1].info == {"out": odd}
    assert events[2].content == "é plain"


def test_lone_surrogate_in_a_query_output_is_recorded_not_an_agent_error(tmp_path):
    from codearc_env.agents.episode import run_episode
    from codearc_env.agents.results import ResultsFile
    from codearc_env.env import CodeARCEnv
    from codearc_env.testing import CallableSandbox, TableOracle, toy_function

    def odd(a):
        return "x\udcff" * a

    problem = toy_function("odd", odd, [(i,) for i in range(10)])
    env = CodeARCEnv(
        problems=[problem],
        reference_sandbox=CallableSandbox({"odd": odd}),
        candidate_sandbox=CallableSandbox({"odd": odd}),
        oracle=TableOracle({}),
    )

    class QueryOnce:
        name = "query-once"

        def play(self, ep):
            ep.query("odd(3)")

    path = tmp_path / "t.jsonl"
    with tr.TraceWriter(path) as writer:
        result = run_episode(QueryOnce(), env, problem.problem_id, writer=writer)
    env.close()
    assert result.status == "failure"  # graded: the agent stopped; not an agent_error
    shown = [e.text for e in tr.read_trace(path) if isinstance(e, tr.Observation)]
    assert any("x\udcffx\udcffx\udcff" in text for text in shown)
    results = ResultsFile(tmp_path / "results.jsonl")
    results.append(result)
    assert results.load()[result.key] == result


def test_one_recorder_for_rl_and_llm_episodes(tmp_path) -> None:
    """RecordEpisode around any agent and the LLM agents' Episode write the same events, id
    format, kept info keys and action kinds, and the result line carries the EpisodeEnd."""
    import dataclasses

    from codearc_env.agents.episode import Episode
    from codearc_env.testing import TOY_SOLUTIONS, make_toy_env
    from codearc_env.trace import (
        EpisodeEnd,
        EpisodeOutcome,
        Observation,
        ToolCall,
        TraceWriter,
        outcome_fields,
        read_trace,
    )
    from codearc_env.wrappers import RecordEpisode

    ADD = "builtin/annotated/add"

    actions = [
        ("query", "add(2, 2)"),
        ("submit", "def add(a, b):\n    return 0"),
        ("submit", TOY_SOLUTIONS[ADD]),
    ]
    rl_path, llm_path = tmp_path / "rl.jsonl", tmp_path / "llm.jsonl"
    env = RecordEpisode(make_toy_env(), rl_path)
    env.reset(options={"problem": ADD})
    for kind, text in actions:
        env.step({"kind": int(kind == "submit"), "text": text})
    env.close()
    with TraceWriter(llm_path) as writer:
        ep = Episode(make_toy_env(), None, ADD, "", "", writer)
        ep.reset()
        for kind, text in actions:
            ep.query(text) if kind == "query" else ep.submit(text)
        result = ep.finish(*ep.outcome())
    rl, llm = read_trace(rl_path), read_trace(llm_path)
    assert [type(e) for e in rl] == [type(e) for e in llm]
    assert all(len(e.episode_id) == 12 for e in rl + llm)
    assert [(e.kind, e.text, e.step) for e in rl if isinstance(e, ToolCall)] == [
        (e.kind, e.text, e.step) for e in llm if isinstance(e, ToolCall)
    ]
    observed = [(e.step, e.text, e.info) for e in rl if isinstance(e, Observation)]
    assert observed == [(e.step, e.text, e.info) for e in llm if isinstance(e, Observation)]
    skip = {"duration_s", "message"}  # wall time; who wrote why the episode ended
    rl_end, llm_end = rl[-1], llm[-1]
    assert isinstance(rl_end, EpisodeEnd) and isinstance(llm_end, EpisodeEnd)
    assert {k: v for k, v in outcome_fields(rl_end).items() if k not in skip} == {
        k: v for k, v in outcome_fields(llm_end).items() if k not in skip
    }
    assert outcome_fields(result) == outcome_fields(llm_end)
    assert {f.name for f in dataclasses.fields(EpisodeOutcome)} <= {
        f.name for f in dataclasses.fields(EpisodeEnd)
    }
