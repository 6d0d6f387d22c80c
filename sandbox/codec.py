"""Structural value encoding shared by the harness and the in-sandbox worker.

Standard library only: the worker embeds this file's source. Values become plain JSON trees
of tagged objects, so types survive the trip (bool apart from int, tuple apart from list,
NaN, infinities and -0.0, sets, dicts with non-string keys):

    None            {"t": "none"}
    bool            {"t": "bool", "v": true}
    int             {"t": "int", "v": "12345678901234567890"}     (decimal text: no size limit)
    float           {"t": "float", "v": "nan" | "inf" | "-inf" | repr}
    complex         {"t": "complex", "v": [real-float-text, imag-float-text]}
    str             {"t": "str", "v": "..."}
    bytes           {"t": "bytes", "v": "<hex>"}
    list / tuple    {"t": "list" | "tuple", "v": [...]}
    set / frozenset {"t": "set" | "frozenset", "v": [...]}   (sorted by canonical JSON)
    dict            {"t": "dict", "v": [[key, value], ...]}   (insertion order)
    anything else   {"t": "opaque", "type": "module.QualName", "v": "<repr, capped>"}

Subclasses of the builtin types are encoded as their base type only when their type is
exactly that base (``type(x) is int``); otherwise they are opaque, so an object with a lying
``__eq__`` can never pass for a plain value. Encoding never calls user-defined methods except
``__repr__`` for opaque values, and the worker guards that call with its own time limit.
"""

from __future__ import annotations

import json
import math
from typing import Any

MAX_DEPTH = 100
OPAQUE_REPR_CAP = 2000


class EncodeError(ValueError):
    """The value cannot be encoded (too deep, or a cycle)."""


class Opaque:
    """A decoded value of a type the codec does not model: its type name and capped repr."""

    __slots__ = ("type_name", "text")

    def __init__(self, type_name: str, text: str) -> None:
        self.type_name = type_name
        self.text = text

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Opaque)
            and other.type_name == self.type_name
            and other.text == self.text
        )

    def __hash__(self) -> int:
        return hash((self.type_name, self.text))

    def __repr__(self) -> str:
        return self.text


def _float_text(x: float) -> str:
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return repr(x)


_SAFE_DIGITS = 4000  # below Python 3.11's default int/str conversion limit of 4300 digits


def _int_text(n: int) -> str:
    """str(n) without tripping the interpreter's int_max_str_digits limit (divide and conquer)."""
    if n < 0:
        return "-" + _int_text(-n)
    if n.bit_length() <= _SAFE_DIGITS * 3:  # fewer than ~3600 decimal digits
        return str(n)
    k = n.bit_length() * 3 // 20  # about half of its decimal digits
    hi, lo = divmod(n, 10**k)
    return _int_text(hi) + _int_text(lo).rjust(k, "0")


def _text_int(text: str) -> int:
    """int(text) for decimal text of any length, whatever int_max_str_digits is."""
    if len(text) <= _SAFE_DIGITS:
        return int(text)
    if text.startswith("-"):
        return -_text_int(text[1:])
    k = len(text) // 2
    return _text_int(text[:-k]) * 10**k + _text_int(text[-k:])


def canonical(tree: object) -> str:
    """Canonical JSON text of an encoded tree (for sorting and hashing)."""
    return json.dumps(tree, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def _opaque(value: object) -> dict:
    cls = type(value)
    name = f"{getattr(cls, '__module__', '?')}.{getattr(cls, '__qualname__', cls.__name__)}"
    try:
        text = repr(value)
        if type(text) is not str:
            text = "<unrepresentable>"
    except BaseException:  # a hostile __repr__ must not break encoding
        text = "<unrepresentable>"
    return {"t": "opaque", "type": name, "v": text[:OPAQUE_REPR_CAP]}


def encode(value: object, _depth: int = 0, _seen: frozenset[int] = frozenset()) -> dict:
    """Encode ``value`` as a JSON-able tagged tree. Raises EncodeError when too deep or cyclic."""
    if _depth > MAX_DEPTH:
        raise EncodeError(f"value nested deeper than {MAX_DEPTH} levels")
    t = type(value)
    x: Any = value  # narrowed by the exact type checks below
    if value is None:
        return {"t": "none"}
    if t is bool:
        return {"t": "bool", "v": value}
    if t is int:
        return {"t": "int", "v": _int_text(x)}
    if t is float:
        return {"t": "float", "v": _float_text(x)}
    if t is complex:
        return {"t": "complex", "v": [_float_text(x.real), _float_text(x.imag)]}
    if t is str:
        return {"t": "str", "v": value}
    if t is bytes:
        return {"t": "bytes", "v": x.hex()}
    if t in (list, tuple, set, frozenset, dict):
        key = id(value)
        if key in _seen:
            raise EncodeError("value contains a reference cycle")
        seen = _seen | {key}
        d = _depth + 1
        if t is dict:
            pairs = [[encode(k, d, seen), encode(v, d, seen)] for k, v in x.items()]
            return {"t": "dict", "v": pairs}
        items = [encode(v, d, seen) for v in x]
        if t in (set, frozenset):
            items.sort(key=canonical)
        return {"t": t.__name__, "v": items}
    return _opaque(value)


def _float(text: str) -> float:
    return float(text)  # float() accepts "nan", "inf", "-inf" and every repr


def decode(tree: object, _depth: int = 0) -> object:
    """Inverse of :func:`encode`. Opaque values decode to :class:`Opaque`."""
    if _depth > MAX_DEPTH + 1:
        raise EncodeError("encoded tree too deep")
    if not isinstance(tree, dict) or "t" not in tree:
        raise EncodeError(f"not an encoded value: {str(tree)[:80]}")
    t = tree["t"]
    v = tree.get("v")
    d = _depth + 1
    if t == "none":
        return None
    if t == "bool":
        return bool(v)
    if t == "int":
        return _text_int(v)  # type: ignore[arg-type]
    if t == "float":
        return _float(v)  # type: ignore[arg-type]
    if t == "complex":
        return complex(_float(v[0]), _float(v[1]))  # type: ignore[index]
    if t == "str":
        return str(v)
    if t == "bytes":
        return bytes.fromhex(v)  # type: ignore[arg-type]
    if t == "list":
        return [decode(x, d) for x in v]  # type: ignore[union-attr]
    if t == "tuple":
        return tuple(decode(x, d) for x in v)  # type: ignore[union-attr]
    if t == "set":
        return {decode(x, d) for x in v}  # type: ignore[union-attr]
    if t == "frozenset":
        return frozenset(decode(x, d) for x in v)  # type: ignore[union-attr]
    if t == "dict":
        return {decode(k, d): decode(x, d) for k, x in v}  # type: ignore[union-attr]
    if t == "opaque":
        return Opaque(str(tree.get("type")), str(v))
    raise EncodeError(f"unknown tag {t!r}")


_ATOMS = frozenset({"none", "bool", "int", "float", "complex", "str", "bytes", "opaque"})
_SEQUENCES = frozenset({"list", "tuple", "set", "frozenset"})
_FLOAT_WORDS = frozenset({"nan", "inf", "-inf"})


def _check_float_text(text: object) -> None:
    if type(text) is not str or len(text) > 64:
        raise EncodeError("bad float text")
    if text not in _FLOAT_WORDS:
        float(text)  # ValueError when malformed


def validate(tree: object, _depth: int = 0) -> None:
    """Check that ``tree`` is a well-formed encoded value, without building it.

    Cheap (no big-int parsing), so the harness can vet trees that untrusted code produced.
    Raises EncodeError (or ValueError) when the tree is malformed.
    """
    if _depth > MAX_DEPTH + 1:
        raise EncodeError("encoded tree too deep")
    if type(tree) is not dict:
        raise EncodeError("not an encoded value")
    t = tree.get("t")
    v = tree.get("v")
    d = _depth + 1
    if t == "none":
        return
    if t == "bool":
        if type(v) is not bool:
            raise EncodeError("bad bool")
    elif t == "int":
        if type(v) is not str or not v.lstrip("-").isdigit() or not v.isascii():
            raise EncodeError("bad int text")
    elif t == "float":
        _check_float_text(v)
    elif t == "complex":
        if type(v) is not list or len(v) != 2:
            raise EncodeError("bad complex")
        _check_float_text(v[0])
        _check_float_text(v[1])
    elif t == "str" or t == "opaque":
        if type(v) is not str or (t == "opaque" and type(tree.get("type")) is not str):
            raise EncodeError(f"bad {t}")
    elif t == "bytes":
        if type(v) is not str:
            raise EncodeError("bad bytes")
        bytes.fromhex(v)
    elif t in _SEQUENCES:
        if type(v) is not list:
            raise EncodeError(f"bad {t}")
        for item in v:
            validate(item, d)
    elif t == "dict":
        if type(v) is not list:
            raise EncodeError("bad dict")
        for pair in v:
            if type(pair) is not list or len(pair) != 2:
                raise EncodeError("bad dict item")
            validate(pair[0], d)
            validate(pair[1], d)
    else:
        raise EncodeError(f"unknown tag {t!r}")
