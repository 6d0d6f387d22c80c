"""The batched fast path: it only ever passes; everything else takes the isolated path."""

from __future__ import annotations

from oracle_helpers import CountingSandbox
from test_oracle import CORRECT, FN

from codearc_env.oracle import Oracle


def counting(boxes, tmp_path):  # type: ignore[no-untyped-def]
    cand = CountingSandbox(boxes[1])
    oracle = Oracle(boxes[0], cand, strength="tiny", cache_dir=tmp_path)
    oracle.base_table(FN)  # fill the cache first: only candidate calls are counted
    return oracle, cand


def test_correct_candidate_needs_two_sandbox_invocations(boxes, tmp_path) -> None:  # type: ignore[no-untyped-def]
    oracle, cand = counting(boxes, tmp_path)
    v = oracle.check(FN, CORRECT)
    assert v.passed and v.n_inputs >= 25
    assert cand.invocations == 2  # the load probe and one batch


def test_state_kept_between_calls_is_judged_in_isolation(boxes, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # right on the first call of a process only: the batch disagrees, isolated runs agree
    first_only = "_seen = []\n" + CORRECT.replace(
        "    if bonus < 0:",
        "    _seen.append(1)\n    if len(_seen) > 1:\n        return -999\n    if bonus < 0:",
    )
    oracle, cand = counting(boxes, tmp_path)
    v = oracle.check(FN, first_only)
    assert v.passed
    assert cand.invocations > 2


def test_wrong_on_the_first_call_of_a_process_fails(boxes, tmp_path) -> None:  # type: ignore[no-untyped-def]
    warm_only = "_seen = []\n" + CORRECT.replace(
        "    if bonus < 0:",
        "    _seen.append(1)\n    if len(_seen) == 1:\n        return -999\n    if bonus < 0:",
    )
    oracle, _ = counting(boxes, tmp_path)
    v = oracle.check(FN, warm_only)
    assert not v.passed and v.counterexample is not None
    assert v.counterexample.actual == "-999"


def test_shadowing_what_the_driver_needs_only_costs_time(boxes, tmp_path) -> None:  # type: ignore[no-untyped-def]
    oracle, cand = counting(boxes, tmp_path)
    v = oracle.check(FN, "exec = None\n" + CORRECT)
    assert v.passed
    assert cand.invocations > 2
