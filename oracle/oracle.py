"""The oracle: does a candidate program behave like the hidden function on every input?

One check: static checks of the candidate (:mod:`candidate`); the reference table, from the
cache or computed once in the reference sandbox (:mod:`reference`); then the candidate, in
its own sandbox, two ways:

- fresh: every input in a fresh module namespace (one child process runs them in turn, the
  sandbox's batch isolation), so each result depends on its input alone;
- in sequence: every input in order in one process (:mod:`sequence`), so state kept between
  calls shows.

Every result of both must agree with the reference. A fresh disagreement is shrunk
(:mod:`shrink`) and reported as the counterexample; a disagreement seen only in sequence is
reported with how the call was made.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from codearc_env.errors import ReferenceUnavailableError
from codearc_env.functions.calls import ParsedCall, parse_call
from codearc_env.functions.spec import HiddenFunction
from codearc_env.oracle import reference as ref
from codearc_env.oracle.cache import ReferenceCache, default_cache_dir
from codearc_env.oracle.call_input import CallInput
from codearc_env.oracle.candidate import check_candidate
from codearc_env.oracle.candidate_run import CandidateRun
from codearc_env.oracle.driver_judgement import DriverJudgement, InFreshOrder, in_fresh_order
from codearc_env.oracle.generation import strength_size
from codearc_env.oracle.judge import agrees, counterexample, reason
from codearc_env.oracle.reference import Expected, ReferenceTable
from codearc_env.oracle.shrink import MAX_EVALUATIONS
from codearc_env.oracle.verdict import Counterexample, Verdict
from codearc_env.sandbox.base import CallResult, Invocation, Sandbox

__all__ = ["Oracle", "agrees"]

SLOW_DRIVER_FACTOR = 3.0
"""A driver run that timed out is retried with 3x the candidate's own fresh times."""


class Oracle:
    """Differential testing of candidates against hidden functions.

    ``reference_sandbox`` runs hidden functions, ``candidate_sandbox`` runs candidates; they
    must be different instances so a candidate never shares a process tree with a reference.
    The caller owns both sandboxes (the oracle starts them if needed, never closes them).
    ``cache_dir``: where reference tables are stored as JSON; None means the user cache
    (see :func:`cache.default_cache_dir`). Tables are also kept in memory.
    ``extra_sources``: optional callables ``(fn) -> list[CallInput]`` adding known inputs to
    the base set, e.g. :class:`codearc_env.oracle.llm_inputs.LLMInputs`; each must have a
    stable ``cache_id`` attribute, which enters the cache key.
    ``shrink_evaluations``: how many simpler inputs shrinking may try (0: report the failing
    input as found).
    """

    def __init__(
        self,
        reference_sandbox: Sandbox,
        candidate_sandbox: Sandbox,
        *,
        seed: int = 0,
        strength: str = "default",
        cache_dir: str | Path | None = None,
        extra_sources: Sequence[object] = (),
        shrink_evaluations: int = MAX_EVALUATIONS,
    ) -> None:
        if reference_sandbox is candidate_sandbox:
            raise ValueError("the reference and candidate sandboxes must be different instances")
        strength_size(strength)  # validates the name
        self.reference_sandbox = reference_sandbox
        self.candidate_sandbox = candidate_sandbox
        self.seed = seed
        self.strength = strength
        self.cache = ReferenceCache(Path(cache_dir) if cache_dir else default_cache_dir())
        self.extra_sources = tuple(extra_sources)
        self.shrink_evaluations = shrink_evaluations
        self.reference_computations = 0
        """How many reference tables were computed (not served from cache); for tests."""

    # ----------------------------------------------------------------- reference tables

    def base_table(self, fn: HiddenFunction) -> ReferenceTable:
        """The reference's results on the generated inputs of ``fn`` (cached)."""
        ids = [getattr(s, "cache_id", type(s).__name__) for s in self.extra_sources]
        key = ref.cache_key(fn, kind="base", seed=self.seed, strength=self.strength, extra=ids)
        table = self.cache.get(key)
        if table is None:
            # imported here: a cached table needs no generator (nor Hypothesis, its import)
            from codearc_env.oracle.inputs import dedupe, generate_inputs

            inputs = generate_inputs(fn, seed=self.seed, strength=self.strength)
            n_examples = sum(1 for x in inputs if x.origin == "example")
            for source in self.extra_sources:
                more = list(source(fn))  # type: ignore[operator]
                inputs = dedupe(inputs[:n_examples] + more + inputs[n_examples:])
            table = self._compute(fn, inputs, key)
        return table

    def extra_table(self, fn: HiddenFunction, extra: Sequence[CallInput]) -> ReferenceTable:
        """The reference's results on extra inputs (agent queries) and their mutations."""
        from codearc_env.oracle.inputs import extra_inputs

        inputs = extra_inputs(extra, seed=self.seed)
        keys = [x.key() for x in inputs]
        key = ref.cache_key(fn, kind="extra", seed=self.seed, inputs=keys)
        table = self.cache.get(key)
        if table is None:
            table = self._compute(fn, inputs, key)
        return table

    def _compute(self, fn: HiddenFunction, inputs: list[CallInput], key: str) -> ReferenceTable:
        self.reference_sandbox.start()
        table = ref.compute(self.reference_sandbox, fn, inputs, key)
        self.reference_computations += 1
        if table.expected:  # an empty table (every input timed out) is computed again
            self.cache.put(table)
        return table

    def expected(self, fn: HiddenFunction, extra: Sequence[CallInput] = ()) -> list[Expected]:
        """All expected results in checking order: examples, extra inputs, then the rest."""
        return self._expected_with(self.base_table(fn), fn, extra)

    def _expected_with(
        self, table: ReferenceTable, fn: HiddenFunction, extra: Sequence[CallInput]
    ) -> list[Expected]:
        """:meth:`expected` with ``fn``'s base table given."""
        base = list(table.expected)
        if not extra:
            return base
        n_examples = sum(1 for e in base if e.input.origin == "example")
        more = list(self.extra_table(fn, extra).expected)
        seen = {e.input.key() for e in base}
        more = [e for e in more if e.input.key() not in seen]
        return base[:n_examples] + more + base[n_examples:]

    def run_candidate(
        self, fn: HiddenFunction, candidate_source: str, entries: Sequence[Expected]
    ) -> list[CallResult]:
        """The candidate's raw results on chosen entries (for baselines and diagnostics)."""
        self.candidate_sandbox.start()
        got = CandidateRun(self, fn, candidate_source).results(entries)
        return [r if r is not None else CallResult(ok=False, timed_out=True) for r in got]

    # ---------------------------------------------------------------------- the check

    def check(
        self,
        fn: HiddenFunction,
        candidate_source: str | bytes,
        extra_inputs: Iterable[ParsedCall | Invocation | CallInput | str] = (),
    ) -> Verdict:
        """Judge ``candidate_source`` against ``fn``. Raises SandboxError on infrastructure
        failures; every fault of the candidate is a failing verdict."""
        start = time.perf_counter()

        def verdict(passed: bool, why: str, cex: Counterexample | None, n: int) -> Verdict:
            return Verdict(passed, why, cex, n, time.perf_counter() - start)

        problem = check_candidate(candidate_source, fn.target)
        if problem is not None:
            return verdict(False, problem, None, 0)
        if isinstance(candidate_source, bytes | bytearray):
            candidate_source = bytes(candidate_source).decode("utf-8")
        extra = [_as_input(x, fn.target) for x in extra_inputs]
        table = self.base_table(fn)
        expected = self._expected_with(table, fn, [x for x in extra if x is not None])
        if not expected:
            # Neither a pass (nothing could tell a wrong candidate apart) nor a fail (the
            # candidate has not run): the reference, not the candidate, could not be graded.
            raise ReferenceUnavailableError(
                f"the reference of {fn.problem_id} finished on no input within its time "
                "limits, so equivalence cannot be checked (is the machine overloaded?)"
            )
        self.candidate_sandbox.start()
        run = CandidateRun(self, fn, candidate_source)
        n = len(expected)
        n_base = len(table.expected)
        # the base entries first, in table order, so the sequence pass matches the reference's
        if n == n_base:  # no further entries: ``expected`` is the table's
            ordered, timeout = list(table.expected), table.own_sequence_timeout
            calls = table.own_calls
        else:
            base_ids = {id(e) for e in table.expected}
            ordered = list(table.expected) + [e for e in expected if id(e) not in base_ids]
            timeout = ref.sequence_timeout(ordered)
            calls = ref.driver_calls(ordered, n_base, table.kept_with(ordered[n_base:]))
        keep = calls.keep
        drive = run.drive(calls, timeout)
        problem = None
        judgement = None
        if drive.completed:
            judgement = DriverJudgement(run, table, ordered, n_base, drive, keep)
            if judgement.agrees_everywhere():
                return verdict(True, f"agreed with the reference on {n} inputs", None, n)
            # fresh runs confirm only what disagreed or could not be settled, judged as far
            # as they get
            suspects = judgement.suspects(fn.target)
        else:
            suspects = in_fresh_order(expected, fn.target)  # without a driver result, all
        # only now (a passing candidate needs one call), and only when the driver did not
        # show already that the module loads and its target is callable
        load_problem = None if run.loaded_in(drive, ordered) else run.load_problem()
        if load_problem is not None:
            return verdict(False, load_problem, None, 0)
        failed = self._fresh_failure(fn, run, suspects)
        if failed is not None:
            return verdict(False, failed[0], failed[1], n)
        if judgement is not None:
            problem = judgement.first()
        if drive.timed_out:  # fresh runs all agreed: slow, or stuck only when sharing a process
            own = SLOW_DRIVER_FACTOR * run.fresh_seconds + ref.SEQUENCE_FLOOR_S
            if own > timeout:
                drive = run.drive(calls, own)
                if drive.completed:
                    problem = run.driver_problem(table, ordered, n_base, drive, keep)[0]
        if problem is not None:
            return verdict(False, problem[0], problem[1], n)
        if not drive.completed and table.sequence is not None:
            why = f"failed when run on {n} inputs in one process: {drive.problem}"
            return verdict(False, why, None, n)
        return verdict(True, f"agreed with the reference on {n} inputs", None, n)

    def _fresh_failure(
        self, fn: HiddenFunction, run: CandidateRun, expected: InFreshOrder
    ) -> tuple[str, Counterexample] | None:
        """Every input in a fresh namespace under its own limit: the shrunk first
        disagreement, or None.

        Inputs run the simplest first (``expected`` is in that order), in growing groups, and
        running stops at the first group with a disagreement: a verdict needs one, and the
        simplest is the one reported, so a wrong candidate is not run again on every input
        its driver run got wrong. A group runs its first few inputs before the rest
        (:func:`_group_parts`)."""
        start, size = 0, FRESH_GROUP
        while expected.has(start):
            group = expected.positions(start, size)
            start, size = start + size, 2 * size
            for part in _group_parts(group, expected):
                got = run.results([expected[j] for j in part])
                # None: not run (an input timed out before it)
                results = {j: r for j, r in zip(part, got, strict=True) if r is not None}
                bad = [j for j in part if j in results and not agrees(fn, expected[j], results[j])]
                if bad and fn.quirks.nondeterministic:
                    bad = self._still_bad(fn, run, expected, results, bad)
                if bad:
                    e, r = run.shrunk(expected[bad[0]], results[bad[0]])
                    return reason(fn, e, r), counterexample(fn, e, r)
        return None

    @staticmethod
    def _still_bad(
        fn: HiddenFunction, run: CandidateRun, expected: InFreshOrder,
        results: dict[int, CallResult], bad: list[int],
    ) -> list[int]:
        """The disagreements of a nondeterministic target that more reference runs confirm,
        the simplest first; confirming stops at the first group with one (a verdict needs one)."""
        for start in range(0, len(bad), CONFIRM_GROUP):
            group = bad[start : start + CONFIRM_GROUP]
            for i, e in zip(group, run.confirmed([expected[i] for i in group]), strict=True):
                expected[i] = e
            confirmed = [i for i in group if not agrees(fn, expected[i], results[i])]
            if confirmed:
                return confirmed
        return []


CONFIRM_GROUP = 4
"""Disagreements of a nondeterministic target confirmed per reference call."""
FRESH_GROUP = 16
"""Inputs in the first group of fresh runs of a failing check; each next group is twice as big."""
FRESH_HEAD = 4
"""Inputs of a group run before the rest of it, when that reports the same input."""


def _group_parts(group: list[int], expected: InFreshOrder) -> list[list[int]]:
    """A group of fresh runs (indices of ``expected``, simplest first) as its first
    ``FRESH_HEAD`` inputs and the rest, or whole when that could change what is reported.

    The group reports its first disagreement that ran (the simplest). An input may not run:
    :meth:`CandidateRun.results` runs inputs by time limit, shortest first, and stops at a
    time-out. So a head's first disagreement is the group's, whatever the rest does, when no
    input of the rest has a shorter time limit than one of the head; a head without any
    leaves the group's first to the rest. Usually every limit is the floor, and a wrong
    candidate costs the runs of the head only.
    """
    head, rest = group[:FRESH_HEAD], group[FRESH_HEAD:]
    if not rest:
        return [group]
    slowest_head = max(expected[j].time_limit_s for j in head)
    if any(expected[j].time_limit_s < slowest_head for j in rest):
        return [group]
    return [head, rest]


def _as_input(x: ParsedCall | Invocation | CallInput | str, target: str) -> CallInput | None:
    """Normalise an extra input; calls of another name or non-literal ones are skipped."""
    if isinstance(x, CallInput):
        return x
    from codearc_env.oracle.inputs import from_parsed

    if isinstance(x, ParsedCall):
        return from_parsed(x) if x.name == target else None
    if isinstance(x, Invocation):
        return None if x.expression is not None else CallInput(x.args, x.kwargs, "query")
    if isinstance(x, str):
        return from_parsed(parse_call(x, target))
    raise TypeError(
        f"extra input must be a ParsedCall, Invocation or call text, not {type(x).__name__}"
    )
