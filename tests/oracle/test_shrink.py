"""Shrinking on a pure predicate: minimal results, bounded work, fixed order."""

from __future__ import annotations

from codearc_env.oracle.inputs import CallInput
from codearc_env.oracle.shrink import shrink, simpler_values


def evaluator(pred, log=None):  # type: ignore[no-untyped-def]
    def evaluate(batch):  # type: ignore[no-untyped-def]
        if log is not None:
            log.append(len(batch))
        return ["bad" if pred(*x.args) else None for x in batch]

    return evaluate


def test_list_shrinks_to_a_single_small_element() -> None:
    start = CallInput(([5, 3, 99, 8, 1, 12, 40],), (), "shape")
    got, outcome = shrink(start, evaluator(lambda xs: any(x > 10 for x in xs)))
    assert got.args == ([11],)
    assert outcome == "bad"


def test_string_and_int_shrink_together() -> None:
    start = CallInput(("hello world", 1000), (), "shape")
    got, _ = shrink(start, evaluator(lambda s, n: len(s) >= 2 and n >= 3))
    assert got.args == ("aa", 3)


def test_dict_loses_irrelevant_keys() -> None:
    start = CallInput(({"a": 5, "b": -7, "c": 0},), (), "shape")
    got, _ = shrink(start, evaluator(lambda d: d.get("b", 0) < 0))
    assert got.args == ({"b": -1},)


def test_nothing_simpler_keeps_the_input() -> None:
    start = CallInput((0, ""), (), "shape")
    got, outcome = shrink(start, evaluator(lambda n, s: True))
    assert got is start and outcome is None


def test_evaluations_are_bounded() -> None:
    log: list[int] = []
    start = CallInput((list(range(1000)),), (), "shape")
    shrink(start, evaluator(lambda xs: len(xs) > 0 and sum(xs) % 2 == 1, log), max_evaluations=50)
    assert sum(log) <= 50


def test_shrinking_is_deterministic() -> None:
    start = CallInput(([9, 4, 7, 13, 2], "zzz"), (), "shape")
    ev = evaluator(lambda xs, s: sum(xs) > 12 and "z" in s)
    assert shrink(start, ev) == shrink(start, ev)


def test_simpler_values_are_simpler() -> None:
    assert list(simpler_values(0)) == []
    assert list(simpler_values(False)) == []
    assert list(simpler_values("")) == []
    assert list(simpler_values(-4)) == [0, -1, -2, -3, 4]
    assert 0.0 in list(simpler_values(2.5))
