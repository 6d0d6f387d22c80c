"""parse_calls keeps short texts' parses: what it returns must be what a fresh parse returns."""

from __future__ import annotations

import contextlib
import math
from typing import Any

import pytest

from codearc_env.errors import CallParseError
from codearc_env.functions import calls as calls_module
from codearc_env.functions.calls import CACHED_CHARS, TOO_DEEP, parse_call, parse_calls

TEXTS = [
    "f(1, 'a', b'x', None, True, -2.5, 1+2j)",
    "f([1, [2, 3]], {'k': [4]}, {5, 6}, (7, [8]), frozenset([9]))",
    "f(x=[1], y={'a': {1, 2}})\nf(())",
    "f(set(), {}, [], float('inf'))",
    "print('Result 1: ' + str(f({1: 'a', 1.0: 'b', True: 'c'})))",
    "f({(1, 2): [3], frozenset({4}): 5})",
]


@pytest.fixture(autouse=True)
def _empty_record():
    calls_module._kept_parse.cache_clear()
    yield
    calls_module._kept_parse.cache_clear()


@pytest.mark.parametrize("text", TEXTS)
def test_a_kept_parse_equals_a_fresh_one(text: str) -> None:
    fresh = calls_module._parse_calls(text, "f")
    first, second = parse_calls(text, "f"), parse_calls(text, "f")
    assert first == fresh and second == fresh
    assert [repr(c) for c in second] == [repr(c) for c in fresh]  # same types too (1 vs True)
    assert calls_module._kept_parse.cache_info().hits == 1


def test_each_caller_gets_its_own_lists_dicts_and_sets() -> None:
    text = TEXTS[1]
    first = parse_calls(text, "f")[0]
    first.args[0].append("mutated")
    first.args[0][1].append("deep")
    first.args[1]["k"].append("value")
    first.args[1]["new"] = 1
    first.args[2].add(99)
    first.args[3][1].append("in tuple")
    again = parse_calls(text, "f")[0]
    assert again.args == ([1, [2, 3]], {"k": [4]}, {5, 6}, (7, [8]), frozenset([9]))
    third = parse_calls(text, "f")[0]
    assert third.args[0] is not again.args[0] and third.args[1] is not again.args[1]
    assert third.args[2] is not again.args[2] and third.args[3][1] is not again.args[3][1]


def test_keyword_containers_are_copied_too() -> None:
    call = parse_calls("f(x=[1], y={'a': {1, 2}})", "f")[0]
    call.kwargs[0][1].append(2)
    call.kwargs[1][1]["a"].add(3)
    assert parse_calls("f(x=[1], y={'a': {1, 2}})", "f")[0].kwargs == (
        ("x", [1]), ("y", {"a": {1, 2}}))


def test_a_returned_list_is_new_each_time() -> None:
    calls = parse_calls("f(1)\nf(2)", "f")
    calls.clear()
    assert [c.args for c in parse_calls("f(1)\nf(2)", "f")] == [(1,), (2,)]


@pytest.mark.parametrize(
    ("text", "target", "message"),
    [
        ("g(1)", "f", "statement 1: the call must be of 'f', not 'g'"),
        ("f(1", "f", "syntax error: '(' was never closed (line 1)"),
        ("f(x)", "f", "statement 1: not a literal: Name at column 2"),
        ("x = f(1)", "f", "statement 1: only calls are allowed, not Assign"),
        ("f(*[1])", "f", "statement 1: '*' unpacking is not allowed; write the arguments out"),
        ("f([1] + [2])", "f", "statement 1: arithmetic is not allowed in arguments "
                              "(only a+bj complex numbers)"),
        ("f({[1]: 2})", "f", "statement 1: unhashable dict key: unhashable type: 'list'"),
        ("# nothing", "f", "no call found"),
    ],
)
def test_a_bad_text_gives_the_same_error_every_time(text: str, target: str, message: str) -> None:
    for _ in range(3):
        with pytest.raises(CallParseError) as caught:
            parse_calls(text, target)
        assert str(caught.value) == message
    assert calls_module._kept_parse.cache_info().hits == 2


def test_the_target_is_part_of_what_is_kept() -> None:
    assert parse_calls("f(1)", "f")[0].args == (1,)
    with pytest.raises(CallParseError, match=r"^statement 1: the call must be of 'g', not 'f'$"):
        parse_calls("f(1)", "g")
    assert parse_calls("f(1)")[0].name == "f"  # no target: any name
    assert parse_calls("f(1)", "f")[0].args == (1,)
    assert calls_module._kept_parse.cache_info().currsize == 3


def test_a_nan_is_parsed_anew_each_time() -> None:
    # NaN is not equal to itself: only a new object is what a fresh parse gives.
    for text in ("f(float('nan'))", "f([1, (float('nan'),)])", "f({float('nan')})",
                 "f(float('nan') + 1j)"):
        first, second = parse_calls(text, "f")[0], parse_calls(text, "f")[0]
        assert repr(first) == repr(second)
        assert first.args[0] is not second.args[0]
        assert calls_module._kept_parse(text, "f") is None
    value = parse_calls("f(float('nan'))", "f")[0].args[0]
    assert math.isnan(value)


def test_too_deep_is_not_kept_and_keeps_its_message() -> None:
    text = "f(" + "[" * 102 + "]" * 102 + ")"
    for _ in range(2):
        with pytest.raises(CallParseError) as caught:
            parse_calls(text, "f")
        assert str(caught.value) == f"statement 1: {TOO_DEEP}"
    assert calls_module._kept_parse(text, "f") is None


def test_long_texts_are_not_kept() -> None:
    text = "f(" + repr("x" * CACHED_CHARS) + ")"
    assert parse_call(text, "f").args == ("x" * CACHED_CHARS,)
    assert calls_module._kept_parse.cache_info().currsize == 0
    short = "f(" + repr("x" * (CACHED_CHARS - 5)) + ")"
    assert len(short) == CACHED_CHARS
    parse_call(short, "f")
    assert calls_module._kept_parse.cache_info().currsize == 1


def test_a_str_subclass_is_parsed_afresh() -> None:
    class Text(str):
        pass

    assert parse_calls(Text("f(1)"), "f")[0].args == (1,)
    assert calls_module._kept_parse.cache_info().currsize == 0
    with pytest.raises(CallParseError, match=r"^call text must be a string, not bytes$"):
        parse_calls(b"f(1)", "f")  # type: ignore[arg-type]


def test_a_kept_parse_deep_in_a_stack_raises_no_recursion_error_a_fresh_parse_would_not(
) -> None:
    import sys

    from codearc_env.functions.calls import _parse_calls

    text = "f(" + "{1:" * 99 + "[0]" + "}" * 99 + ")"
    parse_calls(text, "f")  # kept, from a shallow stack

    def at_depth(n: int, parse: Any) -> str:
        if n > 0:
            return at_depth(n - 1, parse)
        try:
            parse(text, "f")
            return "parsed"
        except CallParseError:
            return "refused"
        except RecursionError:
            return "RecursionError"

    limit = sys.getrecursionlimit()
    pairs = []
    for depth in range(limit - 450, limit - 10):
        with contextlib.suppress(RecursionError):  # the test's own frames ran out first
            # parse_calls is one frame more than _parse_calls alone
            pairs.append((depth, at_depth(depth, parse_calls), at_depth(depth + 1, _parse_calls)))
    assert any(kept == "parsed" for _, kept, _ in pairs)
    assert any(fresh == "refused" for _, _, fresh in pairs)  # the depths reach the limit
    worse = [p for p in pairs if p[1] == "RecursionError" and p[2] != "RecursionError"]
    assert not worse, worse
