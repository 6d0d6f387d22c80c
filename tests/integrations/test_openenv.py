"""The OpenEnv server: its contract checked by openenv-core's own validator, and a client
round trip over the WebSocket session that OpenEnv clients use."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("openenv", reason="the OpenEnv server needs the extra 'openenv'")

from openenv.cli._validation import validate_running_environment  # noqa: E402
from openenv.core.generic_client import GenericEnvClient  # noqa: E402

from codearc_env.agents.vocabulary import TOOLS  # noqa: E402
from codearc_env.integrations import codearc_trl_env, problem_rows  # noqa: E402
from codearc_env.integrations.openenv_server import (  # noqa: E402
    CodeARCAction,
    CodeARCOpenEnv,
    app_from_args,
    parse_args,
)
from codearc_env.testing import TOY_SOLUTIONS, toy_problems  # noqa: E402

from .conftest import TOY_ID  # noqa: E402

PROBLEM = "builtin/annotated/clamp_int"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    port = _free_port()
    args = ["--host", "127.0.0.1", "--port", str(port), "--env-id", "CodeARC-Builtin-v0",
            "--backend", "bwrap", "--max-sessions", "2"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "codearc_env.integrations.openenv_server", *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300  # imports are slow on a loaded machine
        while not _listening(port):
            if proc.poll() is not None:
                pytest.fail(f"the server exited: {proc.stdout.read() if proc.stdout else ''}")
            if time.monotonic() > deadline:
                pytest.fail("the server did not listen within 300 s")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.bwrap
def test_openenv_core_validates_the_running_server(server: str) -> None:
    report = validate_running_environment(server)
    failed = [c for c in report["criteria"] if not c["passed"]]
    assert failed == [], failed
    assert report["mode"] == "simulation"


@pytest.mark.bwrap
def test_client_round_trip_shows_the_training_conversation(server: str) -> None:
    row = next(r for r in problem_rows("annotated", "builtin") if r["problem_id"] == PROBLEM)
    expected_first = codearc_trl_env("CodeARC-Builtin-v0", backend="bwrap")().reset(**row)
    client = GenericEnvClient(base_url=server).sync()
    with client:
        first = client.reset(problem_id=PROBLEM)
        obs = first.observation
        assert obs["text"] == expected_first
        assert obs["system_prompt"] == row["prompt"][0]["content"]
        assert obs["tools"] == list(TOOLS)
        assert (obs["function_name"], obs["io_left"], obs["oracle_left"]) == ("clamp_int", 20, 2)
        assert first.done is False
        answer = client.step({"tool": "query", "arguments": {"calls": "clamp_int(5, 0, 3)"}})
        assert answer.observation["text"].startswith("clamp_int(5, 0, 3) -> 3\n")
        assert (answer.done, answer.reward, answer.observation["io_left"]) == (False, 0.0, 19)
        wrong = "def clamp_int(x, lo, hi):\n    return x"
        for _ in range(2):
            last = client.step({"tool": "submit", "arguments": {"code": wrong}})
        assert (last.done, last.reward, last.observation["infra_error"]) == (True, 0.0, None)
        with pytest.raises(RuntimeError, match="Not run: the episode is already over."):
            client.step({"tool": "query", "arguments": {"calls": "clamp_int(1, 0, 3)"}})
        again = client.reset(seed=3)
        assert again.observation["problem_id"].startswith("builtin/annotated/")


def _toy_env(**kwargs: Any) -> CodeARCOpenEnv:
    return CodeARCOpenEnv(codearc_trl_env(TOY_ID, infra_error_reward=None, **kwargs))


def test_a_solved_episode_ends_with_reward_one_and_state() -> None:
    env = _toy_env(problems=toy_problems())
    env.reset(problem_id="builtin/annotated/add", episode_id="e1")
    obs = env.step(CodeARCAction(tool="submit", arguments={"code": TOY_SOLUTIONS["builtin/annotated/add"]}))
    assert (obs.done, obs.reward) == (True, 1.0)
    assert env.state.model_dump() == {
        "episode_id": "e1", "step_count": 1, "problem_id": "builtin/annotated/add",
        "solved": True, "infra_error": None,
    }
    env.close()


def test_an_infrastructure_failure_has_no_reward() -> None:
    env = _toy_env()
    env.reset(problem_id="builtin/annotated/add")
    env._tools._env.unwrapped._reference.fail_with = "worker died"
    obs = env.step(CodeARCAction(tool="query", arguments={"calls": "add(1, 2)"}))
    assert obs.done and obs.reward is None
    assert obs.infra_error == "the sandbox failed while running a query: worker died"
    assert env.state.infra_error == obs.infra_error


def test_close_releases_the_environment_at_once() -> None:
    env = _toy_env()
    env.reset(problem_id="builtin/annotated/add")
    gym_env = env._tools._env.unwrapped
    env.close()
    assert gym_env._closed


def test_every_flag_reaches_the_app(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def fake_create(env_id: str, *, max_sessions: int, **kwargs: Any) -> str:
        seen.update(env_id=env_id, max_sessions=max_sessions, **kwargs)
        return "app"

    monkeypatch.setattr("codearc_env.integrations.openenv_server.create_codearc_app", fake_create)
    args = parse_args(["--env-id", TOY_ID, "--backend", "docker", "--max-sessions", "7",
                       "--host", "127.0.0.2", "--port", "8123"])
    assert app_from_args(args) == "app"
    assert seen == {"env_id": TOY_ID, "max_sessions": 7, "backend": "docker"}
    assert (args.host, args.port) == ("127.0.0.2", 8123)
    defaults = parse_args([])
    assert (defaults.host, defaults.port, defaults.backend) == ("127.0.0.1", 8000, None)
