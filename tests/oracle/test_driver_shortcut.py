"""A driver reply carrying exactly the reference's own driver results is judged without a look
at each result, and that shortcut never changes what the driver run is found to show."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_oracle import CORRECT, FN

from codearc_env.functions.spec import Comparison, Quirks
from codearc_env.oracle import Oracle
from codearc_env.oracle.call_input import CallInput
from codearc_env.oracle.candidate_run import CandidateRun
from codearc_env.oracle.reference import Expected, ReferenceTable, driver_calls
from codearc_env.oracle.sequence import (
    DriverCalls,
    DriverReply,
    DriverRun,
    kept,
    pass_key,
    reply_of,
)
from codearc_env.sandbox.base import CallResult
from codearc_env.sandbox.codec import encode

Result = tuple[str, object]  # ("v", a value's tree) or ("e", an exception's type name)


def _call_result(r: Result) -> CallResult:
    return CallResult(ok=True, value=r[1]) if r[0] == "v" else CallResult(ok=False, error_type=r[1])  # type: ignore[arg-type]


def _copy(tree: object) -> object:
    """The same data as another reply decodes it: no object shared."""
    return json.loads(json.dumps(tree))


def _table(expected: list[Result], own_seq: list[Result], own_fresh: list[Result]) -> ReferenceTable:
    entries = tuple(
        Expected(CallInput((i,)), (_call_result(r),)) for i, r in enumerate(expected)
    )
    seq = tuple(_call_result(r) for r in own_seq)
    return ReferenceTable("key", entries, 0, seq, tuple(_call_result(r) for r in own_fresh))


def _pass(results: list[Result | None]) -> tuple[str, list]:
    """A pass as the driver sends it (None: the sequence's result, an ``s``)."""
    letters = "".join("s" if r is None else r[0] for r in results)
    payloads = [_copy(r[1] if r[0] == "v" else encode(r[1])) for r in results if r is not None]
    return letters, payloads


def _run(seq: list[Result], fresh: list[Result | None]) -> DriverRun:
    return DriverRun(duration_s=0.01, reply=DriverReply(_pass(seq), _pass(fresh)))  # type: ignore[arg-type]


def _slow(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(CandidateRun, "_after_agreeing_base", lambda *a: None)


V = [("v", encode(x)) for x in (3, "three", [1, 2], 0.5)] + [("e", "ValueError")]
SAME: list[Result | None] = [None] * len(V)


def _judge(table: ReferenceTable, run: DriverRun, extra: list[Expected] = (), fn=FN):  # type: ignore[no-untyped-def, assignment]
    entries = [*table.expected, *extra]
    keep = table.kept_with(extra)
    return CandidateRun(None, fn, "").driver_problem(table, entries, len(table.expected), run, keep)  # type: ignore[arg-type]


def test_a_reply_equal_to_the_references_own_needs_no_look_at_any_result(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    table = _table(V, V, V)

    def looked(*args: object) -> bool:
        raise AssertionError("a result was judged one by one")

    monkeypatch.setattr(CandidateRun, "_driver_agrees", looked)
    run = _run(V, SAME)
    assert _judge(table, run) == (None, [], [])
    assert run.reply is not None and "results" not in vars(run.reply)  # none built either
    assert _judge(table, _run(V, list(V))) == (None, [], [])  # fresh values sent again
    # a reference table read from the cache holds copies: the same data, other objects
    copied = _table(V, [(c, _copy(p)) for c, p in V], [(c, _copy(p)) for c, p in V])
    assert _judge(copied, _run(V, SAME)) == (None, [], [])


def test_only_the_further_entries_are_looked_at(monkeypatch: pytest.MonkeyPatch) -> None:
    table = _table(V, V, V)
    extra = [Expected(CallInput((9,)), (CallResult(ok=True, value=encode(9)),))]
    seen: list[int] = []
    judge = CandidateRun._driver_agrees

    def counted(self, entries, i, got, theirs, keep):  # type: ignore[no-untyped-def]
        seen.append(i)
        return judge(self, entries, i, got, theirs, keep)

    monkeypatch.setattr(CandidateRun, "_driver_agrees", counted)
    assert _judge(table, _run(V, [*SAME, ("v", encode(9))]), extra) == (None, [], [])
    assert seen == [len(V)]
    problem, bad, unsettled = _judge(table, _run(V, [*SAME, ("v", encode(8))]), extra)
    assert problem is not None and problem[0] == (
        "wrong result on score(9) when called in a fresh module namespace of a process that "
        "ran other inputs"
    )
    assert (bad, unsettled) == ([len(V)], [])


def _taken(table: ReferenceTable, run: DriverRun, keep: list[bool] | None = None, fn=FN) -> bool:  # type: ignore[no-untyped-def]
    keep = table.kept_with([]) if keep is None else keep
    entries = list(table.expected)
    rest = CandidateRun(None, fn, "")._after_agreeing_base(table, entries, len(entries), run, keep)  # type: ignore[arg-type]
    return rest is not None


def test_the_shortcut_is_taken_only_for_exactly_the_references_data() -> None:
    table = _table(V, V, V)
    assert _taken(table, _run(V, SAME))
    other = [*V[:2], ("v", encode([1, 3])), *V[3:]]
    assert not _taken(table, _run(other, SAME))  # one value differs
    assert not _taken(table, _run(V, [*SAME[:2], other[2], *SAME[3:]]))  # in the fresh pass
    assert not _taken(table, _run([*V[:4], ("e", "TypeError")], SAME))  # another exception
    assert not _taken(table, _run([*V[:4], ("v", encode("ValueError"))], SAME))
    # == holds between True, 1 and 1.0; the data differ (a dict's keys are looked up by text)
    ones = [("v", {"t": "int", "v": 1})]
    for other_one in (True, 1.0):
        assert not _taken(_table(ones, ones, ones), _run([("v", {"t": "int", "v": other_one})], [None]))
    assert not _taken(table, _run(V, SAME), keep=[True, False, True, True, True])  # not sent back
    assert not _taken(table, _run(V, SAME), fn=replace(FN, quirks=Quirks(nondeterministic=True)))
    assert not _taken(replace(table, sequence=None, namespaced=None), _run(V, SAME))
    # the reference's own driver run disagreed with its table somewhere: look at each
    recursed = [*V[:3], ("e", "RecursionError"), *V[4:]]  # where the reference returned
    assert not _taken(_table(V, recursed, V), _run(V, SAME))
    assert not _taken(_table(V, recursed, V), _run(recursed, SAME))  # even where they are alike
    assert not _taken(_table(V, V, recursed), _run(V, list(V)))
    assert not _taken(_table(V, V, recursed), _run(V, list(recursed)))
    # ... unless that result is not the candidate's: its fresh pass repeats its sequence pass
    assert _taken(_table(V, V, recursed), _run(V, SAME))


def test_a_key_is_exact_data() -> None:
    assert pass_key("v", [{"t": "int", "v": 1}]) == pass_key("v", [{"t": "int", "v": 1}])
    assert pass_key("v", [{"t": "int", "v": 1}]) != pass_key("v", [{"t": "int", "v": True}])
    assert pass_key("v", [{"t": "int", "v": 0.0}]) != pass_key("v", [{"t": "int", "v": -0.0}])
    shared = {"t": "int", "v": 1}
    assert pass_key("vv", [shared, shared]) == pass_key("vv", [_copy(shared), _copy(shared)])
    deep: list = []
    for _ in range(5000):
        deep = [deep]
    assert pass_key("v", [deep]) is None
    assert reply_of([CallResult(ok=False, timed_out=True)], []) is None


def test_a_correct_candidate_is_judged_without_a_look_at_each_result(boxes, tmp_path) -> None:  # type: ignore[no-untyped-def]
    oracle = Oracle(*boxes, strength="tiny", cache_dir=tmp_path)
    for cached in (False, True):  # computed here, then read back from the cache file
        if cached:
            oracle = Oracle(*boxes, strength="tiny", cache_dir=tmp_path)
        table = oracle.base_table(FN)
        assert oracle.reference_computations == (0 if cached else 1)
        assert any(r.raised for r in table.sequence or ())  # an exception's payload too
        with pytest.MonkeyPatch.context() as m:
            m.setattr(CandidateRun, "_driver_agrees", None)  # any look would fail
            v = oracle.check(FN, CORRECT)
        assert (v.passed, v.reason) == (True, f"agreed with the reference on {v.n_inputs} inputs")
        wrong = CORRECT.replace("+ bonus", "+ bonus + (len(xs) == 3)")
        v = oracle.check(FN, wrong)
        assert not v.passed and v.reason.startswith("wrong result on score(")


# ---- the shortcut against judging every result, on generated replies ----------------------

VALUES = st.one_of(
    st.integers(-2, 2), st.booleans(), st.sampled_from(["", "a", "1"]), st.just(None),
    st.lists(st.integers(0, 1), max_size=2), st.floats(allow_nan=True, width=16),
)  # fmt: skip
RESULTS = st.one_of(
    VALUES.map(lambda x: ("v", encode(x))),
    st.sampled_from(["ValueError", "TypeError", "RecursionError"]).map(lambda e: ("e", e)),
)
# which result a reply or a reference run gives: the table's, its own run's, or another
CHOICE = st.tuples(st.integers(0, 9), RESULTS).map(
    lambda c: "table" if c[0] < 6 else "own" if c[0] < 8 else c[1]
)
TAKEN: list[bool] = []


def _pick(choice: object, table_result: Result, own: Result) -> Result:
    return table_result if choice == "table" else own if choice == "own" else choice  # type: ignore[return-value]


BASE = st.tuples(RESULTS, CHOICE, CHOICE, CHOICE, CHOICE, st.booleans())
"""One base input: its table result; the reference's own sequence and fresh results and the
candidate's (CHOICE each); whether the candidate's fresh result is its sequence one (``s``)."""


def _scenario(
    base: list[tuple], copied: bool  # type: ignore[type-arg]
) -> tuple[ReferenceTable, list[Result], list[Result | None]]:
    """The table of generated ``base`` inputs and the candidate's two passes over them
    (``copied``: the reference's own reply, the candidate's choices unused)."""
    expected = [b[0] for b in base]
    own_seq = [_pick(b[1], b[0], b[0]) for b in base]
    own_fresh = [_pick(b[2], b[0], own_seq[i]) for i, b in enumerate(base)]
    mine_seq = own_seq if copied else [_pick(b[3], b[0], own_seq[i]) for i, b in enumerate(base)]
    mine_fresh: list[Result | None] = [
        None if b[5] else own_fresh[i] if copied else _pick(b[4], b[0], own_fresh[i])
        for i, b in enumerate(base)
    ]
    return _table(expected, own_seq, own_fresh), mine_seq, mine_fresh


@settings(max_examples=300, deadline=None)
@given(
    base=st.lists(BASE, min_size=1, max_size=5),
    extra=st.lists(st.tuples(RESULTS, RESULTS), max_size=2),
    unkept=st.sampled_from([None, None, None, None, 0, 1, 5]),
    comparison=st.sampled_from([Comparison(), Comparison(bool_equals_int=True),
                                Comparison(exception_type_must_match=True)]),
    nondeterministic=st.sampled_from([False, False, False, True]),
    copied=st.booleans(),
)  # fmt: skip
def test_the_shortcut_finds_what_judging_every_result_finds(
    base, extra, unkept, comparison, nondeterministic, copied  # type: ignore[no-untyped-def]
) -> None:
    """``copied``: the candidate's reply is the reference's own (its choices unused)."""
    table, mine_seq, mine_fresh = _scenario(base, copied)
    more = [Expected(CallInput((100 + i,)), (_call_result(e),)) for i, (e, _) in enumerate(extra)]
    run = _run(mine_seq, [*mine_fresh, *(r for _, r in extra)])
    keep = table.kept_with(more)
    if unkept is not None and unkept < len(keep):
        keep[unkept] = False
    fn = replace(FN, comparison=comparison, quirks=Quirks(nondeterministic=nondeterministic))
    entries = [*table.expected, *more]
    n = len(table.expected)
    TAKEN.append(CandidateRun(None, fn, "")._after_agreeing_base(table, entries, n, run, keep) is not None)  # type: ignore[arg-type]
    fast = CandidateRun(None, fn, "").driver_problem(table, entries, n, run, keep)  # type: ignore[arg-type]
    with pytest.MonkeyPatch.context() as m:
        _slow(m)
        slow = CandidateRun(None, fn, "").driver_problem(table, entries, n, run, keep)  # type: ignore[arg-type]
    assert fast == slow


def test_the_generated_replies_often_take_the_shortcut() -> None:
    """The comparison above is worth something only where the shortcut is taken."""
    TAKEN.clear()
    test_the_shortcut_finds_what_judging_every_result_finds()
    assert len(TAKEN) >= 300 and 30 <= sum(TAKEN) <= len(TAKEN) - 30


def test_a_check_without_further_entries_sends_the_tables_calls_built_once(boxes, tmp_path) -> None:  # type: ignore[no-untyped-def]
    oracle = Oracle(*boxes, strength="tiny", cache_dir=tmp_path)
    table = oracle.base_table(FN)
    sent: list[DriverCalls] = []
    drive = CandidateRun.drive

    def spy(self, calls, timeout_s):  # type: ignore[no-untyped-def]
        sent.append(calls)
        return drive(self, calls, timeout_s)

    with pytest.MonkeyPatch.context() as m:
        m.setattr(CandidateRun, "drive", spy)
        assert oracle.check(FN, CORRECT).passed and oracle.check(FN, CORRECT).passed
        assert oracle.check(FN, CORRECT, ["score([3, 3], 33)"]).passed
    assert sent[0] is sent[1] is table.own_calls
    assert sent[0] == driver_calls(table.expected, len(table.expected), kept([e.result for e in table.expected]))
    n = len(table.expected)
    more = len(sent[2].inputs) - n  # the query and inputs made from it
    assert more >= 1 and sent[2].in_sequence == (True,) * n + (False,) * more
    assert sent[2].inputs[:n] == sent[0].inputs
    assert CallInput(([3, 3], 33), (), "query") in sent[2].inputs[n:]
