"""How a test run finds the real data, and what it says when there is none."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from codearc_env.errors import DataUnavailableError
from codearc_env.functions import download


@pytest.fixture
def no_sources(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> SimpleNamespace:
    """No CODEARC_DATA_DIR, no sibling folder, an empty cache and a download that cannot work."""
    monkeypatch.delenv("CODEARC_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    archive = tmp_path / "missing.tar.gz"
    monkeypatch.setenv("CODEARC_DATA_URL", archive.as_uri())
    return SimpleNamespace(sibling=tmp_path / "shared" / "codearc-data", archive=archive)


def test_every_source_absent_gives_one_line_saying_how_to_provide_the_data(
    no_sources: SimpleNamespace, data_discovery: SimpleNamespace, tmp_path: Path
) -> None:
    with pytest.raises(DataUnavailableError) as err:
        data_discovery.find(no_sources.sibling)
    cache = tmp_path / "cache" / "codearc-env" / "data" / download.integrity.UPSTREAM_COMMIT
    assert str(err.value) == (
        f"no real CodeARC data (CODEARC_DATA_DIR unset, no {no_sources.sibling}, empty cache "
        f"{cache}), so the realdata tests skip: cannot download the CodeARC data from "
        f"{no_sources.archive.as_uri()} ([Errno 2] No such file or directory: "
        f"'{no_sources.archive}'). {download.offline_hint()} Or run `codearc data summary` "
        "once with network access to fill the cache."
    )
    assert "\n" not in str(err.value)
    assert not cache.exists()  # a failed download leaves no cache entry


def test_sources_in_order_env_sibling_cache(
    no_sources: SimpleNamespace,
    data_discovery: SimpleNamespace,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    cache = download.cache_dir()
    cache.mkdir(parents=True)
    (cache / download.COMPLETE_MARKER).write_text(json.dumps({"commit": "x"}))
    assert data_discovery.find(no_sources.sibling) == cache
    no_sources.sibling.mkdir(parents=True)
    (no_sources.sibling / "problems.jsonl").write_text("")
    assert data_discovery.find(no_sources.sibling) == no_sources.sibling
    monkeypatch.setenv("CODEARC_DATA_DIR", str(tmp_path / "mine"))
    assert data_discovery.find(no_sources.sibling) == tmp_path / "mine"


def test_missing_data_skips_unless_the_run_requires_data(data_discovery: SimpleNamespace) -> None:
    rule = data_discovery.skip_is_failure
    no_data = "Skipped: no real CodeARC data (CODEARC_DATA_DIR unset, ...)"
    services = {"CODEARC_REQUIRE_SERVICES": "1"}
    assert rule({"docker", "realdata"}, no_data, services) is False
    assert rule({"realdata"}, no_data, {"CODEARC_REQUIRE_DATA": "1"}) is True
    no_bwrap = "Skipped: sandbox backend 'bwrap' is not available here"
    assert rule({"bwrap"}, no_bwrap, services) is True
    assert rule({"bwrap"}, no_bwrap, {}) is False
    assert rule({"slow"}, "Skipped: anything", services) is False
