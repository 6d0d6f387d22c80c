"""Agents by name, for the command line and the runner."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from codearc_env.agents.baselines import ExamplesOnlyAgent, GroundTruthAgent
from codearc_env.agents.episode import Agent
from codearc_env.agents.model import Model
from codearc_env.agents.react import ReactAgent, ReactConfig
from codearc_env.agents.text import TextAgent, TextConfig

AGENT_NAMES = ("react", "text", "ground-truth", "examples-only")
NEEDS_MODEL = {"react": True, "text": True, "ground-truth": False, "examples-only": False}


def make_agent(
    name: str,
    model: Model | None,
    *,
    teacher: bool = False,
    force_tool_choice: bool = False,
    **options: Any,
) -> Agent:
    """Build the agent ``name``; ``teacher`` shows it the hidden function (trace collection)."""
    if name == "react":
        return ReactAgent(
            _need(model, name),
            ReactConfig(teacher=teacher, force_tool_choice=force_tool_choice, **options),
        )
    if name == "text":
        return TextAgent(_need(model, name), TextConfig(teacher=teacher, **options))
    if name == "ground-truth":
        return GroundTruthAgent()
    if name == "examples-only":
        return ExamplesOnlyAgent(model)
    raise ValueError(f"unknown agent {name!r}; choose from {', '.join(AGENT_NAMES)}")


def _need(model: Model | None, agent: str) -> Model:
    if model is None:
        raise ValueError(f"the {agent!r} agent needs a model (--model)")
    return model


AgentFactory = Callable[[Model | None], Agent]
