"""CodeARCEnv: reconstruct a hidden Python function from examples, queries and an oracle.

One episode is one hidden function. The agent sees its name and 10 examples, then acts:
``{"kind": 0, "text": "f(1)\\nf(2)"}`` queries the function (one I/O per call), and
``{"kind": 1, "text": "def f(x): ..."}`` submits a program to the differential-testing
oracle. Budgets and termination follow :mod:`codearc_env.protocol`.

Mistakes of the agent are observations; failures of the harness (a sandbox that dies) raise
:class:`codearc_env.errors.SandboxError`, or with ``on_infra_error="truncate"`` end the
episode as truncated with ``info["infra_error"]`` set, so they never count as agent failures.

Two sandboxes per environment, started on first use: the *reference* sandbox runs the hidden
function (queries, and the oracle's reference side), the *candidate* sandbox runs
submissions, so a candidate never shares a process tree with the hidden function. Many
environments in one process can share a :class:`codearc_env.sandbox.pool.SandboxPool`
instead (``pool=``): its two disjoint halves play the same two roles, and the environments
on one pool with the same oracle settings share one oracle, so its reference tables stay warm.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import gymnasium as gym
from gymnasium.error import ClosedEnvironmentError, ResetNeeded

from codearc_env.actions import Invalid, Query, Submit, parse_action
from codearc_env.config import DEFAULT_CONFIG, EnvConfig
from codearc_env.errors import SandboxError
from codearc_env.functions.calls import ParsedCall
from codearc_env.functions.spec import HiddenFunction
from codearc_env.oracle.verdict import Verdict
from codearc_env.problems import ProblemSet, load_problems
from codearc_env.protocol import EpisodeState
from codearc_env.query import initial_pairs, run_calls
from codearc_env.render import (
    Transcript,
    invalid_feedback,
    observation,
    query_feedback,
    verdict_feedback,
)
from codearc_env.sandbox.base import Limits, Sandbox
from codearc_env.sandbox.pool import SandboxPool
from codearc_env.spaces import action_space, observation_space


class OracleLike(Protocol):
    def check(
        self, fn: HiddenFunction, candidate_source: str, extra_inputs: Any = ()
    ) -> Verdict: ...


class CodeARCEnv(gym.Env[dict[str, Any], dict[str, Any]]):
    """The CodeARC benchmark as a Gymnasium environment (see docs/env.md).

    Args:
        variant: ``"annotated"`` (descriptive names) or ``"anonymized"`` (target ``solution``).
        split: which problems to draw from: ``all``, ``clean``, ``humaneval+``, ``mbpp+``,
            ``apps``, or ``builtin`` (our own suite, needs no data).
        problem: always play this problem (an id such as ``"annotated/12"``, or an index).
        data_dir: where the CodeARC data is (default: ``$CODEARC_DATA_DIR``, cache, download).
        backend: sandbox backend (``"docker"``, ``"bwrap"``, ``"process"``; None: strongest).
        config: the episode's budgets and oracle settings (default: :class:`EnvConfig`'s,
            the paper's main setting); kept as ``env.config``.
        b_io, b_oracle, max_turns, oracle_seed, oracle_strength, on_infra_error: replace that
            field of ``config`` (None: keep it); see :class:`~codearc_env.config.EnvConfig`.
        render_mode: None or ``"ansi"`` (``render()`` returns the agent's text).
        limits: per-call sandbox limits for both sandboxes.
        problems: play these problems instead of loading a split.
        reference_sandbox, candidate_sandbox, oracle: injected components (not closed by the
            env); by default the env makes and owns its own.
        pool: a shared :class:`~codearc_env.sandbox.pool.SandboxPool` to run on instead of
            sandboxes of its own (not closed by the env; give ``backend`` and ``limits`` to
            the pool).
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 1}

    def __init__(
        self,
        variant: str = "annotated",
        split: str = "all",
        problem: str | int | None = None,
        data_dir: str | Path | None = None,
        backend: str | None = None,
        b_io: int | None = None,
        b_oracle: int | None = None,
        max_turns: int | None = None,
        oracle_seed: int | None = None,
        oracle_strength: str | None = None,
        render_mode: str | None = None,
        on_infra_error: str | None = None,
        limits: Limits | None = None,
        problems: Sequence[HiddenFunction] | None = None,
        reference_sandbox: Sandbox | None = None,
        candidate_sandbox: Sandbox | None = None,
        oracle: OracleLike | None = None,
        pool: SandboxPool | None = None,
        config: EnvConfig | None = None,
    ) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None or 'ansi', not {render_mode!r}")
        self.config = (config or DEFAULT_CONFIG).with_overrides(
            b_io=b_io,
            b_oracle=b_oracle,
            max_turns=max_turns,
            oracle_seed=oracle_seed,
            oracle_strength=oracle_strength,
            on_infra_error=on_infra_error,
        )
        self.render_mode = render_mode
        self.variant = variant
        if problems is not None:
            self.problem_set = ProblemSet.of(problems, "the given problems")
        else:
            self.problem_set = load_problems(variant, split, data_dir)
        self._fixed = self.problem_set.get(problem) if problem is not None else None

        self.action_space = action_space()
        cfg = self.config
        self.observation_space = observation_space(cfg.b_io, cfg.b_oracle, cfg.max_turns)

        self._owned: list[Sandbox] = []
        self.pool = pool
        if pool is not None:
            clash = [name for name, given in (
                ("reference_sandbox", reference_sandbox), ("candidate_sandbox", candidate_sandbox),
                ("backend", backend), ("limits", limits)) if given is not None]
            if clash:
                raise ValueError(f"pool= replaces {', '.join(clash)}: give them to the pool")
            reference_sandbox, candidate_sandbox = pool.reference, pool.candidate
        self._reference = (
            reference_sandbox if reference_sandbox is not None else self._own(backend, limits)
        )
        self._candidate = (
            candidate_sandbox if candidate_sandbox is not None else self._own(backend, limits)
        )
        self._started: set[int] = set()
        self._closed = False
        # Made now so that a bad oracle setting fails at construction, not at the first submit.
        self._oracle = oracle if oracle is not None else self._make_oracle()

        self._fn: HiddenFunction | None = None
        self._state: EpisodeState | None = None
        self._pairs = Transcript()
        self._queried: list[ParsedCall] = []
        self._feedback = ""
        self._quirks: tuple[HiddenFunction | None, tuple[str, ...]] = (None, ())
        """The last problem's quirk flags, with the problem they are of (info shows them at
        every step)."""

    # ---- components ----------------------------------------------------------------------
    def _own(self, backend: str | None, limits: Limits | None) -> Sandbox:
        from codearc_env.sandbox import make_sandbox

        sandbox = make_sandbox(backend, limits)
        self._owned.append(sandbox)
        return sandbox

    def _ready(self, sandbox: Sandbox) -> Sandbox:
        if self._closed:
            raise SandboxError("the environment is closed")
        if id(sandbox) not in self._started:
            sandbox.start()
            self._started.add(id(sandbox))
        return sandbox

    def _make_oracle(self) -> OracleLike:
        from codearc_env.oracle import Oracle

        seed, strength = self.config.oracle_seed, self.config.oracle_strength
        if self.pool is not None:
            return shared_oracle(self.pool, seed, strength)
        return Oracle(self._reference, self._candidate, seed=seed, strength=strength)

    @property
    def problem(self) -> HiddenFunction | None:
        """The current hidden function (for wrappers and evaluation code, not for agents)."""
        return self._fn

    @property
    def state(self) -> EpisodeState | None:
        return self._state

    # ---- gymnasium API -------------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        super().reset(seed=seed)
        options = dict(options or {})
        unknown = sorted(set(options) - {"problem"})
        if unknown:
            raise ValueError(f"unknown reset options: {', '.join(map(str, unknown))}")
        if options.get("problem") is not None:
            fn = self.problem_set.get(options["problem"])
        elif self._fixed is not None:
            fn = self._fixed
        else:
            fn = self.problem_set.draw(self.np_random)
        self._fn = fn
        self._pairs = Transcript(initial_pairs(fn))
        self._state = EpisodeState(self.config, n_initial=len(self._pairs))
        self._queried = []
        self._feedback = ""
        # The hidden function's warm process, started before the first query needs it (on a
        # pool in the background; an own sandbox only once started, so reset starts nothing).
        if not self._closed and (self.pool is not None or id(self._reference) in self._started):
            self._reference.warm(fn.code, fn.target)
        return self._observation(), self._info(action=None)

    def step(
        self, action: dict[str, Any]
    ) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        if self._closed:
            raise ClosedEnvironmentError("the environment is closed")
        state, fn = self._state, self._fn
        if state is None or fn is None:
            raise ResetNeeded("call reset() before step()")
        if state.done:
            raise ResetNeeded("the episode is over: call reset() before step()")
        state.start_turn()
        parsed = parse_action(action, fn.target)
        if isinstance(parsed, Query) and state.io_left == 0:
            parsed = Invalid("no queries left: the I/O budget is spent; submit a program", "query")
        verdict: dict[str, Any] = {}
        infra_error: str | None = None
        try:
            if isinstance(parsed, Invalid):
                state.invalid()
                self._feedback = invalid_feedback(parsed.reason, ends_episode=state.done)
            elif isinstance(parsed, Query):
                self._run_query(state, fn, parsed)
            else:
                verdict = self._run_submit(state, fn, parsed)
        except SandboxError as exc:
            if self.config.on_infra_error == "raise":
                raise
            infra_error = str(exc)
            state.outcome = "infra_error"
            self._feedback = "The harness failed (not your fault); the episode is cut short."
        truncated = state.end_turn() or state.outcome == "infra_error"
        terminated = state.outcome in ("solved", "failed", "no_final_submission")
        reward = 1.0 if state.solved else 0.0
        kind = parsed.kind if isinstance(parsed, Invalid) else type(parsed).__name__.lower()
        info = self._info(action=kind, verdict=verdict, infra_error=infra_error)
        return self._observation(), reward, terminated, truncated, info

    async def astep(
        self, action: dict[str, Any]
    ) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        """:meth:`step` without blocking the event loop: it runs on the pool's threads (or
        the loop's default executor when the env has no pool)."""
        if self.pool is not None:
            return await self.pool.submit(lambda: self.step(action))
        import asyncio

        return await asyncio.to_thread(self.step, action)

    def _run_query(self, state: EpisodeState, fn: HiddenFunction, query: Query) -> None:
        n = state.affordable(len(query.calls))
        pairs = run_calls(self._ready(self._reference), fn, query.calls[:n])
        state.charge_io(n)
        self._pairs.extend(pairs)
        self._queried.extend(query.calls[:n])
        self._feedback = query_feedback(pairs, len(query.calls), state.io_left)

    def _run_submit(self, state: EpisodeState, fn: HiddenFunction, submit: Submit) -> dict[str, Any]:
        self._ready(self._reference)
        self._ready(self._candidate)
        verdict = self._oracle.check(fn, submit.source, extra_inputs=tuple(self._queried))
        state.record_submission(bool(verdict.passed))
        cx = verdict.counterexample
        shown = cx.feedback() if cx is not None else (verdict.reason or None)
        self._feedback = verdict_feedback(bool(verdict.passed), shown, state.oracle_left)
        return {
            "verdict": "pass" if verdict.passed else "fail",
            "verdict_reason": str(verdict.reason),
            "counterexample": cx,
            "oracle_inputs": int(verdict.n_inputs),
            "oracle_verdict": verdict,
        }

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        if self._state is None or self._fn is None:
            return "The environment has not been reset."
        return str(self._observation()["text"])

    def close(self) -> None:
        """Stop the sandboxes this env made (idempotent; injected ones are left alone)."""
        if self._closed:
            return
        self._closed = True
        errors = []
        for sandbox in self._owned:
            try:
                sandbox.close()
            except Exception as exc:  # close every sandbox even if one fails
                errors.append(exc)
        self._owned.clear()
        super().close()
        if errors:
            raise SandboxError(f"closing a sandbox failed: {errors[0]}") from errors[0]

    # ---- observation and info ------------------------------------------------------------
    def _current(self) -> tuple[EpisodeState, HiddenFunction]:
        if self._state is None or self._fn is None:
            raise ResetNeeded("call reset() before step()")
        return self._state, self._fn

    def _observation(self) -> dict[str, Any]:
        state, fn = self._current()
        return observation(state, fn.target, self._pairs, self._feedback)

    def _info(
        self,
        action: str | None,
        verdict: dict[str, Any] | None = None,
        infra_error: str | None = None,
    ) -> dict[str, Any]:
        state, fn = self._current()
        verdict = verdict or _NO_VERDICT
        of, quirks = self._quirks
        if of is not fn:
            quirks = tuple(fn.quirks.flags())
            self._quirks = (fn, quirks)
        return {
            "problem_id": fn.problem_id,
            "index": fn.index,
            "variant": fn.variant,
            "source": fn.source,
            "quirks": quirks,
            "action": action,
            "n_io_used": state.io_used,
            "n_oracle_used": state.oracle_used,
            "turn": state.turns,
            "invalid_actions": state.invalid_actions,
            "forced_final": state.forced_final,
            "outcome": state.outcome,
            "solved": state.solved,
            "verdict": verdict.get("verdict"),
            "verdict_reason": verdict.get("verdict_reason"),
            "counterexample": verdict.get("counterexample"),
            "oracle_inputs": verdict.get("oracle_inputs", 0),
            "oracle_verdict": verdict.get("oracle_verdict"),
            "paper_io": state.paper_io(),
            "paper_oracle": state.paper_oracle(),
            "infra_error": infra_error,
        }


_NO_VERDICT: dict[str, Any] = {}
"""The verdict fields of a step that made no submission (read, never written)."""

_SHARED_LOCK = threading.Lock()
_SHARED_ORACLES = "_codearc_shared_oracles"
"""The attribute of a pool that holds its oracles by settings. It lives on the pool, so it
goes when the pool goes: a global table keyed weakly by the pool would keep every pool alive
for ever, since its oracles hold the pool's two sides, which hold the pool."""


def shared_oracle(pool: SandboxPool, seed: int, strength: str) -> OracleLike:
    """The one oracle of ``pool`` for these settings: every env on the pool with the same
    settings uses it, so a reference table computed for one episode serves the others."""
    from codearc_env.oracle import Oracle

    with _SHARED_LOCK:
        by_settings: dict[tuple[int, str], OracleLike] = vars(pool).setdefault(_SHARED_ORACLES, {})
        oracle = by_settings.get((seed, strength))
        if oracle is None:
            oracle = Oracle(pool.reference, pool.candidate, seed=seed, strength=strength)
            by_settings[(seed, strength)] = oracle
        return oracle
