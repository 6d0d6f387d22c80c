"""The registered environment ids, from one table.

``gymnasium.make(id, backend=..., data_dir=..., split=...)`` passes keyword arguments through
to :class:`codearc_env.env.CodeARCEnv` (an id's budgets replace those of the
:class:`~codearc_env.config.EnvConfig` defaults, and a ``config=`` given to ``make``); ``gymnasium.make_vec(id, num_envs=N)`` makes N of
them on one shared sandbox pool (``pool_size=`` sandboxes). Registering imports nothing
heavy: the entry points are strings, resolved on the first ``make``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gymnasium

from codearc_env.config import DEFAULT_CONFIG

ENTRY_POINT = "codearc_env.env:CodeARCEnv"
VECTOR_ENTRY_POINT = "codearc_env.vector:make_vector_env"
"""``gymnasium.make_vec`` without a vectorization mode: every env in this process on one
shared sandbox pool (:mod:`codearc_env.vector`)."""


@dataclass(frozen=True)
class EnvId:
    id: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    needs_data: bool = True
    """False for the built-in suite, which works offline."""
    description: str = ""


def _table() -> tuple[EnvId, ...]:
    main_io, main_oracle = DEFAULT_CONFIG.b_io, DEFAULT_CONFIG.b_oracle
    rows = []
    for variant in ("annotated", "anonymized"):
        name = variant.capitalize()
        rows.append(
            EnvId(f"CodeARC-{name}-v0", {"variant": variant},
                  description=f"main setting, {variant}: B_io {main_io}, B_oracle {main_oracle}")
        )
        # The paper's ablations vary one budget at a time around the main setting.
        for b_io in (10, 20, 30):
            rows.append(
                EnvId(f"CodeARC-{name}-IO{b_io}-v0", {"variant": variant, "b_io": b_io},
                      description=f"ablation, {variant}: B_io {b_io}, B_oracle {main_oracle}")
            )
        for b_oracle in (1, 2, 3):
            rows.append(
                EnvId(f"CodeARC-{name}-Oracle{b_oracle}-v0",
                      {"variant": variant, "b_oracle": b_oracle},
                      description=f"ablation, {variant}: B_io {main_io}, B_oracle {b_oracle}")
            )
    rows.append(
        EnvId("CodeARC-Builtin-v0", {"variant": "annotated", "split": "builtin"},
              needs_data=False, description="built-in suite, annotated (offline)")
    )
    rows.append(
        EnvId("CodeARC-Builtin-Anonymized-v0", {"variant": "anonymized", "split": "builtin"},
              needs_data=False, description="built-in suite, anonymized (offline)")
    )
    return tuple(rows)


ENV_IDS: tuple[EnvId, ...] = _table()


def register_envs() -> None:
    """Register every id of :data:`ENV_IDS` (idempotent)."""
    for row in ENV_IDS:
        if row.id in gymnasium.registry:
            continue
        gymnasium.register(
            id=row.id,
            entry_point=ENTRY_POINT,
            vector_entry_point=VECTOR_ENTRY_POINT,
            kwargs=dict(row.kwargs),
            # The env applies its own turn cap (max_turns), which marks truncation itself.
            max_episode_steps=None,
            disable_env_checker=False,
        )
