"""A ReAct agent with native tool calling: the model calls ``query`` and ``submit``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from codearc_env.agents.episode import Episode, EpisodeOver
from codearc_env.agents.model import Model, ModelReply
from codearc_env.agents.parsing import ParsedAction, parse_tool_call
from codearc_env.agents.prompts import render
from codearc_env.agents.vocabulary import (
    EPISODE_OVER,
    TOOLS,
    first_user_prompt,
    system_prompt,
    tool_error,
)
from codearc_env.trace import Role

_FORCE_SUBMIT = {"type": "function", "function": {"name": "submit"}}


@dataclass(frozen=True)
class ReactConfig:
    max_model_calls: int = 60
    """Model calls before the agent gives up (a guard against loops; the env caps turns too)."""
    max_invalid_in_a_row: int = 2
    """Consecutive replies without a usable tool call before the episode is given up."""
    force_tool_choice: bool = False
    """Require a tool call on every turn, and name ``submit`` when it is the only move left.
    Helps small models that answer in prose."""
    teacher: bool = False
    """Show the hidden function in a privileged first message (trace collection)."""


def assistant_message(reply: ModelReply) -> dict[str, Any]:
    """The reply as an OpenAI-style assistant message, tool calls included."""
    message: dict[str, Any] = {"role": "assistant", "content": reply.content or None}
    if reply.tool_calls:
        message["tool_calls"] = [
            {
                "id": tc.id,
                "type": "function",
                "function": {"name": tc.name, "arguments": tc.arguments},
            }
            for tc in reply.tool_calls
        ]
    return message


class ReactAgent:
    name = "react"

    def __init__(self, model: Model, config: ReactConfig | None = None) -> None:
        self.model = model
        self.config = config or ReactConfig()

    def play(self, ep: Episode) -> None:
        messages: list[dict[str, Any]] = []

        def send(role: Role, content: str, *, privileged: bool = False, **extra: Any) -> None:
            messages.append({"role": role, "content": content, **extra})
            ep.say(role, content, privileged=privileged, **extra)

        if self.config.teacher:
            send("system", teacher_prefix(ep), privileged=True)
        send("system", system_prompt(ep.obs))
        send("user", first_user_prompt(ep.obs, ep.shown_line_chars))
        invalid_in_a_row = 0
        for _ in range(self.config.max_model_calls):
            reply = self.model.complete(messages, tools=TOOLS, tool_choice=self._tool_choice(ep))
            ep.heard(reply)
            messages.append(assistant_message(reply))
            if not reply.tool_calls:
                invalid_in_a_row += 1
                ep.invalid_reply("the reply called no tool")
                if invalid_in_a_row >= self.config.max_invalid_in_a_row:
                    raise EpisodeOver(f"{invalid_in_a_row} replies in a row called no tool")
                send("user", render("tool_retry.md", reason="it holds text only."))
                continue
            acted = False
            for tc in reply.tool_calls:
                # Every call gets an answer, so the conversation stays valid for the API.
                if ep.done:
                    content = EPISODE_OVER
                else:
                    action = parse_tool_call(tc.name, tc.arguments)
                    if isinstance(action, ParsedAction):
                        acted = True
                        content = self._act(ep, action, tc.id)
                    else:
                        ep.invalid_reply(action.reason)
                        content = tool_error(action.reason)
                send("tool", content, tool_call_id=tc.id, name=tc.name)
            if ep.done:
                return
            invalid_in_a_row = 0 if acted else invalid_in_a_row + 1
            if invalid_in_a_row >= self.config.max_invalid_in_a_row:
                raise EpisodeOver(f"{invalid_in_a_row} replies in a row had no usable tool call")
        raise EpisodeOver(f"the agent made {self.config.max_model_calls} model calls")

    def _tool_choice(self, ep: Episode) -> Any:
        if not self.config.force_tool_choice:
            return None
        return _FORCE_SUBMIT if ep.must_submit else "required"

    @staticmethod
    def _act(ep: Episode, action: ParsedAction, call_id: str) -> str:
        if action.kind == "query":
            view = ep.query(action.text, call_id)
        else:
            view = ep.submit(action.text, call_id)
        return ep.feedback_text(view)


def teacher_prefix(ep: Episode) -> str:
    if ep.problem is None:
        raise EpisodeOver("the teacher mode needs the hidden function")
    return render("teacher_prefix.md", code=ep.problem.code.strip(), name=ep.target)
