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

Values of other types keep what a user of the value can observe, with the type recorded:

    subclass of a builtin (Counter, OrderedDict, defaultdict, namedtuple, IntEnum, a user's
    dict subclass...): the base type's tree plus "type": "module.Name" and, when present,
    "attrs" (public instance attributes, and a defaultdict's default_factory)
    numpy scalar    the tree of its Python value (``.item()``) plus "type": "numpy.float64"
    iterator        {"t": "iter", "type": ..., "v": [first items], "end": "stop" | "more" |
                    "raise:ErrorType"}    (generators, map, zip...: consumed, up to ITER_ITEMS)
    anything else   {"t": "opaque", "type": "module.QualName", "v": "<repr, capped>",
                     "s": "<str() when it differs from repr>", "attrs": [[name, tree], ...]}

A subclass's structure is read with the base type's own methods (``dict.items(x)``), never
the subclass's overrides, so an object with a lying ``__eq__`` or ``__iter__`` cannot pass for
a plain value. Encoding calls user-defined code only for ``__repr__``/``__str__`` of opaque
values, ``__dict__`` lookups and the ``__next__`` of returned iterators; the worker guards
the whole encoding with its own time limit.
"""

from __future__ import annotations

import collections
import json
import math
from typing import Any

MAX_DEPTH = 100
OPAQUE_REPR_CAP = 2000
ITER_ITEMS = 1000
"""Items read from a returned iterator; an endless generator shows this many and "more"."""
MAX_ATTRS = 64
"""Public attributes kept of one object (sorted by name)."""


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


def _qualified_name(cls: type) -> str:
    return f"{getattr(cls, '__module__', '?')}.{getattr(cls, '__qualname__', cls.__name__)}"


def _text_of(render: Any, value: object) -> str:
    try:
        text = render(value)
        return text[:OPAQUE_REPR_CAP] if type(text) is str else "<unrepresentable>"
    except Exception:  # a hostile __repr__ must not break encoding
        return "<unrepresentable>"


def _opaque(value: object) -> dict:
    return {"t": "opaque", "type": _qualified_name(type(value)), "v": _text_of(repr, value)}


_BASES = (bool, int, float, complex, str, bytes, list, tuple, set, frozenset, dict)


def _public_attrs(value: object, depth: int, seen: frozenset[int]) -> list | None:
    """Public instance attributes (``vars()``), encoded; None when the object has none."""
    try:
        namespace = object.__getattribute__(value, "__dict__")
    except Exception:
        namespace = None
    if type(namespace) is not dict:
        return None
    names = sorted(k for k in namespace if type(k) is str and not k.startswith("_"))
    out = []
    for name in names[:MAX_ATTRS]:
        try:
            out.append([name, encode(namespace[name], depth, seen)])
        except EncodeError:
            out.append([name, _opaque(namespace[name])])
    return out or None


def _numpy_scalar(value: object) -> object:
    """The Python value of a numpy scalar (``numpy.float64(1.5)`` -> 1.5), else a sentinel."""
    cls = type(value)
    if getattr(cls, "__module__", None) != "numpy":
        return _NOT_NUMPY
    if not any(getattr(c, "__name__", "") == "generic" for c in cls.__mro__):
        return _NOT_NUMPY
    try:
        item = value.item()  # type: ignore[attr-defined]
    except Exception:
        return _NOT_NUMPY
    return item if type(item) in _BASES or item is None else _NOT_NUMPY


_NOT_NUMPY = object()


def _iterator(value: object, depth: int, seen: frozenset[int]) -> dict:
    items = []
    end = "more"
    try:
        for _ in range(ITER_ITEMS):
            items.append(encode(next(value), depth, seen))  # type: ignore[call-overload]
    except StopIteration:
        end = "stop"
    except EncodeError:
        raise
    except Exception as exc:
        end = "raise:" + type(exc).__name__
    return {"t": "iter", "type": _qualified_name(type(value)), "v": items, "end": end}


def _is_iterator(cls: type) -> bool:
    return hasattr(cls, "__next__") and hasattr(cls, "__iter__")


def _builtin_base(cls: type) -> type | None:
    for base in cls.__mro__:
        if base in _BASES:
            return base
    return None


def encode(value: object, _depth: int = 0, _seen: frozenset[int] = frozenset()) -> dict:
    """Encode ``value`` as a JSON-able tagged tree. Raises EncodeError when too deep or cyclic."""
    if _depth > MAX_DEPTH:
        raise EncodeError(f"value nested deeper than {MAX_DEPTH} levels")
    t = type(value)
    if value is None:
        return {"t": "none"}
    if t in _BASES:
        return _plain(value, t, t, _depth, _seen)
    key = id(value)
    if key in _seen:
        raise EncodeError("value contains a reference cycle")
    seen = _seen | {key}
    d = _depth + 1
    base = _builtin_base(t)
    if base is not None:  # a subclass: the base type's structure, the type recorded
        tree = _plain(value, base, t, d, seen)
        tree["type"] = _qualified_name(t)
        fields = getattr(t, "_fields", None) if base is tuple else None
        if type(fields) is tuple and all(type(f) is str for f in fields):
            tree["fields"] = list(fields)  # a namedtuple's field names are visible in its repr
        attrs = _public_attrs(value, d, seen)
        factory = getattr(value, "default_factory", None) if base is dict else None
        if factory is not None:
            attrs = (attrs or []) + [["default_factory", _opaque(factory)]]
        if attrs:
            tree["attrs"] = attrs
        return tree
    item = _numpy_scalar(value)
    if item is not _NOT_NUMPY:
        tree = encode(item, d, seen)
        tree["type"] = _qualified_name(t)
        return tree
    if _is_iterator(t):
        return _iterator(value, d, seen)
    tree = _opaque(value)
    text = _text_of(str, value)
    if text != tree["v"]:
        tree["s"] = text
    attrs = _public_attrs(value, d, seen)
    if attrs:
        tree["attrs"] = attrs
    return tree


def _plain(value: object, base: type, t: type, depth: int, seen: frozenset[int]) -> dict:
    """The tree of ``value`` as an instance of the builtin ``base`` (its own methods only)."""
    x: Any = value
    if base is bool:
        return {"t": "bool", "v": bool(int.__index__(x))}
    if base is int:
        return {"t": "int", "v": _int_text(int.__index__(x))}
    if base is float:
        return {"t": "float", "v": _float_text(float.__float__(x))}
    if base is complex:
        c = complex.__complex__(x) if t is not complex else x
        return {"t": "complex", "v": [_float_text(c.real), _float_text(c.imag)]}
    if base is str:
        return {"t": "str", "v": str.__str__(x)}
    if base is bytes:
        return {"t": "bytes", "v": bytes.hex(x)}
    if t in (list, tuple, set, frozenset, dict):  # exact containers: the cycle check here
        key = id(value)
        if key in seen:
            raise EncodeError("value contains a reference cycle")
        seen = seen | {key}
        depth = depth + 1
    if base is dict:
        ordered = isinstance(x, collections.OrderedDict)  # its order is not dict's own
        items = collections.OrderedDict.items(x) if ordered else dict.items(x)
        return {
            "t": "dict",
            "v": [[encode(k, depth, seen), encode(v, depth, seen)] for k, v in items],
        }
    elements = list(base.__iter__(x))  # type: ignore[attr-defined]
    encoded = [encode(v, depth, seen) for v in elements]
    if base in (set, frozenset):
        encoded.sort(key=canonical)
    return {"t": base.__name__, "v": encoded}


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
    if t == "opaque" or t == "iter":
        return Opaque(str(tree.get("type")), str(v))
    raise EncodeError(f"unknown tag {t!r}")


_SEQUENCES = frozenset({"list", "tuple", "set", "frozenset", "iter"})
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
    _validate_extras(tree, d)
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
        if t == "iter" and type(tree.get("end")) is not str:
            raise EncodeError("bad iter")
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


def _validate_extras(tree: dict, depth: int) -> None:
    """The optional fields: a recorded type, str(), namedtuple fields, public attributes."""
    for name in ("type", "s"):
        if name in tree and type(tree[name]) is not str:
            raise EncodeError(f"bad {name}")
    fields = tree.get("fields")
    if fields is not None and (type(fields) is not list or any(type(f) is not str for f in fields)):
        raise EncodeError("bad fields")
    attrs = tree.get("attrs")
    if attrs is None:
        return
    if type(attrs) is not list:
        raise EncodeError("bad attrs")
    for pair in attrs:
        if type(pair) is not list or len(pair) != 2 or type(pair[0]) is not str:
            raise EncodeError("bad attribute")
        validate(pair[1], depth)
