"""Inputs built from the literals in the reference's own source.

A branch keyed on a literal (a table of codes, a special-cased word, a threshold) is reached
only by inputs that contain that literal. The examples show a few such values, and draws
near the examples rarely produce the others: a wrong entry in a 20-key table passes unless
its key is tried. Here each string argument of the first examples is replaced by each
string literal of the reference module, and each int argument by each int literal and its
neighbours (c - 1, c, c + 1), one argument at a time.

Like edge inputs (:mod:`edges`) these are proposals: one on which the reference raises, is
slow or returns too much is dropped (:func:`reference.compute`), so they carry origin
``edge``. The values come from the reference module only, so the same source always gives
the same inputs; a counterexample built on one may show a literal of the hidden code, as
any input on which the two programs differ shows something of it.
"""

from __future__ import annotations

import ast
import warnings

from codearc_env.oracle.call_input import CallInput

MAX_STRINGS = 24
"""Distinct string literals used, in source order (a module's first ones)."""
MAX_INTS = 8
"""Distinct int literals used (besides 0, 1 and 2, which the edge values already cover)."""
MAX_LENGTH = 64
"""Longer string literals (messages, templates) are not tried as arguments."""
_COVERED_INTS = frozenset({-1, 0, 1, 2})


def source_literals(code: str) -> tuple[list[str], list[int]]:
    """The distinct string and int literals of a module, in source order, docstrings
    excluded; empty when the source does not parse."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escape sequences in old sources
            tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return [], []
    docstrings = _docstring_ids(tree)
    constants = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and id(node) not in docstrings
    ]
    constants.sort(key=lambda n: (getattr(n, "lineno", 0), getattr(n, "col_offset", 0)))
    strings: list[str] = []
    ints: list[int] = []
    for node in constants:
        value = node.value
        if type(value) is str and len(value) <= MAX_LENGTH and value not in strings:
            strings.append(value)
        elif type(value) is int and value not in _COVERED_INTS and value not in ints:
            ints.append(value)
    return strings[:MAX_STRINGS], ints[:MAX_INTS]


def _docstring_ids(tree: ast.Module) -> set[int]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            first = node.body[0] if node.body else None
            value = first.value if isinstance(first, ast.Expr) else None
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                out.add(id(value))
    return out


def literal_inputs(bases: list[CallInput], code: str) -> list[CallInput]:
    """Variants of ``bases`` with one str or int argument replaced by a literal of ``code``."""
    strings, ints = source_literals(code)
    numbers = [n for c in ints for n in (c - 1, c, c + 1)]
    out: list[CallInput] = []
    for base in bases:
        for i, value in enumerate(base.args):
            for new in _replacements(value, strings, numbers):
                args = base.args[:i] + (new,) + base.args[i + 1 :]
                out.append(CallInput(args, base.kwargs, "edge"))
        for j, (name, value) in enumerate(base.kwargs):
            for new in _replacements(value, strings, numbers):
                kwargs = base.kwargs[:j] + ((name, new),) + base.kwargs[j + 1 :]
                out.append(CallInput(base.args, kwargs, "edge"))
    return out


def _replacements(value: object, strings: list[str], numbers: list[int]) -> list[object]:
    if type(value) is str:
        return [s for s in strings if s != value]
    if type(value) is int:
        return [n for n in numbers if n != value]
    return []
