"""The upstream target rule: the hidden function is the last top-level ``def`` not named ``main``.

Decided with ``ast`` on the module, never by scanning text, so a ``def`` inside a string,
a class or another function is never mistaken for the target.
"""

from __future__ import annotations

import ast
import warnings

from codearc_env.errors import DataError


def parse_module(code: str, where: str) -> ast.Module:
    """Parse a hidden module; ``where`` names it in the error (e.g. ``problems.jsonl line 3``)."""
    try:
        # hidden modules may hold invalid escapes such as '\d': not our warnings to show
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ast.parse(code)
    except SyntaxError as exc:
        raise DataError(f"{where}: module does not parse: {exc.msg} (line {exc.lineno})") from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise DataError(f"{where}: module does not parse: {type(exc).__name__}") from None


def target_from_tree(tree: ast.Module, where: str) -> str:
    """Name of the target in an already parsed module."""
    for node in reversed(tree.body):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name != "main":
            return node.name
    raise DataError(f"{where}: no target function (no top-level def other than 'main')")


def find_target(code: str, where: str = "module") -> str:
    """Name of the target function of ``code``; DataError when the module has none."""
    return target_from_tree(parse_module(code, where), where)
