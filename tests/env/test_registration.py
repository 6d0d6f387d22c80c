"""The id table: what is registered, and that importing registers and does nothing else."""

from __future__ import annotations

import subprocess
import sys

import gymnasium

import codearc_env  # noqa: F401  (registers the ids)
from codearc_env.registration import ENTRY_POINT, ENV_IDS


def test_table_ids_are_registered_with_their_kwargs() -> None:
    for row in ENV_IDS:
        spec = gymnasium.spec(row.id)
        assert spec.entry_point == ENTRY_POINT
        assert spec.kwargs == row.kwargs


def test_table_covers_main_setting_ablations_and_builtin() -> None:
    ids = {row.id: row for row in ENV_IDS}
    for name in ("Annotated", "Anonymized"):
        assert ids[f"CodeARC-{name}-v0"].kwargs == {"variant": name.lower()}
        for b_io in (10, 20, 30):
            assert ids[f"CodeARC-{name}-IO{b_io}-v0"].kwargs["b_io"] == b_io
        for b_oracle in (1, 2, 3):
            assert ids[f"CodeARC-{name}-Oracle{b_oracle}-v0"].kwargs["b_oracle"] == b_oracle
    assert ids["CodeARC-Builtin-v0"].kwargs == {"variant": "annotated", "split": "builtin"}
    assert not ids["CodeARC-Builtin-v0"].needs_data
    assert len(ids) == 16


def test_make_builds_the_env_config_from_config_and_keywords() -> None:
    from codearc_env.config import EnvConfig

    env = gymnasium.make(
        "CodeARC-Builtin-v0", backend="process", config=EnvConfig(b_io=12, oracle_seed=3),
        b_oracle=3,
    )
    try:
        assert env.unwrapped.config == EnvConfig(b_io=12, b_oracle=3, oracle_seed=3)
    finally:
        env.close()


def test_import_registers_ids_and_loads_nothing_else() -> None:
    script = (
        "import sys, codearc_env, gymnasium; "
        "print(sorted(k for k in gymnasium.registry if k.startswith('CodeARC'))[:1]); "
        "print(sorted(m for m in sys.modules if m.startswith('codearc_env')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out == [
        "['CodeARC-Annotated-IO10-v0']",
        "['codearc_env', 'codearc_env.config', 'codearc_env.registration']",
    ]
