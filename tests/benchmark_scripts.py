"""Run a script of ``benchmarks/`` as its command line, for the tests of its output and flags."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def run_benchmark(
    script: str, *argv: str, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """``python benchmarks/<script> argv...`` in a fresh process, its output captured."""
    return subprocess.run([sys.executable, str(BENCHMARKS / script), *argv],
                          capture_output=True, text=True, timeout=timeout)


def benchmark_output(script: str, *argv: str, timeout: float = 300) -> str:
    """Its standard output, once it exited 0 (else the test fails with its standard error)."""
    done = run_benchmark(script, *argv, timeout=timeout)
    assert done.returncode == 0, done.stderr
    return done.stdout
