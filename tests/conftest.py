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


# Markers whose service CI installs and starts (scripts/test.sh): there a skip is a failure,
# so a missing install step cannot hide behind a green run.
_REQUIRED_SERVICE_MARKERS = ("docker", "bwrap", "localmodel")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    outcome = yield
    report = outcome.get_result()
    if (
        report.skipped
        and os.environ.get("CODEARC_REQUIRE_SERVICES") == "1"
        and any(item.get_closest_marker(m) for m in _REQUIRED_SERVICE_MARKERS)
        and not hasattr(report, "wasxfail")
    ):
        report.outcome = "failed"
        report.longrepr = f"skipped, but CODEARC_REQUIRE_SERVICES=1 requires it to run: {report.longrepr}"
