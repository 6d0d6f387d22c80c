"""Comparison rules on encoded trees, one row per rule."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codearc_env.functions.spec import Comparison
from codearc_env.oracle.compare import results_match, skeleton, values_match
from codearc_env.sandbox.base import CallResult
from codearc_env.sandbox.codec import Opaque, encode

DEFAULT = Comparison()

VALUE_CASES = [
    (1, 1, True),
    (1, 2, False),
    (True, 1, False),  # bool is not int
    (0, False, False),
    (1, 1.0, False),  # int is not float
    ([1, 2], (1, 2), False),  # list is not tuple
    ([1, 2], [1, 2], True),
    ([1, 2], [2, 1], False),
    ([1, 2], [1, 2, 3], False),
    ({"a": 1, "b": 2}, {"b": 2, "a": 1}, True),  # dict order ignored, as Python's ==
    ({"a": 1}, {"a": 2}, False),
    ({"a": 1}, {"b": 1}, False),
    ({1, 2, 3}, {3, 2, 1}, True),
    ({1, 2}, frozenset({1, 2}), False),
    (0.1 + 0.2, 0.3, True),  # within the relative tolerance
    (1.0, 1.0001, False),
    (math.nan, math.nan, True),
    (math.inf, math.inf, True),
    (math.inf, -math.inf, False),
    (math.nan, 0.0, False),
    (complex(1, 2), complex(1, 2 + 1e-15), True),
    ("abc", "abc", True),
    ("abc", "abd", False),
    (None, None, True),
    (None, 0, False),
    (b"ab", "ab", False),
    ([[1, [2.0]]], [[1, [2.0000000000001]]], True),
]


@pytest.mark.parametrize(("expected", "actual", "match"), VALUE_CASES)
def test_values(expected: object, actual: object, match: bool) -> None:
    assert values_match(encode(expected), encode(actual), DEFAULT) is match


def test_bool_equals_int_when_configured() -> None:
    lenient = Comparison(bool_equals_int=True)
    assert values_match(encode(True), encode(1), lenient)
    assert not values_match(encode(True), encode(2), lenient)


def test_tolerances_come_from_the_function() -> None:
    loose = Comparison(float_rel_tol=1e-3)
    assert values_match(encode(1.0), encode(1.0001), loose)
    assert not values_match(encode(1.0), encode(1.01), loose)


class Thing:
    def __repr__(self) -> str:
        return "Thing()"


def test_opaque_values_compare_by_type_and_repr() -> None:
    a = {"t": "opaque", "type": "m.Thing", "v": "Thing()"}
    assert values_match(a, dict(a), DEFAULT)
    assert not values_match(a, {**a, "type": "m.Other"}, DEFAULT)
    assert not values_match(a, {**a, "v": "Thing(1)"}, DEFAULT)
    assert Opaque("m.Thing", "Thing()") == Opaque("m.Thing", "Thing()")


def test_opaque_memory_addresses_are_ignored() -> None:
    # A generator's repr names its address, which differs between the two sandboxes.
    gen = {"t": "opaque", "type": "builtins.generator", "v": "<generator object f at 0x7f1a2b>"}
    other = {**gen, "v": "<generator object f at 0x7e00ff>"}
    assert values_match(gen, other, DEFAULT)
    assert not values_match(gen, {**gen, "v": "<generator object g at 0x7e00ff>"}, DEFAULT)


def ok(value: object) -> CallResult:
    return CallResult(ok=True, value=encode(value), value_str=str(value))


def raised(kind: str, message: str = "boom") -> CallResult:
    return CallResult(ok=False, error_type=kind, error_message=message)


def test_exception_matches_any_exception_by_default() -> None:
    assert results_match(raised("ValueError"), raised("KeyError"), DEFAULT)


def test_exception_type_must_match_when_configured() -> None:
    strict = Comparison(exception_type_must_match=True)
    assert not results_match(raised("ValueError"), raised("KeyError"), strict)
    assert results_match(raised("ValueError"), raised("ValueError", "other text"), strict)


def test_exception_never_matches_a_value() -> None:
    assert not results_match(raised("ValueError"), ok(None), DEFAULT)
    assert not results_match(ok(None), raised("ValueError"), DEFAULT)


def test_timeout_never_matches() -> None:
    assert not results_match(ok(1), CallResult(ok=False, timed_out=True), DEFAULT)


def test_truncated_values_match_only_when_both_are_truncated_alike() -> None:
    big = CallResult(ok=True, value=None, value_str="x" * 10, truncated=True)
    assert results_match(big, big, DEFAULT)
    assert not results_match(big, ok("x" * 10), DEFAULT)
    assert not results_match(big, CallResult(ok=True, value_str="y" * 10, truncated=True), DEFAULT)


def test_skeleton_ignores_values_and_lengths_but_not_types() -> None:
    assert skeleton(encode([1, 2, 3])) == skeleton(encode([7]))
    assert skeleton(encode([1, 2])) != skeleton(encode([1.0]))
    assert skeleton(encode({"a": 1})) == skeleton(encode({"zz": 5, "b": 0}))
    assert skeleton(encode(3)) != skeleton(encode("3"))


def test_truncated_values_compare_by_digest() -> None:
    def big(digest: str) -> CallResult:
        tree = {"t": "opaque", "type": "truncated:list", "v": f"sha256={digest} chars=9"}
        return CallResult(ok=True, value=tree, value_str="[1, 1, 1", truncated=True)

    assert results_match(big("aa"), big("aa"), DEFAULT)
    assert not results_match(big("aa"), big("bb"), DEFAULT)


# ---- equal trees: results_match answers without walking the rules ------------------------

class _Point:
    def __init__(self, x: object) -> None:
        self.x = x

    def __repr__(self) -> str:
        return "Point"


class _Same:
    """Distinct keys of one dict that the codec encodes alike (one repr, no attributes)."""

    def __repr__(self) -> str:
        return "Same"


EQUAL_TREES = [
    0, -12345678901234567890, True, None, "text", b"\x00\xff", 1.5, -0.0, math.nan, math.inf,
    complex(math.nan, 1), [1, [2.5, (None, "x")]], (), {3, 1, 2}, frozenset({"a"}),
    iter([1, 2]), (x for x in [math.nan]), _Point([1.0, math.nan]), _Point(_Point(2)),
    {"a": 1, "b": [math.nan]}, {math.nan: 1}, {_Same(): 1, _Same(): 1},
    {_Same(): 1, _Same(): 2},  # not equal to itself: items are paired by canonical key
    [{math.nan: 1, float("nan"): 2}],
]


@pytest.mark.parametrize("value", EQUAL_TREES, ids=repr)
@pytest.mark.parametrize("cmp", [DEFAULT, Comparison(float_rel_tol=0.0, float_abs_tol=0.0,
                                                    bool_equals_int=True)])
def test_equal_trees_match_exactly_when_the_rules_say_so(value: object, cmp: Comparison) -> None:
    tree = encode(value)
    twin = json.loads(json.dumps(tree))  # what a sandbox's reply decodes to
    expected = CallResult(ok=True, value=tree, value_str="?")
    assert results_match(expected, CallResult(ok=True, value=twin, value_str="?"), cmp) is (
        values_match(tree, twin, cmp)
    )


def test_dict_with_keys_encoded_alike_is_not_equal_to_itself() -> None:
    tree = encode({_Same(): 1, _Same(): 2})
    r = CallResult(ok=True, value=tree)
    assert not results_match(r, CallResult(ok=True, value=json.loads(json.dumps(tree))), DEFAULT)


def test_equal_trees_without_a_dict_need_no_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    from codearc_env.oracle import compare

    def walked(*args: object) -> bool:
        raise AssertionError("values_match was called")

    monkeypatch.setattr(compare, "values_match", walked)
    tree = encode([1, (2.5, "x"), _Point(3)])
    r = CallResult(ok=True, value=tree)
    assert results_match(r, CallResult(ok=True, value=json.loads(json.dumps(tree))), DEFAULT)
    with pytest.raises(AssertionError, match="values_match was called"):
        results_match(r, CallResult(ok=True, value=encode([1, (2.5, "y"), _Point(3)])), DEFAULT)
    with pytest.raises(AssertionError, match="values_match was called"):  # a dict: the rules
        results_match(CallResult(ok=True, value=encode({1: 2})),
                      CallResult(ok=True, value=encode({1: 2})), DEFAULT)


@settings(max_examples=300, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=4),
        lambda inner: st.lists(inner, max_size=3) | st.tuples(inner, inner)
        | st.dictionaries(st.integers() | st.floats() | st.text(max_size=2), inner, max_size=3)
        | st.frozensets(st.integers() | st.text(max_size=2), max_size=3),
        max_leaves=12,
    )
)
def test_results_match_of_equal_trees_is_the_rules_answer(value: object) -> None:
    tree = encode(value)
    twin = json.loads(json.dumps(tree))
    got = results_match(CallResult(ok=True, value=tree), CallResult(ok=True, value=twin), DEFAULT)
    assert got is values_match(tree, twin, DEFAULT)


def test_bool_equals_int_still_compares_recorded_types() -> None:
    import enum

    class Level(enum.IntEnum):
        ONE = 1

    loose = Comparison(bool_equals_int=True)
    assert values_match(encode(True), encode(1), loose)
    assert not values_match(encode(True), encode(Level.ONE), loose)  # the type is recorded
    assert not values_match(encode(Level.ONE), encode(True), loose)
