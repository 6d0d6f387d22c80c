"""A scripted "model" that plays any problem without knowing it, for harness benchmarks.

It re-queries the first observed call, then submits a program that returns None twice.
It solves nothing (unless the target returns None everywhere), but every episode exercises
the whole loop: a query in the reference sandbox and two oracle calls.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from codearc_env.agents.model import ModelReply
from codearc_env.agents.scripted import ScriptedModel, tool_reply

_NAME = re.compile(r"^Hidden function: (\S+)", re.M)
_CALL = re.compile(r"^(.+?) -> ", re.M)


def _first_user_text(messages: Sequence[Mapping[str, Any]]) -> str:
    for m in messages:
        if m.get("role") == "user":
            return str(m.get("content") or "")
    return ""


def generic_step(messages: Sequence[Mapping[str, Any]], tools: Any) -> ModelReply:
    text = _first_user_text(messages)
    name_match = _NAME.search(text)
    name = name_match.group(1) if name_match else "f"
    queried = any(m.get("role") == "tool" for m in messages)
    # The examples follow the line that starts with "Observed calls".
    call = _CALL.search(text.split("Observed calls", 1)[-1].split("\n", 1)[-1])
    if not queried and call:
        return tool_reply(("query", {"calls": call.group(1)}))
    return tool_reply(("submit", {"code": f"def {name}(*args, **kwargs):\n    return None\n"}))


def generic_model() -> ScriptedModel:
    return ScriptedModel([generic_step], repeat_last=True, name="scripted/generic")
