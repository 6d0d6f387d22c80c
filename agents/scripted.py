"""A model that replays canned replies, so agent loops are tested offline.

A script is a sequence of steps. Each step is one of:

- a string: a plain text reply;
- a :class:`ModelReply`: replayed as is (use :func:`tool_reply` to build tool calls);
- an exception instance: raised by that call (to script API errors, context overflow);
- a callable ``(messages, tools) -> step``: computed from the conversation so far, for
  scripts that must react to what the environment said (it may return any other step kind).

When the script runs out, ``complete`` raises :class:`ScriptExhaustedError`, unless
``repeat_last`` is set, in which case the last step is replayed forever.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeAlias

from codearc_env.agents.model import Message, ModelError, ModelReply, ToolChoice, Usage
from codearc_env.trace import ToolCallRequest

Step: TypeAlias = str | ModelReply | BaseException | Callable[..., Any]


class ScriptExhaustedError(ModelError):
    """The scripted model was asked for more replies than its script holds."""


def tool_reply(*calls: tuple[str, Mapping[str, Any] | str], content: str = "") -> ModelReply:
    """A reply with tool calls: ``tool_reply(("query", {"calls": "f(1)"}), ("submit", {...}))``.

    Arguments given as a string are kept verbatim (to script malformed JSON).
    """
    requests = tuple(
        ToolCallRequest(
            id=f"call_{i}",
            name=name,
            arguments=args if isinstance(args, str) else json.dumps(dict(args)),
        )
        for i, (name, args) in enumerate(calls)
    )
    return ModelReply(content=content, tool_calls=requests)


def _approx_tokens(text: str) -> int:
    return max(1, len(text) // 4) if text else 0


class ScriptedModel:
    """Replays a script of replies; records every request it received in ``requests``.

    Thread-safe, but one script is one conversation: give each concurrent episode its own
    instance (the runner takes a model factory for that reason).
    """

    def __init__(
        self, script: Iterable[Step], *, name: str = "scripted", repeat_last: bool = False
    ) -> None:
        self.name = name
        self._script = list(script)
        self._repeat_last = repeat_last
        self._next = 0
        self._lock = threading.Lock()
        self.requests: list[dict[str, Any]] = []
        self.usage = Usage()

    @property
    def remaining(self) -> int:
        return len(self._script) - self._next

    def complete(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[Mapping[str, Any]] | None = None,
        tool_choice: ToolChoice = None,
    ) -> ModelReply:
        with self._lock:
            self.requests.append(
                {
                    "messages": [dict(m) for m in messages],
                    "tools": tools,
                    "tool_choice": tool_choice,
                }
            )
            if self._next < len(self._script):
                step = self._script[self._next]
                self._next += 1
            elif self._repeat_last and self._script:
                step = self._script[-1]
            else:
                raise ScriptExhaustedError(
                    f"scripted model {self.name!r} has no reply left "
                    f"(script of {len(self._script)} steps)"
                )
        return self._play(step, messages, tools)

    def _play(self, step: Step, messages: Sequence[Message], tools: Any) -> ModelReply:
        if isinstance(step, BaseException):
            raise step
        if callable(step) and not isinstance(step, ModelReply):
            return self._play(step(messages, tools), messages, tools)
        reply = ModelReply(content=step) if isinstance(step, str) else step
        if not isinstance(reply, ModelReply):
            raise TypeError(
                f"a script step must be str, ModelReply, exception or callable: {step!r}"
            )
        prompt = sum(_approx_tokens(str(m.get("content") or "")) for m in messages)
        completion = _approx_tokens(reply.content) + sum(
            _approx_tokens(tc.arguments) for tc in reply.tool_calls
        )
        reply = ModelReply(
            content=reply.content,
            tool_calls=reply.tool_calls,
            prompt_tokens=reply.prompt_tokens or prompt,
            completion_tokens=reply.completion_tokens or completion,
            cost_usd=reply.cost_usd,
            duration_s=reply.duration_s,
            finish_reason=reply.finish_reason or ("tool_calls" if reply.tool_calls else "stop"),
        )
        self.usage.add(reply, 0)
        return reply
