"""The eval / collect / traces export commands."""

from __future__ import annotations

import argparse
import functools
import json
from pathlib import Path

import pytest

from codearc_env.agents.cli import register


def build_parser():
    # Only this area's commands: the other areas' CLIs are tested in their own folders.
    parser = argparse.ArgumentParser(prog="codearc")
    register(parser.add_subparsers(dest="command"))
    return parser


def main(argv):
    args = build_parser().parse_args(argv)
    return args.func(args)


def test_commands_are_registered():
    parser = build_parser()
    args = parser.parse_args(["eval", "--model", "openai/x", "--out", "d", "--limit", "3"])
    assert (args.agent, args.variant, args.split, args.limit, args.concurrency) == (
        "react",
        "annotated",
        "all",
        3,
        1,
    )
    args = parser.parse_args(["traces", "export", "--format", "trl", "in", "out.jsonl"])
    assert (args.format, args.only_successful, args.in_dir) == ("trl", False, "in")
    args = parser.parse_args(["collect", "--teacher", "openai/gpt-4o", "--out", "d"])
    assert (args.model, args.agent, args.format) == ("openai/gpt-4o", "react", "openai")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["eval", "--out", "d", "--limit", "0"], "expected a positive integer, got 0"),
        (["eval", "--out", "d", "--concurrency", "x"], "expected a positive integer, got 'x'"),
        (["eval", "--out", "d", "--agent", "magic"], "invalid choice: 'magic'"),
    ],
)
def test_bad_arguments(argv, message, capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(argv)
    assert message in capsys.readouterr().err


def test_react_without_model_is_a_clear_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(
            [
                "eval",
                "--agent",
                "react",
                "--split",
                "builtin",
                "--out",
                str(tmp_path / "o"),
                "--no-progress",
            ]
        )
    assert info.value.code == 2
    assert "the 'react' agent needs a model (--model)" in capsys.readouterr().err


def test_traces_export_command(tmp_path, capsys):
    from codearc_env import trace as tr

    path = tmp_path / "t.jsonl"
    with tr.TraceWriter(path) as w:
        w.write(tr.EpisodeStart("e", problem_id="p"))
        w.write(tr.ModelMessage("e", role="user", content="hi"))
        w.write(tr.ModelMessage("e", role="assistant", content="IMPLEMENTATION"))
        w.write(tr.EpisodeEnd("e", status="success"))
    assert (
        main(["traces", "export", "--format", "openai", str(path), str(tmp_path / "o.jsonl")]) == 0
    )
    assert json.loads(capsys.readouterr().out)["written"] == 1
    record = json.loads((tmp_path / "o.jsonl").read_text())
    assert record["messages"] == [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "IMPLEMENTATION"},
    ]
    assert (record["metadata"]["problem_id"], record["metadata"]["status"]) == ("p", "success")


def test_eval_and_collect_commands_end_to_end(tmp_path, monkeypatch, capsys):
    """The commands' wiring, with the toy environment and a scripted teacher in place of
    the real sandboxes and of litellm."""
    import toys

    from codearc_env.agents import evaluate as ev
    from codearc_env.agents.runner import Task
    from codearc_env.agents.scripted import ScriptedModel

    problems, _, _ = toys.toy_suite(3)
    monkeypatch.setattr(
        ev, "load_tasks", lambda config: [Task(p.problem_id, "annotated") for p in problems]
    )
    monkeypatch.setattr(
        ev, "default_env_factory", lambda config, pool=None: lambda v: toys.make_env(3)
    )
    monkeypatch.setattr(ev, "make_pool", lambda config: None)
    monkeypatch.setattr(
        ev,
        "default_model_factory",
        lambda config: (
            lambda sample: ScriptedModel([toys.solving_script], repeat_last=True, name=config.model)
        ),
    )

    out = tmp_path / "teach"
    assert (
        main(
            [
                "collect",
                "--teacher",
                "openai/gpt-4o",
                "--split",
                "builtin",
                "--out",
                str(out),
                "--no-progress",
                "--format",
                "trl",
            ]
        )
        == 0
    )
    assert len((out / "student-trl.jsonl").read_text().splitlines()) == 3
    assert (out / "failed-trl.jsonl").read_text() == ""
    student = (out / "student-trl.jsonl").read_text()
    assert "PRIVATE NOTE" not in student
    assert "PRIVATE NOTE" in (out / "traces" / "builtin__annotated__add0.jsonl").read_text()

    run = tmp_path / "eval"
    assert (
        main(
            [
                "eval",
                "--model",
                "openai/gpt-4o",
                "--split",
                "builtin",
                "--out",
                str(run),
                "--no-progress",
            ]
        )
        == 0
    )
    summary = json.loads((run / "summary.json").read_text())
    assert summary["total"]["solved"] == 3
    # A subset of problems is not the paper's setting: no published rate beside ours.
    assert summary["variants"]["annotated"]["published_success_pct"] is None
    assert summary["comparable_with_published"] is False
    out_text = capsys.readouterr().out
    assert "published as gpt-4o" in out_text and "37.8" not in out_text


# Every option of eval and collect, a non-default value for it, and where it must land in
# the EvalConfig. A new option that is missing here, or that the command line does not
# pass on, fails test_every_flag_reaches_the_configuration.
FLAGS = {
    "--agent": (["--agent", "text"], "agent", "text"),
    "--api-base": (["--api-base", "http://127.0.0.1:9/v1"], "api_base", "http://127.0.0.1:9/v1"),
    "--model-arg": (
        ["--model-arg", "reasoning_effort=low", "--model-arg", 'extra_body={"k": 1}'],
        "model_args",
        {"reasoning_effort": "low", "extra_body": {"k": 1}},
    ),
    "--variant": (["--variant", "both"], "variant", "both"),
    "--split": (["--split", "clean"], "split", "clean"),
    "--problems": (["--problems", "annotated/1,7"], "problems", ("annotated/1", "7")),
    "--limit": (["--limit", "4"], "limit", 4),
    "--seed": (["--seed", "11"], "seed", 11),
    "--samples": (["--samples", "5"], "samples", 5),
    "--concurrency": (["--concurrency", "3"], "concurrency", 3),
    "--out": (["--out", "elsewhere"], "out_dir", Path("elsewhere")),
    "--resume": (["--resume"], "resume", True),
    "--retry-errors": (["--retry-errors"], "retry_errors", True),
    "--force": (["--force"], "force", True),
    "--backend": (["--backend", "bwrap"], "backend", "bwrap"),
    "--pool-size": (["--pool-size", "6"], "pool_size", 6),
    "--data-dir": (["--data-dir", "/data"], "data_dir", "/data"),
    "--ray": (["--ray", "10.0.0.5:6379"], "ray", "10.0.0.5:6379"),
    "--b-io": (["--b-io", "20"], "env_config.b_io", 20),
    "--b-oracle": (["--b-oracle", "3"], "env_config.b_oracle", 3),
    "--max-turns": (["--max-turns", "7"], "env_config.max_turns", 7),
    "--max-invalid": (["--max-invalid", "5"], "max_invalid_in_a_row", 5),
    "--episode-time-limit": (["--episode-time-limit", "42.5"], "episode_time_limit_s", 42.5),
    "--oracle-seed": (["--oracle-seed", "4"], "env_config.oracle_seed", 4),
    "--oracle-strength": (["--oracle-strength", "strong"], "env_config.oracle_strength", "strong"),
    "--max-attempts": (["--max-attempts", "9"], "max_attempts", 9),
    "--force-tool-choice": (["--force-tool-choice"], "force_tool_choice", True),
    "--temperature": (["--temperature", "0.5"], "temperature", 0.5),
    "--max-tokens": (["--max-tokens", "77"], "max_tokens", 77),
    "--timeout": (["--timeout", "9.5"], "timeout_s", 9.5),
}
MODEL_FLAG = {"eval": "--model", "collect": "--teacher"}
NOT_CONFIG = {"--no-progress", "--format", "--help"}
"""Options that configure the command itself; each has its own test below."""


def _field(config, path):
    """``config``'s value at a dotted attribute path (``env_config.b_io``)."""
    return functools.reduce(getattr, path.split("."), config)


def _options(command):
    parser = build_parser()
    sub = parser._subparsers._group_actions[0].choices[command]
    return {opt for action in sub._actions for opt in action.option_strings if opt != "-h"}


def _captured_config(monkeypatch, argv):
    import codearc_env.agents.evaluate as ev
    import codearc_env.agents.export as ex
    from codearc_env.agents.summary import summarize

    seen = {}

    def fake_evaluate(config, *, show_progress=False, console=None):
        seen["config"], seen["show_progress"] = config, show_progress
        return summarize([], model=config.model)

    def fake_export(source, out_path, fmt, **kwargs):
        seen.setdefault("formats", []).append(fmt)
        return ex.ExportStats(0, 0, 0, 0, 0)

    monkeypatch.setattr(ev, "evaluate", fake_evaluate)
    monkeypatch.setattr(ex, "export", fake_export)
    assert main(argv) == 0
    return seen


@pytest.mark.parametrize("command", ["eval", "collect"])
def test_every_flag_reaches_the_configuration(command, monkeypatch, capsys):
    model_flag = MODEL_FLAG[command]
    table = dict(FLAGS)
    table[model_flag] = ([model_flag, "openai/some-model"], "model", "openai/some-model")
    if command == "collect":
        table["--agent"] = (["--agent", "text"], "agent", "text")
    assert _options(command) - NOT_CONFIG == set(table), "every option needs a row in FLAGS"

    base = [command, model_flag, "openai/base", "--out", "o"]
    default = _captured_config(monkeypatch, base)["config"]
    assert default.teacher is (command == "collect")
    for flag, (argv, field, expected) in table.items():
        config = _captured_config(monkeypatch, [*base, *argv])["config"]
        assert _field(default, field) != expected, f"{flag}: pick a non-default value"
        assert _field(config, field) == expected, f"{flag} does not reach EvalConfig.{field}"
    capsys.readouterr()


def test_no_progress_and_format_reach_their_code(monkeypatch, capsys):
    shown = _captured_config(monkeypatch, ["eval", "--model", "m", "--out", "o"])
    assert shown["show_progress"] is True
    hidden = _captured_config(monkeypatch, ["eval", "--model", "m", "--out", "o", "--no-progress"])
    assert hidden["show_progress"] is False
    seen = _captured_config(
        monkeypatch, ["collect", "--teacher", "m", "--out", "o", "--format", "trl"]
    )
    assert seen["formats"] == ["trl", "trl"]
    assert capsys.readouterr().out.rstrip("\n").split("\n")[-1] == "summary: o/summary.json"
