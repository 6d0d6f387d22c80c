"""The differential-testing oracle.

``Oracle(reference_sandbox, candidate_sandbox, seed=0, strength="default", cache_dir=None)``
checks a candidate with ``.check(fn, candidate_source, extra_inputs=()) -> Verdict``.
See docs/oracle.md for the rules.

Exports load lazily: ``codearc oracle --help`` imports the CLI module of this package, and
must not pay for Hypothesis.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from codearc_env.oracle.inputs import STRENGTHS, CallInput
    from codearc_env.oracle.oracle import Oracle
    from codearc_env.oracle.verdict import Counterexample, Verdict

_EXPORTS = {
    "STRENGTHS": "codearc_env.oracle.inputs",
    "CallInput": "codearc_env.oracle.inputs",
    "Oracle": "codearc_env.oracle.oracle",
    "Counterexample": "codearc_env.oracle.verdict",
    "Verdict": "codearc_env.oracle.verdict",
}

__all__ = ["STRENGTHS", "CallInput", "Counterexample", "Oracle", "Verdict"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'codearc_env.oracle' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value
