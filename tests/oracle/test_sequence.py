"""The driver: a correct candidate costs one sandbox call; state kept between calls fails."""

from __future__ import annotations

import pytest
from oracle_helpers import CountingSandbox
from test_oracle import CORRECT, FN

from codearc_env.oracle import Oracle, reference
from codearc_env.oracle.call_input import CallInput
from codearc_env.oracle.reference import Expected, ReferenceTable
from codearc_env.oracle.sequence import DriverCalls, _built, _shape, driver_expression, kept
from codearc_env.sandbox.base import CallResult, Invocation
from codearc_env.sandbox.codec import canonical, encode


def counting(boxes, tmp_path):  # type: ignore[no-untyped-def]
    cand = CountingSandbox(boxes[1])
    oracle = Oracle(boxes[0], cand, strength="tiny", cache_dir=tmp_path)
    oracle.base_table(FN)  # fill the cache first: only candidate calls are counted
    return oracle, cand


def test_correct_candidate_needs_one_sandbox_invocation(boxes, tmp_path) -> None:  # type: ignore[no-untyped-def]
    oracle, cand = counting(boxes, tmp_path)
    v = oracle.check(FN, CORRECT)
    assert v.passed and v.n_inputs >= 25
    assert cand.invocations == 1


def test_reference_table_keeps_its_own_sequence_and_fresh_runs(boxes, tmp_path) -> None:  # type: ignore[no-untyped-def]
    oracle, _ = counting(boxes, tmp_path)
    table = oracle.base_table(FN)
    assert table.sequence is not None and table.namespaced is not None
    assert len(table.sequence) == len(table.namespaced) == len(table.expected)
    assert [r.ok for r in table.sequence] == [e.result.ok for e in table.expected]


def test_state_kept_between_calls_fails_with_how_the_call_was_made(boxes, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # right on the first call of a process only: fresh runs agree, the sequence does not
    first_only = "_seen = []\n" + CORRECT.replace(
        "    if bonus < 0:",
        "    _seen.append(1)\n    if len(_seen) > 1:\n        return -999\n    if bonus < 0:",
    )
    oracle, _ = counting(boxes, tmp_path)
    v = oracle.check(FN, first_only)
    assert not v.passed and v.counterexample is not None
    assert v.reason == (
        "wrong result on score([], 0) when called after 1 other calls in the same process"
    )
    assert v.counterexample.context == "after 1 other calls in the same process"
    assert v.counterexample.actual == "-999"
    assert "Called: after 1 other calls in the same process" in v.counterexample.feedback()


def test_mutable_default_argument_fails(boxes, tmp_path) -> None:  # type: ignore[no-untyped-def]
    source = CORRECT.replace("def score(xs, bonus):", "def score(xs, bonus, _memo=[]):").replace(
        "    if bonus < 0:",
        "    _memo.append(bonus)\n    bonus += len(_memo) > 40\n    if bonus < 0:",
    )
    oracle, _ = counting(boxes, tmp_path)
    v = oracle.check(FN, source)
    assert not v.passed
    # which of the later inputs shows it depends on the input set; the context is always named
    assert " when called after 40 other calls in the same process" in v.reason


def test_wrong_on_the_first_call_of_a_process_fails(boxes, tmp_path) -> None:  # type: ignore[no-untyped-def]
    warm_only = "_seen = []\n" + CORRECT.replace(
        "    if bonus < 0:",
        "    _seen.append(1)\n    if len(_seen) == 1:\n        return -999\n    if bonus < 0:",
    )
    oracle, _ = counting(boxes, tmp_path)
    v = oracle.check(FN, warm_only)
    assert not v.passed and v.counterexample is not None
    assert v.counterexample.actual == "-999"
    assert v.counterexample.context is None  # a fresh run shows it: no sequence needed


def test_rebinding_what_the_driver_needs_fails(boxes, tmp_path) -> None:  # type: ignore[no-untyped-def]
    oracle, _ = counting(boxes, tmp_path)
    v = oracle.check(FN, "exec = None\n" + CORRECT)
    assert not v.passed
    assert v.reason.startswith("failed when run on ")
    assert v.reason.endswith(
        " inputs in one process: stopped with TypeError: 'NoneType' object is not callable"
    )


def test_driver_sends_the_calls_as_one_blob_not_as_source() -> None:
    from codearc_env.oracle.call_input import CallInput

    calls = DriverCalls((CallInput((1,)),), (True,), (True,))
    text = driver_expression("f", "def f(x):\n    return x\n", calls)
    assert "__import__('marshal').loads(b" in text
    assert "f(1)" not in text


def _entry(n: int, value: object, *, ok: bool = True, truncated: bool = False) -> Expected:
    result = (CallResult(ok=True, value=encode(value), truncated=truncated) if ok
              else CallResult(ok=False, error_type="ValueError"))
    return Expected(CallInput((n,)), (result,))


def test_a_tables_kept_flags_are_computed_once_and_extended_as_for_all_entries(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # a reply cap of 80 characters: values of 38, 58 and 19 characters, then 38 and 19
    monkeypatch.setattr(reference, "KEPT_VALUE_CHARS", 80)
    base = [_entry(0, "x" * 20), _entry(1, 0, ok=False), _entry(2, "y" * 40),
            _entry(3, "y", truncated=True), _entry(4, 7)]
    extra = [_entry(5, "z" * 20), _entry(6, 1), _entry(7, 1, ok=False)]
    assert [len(canonical(e.result.value)) for e in base + extra if e.result.ok] == [
        38, 58, 19, 19, 38, 19]
    table = ReferenceTable("key", tuple(base), 0)
    want = kept([e.result for e in base + extra], 80)
    assert want == [True, True, False, False, True, False, True, True]  # the cap is reached
    assert table.kept_with(extra) == want
    assert table.kept_with([]) == want[:5] == kept([e.result for e in base], 80)
    room = 80 - 38 - 19
    assert table.kept_with(extra[1:]) == want[:5] + kept([e.result for e in extra[1:]], room)


def _results(
    letters: object, payloads: object, same_as: tuple[CallResult, ...] = ()
) -> tuple[CallResult, ...] | None:
    """A pass's results as a driver run reads them."""
    shape = _shape(letters, payloads, len(same_as))
    return None if shape is None else _built(*shape, same_as)


def test_a_pass_is_read_from_its_letters_and_payloads() -> None:
    first = _results(encode("vve"), encode([5, None, "ValueError"]))
    assert first == (CallResult(ok=True, value=encode(5)), CallResult(ok=True, value=encode(None)),
                     CallResult(ok=False, error_type="ValueError"))
    again = _results(encode("svs"), encode([7]), first)  # the fresh pass: same, value, same
    assert again is not None and again[0] is first[0] and again[2] is first[2]
    assert again[1] == CallResult(ok=True, value=encode(7))


@pytest.mark.parametrize(
    ("letters", "payloads", "same_as"),
    [
        (encode("vv"), encode([1]), ()),  # a payload missing
        (encode("v"), encode([1, 2]), ()),  # one too many
        (encode("s"), encode([]), ()),  # "same" with nothing to be the same as
        (encode("x"), encode([1]), ()),  # not a letter of the format
        (encode(b"v"), encode([1]), ()),  # not text
        (encode("v"), encode(1), ()),  # payloads not a sequence
    ],
)
def test_a_malformed_pass_is_rejected(letters: dict, payloads: dict, same_as: tuple) -> None:
    assert _results(letters, payloads, same_as) is None


def test_a_fresh_result_is_judged_again_only_when_the_judgement_could_differ() -> None:
    from codearc_env.oracle.driver_judgement import _judged_alike

    got, theirs = CallResult(ok=True, value=encode(1)), CallResult(ok=True, value=encode(2))
    other = CallResult(ok=True, value=encode(3))
    assert _judged_alike((got, theirs, True), got, other)  # agreed: theirs not looked at
    assert _judged_alike((got, theirs, False), got, CallResult(ok=True, value=encode(2)))
    assert _judged_alike((got, None, None), got, None)
    assert not _judged_alike((got, theirs, False), got, other)  # theirs could settle it now
    assert not _judged_alike((got, theirs, None), got, None)
    assert not _judged_alike((got, theirs, True), CallResult(ok=True, value=encode(1)), theirs)


TOY = "def f(x):\n    return x * 2 if x else 1 // x\n"


def test_the_driver_compiled_ahead_runs_as_its_source_does(boxes) -> None:  # type: ignore[no-untyped-def]
    import sys

    from codearc_env.oracle import sequence

    calls = DriverCalls(
        inputs=tuple(CallInput(args=(v,), kwargs={}) for v in (3, 0, -1)),
        keep=(True, True, True),
        in_sequence=(True, True, False),
    )
    ahead = driver_expression("f", TOY, calls)
    tag = repr((sys.implementation.cache_tag, sys.version_info.releaselevel))
    assert ahead.count(tag) == 1 and sequence._DRIVER_CODE.hex() in ahead
    # another bytecode format compiles the source, whatever the compiled code holds
    elsewhere = ahead.replace(tag, repr((sys.implementation.cache_tag, "beta"))).replace(
        sequence._DRIVER_CODE.hex(), "00"
    )
    got = [boxes[1].run_one(TOY, "f", Invocation(expression=e)) for e in (ahead, elsewhere)]
    assert all(r.ok for r in got), got
    assert got[0].value == got[1].value
    assert got[0].value_str == "('ve', [6, 'ZeroDivisionError'], 'ssv', [-2])"


@pytest.mark.parametrize("shadow", ["bytes = 8", "marshal = sys = None", "b = bytes = str"])
def test_a_correct_candidate_that_rebinds_names_the_driver_does_not_use_passes(
    boxes, tmp_path, shadow: str
) -> None:  # type: ignore[no-untyped-def]
    oracle, cand = counting(boxes, tmp_path)
    v = oracle.check(FN, f"{shadow}\n" + CORRECT)
    assert v.passed, v.reason
    assert cand.invocations == 1  # judged by the driver alone
