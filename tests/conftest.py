"""Shared fixtures. Area-specific fixtures live in tests/<area>/conftest.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

_SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "codearc-data"


def real_data_dir() -> Path | None:
    """The real CodeARC data in JSON Lines form: $CODEARC_DATA_DIR, else ../shared/codearc-data."""
    env = os.environ.get("CODEARC_DATA_DIR")
    if env:
        return Path(env)
    return _SHARED_DATA if (_SHARED_DATA / "problems.jsonl").exists() else None


@pytest.fixture(scope="session")
def data_dir() -> Path:
    path = real_data_dir()
    if path is None:
        pytest.skip("real CodeARC data not found (set CODEARC_DATA_DIR)")
    return path
