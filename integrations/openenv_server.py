"""The environment as an OpenEnv server (``pip install codearc-env[openenv]``).

OpenEnv clients (its ``EnvClient``/``GenericEnvClient``, and the trainers that speak to
OpenEnv servers) keep one WebSocket session per rollout; each session gets its own
:class:`CodeARCOpenEnv`, which plays episodes through the TRL adapter, so the conversation is
the one evaluation and TRL training use. The server runs on the host, where the docker or bwrap
sandboxes are::

    python -m codearc_env.integrations.openenv_server --env-id CodeARC-Builtin-v0 --port 8000

Actions are tool calls: ``{"tool": "query", "arguments": {"calls": "f(1)"}}`` or
``{"tool": "submit", "arguments": {"code": "def f(x): ..."}}``.
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from openenv.core.env_server.http_server import create_fastapi_app
from openenv.core.env_server.interfaces import Environment
from openenv.core.env_server.types import Action, EnvironmentMetadata, Observation, State
from pydantic import Field

from codearc_env import __version__
from codearc_env.agents.vocabulary import TOOLS
from codearc_env.agents.vocabulary import system_prompt as _system_prompt
from codearc_env.integrations.trl import CodeARCToolEnv, TRLEnvFactory, codearc_trl_env

DEFAULT_SERVER_ENV_ID = "CodeARC-Builtin-v0"


class CodeARCAction(Action):
    tool: Literal["query", "submit"] = Field(description="The tool to call")
    arguments: dict[str, Any] = Field(
        default_factory=dict, description='{"calls": ...} for query, {"code": ...} for submit'
    )


class CodeARCObservation(Observation):
    text: str = Field(default="", description="What the model is shown: the first user "
                      "message after reset, the tool's answer after a step")
    system_prompt: str = Field(default="", description="The system message (reset only)")
    tools: list[dict[str, Any]] = Field(default_factory=list, description="Tool schemas (reset only)")
    problem_id: str = ""
    function_name: str = ""
    io_left: int = 0
    oracle_left: int = 0
    turns_left: int = 0
    infra_error: str | None = Field(default=None, description="An infrastructure failure "
                                    "ended the episode: its reward (None) says nothing")


class CodeARCState(State):
    problem_id: str = ""
    solved: bool = False
    infra_error: str | None = None


class CodeARCOpenEnv(Environment[CodeARCAction, CodeARCObservation, CodeARCState]):
    """One session's environment: episodes of the TRL adapter, one at a time."""

    SUPPORTS_CONCURRENT_SESSIONS = True  # each session owns its environment and sandboxes

    def __init__(self, factory: TRLEnvFactory | None = None) -> None:
        super().__init__()
        self._tools: CodeARCToolEnv = (factory or codearc_trl_env(DEFAULT_SERVER_ENV_ID))()
        self._episode = CodeARCState()

    def reset(
        self,
        seed: int | None = None,
        episode_id: str | None = None,
        problem_id: str | None = None,
        **kwargs: Any,
    ) -> CodeARCObservation:
        """Start ``problem_id``, or a problem drawn with ``seed`` when none is named."""
        if problem_id is None:
            ids = self._tools._problem_ids()
            problem_id = ids[random.Random(seed).randrange(len(ids))]
        text = self._tools.reset(problem_id=problem_id)
        self._episode = CodeARCState(episode_id=episode_id, problem_id=problem_id)
        observation = self._observation(text, reward=0.0)
        observation.system_prompt = _system_prompt(self._tools._obs)
        observation.tools = [dict(t) for t in TOOLS]
        return observation

    def step(
        self, action: CodeARCAction, timeout_s: float | None = None, **kwargs: Any
    ) -> CodeARCObservation:
        tool = self._tools.query if action.tool == "query" else self._tools.submit
        text = tool(**action.arguments)
        self._episode.step_count += 1
        done = self._tools._done
        self._episode.solved = self._tools._solved
        self._episode.infra_error = self._tools.last_infra_error
        return self._observation(text, reward=self._tools.get_reward() if done else 0.0)

    @property
    def state(self) -> CodeARCState:
        return self._episode

    def get_metadata(self) -> EnvironmentMetadata:
        return EnvironmentMetadata(
            name="codearc",
            description="CodeARC: find a hidden Python function from examples, queries and "
            "an oracle, with the tools query and submit",
            version=__version__,
        )

    def close(self) -> None:
        self._tools._release()

    def _observation(self, text: str, reward: float | None) -> CodeARCObservation:
        obs = self._tools._obs
        return CodeARCObservation(
            text=text,
            problem_id=self._episode.problem_id,
            function_name=str(obs.get("function_name", "")),
            io_left=int(obs.get("io_left", 0)),
            oracle_left=int(obs.get("oracle_left", 0)),
            turns_left=int(obs.get("turns_left", 0)),
            infra_error=self._tools.last_infra_error,
            done=self._tools._done,
            reward=reward,
        )


@dataclass(frozen=True)
class _SessionFactory:
    """Makes one :class:`CodeARCOpenEnv` per session (OpenEnv calls it with no argument)."""

    tools: TRLEnvFactory

    def __call__(self) -> CodeARCOpenEnv:
        return CodeARCOpenEnv(self.tools)


def create_codearc_app(
    env_id: str = DEFAULT_SERVER_ENV_ID, *, max_sessions: int = 4, **env_kwargs: Any
) -> Any:
    """The FastAPI app; ``env_kwargs`` as for :func:`codearc_trl_env`. An infrastructure
    failure ends the episode with reward None and ``infra_error`` set."""
    tools = codearc_trl_env(env_id, infra_error_reward=None, **env_kwargs)
    return create_fastapi_app(
        _SessionFactory(tools), CodeARCAction, CodeARCObservation, max_concurrent_envs=max_sessions
    )


def __getattr__(name: str) -> Any:
    # ``app`` for the manifest (openenv.yaml) and uvicorn, built on first use with defaults.
    if name == "app":
        return create_codearc_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Serve CodeARC episodes to OpenEnv clients.")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--env-id", default=DEFAULT_SERVER_ENV_ID, help="a registered CodeARC id")
    parser.add_argument("--backend", default=None, help="sandbox backend (default: strongest)")
    parser.add_argument("--max-sessions", type=int, default=4, help="concurrent sessions")
    return parser.parse_args(argv)


def app_from_args(args: argparse.Namespace) -> Any:
    kwargs = {} if args.backend is None else {"backend": args.backend}
    return create_codearc_app(args.env_id, max_sessions=args.max_sessions, **kwargs)


def main(argv: Sequence[str] | None = None) -> None:
    import uvicorn

    args = parse_args(argv)
    uvicorn.run(app_from_args(args), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
