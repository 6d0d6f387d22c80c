"""``codearc eval`` / ``collect`` driven from the command line, as a user runs them.

The environment is the toy suite (no sandbox or data); the task selection, the settings
record, the runner, the summary and the exports are the real ones. Models are named on the
command line: ``py:toys:<factory>``, litellm's own ``mock_response``, or litellm talking to
a fake OpenAI-compatible server on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import time

import pytest
import toys
from fake_provider import fake_provider

from codearc_env import trace as tr
from codearc_env.agents import evaluate as ev
from codearc_env.agents.cli import register
from codearc_env.config import EnvConfig


def main(argv):
    parser = argparse.ArgumentParser(prog="codearc")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args)


def eval_argv(out, *extra, model="py:toys:solving_model"):
    return [
        "eval",
        "--model",
        model,
        "--split",
        "builtin",
        "--out",
        str(out),
        "--no-progress",
        *extra,
    ]


def lines(out):
    return [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]


def last_line(capsys):
    return capsys.readouterr().out.rstrip("\n").split("\n")[-1]


# ---- 1. --resume --retry-errors ---------------------------------------------------------
def test_retry_errors_flag_replays_errored_episodes(toy_cli, tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    argv = eval_argv(out, "--model", "py:toys:switchable_model", "--max-attempts", "1")
    monkeypatch.setenv("TOY_MODEL_DOWN", "1")
    assert main(argv) == 0
    assert [r["status"] for r in lines(out)] == ["api_error"] * 6
    monkeypatch.delenv("TOY_MODEL_DOWN")
    assert main([*argv, "--resume"]) == 0  # without the flag, errors stay recorded
    assert [r["status"] for r in lines(out)] == ["api_error"] * 6
    assert main([*argv, "--resume", "--retry-errors"]) == 0
    assert [r["status"] for r in lines(out)] == ["success"] * 6
    assert last_line(capsys) == f"summary: {out / 'summary.json'}"


# ---- 2. settings pinned ----------------------------------------------------------------
def test_resume_with_other_settings_is_refused_then_forced(toy_cli, tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    argv = eval_argv(out, "--model", "py:toys:switchable_model", "--max-attempts", "1")
    monkeypatch.setenv("TOY_MODEL_DOWN", "1")
    assert main(argv) == 0
    monkeypatch.delenv("TOY_MODEL_DOWN")
    first = lines(out)
    record = json.loads((out / "run.json").read_text())
    assert {r["run_settings_hash"] for r in first} == {record["run_settings_hash"]}
    capsys.readouterr()

    changed = [*argv, "--resume", "--retry-errors", "--max-turns", "7", "--temperature", "0.2"]
    with pytest.raises(SystemExit) as exit_info:
        main(changed)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"--resume with settings other than those recorded in {out / 'run.json'}:" in err
    assert "  max_turns: 50 -> 7\n" in err and "  temperature: None -> 0.2\n" in err
    assert lines(out) == first  # nothing ran, nothing was dropped
    assert json.loads((out / "run.json").read_text()) == record

    assert main([*changed, "--force"]) == 0
    after = json.loads((out / "run.json").read_text())
    assert after["settings"]["max_turns"] == 7
    assert after["run_settings_hash"] != record["run_settings_hash"]
    change = after["history"][-1]
    assert change["forced"] is True
    assert change["changed"] == {"max_turns": [50, 7], "temperature": [None, 0.2]}
    assert {r["run_settings_hash"] for r in lines(out)} == {after["run_settings_hash"]}


# ---- 3. fail fast on provider errors that every request would meet -----------------------
def test_bad_credentials_stop_a_100_problem_run_at_the_first_request(toy_cli, tmp_path, capsys):
    toy_cli["n"] = 100
    out = tmp_path / "run"
    with fake_provider([401]) as (api_base, provider):
        start = time.monotonic()
        with pytest.raises(SystemExit) as exit_info:
            main(eval_argv(out, "--api-base", api_base, "--concurrency", "2", model="openai/m"))
        elapsed = time.monotonic() - start
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "codearc: error: the model provider refused the request, so the run stopped:" in err
    assert "AuthenticationError" in err and "--resume" in err
    assert len(provider.requests) <= 2  # one per worker, no retries, no further problems
    assert not (out / "results.jsonl").exists() or lines(out) == []
    print(f"auth failure on 100 problems: exit 2 after {elapsed:.2f} s")


def test_unknown_model_stops_the_run(toy_cli, tmp_path, capsys):
    with fake_provider([404]) as (api_base, provider), pytest.raises(SystemExit) as exit_info:
        main(eval_argv(tmp_path / "run", "--api-base", api_base, model="openai/nope"))
    assert exit_info.value.code == 2 and len(provider.requests) == 1
    assert "NotFoundError" in capsys.readouterr().err


def test_first_prompt_over_the_context_window_stops_the_run(toy_cli, tmp_path, capsys):
    argv = eval_argv(
        tmp_path / "run",
        "--model-arg",
        "mock_response=litellm.ContextWindowExceededError",
        model="openai/gpt-4o-mini",
    )
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert "the first prompt does not fit the model's context window" in capsys.readouterr().err


def test_rate_limits_are_retried_with_backoff(toy_cli, tmp_path, monkeypatch):
    waits = []

    def no_wait(policy, attempt, rng):
        waits.append(attempt)
        return 0.0

    monkeypatch.setattr("codearc_env.agents.model.RetryPolicy.delay", no_wait)
    toy_cli["n"] = 1
    out = tmp_path / "run"
    with fake_provider([429, 429, 200], reply="no action here") as (api_base, provider):
        assert (
            main(eval_argv(out, "--api-base", api_base, "--agent", "text", model="openai/m")) == 0
        )
    assert waits == [0, 1]  # two rate limits waited out by the backoff policy
    row = lines(out)[0]
    assert row["status"] == "failure"  # graded: the model answered (with no action)
    assert len(provider.requests) == 4  # 2 refused + the reply + the text agent's one retry


# ---- 4. any model from the command line --------------------------------------------------
def test_provider_options_pass_through(toy_cli, tmp_path):
    toy_cli["n"] = 1
    out = tmp_path / "run"
    with fake_provider([200], reply="plain words") as (api_base, provider):
        argv = eval_argv(
            out,
            "--api-base",
            api_base,
            "--agent",
            "text",
            "--model-arg",
            "reasoning_effort=low",
            "--model-arg",
            'extra_body={"top_k": 20}',
            "--seed",
            "5",
            "--temperature",
            "0.3",
            "--max-tokens",
            "64",
            model="openai/m",
        )
        assert main(argv) == 0
    body = provider.requests[0]
    assert (body["reasoning_effort"], body["top_k"], body["seed"]) == ("low", 20, 5)
    assert (body["temperature"], body["max_tokens"], body["model"]) == (0.3, 64, "m")


def test_mock_response_through_model_arg(toy_cli, tmp_path):
    toy_cli["n"] = 1
    out = tmp_path / "run"
    argv = eval_argv(out, "--agent", "text", "--model-arg", "mock_response=IMPLEMENTATION?")
    argv[argv.index("py:toys:solving_model")] = "openai/gpt-4o-mini"
    assert main(argv) == 0
    events = tr.read_trace(out / lines(out)[0]["trace"])
    said = [e.content for e in events if isinstance(e, tr.ModelMessage) and e.role == "assistant"]
    assert said == ["IMPLEMENTATION?", "IMPLEMENTATION?"]


def test_python_factory_with_arguments(toy_cli, tmp_path):
    out = tmp_path / "run"
    assert main(eval_argv(out, "--model-arg", "name=openai/gpt-4o")) == 0
    assert {r["model"] for r in lines(out)} == {"openai/gpt-4o"}
    assert json.loads((out / "run.json").read_text())["settings"]["model_args"] == {
        "name": "openai/gpt-4o"
    }


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ("py:toys", "--model 'py:toys': expected py:package.module:factory"),
        ("py:no_such_mod:f", "--model 'py:no_such_mod:f': cannot import 'no_such_mod'"),
        ("py:toys:nothing", "--model 'py:toys:nothing': toys has no callable 'nothing'"),
    ],
)
def test_bad_python_factory_is_a_clear_error(toy_cli, tmp_path, capsys, model, message):
    with pytest.raises(SystemExit) as exit_info:
        main(eval_argv(tmp_path / "run", model=model))
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


# ---- 5. problem selection, order, samples, pass@k ---------------------------------------
def test_problems_seed_and_samples(toy_cli, tmp_path, capsys):
    ids = tmp_path / "ids.txt"
    ids.write_text("# two problems\nadd1\nbuiltin/annotated/add4\n")
    out = tmp_path / "run"
    argv = eval_argv(out, "--problems", str(ids), "--samples", "3", "--seed", "1")
    assert main(argv) == 0
    rows = lines(out)
    keys = sorted((r["problem_id"], r["sample"]) for r in rows)
    assert keys == [(f"builtin/annotated/add{k}", s) for k in (1, 4) for s in range(3)]
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["total"]["pass@1"], summary["total"]["pass@3"]) == (100.0, 100.0)
    assert summary["total"]["pass@3_problems"] == 2

    # Resume is per (problem, sample): one missing sample is played again, alone.
    path = out / "results.jsonl"
    kept = path.read_text().splitlines()
    path.write_text("\n".join(kept[:-1]) + "\n")
    assert main([*argv, "--resume"]) == 0
    now = path.read_text().splitlines()
    assert now[:-1] == kept[:-1] and len(now) == 6
    replayed, removed = json.loads(now[-1]), json.loads(kept[-1])
    assert (replayed["problem_id"], replayed["sample"]) == (
        removed["problem_id"],
        removed["sample"],
    )
    assert "pass@3" in capsys.readouterr().out


def test_seed_shuffles_the_order_and_limit_takes_from_it(toy_cli, tmp_path):
    def played(out, *extra):
        assert main(eval_argv(out, "--limit", "3", *extra)) == 0
        return [r["problem_id"] for r in lines(out)]

    plain = played(tmp_path / "a")
    assert plain == [f"builtin/annotated/add{k}" for k in range(3)]
    seeded = played(tmp_path / "b", "--seed", "3")
    assert seeded == played(tmp_path / "c", "--seed", "3") and seeded != plain


def test_unknown_problem_ids_are_named(toy_cli, tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(eval_argv(tmp_path / "run", "--problems", "add1,add99"))
    assert "--problems names problems not in split 'builtin' of annotated: add99" in (
        capsys.readouterr().err
    )


# ---- 6. published % only in the paper's setting ----------------------------------------
def test_published_rate_only_when_the_setting_matches(toy_cli, tmp_path, capsys):
    named = ["--model-arg", "name=openai/gpt-4o"]
    assert main(eval_argv(tmp_path / "sub", *named)) == 0
    sub = json.loads((tmp_path / "sub" / "summary.json").read_text())
    assert sub["variants"]["annotated"]["published_success_pct"] is None
    assert "published %: blank because not the paper's setting: split 'builtin'" in (
        capsys.readouterr().out
    )
    # The whole split at the paper's budgets, with one of the paper's models.
    argv = eval_argv(tmp_path / "full", *named)
    argv[argv.index("builtin")] = "all"
    assert main(argv) == 0
    full = json.loads((tmp_path / "full" / "summary.json").read_text())
    assert full["comparable_with_published"] is True and full["published_note"] == ""
    assert full["variants"]["annotated"]["published_success_pct"] == 37.8
    assert (tmp_path / "full" / "summary.json").exists()


# ---- 7. exports: metadata, exact code, errors counted apart, RecordEpisode traces -------
def test_collect_exports_exact_code_and_metadata(toy_cli, tmp_path, capsys):
    toy_cli["n"] = 2
    out = tmp_path / "teach"
    argv = ["collect", "--teacher", "py:toys:newline_model", "--split", "builtin"]
    assert main([*argv, "--out", str(out), "--no-progress", "--format", "trl"]) == 0
    assert last_line(capsys) == f"summary: {out / 'summary.json'}"
    rows = [json.loads(x) for x in (out / "student-trl.jsonl").read_text().splitlines()]
    run_hash = json.loads((out / "run.json").read_text())["run_settings_hash"]
    for k, row in enumerate(rows):
        code = row["messages"][-1]["tool_calls"][0]["function"]["arguments"]["code"]
        assert code == toys.solution(f"add{k}", k) + "\n"  # the trailing newline is kept
        assert row["metadata"] == {
            "problem_id": f"builtin/annotated/add{k}",
            "variant": "annotated",
            "source": "builtin",
            "status": "success",
            "reward": 1.0,
            "n_io": 10,
            "n_oracle": 1,
            "paper_io": 0,
            "paper_oracle": 1,
            "turns": 1,
            "model": "toy/newline",
            "agent": "react",
            "sample": 0,
            "attempt": 1,
            "run_settings_hash": run_hash,
            "env_settings_digest": row["metadata"]["env_settings_digest"],
            "episode_id": row["metadata"]["episode_id"],
        }
        # Two digests under two names: the run's settings and the environment's own.
        assert len(row["metadata"]["env_settings_digest"]) == 16
        assert row["metadata"]["env_settings_digest"] != run_hash


def test_export_counts_errored_attempts_as_errors(toy_cli, tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    monkeypatch.setenv("TOY_MODEL_DOWN", "1")
    main(eval_argv(out, "--model", "py:toys:switchable_model", "--max-attempts", "1"))
    capsys.readouterr()
    assert (
        main(["traces", "export", "--format", "openai", str(out), str(tmp_path / "o.jsonl")]) == 0
    )
    stats = json.loads(capsys.readouterr().out)
    assert stats == {
        "out": str(tmp_path / "o.jsonl"),
        "episodes": 6,
        "written": 0,
        "skipped_unsuccessful": 0,
        "skipped_errors": 6,
        "skipped_empty": 0,
    }


def test_record_episode_traces_export(tmp_path, capsys):
    from codearc_env.wrappers import RecordEpisode

    path = tmp_path / "rl.jsonl"
    env = RecordEpisode(toys.make_env(2), path, agent="ppo", model="policy-v1")
    env.reset(options={"problem": "builtin/annotated/add1"})
    env.step({"kind": 0, "text": "add1(100, 1)"})
    env.step({"kind": 1, "text": toys.solution("add1", 1) + "\n"})
    env.close()
    for fmt in ("openai", "trl"):
        target = tmp_path / f"{fmt}.jsonl"
        assert main(["traces", "export", "--format", fmt, str(path), str(target)]) == 0
        assert json.loads(capsys.readouterr().out)["written"] == 1
        row = json.loads(target.read_text())
        roles = [m["role"] for m in row["messages"]]
        assert roles == ["user", "assistant", "tool", "assistant"]
        assert "add1(" in row["messages"][0]["content"] and "102" in row["messages"][2]["content"]
        args = row["messages"][-1]["tool_calls"][0]["function"]["arguments"]
        code = (json.loads(args) if fmt == "openai" else args)["code"]
        assert code == toys.solution("add1", 1) + "\n"
        meta = row["metadata"]
        assert (meta["problem_id"], meta["status"], meta["reward"], meta["model"]) == (
            "builtin/annotated/add1",
            "success",
            1.0,
            "policy-v1",
        )
        assert (meta["n_io"], meta["n_oracle"]) == (11, 1)
        # RecordEpisode knows the environment's settings, not a run's.
        assert len(meta["env_settings_digest"]) == 16 and meta["run_settings_hash"] is None


# ---- 8. episodes are bounded, for every model -------------------------------------------
def test_invalid_actions_in_a_row_end_the_episode(toy_cli, tmp_path):
    toy_cli["n"] = 1
    out = tmp_path / "run"
    assert main(eval_argv(out, "--model", "py:toys:invalid_query_model")) == 0
    row = lines(out)[0]
    assert (row["status"], row["turns"]) == ("failure", 3)
    assert row["message"] == (
        "3 invalid actions in a row (last: the environment rejected the action)"
    )
    assert (
        main(
            eval_argv(
                tmp_path / "five", "--model", "py:toys:invalid_query_model", "--max-invalid", "5"
            )
        )
        == 0
    )
    assert lines(tmp_path / "five")[0]["turns"] == 5


def test_local_models_get_a_turn_cap_and_the_env_gets_every_setting(monkeypatch, tmp_path):
    local = ev.EvalConfig(out_dir=tmp_path, model="local/smollm2")
    assert (local.turn_cap, local.settings()["max_turns"]) == (ev.LOCAL_MAX_TURNS, 6)
    assert ev.EvalConfig(out_dir=tmp_path, model="openai/x").turn_cap == 50
    given = EnvConfig(max_turns=30)
    assert ev.EvalConfig(out_dir=tmp_path, model="local/smollm2", env=given).turn_cap == 30
    made = {}
    monkeypatch.setattr("codearc_env.env.CodeARCEnv", lambda **kw: made.update(kw))
    env = EnvConfig(b_io=20, b_oracle=3, max_turns=6, oracle_seed=7, oracle_strength="strong")
    config = ev.EvalConfig(
        out_dir=tmp_path,
        model="local/smollm2",
        split="clean",
        backend="process",
        data_dir="/d",
        env=env,
    )
    ev.default_env_factory(config)("anonymized")
    assert made == {
        "variant": "anonymized",
        "split": "clean",
        "data_dir": "/d",
        "backend": "process",
        "config": env,
    }
    settings = config.settings()
    assert {k: settings[k] for k in env.outcome_settings()} == {
        "b_io": 20, "b_oracle": 3, "max_turns": 6, "oracle_seed": 7, "oracle_strength": "strong"
    }


@pytest.mark.parametrize("flag", ["--retry-errors", "--force"])
def test_resume_only_flags_need_resume(toy_cli, tmp_path, capsys, flag):
    with pytest.raises(SystemExit) as exit_info:
        main(eval_argv(tmp_path / "run", flag))
    assert exit_info.value.code == 2
    assert f"{flag} applies to a resumed run: add --resume" in capsys.readouterr().err


def test_a_run_recorded_before_settings_were_pinned_resumes(toy_cli, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(eval_argv(out, "--limit", "2")) == 0
    flat = json.loads((out / "run.json").read_text())["settings"]
    flat = {k: v for k, v in flat.items() if k in ("agent", "model", "split", "b_io")}
    (out / "run.json").write_text(json.dumps({**flat, "variant": "annotated", "concurrency": 1}))
    assert main([*eval_argv(out, "--limit", "2"), "--resume"]) == 0
    flat["b_io"] = 20
    (out / "run.json").write_text(json.dumps(flat))
    with pytest.raises(SystemExit):
        main([*eval_argv(out, "--limit", "2"), "--resume"])
    assert "  b_io: 20 -> 30\n" in capsys.readouterr().err
