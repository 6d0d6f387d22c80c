"""Static checks of a candidate program, by ``ast`` on the host (nothing is executed).

The one submission check of the package: the env runs it on every submit action (a program
it rejects costs a turn, not a submission) and the oracle runs it before any sandbox call,
so the two can never disagree. A candidate is rejected when it is empty, binary, too long,
does not parse, or does not bind the target name at top level. A name is bound by a ``def``,
``async def``, ``class``, an assignment with a value (plain, annotated, augmented, in a
tuple, or a ``with ... as`` target) or an import alias, also inside top-level ``if``, ``for``,
``while``, ``with`` and ``try`` blocks; a bare annotation (``f: int``) binds nothing. When a
name is bound more than once, the last binding wins, exactly as when Python runs the module;
the oracle then simply tests whatever that last binding does.
"""

from __future__ import annotations

import ast
import warnings

MAX_CANDIDATE_CHARS = 200_000
"""Real candidates are a few kilobytes; anything this long is a mistake or an attack."""


def check_candidate(source: object, target: str, what: str = "candidate") -> str | None:
    """The reason the candidate is rejected before running, or None when it may run.

    ``what`` names the program in the message (the env says "the submission")."""
    if isinstance(source, bytes | bytearray):
        try:
            source = bytes(source).decode("utf-8")
        except UnicodeDecodeError:
            return f"{what} is binary data, not UTF-8 Python source"
    if not isinstance(source, str):
        return f"{what} must be Python source text, not {type(source).__name__}"
    if not source.strip():
        return f"{what} is empty"
    if "\x00" in source:
        return f"{what} is binary data (it contains NUL bytes)"
    if len(source) > MAX_CANDIDATE_CHARS:
        return f"{what} is {len(source)} characters long; the limit is {MAX_CANDIDATE_CHARS}"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escape sequences are not our concern
            tree = ast.parse(source)
    except SyntaxError as exc:
        where = f" (line {exc.lineno})" if exc.lineno else ""
        return f"{what} does not parse: {exc.msg}{where}"
    except (ValueError, RecursionError, MemoryError) as exc:
        return f"{what} does not parse: {type(exc).__name__}"
    if target not in top_level_bindings(tree):
        return f"{what} does not define {target!r} at top level"
    return None


def top_level_bindings(tree: ast.Module) -> set[str]:
    """Names bound by the module's top-level statements (not inside functions or classes)."""
    names: set[str] = set()
    for node in _top_level_statements(tree.body):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            for t in node.targets:
                names.update(_target_names(t))
        elif isinstance(node, ast.AnnAssign | ast.AugAssign) and (
            not isinstance(node, ast.AnnAssign) or node.value is not None
        ):
            names.update(_target_names(node.target))
        elif isinstance(node, ast.Import | ast.ImportFrom):
            for alias in node.names:
                if alias.name != "*":
                    names.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.With):
            for item in node.items:
                if item.optional_vars is not None:
                    names.update(_target_names(item.optional_vars))
    return names


def _top_level_statements(body: list[ast.stmt]):
    """Statements run at module level, looking into if/try/with blocks (still top level)."""
    for node in body:
        yield node
        if isinstance(node, ast.If | ast.For | ast.While):
            yield from _top_level_statements(node.body)
            yield from _top_level_statements(node.orelse)
        elif isinstance(node, ast.With):
            yield from _top_level_statements(node.body)
        elif isinstance(node, ast.Try | ast.TryStar):
            yield from _top_level_statements(node.body)
            for h in node.handlers:
                yield from _top_level_statements(h.body)
            yield from _top_level_statements(node.orelse)
            yield from _top_level_statements(node.finalbody)


def _target_names(node: ast.expr) -> set[str]:
    if isinstance(node, ast.Name):
        return {node.id}
    if isinstance(node, ast.Tuple | ast.List):
        out: set[str] = set()
        for e in node.elts:
            out |= _target_names(e)
        return out
    if isinstance(node, ast.Starred):
        return _target_names(node.value)
    return set()
