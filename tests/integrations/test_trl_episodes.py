"""Episodes through the adapter: rewards, reuse across resets, release without close, and
infrastructure failures that are counted and never graded."""

from __future__ import annotations

import gc
import logging
import time
from typing import Any

import pytest

from codearc_env.integrations import codearc_trl_env, problem_rows, run_stats
from codearc_env.integrations.trl import HARNESS_FAILED, EpisodeOverError
from codearc_env.testing import TOY_SOLUTIONS, live_descendants, toy_problems

from .conftest import TOY_ID

ROWS = problem_rows(problems=toy_problems())
ADD, SHOUT = ROWS[0], ROWS[1]


def _env(adapter: Any) -> Any:
    return adapter._env.unwrapped  # the test looks inside; TRL never does


def test_rewards_come_from_the_oracle_verdict() -> None:
    adapter = codearc_trl_env(TOY_ID)()
    before = run_stats()
    adapter.reset(**ADD)
    assert adapter.get_reward() == 0.0  # nothing submitted yet
    adapter.query(calls="add(1, 2)")
    assert "add(1, 2) -> 3" in adapter.query(calls="add(1, 2)")
    adapter.submit(code="def add(a, b):\n    return a - b")
    assert adapter.get_reward() == 0.0
    adapter.submit(code=TOY_SOLUTIONS["builtin/annotated/add"])
    assert adapter.get_reward() == 1.0
    adapter.reset(**SHOUT)
    assert adapter.get_reward() == 0.0
    for _ in range(2):
        adapter.submit(code="def shout(s):\n    return s")
    assert adapter.get_reward() == 0.0
    with pytest.raises(EpisodeOverError):
        adapter.submit(code=TOY_SOLUTIONS["builtin/annotated/shout"])
    after = run_stats()
    assert (after.episodes - before.episodes, after.solved - before.solved) == (2, 1)
    assert after.infra_errors == before.infra_errors


def test_an_unusable_tool_argument_is_answered_without_a_step() -> None:
    adapter = codearc_trl_env(TOY_ID)()
    adapter.reset(**ADD)
    assert adapter.query(calls="  ") == (
        "Error: the query tool needs 'calls': a string with one call per line."
    )
    assert _env(adapter).state.turns == 0


def test_one_environment_serves_every_reset_and_is_closed_by_a_finalizer() -> None:
    adapter = codearc_trl_env(TOY_ID)()
    adapter.reset(**ADD)
    env = _env(adapter)
    adapter.query(calls="add(1, 2)")
    for row in ROWS * 2:
        adapter.reset(**row)
        assert _env(adapter) is env
    reference = env._reference
    assert reference.started == 1 and reference.closed == 0
    del adapter
    gc.collect()
    assert env._closed
    # The toy's sandboxes are injected, so the env leaves them open: the real ones it owns
    # are closed by env.close() (covered by the env's own tests and the bwrap test below).


@pytest.mark.parametrize("infra_error_reward", [0.0, None])
def test_an_infrastructure_failure_is_counted_logged_and_not_graded(
    infra_error_reward: float | None, caplog: pytest.LogCaptureFixture
) -> None:
    adapter = codearc_trl_env(TOY_ID, infra_error_reward=infra_error_reward)()
    adapter.reset(**ADD)
    _env(adapter)._reference.fail_with = "worker died"  # the harness fails, not the policy
    before = run_stats().infra_errors
    with caplog.at_level(logging.WARNING, logger="codearc_env.integrations"):
        answer = adapter.query(calls="add(1, 2)")
    assert answer.startswith(HARNESS_FAILED)
    message = "the sandbox failed while running a query: worker died"
    assert adapter.last_infra_error == message
    assert adapter.get_reward() == infra_error_reward
    assert run_stats().infra_errors == before + 1
    assert caplog.messages == [
        f"infrastructure failure in the episode of builtin/annotated/add ({before + 1} in this "
        f"run so far): {message}"
    ]
    with pytest.raises(EpisodeOverError):
        adapter.submit(code=TOY_SOLUTIONS["builtin/annotated/add"])
    adapter.reset(**ADD)
    assert adapter.last_infra_error is None


def test_a_failing_oracle_is_an_infrastructure_failure_too() -> None:
    adapter = codearc_trl_env(TOY_ID)()
    adapter.reset(**ADD)

    class BrokenOracle:
        def check(self, *args: Any, **kwargs: Any) -> Any:
            raise OSError("disk full")

    _env(adapter)._oracle = BrokenOracle()
    assert adapter.submit(code=TOY_SOLUTIONS["builtin/annotated/add"]) == HARNESS_FAILED
    assert adapter.last_infra_error == "OSError: disk full"
    assert adapter.get_reward() == 0.0


@pytest.mark.bwrap
def test_real_sandboxes_start_once_and_are_released_without_close() -> None:
    rows = problem_rows("annotated", "builtin")[:3]
    already_running = live_descendants()
    # pool_size=None: this env owns its two sandboxes (the pooled path: test_trl_pool.py)
    adapter = codearc_trl_env("CodeARC-Builtin-v0", backend="bwrap", pool_size=None)()
    for row in rows:
        adapter.reset(**row)
        target = row["problem_id"].rsplit("/", 1)[1]
        assert f"{target}(" in adapter.query(calls=f"{target}()")
    env = _env(adapter)
    assert len(env._owned) == 2 and len(env._started) == 1  # queries use the reference only
    sandbox_processes = live_descendants() - already_running
    assert sandbox_processes  # bwrap and the worker it runs
    del adapter
    gc.collect()
    assert env._closed and env._owned == []
    deadline = time.monotonic() + 10
    while live_descendants() & sandbox_processes and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not live_descendants() & sandbox_processes
