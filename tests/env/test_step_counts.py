"""What a step shows is read from the episode's state once per observation and from the problem
once per episode: the prompt's closing line in each state of the protocol, the counts, and the
quirks of whichever problem is played."""

from __future__ import annotations

import dataclasses

from codearc_env.config import EnvConfig
from codearc_env.env import CodeARCEnv
from codearc_env.functions.spec import Quirks
from codearc_env.protocol import EpisodeState
from codearc_env.render import Transcript, observation, prompt_text
from codearc_env.testing import make_toy_env, toy_problems

ADD = "builtin/annotated/add"
OVER = "The episode is over."
FINAL = ("No queries left and one submission left: your next action must be a submission "
         "(the final attempt).")
ONLY_SUBMIT = "No queries left: only submissions are possible."


def _state(b_io: int, b_oracle: int, oracle_used: int = 0, outcome: str = "running") -> EpisodeState:
    state = EpisodeState(EnvConfig(b_io=b_io, b_oracle=b_oracle, max_turns=7), n_initial=10)
    state.oracle_used = oracle_used
    state.outcome = outcome  # type: ignore[assignment]
    return state


def test_the_prompt_ends_as_the_state_requires() -> None:
    cases = [
        (_state(30, 2), "Queries left: 20. Submissions left: 2. Turns left: 7."),
        (_state(10, 3), ONLY_SUBMIT),
        (_state(10, 2, oracle_used=1), FINAL),
        (_state(10, 1), FINAL),
        (_state(10, 1, outcome="failed"), OVER),
        (_state(30, 2, outcome="solved"), OVER),
    ]
    for state, last in cases:
        text = prompt_text(state, "f", Transcript(), "")
        assert text.split("\n")[-1] == last
        obs = observation(state, "f", Transcript(), "")
        assert obs["text"] == text
        assert (obs["io_left"], obs["oracle_left"], obs["turns_left"], obs["must_submit"]) == (
            state.io_left, state.oracle_left, state.turns_left, int(state.must_submit))


def test_counts_never_go_below_zero() -> None:
    state = EpisodeState(EnvConfig(b_io=5, b_oracle=2, max_turns=1), n_initial=10)
    state.start_turn()
    state.start_turn()
    assert (state.io_left, state.turns_left, state.must_submit) == (0, 0, True)


def test_info_shows_the_quirks_of_the_problem_played() -> None:
    add, shout, first = toy_problems()
    odd = dataclasses.replace(shout, quirks=Quirks(ill_posed=True, errored_examples=2))
    env: CodeARCEnv = make_toy_env(problems=[add, odd, first])
    try:
        assert env.reset(options={"problem": ADD})[1]["quirks"] == ()
        assert env.step({"kind": 0, "text": "add(1, 2)"})[4]["quirks"] == ()
        _, info = env.reset(options={"problem": odd.problem_id})
        assert info["quirks"] == ("ill_posed", "errored_examples")
        assert env.step({"kind": 0, "text": "shout('a')"})[4]["quirks"] == (
            "ill_posed", "errored_examples")
        assert env.reset(options={"problem": first.problem_id})[1]["quirks"] == ()
    finally:
        env.close()


def test_a_query_step_has_no_verdict_fields_and_a_submission_step_has_them() -> None:
    env: CodeARCEnv = make_toy_env()
    try:
        env.reset(options={"problem": ADD})
        info = env.step({"kind": 0, "text": "add(1, 2)"})[4]
        assert [info[k] for k in ("verdict", "verdict_reason", "counterexample",
                                  "oracle_inputs", "oracle_verdict")] == [None, None, None, 0, None]
        info = env.step({"kind": 1, "text": "def add(a, b):\n    return a - b"})[4]
        assert info["verdict"] == "fail"
        info = env.step({"kind": 0, "text": "add(2, 2)"})[4]
        assert info["verdict"] is None and info["oracle_inputs"] == 0
    finally:
        env.close()
