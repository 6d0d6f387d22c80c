"""Both agents against the real embedded model, end to end on the built-in suite.

A 135M model replies with nonsense most of the time: the point is that every episode still
ends with a grade, every unusable reply is counted, and the traces are complete and export.
Episodes are kept short (``max_turns``, ``max_tokens``) so the test fits a 2-core CI run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.localmodel, pytest.mark.slow]

PROBLEMS = 2


def _run(out_dir: Path, agent: str) -> tuple[dict[str, Any], list[Any]]:
    from codearc_env.agents.evaluate import EvalConfig, evaluate
    from codearc_env.agents.results import ResultsFile
    from codearc_env.config import EnvConfig

    config = EvalConfig(
        out_dir=out_dir,
        agent=agent,
        model="local/smollm2",
        split="builtin",
        limit=PROBLEMS,
        env=EnvConfig(max_turns=6),
        max_tokens=256,
        temperature=0.0,
        force_tool_choice=True,  # tiny models call tools reliably only when forced
        max_attempts=1,
    )
    summary = evaluate(config)
    results = list(ResultsFile(out_dir / "results.jsonl").load().values())
    return summary, results


def _check_traces(out_dir: Path, results: list[Any]) -> list[Any]:
    """Each result's trace is complete and agrees with it; returns the assistant messages."""
    from codearc_env import trace as tr

    replies = []
    for result in results:
        events = tr.read_trace(out_dir / result.trace)
        start, end = events[0], events[-1]
        assert isinstance(start, tr.EpisodeStart) and start.model == "local/smollm2"
        assert isinstance(end, tr.EpisodeEnd) and end.status == result.status
        invalid = [e for e in events if isinstance(e, tr.Error) and e.kind == "agent"]
        assert len(invalid) == result.invalid_replies
        mine = [e for e in events if isinstance(e, tr.ModelMessage) and e.role == "assistant"]
        assert mine, f"{result.problem_id}: the model was never asked"
        assert all(m.prompt_tokens > 0 for m in mine)  # real usage figures from the server
        assert sum(m.completion_tokens for m in mine) == result.completion_tokens
        replies += mine
    return replies


def _check_export(out_dir: Path, results: list[Any], tmp_path: Path) -> list[dict[str, Any]]:
    from codearc_env.agents.export import export

    out = tmp_path / f"{out_dir.name}.jsonl"
    stats = export(out_dir, out, "openai")
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert stats.episodes == len(results) and stats.written == len(records) == len(results)
    for record in records:
        assert record["messages"][-1]["role"] == "assistant"
    return records


@pytest.mark.parametrize("agent", ["text", "react"])
def test_agent_finishes_every_episode_with_the_real_model(
    agent: str, smollm2_kwargs: dict[str, str], tmp_path: Path
) -> None:
    from codearc_env.agents.local_model import parse_local_model
    from codearc_env.agents.local_server import server_for

    server = server_for(parse_local_model("local/smollm2"))
    pid = server.pid
    out_dir = tmp_path / agent
    summary, results = _run(out_dir, agent)

    assert server.pid == pid, "the session's server was not reused"
    assert summary["run"]["finished"] == summary["run"]["tasks"] == PROBLEMS
    assert len(results) == PROBLEMS
    for result in results:
        assert result.status in ("success", "failure"), (result.status, result.message)
        assert result.model == "local/smollm2" and result.agent == agent
        assert result.prompt_tokens > 0 and result.completion_tokens > 0
    replies = _check_traces(out_dir, results)
    records = _check_export(out_dir, results, tmp_path)
    if agent == "react":
        # Forced tool choice: every reply is a tool call, whatever the model had in mind.
        assert all(m.tool_calls for m in replies)
        assert all("tools" in r for r in records)
