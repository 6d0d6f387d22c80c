"""Inputs from the reference's literals: which literals, where they go, what they catch."""

from __future__ import annotations

import pytest
from oracle_helpers import make_fn

from codearc_env.oracle import Oracle
from codearc_env.oracle.call_input import CallInput
from codearc_env.oracle.inputs import generate_inputs
from codearc_env.oracle.literals import MAX_INTS, MAX_STRINGS, literal_inputs, source_literals

TABLE = '''
def rate(amount: int, code: str) -> str:
    """Converts with a fixed table; the docstring is no literal to try."""
    rates = {"Ar": 478, "Ba": 82, "Cr": 6, "Sa": 3, "Vi": 22573}
    if amount > 1000:
        return "too much"
    return f"{amount * rates.get(code[:2], 0)} of {code}"
'''
CALLS = [f"rate({n}, {c!r})" for n, c in [(100, "Ar"), (5, "Ba"), (7, "Cr"), (1, "Ar")]]


def test_string_and_int_literals_in_source_order_without_docstrings() -> None:
    strings, ints = source_literals(TABLE)
    assert strings == ["Ar", "Ba", "Cr", "Sa", "Vi", "too much", " of "]
    assert ints == [478, 82, 6, 3, 22573, 1000]


def test_small_ints_long_strings_and_repeats_are_left_out_and_counts_capped() -> None:
    code = "def f(s):\n    return s == 'x' * 100 or s in ('a', 'a', '" + "y" * 65 + "') or s == 1\n"
    assert source_literals(code) == (["x", "a"], [100])
    many = "def f(s):\n    return s in (" + ", ".join(f"'k{i}'" for i in range(40)) + ")\n"
    assert source_literals(many)[0] == [f"k{i}" for i in range(MAX_STRINGS)]
    numbers = "def f(n):\n    return n in (" + ", ".join(str(i) for i in range(3, 40)) + ")\n"
    assert source_literals(numbers)[1] == list(range(3, 3 + MAX_INTS))


def test_a_source_that_does_not_parse_gives_no_literals() -> None:
    assert source_literals("def f(:\n") == ([], [])


def test_each_str_or_int_argument_takes_each_literal_one_at_a_time() -> None:
    got = literal_inputs([CallInput((100, "Ar"))], TABLE)
    assert CallInput((100, "Sa"), (), "edge") in got
    assert CallInput((100, "too much"), (), "edge") in got
    assert CallInput((999, "Ar"), (), "edge") in got and CallInput((1001, "Ar"), (), "edge") in got
    assert all(x.origin == "edge" for x in got)
    assert CallInput((100, "Ar"), (), "edge") not in got  # the base itself is no variant
    kw = literal_inputs([CallInput((), (("code", "Ar"),))], TABLE)
    assert CallInput((), (("code", "Vi"),), "edge") in kw


def test_generated_inputs_include_the_literal_variants() -> None:
    fn = make_fn(TABLE, "rate", CALLS)
    calls = {x.call_text("rate") for x in generate_inputs(fn, seed=0, strength="tiny")}
    assert {"rate(100, 'Sa')", "rate(100, 'Vi')", "rate(1001, 'Ar')"} <= calls


@pytest.fixture()
def oracle(boxes, tmp_path) -> Oracle:  # type: ignore[no-untyped-def]
    return Oracle(*boxes, strength="tiny", cache_dir=tmp_path)


def test_a_wrong_entry_for_a_key_no_example_shows_fails(oracle: Oracle) -> None:
    fn = make_fn(TABLE, "rate", CALLS)
    wrong = TABLE.replace('"Vi": 22573', '"Vi": 22572')
    v = oracle.check(fn, wrong)
    assert not v.passed and v.counterexample is not None
    assert "'Vi'" in v.counterexample.call_text
    assert oracle.check(fn, TABLE).passed
