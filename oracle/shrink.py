"""Shrink a failing input towards a minimal one that still tells candidate and reference apart.

Greedy, like Hypothesis' shrinker but over our literal values: propose simpler variants of
the current input (drop or halve a list, string or dict; move an integer towards zero; a
float to zero or an integer; True to False), evaluate them in small batches, keep the first
that still distinguishes, and repeat. Every proposal is strictly simpler by a well-founded
measure, and the number of evaluations is bounded, so shrinking always ends. The order of
proposals is fixed, so the result is deterministic.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from codearc_env.oracle.call_input import CallInput

T = TypeVar("T")
MAX_EVALUATIONS = 120
BATCH = 12
PER_POSITION = 8
"""Single-element deletions and element shrinks tried per container per round."""


def shrink(
    failing: CallInput,
    evaluate: Callable[[Sequence[CallInput]], list[T | None]],
    *,
    max_evaluations: int = MAX_EVALUATIONS,
) -> tuple[CallInput, T | None]:
    """The simplest input found and its evaluation (None when nothing simpler distinguishes).

    ``evaluate`` returns, per input, a description of the disagreement, or None when the
    input does not distinguish the two programs.
    """
    current, found = failing, None
    budget = max_evaluations
    while budget > 0:
        proposals = _unique(simpler_inputs(current), current)
        improved = False
        for start in range(0, len(proposals), BATCH):
            if budget <= 0:
                break
            batch = proposals[start : start + min(BATCH, budget)]
            budget -= len(batch)
            for x, outcome in zip(batch, evaluate(batch), strict=True):
                if outcome is not None:
                    current, found, improved = x, outcome, True
                    break
            if improved:
                break
        if not improved:
            break
    return current, found


def _unique(inputs: Iterator[CallInput], current: CallInput) -> list[CallInput]:
    seen = {current.key()}
    out = []
    for x in inputs:
        k = x.key()
        if k is not None and k not in seen:
            seen.add(k)
            out.append(x)
    return out


def simpler_inputs(x: CallInput) -> Iterator[CallInput]:
    """Inputs one step simpler than ``x``, most aggressive first."""
    for i, arg in enumerate(x.args):
        for v in simpler_values(arg):
            yield CallInput(x.args[:i] + (v,) + x.args[i + 1 :], x.kwargs, x.origin)
    for i, (name, arg) in enumerate(x.kwargs):
        for v in simpler_values(arg):
            kwargs = x.kwargs[:i] + ((name, v),) + x.kwargs[i + 1 :]
            yield CallInput(x.args, kwargs, x.origin)


def simpler_values(value: Any, depth: int = 0) -> Iterator[Any]:
    """Values strictly simpler than ``value`` (shorter, or closer to zero/False)."""
    if depth > 8:
        return
    t = type(value)
    if t is bool:
        if value:
            yield False
    elif t is int:
        yield from _ints(value)
    elif t is float:
        yield from _floats(value)
    elif t in (str, bytes, list):
        yield from _sequences(value, depth)
    elif t is tuple:
        for i, item in enumerate(value[:PER_POSITION]):
            for v in simpler_values(item, depth + 1):
                yield value[:i] + (v,) + value[i + 1 :]
    elif t in (set, frozenset):
        if value:
            yield t()
            for item in sorted(value, key=repr)[:PER_POSITION]:
                yield t(x for x in value if x is not item)
    elif t is dict and value:
        yield {}
        keys = list(value)[:PER_POSITION]
        for k in keys:
            yield {kk: vv for kk, vv in value.items() if kk is not k}
        for k in keys:
            for v in simpler_values(value[k], depth + 1):
                yield {**value, k: v}


def _ints(n: int) -> Iterator[int]:
    if n == 0:
        return
    yield 0
    if abs(n) > 1:
        yield 1 if n > 0 else -1
    half = int(n / 2) if abs(n) < 2**53 else n // 2
    if half not in (0, n):
        yield half
    if abs(n) > 1:
        yield n - 1 if n > 0 else n + 1
    if n < 0:
        yield -n


def _floats(x: float) -> Iterator[float]:
    if x != x or x in (float("inf"), float("-inf")):
        yield 0.0
        return
    if x == 0.0:
        return
    yield 0.0
    if float(int(x)) != x:
        yield float(int(x))
    if abs(x) > 1:
        yield float(int(x / 2))
    if x < 0:
        yield -x


def _sequences(seq: Any, depth: int) -> Iterator[Any]:
    n = len(seq)
    if n == 0:
        return
    yield seq[:0]
    if n > 1:
        yield seq[: n // 2]
        yield seq[n // 2 :]
    for i in range(min(n, PER_POSITION)):
        yield seq[:i] + seq[i + 1 :]
    if type(seq) is list:
        for i in range(min(n, PER_POSITION)):
            for v in simpler_values(seq[i], depth + 1):
                yield seq[:i] + [v] + seq[i + 1 :]
    elif type(seq) is str:
        # a simpler character: towards 'a' / '0', keeping the length
        for i in range(min(n, PER_POSITION)):
            c = seq[i]
            simple = "0" if c.isdigit() else "a"
            if c > simple:
                yield seq[:i] + simple + seq[i + 1 :]
