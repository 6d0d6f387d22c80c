"""Input generation: determinism, known inputs first, hints and shapes, no host execution."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from oracle_helpers import make_fn

from codearc_env.oracle.hints import hint_strategy, read_signature
from codearc_env.oracle.inputs import (
    STRENGTHS,
    CallInput,
    extra_inputs,
    generate_inputs,
    strength_size,
)
from codearc_env.oracle.mutate import mutate_args

CODE = (
    "from typing import List\ndef f(xs: List[int], s: str) -> int:\n    return len(xs) + len(s)\n"
)
CALLS = [f"f({[k, k + 5]}, {'ab' * k!r})" for k in range(10)]


def test_same_seed_same_inputs_and_different_seed_different_inputs() -> None:
    fn = make_fn(CODE, "f", CALLS)
    a = generate_inputs(fn, seed=0, strength="tiny")
    assert a == generate_inputs(fn, seed=0, strength="tiny")
    assert a != generate_inputs(fn, seed=1, strength="tiny")


def test_deterministic_across_processes() -> None:
    """A fresh interpreter (other modules loaded, another hash seed) draws the same inputs."""
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from oracle_helpers import make_fn
        from codearc_env.oracle.inputs import generate_inputs
        fn = make_fn({CODE!r}, "f", {CALLS!r})
        for x in generate_inputs(fn, seed=3, strength="fast"):
            print(x.call_text("f"))
        """
    )
    runs = [
        subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": str(h), "PATH": "/usr/bin:/bin"},
        ).stdout
        for h in (1, 2)
    ]
    here = "\n".join(
        x.call_text("f")
        for x in generate_inputs(make_fn(CODE, "f", CALLS), seed=3, strength="fast")
    )
    assert runs[0] == runs[1] == here + "\n"


def test_examples_come_first_then_mutations_and_draws() -> None:
    fn = make_fn(CODE, "f", CALLS)
    got = generate_inputs(fn, seed=0, strength="fast")
    edges = [x for x in got if x.origin == "edge"]
    assert len(got) == STRENGTHS["fast"] + len(edges) and len(edges) > 10
    assert [x.call_text("f") for x in got[:10]] == CALLS
    assert {x.origin for x in got[10 : 10 + len(edges)]} == {"edge"}  # right after examples
    origins = {x.origin for x in got[10 + len(edges) :]}
    assert origins == {"mutation", "shape", "hint"}
    keys = [x.key() for x in got]
    assert len(keys) == len(set(keys))  # no duplicates


def test_anonymized_without_hints_uses_shapes_only() -> None:
    code = "def solution(n):\n    return n * 2\n"
    fn = make_fn(code, "solution", [f"solution({n})" for n in (10, 20, 30)], variant="anonymized")
    got = generate_inputs(fn, seed=0, strength="tiny")
    assert {x.origin for x in got} == {"example", "edge", "mutation", "shape"}
    assert all(type(x.args[0]) is int for x in got if x.origin != "edge")
    drawn = [x.args[0] for x in got if x.origin == "shape"]
    assert min(drawn) >= -1 and max(drawn) <= 60  # near the observed range 10..30


def test_shapes_follow_the_observed_alphabet_and_types() -> None:
    calls = [f"g({s!r}, ({n}, 'x'))" for s, n in (("0110", 1), ("1", 2), ("10", 3))]
    fn = make_fn("def g(bits, pair):\n    return bits\n", "g", calls)
    for x in generate_inputs(fn, seed=0, strength="tiny"):
        if x.origin == "edge":
            continue  # beyond the examples on purpose (tests/oracle/test_edges.py)
        bits, pair = x.args
        assert set(bits) <= set("0123456789")
        assert type(pair) is tuple and len(pair) == 2 and type(pair[1]) is str


def test_module_is_never_executed_on_the_host(tmp_path) -> None:  # type: ignore[no-untyped-def]
    marker = tmp_path / "ran"
    code = f"open({str(marker)!r}, 'w').write('x')\ndef f(n: int) -> int:\n    return n\n"
    generate_inputs(make_fn(code, "f", ["f(1)", "f(2)"]), seed=0, strength="tiny")
    assert not marker.exists()


def test_no_usable_examples_falls_back_to_hints_and_generic_values() -> None:
    fn = make_fn("def f(a: int, b: str) -> str:\n    return b * a\n", "f", [])
    got = generate_inputs(fn, seed=0, strength="tiny")
    assert len(got) > 10
    assert any(type(x.args[0]) is int and type(x.args[1]) is str for x in got if x.origin == "hint")


def test_unknown_strength_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown strength 'huge'; choose one of fast, default"):
        strength_size("huge")


@pytest.mark.parametrize(
    ("hint", "check"),
    [
        ("int", lambda v: type(v) is int),
        ("List[int]", lambda v: type(v) is list and all(type(x) is int for x in v)),
        ("list[str]", lambda v: type(v) is list and all(type(x) is str for x in v)),
        ("Dict[str, int]", lambda v: type(v) is dict),
        ("Tuple[int, str]", lambda v: type(v) is tuple and len(v) == 2),
        ("tuple[int, ...]", lambda v: type(v) is tuple),
        ("Optional[int]", lambda v: v is None or type(v) is int),
        ("int | None", lambda v: v is None or type(v) is int),
        ("typing.Set[int]", lambda v: type(v) is set),
        ("'List[float]'", lambda v: type(v) is list),
    ],
)
def test_hints_become_strategies(hint: str, check) -> None:  # type: ignore[no-untyped-def]
    from codearc_env.oracle.inputs import _draw

    strategy = hint_strategy(hint)
    assert strategy is not None
    values = _draw(strategy, 20, seed=0, label=hint)
    assert values and all(check(v) for v in values)


@pytest.mark.parametrize("hint", ["Callable[[int], int]", "MyClass", "List[", None])
def test_unmodelled_hints_give_none(hint: str | None) -> None:
    assert hint_strategy(hint) is None


def test_signature_is_read_from_the_last_definition() -> None:
    code = "def f(a):\n    pass\n\ndef f(a: int, b: str = 'x', *rest, k: bool = True, **kw):\n    pass\n"
    params = read_signature(code, "f")
    assert params is not None
    assert [(p.name, p.annotation, p.has_default, p.kind) for p in params] == [
        ("a", "int", False, "positional"),
        ("b", "str", True, "positional"),
        ("rest", None, True, "varargs"),
        ("k", "bool", True, "keyword"),
        ("kw", None, True, "varkw"),
    ]


def test_extra_inputs_are_kept_first_with_mutations() -> None:
    query = CallInput((12345,), (), "query")
    got = extra_inputs([query], seed=0)
    assert got[0] == query
    assert 1 < len(got) <= 4 and all(x.origin == "mutation" for x in got[1:])


def test_mutation_changes_one_argument() -> None:
    import random

    rng = random.Random("t")
    for _ in range(50):
        args = ([1, 2, 3], "abc", 7)
        out = mutate_args(args, rng)
        assert sum(a != b for a, b in zip(args, out, strict=True)) <= 1


def test_rejected_draws_are_skipped_not_the_end_of_drawing() -> None:
    """A strategy that rejects some values (assume/reject) still yields the number asked."""
    from hypothesis import assume
    from hypothesis import strategies as st

    from codearc_env.oracle import inputs

    @st.composite
    def even(draw):  # type: ignore[no-untyped-def]
        n = draw(st.integers(0, 10_000))
        assume(n % 2 == 0)
        return n

    values = inputs._draw(even(), 30, 0, "test")
    assert len(values) == 30 and all(v % 2 == 0 for v in values)
    assert inputs._draw(even(), 30, 0, "test") == values  # deterministic
