"""Raw problem records, exactly as a data source stores them, before any interpretation."""

from __future__ import annotations

from dataclasses import dataclass

from codearc_env.functions.spec import Variant

EXPECTED_PROBLEMS = 1114
"""Problems per variant in the pinned upstream release (indices 0..1113)."""
EXAMPLES_PER_PROBLEM = 10


@dataclass(frozen=True)
class RawExample:
    k: int
    input: str
    output: str
    """As stored: ``Result k+1: <str(value)>``, or a bare message when ``errored``."""
    errored: bool


@dataclass(frozen=True)
class RawProblem:
    variant: Variant
    index: int
    code: str
    examples: tuple[RawExample, ...]
    origin: str
    """Where the module came from, for error messages: ``problems.jsonl line 3`` or a path."""
