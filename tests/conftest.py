"""Shared fixtures. Area-specific fixtures live in tests/<area>/conftest.py."""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from pathlib import Path
from types import SimpleNamespace

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from codearc_env.errors import DataUnavailableError  # noqa: E402
from codearc_env.functions import download  # noqa: E402
from codearc_env.functions.source import DATA_DIR_ENV  # noqa: E402

# CI lays the data out beside the clone; a user's machine usually has no such folder.
SIBLING_DATA = Path(__file__).resolve().parents[2] / "shared" / "codearc-data"
# Every skip for missing data starts with this, so the hook below can tell it from a
# missing service.
NO_DATA_PREFIX = "no real CodeARC data"
REQUIRE_DATA_ENV = "CODEARC_REQUIRE_DATA"


def find_real_data(sibling: Path = SIBLING_DATA) -> Path:
    """The real data, found as the CLI finds it, with CI's sibling folder second.

    Order: ``$CODEARC_DATA_DIR``, ``sibling``, the user cache, else the pinned checksummed
    download into that cache. Raises DataUnavailableError with the one line a test run shows
    when none of them works. A download that arrives but fails its checks is a DataError and
    propagates: that is a fault, not missing data.
    """
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        return Path(env)
    if (sibling / "problems.jsonl").is_file():
        return sibling
    cached = download.cached_data_dir()
    if cached is not None:
        return cached
    try:
        return download.download_dataset(progress=False)
    except DataUnavailableError as exc:
        raise DataUnavailableError(
            f"{NO_DATA_PREFIX} ({DATA_DIR_ENV} unset, no {sibling}, empty cache "
            f"{download.cache_dir()}), so the realdata tests skip: {exc} Or run "
            "`codearc data summary` once with network access to fill the cache."
        ) from None


@functools.cache
def _session_data() -> Path | str:
    """The data folder, or the reason there is none; looked up once per test run."""
    try:
        return find_real_data()
    except DataUnavailableError as exc:
        return str(exc)


def _skip_for_missing_data(reason: str) -> None:
    pytest.skip(reason)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    found = _session_data()
    if isinstance(found, str):
        _skip_for_missing_data(found)
    return found


@pytest.fixture(scope="session")
def data_discovery() -> SimpleNamespace:
    """The discovery and skip rules above, for the tests that check them."""
    return SimpleNamespace(find=find_real_data, skip_is_failure=skip_is_failure)


# Markers whose service CI installs and starts (scripts/test.sh): there a skip is a failure,
# so a missing install step cannot hide behind a green run.
_REQUIRED_SERVICE_MARKERS = ("docker", "bwrap", "localmodel")


def skip_is_failure(
    markers: set[str], skip_reason: str, environ: Mapping[str, str] = os.environ
) -> bool:
    """Whether a skipped test counts as failed under the run's requirements.

    ``CODEARC_REQUIRE_SERVICES=1`` turns skips of docker/bwrap/local-model tests into failures,
    except a skip for missing data, which only ``CODEARC_REQUIRE_DATA=1`` (CI) makes one.
    """
    if NO_DATA_PREFIX in skip_reason:
        return environ.get(REQUIRE_DATA_ENV) == "1"
    return environ.get("CODEARC_REQUIRE_SERVICES") == "1" and bool(
        markers.intersection(_REQUIRED_SERVICE_MARKERS)
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    outcome = yield
    report = outcome.get_result()
    if not report.skipped or hasattr(report, "wasxfail"):
        return
    if isinstance(report.longrepr, tuple) and NO_DATA_PREFIX in report.longrepr[2]:
        # one place for every such skip, so the summary folds them into one line
        code = _skip_for_missing_data.__code__
        report.longrepr = (code.co_filename, code.co_firstlineno, report.longrepr[2])
    markers = {m.name for m in item.iter_markers()}
    if skip_is_failure(markers, str(report.longrepr)):
        report.outcome = "failed"
        report.longrepr = f"skipped, but this run requires it to run: {report.longrepr}"
