"""The initial examples as oracle inputs, including those that wrap the call.

Most stored examples are a literal call of the target. Some wrap it (``list(f('a-b', '-'))``,
``f({'a': 1})['a']``, ``f()['a']('x')``) or build an argument (``f('ab' * 50)``). Those are
used twice: the example's own expression, evaluated in the module exactly as written (it is
text from the data set, never from an agent), and the innermost literal call of the target
inside it, which mutations and inferred shapes can then build on.
"""

from __future__ import annotations

import ast

from codearc_env.errors import CallParseError
from codearc_env.functions.calls import parse_call
from codearc_env.functions.spec import HiddenFunction
from codearc_env.oracle.call_input import CallInput

WRAPPERS = frozenset(
    {
        "abs", "all", "any", "bool", "dict", "enumerate", "float", "frozenset", "int", "iter",
        "len", "list", "map", "max", "min", "next", "range", "repr", "reversed", "round", "set",
        "sorted", "str", "sum", "tuple", "zip",
    }
)  # fmt: skip
"""Builtins an example's expression may use around the target (or to build an argument)."""


def example_inputs(fn: HiddenFunction) -> list[CallInput]:
    """Every example that calls the target, in order (see the module docstring)."""
    out: list[CallInput] = []
    for ex in fn.examples:
        if ex.call is not None and ex.call.name == fn.target:
            out.append(CallInput(ex.call.args, ex.call.kwargs, "example"))
        elif ex.expression is not None:
            out += _wrapped(ex.expression, fn.target)
    return out


def _wrapped(expression: str, target: str) -> list[CallInput]:
    try:
        tree = ast.parse(expression, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == target
    ]
    if not calls:
        return []  # the example calls another function: it says nothing about the target
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} - {target}
    # a helper of the reference's module is not part of the task: a candidate need not have it
    usable = names <= WRAPPERS
    out = [CallInput((), (), "example", expression=expression)] if usable else []
    segment = ast.get_source_segment(expression, calls[0])
    if segment is not None and segment != expression:
        try:
            call = parse_call(segment, target)
        except CallParseError:
            return out  # arguments that are not literals: the expression alone covers it
        out.append(CallInput(call.args, call.kwargs, "example"))
    return out
