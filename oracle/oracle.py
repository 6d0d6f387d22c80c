"""The oracle: does a candidate program behave like the hidden function on every input?

One check: static checks of the candidate (:mod:`candidate`); the reference table, from the
cache or computed once in the reference sandbox (:mod:`reference`); the candidate run in its
own sandbox, in growing chunks so that a candidate that fails or hangs early costs little;
the first chunk with a disagreement decides, its shortest disagreeing input is shrunk
(:mod:`shrink`) and reported as the counterexample.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from codearc_env.functions.calls import ParsedCall, parse_call
from codearc_env.functions.spec import HiddenFunction
from codearc_env.oracle import reference as ref
from codearc_env.oracle.batch import batch_agrees
from codearc_env.oracle.candidate import check_candidate
from codearc_env.oracle.compare import results_match, skeleton
from codearc_env.oracle.inputs import (
    CallInput,
    dedupe,
    extra_inputs,
    from_parsed,
    generate_inputs,
    strength_size,
)
from codearc_env.oracle.reference import Expected, ReferenceCache, ReferenceTable
from codearc_env.oracle.shrink import MAX_EVALUATIONS, shrink
from codearc_env.oracle.verdict import Counterexample, Verdict
from codearc_env.sandbox.base import CallResult, Invocation, Sandbox

FIRST_CHUNK = 2
CHUNK_GROWTH = 4
"""Candidate chunks are 2, 8, 32, 128, ... inputs: a hang everywhere costs one or two limits."""


class Oracle:
    """Differential testing of candidates against hidden functions.

    ``reference_sandbox`` runs hidden functions, ``candidate_sandbox`` runs candidates; they
    must be different instances so a candidate never shares a process tree with a reference.
    The caller owns both sandboxes (the oracle starts them if needed, never closes them).
    ``cache_dir``: where reference tables are stored as JSON; None means the user cache
    (see :func:`reference.default_cache_dir`). Tables are also kept in memory.
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
        self.cache = ReferenceCache(Path(cache_dir) if cache_dir else ref.default_cache_dir())
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
            inputs = generate_inputs(fn, seed=self.seed, strength=self.strength)
            n_examples = sum(1 for x in inputs if x.origin == "example")
            for source in self.extra_sources:
                more = list(source(fn))  # type: ignore[operator]
                inputs = dedupe(inputs[:n_examples] + more + inputs[n_examples:])
            table = self._compute(fn, inputs, key)
        return table

    def extra_table(self, fn: HiddenFunction, extra: Sequence[CallInput]) -> ReferenceTable:
        """The reference's results on extra inputs (agent queries) and their mutations."""
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
        self.cache.put(table)
        return table

    def expected(self, fn: HiddenFunction, extra: Sequence[CallInput] = ()) -> list[Expected]:
        """All expected results in checking order: examples, extra inputs, then the rest."""
        base = list(self.base_table(fn).expected)
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
        return _CandidateRun(self, fn, candidate_source).results(entries)

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

        def verdict(passed: bool, reason: str, cex: Counterexample | None, n: int) -> Verdict:
            return Verdict(passed, reason, cex, n, time.perf_counter() - start)

        problem = check_candidate(candidate_source, fn.target)
        if problem is not None:
            return verdict(False, problem, None, 0)
        if isinstance(candidate_source, bytes | bytearray):
            candidate_source = bytes(candidate_source).decode("utf-8")
        extra = [_as_input(x, fn.target) for x in extra_inputs]
        expected = self.expected(fn, [x for x in extra if x is not None])
        if not expected:  # never a vacuous pass: nothing could tell a wrong candidate apart
            reason = "the reference finished on no input, so equivalence cannot be checked"
            return verdict(False, reason, None, 0)
        self.candidate_sandbox.start()
        run = _CandidateRun(self, fn, candidate_source)
        load_problem = run.load_problem()
        if load_problem is not None:
            return verdict(False, load_problem, None, 0)
        if not fn.quirks.nondeterministic and batch_agrees(
            self.candidate_sandbox, candidate_source, fn.target, expected, fn.comparison
        ):
            return verdict(
                True, f"agreed with the reference on {len(expected)} inputs", None, len(expected)
            )
        n_done = 0
        size = FIRST_CHUNK
        while n_done < len(expected):
            chunk = expected[n_done : n_done + size]
            results = run.results(chunk)
            n_done += len(chunk)
            size *= CHUNK_GROWTH
            bad = [
                (i, e, r)
                for i, (e, r) in enumerate(zip(chunk, results, strict=True))
                if not agrees(fn, e, r)
            ]
            if bad:
                _, e, r = min(bad, key=lambda b: (len(b[1].input.call_text(fn.target)), b[0]))
                e, r = run.shrunk(e, r)
                return verdict(False, _reason(fn, e, r), counterexample(fn, e, r), n_done)
        return verdict(True, f"agreed with the reference on {n_done} inputs", None, n_done)


class _CandidateRun:
    """Runs one candidate on chosen inputs in the candidate sandbox."""

    def __init__(self, oracle: Oracle, fn: HiddenFunction, source: str) -> None:
        self.oracle, self.fn, self.source = oracle, fn, source

    def load_problem(self) -> str | None:
        """Why the candidate module cannot be used, or None when it loads and is callable."""
        sandbox = self.oracle.candidate_sandbox
        limits = _limits(sandbox, ref.TIME_BUCKETS_S[1])
        probe = sandbox.run_one(self.source, self.fn.target, ref.load_probe(self.fn.target), limits)
        ref.raise_on_infra([probe])
        if probe.timed_out:
            return f"candidate did not finish loading within {limits.timeout_s:g} s"
        if probe.raised:
            return f"candidate failed to load: {_error_text(probe)}"
        if not (probe.ok and probe.value == {"t": "bool", "v": True}):
            return f"{self.fn.target!r} is not callable in the candidate"
        return None

    def results(self, chunk: Sequence[Expected]) -> list[CallResult]:
        """Candidate results in chunk order; inputs grouped by their time limit."""
        out: dict[int, CallResult] = {}
        by_limit: dict[float, list[int]] = {}
        for i, e in enumerate(chunk):
            by_limit.setdefault(e.time_limit_s, []).append(i)
        sandbox = self.oracle.candidate_sandbox
        for limit, idx in sorted(by_limit.items()):
            invs = [ref.to_invocation(chunk[i].input) for i in idx]
            results = sandbox.run(self.source, self.fn.target, invs, _limits(sandbox, limit))
            ref.raise_on_infra(results)
            out.update(zip(idx, results, strict=True))
        return [out[i] for i in range(len(chunk))]

    def shrunk(self, e: Expected, r: CallResult) -> tuple[Expected, CallResult]:
        """A simpler disagreeing input, when the failure can be reproduced on one."""
        if r.timed_out or len(e.runs) > 1:
            return e, r  # hangs are slow to shrink; nondeterministic references cannot judge

        def evaluate(batch: Sequence[CallInput]) -> list[tuple[Expected, CallResult] | None]:
            rs = self.oracle.reference_sandbox
            limits = _limits(rs, ref.REFERENCE_TIMEOUT_S)
            got = rs.run(
                self.fn.code, self.fn.target, [ref.to_invocation(x) for x in batch], limits
            )
            ref.raise_on_infra(got)
            keep = [
                Expected(x, (g,))
                for x, g in zip(batch, got, strict=True)
                if not g.timed_out and g.ok == e.result.ok  # same kind of expected outcome
            ]
            actual = dict(zip((id(k) for k in keep), self.results(keep), strict=True))
            out: list[tuple[Expected, CallResult] | None] = []
            for x in batch:
                k = next((k for k in keep if k.input is x), None)
                a = actual.get(id(k)) if k is not None else None
                bad = k is not None and a is not None and not a.timed_out
                out.append((k, a) if bad and not agrees(self.fn, k, a) else None)  # type: ignore[arg-type]
            return out

        _, found = shrink(e.input, evaluate, max_evaluations=self.oracle.shrink_evaluations)
        return found if found is not None else (e, r)


def agrees(fn: HiddenFunction, e: Expected, r: CallResult) -> bool:
    """Whether the candidate's result ``r`` is acceptable for the expected entry ``e``.

    Deterministic targets: :func:`compare.results_match` against the single reference run.
    Nondeterministic targets (``fn.quirks.nondeterministic``, run several times): accepted when
    the result equals one of the reference runs, or, when every run returned, has the type
    skeleton of one of them (of a value over the output cap, only its type); when every run
    raised, the candidate must raise (type rule as usual); when the runs disagree on raising,
    any finished result is accepted.
    """
    if r.timed_out:
        return False
    cmp = fn.comparison
    if len(e.runs) == 1:
        return results_match(e.result, r, cmp)
    if any(results_match(run, r, cmp) for run in e.runs):
        return True
    raised = [run.raised for run in e.runs]
    if all(raised):
        return r.raised and (
            not cmp.exception_type_must_match
            or any(run.error_type == r.error_type for run in e.runs)
        )
    if any(raised):
        return True
    # a value over the output cap is a digest whose skeleton is only its type (annotated/1002)
    return r.ok and skeleton(r.value) in {skeleton(run.value) for run in e.runs}


def counterexample(fn: HiddenFunction, e: Expected, r: CallResult) -> Counterexample:
    exp = e.result
    return Counterexample(
        call_text=e.input.call_text(fn.target),
        expected=exp.value_str if exp.ok else None,
        actual=r.value_str if r.ok else None,
        expected_error=_error_text(exp) if exp.raised else None,
        actual_error=(
            _error_text(r)
            if r.raised
            else f"Timeout: no result within {_limit_text(e)} s"
            if r.timed_out
            else None
        ),
    )


def _reason(fn: HiddenFunction, e: Expected, r: CallResult) -> str:
    call = e.input.call_text(fn.target)
    if len(call) > 200:
        call = call[:197] + "..."
    exp = e.result
    if r.timed_out:
        return f"timed out on {call} (limit {_limit_text(e)} s) where the reference finished"
    if r.raised and not exp.raised:
        return f"raised {r.error_type} on {call} where the reference returned a value"
    if exp.raised and not r.raised:
        return f"returned a value on {call} where the reference raised {exp.error_type}"
    if exp.raised and r.raised:
        return f"raised {r.error_type} on {call} where the reference raised {exp.error_type}"
    return f"wrong result on {call}"


def _limit_text(e: Expected) -> str:
    return f"{e.time_limit_s:g}"


def _error_text(r: CallResult) -> str:
    return f"{r.error_type}: {r.error_message}" if r.error_message else str(r.error_type)


def _limits(sandbox: Sandbox, timeout_s: float):
    return dataclasses.replace(
        sandbox.limits, timeout_s=timeout_s, cpu_s=max(1, math.ceil(timeout_s)) + 1
    )


def _as_input(x: ParsedCall | Invocation | CallInput | str, target: str) -> CallInput | None:
    """Normalise an extra input; calls of another name or non-literal ones are skipped."""
    if isinstance(x, CallInput):
        return x
    if isinstance(x, ParsedCall):
        return from_parsed(x) if x.name == target else None
    if isinstance(x, Invocation):
        return None if x.expression is not None else CallInput(x.args, x.kwargs, "query")
    if isinstance(x, str):
        return from_parsed(parse_call(x, target))
    raise TypeError(
        f"extra input must be a ParsedCall, Invocation or call text, not {type(x).__name__}"
    )
