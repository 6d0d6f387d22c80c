"""Sandbox limits for a given per-call timeout: one rule for every oracle run."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from codearc_env.sandbox.base import Limits, Sandbox


def limits_for(sandbox: Sandbox, timeout_s: float, **overrides: Any) -> Limits:
    """The sandbox's limits with this wall-clock timeout and a CPU allowance just above it
    (whole seconds, two more than the timeout, so the wall clock is what normally stops a
    call); ``overrides`` replace further fields, an output cap only upwards."""
    if "output_chars" in overrides:
        overrides["output_chars"] = max(sandbox.limits.output_chars, overrides["output_chars"])
    return dataclasses.replace(
        sandbox.limits, timeout_s=timeout_s, cpu_s=math.ceil(timeout_s) + 2, **overrides
    )
