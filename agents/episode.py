"""One episode between an agent and the environment: stepping, accounting and the result.

Agents talk to the environment only through :class:`Episode`, which records every action,
observation, verdict and message (through the environment's
:class:`~codearc_env.wrappers.EpisodeRecorder`, as ``RecordEpisode`` does) and keeps the
counts the result needs.
:func:`run_episode` turns the ways an episode can end into one :class:`EpisodeResult`:
harness failures become ``infra_error``, model API failures ``api_error``, bugs in the agent
``agent_error``; only ``success`` and ``failure`` are grades.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from codearc_env import trace as tr
from codearc_env.agents import vocabulary
from codearc_env.agents.model import (
    ContextOverflowError,
    FatalModelError,
    ModelError,
    ModelReply,
    RequestRejectedError,
)
from codearc_env.agents.results import EpisodeResult
from codearc_env.agents.vocabulary import SHOWN_LINE_CHARS
from codearc_env.config import DEFAULT_CONFIG, EnvConfig
from codearc_env.errors import CodeARCError
from codearc_env.functions.spec import HiddenFunction
from codearc_env.wrappers import EpisodeRecorder, env_config, new_episode_id

QUERY, SUBMIT = 0, 1
MAX_INVALID_IN_A_ROW = 3
"""Invalid actions in a row (unusable replies, or actions the environment rejects) after
which an episode ends as a failure, whatever the agent or model."""


class HarnessFailure(CodeARCError):
    """The environment raised something other than a CodeARCError: a harness bug."""


def _env_call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except CodeARCError:
        raise
    except Exception as exc:
        raise HarnessFailure(f"the environment failed: {type(exc).__name__}: {exc}") from exc


class EpisodeOver(Exception):
    """Raised inside an agent to stop the episode early with a graded failure."""


@dataclass
class StepView:
    """What an action produced, in the form agents use."""

    feedback: str
    obs: Mapping[str, Any]
    info: Mapping[str, Any]
    reward: float
    done: bool


@dataclass
class Episode:
    """The live state of one episode; agents call :meth:`query`, :meth:`submit`, :meth:`say`."""

    env: Any
    problem: HiddenFunction | None
    problem_id: str
    agent: str
    model: str
    writer: tr.TraceWriter | None = None
    attempt: int = 1
    episode_id: str = field(default_factory=new_episode_id)
    obs: Mapping[str, Any] = field(default_factory=dict)
    info: Mapping[str, Any] = field(default_factory=dict)
    reward: float = 0.0
    done: bool = False
    steps: int = 0
    invalid_replies: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    config: EnvConfig = DEFAULT_CONFIG
    """The environment's budgets and oracle settings (read from it at :meth:`reset`)."""
    shown_line_chars: int | None = SHOWN_LINE_CHARS
    sample: int = 0
    run_settings_hash: str = ""
    max_invalid_in_a_row: int | None = MAX_INVALID_IN_A_ROW
    invalid_in_a_row: int = 0
    replies: int = 0
    run_replied: threading.Event | None = None
    """Set once the model has answered in this run (shared by the run's episodes)."""
    time_limit_s: float | None = None
    """Wall-clock seconds after which the episode ends as a failure (None: no limit)."""
    started: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.recorder = EpisodeRecorder(self.writer, self.episode_id)

    def emit(self, event: tr.Event) -> None:
        self.recorder.emit(event)

    # ---- environment --------------------------------------------------------------------
    def reset(self) -> Mapping[str, Any]:
        self.obs, self.info = _env_call(self.env.reset, options={"problem": self.problem_id})
        env = getattr(self.env, "unwrapped", self.env)
        if self.problem is None:
            self.problem = getattr(env, "problem", None)
        self.config = env_config(env)
        info = {**self.info, "problem_id": self.problem_id}
        self.recorder.start(
            self.env,
            dict(self.obs),
            info,
            agent=self.agent,
            model=self.model,
            attempt=self.attempt,
            meta={"sample": self.sample, "run_settings_hash": self.run_settings_hash},
        )
        return self.obs

    @property
    def target(self) -> str:
        return str(self.obs.get("function_name", ""))

    @property
    def must_submit(self) -> bool:
        return bool(self.obs.get("must_submit", 0))

    def status_line(self) -> str:
        return vocabulary.status_line(self.obs, self.done)

    def feedback_text(self, view: StepView) -> str:
        """The answer to a tool call, as :func:`vocabulary.tool_observation` words it."""
        return vocabulary.tool_observation(view.obs, self.done, self.shown_line_chars)

    def shown(self, text: str) -> str:
        """``text`` as a model sees it: every line clipped to ``shown_line_chars``."""
        return vocabulary.clip_lines(text, self.shown_line_chars)

    def query(self, text: str, call_id: str | None = None) -> StepView:
        return self._step(QUERY, text, call_id)

    def submit(self, code: str, call_id: str | None = None) -> StepView:
        return self._step(SUBMIT, code, call_id)

    def _step(self, kind: int, text: str, call_id: str | None) -> StepView:
        if self.done:
            raise EpisodeOver("the episode is already over")
        self._check_time()
        action = {"kind": kind, "text": text}
        self.steps = self.recorder.action(action, call_id)
        obs, reward, terminated, truncated, info = _env_call(self.env.step, action)
        invalid_before = int(self.info.get("invalid_actions") or 0)
        self.obs, self.info, self.reward = obs, info, float(reward)
        self.done = bool(terminated or truncated)
        self.recorder.response(obs, reward, terminated, truncated, info)
        if int(info.get("invalid_actions") or 0) > invalid_before:
            self._count_invalid("the environment rejected the action")
        else:
            self.invalid_in_a_row = 0
        return StepView(str(obs.get("feedback", "")), obs, info, float(reward), self.done)

    def _check_time(self) -> None:
        limit = self.time_limit_s
        if limit is not None and not self.done and time.monotonic() - self.started > limit:
            raise EpisodeOver(f"time limit of {limit:g} s per episode reached")

    def _count_invalid(self, what: str) -> None:
        self.invalid_in_a_row += 1
        cap = self.max_invalid_in_a_row
        if cap is not None and self.invalid_in_a_row >= cap and not self.done:
            raise EpisodeOver(f"{self.invalid_in_a_row} invalid actions in a row (last: {what})")

    # ---- conversation -------------------------------------------------------------------
    def say(self, role: tr.Role, content: str, *, privileged: bool = False, **extra: Any) -> None:
        """Record a message we sent to the model (system, user or tool)."""
        self.emit(
            tr.ModelMessage(
                self.episode_id, role=role, content=content, privileged=privileged, **extra
            )
        )

    def heard(self, reply: ModelReply) -> None:
        """Record a model reply and count its cost."""
        self.replies += 1
        if self.run_replied is not None:
            self.run_replied.set()
        self.prompt_tokens += reply.prompt_tokens
        self.completion_tokens += reply.completion_tokens
        self.cost_usd += reply.cost_usd
        self.emit(
            tr.ModelMessage(
                self.episode_id,
                role="assistant",
                content=reply.content,
                tool_calls=reply.tool_calls,
                prompt_tokens=reply.prompt_tokens,
                completion_tokens=reply.completion_tokens,
                cost_usd=reply.cost_usd,
                duration_s=reply.duration_s,
            )
        )
        self._check_time()

    def invalid_reply(self, message: str) -> None:
        self.invalid_replies += 1
        self.recorder.error("agent", message)
        self._count_invalid(message)

    # ---- result -------------------------------------------------------------------------
    def outcome(self) -> tuple[tr.EpisodeStatus, str]:
        """The grade the environment gave, once the agent has stopped playing."""
        env_outcome = str(self.info.get("outcome", ""))
        if env_outcome == "infra_error" or self.info.get("infra_error"):
            return "infra_error", str(self.info.get("infra_error") or "sandbox failure")
        if self.done and self.reward > 0:
            return "success", ""
        reason = self.info.get("verdict_reason")
        why = f"; last verdict: {reason}" if reason else ""
        if not self.done:
            return "failure", f"the agent stopped before the episode ended{why}"
        return "failure", f"{env_outcome}{why}"

    def finish(self, status: tr.EpisodeStatus, message: str = "") -> EpisodeResult:
        info = self.info
        solved = status == "success"
        b_io, b_oracle = self.config.b_io, self.config.b_oracle
        end = self.recorder.end(
            status,
            reward=self.reward,
            message=message,
            n_io=int(info.get("n_io_used", 0)),
            n_oracle=int(info.get("n_oracle_used", 0)),
            # The env's paper metrics describe its own outcome; an episode we stop early
            # (invalid replies, errors) is a failure whatever the env still thinks.
            paper_io=int(info.get("paper_io", b_io)) if solved else b_io,
            paper_oracle=int(info.get("paper_oracle", b_oracle)) if solved else b_oracle,
            turns=self.steps,
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
            cost_usd=self.cost_usd,
        )
        p = self.problem
        return EpisodeResult(
            **tr.outcome_fields(end),
            problem_id=self.problem_id,
            agent=self.agent,
            model=self.model,
            variant=p.variant if p else str(info.get("variant", "")),
            source=p.source if p else str(info.get("source", "")),
            index=p.index if p else int(info.get("index", -1)),
            quirks=p.quirks.flags() if p else tuple(info.get("quirks", ())),
            invalid_replies=self.invalid_replies,
            attempts=self.attempt,
            sample=self.sample,
            run_settings_hash=self.run_settings_hash,
            episode_id=self.episode_id,
        )


class Agent(Protocol):
    """Plays one episode through :class:`Episode`; may raise :class:`EpisodeOver` to give up."""

    name: str

    def play(self, episode: Episode) -> None: ...


def run_episode(
    agent: Agent,
    env: Any,
    problem_id: str,
    *,
    problem: HiddenFunction | None = None,
    model_name: str = "",
    writer: tr.TraceWriter | None = None,
    attempt: int = 1,
    sample: int = 0,
    run_settings_hash: str = "",
    max_invalid_in_a_row: int | None = MAX_INVALID_IN_A_ROW,
    run_replied: threading.Event | None = None,
    time_limit_s: float | None = None,
) -> EpisodeResult:
    """Run ``agent`` on ``problem_id`` and account for every way the episode can end.

    A :class:`FatalModelError`, a prompt that overflows the model's context before its first
    reply, and a request the provider rejects before the model has answered anything in the
    run (``run_replied`` unset) are recorded in the trace and raised as
    :class:`FatalModelError`: every other episode would fail alike.
    """
    episode = Episode(
        env,
        problem,
        problem_id,
        agent.name,
        model_name,
        writer,
        attempt,
        sample=sample,
        run_settings_hash=run_settings_hash,
        max_invalid_in_a_row=max_invalid_in_a_row,
        run_replied=run_replied,
        time_limit_s=time_limit_s,
    )
    try:
        episode.reset()
        agent.play(episode)
        return episode.finish(*episode.outcome())
    except EpisodeOver as exc:
        return episode.finish("failure", str(exc))
    except ContextOverflowError as exc:
        episode.recorder.error("context_overflow", str(exc))
        if episode.replies == 0:
            raise FatalModelError(
                f"the first prompt does not fit the model's context window ({exc})"
            ) from None
        # The model's context is part of the agent: running out of it mid-episode is a
        # graded failure, recorded apart so it can be counted.
        return episode.finish("failure", f"context overflow: {exc}")
    except FatalModelError as exc:
        episode.recorder.error("api", str(exc), type(exc).__name__)
        raise
    except RequestRejectedError as exc:
        episode.recorder.error("api", str(exc), type(exc).__name__)
        answered = episode.replies > 0 or (run_replied is not None and run_replied.is_set())
        if not answered:
            raise FatalModelError(
                f"the provider rejected the first request of the run: {exc}"
            ) from None
        # The model has answered before: this conversation, not the set-up, is at fault.
        return episode.finish("api_error", str(exc))
    except ModelError as exc:
        episode.recorder.error("api", str(exc), type(exc).__name__, exc.retryable)
        return episode.finish("api_error", str(exc))
    except CodeARCError as exc:
        episode.recorder.error("infra", str(exc), type(exc).__name__, retryable=True)
        return episode.finish("infra_error", f"{type(exc).__name__}: {exc}")
    except Exception as exc:  # a bug in an agent must not take the whole run down
        episode.recorder.error("internal", str(exc), type(exc).__name__)
        return episode.finish("agent_error", f"{type(exc).__name__}: {exc}")
