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
    from codearc_env.agents import trace as tr

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
