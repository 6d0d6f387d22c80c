"""The embedded model through litellm, as the agents call it: text, forced and required tools."""

from __future__ import annotations

import json
from typing import Any

import pytest

pytestmark = [pytest.mark.localmodel, pytest.mark.slow]

TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "query",
            "description": "Run the hidden function on one call, e.g. f(3).",
            "parameters": {
                "type": "object",
                "properties": {"call": {"type": "string"}},
                "required": ["call"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "submit",
            "description": "Submit a Python program defining f.",
            "parameters": {
                "type": "object",
                "properties": {"code": {"type": "string"}},
                "required": ["code"],
            },
        },
    },
]
REQUIRED_KEY = {"query": "call", "submit": "code"}
MESSAGES = [
    {"role": "system", "content": "You reconstruct a hidden Python function f."},
    # A direct request: on an open question the 135M model can ramble inside a forced tool
    # argument past any token cap (seen on some CPUs), and a cut reply cannot parse. These
    # tests are about the format, not the model's judgement.
    {"role": "user", "content": "f(1) = 2 and f(2) = 4. Submit: def f(x): return 2 * x"},
]


def _complete(kwargs: dict[str, str], **request: Any) -> Any:
    import litellm

    return litellm.completion(**kwargs, max_tokens=256, temperature=0.0, seed=0, **request)


def _only_call(response: Any) -> tuple[str, dict[str, Any]]:
    message = response.choices[0].message
    assert response.choices[0].finish_reason == "tool_calls"
    assert message.content is None
    assert len(message.tool_calls) == 1
    call = message.tool_calls[0]
    assert call.id and call.type == "function"
    return call.function.name, json.loads(call.function.arguments)


def test_plain_chat_reply(smollm2_kwargs: dict[str, str]) -> None:
    response = _complete(smollm2_kwargs, messages=[{"role": "user", "content": "Say hello."}])
    assert response.choices[0].message.content.strip()
    assert not response.choices[0].message.tool_calls
    assert response.usage.prompt_tokens > 0 and response.usage.completion_tokens > 0


def test_named_tool_choice_always_parses(smollm2_kwargs: dict[str, str]) -> None:
    response = _complete(
        smollm2_kwargs,
        messages=MESSAGES,
        tools=TOOLS,
        tool_choice={"type": "function", "function": {"name": "submit"}},
    )
    name, args = _only_call(response)
    assert name == "submit"
    assert isinstance(args["code"], str)


def test_required_tool_choice_picks_one_of_the_tools(smollm2_kwargs: dict[str, str]) -> None:
    response = _complete(smollm2_kwargs, messages=MESSAGES, tools=TOOLS, tool_choice="required")
    name, args = _only_call(response)
    assert name in REQUIRED_KEY
    assert isinstance(args[REQUIRED_KEY[name]], str)


def test_a_tool_conversation_continues(smollm2_kwargs: dict[str, str]) -> None:
    first = _complete(smollm2_kwargs, messages=MESSAGES, tools=TOOLS, tool_choice="required")
    call = first.choices[0].message.tool_calls[0]
    messages = [
        *MESSAGES,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.function.name, "arguments": call.function.arguments},
                }
            ],
        },
        {
            "role": "tool",
            "tool_call_id": call.id,
            "name": call.function.name,
            "content": "f(3) = 6",
        },
    ]
    second = _complete(
        smollm2_kwargs,
        messages=messages,
        tools=TOOLS,
        tool_choice={"type": "function", "function": {"name": "submit"}},
    )
    assert _only_call(second)[0] == "submit"


def test_auto_tool_choice_answers_text_or_a_parsed_call(smollm2_kwargs: dict[str, str]) -> None:
    response = _complete(smollm2_kwargs, messages=MESSAGES, tools=TOOLS, tool_choice="auto")
    message = response.choices[0].message
    if message.tool_calls:
        for call in message.tool_calls:
            assert call.function.name in REQUIRED_KEY
            json.loads(call.function.arguments)
    else:
        assert isinstance(message.content, str)


def test_a_cut_forced_call_reports_length(smollm2_kwargs: dict[str, str]) -> None:
    import litellm

    response = litellm.completion(
        **smollm2_kwargs,
        messages=MESSAGES,
        tools=TOOLS,
        tool_choice={"type": "function", "function": {"name": "submit"}},
        max_tokens=3,
    )
    assert response.choices[0].finish_reason == "length"


def test_overflowing_the_context_is_a_context_window_error(
    smollm2_kwargs: dict[str, str],
) -> None:
    import litellm

    with pytest.raises(litellm.ContextWindowExceededError):
        _complete(smollm2_kwargs, messages=[{"role": "user", "content": "word " * 9000}])
