"""Fetch the pinned upstream commit's source archive into the user cache, verified.

The archive is downloaded to a temporary folder next to the cache entry, only the data files
are extracted (by exact path pattern: nothing else in the archive is written), the result is
loaded and checked against ``checksums.json``, and only then renamed into place, so a cache
entry either is complete and verified or does not exist.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import zlib
from pathlib import Path
from typing import IO

from codearc_env.errors import DataError, DataUnavailableError
from codearc_env.functions import integrity
from codearc_env.functions.loaders import load_upstream

log = logging.getLogger(__name__)
URL_ENV = "CODEARC_DATA_URL"
DEFAULT_URL = (
    f"https://codeload.github.com/{integrity.UPSTREAM_REPO}/tar.gz/{integrity.UPSTREAM_COMMIT}"
)
COMPLETE_MARKER = ".complete.json"
MAX_ARCHIVE_BYTES = 512 * 1024 * 1024
MAX_MEMBER_BYTES = 64 * 1024 * 1024
_WANTED = re.compile(
    r"^(?:[^/]+/)?("
    r"dataset/(?:annotated|anonymous)/\d+\.py"
    r"|prompt_invocations/(?:annotated|anonymous)/num_invocations=10/llm/invocations\.json"
    r")$"
)


def offline_hint() -> str:
    return (
        "Use a local copy instead: pass --data-dir DIR or set CODEARC_DATA_DIR=DIR, where DIR "
        "holds problems.jsonl and invocations.jsonl (JSON Lines form), or is a clone or "
        f"unpacked source archive of {integrity.UPSTREAM_REPO} at commit "
        f"{integrity.UPSTREAM_COMMIT} (upstream layout)."
    )


def archive_url() -> str:
    """The archive URL: ``$CODEARC_DATA_URL`` when set (tests point it at 127.0.0.1)."""
    return os.environ.get(URL_ENV) or DEFAULT_URL


def cache_root() -> Path:
    """``$XDG_CACHE_HOME/codearc-env/data``, else ``~/.cache/codearc-env/data``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "codearc-env" / "data"


def cache_dir(commit: str = integrity.UPSTREAM_COMMIT) -> Path:
    return cache_root() / commit


def cached_data_dir(commit: str = integrity.UPSTREAM_COMMIT) -> Path | None:
    """The verified cache entry, or None when there is none."""
    path = cache_dir(commit)
    return path if (path / COMPLETE_MARKER).is_file() else None


class _Progress:
    """Download progress: a live line on a terminal (for people), else a start and an end log."""

    def __init__(self, total: int | None, stream: IO[str] | None = None) -> None:
        self.total = total
        self.stream = stream or sys.stderr
        self.live = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.last = 0.0
        size = f" ({total / 1e6:.1f} MB)" if total else ""
        if not self.live:
            log.info("Downloading CodeARC data%s ...", size)

    def update(self, done: int) -> None:
        now = time.monotonic()
        if not self.live or now - self.last < 0.1:
            return
        self.last = now
        if self.total:
            text = f"{done / 1e6:.1f} / {self.total / 1e6:.1f} MB ({100 * done // self.total}%)"
        else:
            text = f"{done / 1e6:.1f} MB"
        print(f"\rDownloading CodeARC data: {text}", end="", file=self.stream, flush=True)

    def finish(self, done: int) -> None:
        if self.live:
            print("", file=self.stream)
        log.info("Downloaded %.1f MB", done / 1e6)


def _fetch(url: str, dest: Path, timeout_s: float, progress: bool) -> None:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp, dest.open("wb") as out:
            length = resp.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            bar = _Progress(total) if progress else None
            done = 0
            while chunk := resp.read(1 << 16):
                done += len(chunk)
                if done > MAX_ARCHIVE_BYTES:
                    raise DataError(f"{url}: archive larger than {MAX_ARCHIVE_BYTES} bytes")
                out.write(chunk)
                if bar:
                    bar.update(done)
            if bar:
                bar.finish(done)
    except urllib.error.HTTPError as exc:
        raise DataUnavailableError(
            f"cannot download the CodeARC data from {url} (HTTP {exc.code}). {offline_hint()}"
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise DataUnavailableError(
            f"cannot download the CodeARC data from {url} ({reason}). {offline_hint()}"
        ) from None


def _extract(archive: Path, dest: Path, url: str) -> int:
    """Write the wanted data files of ``archive`` under ``dest``; returns how many."""
    count = 0
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                match = _WANTED.match(member.name)
                if not match or not member.isfile():
                    continue
                if member.size > MAX_MEMBER_BYTES:
                    raise DataError(f"{url}: {member.name} is larger than {MAX_MEMBER_BYTES} bytes")
                target = dest / match.group(1)  # built from the pattern: no '..', no absolute path
                target.parent.mkdir(parents=True, exist_ok=True)
                src = tar.extractfile(member)
                if src is None:
                    continue
                with src, target.open("wb") as out:
                    shutil.copyfileobj(src, out)
                count += 1
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise DataError(f"the archive from {url} is corrupt or not a .tar.gz ({exc})") from None
    return count


def download_dataset(
    *, url: str | None = None, timeout_s: float = 60.0, progress: bool = True
) -> Path:
    """Download, extract, verify and cache the pinned commit's data; returns the cache entry."""
    url = url or archive_url()
    final = cache_dir()
    final.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{final.name[:12]}-", dir=final.parent))
    try:
        archive = work / "archive.tar.gz"
        _fetch(url, archive, timeout_s, progress)
        staged = work / "data"
        staged.mkdir()
        if _extract(archive, staged, url) == 0:
            raise DataError(
                f"the archive from {url} has the wrong layout: no dataset/<variant>/<i>.py or "
                "prompt_invocations/<variant>/num_invocations=10/llm/invocations.json files"
            )
        try:
            problems = load_upstream(staged)
        except DataError as exc:
            raise DataError(f"the archive from {url} has the wrong layout: {exc}") from None
        integrity.check(problems)
        marker = {"commit": integrity.UPSTREAM_COMMIT, "url": url, "problems": len(problems)}
        (staged / COMPLETE_MARKER).write_text(json.dumps(marker) + "\n")
        try:
            os.rename(staged, final)
        except OSError:
            if cached_data_dir() is None:  # not another process winning the race
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return final
