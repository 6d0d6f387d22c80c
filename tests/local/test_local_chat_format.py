"""The ChatML tool-call handler's pure parts: prompt rendering, reply schemas, reply parsing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from codearc_env.agents.local_chat_format import (
    DEFAULT_SYSTEM,
    forced_names,
    parse_auto_reply,
    parse_forced_reply,
    render_prompt,
    reply_schema,
)


def _tool(name: str, prop: str) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": f"the {name} tool",
            "parameters": {
                "type": "object",
                "properties": {prop: {"type": "string"}},
                "required": [prop],
            },
        },
    }


TOOLS = [_tool("query", "calls"), _tool("submit", "code")]


def test_plain_conversation_gets_a_default_system_turn() -> None:
    prompt = render_prompt([{"role": "user", "content": "hi"}])
    assert prompt == (
        f"<|im_start|>system\n{DEFAULT_SYSTEM}<|im_end|>\n"
        "<|im_start|>user\nhi<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


def test_tools_are_described_in_the_callers_system_turn_only() -> None:
    prompt = render_prompt(
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "go"}], TOOLS
    )
    system = prompt.split("<|im_end|>")[0]
    assert system.startswith("<|im_start|>system\nBe brief.\n\nYou can call these tools:")
    assert "- query: the query tool" in system
    assert json.dumps(TOOLS[1]["function"]["parameters"]) in system
    assert prompt.count("<|im_start|>system") == 1
    assert DEFAULT_SYSTEM not in prompt


def test_tool_call_turns_and_results_are_written_back() -> None:
    messages = [
        {"role": "user", "content": "go"},
        {
            "role": "assistant",
            "content": None,  # what every tool-call turn looks like; SmolLM2's template fails on it
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "query", "arguments": '{"calls": "f(1)"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "name": "query", "content": "f(1) = 2"},
    ]
    prompt = render_prompt(messages, TOOLS)
    assert (
        '<|im_start|>assistant\n<tool_call>\n{"name": "query", "arguments": {"calls": "f(1)"}}\n'
        "</tool_call><|im_end|>\n"
    ) in prompt
    assert "<|im_start|>tool\n<tool_response>\nf(1) = 2\n</tool_response><|im_end|>\n" in prompt
    assert prompt.endswith("<|im_start|>assistant\n")


def test_malformed_earlier_arguments_are_shown_verbatim() -> None:
    call = {"id": "c", "type": "function", "function": {"name": "query", "arguments": "{oops"}}
    prompt = render_prompt([{"role": "assistant", "content": "", "tool_calls": [call]}])
    assert '{"name": "query", "arguments": "{oops"}' in prompt


def test_list_content_keeps_its_text_parts() -> None:
    parts = [{"type": "text", "text": "a"}, {"type": "image_url"}, {"type": "text", "text": "b"}]
    assert "<|im_start|>user\nab<|im_end|>" in render_prompt([{"role": "user", "content": parts}])


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        (None, []),
        ("none", []),
        ("auto", []),
        ("required", ["query", "submit"]),
        ({"type": "function", "function": {"name": "submit"}}, ["submit"]),
    ],
)
def test_forced_names(choice: Any, expected: list[str]) -> None:
    assert forced_names(TOOLS, choice) == expected


def test_no_tools_force_nothing() -> None:
    assert forced_names(None, "required") == []


def test_one_name_gives_that_tools_schema_with_a_constant_name() -> None:
    schema = reply_schema(TOOLS, ["submit"])
    assert schema["properties"]["name"] == {"const": "submit"}
    assert schema["properties"]["arguments"] == TOOLS[1]["function"]["parameters"]
    assert schema["required"] == ["name", "arguments"]


def test_several_names_give_a_union() -> None:
    schema = reply_schema(TOOLS, ["query", "submit"])
    assert [o["properties"]["name"]["const"] for o in schema["oneOf"]] == ["query", "submit"]


def test_unknown_forced_name_is_an_error() -> None:
    with pytest.raises(ValueError) as info:
        reply_schema(TOOLS, ["delete"])
    assert str(info.value) == "tool_choice names 'delete', which is not among the tools"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"name": "query", "arguments": {"calls": "f(2)"}}', ("query", '{"calls": "f(2)"}')),
        # llama.cpp's JSON grammar admits raw newlines in strings: re-encoded, not rejected
        ('{"name": "submit", "arguments": {"code": "a\nb"}}', ("submit", '{"code": "a\\nb"}')),
        # cut by max_tokens: the raw argument text is kept, as other providers do
        ('{"name": "submit", "arguments": {"code": "def f(', ("submit", '{"code": "def f(')),
        ('{"name": "sub', None),
    ],
)
def test_parse_forced_reply(text: str, expected: tuple[str, str] | None) -> None:
    assert parse_forced_reply(text, ["query", "submit"]) == expected


def test_a_single_forced_name_survives_a_cut_before_the_name() -> None:
    assert parse_forced_reply('{"na', ["submit"]) == ("submit", "")


def test_auto_reply_extracts_known_tool_calls() -> None:
    text = (
        'Let me look.\n<tool_call>\n{"name": "query", "arguments": {"calls": "f(0)"}}\n</tool_call>'
    )
    assert parse_auto_reply(text, ["query", "submit"]) == (
        "Let me look.",
        [("query", '{"calls": "f(0)"}')],
    )


@pytest.mark.parametrize(
    "text",
    [
        "Just prose.",
        '<tool_call>{"name": "rm", "arguments": {}}</tool_call>',  # unknown tool
        "<tool_call>{not json}</tool_call>",
    ],
)
def test_auto_reply_without_a_usable_call_stays_text(text: str) -> None:
    assert parse_auto_reply(text, ["query", "submit"]) == (text, [])
