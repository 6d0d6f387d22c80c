"""The layer contract of pyproject.toml: it covers every module, holds, and can fail."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import tomllib
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("lint_imports", ROOT / "scripts/lint_imports.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _layers() -> list[list[str]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    (contract,) = config["tool"]["importlinter"]["contracts"]
    return [[m.strip() for m in layer.split(":")] for layer in contract["layers"]]


def test_every_module_of_the_namespace_is_in_a_layer() -> None:
    """Each package that package-dir installs, and each module of codearc_env/ itself."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    packages = set(config["tool"]["setuptools"]["package-dir"]) - {"codearc_env"}
    modules = {f"codearc_env.{p.stem}" for p in (ROOT / "codearc_env").glob("*.py")}
    modules.discard("codearc_env.__init__")  # the namespace root: it only registers env ids
    named = {module for layer in _layers() for module in layer}
    assert packages | modules == named


def _lint(tmp_path: Path, planted: str | None = None) -> subprocess.CompletedProcess[str]:
    script = _script()
    script.link_installed_layout(tmp_path)
    shutil.copyfile(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    if planted is not None:
        (tmp_path / "codearc_env" / "sandbox" / "planted.py").write_text(planted)
    return subprocess.run(
        script.LINT_COMMAND,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture(autouse=True)
def _needs_import_linter() -> None:
    if importlib.util.find_spec("importlinter") is None:
        pytest.fail("import-linter is missing: pip install -e '.[test]'")


def test_the_tree_keeps_the_contract(tmp_path: Path) -> None:
    run = _lint(tmp_path)
    assert run.returncode == 0, run.stdout
    assert "Contracts: 1 kept, 0 broken." in run.stdout


def test_an_upward_import_breaks_it(tmp_path: Path) -> None:
    run = _lint(tmp_path, "from codearc_env.functions import spec\n")
    assert run.returncode == 1
    assert "- codearc_env.sandbox.planted -> codearc_env.functions.spec (l.1)" in run.stdout


def test_every_layer_may_import_errors(tmp_path: Path) -> None:
    run = _lint(tmp_path, "from codearc_env.errors import SandboxError\n")
    assert run.returncode == 0, run.stdout
