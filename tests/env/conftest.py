"""Fixtures for the environment tests: toy problems played with test doubles, no sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gymnasium
import pytest

from codearc_env.env import CodeARCEnv
from codearc_env.testing import make_toy_env

TOY_ID = "CodeARCTest/Toy-v0"

if TOY_ID not in gymnasium.registry:
    gymnasium.register(TOY_ID, entry_point="codearc_env.testing:make_toy_env")


@pytest.fixture
def toy_env() -> Iterator[CodeARCEnv]:
    env = make_toy_env(render_mode="ansi")
    yield env
    env.close()


@pytest.fixture
def make_env() -> Iterator[Any]:
    made: list[CodeARCEnv] = []

    def factory(**kwargs: Any) -> CodeARCEnv:
        env = make_toy_env(**kwargs)
        made.append(env)
        return env

    yield factory
    for env in made:
        env.close()
