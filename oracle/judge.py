"""Judge one result: does the candidate's result agree with the reference's, and how to say
where it does not (the reason line and the counterexample shown to an agent)."""

from __future__ import annotations

from codearc_env.functions.spec import HiddenFunction
from codearc_env.oracle.compare import plausible, results_match
from codearc_env.oracle.reference import Expected
from codearc_env.oracle.render import render, type_name
from codearc_env.oracle.verdict import Counterexample
from codearc_env.sandbox.base import CallResult


def agrees(fn: HiddenFunction, e: Expected, r: CallResult) -> bool:
    """Whether the candidate's result ``r`` is acceptable for the expected entry ``e``.

    Deterministic targets: :func:`compare.results_match` against the single reference run.
    Nondeterministic targets (``fn.quirks.nondeterministic``, run several times): on an input
    where every run agrees, exactly as a deterministic target. Where the runs differ: a result
    equal to one of them is accepted; when every run returned, one that passes
    :func:`compare.plausible` (parts on which the runs agree exactly, the rest by type, length,
    contents and range); when every run raised, the candidate must raise (type rule as
    usual); when the runs disagree on raising, any finished result is accepted.
    """
    if r.timed_out:
        return False
    cmp = fn.comparison
    if len(e.runs) == 1 or e.stable:
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
    if not r.ok:
        return False
    if any(run.truncated for run in e.runs) or r.truncated:
        # a value over the output cap is a digest: only its type can be compared
        return r.value.get("type") in {run.value.get("type") for run in e.runs}
    return plausible([run.value for run in e.runs], r.value, cmp)


def counterexample(
    fn: HiddenFunction, e: Expected, r: CallResult, context: str | None = None
) -> Counterexample:
    """The disagreement on ``e`` as shown to an agent; when both print the same text, the
    values are also rendered with their types, so the difference is visible."""
    exp = e.result
    expected = exp.value_str if exp.ok else None
    actual = (r.value_str or render(r.value)) if r.ok else None
    details: dict[str, str] = {}
    if exp.ok and r.ok and expected == actual:
        details = {
            "expected_value": f"{render(exp.value)} ({type_name(exp.value)})",
            "actual_value": f"{render(r.value)} ({type_name(r.value)})",
        }
    return Counterexample(
        call_text=e.input.call_text(fn.target),
        expected=expected,
        actual=actual,
        expected_error=error_text(exp) if exp.raised else None,
        actual_error=(
            error_text(r)
            if r.raised
            else f"Timeout: no result within {e.time_limit_s:g} s"
            if r.timed_out
            else None
        ),
        context=context,
        **details,
    )


def reason(fn: HiddenFunction, e: Expected, r: CallResult, context: str = "") -> str:
    """One line saying how the candidate disagreed on ``e``."""
    call = e.input.call_text(fn.target)
    if len(call) > 200:
        call = call[:197] + "..."
    call += context
    exp = e.result
    if r.timed_out:
        return f"timed out on {call} (limit {e.time_limit_s:g} s) where the reference finished"
    if r.raised and not exp.raised:
        return f"raised {r.error_type} on {call} where the reference returned a value"
    if exp.raised and not r.raised:
        return f"returned a value on {call} where the reference raised {exp.error_type}"
    if exp.raised and r.raised:
        return f"raised {r.error_type} on {call} where the reference raised {exp.error_type}"
    return f"wrong result on {call}"


def error_text(r: CallResult) -> str:
    return f"{r.error_type}: {r.error_message}" if r.error_message else str(r.error_type)
