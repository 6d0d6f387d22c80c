"""A driver run's judgements made only as far as a check asks are the ones a full pass makes:
the same first disagreement, the same suspects in the order fresh runs take them, and a pass
exactly when every result agrees; and a wrong candidate's first suspects need only a few."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st
from test_driver_shortcut import BASE, RESULTS, _call_result, _run, _scenario, _table
from test_oracle import FN

from codearc_env.functions.spec import Comparison, Quirks
from codearc_env.oracle.call_input import CallInput
from codearc_env.oracle.candidate_run import CandidateRun
from codearc_env.oracle.driver_judgement import (
    DriverJudgement,
    fresh_context,
    in_fresh_order,
    in_sequence_context,
)
from codearc_env.oracle.reference import Expected


def _full_pass(run: CandidateRun, table, entries, n_base, drive, keep):  # type: ignore[no-untyped-def]
    """What judging every result in the driver's order finds: (first, bad, unsettled)."""
    theirs_seq = table.sequence or (None,) * n_base
    theirs_fresh = (table.namespaced or (None,) * n_base) + (None,) * (len(entries) - n_base)
    rest = run._after_agreeing_base(table, entries, n_base, drive, keep)
    if rest is not None:
        passes = [(rest, theirs_fresh, "fresh", n_base)]
    else:
        passes = [(drive.sequence, theirs_seq, "seq", 0), (drive.fresh, theirs_fresh, "fresh", 0)]
    first, bad, unsettled, in_order = None, set(), set(), []
    for results, theirs, kind, start in passes:
        for i, got in enumerate(results, start):
            if kind == "fresh" and i < len(in_order):
                before, their_before, judged = in_order[i]
                if got is before and (judged is True or theirs[i] == their_before):
                    continue
            judged = run._driver_agrees(entries, i, got, theirs[i], keep[i])
            if kind == "seq":
                in_order.append((got, theirs[i], judged))
            if judged is None:
                unsettled.add(i)
            elif not judged:
                bad.add(i)
                if first is None:
                    first = (kind, i)
    return first, sorted(bad), sorted(unsettled - bad)


@settings(max_examples=400, deadline=None)
@given(
    base=st.lists(BASE, min_size=1, max_size=6),
    extra=st.lists(st.tuples(RESULTS, RESULTS), max_size=3),
    lengths=st.lists(st.integers(0, 2), min_size=9, max_size=9),
    comparison=st.sampled_from([Comparison(), Comparison(bool_equals_int=True)]),
    nondeterministic=st.sampled_from([False, False, True]),
    copied=st.booleans(),
)  # fmt: skip
def test_judging_as_asked_finds_what_judging_everything_finds(
    base, extra, lengths, comparison, nondeterministic, copied  # type: ignore[no-untyped-def]
) -> None:
    table, mine_seq, mine_fresh = _scenario(base, copied)
    # inputs of several call lengths, so fresh-run order differs from the entries' order
    table = replace(table, expected=tuple(
        Expected(CallInput(("x" * (3 * lengths[i]),) + e.input.args), e.runs)
        for i, e in enumerate(table.expected)
    ))  # fmt: skip
    more = [Expected(CallInput(("y" * lengths[-1 - i],)), (_call_result(e),))
            for i, (e, _) in enumerate(extra)]  # fmt: skip
    drive = _run(mine_seq, [*mine_fresh, *(r for _, r in extra)])
    keep = table.kept_with(more)
    fn = replace(FN, comparison=comparison, quirks=Quirks(nondeterministic=nondeterministic))
    entries, n = [*table.expected, *more], len(table.expected)
    run = CandidateRun(None, fn, "")  # type: ignore[arg-type]

    first, bad, unsettled = _full_pass(run, table, entries, n, drive, keep)
    judged = DriverJudgement(run, table, entries, n, drive, keep)
    assert judged.agrees_everywhere() == (first is None and not unsettled)
    suspects = judged.suspects(fn.target)
    listed = in_fresh_order([entries[i] for i in bad + unsettled], fn.target)
    j = 0
    while suspects.has(j) or listed.has(j):
        assert suspects.has(j) and listed.has(j) and suspects[j] is listed[j], j
        j += 1
    assert j == len(bad) + len(unsettled)
    found = judged.first()
    if first is None:
        assert found is None
    else:
        kind, i = first
        if kind == "seq":
            want = run._disagreement(entries[i], drive.sequence[i], in_sequence_context(i))  # type: ignore[index]
        else:
            rest = run._after_agreeing_base(table, entries, n, drive, keep)
            got = rest[i - n] if rest is not None else drive.fresh[i]  # type: ignore[index]
            want = run._disagreement(entries[i], got, fresh_context(i))
        assert found == want
    assert run.driver_problem(table, entries, n, drive, keep) == (found, bad, unsettled)
    SEEN.append((len(bad), len(unsettled), len(set(lengths[: len(entries)])) > 1))


SEEN: list[tuple[int, int, bool]] = []


def test_the_generated_runs_have_suspects_of_both_kinds_and_several_lengths() -> None:
    """The comparison above is worth something only where both kinds of suspect and several
    call lengths meet."""
    SEEN.clear()
    test_judging_as_asked_finds_what_judging_everything_finds()
    assert sum(1 for b, u, several in SEEN if b and u and several) >= 5  # 19-47 of 400 seen


def test_a_candidate_wrong_everywhere_has_its_first_suspects_after_a_few_judgements() -> None:
    n = 40
    wrong = [("v", {"t": "int", "v": "1"})] * n
    right = [("v", {"t": "int", "v": str(10 + i)}) for i in range(n)]
    table = _table(right, right, right)
    drive = _run(wrong, [None] * n)
    keep = table.kept_with([])
    run = CandidateRun(None, FN, "")  # type: ignore[arg-type]
    judged = DriverJudgement(run, table, list(table.expected), n, drive, keep)
    assert not judged.agrees_everywhere()
    suspects = judged.suspects(FN.target)
    assert suspects.positions(0, 4) == [0, 1, 2, 3]
    looked = len(judged._seq)
    assert looked < n  # only the entries of the shortest call lengths so far
    assert [suspects[j] for j in range(4)] == list(table.expected[:4])
    assert judged.first() is not None
