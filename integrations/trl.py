"""The environment as a TRL ``environment_factory``.

GRPOTrainer(environment_factory=...) calls the factory with no argument for every concurrent
rollout, keeps the instances in a pool and resets them for each new row. It turns every public
method of the instance except ``reset`` and ``get_reward`` into a tool, with a schema that
transformers' ``get_json_schema`` derives from the type hints and the Google-style docstring,
and shows a tool's exception to the model as ``{"error": ...}``. So :class:`CodeARCToolEnv`
has exactly two public tools, ``query`` and ``submit``, whose schemas equal
:data:`codearc_env.agents.vocabulary.TOOLS`, and keeps everything else private.

Each instance owns one environment for its whole life: resets reuse it, and a finalizer closes
it when the instance is collected or the process exits, since TRL never calls ``close``. The
environments of one process run on one shared sandbox pool (``pool_size`` sandboxes, 8 by
default; :func:`codearc_env.vector.process_pool`), not two sandboxes each.
"""

from __future__ import annotations

import inspect
import json
import pickle
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import gymnasium

from codearc_env.agents.parsing import ParsedAction, parse_tool_call
from codearc_env.agents.vocabulary import (
    EPISODE_OVER,
    SHOWN_LINE_CHARS,
    first_user_prompt,
    system_prompt,
    tool_error,
    tool_observation,
)
from codearc_env.env import CodeARCEnv
from codearc_env.integrations import integrity
from codearc_env.integrations.dataset import PROBLEM_ID, PROMPT
from codearc_env.registration import ENTRY_POINT
from codearc_env.sandbox.pool import DEFAULT_SIZE
from codearc_env.vector import process_pool

DEFAULT_ENV_ID = "CodeARC-Annotated-v0"
QUERY, SUBMIT = 0, 1
HARNESS_FAILED = "The harness failed (not your fault); the episode is cut short."
_ENV_PARAMETERS = frozenset(inspect.signature(CodeARCEnv).parameters)


class EpisodeOverError(RuntimeError):
    """A tool was called after the episode ended (TRL shows the message to the model)."""


@dataclass(frozen=True)
class TRLEnvFactory:
    """A picklable, argument-free maker of :class:`CodeARCToolEnv`: pass it to GRPOTrainer
    as ``environment_factory``. Build it with :func:`codearc_trl_env`."""

    env_id: str = DEFAULT_ENV_ID
    env_kwargs: Mapping[str, Any] = field(default_factory=dict)
    line_chars: int | None = SHOWN_LINE_CHARS
    """Longest line of an observation shown to the model, as in evaluation."""
    infra_error_reward: float | None = 0.0
    """``get_reward`` after an infrastructure failure; None makes GRPOTrainer drop the
    rollout (a row whose every reward is None gets no advantage and is left out of its
    group's baseline)."""
    pool_size: int | None = DEFAULT_SIZE
    """Sandboxes shared by this process's environments; None: each owns two."""

    def __call__(self) -> CodeARCToolEnv:
        return CodeARCToolEnv(self)


def codearc_trl_env(
    env_id: str = DEFAULT_ENV_ID,
    *,
    line_chars: int | None = SHOWN_LINE_CHARS,
    infra_error_reward: float | None = 0.0,
    pool_size: int | None = DEFAULT_SIZE,
    **env_kwargs: Any,
) -> TRLEnvFactory:
    """The factory for ``GRPOTrainer(environment_factory=...)``.

    ``env_kwargs`` go to ``gymnasium.make(env_id, ...)`` (``backend``, ``split``,
    ``data_dir``, ``config=EnvConfig(...)`` or single budgets such as ``b_io``). They are
    checked here, so a typo fails before training starts. Give the training rows
    (:func:`~codearc_env.integrations.problem_rows`) the same ``config``. Infrastructure
    failures always end the episode (``on_infra_error="truncate"`` replaces the config's).
    ``pool_size``: sandboxes shared by the environments of one process (None: two each).
    """
    if env_id not in gymnasium.registry:
        known = sorted(k for k in gymnasium.registry if k.startswith("CodeARC"))
        raise ValueError(f"unknown environment id {env_id!r}; known: {', '.join(known)}")
    unknown = sorted(set(env_kwargs) - _ENV_PARAMETERS)
    if unknown:
        raise ValueError(f"unknown environment arguments: {', '.join(unknown)}")
    if env_kwargs.get("on_infra_error", "truncate") != "truncate":
        raise ValueError(
            "on_infra_error must stay 'truncate': the adapter ends the episode and accounts "
            "for the failure itself (see last_infra_error)"
        )
    if pool_size is not None and pool_size < 2:
        raise ValueError(f"pool_size must be None or at least 2, got {pool_size}")
    factory = TRLEnvFactory(
        env_id,
        {**env_kwargs, "on_infra_error": "truncate"},
        line_chars,
        infra_error_reward,
        pool_size,
    )
    try:
        pickle.dumps(factory)
    except Exception as exc:
        raise TypeError(
            f"the environment arguments must be picklable (trainers copy the factory to "
            f"worker processes): {type(exc).__name__}: {exc}"
        ) from exc
    return factory


def _takes_pool(env_id: str) -> bool:
    return bool(gymnasium.spec(env_id).entry_point == ENTRY_POINT)


def _close_quietly(env: Any) -> None:
    try:
        env.close()
    except Exception as exc:  # a finalizer must not raise; the failure is still reported
        integrity.logger.warning("closing a training environment failed: %s", exc)


class CodeARCToolEnv:
    """One CodeARC episode at a time, driven by a model's tool calls.

    Attributes:
        last_infra_error: the current episode's infrastructure failure, or None. Cleared by
            ``reset``. Such an episode's reward carries no information about the policy.
    """

    def __init__(self, config: TRLEnvFactory | None = None) -> None:
        self._config = config or TRLEnvFactory()
        self._env: Any = None
        self._finalizer: Any = None
        self._problem_id: str | None = None
        self._obs: Mapping[str, Any] = {}
        self._done = False
        self._solved = False
        self.last_infra_error: str | None = None

    # TRL calls ``reset`` and ``get_reward`` by name and makes tools of the other public methods.
    def reset(self, **row: Any) -> str:
        """Start the row's problem; return the first user message of the conversation."""
        problem_id = row.get(PROBLEM_ID)
        if problem_id is None:
            raise ValueError(
                f"reset() needs the row's {PROBLEM_ID!r} column; build the training dataset "
                "with codearc_env.integrations.problems_dataset()"
            )
        env = self._environment()
        obs, _ = env.reset(options={"problem": problem_id})
        self._check_system_prompt(row.get(PROMPT), system_prompt(obs))
        self._problem_id = str(problem_id)
        self._obs, self._done, self._solved = obs, False, False
        self.last_infra_error = None
        integrity.count(episodes=1)
        return first_user_prompt(obs, self._config.line_chars)

    def query(self, calls: str):
        """Run the hidden function on inputs of your choice and see the results.

        Args:
            calls: One or more calls of the hidden function with literal arguments, one per
                line, e.g. f(3, 'ab').
        """
        # No return annotation: get_json_schema would add a "return" entry to the schema,
        # which evaluation's tool list (and model APIs) do not have.
        return self._act("query", "calls", calls)

    def submit(self, code: str):
        """Submit a complete Python program that defines the hidden function.

        Args:
            code: The complete program.
        """
        return self._act("submit", "code", code)

    def get_reward(self) -> float | None:
        """1.0 when the oracle passed a submission of this episode, else 0.0; after an
        infrastructure failure, the factory's ``infra_error_reward``."""
        if self.last_infra_error is not None:
            return self._config.infra_error_reward
        return 1.0 if self._solved else 0.0

    # ---- private -------------------------------------------------------------------------
    def _environment(self) -> Any:
        if self._env is None:
            kwargs = dict(self._config.env_kwargs)
            # Only ids made by CodeARCEnv itself take a pool; other entry points are made as given.
            if self._config.pool_size is not None and _takes_pool(self._config.env_id):
                kwargs["pool"] = process_pool(
                    self._config.pool_size, kwargs.pop("backend", None), kwargs.pop("limits", None)
                )
            env = gymnasium.make(self._config.env_id, **kwargs)
            self._finalizer = weakref.finalize(self, _close_quietly, env)
            self._env = env
        return self._env

    def _release(self) -> None:
        """Close the environment now (servers that know when a session ends call this)."""
        if self._env is not None:
            self._finalizer()
            self._env = None
            self._problem_id = None

    def _problem_ids(self) -> list[str]:
        return list(self._environment().unwrapped.problem_set.ids)

    @staticmethod
    def _check_system_prompt(prompt: Any, expected: str) -> None:
        if prompt is None:
            return
        first = prompt[0] if isinstance(prompt, list) and prompt else None
        if not isinstance(first, Mapping) or first.get("role") != "system":
            raise ValueError(
                f"the row's {PROMPT!r} must start with the system message problems_dataset() "
                "writes, so the model sees the prompt it is evaluated with"
            )
        if first.get("content") != expected:
            raise ValueError(
                "the row's system prompt differs from this environment's (were the dataset "
                "and the factory given the same budgets?)"
            )

    def _act(self, tool: str, argument: str, value: Any) -> str:
        if self._problem_id is None:
            raise RuntimeError(f"call reset() before {tool}()")
        if self._done:
            raise EpisodeOverError(EPISODE_OVER)
        action = parse_tool_call(tool, json.dumps({argument: value}))
        if not isinstance(action, ParsedAction):
            return tool_error(action.reason)
        kind = QUERY if action.kind == "query" else SUBMIT
        try:
            obs, _, terminated, truncated, info = self._env.step({"kind": kind, "text": action.text})
        except Exception as exc:  # the env turns every mistake of the policy into feedback
            self._infra_failure(f"{type(exc).__name__}: {exc}")
            return HARNESS_FAILED
        self._obs, self._done = obs, bool(terminated or truncated)
        if info.get("infra_error"):
            self._infra_failure(str(info["infra_error"]))
        elif info.get("solved") and not self._solved:
            self._solved = True
            integrity.count(solved=1)
        return tool_observation(obs, self._done, self._config.line_chars)

    def _infra_failure(self, message: str) -> None:
        self._done = True
        self.last_infra_error = message
        integrity.record_infra_error(str(self._problem_id), message)
