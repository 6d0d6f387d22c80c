"""benchmarks/check_cost.py, run for real with tiny counts as its command line: every figure is
printed, and every flag reaches what it configures. No test asserts a speed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from codearc_env.sandbox import unavailable_reason
from tests.benchmark_scripts import benchmark_output

NUMBER = r"([0-9]+\.[0-9]+)"


def _run(*argv: str) -> str:
    return benchmark_output("check_cost.py", *argv)


def _kind(out: str, kind: str, checks: int, verdict: str) -> tuple[float, ...]:
    line = re.search(
        rf"^{kind}: {checks} checks; per check: wall {NUMBER} ms, harness CPU {NUMBER} ms, "
        rf"sandbox CPU {NUMBER} ms, total CPU {NUMBER} ms; verdicts: {verdict} {checks}; "
        r"digest [0-9a-f]{16}$", out, re.MULTILINE)
    assert line is not None, out
    wall, harness, sandbox, total = map(float, line.groups())
    assert wall > 0 and harness > 0 and sandbox >= 0
    assert total == pytest.approx(harness + sandbox, abs=0.0101)  # each rounded to 0.01
    return wall, harness, sandbox, total


def _check_output(out: str, backend: str, problems: int, checks: int) -> None:
    assert f"package: {Path(__file__).resolve().parents[2] / 'codearc_env'}" in out
    header = re.search(rf"^{backend}: {problems} problems, {checks} checks of each kind; "
                       r"sandbox processes: (.+); load average", out, re.MULTILINE)
    assert header is not None, out
    names = header.group(1)
    assert ("bwrap" in names) is (backend == "bwrap"), names  # the backend asked for ran
    correct = _kind(out, "correct", checks, "pass")
    wrong = _kind(out, "wrong", checks, "fail")
    mix = re.search(rf"^50/50 mix: mean total CPU {NUMBER} ms per check, {NUMBER} checks/s per "
                    "core$", out, re.MULTILINE)
    assert mix is not None, out
    mean, rate = map(float, mix.groups())
    assert mean == pytest.approx((correct[3] + wrong[3]) / 2, abs=0.0101)
    assert rate == pytest.approx(1000 / mean, rel=0.01)
    assert re.search(r"^uptime: .*load average", out, re.MULTILINE)


def test_check_cost_on_the_process_backend_with_the_given_counts() -> None:
    _check_output(_run("--backend", "process", "--checks", "3", "--problems", "2"),
                  "process", 2, 3)


@pytest.mark.bwrap
def test_check_cost_on_bwrap_with_other_counts() -> None:
    reason = unavailable_reason("bwrap")
    if reason is not None:
        pytest.skip(f"bwrap unavailable: {reason}")
    _check_output(_run("--backend", "bwrap", "--checks", "2", "--problems", "1"), "bwrap", 1, 2)


def test_check_cost_takes_the_problems_in_turn() -> None:
    # two checks of one problem, or one of each of two: the digests cover the problems checked
    one = _run("--backend", "process", "--checks", "2", "--problems", "1")
    two = _run("--backend", "process", "--checks", "2", "--problems", "2")
    digest = r"^{}: .*digest ([0-9a-f]{{16}})$"
    for kind in ("correct", "wrong"):
        first = re.search(digest.format(kind), one, re.MULTILINE)
        second = re.search(digest.format(kind), two, re.MULTILINE)
        assert first is not None and second is not None
        assert first.group(1) != second.group(1)
