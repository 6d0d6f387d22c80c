"""Compare a candidate's result with the reference's, on encoded trees (plain data).

Rules (per function, from :class:`codearc_env.functions.spec.Comparison`):

- A value matches only a value of the same structural type: ``True`` is not ``1`` (unless
  ``bool_equals_int``), ``1`` is not ``1.0``, a tuple is not a list.
- Floats (and complex parts) match within ``float_rel_tol``/``float_abs_tol``; NaN matches NaN.
- Dicts compare as mappings (key order ignored, as Python's ``==``); lists and tuples in order;
  sets element-wise after the codec's canonical sort.
- A recorded type (a builtin subclass such as ``Counter`` or a namedtuple, a numpy scalar)
  must be the same on both sides; the value then compares by its base type's rules, so a
  ``Counter`` with ties in another order or a ``numpy.float64`` one ulp off still matches.
- Iterators (generators, ``map``...) match when their first items match and they end the
  same way (exhausted, more items, or the same exception).
- Other objects match on what a user can see: type, ``repr()`` and ``str()`` (memory addresses
  removed) and their public attributes (compared by these rules). Type names and reprs ignore
  where a class was defined: ``f.<locals>.Point`` is ``Point``.
- An exception matches any exception, or only one of the same type when
  ``exception_type_must_match``. An exception never matches a return value.
- Truncated values (over the sandbox's output cap) match only when both are truncated and
  their digests (or, without one, their capped ``str()`` renderings) are equal.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from codearc_env.functions.spec import Comparison
from codearc_env.sandbox.base import CallResult
from codearc_env.sandbox.codec import canonical

_NUMERIC = ("int", "bool")


def values_match(expected: object, actual: object, cmp: Comparison) -> bool:
    """Structural equality of two encoded trees under ``cmp``."""
    if not (isinstance(expected, dict) and isinstance(actual, dict)):
        return False
    te, ta = expected.get("t"), actual.get("t")
    if te != ta:
        if cmp.bool_equals_int and te in _NUMERIC and ta in _NUMERIC:
            return _same_extras(expected, actual, cmp) and int(expected["v"]) == int(actual["v"])
        return False
    if not _same_extras(expected, actual, cmp):
        return False
    ve: Any = expected.get("v")
    va: Any = actual.get("v")
    if te == "float":
        return _floats_match(ve, va, cmp)
    if te == "complex":
        return all(_floats_match(x, y, cmp) for x, y in zip(ve, va, strict=True))
    if te in ("list", "tuple", "set", "frozenset", "iter"):
        if te == "iter" and expected.get("end") != actual.get("end"):
            return False
        return len(ve) == len(va) and all(
            values_match(x, y, cmp) for x, y in zip(ve, va, strict=True)
        )
    if te == "dict":
        return _dicts_match(ve, va, cmp)
    if te == "opaque":
        return _same_observable(ve, va) and _same_observable(expected.get("s"), actual.get("s"))
    return ve == va


def _same_extras(expected: dict, actual: dict, cmp: Comparison) -> bool:
    """The recorded type, namedtuple fields and public attributes agree."""
    if not _same_observable(expected.get("type"), actual.get("type")):
        return False
    if expected.get("fields") != actual.get("fields"):
        return False
    ae, aa = expected.get("attrs") or [], actual.get("attrs") or []
    if len(ae) != len(aa):
        return False
    return all(
        ne == na and values_match(ve, va, cmp) for (ne, ve), (na, va) in zip(ae, aa, strict=True)
    )


def _same_observable(expected: object, actual: object) -> bool:
    """Equal texts are equal once observable (most trees carry no type name: both None)."""
    return expected == actual or _observable(expected) == _observable(actual)


_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
_LOCAL_SCOPE = re.compile(r"(?:[A-Za-z_][A-Za-z0-9_]*\.<locals>\.)+")


def _observable(text: object) -> object:
    """A type name or repr without what varies by run or by where a class was defined:
    memory addresses, and ``f.<locals>.`` scopes of qualified names."""
    if not isinstance(text, str):
        return text
    return _LOCAL_SCOPE.sub("", _ADDRESS.sub(" at 0x?", text))


def _floats_match(x: str, y: str, cmp: Comparison) -> bool:
    a, b = float(x), float(y)
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return math.isclose(a, b, rel_tol=cmp.float_rel_tol, abs_tol=cmp.float_abs_tol)


def _dicts_match(items_e: list, items_a: list, cmp: Comparison) -> bool:
    if len(items_e) != len(items_a):
        return False
    actual = {canonical(k): v for k, v in items_a}
    for k, v in items_e:
        other = actual.get(canonical(k))
        if other is None or not values_match(v, other, cmp):
            return False
    return True


def results_match(expected: CallResult, actual: CallResult, cmp: Comparison) -> bool:
    """Whether ``actual`` (candidate) agrees with ``expected`` (reference) on one input.

    Timeouts and infrastructure errors are decided by the caller before comparing.
    """
    if expected.raised or actual.raised:
        if not (expected.raised and actual.raised):
            return False
        return not cmp.exception_type_must_match or expected.error_type == actual.error_type
    if not (expected.ok and actual.ok):
        return False
    if expected.truncated or actual.truncated:
        if not (expected.truncated and actual.truncated):
            return False
        if isinstance(expected.value, dict) and isinstance(actual.value, dict):
            return values_match(expected.value, actual.value, cmp)  # the sandbox's digests
        return expected.value_str == actual.value_str
    if expected.value == actual.value and _reflexive(expected.value):
        return True  # the usual case, a correct result: no rule need be walked
    return values_match(expected.value, actual.value, cmp)


_CONTAINERS = frozenset({"list", "tuple", "set", "frozenset", "iter"})


def _reflexive(tree: object) -> bool:
    """Whether ``values_match(tree, tree)`` holds, without walking the rules.

    Every rule matches a tree with itself (floats are texts, so NaN is too), except a dict's:
    its items are looked up by canonical key, and a dict holding two keys the codec encodes
    alike (two NaN objects, two objects with one repr) pairs every item with the last. So:
    a tree (the reference's, a codec tree, at most ``MAX_DEPTH`` deep) without a dict."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if type(node) is not dict or node.get("t") == "dict":
            return False
        if node.get("t") in _CONTAINERS:
            stack.extend(node.get("v") or ())
        attrs = node.get("attrs")
        if attrs:
            stack.extend(value for _, value in attrs)
    return True


def skeleton(tree: object) -> object:
    """The type skeleton of an encoded value: tags only, container element types as a set.

    Used for nondeterministic targets, where only the kind of result can be checked.
    """
    if not isinstance(tree, dict):
        return None
    t = tree.get("t")
    v: Any = tree.get("v")
    if t in ("list", "tuple", "set", "frozenset"):
        return (t, frozenset(_freeze(skeleton(x)) for x in v))
    if t == "dict":
        return (t, frozenset((_freeze(skeleton(k)), _freeze(skeleton(x))) for k, x in v))
    if t == "opaque":
        return (t, _observable(tree.get("type")))
    if t == "iter":
        return (t, _observable(tree.get("type")), frozenset(_freeze(skeleton(x)) for x in v))
    if tree.get("type") is not None:
        return (t, _observable(tree.get("type")))
    return t


def _freeze(x: object) -> object:
    return x if not isinstance(x, list) else tuple(x)


def plausible(runs: list[object], actual: object, cmp: Comparison, _depth: int = 0) -> bool:
    """The weaker rule for a value the reference returns differently from run to run.

    Parts on which every run agrees must match exactly; the rest must look like the runs:
    the same type skeleton, a length within the runs' range (exactly theirs when they all
    have one length), the same elements when every run is a rearrangement of one multiset,
    and a number within the runs' range widened by its spread on both sides.
    """
    if all(values_match(runs[0], r, cmp) for r in runs[1:]):
        return values_match(runs[0], actual, cmp)
    if not isinstance(actual, dict) or skeleton(actual) not in {skeleton(r) for r in runs}:
        return False
    trees = [r for r in runs if isinstance(r, dict) and r.get("t") == actual.get("t")]
    t = actual.get("t")
    if t in ("int", "float") and trees:
        return _in_widened_range([_number(r) for r in trees], _number(actual))
    if t in ("list", "tuple", "str", "bytes", "set", "frozenset", "dict", "iter") and trees:
        lengths = [len(r.get("v") or "") for r in trees]
        if not _in_widened_range(lengths, len(actual.get("v") or "")):
            return False
        shuffled = t in ("list", "tuple", "str", "iter") and len({_multiset(r) for r in trees}) == 1
        if shuffled and _multiset(actual) != _multiset(trees[0]):  # a shuffle of fixed items
            return False
        if t in ("list", "tuple", "iter") and len(set(lengths)) == 1 and _depth < 5:
            return all(
                plausible([r["v"][i] for r in trees], item, cmp, _depth + 1)
                for i, item in enumerate(actual.get("v") or [])
            )
    return True


def _number(tree: dict) -> float:
    try:
        return float(tree.get("v"))  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return math.nan


def _in_widened_range(values: Sequence[float], x: float) -> bool:
    if any(math.isnan(v) for v in values) or math.isnan(x):
        return True  # nothing sensible to bound by
    lo, hi = min(values), max(values)
    spread = hi - lo
    return lo - spread <= x <= hi + spread


def _multiset(tree: dict) -> tuple:
    v = tree.get("v")
    if isinstance(v, str):
        return tuple(sorted(v))
    return tuple(sorted(canonical(x) for x in v or []))
