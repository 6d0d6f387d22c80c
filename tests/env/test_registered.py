"""Every registered id with real components: check_env, real episodes, vector envs, no leaks.

Sandboxed tests run on each backend that this machine has (bwrap, docker); CI has both.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import codearc_env  # noqa: F401  (registers the ids)
from codearc_env.functions import builtin_suite
from codearc_env.registration import ENV_IDS
from codearc_env.testing import live_descendants

BACKENDS = [pytest.param("bwrap", marks=pytest.mark.bwrap),
            pytest.param("docker", marks=pytest.mark.docker)]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    from codearc_env.sandbox import available_backends

    name = request.param
    if name not in available_backends():
        pytest.skip(f"sandbox backend {name!r} is not available here")
    return name


def _check(env_id: str, **kwargs: Any) -> None:
    env = gymnasium.make(env_id, render_mode="ansi", **kwargs)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            check_env(env.unwrapped)
        assert [str(w.message) for w in caught] == []
    finally:
        env.close()


@pytest.mark.parametrize("env_id", [r.id for r in ENV_IDS if not r.needs_data])
def test_check_env_offline_ids(env_id: str, backend: str) -> None:
    _check(env_id, backend=backend)


@pytest.mark.realdata
@pytest.mark.parametrize("env_id", [r.id for r in ENV_IDS if r.needs_data])
def test_check_env_data_ids(env_id: str, backend: str, data_dir: Path) -> None:
    _check(env_id, backend=backend, data_dir=data_dir)


@pytest.mark.slow
def test_ground_truth_solves_and_wrong_program_gets_counterexample(backend: str) -> None:
    env = gymnasium.make("CodeARC-Builtin-v0", backend=backend, oracle_strength="fast")
    try:
        obs, info = env.reset(seed=0, options={"problem": "builtin/annotated/reverse_words"})
        obs, *_ = env.step({"kind": 0, "text": "reverse_words('a  b')\nreverse_words(3)"})
        assert obs["feedback"] == (
            "reverse_words('a  b') -> b a\n"
            "reverse_words(3) -> error: AttributeError: 'int' object has no attribute 'split'\n"
            "Queries left: 18."
        )
        wrong = "def reverse_words(s):\n    return s[::-1]\n"
        obs, reward, terminated, _, info = env.step({"kind": 1, "text": wrong})
        assert (reward, terminated, info["verdict"]) == (0.0, False, "fail")
        assert info["counterexample"] is not None and "Incorrect" in obs["feedback"]
        code = env.unwrapped.problem.code
        obs, reward, terminated, _, info = env.step({"kind": 1, "text": code})
        assert (reward, terminated, info["outcome"]) == (1.0, True, "solved")
        assert (info["paper_io"], info["paper_oracle"]) == (2, 2)
    finally:
        env.close()


def test_hidden_source_never_leaks_through_queries(backend: str) -> None:
    env = gymnasium.make("CodeARC-Builtin-v0", backend=backend)
    try:
        env.reset(seed=0, options={"problem": "builtin/annotated/reverse_words"})
        obs, *_, info = env.step(
            {"kind": 0, "text": "reverse_words(__import__('inspect'))"}
        )
        assert info["invalid_actions"] == 1
        obs, *_ = env.step({"kind": 0, "text": "reverse_words(None)"})
        assert "Traceback" not in obs["feedback"] and "sentence.split" not in obs["feedback"]
        assert "AttributeError: 'NoneType' object has no attribute 'split'" in obs["feedback"]
    finally:
        env.close()


def _children() -> set[int]:
    """Pids of this process's live descendants (zombies excluded)."""
    return live_descendants()


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["sync", "async", None])  # None: the pooled default
def test_vector_env_runs_and_close_leaves_no_process(backend: str, mode: str | None) -> None:
    before = _children()
    code = {f.target: f.code for f in builtin_suite("annotated")}
    envs = gymnasium.make_vec(
        "CodeARC-Builtin-v0", num_envs=2, vectorization_mode=mode,
        vector_kwargs={"shared_memory": False} if mode == "async" else {},
        backend=backend, oracle_strength="fast",
    )
    obs, _ = envs.reset(seed=1)
    texts = tuple(code[name] for name in obs["function_name"])
    obs, rewards, terms, _, _ = envs.step({"kind": np.array([1, 1]), "text": texts})
    assert rewards.tolist() == [1.0, 1.0] and terms.all()
    envs.close()
    assert _children() - before == set()


def test_close_is_idempotent_and_stops_sandboxes(backend: str) -> None:
    before = _children()
    env = gymnasium.make("CodeARC-Builtin-v0", backend=backend)
    env.reset(seed=0)
    env.step({"kind": 0, "text": env.unwrapped.problem.examples[0].expression})
    if backend == "bwrap":  # a local worker process (docker's runs in the container)
        assert _children() - before
    env.close()
    env.close()
    assert _children() - before == set()


def test_registered_env_in_a_spawned_process(backend: str) -> None:
    import multiprocessing

    from codearc_env.testing import play_episode

    actions = [{"kind": 0, "text": "reverse_words('b a')"}]
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        steps = pool.apply(
            play_episode, ("CodeARC-Builtin-v0", actions),
            {"options": {"problem": "builtin/annotated/reverse_words"}, "backend": backend},
        )
    assert steps == [(0.0, False, False, "reverse_words('b a') -> a b\nQueries left: 19.")]


@pytest.mark.realdata
@pytest.mark.slow
@pytest.mark.parametrize("env_id", ["CodeARC-Annotated-v0", "CodeARC-Anonymized-v0"])
def test_real_problem_end_to_end(env_id: str, backend: str, data_dir: Path) -> None:
    env = gymnasium.make(env_id, backend=backend, data_dir=data_dir, oracle_strength="fast")
    try:
        obs, info = env.reset(options={"problem": 300})
        name = obs["function_name"]
        stub = f"def {name}(*args, **kwargs):\n    return None\n"
        obs, reward, terminated, _, info = env.step({"kind": 1, "text": stub})
        assert (reward, terminated, info["verdict"]) == (0.0, False, "fail")
        assert obs["feedback"].startswith("Incorrect") and "Input: " in obs["feedback"]
        obs, reward, terminated, _, info = env.step(
            {"kind": 1, "text": env.unwrapped.problem.code}
        )
        assert (reward, terminated, info["outcome"]) == (1.0, True, "solved")
    finally:
        env.close()
