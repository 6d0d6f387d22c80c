"""Run each target on its stored examples in a sandbox and compare with the stored outputs.

Every problem runs twice, in two separate sandbox instances (so also under two different
string-hash seeds): results that differ between the runs reveal nondeterminism that the
static rule of :mod:`quirks` cannot see. A disagreement with the stored output is explained
by the first reason that applies (see :data:`EXPLANATIONS`), or listed as unexplained.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from codearc_env.functions.quirks import scan_calls
from codearc_env.functions.spec import Example, HiddenFunction
from codearc_env.sandbox.base import CallResult, Invocation, Limits, Sandbox

# Upstream ran under Python's default limit on int -> str conversion; the sandbox lifts it.
INT_DIGITS_MESSAGE = "Exceeds the limit (4300) for integer string conversion"
VERIFY_LIMITS = Limits(timeout_s=10.0, output_chars=2_000_000)
"""Upstream's 10 s timeout, and room for the largest stored output (about 1.1 M chars)."""

EXPLANATIONS: dict[str, str] = {
    "invalid_calls": "the stored call is not valid Python, so it cannot be run",
    "ill_posed": "the stored call does not call the target",
    "nondeterministic": "the target is nondeterministic (static rule, or the two runs differed)",
    "timed_out_examples": "the stored example timed out upstream",
    "int_digits_limit": "upstream hit Python's 4300-digit int-to-str limit; the sandbox lifts it",
}


@dataclass(frozen=True)
class ExampleOutcome:
    k: int
    agrees: bool
    explanation: str | None = None
    """A key of :data:`EXPLANATIONS` for an explained disagreement; None otherwise."""
    expected: str = ""
    actual: str = ""


@dataclass(frozen=True)
class FunctionOutcome:
    problem_id: str
    source: str
    variant: str
    examples: tuple[ExampleOutcome, ...]
    runs_differ: bool = False
    """The two runs gave different results (dynamic nondeterminism)."""
    static_nondeterministic: bool = False

    @property
    def unexplained(self) -> tuple[ExampleOutcome, ...]:
        return tuple(o for o in self.examples if not o.agrees and o.explanation is None)


def render_result(r: CallResult | None) -> str:
    """A short, comparable description of one result."""
    if r is None:
        return "<not run>"
    if r.infra_error:
        return f"<sandbox error: {r.infra_error}>"
    if r.timed_out:
        return "<timed out>"
    if r.raised:
        return f"<raised {r.error_type}: {r.error_message}>"
    return r.value_str + (" <truncated>" if r.truncated else "")


def _same(a: CallResult | None, b: CallResult | None) -> bool:
    if a is None or b is None:
        return a is b
    return (a.ok, a.value_str, a.error_type, a.timed_out, a.infra_error) == (
        b.ok,
        b.value_str,
        b.error_type,
        b.timed_out,
        b.infra_error,
    )


def agrees(example: Example, result: CallResult | None) -> bool:
    """Does a run agree with the stored example? (Errored: both raise; any message.)"""
    if result is None or result.infra_error:
        return False
    if example.timed_out:
        return result.timed_out
    if example.errored:
        return result.raised
    # upstream stored printed text with trailing whitespace removed
    return (
        result.ok and not result.truncated and result.value_str.rstrip() == example.output.rstrip()
    )


def _explain(fn: HiddenFunction, example: Example, calls_target: bool, differ: bool) -> str | None:
    if example.expression is None:
        return "invalid_calls"
    if not calls_target:
        return "ill_posed"
    if differ or fn.quirks.nondeterministic:
        return "nondeterministic"
    if example.timed_out:
        return "timed_out_examples"
    if example.errored and INT_DIGITS_MESSAGE in example.output:
        return "int_digits_limit"
    return None


def _run(sandbox: Sandbox, fn: HiddenFunction, limits: Limits) -> list[CallResult | None]:
    runnable = [e for e in fn.examples if e.expression is not None]
    results = iter(
        sandbox.run(
            fn.code, fn.target, [Invocation(expression=e.expression) for e in runnable], limits
        )
        if runnable
        else []
    )
    return [next(results) if e.expression is not None else None for e in fn.examples]


def verify_function(
    fn: HiddenFunction,
    first: Sandbox,
    second: Sandbox,
    limits: Limits = VERIFY_LIMITS,
    pool: ThreadPoolExecutor | None = None,
) -> FunctionOutcome:
    """Run ``fn`` on its stored examples in both sandboxes and compare."""
    if pool is not None:
        fut = pool.submit(_run, second, fn, limits)
        run1 = _run(first, fn, limits)
        run2 = fut.result()
    else:
        run1, run2 = _run(first, fn, limits), _run(second, fn, limits)
    scans = scan_calls([e.call_text for e in fn.examples])
    outcomes = []
    any_differ = False
    for example, a, b, scan in zip(fn.examples, run1, run2, scans, strict=True):
        differ = not _same(a, b)
        any_differ |= differ
        ok = agrees(example, a) and not differ
        outcomes.append(
            ExampleOutcome(
                k=example.k,
                agrees=ok,
                explanation=None if ok else _explain(fn, example, scan.calls(fn.target), differ),
                expected=("<raised> " if example.errored else "") + example.output,
                actual=render_result(a),
            )
        )
    return FunctionOutcome(
        problem_id=fn.problem_id,
        source=fn.source,
        variant=fn.variant,
        examples=tuple(outcomes),
        runs_differ=any_differ,
        static_nondeterministic=fn.quirks.nondeterministic,
    )


@dataclass
class GroupSummary:
    """Agreement of one (source, variant) group."""

    problems: int = 0
    examples: int = 0
    agree: int = 0
    problems_all_agree: int = 0
    explained: Counter[str] = field(default_factory=Counter)
    unexplained: int = 0
    runs_differ: int = 0

    @property
    def agreement(self) -> float:
        return self.agree / self.examples if self.examples else 0.0


def summarize(outcomes: Iterable[FunctionOutcome]) -> dict[tuple[str, str], GroupSummary]:
    groups: dict[tuple[str, str], GroupSummary] = {}
    for o in outcomes:
        g = groups.setdefault((o.source, o.variant), GroupSummary())
        g.problems += 1
        g.examples += len(o.examples)
        g.agree += sum(1 for e in o.examples if e.agrees)
        g.problems_all_agree += all(e.agrees for e in o.examples)
        g.runs_differ += o.runs_differ
        for e in o.examples:
            if not e.agrees:
                if e.explanation:
                    g.explained[e.explanation] += 1
                else:
                    g.unexplained += 1
    return groups


def verify_all(
    functions: Sequence[HiddenFunction],
    make: Callable[[], Sandbox],
    limits: Limits = VERIFY_LIMITS,
    on_done: Callable[[int, FunctionOutcome], None] | None = None,
) -> list[FunctionOutcome]:
    """Verify many functions with two sandboxes made by ``make`` (closed at the end)."""
    outcomes = []
    with make() as first, make() as second, ThreadPoolExecutor(1) as pool:
        for i, fn in enumerate(functions):
            outcome = verify_function(fn, first, second, limits, pool)
            outcomes.append(outcome)
            if on_done is not None:
                on_done(i, outcome)
    return outcomes
