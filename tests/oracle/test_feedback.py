"""Counterexamples always show a difference the agent can see."""

from __future__ import annotations

from oracle_helpers import make_fn

from codearc_env.oracle import Oracle
from codearc_env.oracle.render import render, type_name
from codearc_env.oracle.verdict import Counterexample
from codearc_env.sandbox.codec import encode

USER = """
class User:
    def __init__(self, name):
        self.name = name

    def __str__(self):
        return "User"


def make_user(name: str):
    return User(name.lower())
"""


def test_equal_str_shows_values_and_types(boxes, tmp_path) -> None:  # type: ignore[no-untyped-def]
    fn = make_fn(USER, "make_user", ["make_user('Ann')", "make_user('bo')"])
    wrong = USER.replace("User(name.lower())", "User(name)")
    v = Oracle(*boxes, strength="tiny", cache_dir=tmp_path).check(fn, wrong)
    assert not v.passed and v.counterexample is not None
    cx = v.counterexample
    assert cx.expected == cx.actual == "User"
    assert cx.expected_value is not None and cx.actual_value is not None
    name = cx.call_text.split("'")[1]  # the shrunk input, e.g. make_user('K')
    assert cx.expected_value.endswith(f"with .name={name.lower()!r} (User)")
    assert cx.actual_value.endswith(f"with .name={name!r} (User)")
    assert name != name.lower()
    assert "Your value (repr and type): " in cx.feedback()


def test_true_and_one_render_with_their_types() -> None:
    assert (render(encode(True)), type_name(encode(True))) == ("True", "bool")
    assert (render(encode(1)), type_name(encode(1))) == ("1", "int")


def test_rendering_keeps_builtin_subclass_types() -> None:
    from collections import Counter, namedtuple

    point = namedtuple("Point", "x y")
    assert render(encode(Counter("aab"))) == "collections.Counter({'a': 2, 'b': 1})"
    assert render(encode(point(1, 2))).endswith("Point(x=1, y=2)")
    assert render(encode(iter([1, 2]))) == "<list_iterator yielding [1, 2]>"


def test_feedback_without_values_keeps_the_paper_shape() -> None:
    cx = Counterexample("f(1)", "2", "3")
    assert cx.feedback() == "Input: f(1)\nExpected output: 2\nYour output: 3"
