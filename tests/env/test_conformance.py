"""Gymnasium conformance on the toy problems: check_env, vector envs, spawned processes.

The same checks run against every registered id with real sandboxes in test_registered.py.
"""

from __future__ import annotations

import multiprocessing
import warnings
from typing import Any

import gymnasium
import numpy as np
import pytest
from gymnasium.error import CustomSpaceError
from gymnasium.utils.env_checker import check_env
from gymnasium.vector import AsyncVectorEnv, SyncVectorEnv

from codearc_env.testing import TOY_SOLUTIONS, make_toy_env, play_episode

TOY_ID = "CodeARCTest/Toy-v0"  # registered by conftest.py
ADD = "builtin/annotated/add"


def test_check_env_passes_without_warnings() -> None:
    env = gymnasium.make(TOY_ID, render_mode="ansi")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env.unwrapped)
    env.close()
    assert [str(w.message) for w in caught] == []


def _batch(kinds: list[int], texts: list[str]) -> dict[str, object]:
    return {"kind": np.array(kinds), "text": tuple(texts)}


def _play_vector(envs: gymnasium.vector.VectorEnv) -> None:
    obs, infos = envs.reset(seed=[1, 2], options={"problem": ADD})
    assert obs["function_name"] == ("add", "add")
    assert obs["io_left"].tolist() == [20, 20]
    obs, rewards, terms, truncs, infos = envs.step(
        _batch([0, 1], ["add(2, 2)", TOY_SOLUTIONS[ADD]])
    )
    assert rewards.tolist() == [0.0, 1.0] and terms.tolist() == [False, True]
    assert obs["calls"][0][-1] == "add(2, 2)" and obs["outputs"][0][-1] == "4"
    assert infos["outcome"].tolist() == ["running", "solved"]
    # next step: env 1 autoresets (next-step mode), env 0 goes on
    obs, rewards, terms, truncs, infos = envs.step(_batch([0, 0], ["add(", "add(1, 1)"]))
    assert obs["feedback"][0].startswith("Invalid action")
    assert obs["io_left"].tolist() == [19, 20]


def _mixed_infos(envs: gymnasium.vector.VectorEnv) -> None:
    """Infos whose values differ in kind between sub-envs (None vs a counterexample) batch."""
    envs.reset(seed=0, options={"problem": ADD})
    wrong = "def add(a, b):\n    return 0"
    _, _, _, _, infos = envs.step(_batch([0, 1], ["add(1, 1)", wrong]))
    assert infos["counterexample"][0] is None
    assert infos["counterexample"][1].call_text == "add(0, -3)"
    _, _, _, _, infos = envs.step(_batch([1, 0], [wrong, "add(1, 1)"]))
    assert infos["counterexample"][1] is None and infos["oracle_inputs"].tolist() == [10, 0]


@pytest.mark.parametrize(
    "make_vector",
    [
        lambda fns: SyncVectorEnv(fns),
        lambda fns: AsyncVectorEnv(fns, shared_memory=False),  # needs shared memory off
    ],
    ids=["sync", "async"],
)
def test_vector_envs(make_vector: Any) -> None:
    envs = make_vector([make_toy_env, make_toy_env])
    try:
        _play_vector(envs)
        _mixed_infos(envs)
    finally:
        envs.close()


def test_async_vector_env_with_shared_memory_fails_clearly() -> None:
    with pytest.raises((CustomSpaceError, TypeError), match="shared_memory"):
        AsyncVectorEnv([make_toy_env, make_toy_env], shared_memory=True)


def test_make_vec_async_with_spawn_context() -> None:
    envs = gymnasium.make_vec(
        TOY_ID, num_envs=2, vectorization_mode="async",
        vector_kwargs={"shared_memory": False, "context": "spawn"},
    )
    try:
        obs, _ = envs.reset(seed=0)
        assert len(obs["text"]) == 2 and all(t.startswith("Hidden function:") for t in obs["text"])
    finally:
        envs.close()


def test_env_is_creatable_in_a_spawned_process() -> None:
    ctx = multiprocessing.get_context("spawn")
    actions = [{"kind": 0, "text": "add(3, 4)"}, {"kind": 1, "text": TOY_SOLUTIONS[ADD]}]
    with ctx.Pool(1) as pool:
        steps = pool.apply(play_episode, (None, actions), {"options": {"problem": ADD}})
    assert steps == [
        (0.0, False, False, "add(3, 4) -> 7\nQueries left: 19."),
        (1.0, True, False,
         "Correct: your program matches the hidden function. The episode is over."),
    ]
