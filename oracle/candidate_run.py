"""Run one candidate in the candidate sandbox: load probe, driver, fresh runs, shrinking.

The driver (:mod:`sequence`) judges a correct candidate in one sandbox call. Fresh runs, the
reference's own conditions and the source of counterexamples, use the sandbox's batch isolation: one child process runs the inputs in turn,
each in a fresh module namespace with the interpreter state reset, under its own time
limit; about 10-20x cheaper than a process per input. An error whose type an input alone
cannot cause (``MemoryError``, ``OSError``...) is confirmed in a process of its own, as for
the reference.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING

from codearc_env.functions.spec import HiddenFunction
from codearc_env.oracle import reference as ref
from codearc_env.oracle.call_input import CallInput
from codearc_env.oracle.driver_judgement import DriverJudgement
from codearc_env.oracle.judge import agrees, counterexample, error_text, reason
from codearc_env.oracle.limits import limits_for
from codearc_env.oracle.reference import Expected, ReferenceTable
from codearc_env.oracle.sequence import DriverCalls, DriverRun, run_driver
from codearc_env.oracle.shrink import shrink
from codearc_env.oracle.verdict import Counterexample
from codearc_env.sandbox.base import CallResult, Sandbox
from codearc_env.sandbox.worker import BUDGET_SPENT

if TYPE_CHECKING:
    from codearc_env.oracle.oracle import Oracle

FRESH_BUDGET_S = 3.0
"""Time one fresh run may spend in all before its remaining inputs wait for the next run:
a candidate that hangs on every input costs a few limits, not one per input."""
CONFIRM_RUNS = 100
"""More reference runs of a nondeterministic target's input before it fails a candidate: runs
that agreed may have agreed by chance (a coin flip), and runs that differed may not yet have
reached the candidate's value (a choice among 8 misses one value in 12 runs one time in 5)."""


LOAD_PROBE_S = ref.TIME_BUCKETS_S[1]
"""Time limit of the load probe (:meth:`CandidateRun.load_problem`)."""
DRIVER_ARTEFACTS = frozenset({"RecursionError", "MemoryError"})
"""Errors the driver's extra frames and shared process can cause by themselves."""

class CandidateRun:
    """Runs one candidate on chosen inputs in the candidate sandbox."""

    def __init__(self, oracle: Oracle, fn: HiddenFunction, source: str) -> None:
        self.oracle, self.fn, self.source = oracle, fn, source
        self._fresh_seconds = 0.0

    @property
    def sandbox(self) -> Sandbox:
        return self.oracle.candidate_sandbox

    def load_problem(self) -> str | None:
        """Why the candidate module cannot be used, or None when it loads and is callable."""
        limits = limits_for(self.sandbox, LOAD_PROBE_S)
        probe = self.sandbox.run_one(
            self.source, self.fn.target, ref.load_probe(self.fn.target), limits
        )
        ref.raise_on_infra([probe])
        if probe.timed_out:
            return f"candidate did not finish loading within {limits.timeout_s:g} s"
        if probe.raised:
            return f"candidate failed to load: {error_text(probe)}"
        if not (probe.ok and probe.value == {"t": "bool", "v": True}):
            return f"{self.fn.target!r} is not callable in the candidate"
        return None

    def loaded_in(self, run: DriverRun, entries: Sequence[Expected]) -> bool:
        """Whether the driver ``run`` over ``entries`` showed what :meth:`load_problem` would
        find: the module loads within the probe's limit and its target is callable.

        So when the run completed within that limit (the module's loading included) and the
        target, called on literal arguments in the sequence pass, returned a value there: a
        call that returns needs a callable. A module that loads differently from run to run
        (a random failure, a thread that rebinds its target) may then be failed by a fresh
        run's reason instead of the probe's; its verdict was a matter of chance already, and
        the probe, which evaluates ``callable`` in the module's own namespace, never bound it.
        """
        if run.sequence is None or run.duration_s >= LOAD_PROBE_S:
            return False
        return any(
            r.ok and e.input.expression is None
            for e, r in zip(entries, run.sequence, strict=False)
        )

    def results(self, entries: Sequence[Expected]) -> list[CallResult | None]:
        """Fresh results in entry order; inputs grouped by their time limit. Once an input
        has timed out (which fails the candidate), inputs not run yet stay unrun (None): a
        candidate that hangs everywhere costs one run's budget, not a limit per input."""
        out: dict[int, CallResult] = {}
        by_limit: dict[float, list[int]] = {}
        for i, e in enumerate(entries):
            by_limit.setdefault(e.time_limit_s, []).append(i)
        for limit, idx in sorted(by_limit.items()):
            out.update(self._fresh([entries[i].input for i in idx], idx, limit))
            if any(r.timed_out for r in out.values()):
                break
        return [out.get(i) for i in range(len(entries))]

    @property
    def fresh_seconds(self) -> float:
        """Time the candidate took in all on its fresh runs so far."""
        return self._fresh_seconds

    def _fresh(
        self, inputs: list[CallInput], idx: list[int], limit_s: float
    ) -> dict[int, CallResult]:
        out: dict[int, CallResult] = {}
        pending = list(range(len(inputs)))
        limits = limits_for(self.sandbox, limit_s, batch_budget_s=FRESH_BUDGET_S)
        while pending:
            invs = [ref.to_invocation(inputs[j]) for j in pending]
            got = self.sandbox.run(self.source, self.fn.target, invs, limits, isolation="batch")
            ref.raise_on_infra(got)
            confirm = [
                k for k, r in enumerate(got) if r.raised and r.error_type not in ref.PURE_ERRORS
            ]
            if confirm:  # an error sharing a process may have caused: rerun alone
                again = self.sandbox.run(
                    self.source, self.fn.target, [invs[k] for k in confirm], limits
                )
                ref.raise_on_infra(again)
                got = list(got)
                for k, r in zip(confirm, again, strict=True):
                    got[k] = r
            unrun = [
                j
                for j, r in zip(pending, got, strict=True)
                if r.timed_out and r.error_message == BUDGET_SPENT
            ]
            for j, r in zip(pending, got, strict=True):
                self._fresh_seconds += r.duration_s
                if j not in unrun:
                    out[idx[j]] = r
            if len(unrun) == len(pending):  # no progress: cannot happen, but never loop
                out.update({idx[j]: CallResult(ok=False, timed_out=True) for j in unrun})
                break
            if any(r.timed_out for r in out.values()):
                break  # that input fails the candidate: the rest need not run
            pending = unrun
        return out

    def confirmed(self, entries: Sequence[Expected]) -> list[Expected]:
        """``entries`` of a nondeterministic target, each input run ``CONFIRM_RUNS`` more
        times by the reference."""
        todo = [i for i, e in enumerate(entries) if len(e.runs) > 1]
        if not todo:
            return list(entries)
        rs = self.oracle.reference_sandbox
        invs = [ref.to_invocation(entries[i].input) for i in todo for _ in range(CONFIRM_RUNS)]
        got = rs.run(self.fn.code, self.fn.target, invs, limits_for(rs, ref.REFERENCE_TIMEOUT_S),
                     isolation="batch")  # fmt: skip
        ref.raise_on_infra(got)
        out = list(entries)
        for n, i in enumerate(todo):
            more = [r for r in got[n * CONFIRM_RUNS : (n + 1) * CONFIRM_RUNS] if not r.timed_out]
            out[i] = Expected(entries[i].input, entries[i].runs + tuple(more))
        return out

    def shrunk(self, e: Expected, r: CallResult) -> tuple[Expected, CallResult]:
        """A simpler disagreeing input, when the failure can be reproduced on one."""
        if r.timed_out or len(e.runs) > 1 or e.input.expression is not None:
            return e, r  # hangs are slow to shrink; nondeterministic references cannot judge

        def evaluate(batch: Sequence[CallInput]) -> list[tuple[Expected, CallResult] | None]:
            rs = self.oracle.reference_sandbox
            limits = limits_for(rs, ref.REFERENCE_TIMEOUT_S)
            # Resident: the reference is the benchmark's code, and shrinking asks it about
            # many small inputs one batch at a time; a warm process answers each.
            got = rs.run(
                self.fn.code, self.fn.target, [ref.to_invocation(x) for x in batch], limits,
                isolation="resident",
            )  # fmt: skip
            ref.raise_on_infra(got)
            keep = [
                Expected(x, (g,))
                for x, g in zip(batch, got, strict=True)
                if not g.timed_out and g.ok == e.result.ok  # same kind of expected outcome
            ]
            actual = {
                id(k): r for k, r in zip(keep, self.results(keep), strict=True) if r is not None
            }
            out: list[tuple[Expected, CallResult] | None] = []
            for x in batch:
                k = next((k for k in keep if k.input is x), None)
                a = actual.get(id(k)) if k is not None else None
                bad = k is not None and a is not None and not a.timed_out
                out.append((k, a) if bad and not agrees(self.fn, k, a) else None)
            return out

        _, found = shrink(e.input, evaluate, max_evaluations=self.oracle.shrink_evaluations)
        return found if found is not None else (e, r)

    def drive(self, calls: DriverCalls, timeout_s: float) -> DriverRun:
        """The driver over ``calls`` (:func:`reference.driver_calls`)."""
        return run_driver(self.sandbox, self.source, self.fn.target, calls, timeout_s)

    def driver_problem(
        self,
        table: ReferenceTable,
        entries: list[Expected],
        n_base: int,
        run: DriverRun,
        keep: Sequence[bool],
    ) -> tuple[tuple[str, Counterexample] | None, list[int], list[int]]:
        """The first disagreement of a completed driver run (in sequence first, then fresh
        namespaces) as a reason and counterexample, or None when every result agrees; the
        indices of every entry that disagreed in either pass; and the indices the driver run
        could not settle, which fresh runs must confirm.

        ``entries[:n_base]`` are the base table's entries in its order. Unsettled: a value
        the driver did not send back, agreement only with the reference's own in-driver
        result, and a RecursionError or MemoryError the driver's own frames may have caused.
        (A check asks :class:`DriverJudgement` only for what it needs.)"""
        judgement = DriverJudgement(self, table, entries, n_base, run, keep)
        bad, unsettled = judgement.bad_and_unsettled()
        return judgement.first(), bad, unsettled

    def _after_agreeing_base(
        self,
        table: ReferenceTable,
        entries: list[Expected],
        n_base: int,
        run: DriverRun,
        keep: Sequence[bool],
    ) -> tuple[CallResult, ...] | None:
        """The fresh results of ``entries[n_base:]`` when every result of the base entries
        (both passes) is known to agree without a look at each, else None.

        Known so when the candidate's reply for them carries exactly the data of the reference's
        own driver run over its table (equal :func:`sequence.pass_key`, so results of equal
        data, types included), every one was sent back (kept), and the table agrees with every
        result of that run of its own (judged once per table): each judgement of the candidate's
        results is then that one, "agrees". Never for a nondeterministic target, whose runs
        need not repeat; results of the reference that a reply cannot carry give no key."""
        reply, own = run.reply, table.own_reply
        if reply is None or own is None or self.fn.quirks.nondeterministic:
            return None
        if len(table.expected) != n_base or not all(keep[:n_base]):
            return None
        if not all(map(operator.is_, entries[:n_base], table.expected)):
            return None
        own_sequence, own_fresh = table.own_reply_keys
        in_sequence, fresh = table.own_reply_judged(partial(agrees, self.fn), self.fn.comparison)
        mine_sequence, mine_fresh = reply.base_keys(n_base)
        if not (in_sequence and mine_sequence is not None and mine_sequence == own_sequence):
            return None
        # no fresh key: every base entry's fresh result is its sequence result (the driver's "s")
        if mine_fresh is not None and not (fresh and mine_fresh == own_fresh):
            return None
        return reply.fresh_after(n_base)

    def _disagreement(
        self, e: Expected, got: CallResult, context: str
    ) -> tuple[str, Counterexample]:
        return reason(self.fn, e, got, f" when called {context}"), counterexample(
            self.fn, e, got, context
        )

    def _driver_agrees(
        self,
        entries: list[Expected],
        i: int,
        got: CallResult,
        theirs: CallResult | None,
        keep: bool,
    ) -> bool | None:
        """True: agrees; False: disagrees; None: the driver run cannot tell (fresh runs will).

        ``keep`` is whether the value was sent back: the driver keeps no flag of its own,
        so nothing in the candidate's process says what the reference did."""
        e = entries[i]
        if not keep:
            return None
        if agrees(self.fn, e, got):
            return True
        if theirs is not None and agrees(self.fn, Expected(e.input, (theirs,)), got):
            return None  # the reference's in-driver result may be an artefact of the driver
        if not got.ok and got.error_type in DRIVER_ARTEFACTS:
            return None
        if self.fn.quirks.nondeterministic:
            # The driver's random state is not the one the sandbox gives each fresh run (and
            # the reference's in-driver result may be missing): fresh runs decide.
            return None
        return False
