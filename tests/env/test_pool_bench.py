"""benchmarks/pool_bench.py runs for real with tiny counts; every flag reaches what it sets.

No test asserts a speed: the figures are only checked to be measurements.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.benchmark_scripts import run_benchmark


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return run_benchmark("pool_bench.py", *argv, timeout=600)


@pytest.mark.slow
def test_every_section_runs_with_the_given_counts(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("CODEARC_CACHE_DIR", str(tmp_path))
    done = _run("--episodes", "6", "--pool-size", "4", "--bursts", "3", "--run", "5",
                "--alone", "2", "--workers", "2", "--backend", "process", "--strength", "fast",
                "--gc", "freeze")
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    assert "backend: process; pool: 4 sandboxes; strength fast; garbage collector freeze" in out
    assert re.search(r"\[gc\] heap frozen after set-up: [0-9]+ objects", out)
    assert "[density] 6 live episodes, 4 sandboxes" in out
    assert re.search(r"burst: 3 x 6 queries at once; latency p50 [0-9]+ ms", out)
    each = out.split("each burst, wall and p99: ")[1].splitlines()[0]
    assert len(re.findall(r"[0-9]+ ms, p99 [0-9]+ ms", each)) == 3
    pss = re.search(r"PSS ([0-9]+) MB; ([0-9.]+) MB per live episode", out)
    assert pss is not None and float(pss.group(1)) > 0
    shared = re.search(r"shared another episode's sandbox request: ([0-9]+) of ([0-9]+)", out)
    assert shared is not None and int(shared.group(2)) == 3 * 6
    # one process per sandbox: the process backend (bwrap runs a launcher beside each worker)
    assert "[alone] 2 live episodes with their own sandboxes: 4 sandboxes, 4 processes" in out
    assert "[run] 5 scripted episodes on 2 threads: 5 finished, 0 lost, 0 misjudged" in out
    assert "processes left after closing the pool: 0" in out


def test_the_strength_reaches_the_environments() -> None:
    done = _run("--episodes", "1", "--bursts", "1", "--run", "0", "--alone", "0",
                "--backend", "process", "--strength", "nope")
    assert done.returncode != 0
    assert done.stderr.splitlines()[-1] == (
        "ValueError: unknown strength 'nope'; choose one of fast, default, strong")


def test_the_collector_is_left_alone_by_default() -> None:
    done = _run("--episodes", "2", "--bursts", "1", "--run", "0", "--alone", "0",
                "--backend", "process", "--strength", "fast")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "garbage collector as-is" in done.stdout and "[gc]" not in done.stdout
