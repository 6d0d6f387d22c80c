"""Parse call text into literal arguments with ``ast``, never evaluating anything.

Used for the stored initial examples and for every query an agent writes. A valid call is
exactly one call of the target whose arguments are literals: numbers (with a sign, and
complex numbers as ``a+bj``), strings, bytes, None, booleans, and lists, tuples, sets and
dicts of literals. Special floats are written ``float('inf')``, ``float('-inf')`` or
``float('nan')``; empty sets ``set()``; and ``frozenset([...])`` is accepted too.
The paper's wrapped form ``print('Result 1: ' + str(f(...)))`` is unwrapped first.
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass
from typing import Any

from codearc_env.errors import CallParseError
from codearc_env.sandbox.codec import MAX_DEPTH

MAX_CALL_CHARS = 100_000
TOO_DEEP = f"arguments are nested more than {MAX_DEPTH} levels deep"
"""The sandbox's codec carries values up to MAX_DEPTH containers deep; deeper is refused here,
as an invalid call, rather than failing later on the way into the sandbox."""
MAX_NODES = 20_000
CACHED_CHARS = 512
"""Call texts up to this long have their parse kept (see parse_calls). Below 640 characters no
integer literal can pass Python's digit limit, whatever it is set to, so a kept parse is what
a fresh one gives; longer texts cost more to parse than to look up anyway."""
CACHED_TEXTS = 1024
_SPECIAL_FLOATS = {"inf", "-inf", "nan", "+inf", "infinity", "-infinity"}


@dataclass(frozen=True)
class ParsedCall:
    """One parsed call: the name called, its literal arguments, and its source text."""

    name: str
    args: tuple[Any, ...]
    kwargs: tuple[tuple[str, Any], ...]
    text: str


def _literal(node: ast.AST, depth: int = 0) -> Any:
    """The literal value of node, which sits ``depth`` containers deep in an argument."""
    if depth > MAX_DEPTH:
        raise CallParseError(TOO_DEEP)
    if isinstance(node, ast.Constant):
        if node.value is Ellipsis:
            raise CallParseError("'...' is not a supported literal")
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        operand = _literal(node.operand, depth)
        if type(operand) not in (int, float, complex):
            raise CallParseError("a sign must precede a number")
        return -operand if isinstance(node.op, ast.USub) else +operand
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub):
        # only the complex form  a + bj / a - bj
        left, right = _literal(node.left, depth), _literal(node.right, depth)
        if type(left) in (int, float) and type(right) is complex:
            return left + right if isinstance(node.op, ast.Add) else left - right
        raise CallParseError("arithmetic is not allowed in arguments (only a+bj complex numbers)")
    if isinstance(node, ast.List):
        return [_literal(e, depth + 1) for e in node.elts]
    if isinstance(node, ast.Tuple):
        return tuple(_literal(e, depth + 1) for e in node.elts)
    if isinstance(node, ast.Set):
        return _hashable_set(node.elts, set, depth + 1)
    if isinstance(node, ast.Dict):
        out: dict[Any, Any] = {}
        for k, v in zip(node.keys, node.values, strict=True):
            if k is None:
                raise CallParseError("'**' unpacking is not allowed in a dict literal")
            key = _literal(k, depth + 1)
            try:
                out[key] = _literal(v, depth + 1)
            except TypeError as exc:
                raise CallParseError(f"unhashable dict key: {exc}") from None
        return out
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
        return _constructor(node.func.id, node.args, depth)
    raise CallParseError(f"not a literal: {type(node).__name__} at column {getattr(node, 'col_offset', '?')}")


def _hashable_set(elts: list[ast.expr], kind: type, depth: int) -> Any:
    try:
        return kind(_literal(e, depth) for e in elts)
    except TypeError as exc:
        raise CallParseError(f"unhashable set element: {exc}") from None


def _constructor(name: str, args: list[ast.expr], depth: int) -> Any:
    if name == "float" and len(args) == 1:
        text = _literal(args[0], depth)
        if isinstance(text, str) and text.strip().lower() in _SPECIAL_FLOATS:
            return float(text)
        raise CallParseError("float(...) is allowed only as float('inf'), float('-inf') or float('nan')")
    if name in ("set", "frozenset") and len(args) <= 1:
        kind = set if name == "set" else frozenset
        if not args:
            return kind()
        inner = args[0]
        if isinstance(inner, ast.List | ast.Tuple | ast.Set):
            return _hashable_set(inner.elts, kind, depth + 1)
        raise CallParseError(f"{name}(...) takes a list, tuple or set literal")
    raise CallParseError(f"calls are not allowed inside arguments: {name}(...)")


def _unwrap_print(node: ast.expr) -> ast.expr:
    """``print('Result 1: ' + str(CALL))`` -> CALL; anything else is returned unchanged."""
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "print"
        and len(node.args) == 1
        and not node.keywords
    ):
        inner = node.args[0]
        if isinstance(inner, ast.BinOp) and isinstance(inner.op, ast.Add):
            inner = inner.right
        if (
            isinstance(inner, ast.Call)
            and isinstance(inner.func, ast.Name)
            and inner.func.id == "str"
            and len(inner.args) == 1
        ):
            return inner.args[0]
    return node


def _parse_module(text: str) -> ast.Module:
    if not isinstance(text, str):
        raise CallParseError(f"call text must be a string, not {type(text).__name__}")
    if len(text) > MAX_CALL_CHARS:
        raise CallParseError(f"call text is {len(text)} characters; the limit is {MAX_CALL_CHARS}")
    try:
        tree = ast.parse(text, mode="exec")
    except SyntaxError as exc:
        raise CallParseError(f"syntax error: {exc.msg} (line {exc.lineno})") from None
    except (RecursionError, MemoryError, ValueError) as exc:
        raise CallParseError(f"cannot parse call text: {type(exc).__name__}") from None
    # Python's grammar makes at most about two nodes per character (``--x``, ``a|b``), so a
    # shorter text cannot pass the cap, and counting would cost more than the parse.
    if len(text) * 3 > MAX_NODES and sum(1 for _ in ast.walk(tree)) > MAX_NODES:
        raise CallParseError(f"call text has more than {MAX_NODES} syntax nodes")
    return tree


class _Lines:
    """Where each line of a call text starts, to cut a node's source out of it."""

    def __init__(self, text: str) -> None:
        self.text = text
        # ast's offsets count UTF-8 bytes, and ast splits lines at \r too: only a plain
        # ASCII text is cut here; ast.get_source_segment handles the rest.
        self.starts: list[int] | None = None
        if text.isascii() and "\r" not in text:
            self.starts = [0]
            at = text.find("\n")
            while at >= 0:
                self.starts.append(at + 1)
                at = text.find("\n", at + 1)

    def segment(self, node: ast.expr) -> str:
        starts, end_line = self.starts, node.end_lineno
        if starts is None or end_line is None or node.end_col_offset is None:
            return ast.get_source_segment(self.text, node) or ast.unparse(node)
        begin = starts[node.lineno - 1] + node.col_offset
        return self.text[begin : starts[end_line - 1] + node.end_col_offset]


def _parse_call_node(node: ast.expr, lines: _Lines, target: str | None) -> ParsedCall:
    node = _unwrap_print(node)
    if not isinstance(node, ast.Call):
        raise CallParseError("expected a call such as f(1, 'a')")
    if not isinstance(node.func, ast.Name):
        raise CallParseError("the called function must be a plain name")
    name = node.func.id
    if target is not None and name != target:
        raise CallParseError(f"the call must be of {target!r}, not {name!r}")
    try:
        args = []
        for a in node.args:
            if isinstance(a, ast.Starred):
                raise CallParseError("'*' unpacking is not allowed; write the arguments out")
            args.append(_literal(a))
        kwargs = []
        for kw in node.keywords:
            if kw.arg is None:
                raise CallParseError("'**' unpacking is not allowed; write the arguments out")
            kwargs.append((kw.arg, _literal(kw.value)))
    except RecursionError:
        raise CallParseError(TOO_DEEP) from None
    return ParsedCall(name=name, args=tuple(args), kwargs=tuple(kwargs), text=lines.segment(node))


def parse_calls(text: str, target: str | None = None) -> list[ParsedCall]:
    """Parse one or more calls, one per statement (newline- or ';'-separated).

    ``target``: when given, every call must call that name. Raises CallParseError naming the
    first offending statement.

    A short text's parse is kept, by text and target, for its next use (agents and examples
    repeat calls, and ``ast.parse`` is most of a query's cost on the host): every caller gets
    its own list, its own lists, dicts and sets in the arguments, and for a bad text the same
    error, as a fresh parse would give.
    """
    if type(text) is str and len(text) <= CACHED_CHARS and (target is None or type(target) is str):
        try:
            kept = _kept_parse(text, target)
            if kept is not None and not isinstance(kept, str):
                calls, shared = kept
                return list(calls) if shared else [_copy_call(c) for c in calls]
        except RecursionError:  # the caller's stack is too deep to copy: parse afresh
            kept = None
        if isinstance(kept, str):
            raise CallParseError(kept)
    return _parse_calls(text, target)


_Kept = tuple[tuple[ParsedCall, ...], bool] | str | None


@functools.lru_cache(maxsize=CACHED_TEXTS)
def _kept_parse(text: str, target: str | None) -> _Kept:
    """What parse_calls keeps of a text: its calls and whether their arguments may be shared
    (nothing in them can change), or the error's message, or None when the parse is not to be
    kept (its result could differ from one parse to the next, see _sharing)."""
    try:
        calls = tuple(_parse_calls(text, target))
    except CallParseError as exc:
        message = str(exc)
        # These depend on how deep the caller's stack is, or on free memory, not on the text.
        transient = TOO_DEEP in message or message.endswith(("RecursionError", "MemoryError"))
        return None if transient else message
    modes = [_sharing(v) for c in calls for v in (c.args, c.kwargs)]
    return None if _FRESH in modes else (calls, _COPY not in modes)


_SHARE, _COPY, _FRESH = 0, 1, 2
_IMMUTABLE = (int, bool, str, bytes, type(None))


def _sharing(value: Any) -> int:
    """How a kept argument may be handed out again: _SHARE (immutable all through), _COPY (holds
    lists, dicts or sets: each caller gets its own), or _FRESH (holds a NaN, which is not equal
    to itself, so only an object parsed anew is what a fresh parse would give)."""
    t = type(value)
    if t in _IMMUTABLE:
        return _SHARE
    if t is float or t is complex:
        return _FRESH if value != value else _SHARE
    if t is tuple or t is list:
        mode = max((_sharing(v) for v in value), default=_SHARE)
        return max(mode, _COPY) if t is list else mode
    if t is dict:
        return max([_COPY] + [max(_sharing(k), _sharing(v)) for k, v in value.items()])
    if t is set or t is frozenset:
        mode = max((_sharing(v) for v in value), default=_SHARE)
        return max(mode, _COPY) if t is set else mode
    return _FRESH


def _copy_call(call: ParsedCall) -> ParsedCall:
    return ParsedCall(call.name, _copy(call.args), _copy(call.kwargs), call.text)


def _copy(value: Any) -> Any:
    """``value`` with every list, dict and set in it new (what _sharing calls _COPY); set
    elements and dict keys are hashable, so immutable, and are shared."""
    t = type(value)
    if t is list:
        return [_copy(v) for v in value]
    if t is tuple:
        return tuple([_copy(v) for v in value])
    if t is dict:
        return {k: _copy(v) for k, v in value.items()}
    if t is set:
        return value.copy()
    return value


def _parse_calls(text: str, target: str | None) -> list[ParsedCall]:
    """parse_calls without its record of earlier parses."""
    tree = _parse_module(text)
    if not tree.body:
        raise CallParseError("no call found")
    calls, lines = [], _Lines(text)
    for i, stmt in enumerate(tree.body, start=1):
        if not isinstance(stmt, ast.Expr):
            raise CallParseError(f"statement {i}: only calls are allowed, not {type(stmt).__name__}")
        try:
            calls.append(_parse_call_node(stmt.value, lines, target))
        except CallParseError as exc:
            raise CallParseError(f"statement {i}: {exc}") from None
    return calls


def parse_call(text: str, target: str | None = None) -> ParsedCall:
    """Parse exactly one call."""
    calls = parse_calls(text, target)
    if len(calls) != 1:
        raise CallParseError(f"expected exactly one call, found {len(calls)}")
    return calls[0]


def _example_expression(text: str) -> ast.expr | None:
    """The expression a stored example evaluates (the print wrapper removed), or None when
    the text is not one expression statement."""
    try:
        tree = _parse_module(text)
    except CallParseError:
        return None
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.Expr):
        return None
    return _unwrap_print(tree.body[0].value)


def called_name(text: str) -> str | None:
    """Name of the function a stored example calls, even when its arguments are not literals."""
    node = _example_expression(text)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return node.func.id
    return None


def inner_call_text(text: str) -> str | None:
    """The call expression inside a stored example (the print wrapper removed), or None."""
    node = _example_expression(text)
    return None if node is None else ast.get_source_segment(text, node)


def render_call(name: str, args: tuple[Any, ...], kwargs: tuple[tuple[str, Any], ...] = ()) -> str:
    """Render a call with repr'd literals; special floats as float('...')."""
    parts = [_render(a) for a in args] + [f"{k}={_render(v)}" for k, v in kwargs]
    return f"{name}({', '.join(parts)})"


def _render(v: Any) -> str:
    t = type(v)
    if t is float and (v != v or v in (float("inf"), float("-inf"))):
        return f"float('{v}')"
    if t is list:
        return "[" + ", ".join(_render(x) for x in v) + "]"
    if t is tuple:
        inner = ", ".join(_render(x) for x in v)
        return f"({inner},)" if len(v) == 1 else f"({inner})"
    if t is dict:
        return "{" + ", ".join(f"{_render(k)}: {_render(x)}" for k, x in v.items()) + "}"
    if t in (set, frozenset):
        if not v:
            return f"{t.__name__}()"
        inner = ", ".join(sorted(_render(x) for x in v))
        return "{" + inner + "}" if t is set else "frozenset({" + inner + "})"
    return repr(v)
