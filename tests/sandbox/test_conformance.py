"""The conformance suite, for real, against every backend available here (CI: all three)."""

from __future__ import annotations

import pytest

from codearc_env.sandbox.base import Sandbox
from codearc_env.sandbox.conformance import CHECKS, KNOWN_FAILURES, Check, run_check

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("check", CHECKS, ids=[c.name for c in CHECKS])
def test_check(box: Sandbox, check: Check) -> None:
    known = KNOWN_FAILURES.get(box.name, {})
    if check.name in known and check.touches_host_without_isolation:
        pytest.skip(f"known failure, unsafe to run on the host: {known[check.name]}")
    result = run_check(box, check, run_known_failures=True)
    if check.name in known:
        # Still failing as listed; if it starts passing, the list is stale.
        assert not result.passed, f"{check.name} passes on {box.name}: drop it from KNOWN_FAILURES"
    else:
        assert result.passed, result.detail


def test_known_failures_name_real_checks() -> None:
    names = {c.name for c in CHECKS}
    for backend, failures in KNOWN_FAILURES.items():
        assert set(failures) <= names, backend


def test_secure_backends_have_no_known_failures() -> None:
    assert set(KNOWN_FAILURES) == {"process"}
