"""Inputs at the edges of what the examples show: sizes, magnitudes, boundaries, types.

Examples and the strategies inferred from them stay near the examples (short lists, small
numbers, finite floats). Candidates that are wrong only for long inputs, large numbers,
non-finite floats or a neighbouring argument type slip through such inputs however many are
drawn. Here each argument of the first examples is replaced, one at a time, by values well
beyond them: boundary values (0, ±1, empty, powers of two around 2**31, 2**53 and 2**63,
-0.0, nan, ±inf), sizes and magnitudes far past the examples', and neighbouring types (an
int where a float was given, a bool where an int was, a tuple where a list was).

These are proposals, not requirements: the reference decides. An edge input on which the
reference raises (or exceeds its time budget) is dropped (:func:`reference.compute`), so
only inputs the hidden function accepts take part in a check.
"""

from __future__ import annotations

import math
from typing import Any

from codearc_env.oracle.call_input import CallInput
from codearc_env.oracle.hints import Param

EDGE_EXAMPLES = 2
"""How many distinct-arity examples the edge values are built around."""
LONG = 200
"""Length of the long strings and lists built from an example's argument."""
_BIG_INTS = (
    2**31 - 1, 2**31, -(2**31), 2**53 + 1, -(2**53) - 1, 2**63 - 1, 2**63, -(2**63), 2**64 + 1,
    10**18 + 7, (10**8 + 1) ** 2 - 1, 10**30,
)  # fmt: skip
_SMALL_INTS = (0, 1, -1, 2)
_FLOATS = (
    0.0,
    -0.0,
    1.0,
    -1.0,
    0.5,
    1e-300,
    1e300,
    2.0**53,
    123456789.123,
    math.nan,
    math.inf,
    -math.inf,
)
_STRINGS = ("", "a", " ", "é", "A1 b2", "ß\u00e9\u4e2d")


def edge_inputs(known: list[CallInput], signature: tuple[Param, ...] = ()) -> list[CallInput]:
    """Edge variants of the first examples (one argument changed at a time), no duplicates."""
    del signature  # the examples' values say which types the target accepts
    out: list[CallInput] = []
    for base in edge_bases(known):
        for i, value in enumerate(base.args):
            for new in _variants(value):
                args = base.args[:i] + (new,) + base.args[i + 1 :]
                out.append(CallInput(args, base.kwargs, "edge"))
        for j, (name, value) in enumerate(base.kwargs):
            for new in _variants(value):
                kwargs = base.kwargs[:j] + ((name, new),) + base.kwargs[j + 1 :]
                out.append(CallInput(base.args, kwargs, "edge"))
    return out


def edge_bases(known: list[CallInput]) -> list[CallInput]:
    """The examples edge values are built around: the first of each arity, two at most."""
    bases: list[CallInput] = []
    arities: set[tuple[int, tuple[str, ...]]] = set()
    for k in known:
        arity = (len(k.args), tuple(name for name, _ in k.kwargs))
        if arity not in arities:
            arities.add(arity)
            bases.append(k)
        if len(bases) >= EDGE_EXAMPLES:
            break
    return bases


def _variants(value: Any) -> list[Any]:
    """Values to try in place of ``value``, by its type."""
    t = type(value)
    if t is bool:
        return [not value, int(value)]
    if t is int:
        # floats too: the example's own value, and one past which float arithmetic stops
        # being exact (2.0**53 + 1 == 2.0**53)
        floats = [float(value), 2.0**53]
        return [*_SMALL_INTS, *_BIG_INTS, value * 10**6 + 1, *floats, bool(value % 2)]
    if t is float:
        ints = [int(value) if math.isfinite(value) else 0, 2**52 + 1, 10**20]
        return [*_FLOATS, value * 1e6, -value, *ints]
    if t is str:
        long = (value or "ab") * (LONG // max(len(value), 1) + 1)
        return [*_STRINGS, value.upper(), value[::-1], long[:LONG], value + " "]
    if t is bytes:
        return [b"", b"\x00", b"\xff" * 3, (value or b"ab") * 50]
    if t in (list, tuple):
        return _sequence_variants(value, t)
    if t is dict:
        items = list(value.items())
        return [{}, dict(items[:1]), dict(items[::-1])]
    if t in (set, frozenset):
        return [t(), t(list(value)[:1])]
    return []


def _sequence_variants(value: list | tuple, t: type) -> list[Any]:
    items = list(value)
    other = tuple if t is list else list
    out: list[Any] = [t(), t(items[:1]), t(items[::-1]), other(items)]
    if items:
        out.append(t((items * (LONG // len(items) + 1))[:LONG]))
        if all(type(x) is int for x in items):
            out.append(t(x * 10**6 + 1 for x in items))
            out.append(t([*items, 2**53 + 1, -(2**63)]))
            out.append(t(sorted(items)))
        elif all(type(x) is float for x in items):
            out.append(t([*items, math.nan]))
            out.append(t([*items, math.inf, -0.0]))
            out.append(t(int(x) for x in items if math.isfinite(x)))
        elif all(type(x) is str for x in items):
            out.append(t([*items, ""]))
    return out
