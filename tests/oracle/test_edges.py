"""Edge inputs: values beyond the examples, kept only when the reference accepts them."""

from __future__ import annotations

import math

from oracle_helpers import make_fn

from codearc_env.oracle import reference as ref
from codearc_env.oracle.call_input import CallInput
from codearc_env.oracle.edges import LONG, edge_inputs
from codearc_env.oracle.examples import example_inputs


def test_each_argument_is_replaced_one_at_a_time_by_edge_values() -> None:
    got = edge_inputs([CallInput(([1, 2], 3.5, "ab"))])
    firsts = [x.args[0] for x in got if x.args[1:] == (3.5, "ab")]
    assert (1, 2) in firsts and [] in firsts and [1] in firsts  # a tuple for the list
    assert any(len(v) == LONG for v in firsts)
    floats = [x.args[1] for x in got if x.args[0] == [1, 2] and x.args[2] == "ab"]
    assert any(isinstance(v, float) and math.isnan(v) for v in floats)
    assert math.inf in floats and -math.inf in floats and 3 in floats  # an int for the float
    assert 2**52 + 1 in floats
    texts = [x.args[2] for x in got if x.args[:2] == ([1, 2], 3.5)]
    assert "" in texts and "é" in texts and any(len(t) == LONG for t in texts)
    assert all(x.origin == "edge" for x in got)


def test_ints_get_powers_of_two_and_a_bool() -> None:
    values = [x.args[0] for x in edge_inputs([CallInput((7,))])]
    for v in (0, 1, -1, 2**31, 2**53 + 1, 2**63, -(2**63), (10**8 + 1) ** 2 - 1, True):
        assert v in values
    assert any(type(v) is bool for v in values) and 7.0 in values


def test_an_int_argument_also_gets_a_float_past_exact_float_arithmetic() -> None:
    values = [x.args[0] for x in edge_inputs([CallInput((7,))])]
    assert 2.0**53 in [v for v in values if type(v) is float]


def test_edges_come_from_one_example_per_arity_at_most_two() -> None:
    known = [CallInput((1,)), CallInput((2,)), CallInput((1, 2)), CallInput((1, 2, 3))]
    bases = {len(x.args) for x in edge_inputs(known)}
    assert bases == {1, 2}


def test_the_reference_decides_which_edges_stay(boxes) -> None:  # type: ignore[no-untyped-def]
    source = (
        "import time\n"
        "def f(x):\n"
        "    if x < 0:\n        raise ValueError('negative')\n"
        "    if x > 10**6:\n        time.sleep(0.3)\n"
        "    return x\n"
    )
    fn = make_fn(source, "f", ["f(1)", "f(2)"])
    inputs = [CallInput((1,), (), "example"), CallInput((-1,), (), "edge"),
              CallInput((-2,), (), "shape"), CallInput((10**7,), (), "edge"),
              CallInput((0,), (), "edge")]  # fmt: skip
    kept = [e.input.args[0] for e in ref.compute(boxes[0], fn, inputs, "k").expected]
    # an error is an answer for a drawn input, not for an edge one; a slow edge is dropped
    assert kept == [1, -2, 0]


def test_wrapped_examples_are_used_as_written_and_as_their_inner_call() -> None:
    fn = make_fn(
        "def g(s, sep=None):\n    return iter(s.split(sep))\n",
        "g",
        ["list(g('a-b', '-'))", "g('x y')", "sorted(helper(g('q')))", "g('a' * 3)"],
    )
    got = example_inputs(fn)
    assert [(x.args, x.kwargs, x.expression) for x in got] == [
        ((), (), "list(g('a-b', '-'))"),
        (("a-b", "-"), (), None),
        (("x y",), (), None),
        # sorted(helper(...)) needs a helper of the reference: only the inner call is used
        (("q",), (), None),
        ((), (), "g('a' * 3)"),  # arguments that are not literals: the expression alone
    ]
    assert got[0].call_text("g") == "list(g('a-b', '-'))"
