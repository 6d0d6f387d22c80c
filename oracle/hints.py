"""Read the target's signature and type hints with ``ast`` (the module is never imported).

Hints become Hypothesis strategies for the annotated variant. A hint we cannot model
(``Callable``, a user class, a malformed string) yields None, and the caller falls back to
strategies inferred from the examples.
"""

from __future__ import annotations

import ast
import string
import warnings
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

# Moderate ranges: hints say nothing about sizes, and huge values only make references hang.
HINT_INT = st.one_of(st.integers(-10, 10), st.integers(-1000, 1000))
HINT_FLOAT = st.floats(-1000, 1000, allow_nan=False, allow_infinity=False)
HINT_TEXT = st.text(alphabet=string.ascii_letters + string.digits + " .,!-_", max_size=12)
HINT_MAX_SIZE = 8


@dataclass(frozen=True)
class Param:
    name: str
    annotation: str | None
    """The hint's source text (``ast.unparse``), None when absent."""
    has_default: bool
    kind: str
    """``positional``, ``varargs``, ``keyword`` or ``varkw``."""


def read_signature(source: str, target: str) -> tuple[Param, ...] | None:
    """Parameters of the last top-level ``def target`` in ``source``; None when absent."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    node = None
    for stmt in tree.body:
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef) and stmt.name == target:
            node = stmt
    if node is None:
        return None
    a = node.args
    positional = a.posonlyargs + a.args
    n_defaults = len(a.defaults)
    params = [
        Param(p.arg, _hint_text(p), i >= len(positional) - n_defaults, "positional")
        for i, p in enumerate(positional)
    ]
    if a.vararg:
        params.append(Param(a.vararg.arg, _hint_text(a.vararg), True, "varargs"))
    for p, d in zip(a.kwonlyargs, a.kw_defaults, strict=True):
        params.append(Param(p.arg, _hint_text(p), d is not None, "keyword"))
    if a.kwarg:
        params.append(Param(a.kwarg.arg, _hint_text(a.kwarg), True, "varkw"))
    return tuple(params)


def _hint_text(arg: ast.arg) -> str | None:
    return ast.unparse(arg.annotation) if arg.annotation is not None else None


def hint_strategy(hint: str | None) -> st.SearchStrategy | None:
    """A strategy for values of the hinted type, or None when the hint is not modelled."""
    if hint is None:
        return None
    try:
        node = ast.parse(hint, mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    return _strategy(node, depth=0)


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):  # typing.List, t.Dict
        return node.attr
    if isinstance(node, ast.Constant) and node.value is None:
        return "None"
    return None


_SIMPLE = {
    "int": HINT_INT,
    "float": st.one_of(HINT_FLOAT, HINT_INT.map(float)),
    "str": HINT_TEXT,
    "bool": st.booleans(),
    "bytes": st.binary(max_size=HINT_MAX_SIZE),
    "None": st.none(),
    "NoneType": st.none(),
    "complex": st.complex_numbers(max_magnitude=100, allow_nan=False, allow_infinity=False),
}
_SEQUENCES = {"list", "List", "Sequence", "Iterable", "Collection", "MutableSequence"}
_MAPPINGS = {"dict", "Dict", "Mapping", "MutableMapping", "OrderedDict", "DefaultDict"}
_SETS = {"set", "Set", "frozenset", "FrozenSet", "AbstractSet"}
_ANY = {"Any", "object"}


def _strategy(node: ast.expr, depth: int) -> st.SearchStrategy | None:
    if depth > 6:
        return None
    if isinstance(node, ast.Constant) and isinstance(node.value, str):  # forward reference
        return hint_strategy(node.value)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):  # X | Y
        left, right = _strategy(node.left, depth + 1), _strategy(node.right, depth + 1)
        return None if left is None or right is None else st.one_of(left, right)
    if isinstance(node, ast.Subscript):
        return _generic(_name(node.value), node.slice, depth)
    name = _name(node)
    if name in _SIMPLE:
        return _SIMPLE[name]
    if name in _ANY:
        return st.one_of(HINT_INT, HINT_TEXT)
    if name in _SEQUENCES:
        return st.lists(HINT_INT, max_size=HINT_MAX_SIZE)
    if name in ("tuple", "Tuple"):
        return st.lists(HINT_INT, max_size=HINT_MAX_SIZE).map(tuple)
    if name in _MAPPINGS:
        return st.dictionaries(HINT_TEXT, HINT_INT, max_size=HINT_MAX_SIZE)
    if name in _SETS:
        kind: Any = frozenset if name.lower().startswith("frozen") else set
        return st.sets(HINT_INT, max_size=HINT_MAX_SIZE).map(kind)
    return None


def _generic(name: str | None, arg: ast.expr, depth: int) -> st.SearchStrategy | None:
    items = list(arg.elts) if isinstance(arg, ast.Tuple) else [arg]
    if name in ("tuple", "Tuple"):
        if len(items) == 2 and isinstance(items[1], ast.Constant) and items[1].value is Ellipsis:
            inner = _strategy(items[0], depth + 1)
            return None if inner is None else st.lists(inner, max_size=HINT_MAX_SIZE).map(tuple)
        maybe = [_strategy(x, depth + 1) for x in items]
        fixed = [p for p in maybe if p is not None]
        return st.tuples(*fixed) if len(fixed) == len(maybe) else None
    maybe = [_strategy(x, depth + 1) for x in items]
    parts = [p for p in maybe if p is not None]
    if len(parts) != len(maybe):
        return None
    if name == "Optional":
        return st.one_of(st.none(), parts[0])
    if name == "Union":
        return st.one_of(*parts)
    if name in _SEQUENCES:
        return st.lists(parts[0], max_size=HINT_MAX_SIZE)
    if name in _SETS:
        kind: Any = frozenset if name.lower().startswith("frozen") else set
        return st.sets(parts[0], max_size=HINT_MAX_SIZE).map(kind)
    if name in _MAPPINGS and len(parts) == 2:
        return st.dictionaries(parts[0], parts[1], max_size=HINT_MAX_SIZE)
    return None
