"""A candidate that attacks its own grading is graded as a failure by the env, on real
sandboxes: it cannot turn a wrong program into an infrastructure error."""

from __future__ import annotations

import warnings

import pytest

from codearc_env.env import CodeARCEnv
from tests.sandbox.conftest import BACKEND_PARAMS, require_backend

PROBLEM = "builtin/annotated/clamp_int"
# A lookup table that gives up outside its table: it attacks its sandbox, then answers wrong.
ATTACKS = {
    "SIGKILL of the worker": "os.kill(os.getppid(), signal.SIGKILL)",
    "SIGINT of the worker": "os.kill(os.getppid(), signal.SIGINT)",
    "SIGSTOP of the worker": "os.kill(os.getppid(), signal.SIGSTOP)",
    "kill(-1)": "os.kill(-1, signal.SIGKILL)",
}
UNSAFE_ON_PROCESS = {"SIGSTOP of the worker", "kill(-1)"}  # slow there / reaches the host


def candidate(attack: str) -> str:
    return (
        "import os, signal\n"
        "def clamp_int(value, low, high):\n"
        "    if value > 5:\n"
        f"        {ATTACKS[attack]}\n"
        "        return None\n"
        "    return max(low, min(high, value))\n"
    )


@pytest.fixture(scope="module", params=BACKEND_PARAMS)
def env(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    require_backend(request.param)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the process backend's warning
        made = CodeARCEnv(split="builtin", backend=request.param, problem=PROBLEM, b_oracle=9)
        yield made
    made.close()


@pytest.mark.slow
@pytest.mark.parametrize("attack", list(ATTACKS))
def test_a_candidate_that_attacks_its_sandbox_fails(env: CodeARCEnv, attack: str) -> None:
    if env._candidate.name == "process" and attack in UNSAFE_ON_PROCESS:
        pytest.skip("the process backend has no pid namespace")
    env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step({"kind": 1, "text": candidate(attack)})
    assert (reward, terminated, truncated, info["outcome"]) == (0.0, False, False, "running")
    assert info["verdict"] == "fail" and info["infra_error"] is None
    assert obs["feedback"].startswith("Incorrect: your program differs from the hidden function.")
    if env._candidate.name == "process" and attack == "SIGKILL of the worker":
        # No pid namespace: the worker dies, twice, and the call is graded for it.
        assert (
            "Your output: SandboxKilled: the call killed its sandbox, and killed a "
            in (obs["feedback"])
        )
    # The sandbox is still usable: the right program passes.
    right = (
        "def clamp_int(value, low, high):\n"
        "    if low > high:\n"
        "        raise ValueError('low must not exceed high')\n"
        "    return max(low, min(high, value))\n"
    )
    _, reward, terminated, _, _ = env.step({"kind": 1, "text": right})
    assert (reward, terminated) == (1.0, True)


@pytest.mark.slow
def test_a_query_nested_past_the_codec_limit_is_an_invalid_action(env: CodeARCEnv) -> None:
    env.reset(seed=0)
    deep = "[" * 150 + "1" + "]" * 150
    obs, reward, terminated, truncated, info = env.step(
        {"kind": 0, "text": f"clamp_int({deep}, 0, 1)"}
    )
    assert obs["feedback"] == (
        "Invalid action: invalid query: statement 1: arguments are nested more than 100 "
        "levels deep\nThis action cost a turn and nothing else."
    )
    assert (reward, terminated, truncated, info["invalid_actions"]) == (0.0, False, False, 1)
