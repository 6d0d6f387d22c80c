"""The in-process driver cannot be used to learn what the reference did, and what it cannot
settle (values not sent back, agreement only with the reference's in-driver result, errors its
own frames may cause) is decided by fresh runs."""

from __future__ import annotations

import pytest
from oracle_helpers import make_fn

from codearc_env.oracle import Oracle

READS_THE_DRIVER = """import sys
def f(n):
    fr = sys._getframe(1)
    while fr is not None:
        if fr.f_code.co_name == "guarded" and "keep" in fr.f_locals:
            if not fr.f_locals["keep"]:
                raise ValueError("bad")
            return None
        fr = fr.f_back
    return None
"""


@pytest.mark.parametrize(
    ("reference", "examples", "candidate", "passes"),
    [
        pytest.param(
            "def f(n: int) -> None:\n    if (n * n + 3 * n) % 7 < 3:\n        raise ValueError('bad')\n",
            ["f(1)", "f(2)", "f(5)", "f(3)"],
            READS_THE_DRIVER,
            False,
            id="candidate-reads-driver-frames",
        ),
        pytest.param(
            "def f(n: int) -> str:\n    return 'ab' * (n * 150000)\n",
            ["f(1)", "f(2)", "f(0)"],
            "def f(n):\n    return 'x' if n > 0 else ''\n",
            False,
            id="values-too-big-to-send-back",
        ),
        pytest.param(
            "def f(n: int) -> int:\n    return 0 if n <= 0 else n - 1 + f(n - 1)\n",
            ["f(991)", "f(3)", "f(988)"],
            "def f(n):\n    if n > 985:\n        raise RecursionError('deep')\n"
            "    return n * (n - 1) // 2 if n > 0 else 0\n",
            False,
            id="agrees-only-with-the-reference-in-driver-error",
        ),
        pytest.param(
            "def f(n: int) -> int:\n    if n > 991:\n        raise ValueError(n)\n    s = 0\n"
            "    for i in range(n):\n        s += i\n    return s\n",
            ["f(991)", "f(3)", "f(10)"],
            "def f(n):\n    if n > 991:\n        raise ValueError(n)\n"
            "    return 0 if n <= 0 else n - 1 + f(n - 1)\n",
            True,
            id="correct-recursive-candidate",
        ),
    ],
)
def test_driver_cannot_settle_what_fresh_runs_must(
    boxes, tmp_path, reference: str, examples: list[str], candidate: str, passes: bool
) -> None:
    verdict = Oracle(*boxes, cache_dir=tmp_path).check(make_fn(reference, "f", examples), candidate)
    assert verdict.passed is passes, verdict.reason
