"""Static candidate rules: what is rejected before anything runs, with exact reasons."""

from __future__ import annotations

import pytest

from codearc_env.oracle.candidate import MAX_CANDIDATE_CHARS, check_candidate

REJECTED = [
    ("", "candidate is empty"),
    ("   \n\t\n", "candidate is empty"),
    (b"\xff\xfe\x00binary", "candidate is binary data, not UTF-8 Python source"),
    ("def f(x):\n    return x\x00\n", "candidate is binary data (it contains NUL bytes)"),
    (None, "candidate must be Python source text, not NoneType"),
    ("def f(x) return x", "candidate does not parse: expected ':' (line 1)"),
    ("def g(x):\n    return x\n", "candidate does not define 'f' at top level"),
    ("print(f(3))\n", "candidate does not define 'f' at top level"),
    (
        "class C:\n    def f(self):\n        return 1\n",
        "candidate does not define 'f' at top level",
    ),
    ("def g():\n    def f(x):\n        return x\n", "candidate does not define 'f' at top level"),
    ("f: int\n", "candidate does not define 'f' at top level"),
]


@pytest.mark.parametrize(("source", "reason"), REJECTED)
def test_rejected_with_reason(source: object, reason: str) -> None:
    assert check_candidate(source, "f") == reason


def test_megabytes_long_is_rejected() -> None:
    source = "def f(x):\n    return x\n" + "# pad\n" * 400_000
    assert check_candidate(source, "f") == (
        f"candidate is {len(source)} characters long; the limit is {MAX_CANDIDATE_CHARS}"
    )


ACCEPTED = [
    "def f(x):\n    return x\n",
    "async def f(x):\n    return x\n",
    "def helper(x):\n    return x\n\ndef f(x):\n    return helper(x)\n",  # helper first
    "f = lambda x: x\n",
    "f: object = abs\n",
    "g, f = abs, abs\n",
    "from math import floor as f\n",
    "class f:\n    pass\n",
    "try:\n    import numpy\nexcept ImportError:\n    pass\nif True:\n    def f(x):\n        return x\n",
    "def f(x):\n    return 1\n\ndef f(x):\n    return 2\n",  # defined twice: the last wins at run time
    b"def f(x):\n    return x\n",
]


@pytest.mark.parametrize("source", ACCEPTED)
def test_accepted(source: object) -> None:
    assert check_candidate(source, "f") is None


def test_deeply_nested_source_does_not_crash() -> None:
    source = "def f(x):\n    return " + "(" * 100_000 + "x" + ")" * 100_000 + "\n"
    assert check_candidate(source, "f").startswith("candidate ")  # type: ignore[union-attr]
