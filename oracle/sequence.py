"""Run a program on many inputs in one sandbox call: in sequence, and each in a fresh namespace.

One invocation carries a small driver (our text, not the candidate's), evaluated in the
program's module namespace inside the sandbox. It makes two passes over the inputs:

- in sequence: the already loaded module's target called on every input in order, as a user
  calling it repeatedly would; state kept between calls (a mutable default argument, a
  global counter, a cache that changes answers) shows here;
- fresh: for every input, the module executed again in a new namespace and its target
  called once; no module state carries over from one input to the next.

Each call's exception is caught and recorded by type. Both passes return every value in one
reply, so a correct program is judged with one sandbox call. The reference is run the same
way (its results are cached with its table), so a target that legitimately keeps state, or
behaves differently deeper in a call stack, is judged under the same conditions.

The driver needs the builtins ``exec``, ``eval``, ``compile`` and ``__import__`` in the module's
namespace:
a module that rebinds them cannot be run this way, and the oracle then fails it when the
reference could be run.
"""

from __future__ import annotations
import __future__

import marshal
from collections.abc import Sequence
from dataclasses import dataclass

from codearc_env.oracle.call_input import CallInput
from codearc_env.oracle.limits import limits_for
from codearc_env.sandbox.base import CallResult, Invocation, Sandbox
from codearc_env.sandbox.codec import canonical

DRIVER_OUTPUT_CHARS = 8_000_000
"""Reply cap of one driver run; the values kept total at most a quarter of it per pass."""
KEPT_VALUE_CHARS = DRIVER_OUTPUT_CHARS // 8
_LAZY_ANNOTATIONS = __future__.annotations.compiler_flag  # as the sandbox compiles modules

_DRIVER = """
def run(f, target, make_calls, g, source, flags):
    def call(func, ns, is_expression, args):
        return eval(args, ns) if is_expression else func(*args[0], **args[1])

    def guarded(thunk, keep):
        try:
            value = thunk()
            return (True, value if keep else None)
        except BaseException as e:
            if type(e).__name__ == "_Overtime":
                raise
            return (False, type(e).__name__)

    sequence = [
        guarded(lambda: call(f, g, x, a), k) for x, a, k, in_sequence in make_calls() if in_sequence
    ]
    code = compile(source, "<module>", "exec", flags, True)

    def fresh(is_expression, args):
        ns = {"__name__": g.get("__name__"), "__builtins__": g.get("__builtins__")}
        exec(code, ns)
        return call(ns[target], ns, is_expression, args)

    def same(a, b, depth=0):  # exact builtin types only: never a value's own __eq__
        t = type(a)
        if t is not type(b) or depth > 50:
            return False
        if t in (int, str, bytes, bool) or a is None:
            return a == b
        if t is float:
            return a == b or (a != a and b != b)
        if t in (list, tuple):
            return len(a) == len(b) and all(same(x, y, depth + 1) for x, y in zip(a, b))
        if t is dict:
            return list(a) == list(b) and all(same(a[k], b[k], depth + 1) for k in a)
        return False

    fresh_pass = []
    in_sequence = iter(sequence)
    for x, a, k, s in make_calls():
        first = next(in_sequence) if s else None
        result = guarded(lambda: fresh(x, a), k)
        # the same result as in sequence: say so instead of sending the value twice
        fresh_pass.append(None if first is not None and same(first, result) else result)

    def packed(results):  # one letter per call (value, error, same), then the payloads
        letters = "".join("s" if r is None else "v" if r[0] else "e" for r in results)
        return letters, [r[1] for r in results if r is not None]

    return (*packed(sequence), *packed(fresh_pass))
"""


@dataclass(frozen=True)
class DriverRun:
    """What one driver run returned."""

    sequence: tuple[CallResult, ...] | None
    """One result per input marked for the sequence pass; None when the run did not complete."""
    fresh: tuple[CallResult, ...] | None
    """One result per input, each in a fresh namespace; None when the run did not complete."""
    problem: str | None = None
    """Why the run did not complete (a timeout, an error escaping the driver...)."""
    timed_out: bool = False
    duration_s: float = 0.0
    """Wall time of the whole run, the module's loading included."""


def driver_expression(
    target: str,
    source: str,
    inputs: Sequence[CallInput],
    keep: Sequence[bool],
    in_sequence: Sequence[bool],
) -> str:
    """One expression that defines the driver in a private namespace and runs both passes.

    The calls travel as one ``marshal`` blob (plain literals only, a format stable across
    Python versions for such data): compiling them as source would cost more than running
    them. The blob is loaded once per pass, so no pass sees arguments an earlier call mutated.
    """
    items = [
        (True, x.expression, k, s)
        if x.expression is not None
        else (False, (tuple(x.args), dict(x.kwargs)), k, s)
        for x, k, s in zip(inputs, keep, in_sequence, strict=True)
    ]
    blob = marshal.dumps(items, 4)
    return (
        f"(lambda ns: (exec({_DRIVER!r}, ns), ns['run'])[1])({{}})"
        f"({target}, {target!r}, lambda: __import__('marshal').loads({blob!r}), "
        f"(lambda: 0).__globals__, {source!r}, {_LAZY_ANNOTATIONS})"
    )


def kept(values: Sequence[CallResult], room: int = KEPT_VALUE_CHARS) -> list[bool]:
    """Which values a driver run sends back, by the reference's results: all but those too
    large (truncated, or past the reply cap). Where the reference raised, the candidate's
    value is sent back too, so the flags the driver sees say nothing of where it raised."""
    return kept_and_room(values, room)[0]


def kept_and_room(values: Sequence[CallResult], room: int) -> tuple[list[bool], int]:
    """:func:`kept` for ``values`` when ``room`` characters are left for them, and the room
    left after them (the flags of a table's entries are computed once, those of further
    entries start from what the table left)."""
    out = []
    for r in values:
        if not r.ok:
            out.append(True)
            continue
        size = len(canonical(r.value)) if not r.truncated else 0
        keep = not r.truncated and size <= room
        room -= size if keep else 0
        out.append(keep)
    return out, room


def run_driver(
    sandbox: Sandbox,
    source: str,
    target: str,
    inputs: Sequence[CallInput],
    keep: Sequence[bool],
    in_sequence: Sequence[bool],
    timeout_s: float,
) -> DriverRun:
    """Run ``target`` of ``source`` on ``inputs`` in sequence (those marked) and fresh."""
    from codearc_env.oracle.reference import raise_on_infra

    limits = limits_for(sandbox, timeout_s, output_chars=DRIVER_OUTPUT_CHARS)
    expression = driver_expression(target, source, inputs, keep, in_sequence)
    r = sandbox.run_one(source, target, Invocation(expression=expression), limits)
    raise_on_infra([r])
    took = r.duration_s
    if r.timed_out:
        why = f"did not finish within {timeout_s:g} s"
        return DriverRun(None, None, why, timed_out=True, duration_s=took)
    if r.raised:
        why = f"stopped with {r.error_type}: {r.error_message}"
        return DriverRun(None, None, why, duration_s=took)
    if r.truncated:
        return DriverRun(None, None, "returned more output than the reference", duration_s=took)
    passes = _tuple_items(r.value)
    n_sequence = sum(1 for s in in_sequence if s)
    if passes is None or len(passes) != 4:
        return DriverRun(None, None, "the driver returned something else", duration_s=took)
    sequence = _results(passes[0], passes[1])
    fresh = _results(passes[2], passes[3], sequence or ())
    if (
        sequence is None
        or fresh is None
        or len(sequence) != n_sequence
        or len(fresh) != len(inputs)
    ):
        return DriverRun(None, None, "the driver returned something else", duration_s=took)
    return DriverRun(sequence, fresh, duration_s=took)


def _tuple_items(tree: object) -> list | None:
    if isinstance(tree, dict) and tree.get("t") in ("tuple", "list"):
        v = tree.get("v")
        return v if isinstance(v, list) else None
    return None


def _results(
    letters_tree: object, payloads_tree: object, same_as: Sequence[CallResult] = ()
) -> tuple[CallResult, ...] | None:
    """Results of one pass from its letters (``v`` a value, ``e`` an error, ``s`` the result at
    the same position of ``same_as``: the fresh pass refers to the sequence pass so) and the
    payloads of its ``v`` and ``e`` calls, in order (a value, or an exception's type name)."""
    letters = None
    if isinstance(letters_tree, dict) and letters_tree.get("t") == "str":
        letters = letters_tree.get("v")
    payloads = _tuple_items(payloads_tree)
    if not isinstance(letters, str) or payloads is None:
        return None
    if len(payloads) != len(letters) - letters.count("s"):
        return None
    out = []
    sent = iter(payloads)
    for i, letter in enumerate(letters):
        if letter == "s" and i < len(same_as):
            out.append(same_as[i])
        elif letter == "v":
            out.append(CallResult(ok=True, value=next(sent)))
        elif letter == "e":
            payload = next(sent)
            name = payload.get("v") if isinstance(payload, dict) else None
            out.append(CallResult(ok=False, error_type=str(name)))
        else:
            return None
    return tuple(out)
