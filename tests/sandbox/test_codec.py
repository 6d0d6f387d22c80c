"""Property tests of the value codec: types survive the round trip; str() matches Python's."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codearc_env.sandbox import codec
from codearc_env.sandbox.base import Invocation, Sandbox

hashable_atoms = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**60), max_value=10**60),
    st.floats(allow_nan=True, allow_infinity=True),
    st.complex_numbers(allow_nan=True, allow_infinity=True),
    st.text(),
    st.text(alphabet=st.characters(codec=None, categories=["Cs", "L", "Nd"])),  # lone surrogates
    st.binary(),
)
hashables = st.recursive(
    hashable_atoms,
    lambda inner: st.tuples(inner, inner) | st.frozensets(inner, max_size=4),
    max_leaves=8,
)


def containers(inner: st.SearchStrategy[object], with_sets: bool) -> st.SearchStrategy[object]:
    options = [
        st.lists(inner, max_size=5),
        st.lists(inner, max_size=5).map(tuple),
        # Set iteration order is not preserved across processes, so no sets in str() tests.
        st.dictionaries(hashables if with_sets else hashable_atoms, inner, max_size=4),
    ]
    if with_sets:
        options += [st.sets(hashables, max_size=4), st.frozensets(hashables, max_size=4)]
    return st.one_of(options)


values = st.recursive(hashable_atoms, lambda i: containers(i, True), max_leaves=20)
values_without_sets = st.recursive(hashable_atoms, lambda i: containers(i, False), max_leaves=20)


def same(a: object, b: object) -> bool:
    """Equal with identical types at every level; nan equals nan; -0.0 differs from 0.0."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (
            a == b and math.copysign(1, a) == math.copysign(1, b)
        )  # type: ignore[arg-type]
    if isinstance(a, complex):
        return same(a.real, b.real) and same(a.imag, b.imag)  # type: ignore[union-attr]
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))  # type: ignore[arg-type]
    if isinstance(a, dict):
        return len(a) == len(b) and all(
            same(k1, k2) and same(v1, v2)
            for (k1, v1), (k2, v2) in zip(a.items(), b.items(), strict=True)  # type: ignore[union-attr]
        )
    if isinstance(a, (set, frozenset)):
        key = lambda x: codec.canonical(codec.encode(x))  # noqa: E731
        return len(a) == len(b) and all(
            same(x, y)
            for x, y in zip(sorted(a, key=key), sorted(b, key=key), strict=True)  # type: ignore[call-overload]
        )
    return a == b


@given(values)
def test_round_trip_keeps_value_and_types(value: object) -> None:
    tree = codec.encode(value)
    codec.validate(tree)
    assert same(codec.decode(tree), value)


@given(values)
def test_encoding_is_json_and_stable(value: object) -> None:
    tree = codec.encode(value)
    assert codec.encode(codec.decode(tree)) == tree


@pytest.mark.parametrize(
    ("value", "tag"),
    [
        (True, "bool"),
        (1, "int"),
        ((1,), "tuple"),
        ([1], "list"),
        (frozenset(), "frozenset"),
        (float("-inf"), "float"),
        (b"", "bytes"),
    ],
)
def test_tags_keep_types_apart(value: object, tag: str) -> None:
    assert codec.encode(value)["t"] == tag


def test_subclass_of_builtin_keeps_its_value_and_type_not_its_methods() -> None:
    class Liar(int):
        def __eq__(self, other: object) -> bool:
            return True

        def __str__(self) -> str:
            return "4"

        __hash__ = int.__hash__

    tree = codec.encode(Liar(3))
    assert (tree["t"], tree["v"]) == ("int", "3")
    assert tree["type"].endswith(".Liar")
    assert tree != codec.encode(3)  # the recorded type keeps it apart from a plain int


@pytest.mark.parametrize(
    "tree",
    [
        {"t": "int", "v": "12a"},
        {"t": "int", "v": 12},
        {"t": "float", "v": "x"},
        {"t": "list", "v": "abc"},
        {"t": "dict", "v": [[{"t": "none"}]]},
        {"t": "bool", "v": 1},
        {"t": "mystery"},
        ["t", "int"],
    ],
)
def test_validate_rejects_malformed_trees(tree: object) -> None:
    with pytest.raises(ValueError):
        codec.validate(tree)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(values_without_sets, min_size=1, max_size=15))
def test_sandbox_str_matches_python(box: Sandbox, batch: list[object]) -> None:
    """The str() rendering computed inside the sandbox is Python's own, for every backend."""
    results = box.run("def f(x):\n    return x\n", "f", [Invocation(args=(v,)) for v in batch])
    for value, result in zip(batch, results, strict=True):
        assert result.ok, result
        assert result.value_str == str(value)
        assert same(codec.decode(result.value), value)


@pytest.mark.parametrize(
    "n", [10**4299, 10**4300 + 7, -(3**20000), 7**30000], ids=["4300", "4301", "neg", "25k"]
)
def test_ints_beyond_the_interpreter_digit_limit_round_trip(n: int) -> None:
    # The harness keeps Python's default int_max_str_digits; the codec must not depend on it.
    tree = codec.encode(n)
    assert codec.decode(tree) == n
    assert tree["v"].lstrip("-").isdigit() and tree["v"].startswith("-") == (n < 0)
    assert int(tree["v"][-15:]) == abs(n) % 10**15
