"""A sandbox can start in a process forked after another sandbox started (AsyncVectorEnv)."""

from __future__ import annotations

import multiprocessing

import pytest

from codearc_env.sandbox import available_backends, make_sandbox
from codearc_env.sandbox.base import Invocation


def _start_and_call(queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    with make_sandbox("process") as box:
        queue.put(box.run_one("def f(x):\n    return x + 1\n", "f", Invocation((1,))).value_str)


@pytest.mark.filterwarnings("ignore::codearc_env.sandbox.InsecureSandboxWarning")
def test_sandbox_starts_in_a_forked_child_after_the_parent_started_one() -> None:
    if "process" not in available_backends():
        pytest.skip("process backend unavailable")
    with make_sandbox("process") as box:  # the parent's launcher thread now exists
        assert box.run_one("def f():\n    return 1\n", "f", Invocation()).value_str == "1"
        ctx = multiprocessing.get_context("fork")
        queue = ctx.Queue()
        child = ctx.Process(target=_start_and_call, args=(queue,))
        child.start()
        child.join(timeout=60)
        alive = child.is_alive()
        if alive:
            child.kill()
        assert not alive, "the forked child hung starting its sandbox"
        assert queue.get(timeout=5) == "2"
