"""Reading actions out of model replies: text-protocol headers, code fences, tool arguments.

Nothing here executes model text; it only finds which action a reply names and the text of
that action. Calls are parsed (with ``ast``) by the environment, programs run in a sandbox.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["query", "submit"]

KEYWORDS: dict[str, Kind] = {"INVOCATIONS": "query", "IMPLEMENTATION": "submit"}
_FENCE_OPEN = re.compile(r"^\s*(`{3,}|~{3,})\s*([\w+-]*)\s*$")
_DECORATION = " \t*#_`>:"


@dataclass(frozen=True)
class ParsedAction:
    kind: Kind
    text: str


@dataclass(frozen=True)
class Unreadable:
    """Why a reply holds no usable action; shown to the model when it gets a retry."""

    reason: str


def _header(line: str) -> Kind | None:
    """The action a line names when the line is nothing but a keyword (markdown allowed)."""
    word = line.strip(_DECORATION)
    return KEYWORDS.get(word.upper()) if word.upper() in KEYWORDS else None


def _read_fence(lines: list[str], start: int) -> tuple[str, int] | None:
    """The body of the fenced block opening at ``lines[start]`` and the index after it."""
    match = _FENCE_OPEN.match(lines[start])
    if not match:
        return None
    fence = match.group(1)
    for end in range(start + 1, len(lines)):
        closing = lines[end].strip()
        if len(closing) >= len(fence) and closing == fence[0] * len(closing):
            return "\n".join(lines[start + 1 : end]), end + 1
    return None


def parse_text_action(reply: str) -> ParsedAction | Unreadable:
    """The one action of a text-protocol reply.

    An action is a line holding only ``INVOCATIONS`` or ``IMPLEMENTATION`` (markdown
    emphasis, ``#`` and a trailing colon allowed) followed, after blank lines at most, by a
    fenced code block. A keyword inside a sentence or inside a code block is not an action:
    the original harness treated any mention of IMPLEMENTATION as a submission.
    """
    lines = reply.splitlines()
    found: list[ParsedAction] = []
    headers_without_block = 0
    i = 0
    while i < len(lines):
        if _FENCE_OPEN.match(lines[i]):
            block = _read_fence(lines, i)
            i = block[1] if block else len(lines)
            continue
        kind = _header(lines[i])
        if kind is None:
            i += 1
            continue
        j = i + 1
        while j < len(lines) and not lines[j].strip():
            j += 1
        block = _read_fence(lines, j) if j < len(lines) else None
        if block is None:
            headers_without_block += 1
            i = j
            continue
        found.append(ParsedAction(kind, block[0]))
        i = block[1]
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        return Unreadable(f"the reply holds {len(found)} actions; send exactly one per turn.")
    if headers_without_block:
        return Unreadable("the keyword is not followed by a fenced python block.")
    return Unreadable("no line holding only INVOCATIONS or IMPLEMENTATION was found.")


def query_lines(block: str) -> str:
    """The calls of an INVOCATIONS block, one per line, without blank or comment lines."""
    lines = (line.strip() for line in block.splitlines())
    return "\n".join(line for line in lines if line and not line.startswith("#"))


def extract_code(text: str) -> str:
    """The last fenced block of ``text``, or the whole text when it has no fence."""
    lines = text.splitlines()
    last: str | None = None
    i = 0
    while i < len(lines):
        block = _read_fence(lines, i) if _FENCE_OPEN.match(lines[i]) else None
        if block is not None:
            last, i = block
        else:
            i += 1
    return (last if last is not None else text).strip("\n")


_QUERY_KEYS = ("calls", "call", "queries", "query", "inputs", "input", "code", "text")
_SUBMIT_KEYS = ("code", "program", "source", "implementation", "solution", "text")


def _loads(arguments: str) -> Any:
    text = arguments.strip()
    if not text:
        return {}
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    # Small models wrap JSON in a fence or add prose around it: take the outermost object.
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        try:
            return json.loads(text[start : end + 1])
        except json.JSONDecodeError:
            pass
    return text  # not JSON at all: treat the raw text as the value


def _first_value(data: Any, keys: tuple[str, ...]) -> Any:
    if not isinstance(data, dict):
        return data
    for key in keys:
        if key in data:
            return data[key]
    if len(data) == 1:  # one argument under an unexpected name
        return next(iter(data.values()))
    return None


def parse_tool_call(name: str, arguments: str) -> ParsedAction | Unreadable:
    """The action of one native tool call, tolerant of the usual argument mistakes."""
    tool = name.strip().lower()
    if tool not in ("query", "submit"):
        return Unreadable(f"unknown tool {name!r}; the tools are 'query' and 'submit'.")
    data = _loads(arguments)
    if tool == "query":
        value = _first_value(data, _QUERY_KEYS)
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            value = "\n".join(value)
        if not isinstance(value, str) or not value.strip():
            return Unreadable("the query tool needs 'calls': a string with one call per line.")
        return ParsedAction("query", query_lines(extract_code(value)))
    value = _first_value(data, _SUBMIT_KEYS)
    if not isinstance(value, str) or not value.strip():
        return Unreadable("the submit tool needs 'code': the complete program as a string.")
    return ParsedAction("submit", extract_code(value))
