"""EnvConfig: the settings of an episode, defined once.

The environment, the evaluation runner, the command line, the registered ids, the trace and
the training integrations all take their budgets and oracle settings from one
:class:`EnvConfig`, so a default (30 I/O pairs, two submissions, 50 turns) is written here
and nowhere else. Which problems are played (variant, split, data) and where code runs
(backend, sandbox limits, a pool) are given beside it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

INFRA_ERROR_MODES = ("raise", "truncate")


@dataclass(frozen=True)
class EnvConfig:
    """How an episode is played and graded (see docs/env.md)."""

    b_io: int = 30
    """Input/output pairs, counting the initial examples."""
    b_oracle: int = 2
    """Oracle calls (submissions)."""
    max_turns: int = 50
    """Actions before truncation, invalid ones included."""
    oracle_seed: int = 0
    """Seed of the oracle's input generation; fixed per environment, so grading does not
    depend on the episode seed."""
    oracle_strength: str = "default"
    """How many inputs the oracle generates (checked by the oracle when it is made)."""
    on_infra_error: str = "raise"
    """``"raise"`` a SandboxError when the harness fails, or ``"truncate"`` the episode."""

    def __post_init__(self) -> None:
        for name in ("b_io", "b_oracle", "max_turns"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an int, not {type(value).__name__}")
        if self.b_io < 0:
            raise ValueError(f"b_io must be >= 0, got {self.b_io}")
        if self.b_oracle < 1:
            raise ValueError(f"b_oracle must be >= 1, got {self.b_oracle}")
        if self.max_turns < 1:
            raise ValueError(f"max_turns must be >= 1, got {self.max_turns}")
        if self.on_infra_error not in INFRA_ERROR_MODES:
            raise ValueError(
                f"on_infra_error must be 'raise' or 'truncate', not {self.on_infra_error!r}"
            )

    def with_overrides(self, **overrides: Any) -> EnvConfig:
        """A copy with the given fields replaced; a None value keeps the field as it is
        (how keyword arguments left out by a caller reach the config)."""
        given = {name: value for name, value in overrides.items() if value is not None}
        return dataclasses.replace(self, **given) if given else self

    def outcome_settings(self) -> dict[str, Any]:
        """The settings that can change an episode's outcome (recorded in traces and run
        records; ``on_infra_error`` only decides how a harness failure is reported)."""
        return {
            "b_io": self.b_io,
            "b_oracle": self.b_oracle,
            "max_turns": self.max_turns,
            "oracle_seed": self.oracle_seed,
            "oracle_strength": self.oracle_strength,
        }


DEFAULT_CONFIG = EnvConfig()
"""The paper's main setting: 30 I/O pairs, 2 submissions."""
