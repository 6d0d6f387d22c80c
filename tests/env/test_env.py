"""The episode protocol of CodeARCEnv, played on toy problems with test doubles."""

from __future__ import annotations

from typing import Any

import pytest
from gymnasium.error import ClosedEnvironmentError, ResetNeeded

from codearc_env.config import EnvConfig
from codearc_env.env import CodeARCEnv
from codearc_env.errors import SandboxError
from codearc_env.functions import UnknownProblemError
from codearc_env.testing import TOY_SOLUTIONS, FakeCounterexample

ADD = "builtin/annotated/add"
WRONG_ADD = "def add(a, b):\n    return a - b"


def query(text: str) -> dict[str, Any]:
    return {"kind": 0, "text": text}


def submit(text: str) -> dict[str, Any]:
    return {"kind": 1, "text": text}


def start(env: CodeARCEnv, problem: str = ADD) -> tuple[dict[str, Any], dict[str, Any]]:
    return env.reset(seed=0, options={"problem": problem})


def test_reset_shows_name_and_examples_only(toy_env: CodeARCEnv) -> None:
    obs, info = start(toy_env)
    assert obs["function_name"] == "add"
    assert obs["calls"][:2] == ("add(0, -3)", "add(1, -1)")
    assert obs["outputs"][:2] == ("-3", "0")
    assert obs["errored"] == (0,) * 10
    assert obs["examples"].splitlines()[0] == "add(0, -3) -> -3"
    assert (obs["io_left"], obs["oracle_left"], obs["turns_left"], obs["must_submit"]) == (
        20, 2, 50, 0)
    assert obs["feedback"] == ""
    assert "# stands for" not in obs["text"]  # the hidden source never shows
    assert toy_env.render() == obs["text"]
    assert info["problem_id"] == ADD and info["n_io_used"] == 10 and info["outcome"] == "running"
    assert obs in toy_env.observation_space


def test_errored_example_shows_message(toy_env: CodeARCEnv) -> None:
    obs, _ = start(toy_env, "builtin/annotated/first")
    assert obs["errored"][-1] == 1
    assert obs["examples"].splitlines()[-1] == "first([]) -> error: list index out of range"


def test_query_costs_one_io_per_call_and_shows_type_and_message(toy_env: CodeARCEnv) -> None:
    start(toy_env, "builtin/annotated/first")
    obs, reward, terminated, truncated, info = toy_env.step(query("first([7, 8])\nfirst([])"))
    assert obs["feedback"] == (
        "first([7, 8]) -> 7\nfirst([]) -> error: IndexError: list index out of range\n"
        "Queries left: 18."
    )
    assert obs["calls"][-2:] == ("first([7, 8])", "first([])")
    assert obs["errored"][-2:] == (0, 1)
    assert (reward, terminated, truncated) == (0.0, False, False)
    assert info["n_io_used"] == 12 and info["action"] == "query" and obs["io_left"] == 18


def test_query_beyond_budget_runs_affordable_prefix(make_env: Any) -> None:
    env = make_env(b_io=12)
    start(env)
    obs, *_, info = env.step(query("add(1, 1)\nadd(2, 2)\nadd(3, 3)"))
    assert obs["calls"][-2:] == ("add(1, 1)", "add(2, 2)")
    assert "Only 2 of the 3 calls ran" in obs["feedback"]
    assert info["n_io_used"] == 12 and obs["io_left"] == 0 and obs["must_submit"] == 1
    assert env.unwrapped._reference.calls == 2


def test_invalid_query_costs_a_turn_only(toy_env: CodeARCEnv) -> None:
    start(toy_env)
    obs, reward, terminated, truncated, info = toy_env.step(query("__import__('os')"))
    assert obs["feedback"] == (
        "Invalid action: invalid query: statement 1: the call must be of 'add', not "
        "'__import__'\nThis action cost a turn and nothing else."
    )
    assert (info["n_io_used"], info["invalid_actions"], info["turn"]) == (10, 1, 1)
    assert not terminated and not truncated
    assert toy_env.unwrapped._reference.calls == 0


def test_one_bad_call_invalidates_the_whole_query(toy_env: CodeARCEnv) -> None:
    start(toy_env)
    obs, *_, info = toy_env.step(query("add(1, 2)\nprint(open('/etc/passwd'))"))
    assert obs["feedback"].startswith("Invalid action: invalid query: statement 2:")
    assert info["n_io_used"] == 10


def test_pass_ends_with_reward_one_and_paper_metrics(toy_env: CodeARCEnv) -> None:
    start(toy_env)
    toy_env.step(query("add(5, 5)"))
    obs, reward, terminated, truncated, info = toy_env.step(submit(TOY_SOLUTIONS[ADD]))
    assert (reward, terminated, truncated) == (1.0, True, False)
    assert info["verdict"] == "pass" and info["outcome"] == "solved"
    assert (info["paper_io"], info["paper_oracle"]) == (1, 1)
    assert obs["feedback"].startswith("Correct")


def test_first_failure_returns_counterexample_then_final_attempt_fails(toy_env: CodeARCEnv) -> None:
    start(toy_env)
    obs, reward, terminated, _, info = toy_env.step(submit(WRONG_ADD))
    assert (reward, terminated) == (0.0, False)
    assert info["verdict"] == "fail"
    assert info["counterexample"] == FakeCounterexample("add(0, -3)", "-3", "something else")
    assert "Input: add(0, -3)" in obs["feedback"] and "Submissions left: 1." in obs["feedback"]
    obs, reward, terminated, truncated, info = toy_env.step(submit(WRONG_ADD))
    assert (reward, terminated, truncated) == (0.0, True, False)
    assert info["outcome"] == "failed"
    assert (info["paper_io"], info["paper_oracle"]) == (30, 2)
    assert obs["feedback"].endswith("No submissions left: the episode is over.")


def test_oracle_sees_the_agents_queries(toy_env: CodeARCEnv) -> None:
    start(toy_env)
    toy_env.step(query("add(7, 8)"))
    toy_env.step(submit(WRONG_ADD))
    (_, _, extra), = toy_env.unwrapped._oracle.checks
    assert [(c.args, c.text) for c in extra] == [((7, 8), "add(7, 8)")]


def test_forced_final_attempt_query_ends_episode(make_env: Any) -> None:
    env = make_env(b_io=10, b_oracle=1)
    obs, info = start(env)
    assert obs["must_submit"] == 1 and info["forced_final"]
    assert "your next action must be a submission" in obs["text"]
    obs, reward, terminated, truncated, info = env.step(query("add(1, 2)"))
    assert (reward, terminated, truncated) == (0.0, True, False)
    assert info["outcome"] == "no_final_submission" and info["invalid_actions"] == 1
    assert obs["feedback"].endswith("the episode is over.")


def test_forced_final_attempt_submission_is_graded(make_env: Any) -> None:
    env = make_env(b_io=11)
    start(env)
    env.step(query("add(1, 2)"))
    _, _, terminated, _, info = env.step(submit(WRONG_ADD))  # counterexample, one call left
    assert not terminated and info["forced_final"]
    _, reward, terminated, _, info = env.step(submit(TOY_SOLUTIONS[ADD]))
    assert (reward, terminated, info["outcome"]) == (1.0, True, "solved")


def test_query_without_io_but_two_submissions_left_is_invalid(make_env: Any) -> None:
    env = make_env(b_io=10)
    start(env)
    obs, _, terminated, _, info = env.step(query("add(1, 2)"))
    assert not terminated and info["invalid_actions"] == 1
    assert "no queries left" in obs["feedback"]


def test_turn_cap_truncates(make_env: Any) -> None:
    env = make_env(max_turns=2)
    start(env)
    assert env.step(query("add(1, 1)"))[3] is False
    obs, reward, terminated, truncated, info = env.step(query("nonsense("))
    assert (terminated, truncated, info["outcome"]) == (False, True, "truncated")
    assert (info["paper_io"], info["paper_oracle"]) == (30, 2)
    with pytest.raises(ResetNeeded, match="the episode is over"):
        env.step(query("add(1, 1)"))


def test_step_before_reset_raises(toy_env: CodeARCEnv) -> None:
    with pytest.raises(ResetNeeded, match=r"call reset\(\) before step\(\)"):
        toy_env.step(query("add(1, 1)"))


def test_infra_error_raises_by_default(toy_env: CodeARCEnv) -> None:
    start(toy_env)
    toy_env.unwrapped._reference.fail_with = "worker died"
    with pytest.raises(SandboxError, match="the sandbox failed while running a query: worker died"):
        toy_env.step(query("add(1, 1)"))


def test_infra_error_can_truncate_instead(make_env: Any) -> None:
    env = make_env(on_infra_error="truncate")
    start(env)
    env.unwrapped._reference.fail_with = "worker died"
    _, reward, terminated, truncated, info = env.step(query("add(1, 1)"))
    assert (reward, terminated, truncated) == (0.0, False, True)
    assert info["outcome"] == "infra_error"
    assert info["infra_error"] == "the sandbox failed while running a query: worker died"
    assert info["n_io_used"] == 10  # not charged


def test_unknown_problem_is_a_clear_error(make_env: Any) -> None:
    with pytest.raises(UnknownProblemError, match="no problem 'annotated/99999' in the given"):
        make_env(problem="annotated/99999")
    env = make_env()
    with pytest.raises(UnknownProblemError, match="no problem with index 42 in the given"):
        env.reset(options={"problem": 42})
    with pytest.raises(ValueError, match="unknown reset options: problme"):
        env.reset(options={"problme": ADD})
    assert start(env)[1]["problem_id"] == ADD  # still usable


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"b_io": -1}, "b_io must be >= 0, got -1"),
        ({"b_oracle": 0}, "b_oracle must be >= 1, got 0"),
        ({"max_turns": "5"}, "max_turns must be an int, not str"),
        ({"render_mode": "human"}, "render_mode must be None or 'ansi', not 'human'"),
        ({"on_infra_error": "ignore"}, "on_infra_error must be 'raise' or 'truncate', not 'ignore'"),
    ],
)
def test_bad_construction_arguments(make_env: Any, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises((ValueError, TypeError), match=f"^{message}$"):
        make_env(**kwargs)


def test_config_holds_the_settings_and_keywords_replace_its_fields(make_env: Any) -> None:
    assert make_env().config == EnvConfig()
    given = EnvConfig(b_io=12, b_oracle=3, max_turns=9, oracle_seed=5)
    assert make_env(config=given).config is given
    env = make_env(config=given, b_io=15, oracle_strength="fast", on_infra_error="truncate")
    assert env.config == EnvConfig(
        b_io=15, b_oracle=3, max_turns=9, oracle_seed=5, oracle_strength="fast",
        on_infra_error="truncate",
    )
    obs, _ = start(env)
    assert (obs["io_left"], obs["oracle_left"], obs["turns_left"]) == (15 - len(obs["calls"]), 3, 9)


def test_fixed_problem_and_seeded_draws(make_env: Any) -> None:
    env = make_env(problem="builtin/annotated/shout")
    assert {env.reset(seed=s)[1]["problem_id"] for s in range(5)} == {"builtin/annotated/shout"}
    env = make_env()
    draws = [env.reset(seed=s)[1]["problem_id"] for s in range(30)]
    assert draws == [env.reset(seed=s)[1]["problem_id"] for s in range(30)]
    assert len(set(draws)) == 3


def test_same_seed_and_actions_give_same_observations(make_env: Any) -> None:
    actions = [query("add(1, 2)"), query("add("), submit(WRONG_ADD), query("add(3, 4)")]

    def play() -> list[Any]:
        env = make_env()
        out = [env.reset(seed=7)]
        out += [env.step(a) for a in actions]
        return out

    assert play() == play()


def test_close_is_idempotent_and_releases_only_owned_sandboxes(make_env: Any) -> None:
    env = make_env()
    reference = env.unwrapped._reference
    start(env)
    env.step(query("add(1, 2)"))
    env._owned.append(reference)  # pretend the env made it
    env.close()
    env.close()
    assert reference.closed == 1
    with pytest.raises(ClosedEnvironmentError, match="the environment is closed"):
        env.step(query("add(1, 2)"))


def test_sandboxes_start_lazily_once(make_env: Any) -> None:
    env = make_env()
    start(env)
    reference, candidate = env.unwrapped._reference, env.unwrapped._candidate
    assert (reference.started, candidate.started) == (0, 0)
    env.step(query("add(1, 2)"))
    env.step(query("add(1, 3)"))
    assert (reference.started, candidate.started) == (1, 0)
    env.step(submit(WRONG_ADD))
    assert (reference.started, candidate.started) == (1, 1)


def test_render_without_mode_returns_none(make_env: Any) -> None:
    env = make_env()
    start(env)
    assert env.render() is None


def test_bad_oracle_strength_fails_at_construction() -> None:
    with pytest.raises(ValueError, match="unknown strength 'nope'"):
        CodeARCEnv(split="builtin", backend="process", oracle_strength="nope")


def test_unknown_backend_fails_at_construction() -> None:
    with pytest.raises(ValueError, match="^unknown sandbox backend 'nope'; choose from "):
        CodeARCEnv(split="builtin", backend="nope")
