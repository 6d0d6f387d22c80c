"""Turn a raw action into a Query, a Submit or an Invalid, on the host, without executing it.

Actions come from arbitrary agents, so nothing about them is trusted: the dict may be
malformed, the text may be bytes, megabytes long or not encodable. Every problem becomes an
:class:`Invalid` with a message meant for the agent; this module never raises for bad input.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from codearc_env.errors import CallParseError
from codearc_env.functions.calls import ParsedCall, parse_calls
from codearc_env.oracle.candidate import check_candidate
from codearc_env.spaces import MAX_ACTION_CHARS, QUERY, SUBMIT


@dataclass(frozen=True)
class Query:
    calls: tuple[ParsedCall, ...]


@dataclass(frozen=True)
class Submit:
    source: str


@dataclass(frozen=True)
class Invalid:
    reason: str
    kind: str = "invalid"
    """``"query"`` or ``"submit"`` when the kind was readable, else ``"invalid"``."""


Action = Query | Submit | Invalid


def parse_action(action: Any, target: str) -> Action:
    """Validate ``{"kind": 0|1, "text": str}`` and parse it for the function ``target``."""
    if (
        type(action) is dict
        and len(action) == 2
        and type(kind := action.get("kind")) is int
        and kind in (QUERY, SUBMIT)
        and type(text := action.get("text")) is str
        and 0 < len(text) <= MAX_ACTION_CHARS
        and text.isascii()
        and not text.isspace()
    ):
        return _parsed(kind, text, target)  # the usual action: every check below passes
    if not isinstance(action, Mapping):
        return Invalid(
            f"an action must be a dict with keys 'kind' and 'text', not {type(action).__name__}"
        )
    missing = [k for k in ("kind", "text") if k not in action]
    if missing:
        return Invalid(f"the action is missing {' and '.join(repr(k) for k in missing)}")
    extra = sorted(str(k) for k in action if k not in ("kind", "text"))
    if extra:
        return Invalid(f"unknown action keys: {', '.join(extra)}")
    checked_kind = _kind(action["kind"])
    if checked_kind is None:
        return Invalid(f"'kind' must be 0 (query) or 1 (submit), not {action['kind']!r:.50}")
    text, problem = _text(action["text"])
    if problem:
        return Invalid(problem, "query" if checked_kind == QUERY else "submit")
    return _parsed(checked_kind, text, target)


def _parsed(kind: int, text: str, target: str) -> Action:
    """The action of a valid kind and text."""
    if kind == QUERY:
        try:
            calls = parse_calls(text, target)
        except CallParseError as exc:
            return Invalid(f"invalid query: {exc}", "query")
        return Query(tuple(calls))
    problem = check_submission(text, target)
    return Invalid(problem, "submit") if problem else Submit(text)


def _kind(value: Any) -> int | None:
    if isinstance(value, bool | np.bool_):
        return None
    if isinstance(value, int | np.integer) and int(value) in (QUERY, SUBMIT):
        return int(value)
    if isinstance(value, np.ndarray) and value.shape == () and value.dtype.kind in "iu":
        return _kind(value.item())
    return None


def _text(value: Any) -> tuple[str, str | None]:
    if isinstance(value, bytes | bytearray):
        return "", "'text' must be a str, not bytes (decode it as UTF-8 first)"
    if not isinstance(value, str):
        return "", f"'text' must be a str, not {type(value).__name__}"
    if len(value) > MAX_ACTION_CHARS:
        return "", f"the action text is {len(value)} characters; the limit is {MAX_ACTION_CHARS}"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        return "", f"the action text is not valid unicode (lone surrogate at position {exc.start})"
    if not value.strip():
        return "", "the action text is empty"
    return value, None


def check_submission(source: str, target: str) -> str | None:
    """Why ``source`` cannot be a submission for ``target``, or None when it can.

    The oracle's own static check (:func:`codearc_env.oracle.candidate.check_candidate`),
    so a program the env accepts is never rejected by the oracle as unusable. Whether it is
    *right* is the oracle's job.
    """
    return check_candidate(source, target, what="the submission")
