"""Download of the upstream source archive from a local HTTP server into the user cache."""

from __future__ import annotations

import io
import shutil
import socket
import tarfile
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest

from codearc_env.errors import DataError, DataUnavailableError
from codearc_env.functions import download, integrity, load_dataset
from codearc_env.functions.loaders import load_directory, load_upstream
from codearc_env.functions.raw import RawProblem
from codearc_env.functions.source import resolve_data_dir


@pytest.fixture
def synthetic_checksums(monkeypatch: pytest.MonkeyPatch, synthetic: list[RawProblem]) -> None:
    """Make the synthetic data the 'shipped' data, so its archive passes the integrity check."""
    doc = integrity.compute(synthetic)
    monkeypatch.setattr(integrity, "shipped", lambda: doc)


def _serve(http_root: tuple[Path, str], archive: Path) -> str:
    root, base = http_root
    shutil.copy(archive, root / archive.name)
    return f"{base}/{archive.name}"


@pytest.fixture
def serve_tree(
    http_root: tuple[Path, str], datafiles: SimpleNamespace, tmp_path: Path
) -> Callable[[Path, str], str]:
    """Pack a folder as ``<name>.tar.gz``, serve it on 127.0.0.1 and return its URL."""

    def serve(tree: Path, name: str) -> str:
        return _serve(http_root, datafiles.make_archive(tree, tmp_path / f"{name}.tar.gz"))

    return serve


def _leftovers(cache: Path) -> list[str]:
    parent = cache / "codearc-env" / "data"
    return sorted(p.name for p in parent.iterdir()) if parent.exists() else []


def test_good_archive_is_downloaded_verified_and_cached(
    synthetic_checksums: None,
    synthetic_upstream: Path,
    isolated_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    serve_tree: Callable[[Path, str], str],
) -> None:
    url = serve_tree(synthetic_upstream, "good")
    monkeypatch.setenv("CODEARC_DATA_URL", url)
    caplog.set_level("INFO", logger="codearc_env.functions.download")
    ds = load_dataset()
    assert len(ds) == 2228
    expected = isolated_env / "codearc-env" / "data" / integrity.UPSTREAM_COMMIT
    assert ds.origin == str(expected)
    assert (expected / download.COMPLETE_MARKER).is_file()
    # only the data files were extracted, not the rest of the repository
    assert sorted(p.name for p in expected.iterdir()) == [
        download.COMPLETE_MARKER,
        "dataset",
        "prompt_invocations",
    ]
    assert _leftovers(isolated_env) == [integrity.UPSTREAM_COMMIT]
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0].startswith("Downloading CodeARC data (") and messages[0].endswith(" MB) ...")
    assert messages[-1].startswith("Downloaded 0.")
    # the next load uses the cache: the server is no longer asked
    monkeypatch.setenv("CODEARC_DATA_URL", "http://127.0.0.1:9/unreachable.tar.gz")
    assert load_dataset(allow_download=False).origin == str(expected)


@pytest.mark.parametrize(
    ("relative", "old", "new", "message"),
    [
        (
            "dataset/annotated/5.py",
            "x + 5",
            "x + 6",
            "integrity check failed: dataset/annotated/5.py does not match the shipped checksum "
            f"(commit {integrity.UPSTREAM_COMMIT[:12]})",
        ),
        (
            "prompt_invocations/anonymous/num_invocations=10/llm/invocations.json",
            '"Result 1: 0"',
            '"Result 1: 1"',
            "integrity check failed: prompt_invocations/anonymous/.../invocations.json does not "
            "match the shipped checksum",
        ),
    ],
    ids=["module", "examples"],
)
def test_tampered_archive_fails_the_integrity_check_and_caches_nothing(
    relative: str,
    old: str,
    new: str,
    message: str,
    synthetic_checksums: None,
    synthetic_upstream: Path,
    isolated_env: Path,
    tmp_path: Path,
    serve_tree: Callable[[Path, str], str],
) -> None:
    tree = tmp_path / "tampered"
    shutil.copytree(synthetic_upstream, tree)
    path = tree / relative
    path.write_text(path.read_text().replace(old, new, 1))
    url = serve_tree(tree, "tampered")
    with pytest.raises(DataError) as info:
        download.download_dataset(url=url, progress=False)
    assert str(info.value) == message
    assert _leftovers(isolated_env) == []
    assert download.cached_data_dir() is None


def test_archive_with_the_wrong_layout_is_rejected(
    synthetic_checksums: None,
    synthetic_upstream: Path,
    isolated_env: Path,
    tmp_path: Path,
    serve_tree: Callable[[Path, str], str],
) -> None:
    tree = tmp_path / "wrong"
    shutil.copytree(synthetic_upstream / "dataset", tree / "data" / "problems")
    url = serve_tree(tree, "wrong")
    with pytest.raises(DataError) as info:
        download.download_dataset(url=url, progress=False)
    assert str(info.value) == (
        f"the archive from {url} has the wrong layout: no dataset/<variant>/<i>.py or "
        "prompt_invocations/<variant>/num_invocations=10/llm/invocations.json files"
    )
    # half a layout: the modules are there, the examples are not
    half = tmp_path / "half"
    shutil.copytree(synthetic_upstream / "dataset", half / "dataset")
    url = serve_tree(half, "half")
    with pytest.raises(DataError, match=r"has the wrong layout: wrong layout: missing file .*"):
        download.download_dataset(url=url, progress=False)
    assert _leftovers(isolated_env) == []


def test_not_a_gzip_archive_is_reported_as_corrupt(
    http_root: tuple[Path, str], isolated_env: Path
) -> None:
    root, base = http_root
    (root / "junk.tar.gz").write_bytes(b"<html>not an archive</html>")
    with pytest.raises(DataError, match=r"the archive from .* is corrupt or not a \.tar\.gz"):
        download.download_dataset(url=f"{base}/junk.tar.gz", progress=False)
    assert _leftovers(isolated_env) == []


def test_archive_members_outside_the_data_paths_are_never_written(
    synthetic_checksums: None,
    synthetic_upstream: Path,
    http_root: tuple[Path, str],
    isolated_env: Path,
    tmp_path: Path,
) -> None:
    archive = tmp_path / "evil.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(synthetic_upstream, arcname="top")
        payload = b"pwned\n"
        for name in ("../../evil.py", "/tmp/evil-abs.py", "top/dataset/annotated/../../../x.py"):
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    url = _serve(http_root, archive)
    path = download.download_dataset(url=url, progress=False)
    assert not (tmp_path / "evil.py").exists() and not Path("/tmp/evil-abs.py").exists()
    assert not list(isolated_env.rglob("*evil*")) and not list(isolated_env.rglob("x.py"))
    assert len(load_dataset(path)) == 2228


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_offline_error_names_both_local_options(isolated_env: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/codearc.tar.gz"
    with pytest.raises(DataUnavailableError) as info:
        download.download_dataset(url=url, progress=False, timeout_s=5)
    text = str(info.value)
    assert text.startswith(f"cannot download the CodeARC data from {url} (")
    assert "--data-dir DIR" in text and "CODEARC_DATA_DIR=DIR" in text
    assert "problems.jsonl and invocations.jsonl" in text and integrity.UPSTREAM_COMMIT in text
    assert _leftovers(isolated_env) == []


def test_http_error_is_data_unavailable(http_root: tuple[Path, str], isolated_env: Path) -> None:
    _, base = http_root
    with pytest.raises(DataUnavailableError, match=r"\(HTTP 404\)\. Use a local copy instead"):
        download.download_dataset(url=f"{base}/missing.tar.gz", progress=False)


def test_no_download_and_no_cache_is_a_clear_error(isolated_env: Path) -> None:
    with pytest.raises(DataUnavailableError) as info:
        load_dataset(allow_download=False)
    assert str(info.value).startswith(
        "no CodeARC data: none given, none in the cache "
        f"({isolated_env / 'codearc-env' / 'data' / integrity.UPSTREAM_COMMIT}), and "
        "downloading is disabled. Use a local copy instead: pass --data-dir DIR or set "
        "CODEARC_DATA_DIR=DIR"
    )


def test_source_order_argument_then_environment_then_cache(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    cache = download.cache_dir()
    cache.mkdir(parents=True)
    (cache / download.COMPLETE_MARKER).write_text("{}")
    assert resolve_data_dir(allow_download=False) == cache
    monkeypatch.setenv("CODEARC_DATA_DIR", str(tmp_path / "from-env"))
    assert resolve_data_dir(allow_download=False) == tmp_path / "from-env"
    assert resolve_data_dir(tmp_path / "explicit") == tmp_path / "explicit"


def test_cache_dir_follows_xdg_then_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert (
        download.cache_dir() == tmp_path / "x" / "codearc-env" / "data" / integrity.UPSTREAM_COMMIT
    )
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert download.cache_root() == tmp_path / "home" / ".cache" / "codearc-env" / "data"


@pytest.mark.realdata
def test_real_data_archive_passes_the_shipped_checksums(
    data_dir: Path,
    datafiles: SimpleNamespace,
    isolated_env: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    serve_tree: Callable[[Path, str], str],
) -> None:
    problems = load_directory(data_dir)
    tree = datafiles.write_upstream(problems, tmp_path / "CodeARC")
    url = serve_tree(tree, "codearc")
    monkeypatch.setenv("CODEARC_DATA_URL", url)
    ds = load_dataset()
    assert len(ds) == 2228 and ds.origin == str(download.cache_dir())
    cached = load_upstream(download.cache_dir())
    assert [(p.variant, p.index, p.code, p.examples) for p in cached] == [
        (p.variant, p.index, p.code, p.examples) for p in problems
    ]
    shutil.rmtree(download.cache_dir())
    # one changed character in one real module fails the check
    module = tree / "dataset" / "anonymous" / "100.py"
    module.write_text(module.read_text() + " ")
    url = serve_tree(tree, "tampered")
    with pytest.raises(DataError, match=r"dataset/anonymous/100.py does not match"):
        download.download_dataset(url=url, progress=False)
