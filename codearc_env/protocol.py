"""Budgets and termination of one episode, as plain logic (no sandbox, no text).

The budgets are those of an :class:`~codearc_env.config.EnvConfig`. The rules
(CODEARC-SPEC section 1), made exact:

- ``b_io`` counts the initial examples: with 10 examples and a ``b_io`` of 30 the agent may
  query 20 calls. Each call costs one I/O; a query asking for more calls than remain runs only the
  affordable prefix.
- ``b_oracle`` submissions. A failing submission with oracle calls left returns a
  counterexample and the episode goes on; a failing submission with none left (the *final
  attempt*) ends the episode with reward 0. A passing submission ends it with reward 1.
- *Forced final attempt*: once no query is affordable and one oracle call remains, the next
  action must be a submission. Anything else (a query, a malformed action) ends the episode
  as a failure with outcome ``"no_final_submission"``.
- A query when no I/O is left but two or more oracle calls remain is an invalid action.
- Invalid actions cost a turn and nothing else. The episode is truncated after ``max_turns``
  actions (invalid ones included).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from codearc_env.config import EnvConfig

Outcome = Literal["running", "solved", "failed", "no_final_submission", "truncated", "infra_error"]


class EpisodeState:
    """Counters of one episode and the transitions the protocol allows."""

    def __init__(self, config: EnvConfig, n_initial: int) -> None:
        self.config = config
        # Read on every step, several times: kept here rather than looked up in the config
        # (an EnvConfig is frozen).
        self._b_io, self._b_oracle, self._max_turns = config.b_io, config.b_oracle, config.max_turns
        self.n_initial = n_initial
        # The initial examples are charged even when there are more of them than b_io.
        self.io_used = n_initial
        self.oracle_used = 0
        self.turns = 0
        self.invalid_actions = 0
        self.outcome: Outcome = "running"

    # ---- queries -------------------------------------------------------------------------
    @property
    def io_left(self) -> int:
        left = self._b_io - self.io_used
        return left if left > 0 else 0

    @property
    def oracle_left(self) -> int:
        return self._b_oracle - self.oracle_used

    @property
    def turns_left(self) -> int:
        left = self._max_turns - self.turns
        return left if left > 0 else 0

    @property
    def must_submit(self) -> bool:
        """No query is affordable: only a submission can make progress."""
        return self.io_left == 0

    @property
    def forced_final(self) -> bool:
        """Queries spent and one oracle call left: the next action must be a submission."""
        return self.io_left == 0 and self.oracle_left == 1

    @property
    def done(self) -> bool:
        return self.outcome != "running"

    def affordable(self, n_calls: int) -> int:
        """How many of ``n_calls`` requested calls the budget pays for."""
        return min(n_calls, self.io_left)

    def charge_io(self, n_calls: int) -> None:
        if n_calls > self.io_left:
            raise ValueError(f"cannot charge {n_calls} calls with {self.io_left} left")
        self.io_used += n_calls

    # ---- turns ---------------------------------------------------------------------------
    def start_turn(self) -> None:
        self.turns += 1

    def invalid(self) -> None:
        """An invalid action: it costs its turn; in the forced final attempt it ends the game."""
        self.invalid_actions += 1
        if self.forced_final:
            self.outcome = "no_final_submission"

    def end_turn(self) -> bool:
        """Apply the turn cap; True when the episode was truncated by it."""
        if not self.done and self.turns >= self._max_turns:
            self.outcome = "truncated"
            return True
        return False

    # ---- submissions ---------------------------------------------------------------------
    def record_submission(self, passed: bool) -> None:
        self.oracle_used += 1
        if passed:
            self.outcome = "solved"
        elif self.oracle_left == 0:
            self.outcome = "failed"

    # ---- metrics -------------------------------------------------------------------------
    @property
    def solved(self) -> bool:
        return self.outcome == "solved"

    def paper_io(self) -> int:
        """#I/O by the paper's convention: ``b_io`` unless solved, else the extra queries used."""
        return self.io_used - self.n_initial if self.solved else self.config.b_io

    def paper_oracle(self) -> int:
        """#Oracle by the paper's convention: ``b_oracle`` unless solved, else the calls used."""
        return self.oracle_used if self.solved else self.config.b_oracle
