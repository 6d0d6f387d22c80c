"""Fixtures for agent tests: toy environments that need no sandbox, oracle or data."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import toys  # noqa: E402


@pytest.fixture
def toy_env():
    env = toys.make_env()
    yield env
    env.close()
