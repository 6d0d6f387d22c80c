"""benchmarks/child_cost.py, run for real with tiny counts as its command line: every line is
printed with measured figures, and every flag reaches what it configures. No test asserts a
speed."""

from __future__ import annotations

import re

import pytest

from tests.benchmark_scripts import benchmark_output, run_benchmark
from tests.sandbox.conftest import require_backend

NUMBER = r"([0-9]+(?:\.[0-9]+)?)"


@pytest.mark.parametrize("backend", [pytest.param("bwrap", marks=pytest.mark.bwrap), "process"])
def test_every_mode_is_measured_on_the_backend_asked_for(backend: str) -> None:
    require_backend(backend)
    out = benchmark_output("child_cost.py", "--backend", backend, "--calls", "5")
    assert re.search(rf"^{backend}: 5 calls per line, [0-9]+ sandbox processes$", out,
                     re.MULTILINE), out
    faults = {}
    for isolation, n in (("call", 1), ("batch", 1), ("batch", 4), ("batch", 64), ("resident", 1)):
        line = re.search(
            rf"^{isolation} +x{n} +per call: wall {NUMBER} ms, harness CPU {NUMBER} ms, sandbox "
            rf"CPU {NUMBER} ms \(user {NUMBER}, system {NUMBER}\); page faults: the sandbox's "
            rf"live processes {NUMBER}, the children they reaped {NUMBER}$",
            out, re.MULTILINE)
        assert line is not None, out
        wall, harness, sandbox, user, system, _live, reaped = map(float, line.groups())
        assert wall > 0 and harness > 0
        assert sandbox == pytest.approx(user + system, abs=0.0101)
        faults[isolation, n] = reaped
    # A forked child faults on pages it writes; a resident call forks nothing.
    assert faults["call", 1] > 0 and faults["batch", 1] > 0
    assert faults["resident", 1] == 0
    assert re.search(r"^uptime: .*load average", out, re.MULTILINE)


def test_calls_must_be_a_number() -> None:
    done = run_benchmark("child_cost.py", "--calls", "many", timeout=60)
    assert done.returncode == 2 and "--calls" in done.stderr
