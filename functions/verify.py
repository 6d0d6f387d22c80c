"""Run each target on its stored examples in a sandbox and compare with the stored outputs.

Every problem runs twice, in two separate sandbox instances (so also under two different
string-hash seeds): results that differ between the runs reveal nondeterminism that the
static rule of :mod:`quirks` cannot see. A disagreement with the stored output is explained
by the first reason that applies (see :data:`EXPLANATIONS`), or listed as unexplained.
"""

from __future__ import annotations

import ast
import builtins
import re
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from codearc_env.errors import SandboxError
from codearc_env.functions.quirks import scan_calls
from codearc_env.functions.spec import Example, HiddenFunction
from codearc_env.sandbox.base import CallResult, Invocation, Limits, Sandbox

# Upstream ran under Python's default limit on int -> str conversion; the sandbox lifts it.
INT_DIGITS_MESSAGE = "Exceeds the limit (4300) for integer string conversion"
VERIFY_LIMITS = Limits(timeout_s=10.0, cpu_s=15, output_chars=8_000_000)
"""Upstream's 10 s timeout (the CPU limit above it, so the wall clock decides), and room for
the largest stored output (about 1.1 M chars; its encoded value is larger still)."""
# numpy >= 2 prints scalars as np.float64(1.5); numpy 1.x prints 1.5
_NUMPY_SCALAR = re.compile(r"np\.(?:float|int|uint|complex|bool|str|bytes)_?\d*\(([^()]*)\)")
_NAME_ERROR = re.compile(r"name '(\w+)' is not defined")

EXPLANATIONS: dict[str, str] = {
    "invalid_calls": "the stored call is not valid Python, so it cannot be run",
    "ill_posed": "the stored call does not call the target",
    "nondeterministic": "the target is nondeterministic (static rule, or the two runs differed)",
    "timed_out_examples": "the stored example timed out upstream",
    "int_digits_limit": "upstream hit Python's 4300-digit int-to-str limit; the sandbox lifts it",
    "numpy_repr": "upstream's numpy (>= 2) printed scalars as np.float64(x); the values agree",
    "annotation_name_error": (
        "a type hint names something imported only inside the function: Python 3.11 "
        "evaluates hints when the def runs, so the module fails to load here"
    ),
    "order_only": (
        "the same characters in another order: set or dict order following the per-process "
        "string hash seed (nondeterminism that the two runs happened not to show)"
    ),
    "timeout_here": (
        "finished upstream but hit the time limit here (machine speed or load): "
        "rerun with a larger --timeout to confirm"
    ),
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


def _annotation_only_names(code: str) -> frozenset[str]:
    """Names used in top-level defs' type hints that the module never binds at top level."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return frozenset()
    bound = set(dir(builtins))
    used: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            bound.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            bound.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            a = node.args
            hints = [x.annotation for x in [*a.posonlyargs, *a.args, *a.kwonlyargs] if x.annotation]
            hints += [x.annotation for x in (a.vararg, a.kwarg) if x is not None and x.annotation]
            hints += [node.returns] if node.returns is not None else []
            used.update(n.id for h in hints for n in ast.walk(h) if isinstance(n, ast.Name))
    return frozenset(used - bound)


def _explain(
    fn: HiddenFunction,
    example: Example,
    result: CallResult | None,
    calls_target: bool,
    differ: bool,
) -> str | None:
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
    if result is None:
        return None
    if result.ok and _NUMPY_SCALAR.sub(r"\1", example.output).rstrip() == result.value_str.rstrip():
        return "numpy_repr"
    missing = (
        _NAME_ERROR.fullmatch(result.error_message) if result.error_type == "NameError" else None
    )
    if missing and missing.group(1) in _annotation_only_names(fn.code):
        return "annotation_name_error"
    if result.timed_out and not example.errored:
        return "timeout_here"
    if result.ok and sorted(result.value_str.rstrip()) == sorted(example.output.rstrip()):
        return "order_only"
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
    # a problem whose runs differ anywhere is nondeterministic for all its examples
    any_differ = any(not _same(a, b) for a, b in zip(run1, run2, strict=True))
    outcomes = []
    for example, a, b, scan in zip(fn.examples, run1, run2, scans, strict=True):
        ok = agrees(example, a) and _same(a, b)
        explanation = None if ok else _explain(fn, example, a, scan.calls(fn.target), any_differ)
        outcomes.append(
            ExampleOutcome(
                k=example.k,
                agrees=ok,
                explanation=explanation,
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


def summaries_by_group(
    outcomes: Iterable[FunctionOutcome],
) -> dict[tuple[str, str], GroupSummary]:
    """The agreement of the outcomes' examples, per (source, variant) group."""
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
    """Verify many functions with two sandboxes made by ``make`` (closed at the end).

    A sandbox that fails for good raises :class:`VerifyAborted`, which carries the outcomes
    gathered so far.
    """
    outcomes: list[FunctionOutcome] = []
    try:
        with make() as first, make() as second, ThreadPoolExecutor(1) as pool:
            for i, fn in enumerate(functions):
                outcome = verify_function(fn, first, second, limits, pool)
                outcomes.append(outcome)
                if on_done is not None:
                    on_done(i, outcome)
    except SandboxError as exc:
        raise VerifyAborted(outcomes, exc) from exc
    return outcomes


class VerifyAborted(SandboxError):
    """The sandbox failed for good part-way; ``outcomes`` holds what was verified before."""

    def __init__(self, outcomes: list[FunctionOutcome], cause: SandboxError) -> None:
        super().__init__(f"verification stopped after {len(outcomes)} problems: {cause}")
        self.outcomes = outcomes
