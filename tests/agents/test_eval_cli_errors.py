"""``codearc eval`` / ``collect``: usage errors, provider errors after the first reply, the
per-episode time limit, and what reaches ``litellm.completion``.

Same toy set-up as test_eval_cli.py (toy problems, real runner and settings record).
"""

from __future__ import annotations

import json

import pytest
from fake_provider import fake_provider
from test_eval_cli import eval_argv, lines, main

from codearc_env import cli as codearc_cli
from codearc_env.agents.evaluate import EvalConfig

litellm = pytest.importorskip("litellm")


def test_collect_without_a_teacher_is_a_usage_error(tmp_path, capsys):
    code = codearc_cli.main(["collect", "--out", str(tmp_path / "run"), "--no-progress"])
    assert code == 2  # 1 would read as a FAIL verdict
    assert capsys.readouterr().err == (
        "codearc: error: collect needs a teacher model: pass --teacher MODEL\n"
    )
    assert not (tmp_path / "run").exists()


def test_a_value_error_inside_the_run_is_a_bug_not_a_usage_error(toy_cli, tmp_path, capsys):
    with pytest.raises(ValueError, match="a bug inside the model factory"):
        main(eval_argv(tmp_path / "run", model="py:toys:broken_factory"))
    assert "codearc: error:" not in capsys.readouterr().err


def test_a_rejected_request_after_the_first_reply_is_an_api_error(toy_cli, tmp_path):
    toy_cli["n"] = 2
    out = tmp_path / "run"
    # The first request is answered (with no action); every later one is a 400.
    with fake_provider([200, 400], reply="no action here") as (api_base, provider):
        argv = eval_argv(
            out, "--api-base", api_base, "--agent", "text", "--max-attempts", "1", model="openai/m"
        )
        assert main(argv) == 0
        rows = lines(out)
    assert [r["status"] for r in rows] == ["api_error", "api_error"]
    assert all("BadRequestError" in r["message"] for r in rows)
    assert len(provider.requests) == 3


def test_a_rejected_first_request_stops_the_run(toy_cli, tmp_path, capsys):
    with fake_provider([400]) as (api_base, provider), pytest.raises(SystemExit) as exit_info:
        main(
            eval_argv(tmp_path / "run", "--api-base", api_base, "--agent", "text", model="openai/m")
        )
    assert exit_info.value.code == 2 and len(provider.requests) == 1
    err = capsys.readouterr().err
    assert "the provider rejected the first request of the run: openai/m: BadRequestError" in err
    results = tmp_path / "run" / "results.jsonl"  # nothing recorded: resumable as it is
    assert not results.exists() or results.read_text() == ""


def test_timeout_and_seed_reach_the_completion_call(toy_cli, tmp_path, completion_calls):
    toy_cli["n"] = 1
    calls = completion_calls
    argv = eval_argv(
        tmp_path / "run",
        "--timeout",
        "9.5",
        "--seed",
        "5",
        "--model-arg",
        "mock_response=no action",
        model="openai/gpt-4o-mini",
    )
    assert main(argv) == 0
    assert calls and {c["timeout"] for c in calls} == {9.5}
    assert {c["seed"] for c in calls} == {5}
    assert not any("drop_params" in c for c in calls)  # nothing is dropped wholesale


def test_episode_time_limit_ends_an_episode_as_a_failure(toy_cli, tmp_path):
    toy_cli["n"] = 1
    out = tmp_path / "run"
    argv = eval_argv(out, "--episode-time-limit", "0.2", model="py:toys:slow_model")
    assert main(argv) == 0
    [row] = lines(out)
    assert (row["status"], row["turns"]) == ("failure", 0)
    assert row["message"] == "time limit of 0.2 s per episode reached"
    record = json.loads((out / "run.json").read_text())
    assert record["settings"]["episode_time_limit_s"] == 0.2


def test_local_models_are_bounded_by_default():
    local = EvalConfig(out_dir=".", model="local/smollm2")
    remote = EvalConfig(out_dir=".", model="openai/gpt-4o")
    assert (local.turn_cap, local.time_cap) == (6, 60.0)
    assert (remote.turn_cap, remote.time_cap) == (50, None)
    assert EvalConfig(out_dir=".", model="local/x", episode_time_limit_s=5.0).time_cap == 5.0
