"""Bad actions become invalid-action observations with exact messages; the env stays usable."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from codearc_env.actions import Invalid, Query, Submit, check_submission, parse_action
from codearc_env.env import CodeARCEnv
from codearc_env.testing import TOY_SOLUTIONS

ADD = "builtin/annotated/add"

BAD_ACTIONS: list[tuple[Any, str]] = [
    (None, "an action must be a dict with keys 'kind' and 'text', not NoneType"),
    ("add(1, 2)", "an action must be a dict with keys 'kind' and 'text', not str"),
    ({"text": "add(1, 2)"}, "the action is missing 'kind'"),
    ({}, "the action is missing 'kind' and 'text'"),
    ({"kind": 0, "text": "add(1, 2)", "x": 1}, "unknown action keys: x"),
    ({"kind": 2, "text": "add(1, 2)"}, "'kind' must be 0 (query) or 1 (submit), not 2"),
    ({"kind": True, "text": "add(1, 2)"}, "'kind' must be 0 (query) or 1 (submit), not True"),
    ({"kind": "0", "text": "add(1, 2)"}, "'kind' must be 0 (query) or 1 (submit), not '0'"),
    ({"kind": 0, "text": None}, "'text' must be a str, not NoneType"),
    (
        {"kind": 0, "text": b"add(1, 2)"},
        "'text' must be a str, not bytes (decode it as UTF-8 first)",
    ),
    (
        {"kind": 0, "text": b"\xff\xfe"},
        "'text' must be a str, not bytes (decode it as UTF-8 first)",
    ),
    (
        {"kind": 0, "text": "add(1, 2)\udcff"},
        "the action text is not valid unicode (lone surrogate at position 9)",
    ),
    (
        {"kind": 0, "text": "x" * 1_000_000},
        "the action text is 1000000 characters; the limit is 100000",
    ),
    ({"kind": 0, "text": "  \n"}, "the action text is empty"),
    (
        {"kind": 0, "text": "sub(1, 2)"},
        "invalid query: statement 1: the call must be of 'add', not 'sub'",
    ),
    (
        {"kind": 0, "text": "__import__('os').system('true')"},
        "invalid query: statement 1: the called function must be a plain name",
    ),
    (
        {"kind": 0, "text": "add(__import__('os'))"},
        "invalid query: statement 1: calls are not allowed inside arguments: __import__(...)",
    ),
    ({"kind": 0, "text": "add(1, 2"}, "invalid query: syntax error: '(' was never closed (line 1)"),
    (
        {"kind": 0, "text": "import os"},
        "invalid query: statement 1: only calls are allowed, not Import",
    ),
    (
        {"kind": 1, "text": "def sub(a, b):\n    return a - b"},
        "the submission does not define 'add' at top level",
    ),
    ({"kind": 1, "text": "print(1)"}, "the submission does not define 'add' at top level"),
    (
        {"kind": 1, "text": "def add(a, b)\n    return a"},
        "the submission does not parse: expected ':' (line 1)",
    ),
    (
        {"kind": 1, "text": "def add(a):\x00 pass"},
        "the submission is binary data (it contains NUL bytes)",
    ),
    ({"kind": 1, "text": "add: int"}, "the submission does not define 'add' at top level"),
]


@pytest.mark.parametrize(("action", "reason"), BAD_ACTIONS)
def test_bad_action_is_an_invalid_observation(
    toy_env: CodeARCEnv, action: Any, reason: str
) -> None:
    toy_env.reset(seed=0, options={"problem": ADD})
    obs, reward, terminated, truncated, info = toy_env.step(action)
    assert obs["feedback"] == f"Invalid action: {reason}\nThis action cost a turn and nothing else."
    assert (reward, terminated, truncated) == (0.0, False, False)
    assert info["invalid_actions"] == 1 and info["n_io_used"] == 10 and info["n_oracle_used"] == 0
    assert obs in toy_env.observation_space
    # still usable
    obs, reward, terminated, *_ = toy_env.step({"kind": 1, "text": TOY_SOLUTIONS[ADD]})
    assert (reward, terminated) == (1.0, True)


def test_numpy_kinds_are_accepted() -> None:
    for kind in (np.int64(0), np.array(0), np.uint8(0)):
        assert isinstance(parse_action({"kind": kind, "text": "f(1)"}, "f"), Query)


def test_query_parses_literals_without_evaluating() -> None:
    parsed = parse_action(
        {"kind": 0, "text": "f(-1, 'a', b'x', None, [1.5, (2,)], {'k': {3}}, x=float('inf'))"},
        "f",
    )
    assert isinstance(parsed, Query)
    (call,) = parsed.calls
    assert call.args == (-1, "a", b"x", None, [1.5, (2,)], {"k": {3}})
    assert call.kwargs == (("x", float("inf")),)


def test_print_wrapped_calls_are_accepted() -> None:
    parsed = parse_action({"kind": 0, "text": "print('Result 1: ' + str(f(3)))"}, "f")
    assert isinstance(parsed, Query) and parsed.calls[0].args == (3,)


@pytest.mark.parametrize(
    "source",
    [
        "def f(x):\n    return x",
        "async def f(x):\n    return x",
        "class f:\n    pass",
        "f = lambda x: x",
        "f: object = abs",
        "from math import floor as f",
        "try:\n    from m import f\nexcept ImportError:\n    def f(x):\n        return x",
        "try:\n    def f(x):\n        return x\nexcept* ValueError:\n    pass",
        "with open('x') as f:\n    pass",
        "if True:\n    def f(x):\n        return x",
        "def helper(x):\n    return x\n\ndef f(x):\n    return helper(x)",
    ],
)
def test_submission_defining_the_target_is_accepted(source: str) -> None:
    assert check_submission(source, "f") is None
    assert parse_action({"kind": 1, "text": source}, "f") == Submit(source)


@pytest.mark.parametrize(
    "source",
    [
        "f: int",
        "def g():\n    def f(x):\n        return x",
        "from m import *",
        "",
        "def f(x):\n" + "    x\n" * 40_000,
    ],
)
def test_env_and_oracle_reject_the_same_programs(source: str) -> None:
    from codearc_env.oracle.candidate import check_candidate

    reason = check_candidate(source, "f")
    assert reason is not None
    assert check_submission(source, "f") == reason.replace("candidate", "the submission", 1)


def test_invalid_carries_the_kind_when_known() -> None:
    assert parse_action({"kind": 1, "text": "x = 1"}, "f") == Invalid(
        "the submission does not define 'f' at top level", "submit"
    )
    assert parse_action([], "f").kind == "invalid"


def test_the_oracle_verdict_travels_in_info(toy_env: CodeARCEnv) -> None:
    from codearc_env.oracle.verdict import Verdict

    toy_env.reset(seed=0, options={"problem": ADD})
    *_, info = toy_env.step({"kind": 1, "text": TOY_SOLUTIONS[ADD]})
    verdict = info["oracle_verdict"]
    assert isinstance(verdict, Verdict) and verdict.passed
    assert (info["verdict"], info["verdict_reason"]) == ("pass", verdict.reason)
    *_, before = toy_env.reset(seed=0, options={"problem": ADD})
    assert before["oracle_verdict"] is None
