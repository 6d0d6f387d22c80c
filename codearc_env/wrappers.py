"""Recording episodes as typed, versioned trace events.

:class:`EpisodeRecorder` writes the events of one episode; :class:`RecordEpisode` wraps an
environment and records every episode any agent plays, RL or LLM, because it sits on the
environment: the action sent, the environment's response, oracle verdicts and the episode's
end. The LLM agents' episodes (``codearc_env.agents.episode``) use the same recorder, so one
trace format, one id format and one reading of actions hold everywhere. Each event is flushed
as it is written, so a crash loses at most the line being written.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from collections.abc import Callable
from typing import Any, SupportsFloat

import gymnasium as gym

from codearc_env.config import DEFAULT_CONFIG, EnvConfig
from codearc_env.errors import CodeARCError
from codearc_env.trace import (
    EpisodeEnd,
    EpisodeStart,
    EpisodeStatus,
    Error,
    ErrorKind,
    Event,
    Observation,
    ToolCall,
    TraceWriter,
    VerdictEvent,
    jsonable,
)

KEPT_INFO_KEYS = (
    "action", "n_io_used", "n_oracle_used", "turn", "invalid_actions", "forced_final", "outcome",
    "solved", "verdict", "verdict_reason", "paper_io", "paper_oracle", "infra_error",
)
"""The counters and flags of ``info`` an Observation event keeps (the counterexample goes in
the verdict event; the problem's identity in EpisodeStart)."""
_ACTION_TEXT_CAP = 200_000


def new_episode_id() -> str:
    """The id of a new episode: 12 random hex digits."""
    return uuid.uuid4().hex[:12]


_random_episode_id = new_episode_id


class EpisodeRecorder:
    """Writes the events of one episode: the one place that decides what a trace holds.

    Used by :class:`RecordEpisode` around any agent and by the LLM agents' episodes, so both
    write the same events, ids, kept info keys and action kinds. ``writer=None`` records
    nothing (the counts still advance).
    """

    def __init__(self, writer: TraceWriter | None, episode_id: str | None = None) -> None:
        self.writer = writer
        self.episode_id = episode_id or new_episode_id()
        self.steps = 0
        self.started = time.monotonic()

    def emit(self, event: Event) -> None:
        if self.writer is not None:
            self.writer.write(event)

    def start(
        self,
        env: Any,
        obs: dict[str, Any],
        info: dict[str, Any],
        *,
        agent: str = "",
        model: str = "",
        attempt: int = 1,
        meta: dict[str, Any] | None = None,
    ) -> None:
        """EpisodeStart and the first observation, after ``env.reset`` returned them."""
        base = getattr(env, "unwrapped", env)
        config = env_config(base)
        settings = env_settings(base)
        spec = getattr(env, "spec", None)
        self.emit(
            EpisodeStart(
                self.episode_id,
                problem_id=str(info.get("problem_id", "")),
                variant=str(info.get("variant", "")),
                source=str(info.get("source", "")),
                target=str(obs.get("function_name", "")),
                agent=agent,
                model=model,
                b_io=config.b_io,
                b_oracle=config.b_oracle,
                attempt=attempt,
                meta={
                    "env_id": spec.id if spec is not None else None,
                    "max_turns": settings["max_turns"],
                    "quirks": list(info.get("quirks", ())),
                    "settings": settings,
                    "env_settings_digest": settings_digest(settings),
                    **(meta or {}),
                },
            )
        )
        self.emit(Observation(self.episode_id, text=str(obs.get("text", "")), step=0))

    def action(self, action: Any, call_id: str | None = None) -> int:
        """The ToolCall for ``action`` (any shape an agent may send); returns its step."""
        self.steps += 1
        kind, text = describe_action(action)
        self.emit(ToolCall(self.episode_id, kind=kind, text=text, call_id=call_id, step=self.steps))
        return self.steps

    def response(
        self, obs: dict[str, Any], reward: SupportsFloat, terminated: bool, truncated: bool,
        info: dict[str, Any],
    ) -> None:
        """The environment's answer: an Observation, a VerdictEvent after a submission, an Error
        when the harness failed."""
        self.emit(
            Observation(
                self.episode_id,
                text=str(obs.get("feedback", "")),
                reward=float(reward),
                terminated=bool(terminated),
                truncated=bool(truncated),
                step=self.steps,
                info=jsonable({k: info.get(k) for k in KEPT_INFO_KEYS}),
            )
        )
        if info.get("verdict") is not None:
            self.emit(
                VerdictEvent(
                    self.episode_id,
                    passed=info["verdict"] == "pass",
                    reason=str(info.get("verdict_reason") or ""),
                    counterexample=jsonable(info.get("counterexample")),
                    n_inputs=int(info.get("oracle_inputs") or 0),
                    duration_s=float(getattr(info.get("oracle_verdict"), "duration_s", 0.0)),
                    final=bool(terminated or truncated),
                )
            )
        if info.get("infra_error"):
            self.error("infra", str(info["infra_error"]))

    def error(
        self, kind: ErrorKind, message: str, exc_type: str = "", retryable: bool = False
    ) -> None:
        self.emit(
            Error(self.episode_id, kind=kind, message=message, exc_type=exc_type,
                  retryable=retryable)
        )

    def end(self, status: EpisodeStatus, *, reward: float = 0.0, message: str = "",
            **totals: Any) -> EpisodeEnd:
        """EpisodeEnd with ``totals`` (n_io, paper_io, turns, tokens...; see EpisodeEnd)."""
        totals.setdefault("turns", self.steps)
        totals.setdefault("duration_s", time.monotonic() - self.started)
        event = EpisodeEnd(self.episode_id, status=status, reward=reward, message=message,
                           **totals)
        self.emit(event)
        return event


def end_totals(info: dict[str, Any] | None) -> dict[str, int]:
    """The counts of an EpisodeEnd as the environment's last ``info`` gives them."""
    info = info or {}
    return {
        "n_io": int(info.get("n_io_used") or 0),
        "n_oracle": int(info.get("n_oracle_used") or 0),
        "paper_io": int(info.get("paper_io") or 0),
        "paper_oracle": int(info.get("paper_oracle") or 0),
    }


class RecordEpisode(gym.Wrapper[dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any]]):
    """Record episodes of a :class:`~codearc_env.env.CodeARCEnv` to a JSON Lines trace.

    Args:
        env: the environment (possibly wrapped).
        trace: a path (opened for appending, closed with the wrapper) or a TraceWriter (left
            open: the caller owns it).
        agent, model: written into each EpisodeStart.
        new_episode_id: makes episode ids (default: :func:`new_episode_id`).
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
        self._new_id = new_episode_id or _random_episode_id
        self.recorder: EpisodeRecorder | None = None
        self._closed = False

    @property
    def episode_id(self) -> str | None:
        return self.recorder.episode_id if self.recorder is not None else None

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        if self.recorder is not None:
            self._end("failure", 0.0, None, "reset before the episode ended")
        obs, info = self.env.reset(seed=seed, options=options)
        self.recorder = EpisodeRecorder(self.writer, self._new_id())
        self.recorder.start(
            self.env, obs, info, agent=self.agent, model=self.model, meta={"seed": seed}
        )
        return obs, info

    def step(
        self, action: dict[str, Any]
    ) -> tuple[dict[str, Any], Any, bool, bool, dict[str, Any]]:
        recorder = self.recorder
        if recorder is None:
            return self.env.step(action)  # let the env raise its own ResetNeeded
        recorder.action(action)
        try:
            obs, reward, terminated, truncated, info = self.env.step(action)
        except CodeARCError as exc:
            recorder.error("infra", str(exc), type(exc).__name__)
            self._end("infra_error", 0.0, None, str(exc))
            raise
        recorder.response(obs, reward, terminated, truncated, info)
        if terminated or truncated:
            if info.get("infra_error"):
                status = "infra_error"
            else:
                status = "success" if info.get("solved") else "failure"
            self._end(status, float(reward), info, str(info.get("outcome", "")))
        return obs, reward, terminated, truncated, info

    def _end(self, status: Any, reward: float, info: dict[str, Any] | None, message: str) -> None:
        if self.recorder is None:
            return
        turns = int((info or {}).get("turn") or self.recorder.steps)
        self.recorder.end(status, reward=reward, message=message, turns=turns, **end_totals(info))
        self.recorder = None

    def close(self) -> None:
        """Close the env, then the trace (if this wrapper opened it). Idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            if self.recorder is not None:
                self._end("failure", 0.0, None, "closed before the episode ended")
            super().close()
        finally:
            if self._owns_writer:
                self.writer.close()


def env_config(env: Any) -> EnvConfig:
    """The environment's :class:`EnvConfig` (the defaults for an environment without one)."""
    config = getattr(getattr(env, "unwrapped", env), "config", None)
    return config if isinstance(config, EnvConfig) else DEFAULT_CONFIG


def env_settings(env: Any) -> dict[str, Any]:
    """The environment's settings that can change an episode's outcome (None for an
    environment without an :class:`EnvConfig`)."""
    config = getattr(getattr(env, "unwrapped", env), "config", None)
    if isinstance(config, EnvConfig):
        outcome = config.outcome_settings()
    else:
        outcome = dict.fromkeys(DEFAULT_CONFIG.outcome_settings())
    return {"variant": getattr(env, "variant", None), **outcome}


def settings_digest(settings: dict[str, Any]) -> str:
    text = json.dumps(jsonable(settings), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def describe_action(action: Any) -> tuple[Any, str]:
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
