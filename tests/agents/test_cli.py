"""The eval / collect / traces export commands."""

from __future__ import annotations

import argparse
import json

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
    assert json.loads((tmp_path / "o.jsonl").read_text()) == {
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "IMPLEMENTATION"},
        ]
    }


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
    monkeypatch.setattr(ev, "default_env_factory", lambda config: lambda v: toys.make_env(3))
    monkeypatch.setattr(
        ev,
        "default_model_factory",
        lambda config: (
            lambda: ScriptedModel([toys.solving_script], repeat_last=True, name=config.model)
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
    assert summary["variants"]["annotated"]["published_success_pct"] == 37.8
    assert summary["comparable_with_published"] is False  # builtin split, not the main setting
    assert "published as gpt-4o" in capsys.readouterr().out
