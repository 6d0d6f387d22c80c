"""``codearc oracle check`` on a candidate that kills its own sandbox: exit 1 (FAIL), never
2 (a harness failure), on every backend available."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.sandbox.conftest import BACKEND_PARAMS, require_backend

KILLER = (
    "import os, signal\n"
    "def clamp_int(value, low, high):\n"
    "    if value > 5:\n"
    "        os.kill(os.getppid(), signal.SIGKILL)\n"
    "        os.kill(os.getppid(), signal.SIGINT)\n"
    "        return None\n"
    "    return max(low, min(high, value))\n"
)
LOAD_KILLER = (
    "import os, signal\n"
    "os.kill(os.getppid(), signal.SIGKILL)\n"
    "os.kill(os.getppid(), signal.SIGINT)\n"
    "def clamp_int(value, low, high):\n"
    "    return None\n"
)


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKEND_PARAMS)
@pytest.mark.parametrize("source", [KILLER, LOAD_KILLER], ids=["on some inputs", "at load"])
def test_oracle_check_fails_a_candidate_that_kills_its_sandbox(
    tmp_path: Path, backend: str, source: str
) -> None:
    require_backend(backend)
    path = tmp_path / "candidate.py"
    path.write_text(source)
    argv = [sys.executable, "-m", "codearc_env.cli", "oracle", "check"]
    argv += ["--problem", "builtin/annotated/clamp_int", "--backend", backend]
    argv += ["--cache-dir", str(tmp_path / "cache"), str(path)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    assert done.returncode == 1, done.stderr[-2000:]
    assert done.stdout.startswith("FAIL builtin/annotated/clamp_int (clamp_int): "), done.stdout
    if backend == "process":
        assert "SandboxKilled" in done.stdout
