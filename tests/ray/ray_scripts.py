"""Code for the Ray tests: what the cluster's nodes run (and the same without Ray), and the
calls the driver makes through a Ray pool.

The cluster's nodes import this module by name (the test cluster puts this folder on their
``PYTHONPATH``, as a user's own module has to be installed on every node), so a teacher named
``py:ray_scripts:copying_teacher`` on the command line is found there too.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
import warnings
import zlib
from collections.abc import Callable
from typing import Any

from codearc_env.sandbox.base import Invocation, Limits

WRONG = "def {name}(*args, **kwargs):\n    return 'codearc-ray-test: not it'\n"


def plain(value: Any) -> Any:
    """``value`` as plain Python data (vector observations hold numpy arrays)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return plain(value.tolist())
    return value


def astep_episodes(pool: Any, problems: list[int]) -> list[list[Any]]:
    """One environment per problem on ``pool``, stepped concurrently with ``await
    env.astep``: a query, a wrong submission (answered with a counterexample), the hidden
    function itself. What each step observed, as plain data."""
    from codearc_env.env import CodeARCEnv

    async def play(env: CodeARCEnv, problem: int) -> list[Any]:
        obs, _ = env.reset(seed=0, options={"problem": problem})
        seen: list[Any] = [plain(obs)]
        assert env.problem is not None
        for action in (
            {"kind": 0, "text": obs["calls"][0]},
            {"kind": 1, "text": WRONG.format(name=obs["function_name"])},
            {"kind": 1, "text": env.problem.code},
        ):
            obs, reward, terminated, truncated, info = await env.astep(action)
            seen.append([plain(obs), reward, terminated, truncated, info["outcome"]])
        return seen

    async def burst(envs: list[CodeARCEnv]) -> list[list[Any]]:
        return list(await asyncio.gather(*(play(e, p) for e, p in zip(envs, problems, strict=True))))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the process backend is no boundary: it says so
        envs = [CodeARCEnv(split="builtin", pool=pool, b_oracle=2) for _ in problems]
        try:
            return asyncio.run(burst(envs))
        finally:
            for env in envs:
                env.close()


def vector_episodes(pool: Any, num_envs: int = 2) -> list[Any]:
    """``gymnasium.make_vec`` with ``pool=``: a seeded reset, a query in every sub-env, a
    wrong submission in every sub-env. What each step observed, as plain data."""
    import gymnasium

    import codearc_env  # noqa: F401  (registers the ids)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the process backend is no boundary: it says so
        envs = gymnasium.make_vec("CodeARC-Builtin-v0", num_envs=num_envs, pool=pool, b_oracle=2)
        try:
            obs, _ = envs.reset(seed=0)
            seen: list[Any] = [plain(obs)]
            wrong = tuple(WRONG.format(name=n) for n in obs["function_name"])
            for action in (
                {"kind": [0] * num_envs, "text": tuple(calls[0] for calls in obs["calls"])},
                {"kind": [1] * num_envs, "text": wrong},
            ):
                obs, reward, terminated, truncated, info = envs.step(action)
                seen.append([plain(x) for x in (obs, reward, terminated, truncated)]
                            + [plain(info["outcome"])])
            return seen
        finally:
            envs.close()


# ---- a teacher for ``codearc collect --ray`` (``--teacher py:ray_scripts:copying_teacher``)
def fails_on_purpose(target: str) -> bool:
    """The problems the copying teacher gets wrong on purpose (so a run has both kinds)."""
    return zlib.crc32(target.encode("ascii")) % 2 == 1


def copying_teacher(**kwargs: Any) -> Any:
    """A scripted teacher: queries the first example call, then submits the hidden function
    copied from its privileged note, or a wrong program where :func:`fails_on_purpose`."""
    from codearc_env.agents.scripted import ScriptedModel, tool_reply

    def step(messages: list[dict[str, Any]], tools: Any) -> Any:
        note = str(messages[0].get("content") or "")
        code = re.search(r"```python\n(.*?)\n```", note, re.S)
        name = re.search(r"Submit\s+`(\w+)`", note)
        if code is None or name is None:
            raise AssertionError(f"no privileged note with the hidden function: {note[:200]!r}")
        if not any(m.get("role") == "tool" for m in messages):
            first = re.search(rf"^({name.group(1)}\(.*\)) -> ", _task_text(messages), re.M)
            call = first.group(1) if first else f"{name.group(1)}()"
            return tool_reply(("query", {"calls": call}))
        wrong = fails_on_purpose(name.group(1))
        program = WRONG.format(name=name.group(1)) if wrong else code.group(1)
        return tool_reply(("submit", {"code": program}))

    return ScriptedModel([step], repeat_last=True, name="scripted/copying-teacher")


def _task_text(messages: list[dict[str, Any]]) -> str:
    return "\n".join(str(m.get("content") or "") for m in messages[1:])


# ---- calls through a Ray pool, from the driver ----------------------------------------
def wait_until(condition: Callable[[], bool], what: str, limit_s: float = 120) -> None:
    deadline = time.monotonic() + limit_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting for {what} after {limit_s} s")
        time.sleep(0.05)


INCREMENT = "def f(x):\n    return x + 1\n"
SLEEPER = "import time\n\ndef f(x):\n    time.sleep(30)\n    return x\n"


def call_through(pool: Any, source: str = INCREMENT, arg: int = 1) -> str:
    """One candidate call ``f(arg)`` through ``pool``; what it returned, as text."""
    [result] = pool.run("candidate", source, "f", [Invocation(args=(arg,))],
                        Limits(timeout_s=120))
    assert result.ok, result
    return result.value_str


def call_in_flight(pool: Any, node_id: str) -> tuple[threading.Thread, list]:
    """A slow call through ``pool`` on a thread, started on ``node_id``'s host; the list gets
    what the call returned or raised."""
    before = pool.host_stats()[node_id].candidate_calls
    outcome: list = []

    def call() -> None:
        try:
            outcome.append(call_through(pool, SLEEPER))
        except BaseException as exc:  # the test looks at it
            outcome.append(exc)

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    wait_until(lambda: pool.host_stats()[node_id].candidate_calls > before, "the slow call")
    return thread, outcome


def lost_message(node_id: str, error: str) -> str:
    return (f"the sandbox pool host on Ray node {node_id} is lost ({error}); the next call "
            "starts a fresh one there if the node is alive")
