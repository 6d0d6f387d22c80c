"""RecordEpisode: write every episode an agent plays as typed, versioned trace events.

Works for any agent, RL or LLM, because it sits on the environment: the action sent, the
environment's response, oracle verdicts and the episode's end. The format is the agents'
trace format (:mod:`codearc_env.trace`); each event is flushed as it is written, so a
crash loses at most the line being written.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from collections.abc import Callable
from typing import Any

import gymnasium as gym

from codearc_env.errors import CodeARCError
from codearc_env.trace import (
    EpisodeEnd,
    EpisodeStart,
    Error,
    Observation,
    ToolCall,
    TraceWriter,
    Verdict,
    jsonable,
)

_INFO_KEYS = (
    "action", "n_io_used", "n_oracle_used", "turn", "invalid_actions", "forced_final", "outcome",
    "verdict", "paper_io", "paper_oracle", "infra_error",
)
_ACTION_TEXT_CAP = 200_000


class RecordEpisode(gym.Wrapper[dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any]]):
    """Record episodes of a :class:`~codearc_env.env.CodeARCEnv` to a JSON Lines trace.

    Args:
        env: the environment (possibly wrapped).
        trace: a path (opened for appending, closed with the wrapper) or a TraceWriter (left
            open: the caller owns it).
        agent, model: written into each EpisodeStart.
        new_episode_id: makes episode ids (default: random hex).
    """

    def __init__(
        self,
        env: gym.Env[dict[str, Any], dict[str, Any]],
        trace: str | os.PathLike[str] | TraceWriter,
        *,
        agent: str = "",
        model: str = "",
        new_episode_id: Callable[[], str] | None = None,
    ) -> None:
        super().__init__(env)
        self._owns_writer = not isinstance(trace, TraceWriter)
        self.writer = TraceWriter(trace) if not isinstance(trace, TraceWriter) else trace
        self.agent = agent
        self.model = model
        self._new_id = new_episode_id or (lambda: uuid.uuid4().hex)
        self.episode_id: str | None = None
        self._started_at = 0.0
        self._closed = False

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        if self.episode_id is not None:
            self._end("failure", 0.0, None, "reset before the episode ended")
        obs, info = self.env.reset(seed=seed, options=options)
        self.episode_id = self._new_id()
        self._started_at = time.monotonic()
        base = self.env.unwrapped
        budgets = getattr(base, "budgets", None)
        settings = env_settings(base)
        self.writer.write(
            EpisodeStart(
                self.episode_id,
                problem_id=str(info.get("problem_id", "")),
                variant=str(info.get("variant", "")),
                source=str(info.get("source", "")),
                target=str(obs.get("function_name", "")),
                agent=self.agent,
                model=self.model,
                b_io=getattr(budgets, "b_io", 30),
                b_oracle=getattr(budgets, "b_oracle", 2),
                meta={
                    "seed": seed,
                    "env_id": self.env.spec.id if self.env.spec else None,
                    "max_turns": getattr(budgets, "max_turns", None),
                    "quirks": list(info.get("quirks", ())),
                    "settings": settings,
                    "settings_hash": settings_digest(settings),
                },
            )
        )
        self.writer.write(Observation(self.episode_id, text=str(obs.get("text", "")), step=0))
        return obs, info

    def step(
        self, action: dict[str, Any]
    ) -> tuple[dict[str, Any], Any, bool, bool, dict[str, Any]]:
        episode_id = self.episode_id
        if episode_id is None:
            return self.env.step(action)  # let the env raise its own ResetNeeded
        step = self._turn() + 1
        kind, text = _describe(action)
        self.writer.write(ToolCall(episode_id, kind=kind, text=text, step=step))
        try:
            obs, reward, terminated, truncated, info = self.env.step(action)
        except CodeARCError as exc:
            self.writer.write(Error(episode_id, kind="infra", message=str(exc),
                                    exc_type=type(exc).__name__))
            self._end("infra_error", 0.0, None, str(exc))
            raise
        self.writer.write(
            Observation(
                episode_id,
                text=str(obs.get("feedback", "")),
                reward=float(reward),
                terminated=bool(terminated),
                truncated=bool(truncated),
                step=step,
                info=jsonable({k: info.get(k) for k in _INFO_KEYS}),
            )
        )
        if info.get("verdict") is not None:
            self.writer.write(
                Verdict(
                    episode_id,
                    passed=info["verdict"] == "pass",
                    reason=str(info.get("verdict_reason") or ""),
                    counterexample=jsonable(info.get("counterexample")),
                    n_inputs=int(info.get("oracle_inputs") or 0),
                    final=bool(terminated or truncated),
                )
            )
        if info.get("infra_error"):
            self.writer.write(Error(episode_id, kind="infra", message=str(info["infra_error"])))
        if terminated or truncated:
            if info.get("infra_error"):
                status = "infra_error"
            else:
                status = "success" if info.get("solved") else "failure"
            self._end(status, float(reward), info, str(info.get("outcome", "")))
        return obs, reward, terminated, truncated, info

    def _turn(self) -> int:
        state = getattr(self.env.unwrapped, "state", None)
        return int(getattr(state, "turns", 0))

    def _end(self, status: Any, reward: float, info: dict[str, Any] | None, message: str) -> None:
        if self.episode_id is None:
            return
        info = info or {}
        self.writer.write(
            EpisodeEnd(
                self.episode_id,
                status=status,
                reward=reward,
                n_io=int(info.get("n_io_used") or 0),
                n_oracle=int(info.get("n_oracle_used") or 0),
                paper_io=int(info.get("paper_io") or 0),
                paper_oracle=int(info.get("paper_oracle") or 0),
                turns=int(info.get("turn") or self._turn()),
                duration_s=time.monotonic() - self._started_at,
                message=message,
            )
        )
        self.episode_id = None

    def close(self) -> None:
        """Close the env, then the trace (if this wrapper opened it). Idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            if self.episode_id is not None:
                self._end("failure", 0.0, None, "closed before the episode ended")
            super().close()
        finally:
            if self._owns_writer:
                self.writer.close()


def env_settings(env: Any) -> dict[str, Any]:
    """The environment's settings that can change an episode's outcome."""
    budgets = getattr(env, "budgets", None)
    return {
        "variant": getattr(env, "variant", None),
        "b_io": getattr(budgets, "b_io", None),
        "b_oracle": getattr(budgets, "b_oracle", None),
        "max_turns": getattr(budgets, "max_turns", None),
        "oracle_seed": getattr(env, "oracle_seed", None),
        "oracle_strength": getattr(env, "oracle_strength", None),
    }


def settings_digest(settings: dict[str, Any]) -> str:
    text = json.dumps(jsonable(settings), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _describe(action: Any) -> tuple[Any, str]:
    """The action as (kind, text) for the trace, whatever shape the agent sent."""
    kind = "query"
    text: Any = action
    if isinstance(action, dict):
        raw = action.get("kind")
        try:
            kind = "submit" if raw is not None and int(raw) == 1 else "query"
        except (TypeError, ValueError):
            kind = "query"
        text = action.get("text", "")
    if not isinstance(text, str):
        text = repr(text)
    if len(text) > _ACTION_TEXT_CAP:
        text = text[:_ACTION_TEXT_CAP] + f"... [{len(text)} characters, clipped]"
    return kind, text
