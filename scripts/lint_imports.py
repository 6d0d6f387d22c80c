"""Check the layer contract of pyproject.toml with import-linter.

import-linter reads the package from the folder of ``codearc_env/__init__.py``, but our
layers live in sibling folders mapped into the namespace by ``package-dir``. So this script
lays out the installed shape, ``codearc_env/<layer>/...``, as links to the real files in a
temporary folder with a copy of pyproject.toml, and runs ``lint-imports`` there. Arguments
are passed on to it.

    python3 scripts/lint_imports.py [--verbose]
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# `lint-imports` run by this interpreter, so it sees the packages this Python has installed.
LINT_COMMAND = [
    sys.executable,
    "-c",
    "from importlinter.cli import lint_imports_command; lint_imports_command()",
    "--no-cache",
]


def link_installed_layout(dest: Path) -> None:
    """Link every .py file where an installed wheel would put it, following package-dir."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    package_dir: dict[str, str] = config["tool"]["setuptools"]["package-dir"]
    for package, folder in package_dir.items():
        source = ROOT / folder
        for path in source.rglob("*.py"):
            target = dest.joinpath(*package.split("."), path.relative_to(source))
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(path)


def main(argv: list[str]) -> int:
    with tempfile.TemporaryDirectory(prefix="codearc-layers-") as tmp:
        link_installed_layout(Path(tmp))
        shutil.copyfile(ROOT / "pyproject.toml", Path(tmp) / "pyproject.toml")
        env = {**os.environ, "PYTHONPATH": tmp}
        return subprocess.run([*LINT_COMMAND, *argv], cwd=tmp, env=env, check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
