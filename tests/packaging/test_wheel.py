"""A built wheel carries every file the installed package reads (not only the editable tree)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _package_dirs() -> dict[str, str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    mapping: dict[str, str] = config["tool"]["setuptools"]["package-dir"]
    return mapping


def _tracked_files(folder: str) -> list[str]:
    out = subprocess.run(
        ["git", "ls-files", folder], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    return [line for line in out.splitlines() if line]


def _git_available() -> bool:
    return (ROOT / ".git").exists()


@pytest.mark.skipif(not _git_available(), reason="needs the git checkout to list tracked files")
def test_wheel_holds_every_tracked_package_file(tmp_path: Path) -> None:
    # Build from a copy of the tracked files: a local egg-info would hide missing patterns.
    source = tmp_path / "src"
    for path in _tracked_files("."):
        target = source / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if (ROOT / path).is_file():
            shutil.copy2(ROOT / path, target)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path), str(source)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("codearc_env-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = []
    for package, folder in _package_dirs().items():
        prefix = package.replace(".", "/")
        for path in _tracked_files(folder):
            relative = path[len(folder) + 1 :]
            if relative.startswith("__pycache__") or "/tests/" in path:
                continue
            if f"{prefix}/{relative}" not in names:
                missing.append(path)
    assert missing == []
