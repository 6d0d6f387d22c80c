"""A model trained through the TRL adapter sees what the evaluation agent shows it.

The ReAct agent of ``codearc eval`` and the adapter are played side by side on the same
problems; their conversations are compared as JSON text, byte for byte. TRL's assembly of the
first prompt is replayed as trl/trainer/grpo_trainer.py (1.16.0) does it: the row's last
message gets ``reset``'s return value appended.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from types import SimpleNamespace
from typing import Any

import gymnasium
import pytest

from codearc_env.agents.episode import run_episode
from codearc_env.agents.model import ModelReply
from codearc_env.agents.react import ReactAgent
from codearc_env.agents.vocabulary import TOOLS
from codearc_env.integrations import codearc_trl_env, problem_rows
from codearc_env.problems import load_problems
from codearc_env.trace import ModelMessage, ToolCallRequest


class StopHere(Exception):
    pass


class RecordingModel:
    """Answers from a script of (tool, arguments), recording every conversation it is sent."""

    name = "recording"

    def __init__(self, script: Sequence[tuple[str, dict[str, str]]] = ()) -> None:
        self.script = list(script)
        self.seen: list[list[dict[str, Any]]] = []
        self.tools: list[Any] = []

    def complete(self, messages: Sequence[Any], *, tools: Any = None, tool_choice: Any = None) -> ModelReply:
        self.seen.append(json.loads(json.dumps(list(messages))))
        self.tools = list(tools or [])
        if not self.script:
            raise StopHere("the script is over")
        name, arguments = self.script.pop(0)
        call = ToolCallRequest(f"call{len(self.seen)}", name, json.dumps(arguments))
        return ModelReply(content="", tool_calls=(call,))


def trl_first_prompt(row: dict[str, Any], observation: str) -> list[dict[str, Any]]:
    prompt = row["prompt"]
    return prompt[:-1] + [{**prompt[-1], "content": prompt[-1]["content"] + observation}]


def assert_same_first_prompts(env_id: str, rows: list[dict[str, Any]], **env_kwargs: Any) -> int:
    """Compares the first prompts; returns how many had a clipped line."""
    adapter = codearc_trl_env(env_id, **env_kwargs)()
    eval_env = gymnasium.make(env_id, **env_kwargs)
    clipped = 0
    try:
        for row in rows:
            model = RecordingModel()
            result = run_episode(ReactAgent(model), eval_env, row["problem_id"])
            assert result.message == "StopHere: the script is over"
            trained_on = trl_first_prompt(row, adapter.reset(**row))
            assert json.dumps(trained_on) == json.dumps(model.seen[0]), row["problem_id"]
            clipped += "more characters]" in trained_on[-1]["content"]
            assert model.tools == list(TOOLS)
    finally:
        eval_env.close()
    return clipped


@pytest.mark.bwrap
@pytest.mark.parametrize(
    ("env_id", "variant"),
    [("CodeARC-Builtin-v0", "annotated"), ("CodeARC-Builtin-Anonymized-v0", "anonymized")],
)
def test_first_prompts_are_byte_identical_on_the_builtin_suite(env_id: str, variant: str) -> None:
    rows = problem_rows(variant, "builtin")
    assert len(rows) == 47
    assert_same_first_prompts(env_id, rows, backend="bwrap")


@pytest.mark.bwrap
@pytest.mark.realdata
@pytest.mark.parametrize("variant", ["annotated", "anonymized"])
def test_first_prompts_are_byte_identical_on_real_problems(variant: str, data_dir: Any) -> None:
    rows = problem_rows(variant, "all", data_dir=data_dir)
    # Every 40th problem (all sources), and 508, whose examples hold a line over the
    # 4,000 characters a model is shown.
    assert len(rows) == 1114
    sample = rows[::40] + [r for r in rows if r["problem_id"] == f"{variant}/508"]
    clipped = assert_same_first_prompts(
        f"CodeARC-{variant.capitalize()}-v0", sample, backend="bwrap", data_dir=data_dir
    )
    assert clipped == 1  # 508's long line, clipped alike on both sides


def play_side_by_side(
    env_id: str, problem_id: str, actions: list[tuple[str, dict[str, str]]], **env_kwargs: Any
) -> tuple[list[str], list[str], Any, Any]:
    """The tool answers of the evaluation agent and of the adapter for the same actions."""
    model = RecordingModel(actions)
    events: list[Any] = []
    recorder = SimpleNamespace(write=events.append)  # the trace writer's one method
    eval_env = gymnasium.make(env_id, **env_kwargs)
    try:
        result = run_episode(ReactAgent(model), eval_env, problem_id, writer=recorder)  # type: ignore[arg-type]
    finally:
        eval_env.close()
    # The trace holds every message sent, the answer to the last action included.
    evaluated = [e.content for e in events if isinstance(e, ModelMessage) and e.role == "tool"]
    adapter = codearc_trl_env(env_id, **env_kwargs)()
    row = next(r for r in problem_rows("annotated", "builtin") if r["problem_id"] == problem_id)
    adapter.reset(**row)
    tools: dict[str, Callable[..., str]] = {"query": adapter.query, "submit": adapter.submit}
    trained = [tools[name](**arguments) for name, arguments in actions]
    return evaluated, trained, result, adapter


@pytest.mark.bwrap
@pytest.mark.slow
def test_tool_answers_are_byte_identical_and_rewards_agree() -> None:
    problem = load_problems("annotated", "builtin").get("builtin/annotated/clamp_int")
    first_call = problem.examples[0].expression or problem.examples[0].call_text
    wrong = f"def {problem.target}(*args, **kwargs):\n    return None"
    actions = [
        ("query", {"calls": f"{first_call}\n{problem.target}(1, 2, 3, 4, 5)"}),
        ("query", {"calls": "not a call"}),
        ("submit", {"code": wrong}),
        ("submit", {"code": problem.code}),
    ]
    evaluated, trained, result, adapter = play_side_by_side(
        "CodeARC-Builtin-v0", problem.problem_id, actions, backend="bwrap"
    )
    assert trained == evaluated
    assert trained[1].startswith("Invalid action")
    assert "Submissions left: 0" in trained[3]
    assert result.status == "success" and adapter.get_reward() == 1.0
