"""The differential-testing oracle.

``Oracle(reference_sandbox, candidate_sandbox, seed=0, strength="default", cache_dir=None)``
checks a candidate with ``.check(fn, candidate_source, extra_inputs=()) -> Verdict``.
See docs/oracle.md for the rules.
"""

from __future__ import annotations

from codearc_env.oracle.inputs import STRENGTHS, CallInput
from codearc_env.oracle.oracle import Oracle
from codearc_env.oracle.verdict import Counterexample, Verdict

__all__ = ["STRENGTHS", "Counterexample", "Oracle", "CallInput", "Verdict"]
