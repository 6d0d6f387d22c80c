"""Fixtures for agent tests: toy environments that need no sandbox, oracle or data."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import toys  # noqa: E402

from codearc_env.agents import evaluate as ev  # noqa: E402
from codearc_env.problems import ProblemSet  # noqa: E402


@pytest.fixture
def toy_env():
    env = toys.make_env()
    yield env
    env.close()


@pytest.fixture
def toy_cli(monkeypatch):
    """Toy problems in place of a split, toy environments built from the run's settings."""
    state = {"n": 6}

    def load(variant, split, data_dir=None):
        problems, _, _ = toys.toy_suite(state["n"])
        return ProblemSet.of(problems, "the toy problems")

    monkeypatch.setattr("codearc_env.problems.load_problems", load)
    monkeypatch.setattr(
        ev,
        "default_env_factory",
        lambda config, pool=None: (
            lambda variant: toys.make_env(state["n"], config=config.env_config)
        ),
    )
    monkeypatch.setattr(ev, "make_pool", lambda config: None)  # toy envs bring their doubles
    monkeypatch.setenv("OPENAI_API_KEY", "sk-bad")
    return state


@pytest.fixture
def completion_calls(monkeypatch):
    """The keyword arguments of every ``litellm.completion`` call (each call still runs)."""
    litellm = pytest.importorskip("litellm")
    calls: list[dict] = []
    real = litellm.completion

    def completion(**kwargs):
        calls.append(dict(kwargs))
        return real(**kwargs)

    monkeypatch.setattr(litellm, "completion", completion)
    return calls
