"""The text-protocol agent: the paper's interaction shape, without its misparse.

Plain chat turns, no tools. The model answers with ``INVOCATIONS`` or ``IMPLEMENTATION``
alone on a line and a fenced python block; an unreadable reply gets one retry, then the
episode fails (CODEARC-SPEC section 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from codearc_env.agents.episode import Episode, EpisodeOver
from codearc_env.agents.model import Model
from codearc_env.agents.parsing import Unreadable, parse_text_action, query_lines
from codearc_env.agents.prompts import render
from codearc_env.agents.react import teacher_prefix


@dataclass(frozen=True)
class TextConfig:
    max_model_calls: int = 60
    """Model calls before the agent gives up (a guard against loops)."""
    retries_per_turn: int = 1
    """Unreadable replies allowed per turn before the episode fails (1, as in the paper)."""
    teacher: bool = False
    """Show the hidden function in a privileged first message (trace collection)."""


class TextAgent:
    name = "text"

    def __init__(self, model: Model, config: TextConfig | None = None) -> None:
        self.model = model
        self.config = config or TextConfig()

    def play(self, ep: Episode) -> None:
        messages: list[dict[str, Any]] = []

        def send(content: str, *, privileged: bool = False) -> None:
            messages.append({"role": "user", "content": content})
            ep.say("user", content, privileged=privileged)

        if self.config.teacher:
            send(teacher_prefix(ep), privileged=True)
        obs = ep.obs
        send(
            render(
                "text_start.md",
                name=ep.target,
                examples=ep.shown(obs.get("examples", "")),
                queries=obs.get("io_left"),
                submissions=obs.get("oracle_left"),
            )
        )
        retries = 0
        for _ in range(self.config.max_model_calls):
            reply = self.model.complete(messages)
            ep.heard(reply)
            messages.append({"role": "assistant", "content": reply.content})
            action = parse_text_action(reply.content)
            if isinstance(action, Unreadable):
                ep.invalid_reply(action.reason)
                if retries >= self.config.retries_per_turn:
                    raise EpisodeOver(f"unreadable reply after {retries} retries: {action.reason}")
                retries += 1
                send(render("text_retry.md", reason=action.reason))
                continue
            retries = 0
            if action.kind == "query":
                view = ep.query(query_lines(action.text))
            else:
                view = ep.submit(action.text)
            if view.done:
                return
            send(ep.feedback_text(view))
        raise EpisodeOver(f"the agent made {self.config.max_model_calls} model calls")
