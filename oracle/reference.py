"""Reference results: the hidden function run on every input (cached by :mod:`cache`).

The reference runs in its own sandbox. Inputs on which it times out are dropped (no verdict
can rest on them), and generated inputs beyond a per-problem time budget are dropped too;
inputs on which it raises are kept (the candidate must raise too), except edge inputs
(:mod:`edges`), which are proposals the reference must accept. Its measured runtime per
input sets the candidate's time limit. Nondeterministic targets are run several times; an
input whose runs disagree is unstable and is run more times, so the weaker rule for it
(:func:`compare.plausible`) has a range to go by. Finally the reference is run over the
whole input set in one process (:mod:`sequence`), the condition candidates are held to as well.

Tables are keyed by a SHA-256 of everything that determines their content: the module
source, the target, the generator version, the seed, the strength and the input set's kind
(the base set, or a set of extra inputs, whose key covers those inputs).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property

from codearc_env.errors import SandboxError
from codearc_env.functions.spec import Comparison, HiddenFunction
from codearc_env.oracle.call_input import CallInput
from codearc_env.oracle.compare import results_match
from codearc_env.oracle.limits import limits_for
from codearc_env.oracle.sequence import (
    KEPT_VALUE_CHARS,
    DriverCalls,
    DriverReply,
    kept,
    kept_and_room,
    reply_of,
    run_driver,
)
from codearc_env.sandbox.base import CallResult, Invocation, Limits, Sandbox
from codearc_env.sandbox.worker import BUDGET_SPENT

CACHE_VERSION = (
    5  # 4: structured values, edge inputs, wrapped examples, sequence runs; 5: edge filter
)
REFERENCE_TIMEOUT_S = 2.0
"""Per-input limit of the reference; inputs it cannot finish in this time are dropped."""
GENERATED_FLOOR_S = 0.25
TIGHT_FLOOR_S = 0.02
TIGHTEN_AFTER = 3
DRAWN_BUDGET_S = 3.0
"""Reference time allowed per run on generated inputs; see :class:`DrawnBudget`."""
DRAWN_CHUNK = 50
"""Generated inputs per sandbox call; the limit can tighten between chunks."""
KNOWN_ORIGINS = frozenset({"example", "query", "llm"})
EDGE_FLOOR_S = 0.05
EDGE_FACTOR = 5.0
"""An edge input is kept when the reference took at most 5x its slowest example, 50 ms at least."""
NONDETERMINISTIC_RUNS = 3
UNSTABLE_RUNS = 12
"""Runs of an input on which the first runs of a nondeterministic reference disagree."""
SEQUENCE_FLOOR_S = 2.0
SEQUENCE_FACTOR = 10.0
"""A sequence run may take 10x the summed single-call times of the reference, 2 s at least."""
TIME_FLOOR_S = 1.0
TIME_FACTOR = 10.0
TIME_BUCKETS_S = (1.0, 2.0, 5.0, 10.0, 20.0)
"""Candidate limits are rounded up to one of these, so inputs group into few sandbox calls."""
CHUNK = 200
PURE_ERRORS = frozenset(
    {
        "ArithmeticError", "AssertionError", "AttributeError", "IndexError", "KeyError",
        "LookupError", "NameError", "NotImplementedError", "OverflowError", "StopIteration",
        "TypeError", "UnboundLocalError", "UnicodeDecodeError", "UnicodeEncodeError",
        "ValueError", "ZeroDivisionError",
    }
)  # fmt: skip
"""Exception types a batch cannot cause; others (MemoryError, OSError...) are rerun alone."""
_EXACT = Comparison(float_rel_tol=0.0, float_abs_tol=0.0)


@dataclass(frozen=True)
class Expected:
    """One input and what the reference did on it (one result per reference run)."""

    input: CallInput
    runs: tuple[CallResult, ...]

    @property
    def result(self) -> CallResult:
        return self.runs[0]

    @property
    def stable(self) -> bool:
        """All reference runs agree exactly (always true for a single run)."""
        return all(results_match(self.runs[0], r, _EXACT) for r in self.runs[1:])

    @property
    def time_limit_s(self) -> float:
        """The candidate's limit on this input: 10x the reference's slowest run, 1 s floor."""
        want = max(TIME_FLOOR_S, TIME_FACTOR * max(r.duration_s for r in self.runs))
        for bucket in TIME_BUCKETS_S:
            if want <= bucket:
                return bucket
        return TIME_BUCKETS_S[-1]


@dataclass(frozen=True)
class ReferenceTable:
    """The reference's results on an input set, in input order; timed-out inputs removed."""

    key: str
    expected: tuple[Expected, ...]
    dropped: int
    """Inputs removed because the reference timed out on them (or rejected an edge input)."""
    sequence: tuple[CallResult, ...] | None = None
    """The reference's results when run over ``expected`` in order in one process (values
    only where :func:`sequence.kept`); None when that run did not complete."""
    namespaced: tuple[CallResult, ...] | None = None
    """Its results with each input in a fresh namespace of that same process (the driver's
    second pass); None when the run did not complete."""

    def kept_with(self, extra: Sequence[Expected]) -> list[bool]:
        """:func:`sequence.kept` of this table's entries followed by ``extra``."""
        flags, room = self._kept
        return [*flags, *kept_and_room([e.result for e in extra], room)[0]]

    @cached_property
    def own_reply(self) -> DriverReply | None:
        """The reply of the reference's driver run over this table, as ``sequence`` and
        ``namespaced`` tell it (:func:`sequence.reply_of`); None without them."""
        if self.sequence is None or self.namespaced is None:
            return None
        return reply_of(self.sequence, self.namespaced)

    def own_reply_judged(
        self, judge: Callable[[Expected, CallResult], bool], depends_on: Hashable
    ) -> tuple[bool, bool]:
        """Whether ``judge`` accepts, for every entry, the result of :attr:`own_reply`'s
        sequence pass (first) and of its fresh pass (second), both False without one.
        Remembered by ``depends_on``, which must be all that ``judge`` depends on besides
        its arguments: every check of a candidate asks, and a table never changes."""
        if depends_on not in self._judged:
            reply = self.own_reply
            results = reply.results if reply is not None else ((), ())
            in_sequence, fresh = (
                len(rs) == len(self.expected) and all(map(judge, self.expected, rs))
                for rs in results
            )
            self._judged[depends_on] = in_sequence, fresh
        return self._judged[depends_on]

    @cached_property
    def _judged(self) -> dict[Hashable, tuple[bool, bool]]:
        return {}

    @cached_property
    def own_reply_keys(self) -> tuple[bytes | None, bytes | None]:
        """:meth:`sequence.DriverReply.base_keys` of :attr:`own_reply` over the whole table."""
        own = self.own_reply
        return own.base_keys(len(self.expected)) if own is not None else (None, None)

    @cached_property
    def own_calls(self) -> DriverCalls:
        """:func:`driver_calls` of this table's entries alone, built once."""
        return driver_calls(self.expected, len(self.expected), self._kept[0])

    @cached_property
    def own_sequence_timeout(self) -> float:
        """:func:`sequence_timeout` of this table's entries, computed once."""
        return sequence_timeout(self.expected)

    @cached_property
    def _kept(self) -> tuple[tuple[bool, ...], int]:
        """The table's own part of :meth:`kept_with`, computed once: a table never changes,
        and every check of a candidate needs it."""
        flags, room = kept_and_room([e.result for e in self.expected], KEPT_VALUE_CHARS)
        return tuple(flags), room


def cache_key(fn: HiddenFunction, **parts: object) -> str:
    """Content hash of the reference module, its target and the input-set parameters."""
    from codearc_env.oracle.generation import GENERATOR_VERSION

    payload = {
        "cache": CACHE_VERSION,
        "generator": GENERATOR_VERSION,
        "source": fn.code,
        "target": fn.target,
        "reference_timeout_s": [
            REFERENCE_TIMEOUT_S,
            GENERATED_FLOOR_S,
            TIGHT_FLOOR_S,
            DRAWN_BUDGET_S,
        ],
        "runs": reference_runs(fn),
        **parts,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def reference_runs(fn: HiddenFunction) -> int:
    return NONDETERMINISTIC_RUNS if fn.quirks.nondeterministic else 1


def load_probe(target: str) -> Invocation:
    """An invocation that succeeds (returning True) iff the module loads and defines a callable
    ``target``. The expression is ours, never agent text."""
    return Invocation(expression=f"callable({target})")


def compute(
    sandbox: Sandbox, fn: HiddenFunction, inputs: Sequence[CallInput], key: str
) -> ReferenceTable:
    """Run the reference on ``inputs`` (several times when nondeterministic).

    Known inputs (examples, queries, LLM proposals) get the full ``REFERENCE_TIMEOUT_S``.
    Generated inputs are run under a time budget (:class:`DrawnBudget`): an input far slower
    than every example is out of the problem's intended range, and a reference that loops
    forever on part of the generated inputs must not cost minutes per problem.
    """
    limits = limits_for(sandbox, REFERENCE_TIMEOUT_S)
    probe = sandbox.run_one(fn.code, fn.target, load_probe(fn.target), limits)
    raise_on_infra([probe])
    if not (probe.ok and probe.value == {"t": "bool", "v": True}):
        problem = f"{probe.error_type}: {probe.error_message}" if probe.raised else "no callable"
        raise SandboxError(
            f"the reference of {fn.problem_id} does not load in the {sandbox.name} sandbox "
            f"({problem}); is a module it needs missing?"
        )
    known = [i for i, x in enumerate(inputs) if x.origin in KNOWN_ORIGINS]
    drawn = [i for i, x in enumerate(inputs) if x.origin not in KNOWN_ORIGINS]
    # smallest first: when the budget runs out, the inputs dropped are the largest
    drawn.sort(key=lambda i: len(inputs[i].key() or ""))
    runs: list[list[CallResult]] = [[] for _ in inputs]
    for _ in range(reference_runs(fn)):
        _run_into(sandbox, fn, inputs, known, limits, runs)
        finished = [runs[i][-1].duration_s for i in known if not runs[i][-1].timed_out]
        # no known inputs: nothing to scale from; known ones that all time out: hopeless
        slowest = max(finished, default=0.0 if known else REFERENCE_TIMEOUT_S)
        budget = DrawnBudget(slowest)
        for part in budget.chunks(drawn):
            _run_into(sandbox, fn, inputs, part, budget.limits(sandbox), runs)
            budget.spend([runs[i][-1] for i in part])
        # later runs only repeat what this run kept: a dropped input stays dropped
        drawn = [i for i in drawn if runs[i] and not runs[i][-1].timed_out]
    edge_limit_s = max(EDGE_FLOOR_S, EDGE_FACTOR * slowest)
    complete = [
        i
        for i, rs in enumerate(runs)
        if len(rs) == reference_runs(fn) and not any(r.timed_out for r in rs)
        and not (inputs[i].origin == "edge" and not _edge_accepted(rs, edge_limit_s))
    ]  # fmt: skip
    if reference_runs(fn) > 1:
        _rerun_unstable(sandbox, fn, inputs, complete, limits, runs)
    expected = tuple(Expected(inputs[i], tuple(runs[i])) for i in complete)
    drive = reference_driver(sandbox, fn, expected)
    return ReferenceTable(key, expected, len(inputs) - len(expected), drive[0], drive[1])


def _edge_accepted(runs: Sequence[CallResult], limit_s: float) -> bool:
    """An edge input stays when the reference returned on it, a value small enough to be
    compared (not a digest) and about as fast as on the examples: edge values probe
    magnitudes and types, not how slow or large the reference can get."""
    return all(r.ok and not r.truncated and r.duration_s <= limit_s for r in runs)


def sequence_timeout(expected: Sequence[Expected]) -> float:
    """Time allowed for one driver run over ``expected`` (two passes), reference or candidate."""
    total = sum(max(r.duration_s for r in e.runs) for e in expected)
    return max(SEQUENCE_FLOOR_S, 2 * SEQUENCE_FACTOR * total)


def reference_driver(
    sandbox: Sandbox, fn: HiddenFunction, expected: Sequence[Expected]
) -> tuple[tuple[CallResult, ...] | None, tuple[CallResult, ...] | None]:
    """The reference's (sequence, fresh namespace) results over its table in one process;
    (None, None) when that run did not complete."""
    if not expected:
        return None, None
    calls = driver_calls(expected, len(expected), kept([e.result for e in expected]))
    run = run_driver(sandbox, fn.code, fn.target, calls, sequence_timeout(expected))
    return run.sequence, run.fresh


def driver_calls(entries: Sequence[Expected], n_base: int, keep: Sequence[bool]) -> DriverCalls:
    """The calls of a driver run over ``entries``: the first ``n_base`` in sequence, all fresh;
    ``keep``: :func:`sequence.kept` of their results (``ReferenceTable.kept_with``)."""
    n = len(entries)
    return DriverCalls(
        tuple(e.input for e in entries), tuple(keep), (True,) * n_base + (False,) * (n - n_base)
    )


def _rerun_unstable(
    sandbox: Sandbox,
    fn: HiddenFunction,
    inputs: Sequence[CallInput],
    indices: list[int],
    limits: Limits,
    runs: list[list[CallResult]],
) -> None:
    """More runs of the inputs whose first runs disagree (a range for the weaker rule)."""
    unstable = [i for i in indices if not Expected(inputs[i], tuple(runs[i])).stable]
    for _ in range(UNSTABLE_RUNS - reference_runs(fn)):
        if not unstable:
            return
        _run_into(sandbox, fn, inputs, unstable, limits, runs)
        # a run that timed out now adds no information; keep the entry's earlier runs
        for i in unstable:
            if runs[i][-1].timed_out:
                runs[i].pop()


class DrawnBudget:
    """How long the reference may spend on generated inputs, and with which per-input limit.

    The per-input limit starts at 20x the slowest known input (``GENERATED_FLOOR_S`` to
    ``REFERENCE_TIMEOUT_S``). After ``TIGHTEN_AFTER`` time-outs it drops to 20x the slowest
    generated input that finished (at least ``TIGHT_FLOOR_S``): a reference that hangs on a
    region of the inputs then costs milliseconds per hang, not a quarter of a second. The
    sandbox stops a chunk once ``DRAWN_BUDGET_S`` is spent in all (``Limits.batch_budget_s``);
    the inputs it did not run are dropped like time-outs.
    """

    def __init__(self, slowest_known_s: float) -> None:
        self.limit_s = min(REFERENCE_TIMEOUT_S, max(GENERATED_FLOOR_S, 20 * slowest_known_s))
        self.spent_s = 0.0
        self.timeouts = 0
        self.slowest_finished_s = 0.0

    @property
    def room_s(self) -> float:
        return max(0.0, DRAWN_BUDGET_S - self.spent_s)

    def chunks(self, indices: list[int]) -> Iterator[list[int]]:
        for start in range(0, len(indices), DRAWN_CHUNK):
            if self.room_s <= 0:
                return
            yield indices[start : start + DRAWN_CHUNK]

    def limits(self, sandbox: Sandbox) -> Limits:
        return limits_for(sandbox, self.limit_s, batch_budget_s=self.room_s)

    def spend(self, results: Sequence[CallResult]) -> None:
        for r in results:
            if r.timed_out and r.error_message == BUDGET_SPENT:
                self.spent_s = DRAWN_BUDGET_S
            elif r.timed_out:
                self.timeouts += 1
                self.spent_s += self.limit_s
            else:
                self.spent_s += r.duration_s
                self.slowest_finished_s = max(self.slowest_finished_s, r.duration_s)
        if self.timeouts >= TIGHTEN_AFTER:
            tight = max(TIGHT_FLOOR_S, 20 * self.slowest_finished_s)
            self.limit_s = min(self.limit_s, tight)


def _run_into(
    sandbox: Sandbox,
    fn: HiddenFunction,
    inputs: Sequence[CallInput],
    indices: list[int],
    limits: Limits,
    runs: list[list[CallResult]],
) -> None:
    for start in range(0, len(indices), CHUNK):
        part = indices[start : start + CHUNK]
        invocations = [to_invocation(inputs[i]) for i in part]
        # Batch isolation: one child runs the whole chunk, each invocation in a fresh module
        # namespace; 10-20x faster than a fork per call (docs/sandbox.md).
        results = sandbox.run(fn.code, fn.target, invocations, limits, isolation="batch")
        raise_on_infra(results)
        # An error in a batch may be an artifact of sharing one process (the memory limit
        # covers the whole batch; descriptors or processes left by earlier calls): confirm it
        # in a fresh process unless its type depends only on the input.
        raised = [j for j, r in enumerate(results) if r.raised and r.error_type not in PURE_ERRORS]
        if raised:
            again = sandbox.run(fn.code, fn.target, [invocations[j] for j in raised], limits)
            raise_on_infra(again)
            results = list(results)
            for j, r in zip(raised, again, strict=True):
                results[j] = r
        for i, r in zip(part, results, strict=True):
            runs[i].append(r)


def to_invocation(x: CallInput) -> Invocation:
    if x.expression is not None:
        return Invocation(expression=x.expression)
    return Invocation(args=x.args, kwargs=x.kwargs)


def raise_on_infra(results: Sequence[CallResult]) -> None:
    """Sandbox failures are the harness's problem: never let them become a verdict."""
    for r in results:
        if r.infra_error is not None:
            raise SandboxError(f"sandbox failure during an oracle check: {r.infra_error}")
