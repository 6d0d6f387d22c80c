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
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

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

_DRIVER_CODE = marshal.dumps(compile(_DRIVER, "<string>", "exec", dont_inherit=True))
_BYTECODE = (sys.implementation.cache_tag, sys.version_info.releaselevel)
"""This Python's bytecode format: one per minor version of its final releases (pre-releases
may change it; an implementation without a cache tag gives none to compare)."""
_DEFINE_DRIVER = (
    "(lambda ns: (exec("
    f"__import__('marshal').loads(b''.fromhex({_DRIVER_CODE.hex()!r})) "
    "if (__import__('sys').implementation.cache_tag, __import__('sys').version_info[3]) "
    f"== {_BYTECODE!r} else {_DRIVER!r}, ns), ns['run'])[1])({{}})"
    if _BYTECODE[0] is not None and _BYTECODE[1] == "final"
    else f"(lambda ns: (exec({_DRIVER!r}, ns), ns['run'])[1])({{}})"
)
"""Defines the driver in a private namespace, by no name the candidate's module could rebind
but ``exec`` and ``__import__`` (``b''.fromhex``, not ``bytes.fromhex``). Compiling its source
took about 0.6 ms of every driver run; a sandbox whose Python has this one's bytecode format
loads the code compiled here instead, in about 0.05 ms, and any other compiles the source."""


@dataclass(frozen=True)
class DriverReply:
    """The two passes of a completed driver run as the driver sent them, their shape checked:
    per pass, one letter per call and the payloads of its ``v`` and ``e`` calls. Results are
    built from them only when asked for: a reply like the reference's needs none (see
    :meth:`base_keys`)."""

    sequence: tuple[str, list]
    fresh: tuple[str, list]

    @cached_property
    def results(self) -> tuple[tuple[CallResult, ...], tuple[CallResult, ...]]:
        """(sequence, fresh) results; a fresh ``s`` is the sequence's result object itself."""
        sequence = _built(*self.sequence)
        return sequence, _built(*self.fresh, sequence)

    def fresh_after(self, n: int) -> tuple[CallResult, ...]:
        """The fresh results of the calls after the first ``n`` (calls the sequence pass, which
        has at most ``n`` of them, did not make: never an ``s``), built on their own."""
        letters, payloads = self.fresh
        sent = n - letters[:n].count("s")
        return _built(letters[n:], payloads[sent:])

    def base_keys(self, n: int) -> tuple[bytes | None, bytes | None]:
        """:func:`pass_key` of the sequence pass and of the fresh pass's first ``n`` calls, each
        ``s`` replaced by the sequence's letter and payload. The fresh key is None when all of
        them are ``s`` (their results are the sequence's), and both are None when the sequence
        pass has not exactly ``n`` calls."""
        letters, payloads = self.sequence
        if len(letters) != n:
            return None, None
        head = self.fresh[0][:n]
        if head.count("s") == n:
            return pass_key(letters, payloads), None
        fresh_letters, fresh_payloads, sent = [], [], iter(self.fresh[1])
        for i, c in enumerate(head):
            fresh_letters.append(letters[i] if c == "s" else c)
            fresh_payloads.append(payloads[i] if c == "s" else next(sent))
        return pass_key(letters, payloads), pass_key("".join(fresh_letters), fresh_payloads)


def reply_of(sequence: Sequence[CallResult], fresh: Sequence[CallResult]) -> DriverReply | None:
    """The reply a driver run sends for these results, without ``s`` letters; None when one of
    them is no result a driver sends (a time-out, a failure of the sandbox). Its results may
    differ from these in what a reply does not carry (a duration, a truncation flag)."""
    passes = []
    for results in (sequence, fresh):
        letters, payloads = [], []
        for r in results:
            if r.ok:
                letters.append("v")
                payloads.append(r.value)
            elif type(r.error_type) is str:
                letters.append("e")
                payloads.append({"t": "str", "v": r.error_type})
            else:
                return None
        passes.append(("".join(letters), payloads))
    return DriverReply(passes[0], passes[1])


def pass_key(letters: str, payloads: list) -> bytes | None:
    """A fingerprint of one pass: two passes with one key give results of exactly the same data.

    ``marshal``'s format 2 writes every value with its exact type (``True``, ``1`` and ``1.0``
    differ, though ``==`` holds between them) and, unlike later formats, nothing of which
    objects are shared or interned, so equal data always writes equal bytes. None for data it
    cannot write (nested too deep)."""
    try:
        return marshal.dumps((letters, payloads), 2)
    except ValueError:
        return None


class DriverRun:
    """What one driver run returned."""

    def __init__(
        self,
        sequence: tuple[CallResult, ...] | None = None,
        fresh: tuple[CallResult, ...] | None = None,
        problem: str | None = None,
        *,
        timed_out: bool = False,
        duration_s: float = 0.0,
        reply: DriverReply | None = None,
    ) -> None:
        self._given = (sequence, fresh)
        self.reply = reply
        """The run's reply as sent, when it completed (:func:`run_driver` gives it)."""
        self.problem = problem
        """Why the run did not complete (a timeout, an error escaping the driver...)."""
        self.timed_out = timed_out
        self.duration_s = duration_s
        """Wall time of the whole run, the module's loading included."""

    @property
    def completed(self) -> bool:
        return self.reply is not None or self._given[0] is not None

    @property
    def sequence(self) -> tuple[CallResult, ...] | None:
        """One result per input marked for the sequence pass; None when the run did not
        complete."""
        return self.reply.results[0] if self.reply is not None else self._given[0]

    @property
    def fresh(self) -> tuple[CallResult, ...] | None:
        """One result per input, each in a fresh namespace; None when the run did not complete."""
        return self.reply.results[1] if self.reply is not None else self._given[1]


@dataclass(frozen=True)
class DriverCalls:
    """The calls of one driver run, in order: their inputs; ``keep``, whether each value is
    sent back (:func:`kept`); ``in_sequence``, whether the sequence pass makes the call (the
    fresh pass makes every call)."""

    inputs: tuple[CallInput, ...]
    keep: tuple[bool, ...]
    in_sequence: tuple[bool, ...]

    @cached_property
    def loader(self) -> str:
        """An expression for a function that returns the calls, built once (a table's calls
        serve every check of a candidate against it).

        The calls travel as one ``marshal`` blob (plain literals only, a format stable across
        Python versions for such data): compiling them as source would cost more than running
        them. The blob is loaded once per pass, so no pass sees arguments an earlier call
        mutated."""
        items = [
            (True, x.expression, k, s)
            if x.expression is not None
            else (False, (tuple(x.args), dict(x.kwargs)), k, s)
            for x, k, s in zip(self.inputs, self.keep, self.in_sequence, strict=True)
        ]
        return f"lambda: __import__('marshal').loads({marshal.dumps(items, 4)!r})"


def driver_expression(target: str, source: str, calls: DriverCalls) -> str:
    """One expression that defines the driver in a private namespace and runs both passes."""
    return (
        f"{_DEFINE_DRIVER}({target}, {target!r}, {calls.loader}, "
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
    calls: DriverCalls,
    timeout_s: float,
) -> DriverRun:
    """Run ``target`` of ``source`` on ``calls`` in sequence (those marked) and fresh."""
    from codearc_env.oracle.reference import raise_on_infra

    limits = limits_for(sandbox, timeout_s, output_chars=DRIVER_OUTPUT_CHARS)
    expression = driver_expression(target, source, calls)
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
    n_sequence = sum(calls.in_sequence)
    if passes is None or len(passes) != 4:
        return DriverRun(None, None, "the driver returned something else", duration_s=took)
    sequence = _shape(passes[0], passes[1], 0)
    fresh = _shape(passes[2], passes[3], len(sequence[0]) if sequence is not None else 0)
    if (
        sequence is None
        or fresh is None
        or len(sequence[0]) != n_sequence
        or len(fresh[0]) != len(calls.inputs)
    ):
        return DriverRun(None, None, "the driver returned something else", duration_s=took)
    return DriverRun(duration_s=took, reply=DriverReply(sequence, fresh))


def _tuple_items(tree: object) -> list | None:
    if isinstance(tree, dict) and tree.get("t") in ("tuple", "list"):
        v = tree.get("v")
        return v if isinstance(v, list) else None
    return None


_LETTERS = frozenset("ves")


def _shape(letters_tree: object, payloads_tree: object, n_same: int) -> tuple[str, list] | None:
    """One pass's letters (``v`` a value, ``e`` an error, ``s`` the result at the same position
    of the sequence pass: the fresh pass refers to it so) and the payloads of its ``v`` and
    ``e`` calls, in order (a value, or an exception's type name); None when they do not make
    a pass whose ``s`` letters all fall within the first ``n_same`` calls."""
    letters = None
    if isinstance(letters_tree, dict) and letters_tree.get("t") == "str":
        letters = letters_tree.get("v")
    payloads = _tuple_items(payloads_tree)
    if not isinstance(letters, str) or payloads is None:
        return None
    if len(payloads) != len(letters) - letters.count("s"):
        return None
    if not _LETTERS.issuperset(letters) or "s" in letters[n_same:]:
        return None
    return letters, payloads


def _built(
    letters: str, payloads: list, same_as: Sequence[CallResult] = ()
) -> tuple[CallResult, ...]:
    """The results of a pass :func:`_shape` accepted."""
    out = []
    sent = iter(payloads)
    for i, letter in enumerate(letters):
        if letter == "s":
            out.append(same_as[i])
        elif letter == "v":
            out.append(CallResult(ok=True, value=next(sent)))
        else:
            payload = next(sent)
            name = payload.get("v") if isinstance(payload, dict) else None
            out.append(CallResult(ok=False, error_type=str(name)))
    return tuple(out)
