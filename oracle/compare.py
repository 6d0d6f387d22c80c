"""Compare a candidate's result with the reference's, on encoded trees (plain data).

Rules (per function, from :class:`codearc_env.functions.spec.Comparison`):

- A value matches only a value of the same structural type: ``True`` is not ``1`` (unless
  ``bool_equals_int``), ``1`` is not ``1.0``, a tuple is not a list.
- Floats (and complex parts) match within ``float_rel_tol``/``float_abs_tol``; NaN matches NaN.
- Dicts compare as mappings (key order ignored, as Python's ``==``); lists and tuples in order;
  sets element-wise after the codec's canonical sort.
- Opaque values (types the codec does not model) match by type name and repr.
- An exception matches any exception, or only one of the same type when
  ``exception_type_must_match``. An exception never matches a return value.
- Truncated values (over the sandbox's output cap) match only when both are truncated and
  their digests (or, without one, their capped ``str()`` renderings) are equal.
"""

from __future__ import annotations

import math
import re
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
            return int(expected["v"]) == int(actual["v"])
        return False
    ve: Any = expected.get("v")
    va: Any = actual.get("v")
    if te == "float":
        return _floats_match(ve, va, cmp)
    if te == "complex":
        return all(_floats_match(x, y, cmp) for x, y in zip(ve, va, strict=True))
    if te in ("list", "tuple", "set", "frozenset"):
        return len(ve) == len(va) and all(
            values_match(x, y, cmp) for x, y in zip(ve, va, strict=True)
        )
    if te == "dict":
        return _dicts_match(ve, va, cmp)
    if te == "opaque":
        return expected.get("type") == actual.get("type") and _without_addresses(
            ve
        ) == _without_addresses(va)
    return ve == va


_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def _without_addresses(text: object) -> object:
    """Default reprs (generators, plain objects) embed a memory address that differs per run."""
    return _ADDRESS.sub(" at 0x?", text) if isinstance(text, str) else text


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
    return values_match(expected.value, actual.value, cmp)


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
        return (t, tree.get("type"))
    return t


def _freeze(x: object) -> object:
    return x if not isinstance(x, list) else tuple(x)
