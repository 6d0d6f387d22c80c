"""Reading actions from replies: the text protocol's headers and native tool arguments."""

from __future__ import annotations

import pytest

from codearc_env.agents.parsing import (
    ParsedAction,
    Unreadable,
    extract_code,
    parse_text_action,
    parse_tool_call,
    query_lines,
)

FENCE = "```"


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (f"INVOCATIONS\n{FENCE}python\nf(1)\n{FENCE}", ParsedAction("query", "f(1)")),
        (
            f"Let me test.\n\n**INVOCATIONS**\n\n{FENCE}\nf(1)\nf(2)\n{FENCE}\nDone.",
            ParsedAction("query", "f(1)\nf(2)"),
        ),
        (
            f"### IMPLEMENTATION:\n{FENCE}python\ndef f(x):\n    return x\n{FENCE}",
            ParsedAction("submit", "def f(x):\n    return x"),
        ),
        # A mention of the keyword in prose is not an action (the original's misparse).
        (
            f"I will write the IMPLEMENTATION later.\nINVOCATIONS\n{FENCE}python\nf(3)\n{FENCE}",
            ParsedAction("query", "f(3)"),
        ),
        # A keyword inside a code block is not a header either.
        (
            f"INVOCATIONS\n{FENCE}python\nf('IMPLEMENTATION')\n{FENCE}\n"
            f"{FENCE}\nIMPLEMENTATION\n{FENCE}",
            ParsedAction("query", "f('IMPLEMENTATION')"),
        ),
        # Nested fence markers of another length do not close the block early.
        (
            "IMPLEMENTATION\n````python\ns = '```'\ndef f():\n    return s\n````",
            ParsedAction("submit", "s = '```'\ndef f():\n    return s"),
        ),
    ],
)
def test_text_actions(reply, expected):
    assert parse_text_action(reply) == expected


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (
            "I think the IMPLEMENTATION is f(x) = x + 1.",
            "no line holding only INVOCATIONS or IMPLEMENTATION was found.",
        ),
        (
            "IMPLEMENTATION\ndef f(x): return x",
            "the keyword is not followed by a fenced python block.",
        ),
        (
            f"IMPLEMENTATION\n{FENCE}python\ndef f(x): return x\n",
            "the keyword is not followed by a fenced python block.",
        ),
        (
            f"INVOCATIONS\n{FENCE}\nf(1)\n{FENCE}\nIMPLEMENTATION\n{FENCE}\ndef f(x): pass\n{FENCE}",
            "the reply holds 2 actions; send exactly one per turn.",
        ),
        ("", "no line holding only INVOCATIONS or IMPLEMENTATION was found."),
    ],
)
def test_unreadable_text_replies(reply, reason):
    assert parse_text_action(reply) == Unreadable(reason)


def test_query_lines_drop_blanks_comments_and_indentation():
    assert query_lines("\n  f(1)\n# note\n\n    f(2)  \n") == "f(1)\nf(2)"


def test_extract_code_takes_last_fence_or_whole_text():
    assert extract_code(f"a\n{FENCE}\nx = 1\n{FENCE}\nb\n{FENCE}py\ny = 2\n{FENCE}") == "y = 2"
    assert extract_code("def f(): pass") == "def f(): pass"


@pytest.mark.parametrize(
    ("name", "arguments", "expected"),
    [
        ("query", '{"calls": "f(1)\\nf(2)"}', ParsedAction("query", "f(1)\nf(2)")),
        ("query", '{"calls": ["f(1)", "f(2)"]}', ParsedAction("query", "f(1)\nf(2)")),
        ("Query", '{"call": "f(1)"}', ParsedAction("query", "f(1)")),
        ("query", '{"whatever": "f(1)"}', ParsedAction("query", "f(1)")),
        ("query", 'Sure! {"calls": "f(1)"}', ParsedAction("query", "f(1)")),
        ("query", "f(1)", ParsedAction("query", "f(1)")),
        (
            "submit",
            '{"code": "```python\\ndef f(x):\\n    return x\\n```"}',
            ParsedAction("submit", "def f(x):\n    return x"),
        ),
        ("submit", '{"program": "def f(): pass"}', ParsedAction("submit", "def f(): pass")),
    ],
)
def test_tool_arguments_are_read_robustly(name, arguments, expected):
    assert parse_tool_call(name, arguments) == expected


@pytest.mark.parametrize(
    ("name", "arguments", "reason"),
    [
        ("run", "{}", "unknown tool 'run'; the tools are 'query' and 'submit'."),
        ("query", "{}", "the query tool needs 'calls': a string with one call per line."),
        ("query", '{"calls": 3}', "the query tool needs 'calls': a string with one call per line."),
        (
            "submit",
            '{"code": ""}',
            "the submit tool needs 'code': the complete program as a string.",
        ),
        (
            "submit",
            '{"a": "x", "b": "y"}',
            "the submit tool needs 'code': the complete program as a string.",
        ),
    ],
)
def test_unusable_tool_calls(name, arguments, reason):
    assert parse_tool_call(name, arguments) == Unreadable(reason)
