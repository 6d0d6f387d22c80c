"""Run an agent's parsed calls against the hidden function, inside the reference sandbox.

Arguments were parsed to literals on the host (:mod:`codearc_env.functions.calls`); here they
travel as data to the sandbox, which calls the target. Results come back as ``str()`` of the
value, or ``ErrorType: message`` for an exception: never a traceback, which would show lines of
the hidden source.
"""

from __future__ import annotations

from collections.abc import Sequence

from codearc_env.errors import SandboxError
from codearc_env.functions.calls import ParsedCall
from codearc_env.functions.spec import HiddenFunction
from codearc_env.render import Pair
from codearc_env.sandbox.base import CallResult, Invocation, Sandbox


def initial_pairs(fn: HiddenFunction) -> list[Pair]:
    """The stored examples as shown: the call without its print wrapper, and its output."""
    return [
        Pair.make(ex.expression or ex.call_text, ex.output, ex.errored, initial=True)
        for ex in fn.examples
    ]


def result_text(result: CallResult, timeout_s: float) -> tuple[str, bool]:
    """``(output, errored)`` for one call; raises SandboxError for a harness failure."""
    if result.infra_error is not None:
        raise SandboxError(f"the sandbox failed while running a query: {result.infra_error}")
    if result.timed_out:
        return f"TimeoutError: the call did not finish within {timeout_s:g} s", True
    if result.error_type is not None:
        message = result.error_message
        return (f"{result.error_type}: {message}" if message else result.error_type), True
    return result.value_str, False


def run_calls(sandbox: Sandbox, fn: HiddenFunction, calls: Sequence[ParsedCall]) -> list[Pair]:
    """Run ``calls`` of ``fn.target`` in ``sandbox`` (one request) and render the results."""
    invocations = [Invocation(args=c.args, kwargs=c.kwargs) for c in calls]
    # Resident isolation: the hidden function is the benchmark's own code, so its queries run
    # in a warm process (a fresh module namespace each) instead of a fork per call.
    results = sandbox.run(fn.code, fn.target, invocations, isolation="resident")
    if len(results) != len(calls):
        raise SandboxError(f"the sandbox returned {len(results)} results for {len(calls)} calls")
    pairs = []
    for call, result in zip(calls, results, strict=True):
        output, errored = result_text(result, sandbox.limits.timeout_s)
        pairs.append(Pair.make(call.text, output, errored, initial=False))
    return pairs
