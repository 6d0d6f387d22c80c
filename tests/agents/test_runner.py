"""The runner: one result per episode, resume after SIGKILL, errors kept apart."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import toys

from codearc_env import trace as tr
from codearc_env.agents.evaluate import EvalConfig, evaluate
from codearc_env.agents.model import ModelError
from codearc_env.agents.results import ResultsFile
from codearc_env.agents.runner import PlayOptions, RunDirError, RunPlan, Task
from codearc_env.agents.scripted import ScriptedModel, tool_reply
from codearc_env.errors import CodeARCError

HERE = Path(__file__).parent


def toy_tasks(n=12):
    problems, _, _ = toys.toy_suite(n)
    return [Task(p.problem_id, "annotated") for p in problems]


def run(out, *, model_factory, n=12, resume=False, **config):
    cfg = EvalConfig(
        out_dir=out,
        agent=config.pop("agent", "react"),
        model="scripted",
        split="builtin",
        resume=resume,
        retry_wait_s=0.0,
        **config,
    )
    return evaluate(
        cfg, model_factory=model_factory, env_factory=lambda v: toys.make_env(n), tasks=toy_tasks(n)
    )


def solver():
    return ScriptedModel([toys.solving_script], repeat_last=True, name="scripted")


def lines(out):
    return [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]


def test_concurrent_run_writes_one_result_per_episode(tmp_path):
    summary = run(tmp_path, model_factory=solver, concurrency=4)
    rows = lines(tmp_path)
    assert sorted(r["problem_id"] for r in rows) == sorted(t.problem_id for t in toy_tasks())
    assert summary["total"]["solved"] == 12 and summary["total"]["success_pct"] == 100.0
    assert summary["total"]["paper_io"] == 1.0 and summary["total"]["paper_oracle"] == 1.0
    assert json.loads((tmp_path / "summary.json").read_text())["run"]["finished"] == 12
    trace = tr.read_trace(tmp_path / rows[0]["trace"])
    assert isinstance(trace[-1], tr.EpisodeEnd) and trace[-1].status == "success"


def test_existing_run_needs_resume_and_same_settings(tmp_path):
    run(tmp_path, model_factory=solver, n=2)
    with pytest.raises(RunDirError, match="already holds a run \\(2 results\\); pass --resume"):
        run(tmp_path, model_factory=solver, n=2)
    with pytest.raises(RunDirError, match="agent: 'react' -> 'text'"):
        run(tmp_path, model_factory=solver, n=2, resume=True, agent="text")


def test_api_errors_are_retried_then_recorded_apart(tmp_path):
    made = []

    def flaky():
        made.append(1)
        # The first episode's first attempt meets a provider outage; everything else works.
        if len(made) == 1:
            return ScriptedModel([ModelError("503 from provider", retryable=True)])
        return solver()

    summary = run(tmp_path, model_factory=flaky, n=2)
    rows = {r["problem_id"]: r for r in lines(tmp_path)}
    first = rows["builtin/annotated/add0"]
    assert (first["status"], first["attempts"]) == ("success", 2)
    starts = [e for e in tr.read_trace(tmp_path / first["trace"]) if isinstance(e, tr.EpisodeStart)]
    assert [s.attempt for s in starts] == [1, 2]
    assert summary["total"]["solved"] == 2

    down = tmp_path / "down"
    summary = run(
        down, model_factory=lambda: ScriptedModel([ModelError("quota")]), n=2, max_attempts=2
    )
    assert [r["status"] for r in lines(down)] == ["api_error", "api_error"]
    assert summary["total"]["api_errors"] == 2
    assert summary["total"]["graded"] == 0 and summary["total"]["success_pct"] is None


def test_infra_errors_are_recorded_apart(tmp_path):
    def broken(variant):
        env = toys.make_env(2)
        env._reference.fail_with = "worker died"  # the toy sandbox reports infra errors
        return env

    def query(messages, tools):
        return tool_reply(("query", {"calls": f"{toys.target_of(messages)}(1, 2)"}))

    model = lambda: ScriptedModel([query], repeat_last=True)  # noqa: E731
    cfg = EvalConfig(
        out_dir=tmp_path,
        agent="react",
        model="scripted",
        split="builtin",
        retry_wait_s=0.0,
        max_attempts=2,
    )
    summary = evaluate(cfg, model_factory=model, env_factory=broken, tasks=toy_tasks(2))
    rows = lines(tmp_path)
    assert [r["status"] for r in rows] == ["infra_error", "infra_error"]
    assert all(r["attempts"] == 2 for r in rows)
    assert summary["total"]["infra_errors"] == 2 and summary["total"]["graded"] == 0


def test_torn_last_line_is_repaired_on_resume(tmp_path):
    run(tmp_path, model_factory=solver, n=3)
    path = tmp_path / "results.jsonl"
    kept = path.read_text().splitlines()[:2]
    path.write_text("\n".join(kept) + '\n{"problem_id": "builtin/annot')
    run(tmp_path, model_factory=solver, n=3, resume=True)
    rows = lines(tmp_path)
    assert len(rows) == 3 and len({r["problem_id"] for r in rows}) == 3
    assert [json.dumps(r) for r in rows[:2]] == [json.dumps(json.loads(x)) for x in kept]


def test_results_file_rejects_corruption_in_the_middle(tmp_path):
    path = tmp_path / "results.jsonl"
    path.write_text('not json\n{"problem_id": "p", "status": "success"}\n')
    with pytest.raises(CodeARCError, match="results.jsonl:1: not a result line"):
        ResultsFile(path).load()


@pytest.mark.slow
def test_sigkill_mid_run_then_resume_gives_exactly_one_result_per_episode(tmp_path):
    out = tmp_path / "run"
    before = _kill_mid_run(out)

    # Resuming under another setting is refused, and leaves the run as the kill left it.
    changed = subprocess.run(
        [sys.executable, str(HERE / "kill_target.py"), str(out), "--resume", "--max-turns", "7"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert changed.returncode != 0
    assert "SettingsMismatchError" in changed.stderr and "max_turns: 50 -> 7" in changed.stderr
    assert (out / "results.jsonl").read_bytes() == before
    _resume_and_check(out, before)


def _kill_mid_run(out):
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "kill_target.py"), str(out)],
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    results = out / "results.jsonl"
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            if results.exists() and results.read_text().count("\n") >= 3:
                break
            if proc.poll() is not None:
                pytest.fail(f"the run ended before it was killed: {proc.stdout.read()!r}")
            time.sleep(0.05)
        else:
            pytest.fail("the run produced no results in time")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    before = results.read_bytes()
    n_before = before.count(b"\n")
    assert 3 <= n_before < 12, "the kill must land mid-run"
    return before


def _resume_and_check(out, before):
    results = out / "results.jsonl"

    done = subprocess.run(
        [sys.executable, str(HERE / "kill_target.py"), str(out), "--resume"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    rows = lines(out)
    ids = [r["problem_id"] for r in rows]
    assert sorted(ids) == sorted(t.problem_id for t in toy_tasks()), "one result per episode"
    # Nothing finished before the kill was redone or changed.
    assert results.read_bytes().startswith(before[: before.rfind(b"\n") + 1])
    assert all(r["status"] == "success" for r in rows)


def test_retry_errors_on_resume_replaces_error_results(tmp_path):
    run(tmp_path, model_factory=lambda: ScriptedModel([ModelError("quota")]), n=3, max_attempts=1)
    assert [r["status"] for r in lines(tmp_path)] == ["api_error"] * 3
    run(tmp_path, model_factory=solver, n=3, resume=True)  # errors stay without the flag
    assert [r["status"] for r in lines(tmp_path)] == ["api_error"] * 3
    summary = run(tmp_path, model_factory=solver, n=3, resume=True, retry_errors=True)
    rows = lines(tmp_path)
    assert [r["status"] for r in rows] == ["success"] * 3 and len(
        {r["problem_id"] for r in rows}
    ) == 3
    assert summary["total"]["api_errors"] == 0


def test_a_run_plan_refuses_counts_below_one(tmp_path: Path) -> None:
    results = ResultsFile(tmp_path / "results.jsonl")
    with pytest.raises(ValueError, match="^concurrency must be >= 1, got 0$"):
        RunPlan(print, print, results, tmp_path, concurrency=0)
    with pytest.raises(ValueError, match="^max_attempts must be >= 1, got 0$"):
        PlayOptions(max_attempts=0)
