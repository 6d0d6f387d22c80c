"""Our folders install under `codearc_env`, so a foreign top-level `agents` cannot break us."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_foreign_top_level_agents_module_does_not_shadow_ours(tmp_path: Path) -> None:
    # A stand-in for openai-agents' top-level `agents` package, placed first on sys.path.
    foreign = tmp_path / "agents"
    foreign.mkdir()
    (foreign / "__init__.py").write_text("FOREIGN = True\n")
    script = textwrap.dedent(
        """
        import sys
        import agents
        assert getattr(agents, "FOREIGN", False), agents.__file__
        import codearc_env.agents, codearc_env.sandbox, codearc_env.functions
        print(codearc_env.agents.__file__)
        print(codearc_env.sandbox.__file__)
        print(codearc_env.functions.__file__)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert out == [
        str(ROOT / "agents" / "__init__.py"),
        str(ROOT / "sandbox" / "__init__.py"),
        str(ROOT / "functions" / "__init__.py"),
    ]


def test_import_does_no_work() -> None:
    """Importing the package must not import docker, litellm or load data."""
    script = (
        "import sys, codearc_env; "
        "bad = [m for m in ('docker', 'litellm', 'hypothesis') if m in sys.modules]; "
        "print(bad)"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "[]"
