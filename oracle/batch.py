"""The fast path: run a candidate on many inputs in one sandbox call, for passing candidates.

Each input normally runs in its own fresh process (exact isolation, per-input time limits),
which costs a fork and a module execution per input. Most candidates that reach this point
are correct, so the oracle first runs all of them in one call: the module is executed once
and a small driver (our text, not the candidate's) calls the target on every input, catching
ordinary exceptions per input. The batch can only *pass* a candidate: when every result
equals the reference's isolated result exactly. Anything else (a disagreement, a timeout of
the batch, an escaping SystemExit, a truncated result, a shadowed builtin the driver needs)
sends the check down the isolated path, which alone produces failing verdicts and
counterexamples. State the candidate keeps between calls can therefore never make it fail
here, and cannot make it pass either unless it produced the reference's outputs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from codearc_env.functions.calls import render_call
from codearc_env.functions.spec import Comparison
from codearc_env.oracle.compare import values_match
from codearc_env.oracle.reference import Expected, raise_on_infra
from codearc_env.sandbox.base import Invocation, Sandbox

BATCH_LIMIT_S = 3.0
"""A correct candidate runs a few hundred small calls well within this; slower ones fall back."""
BATCH_OUTPUT_CHARS = 4_000_000

_DRIVER = """
def run(f, calls):
    out = []
    for a, k in calls:
        try:
            out.append((True, f(*a, **k)))
        except Exception as e:
            out.append((False, type(e).__name__))
    return out
"""


def batch_expression(target: str, entries: Sequence[Expected]) -> str:
    """One expression that defines the driver in a private namespace and runs every input."""
    calls = ", ".join(render_call("__c", e.input.args, e.input.kwargs) for e in entries)
    return (
        f"(lambda __c: (lambda ns: (exec({_DRIVER!r}, ns), ns['run'])[1])({{}})"
        f"({target}, [{calls}]))(lambda *a, **k: (a, k))"
    )


def batch_agrees(
    sandbox: Sandbox,
    source: str,
    target: str,
    entries: Sequence[Expected],
    cmp: Comparison,
) -> bool:
    """True only when one batched call reproduces every reference result exactly."""
    if not entries or any(len(e.runs) != 1 or e.result.truncated for e in entries):
        return False
    budget = 10 * sum(e.result.duration_s for e in entries)
    limits = dataclasses.replace(
        sandbox.limits,
        timeout_s=min(BATCH_LIMIT_S, max(1.0, budget)),
        cpu_s=int(BATCH_LIMIT_S) + 2,
        output_chars=max(sandbox.limits.output_chars, BATCH_OUTPUT_CHARS),
    )
    invocation = Invocation(expression=batch_expression(target, entries))
    result = sandbox.run_one(source, target, invocation, limits)
    raise_on_infra([result])
    if not result.ok or result.truncated:
        return False
    tree = result.value
    if not (isinstance(tree, dict) and tree.get("t") == "list" and len(tree["v"]) == len(entries)):
        return False
    for e, item in zip(entries, tree["v"], strict=True):
        if item.get("t") != "tuple" or len(item.get("v", ())) != 2:
            return False
        ok_tree, payload = item["v"]
        if not _item_agrees(e, ok_tree == {"t": "bool", "v": True}, payload, cmp):
            return False
    return True


def _item_agrees(e: Expected, ok: bool, payload: object, cmp: Comparison) -> bool:
    expected = e.result
    if expected.ok:
        return ok and values_match(expected.value, payload, cmp)
    if ok:
        return False
    same_type = payload == {"t": "str", "v": expected.error_type}
    return same_type or not cmp.exception_type_must_match
