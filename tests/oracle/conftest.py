"""Oracle fixtures: a pair of process sandboxes (tests run only our own toy functions and
hand-written candidates) and a tiny strength preset. Helpers live in oracle_helpers.py."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from codearc_env.oracle import inputs
from codearc_env.sandbox.base import Sandbox
from tests.sandbox.conftest import started

sys.path.insert(0, str(Path(__file__).parent))

TINY = 30


@pytest.fixture(scope="module")
def boxes() -> Iterator[tuple[Sandbox, Sandbox]]:
    """(reference sandbox, candidate sandbox), both started, process backend."""
    ref, cand = started("process"), started("process")
    yield ref, cand
    ref.close()
    cand.close()


@pytest.fixture(autouse=True)
def tiny_strength(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 30-input preset keeps sandboxed tests fast; the real presets are tested by name."""
    monkeypatch.setitem(inputs.STRENGTHS, "tiny", TINY)
