"""Quirks of a problem, found by reading its module and its stored examples (never a hand list).

Static checks only: the dynamic check (run the target twice in separate sandboxes and
compare) is part of ``codearc data verify`` (:mod:`codearc_env.functions.verify`).

Ill-posed: a stored call that parses but never calls the target anywhere (``list(f(x))``
and ``f()['a'](1)`` do call ``f``); such examples show another function's behaviour.

Nondeterminism rule (static): the module imports ``random``, ``secrets`` or ``uuid``, or calls
a clock or identity source: ``time.time/time_ns/perf_counter/perf_counter_ns/monotonic/
monotonic_ns/process_time``, ``datetime.now/today/utcnow`` and ``date.today``,
``os.urandom``, ``os.getpid``, or the builtins ``id()`` and ``hash()`` (``hash`` of a string
changes with the per-process hash seed). What this misses: results that depend on the
iteration order of a set of strings, which also follows the hash seed; only the dynamic
check sees those.
"""

from __future__ import annotations

import ast
import re
import warnings
from collections.abc import Sequence
from typing import NamedTuple

from codearc_env.functions.calls import _unwrap_print
from codearc_env.functions.spec import TIMEOUT_OUTPUT, Quirks

LARGE_OUTPUT_CHARS = 10_000

NONDETERMINISTIC_MODULES = frozenset({"random", "secrets", "uuid"})
_CLOCK_ATTRS = frozenset(
    {
        "time",
        "time_ns",
        "perf_counter",
        "perf_counter_ns",
        "monotonic",
        "monotonic_ns",
        "process_time",
        "now",
        "today",
        "utcnow",
        "urandom",
        "getpid",
    }
)
_IDENTITY_BUILTINS = frozenset({"id", "hash"})
# Cheap text prefilter: a module that mentions none of these words cannot match the ast rule.
_PREFILTER = re.compile(r"random|secrets|uuid|time|now|today|urandom|getpid|\bid\b|\bhash\b")


class CallScan(NamedTuple):
    """What a stored call text is, without evaluating it."""

    valid: bool
    """The text parses as Python."""
    name: str | None
    """The function it calls (print wrapper removed), or None."""
    called: frozenset[str] = frozenset()
    """Every plain name called anywhere in it (``list(f(x))`` and ``f()['a'](1)`` call f)."""

    def calls(self, target: str) -> bool:
        """The example calls ``target``, directly or not (``list(target(...))``)."""
        return self.name == target or target in self.called


def scan_calls(texts: Sequence[str], target: str | None = None) -> list[CallScan]:
    """Scan a problem's stored calls. Parses them as one module first (fast), else one by one.

    With ``target`` given, a direct call of it is not searched further (``called`` stays
    empty), which keeps loading fast; ``calls(target)`` is unaffected.
    """
    with warnings.catch_warnings():  # invalid escapes in stored calls are not ours to report
        warnings.simplefilter("ignore")
        return _scan_calls(texts, target)


def _scan_calls(texts: Sequence[str], target: str | None) -> list[CallScan]:
    if not any("\n" in t or "\r" in t for t in texts):
        try:
            tree = ast.parse("\n".join(texts))
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            tree = None
        if tree is not None and len(tree.body) == len(texts):
            return [_scan_stmt(stmt, target) for stmt in tree.body]
    return [_scan_one(t, target) for t in texts]


def _scan_one(text: str, target: str | None) -> CallScan:
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return CallScan(False, None)
    if len(tree.body) != 1:
        return CallScan(True, None)
    return _scan_stmt(tree.body[0], target)


def _scan_stmt(stmt: ast.stmt, target: str | None) -> CallScan:
    if not isinstance(stmt, ast.Expr):
        return CallScan(True, None)
    node = _unwrap_print(stmt.value)
    if (
        target is not None
        and isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == target
    ):
        return CallScan(True, target)
    called = frozenset(
        n.func.id
        for n in ast.walk(node)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
    )
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return CallScan(True, node.func.id, called)
    return CallScan(True, None, called)


def uses_nondeterminism(code: str, tree: ast.Module) -> bool:
    """The static nondeterminism rule of the module docstring."""
    if not _PREFILTER.search(code):
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            if any(a.name.split(".")[0] in NONDETERMINISTIC_MODULES for a in node.names):
                return True
        elif isinstance(node, ast.ImportFrom):
            if node.module and node.module.split(".")[0] in NONDETERMINISTIC_MODULES:
                return True
            if node.module in ("time", "datetime", "os") and any(
                a.name in _CLOCK_ATTRS for a in node.names
            ):
                return True
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in _IDENTITY_BUILTINS:
                return True
            if isinstance(func, ast.Attribute) and func.attr in _CLOCK_ATTRS:
                return True
    return False


def detect_quirks(
    *,
    target: str,
    code: str,
    tree: ast.Module,
    scans: Sequence[CallScan],
    outputs: Sequence[str],
    errored: Sequence[bool],
) -> Quirks:
    """All static quirks of one problem (outputs without the ``Result k:`` prefix)."""
    return Quirks(
        ill_posed=any(s.valid and not s.calls(target) for s in scans),
        invalid_calls=sum(1 for s in scans if not s.valid),
        nondeterministic=uses_nondeterminism(code, tree),
        large_output=any(len(o) > LARGE_OUTPUT_CHARS for o in outputs),
        errored_examples=sum(1 for e in errored if e),
        timed_out_examples=sum(
            1 for o, e in zip(outputs, errored, strict=True) if e and o.strip() == TIMEOUT_OUTPUT
        ),
    )
