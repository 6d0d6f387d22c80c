"""Quirk detection from module text and stored examples."""

from __future__ import annotations

import ast

import pytest

from codearc_env.functions.quirks import (
    LARGE_OUTPUT_CHARS,
    CallScan,
    detect_quirks,
    scan_calls,
    uses_nondeterminism,
)
from codearc_env.functions.spec import TIMEOUT_OUTPUT


def test_scan_calls_names_validity_and_wrapped_targets() -> None:
    texts = [
        "print('Result 1: ' + str(f(1)))",
        "print('Result 2: ' + str(list(f(2))))",
        "print('Result 3: ' + str(f()['a'](3)))",
        "print('Result 4: ' + str(g(4)))",
        "print('Result 5: ' + str(f(5))",  # never closed
    ]
    scans = scan_calls(texts)
    assert [s.valid for s in scans] == [True, True, True, True, False]
    assert [s.name for s in scans] == ["f", "list", None, "g", None]
    assert [s.calls("f") for s in scans] == [True, True, True, False, False]
    # with the target given, results are the same as far as calls(target) goes
    assert [s.calls("f") for s in scan_calls(texts, "f")] == [True, True, True, False, False]


def test_scan_calls_falls_back_to_one_by_one_for_multi_statement_texts() -> None:
    scans = scan_calls(["f(1); f(2)", "f(3)"])
    assert scans[0] == CallScan(True, None)
    assert scans[1].name == "f"


NONDETERMINISTIC = [
    "import random\ndef f():\n    return random.random()\n",
    "def f():\n    from random import randint\n    return randint(1, 6)\n",
    "import secrets\ndef f():\n    return secrets.token_hex()\n",
    "import uuid\ndef f():\n    return uuid.uuid4()\n",
    "import time\ndef f():\n    return time.time()\n",
    "from time import perf_counter\ndef f():\n    return 1\n",
    "import datetime\ndef f():\n    return datetime.datetime.now()\n",
    "from datetime import date\ndef f():\n    return date.today()\n",
    "import os\ndef f():\n    return os.urandom(4)\n",
    "def f(x):\n    return id(x)\n",
    "def f(s):\n    return hash(s)\n",
]
DETERMINISTIC = [
    "def f(x):\n    return x + 1\n",
    "import math\ndef f(x):\n    return math.sqrt(x)\n",
    "from os.path import commonprefix\ndef f(a):\n    return commonprefix(a)\n",
    "def f(x):\n    '''uses random numbers? no: only the word'''\n    return x\n",
    "def f(timestamp):\n    return timestamp * 2\n",
]


@pytest.mark.parametrize("code", NONDETERMINISTIC)
def test_nondeterminism_sources_are_flagged(code: str) -> None:
    assert uses_nondeterminism(code, ast.parse(code))


@pytest.mark.parametrize("code", DETERMINISTIC)
def test_deterministic_modules_are_not_flagged(code: str) -> None:
    assert not uses_nondeterminism(code, ast.parse(code))


def test_detect_quirks_counts_each_kind() -> None:
    code = "def f(x):\n    return x\n"
    texts = ["f(1)", "g(2)", "f(", "f(4)", "f(5)"]
    outputs = ["1", "2", "'(' was never closed", TIMEOUT_OUTPUT, "x" * (LARGE_OUTPUT_CHARS + 1)]
    errored = [False, False, True, True, False]
    q = detect_quirks(
        target="f",
        code=code,
        tree=ast.parse(code),
        scans=scan_calls(texts, "f"),
        outputs=outputs,
        errored=errored,
    )
    assert q.ill_posed and q.large_output and not q.nondeterministic
    assert (q.invalid_calls, q.errored_examples, q.timed_out_examples) == (1, 2, 1)
    assert q.flags() == (
        "ill_posed",
        "invalid_calls",
        "large_output",
        "errored_examples",
        "timed_out_examples",
    )


def test_output_exactly_at_the_limit_is_not_large() -> None:
    code = "def f():\n    pass\n"
    q = detect_quirks(
        target="f",
        code=code,
        tree=ast.parse(code),
        scans=scan_calls(["f()"]),
        outputs=["x" * LARGE_OUTPUT_CHARS],
        errored=[False],
    )
    assert q.flags() == ()
