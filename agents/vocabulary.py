"""What a tool-calling model is told and shown, in one place.

The ReAct evaluation agent, trace export and the training integrations
(``codearc_env.integrations``) all build their conversations from these functions, so a model
trained on the environment sees exactly the system prompt, first user message, tool schemas
and tool observations it is later evaluated with.

Everything here is a pure function of an environment observation (the dict ``reset`` and
``step`` return): no episode state, no model, no environment.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from codearc_env.agents.prompts import render

SHOWN_LINE_CHARS = 4_000
"""Longest line of an observation shown to a model; longer ones are clipped (None: never)."""

QUERY_DESCRIPTION = "Run the hidden function on inputs of your choice and see the results."
CALLS_DESCRIPTION = (
    "One or more calls of the hidden function with literal arguments, one per line, "
    "e.g. f(3, 'ab')."
)
SUBMIT_DESCRIPTION = "Submit a complete Python program that defines the hidden function."
CODE_DESCRIPTION = "The complete program."

TOOLS: tuple[dict[str, Any], ...] = (
    {
        "type": "function",
        "function": {
            "name": "query",
            "description": QUERY_DESCRIPTION,
            "parameters": {
                "type": "object",
                "properties": {"calls": {"type": "string", "description": CALLS_DESCRIPTION}},
                "required": ["calls"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "submit",
            "description": SUBMIT_DESCRIPTION,
            "parameters": {
                "type": "object",
                "properties": {"code": {"type": "string", "description": CODE_DESCRIPTION}},
                "required": ["code"],
            },
        },
    },
)
"""The two tools as OpenAI-style function schemas."""

EPISODE_OVER = "Not run: the episode is already over."
"""The answer to a tool call made after the episode ended."""


def system_prompt(obs: Mapping[str, Any]) -> str:
    """The system message for an episode, from the observation ``reset`` returned."""
    return render(
        "react_system.md",
        name=str(obs.get("function_name", "")),
        queries=obs.get("io_left"),
        submissions=obs.get("oracle_left"),
    )


def first_user_prompt(obs: Mapping[str, Any], line_chars: int | None = SHOWN_LINE_CHARS) -> str:
    """The first user message: the observation's text (name, examples, budgets), clipped."""
    return render("react_start.md", observation=clip_lines(str(obs.get("text", "")), line_chars))


def first_messages(
    obs: Mapping[str, Any], line_chars: int | None = SHOWN_LINE_CHARS
) -> list[dict[str, str]]:
    """The system and first user message, as chat messages."""
    return [
        {"role": "system", "content": system_prompt(obs)},
        {"role": "user", "content": first_user_prompt(obs, line_chars)},
    ]


def clip_lines(text: str, line_chars: int | None = SHOWN_LINE_CHARS) -> str:
    """``text`` as a model sees it: every line clipped to ``line_chars``.

    One huge value (annotated/1002 returns 312,224 dice rolls) would otherwise fill a
    model's whole context; clipping per line keeps the other examples and results in view.
    The environment's observations and the traces' observation events stay complete.
    """
    lines = text.split("\n")  # not splitlines(): \r or \x0c in a value stay as they are
    if line_chars is None or all(len(line) <= line_chars for line in lines):
        return text
    return "\n".join(
        line if len(line) <= line_chars else f"{line[:line_chars]} [... {len(line) - line_chars} more characters]"
        for line in lines
    )


def status_line(obs: Mapping[str, Any], done: bool) -> str:
    """One line of budgets left, with the must-submit warning when it applies."""
    line = (
        f"Queries left: {obs.get('io_left')}. Submissions left: {obs.get('oracle_left')}. "
        f"Turns left: {obs.get('turns_left')}."
    )
    if obs.get("must_submit") and not done:
        line += " No queries are left: your next action must be a submission."
    return line


def tool_observation(
    obs: Mapping[str, Any], done: bool, line_chars: int | None = SHOWN_LINE_CHARS
) -> str:
    """The answer to a tool call: the env's feedback followed by one line of budgets
    (replacing the env's own count), each line clipped to ``line_chars``."""
    lines = str(obs.get("feedback", "")).rstrip().splitlines()
    if lines and lines[-1].startswith("Queries left:"):
        lines.pop()
    return clip_lines("\n".join([*lines, status_line(obs, done)]).strip(), line_chars)


def tool_error(reason: str) -> str:
    """The answer to a tool call that named no usable action."""
    return f"Error: {reason}"
