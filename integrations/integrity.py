"""Reward integrity: infrastructure failures are counted and logged, never graded.

A sandbox that dies is not the policy's fault. Its rollout must not be rewarded (1.0) and must
not pass unnoticed as a plain failure (0.0): each one is logged, counted here for the whole
process, and exposed on the environment instance that met it.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

logger = logging.getLogger("codearc_env.integrations")


@dataclass(frozen=True)
class RunStats:
    """Counts over every training environment of this process since it started."""

    episodes: int = 0
    """Episodes started (``reset`` calls)."""
    solved: int = 0
    """Episodes whose submission the oracle passed."""
    infra_errors: int = 0
    """Episodes cut short by an infrastructure failure; their reward says nothing."""


_lock = threading.Lock()
_stats = RunStats()


def run_stats() -> RunStats:
    """A snapshot of this process's counts."""
    with _lock:
        return _stats


def count(*, episodes: int = 0, solved: int = 0, infra_errors: int = 0) -> None:
    global _stats
    with _lock:
        _stats = RunStats(
            _stats.episodes + episodes,
            _stats.solved + solved,
            _stats.infra_errors + infra_errors,
        )


def record_infra_error(problem_id: str, message: str) -> None:
    """Count and log one episode's infrastructure failure."""
    count(infra_errors=1)
    logger.warning(
        "infrastructure failure in the episode of %s (%d in this run so far): %s",
        problem_id,
        run_stats().infra_errors,
        message,
    )
