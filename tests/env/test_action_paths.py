"""parse_action takes a short path for the usual action (a plain dict, an int kind, ASCII text):
every action gets what the full checks give, on either side of each condition of that path."""

from __future__ import annotations

from collections import OrderedDict
from types import MappingProxyType
from typing import Any

import numpy as np
import pytest

from codearc_env.actions import Invalid, Query, Submit, parse_action
from codearc_env.functions.calls import parse_calls
from codearc_env.spaces import MAX_ACTION_CHARS

QUERY = Query(tuple(parse_calls("f(1, [2])", "f")))


@pytest.mark.parametrize(
    "action",
    [
        {"kind": 0, "text": "f(1, [2])"},
        OrderedDict(kind=0, text="f(1, [2])"),
        MappingProxyType({"text": "f(1, [2])", "kind": 0}),
        {"kind": np.int64(0), "text": "f(1, [2])"},
        {"kind": np.array(0), "text": "f(1, [2])"},
    ],
)
def test_every_mapping_and_kind_gives_the_same_query(action: Any) -> None:
    assert parse_action(action, "f") == QUERY


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", Invalid("the action text is empty", "query")),
        (" \t\n", Invalid("the action text is empty", "query")),
        ("\u3000\u2003", Invalid("the action text is empty", "query")),
        ("f('\u00e9')", Query(tuple(parse_calls("f('\u00e9')", "f")))),
        ("f('\udcff')", Invalid("the action text is not valid unicode (lone surrogate at "
                                "position 3)", "query")),
        ("g(1)", Invalid("invalid query: statement 1: the call must be of 'f', not 'g'", "query")),
    ],
)
def test_query_texts(text: str, expected: Any) -> None:
    assert parse_action({"kind": 0, "text": text}, "f") == expected


def test_the_length_limit_on_both_sides() -> None:
    longest = "f(" + " " * (MAX_ACTION_CHARS - 4) + "1)"
    assert len(longest) == MAX_ACTION_CHARS
    assert parse_action({"kind": 0, "text": longest}, "f") == Query(
        tuple(parse_calls(longest, "f"))
    )
    too_long = longest + " "
    assert parse_action({"kind": 1, "text": too_long}, "f") == Invalid(
        f"the action text is {MAX_ACTION_CHARS + 1} characters; the limit is {MAX_ACTION_CHARS}",
        "submit",
    )


def test_submissions() -> None:
    program = "def f(x):\n    return x\n"
    assert parse_action({"kind": 1, "text": program}, "f") == Submit(program)
    assert parse_action({"kind": np.uint8(1), "text": program}, "f") == Submit(program)
    assert parse_action({"kind": 1, "text": "print(1)"}, "f") == Invalid(
        "the submission does not define 'f' at top level", "submit"
    )


def test_a_dict_with_a_third_key_or_a_bool_kind_takes_the_full_checks() -> None:
    assert parse_action({"kind": 0, "text": "f(1)", "x": 1}, "f") == Invalid(
        "unknown action keys: x"
    )
    assert parse_action({"kind": False, "text": "f(1)"}, "f") == Invalid(
        "'kind' must be 0 (query) or 1 (submit), not False"
    )
    assert parse_action({"kind": 0, "txt": "f(1)"}, "f") == Invalid(
        "the action is missing 'text'"
    )
