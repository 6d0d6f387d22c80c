"""`codearc data summary` and `codearc data verify` through register(), with a fake sandbox."""

from __future__ import annotations

import argparse
import json
import sys
import types
from pathlib import Path
from types import SimpleNamespace

import pytest

from codearc_env.errors import SandboxUnavailableError
from codearc_env.functions import cli


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="codearc")
    cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args)


def test_summary_counts_sources_variants_and_quirks(
    synthetic_jsonl: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(["data", "summary", "--data-dir", str(synthetic_jsonl)]) == 0
    out = capsys.readouterr().out
    assert f"data: {synthetic_jsonl} (loaded in " in out
    lines = out.splitlines()
    annotated = next(line for line in lines if line.startswith("annotated "))
    assert annotated.split() == ["annotated", "78", "131", "905", "1114", "1114", "47"]
    ill = next(line for line in lines if line.startswith("ill_posed"))
    assert ill.split() == ["ill_posed", "0", "0"]


def test_data_without_an_action_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["data"]) == 2
    assert "summary" in capsys.readouterr().out


def test_verify_builtin_split_with_a_fake_sandbox(
    monkeypatch: pytest.MonkeyPatch,
    fakes: SimpleNamespace,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(cli, "_sandbox_factory", lambda backend, limits: fakes.Subprocess)
    report = tmp_path / "out.jsonl"
    argv = ["data", "verify", "--split", "builtin", "--limit", "4", "--json", str(report)]
    assert _run(argv) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if line.startswith("builtin ")]
    assert rows == [
        ["builtin", "annotated", "4", "40", "40", "100.00%", "4", "0", "0", "-"],
        ["builtin", "anonymized", "4", "40", "40", "100.00%", "4", "0", "0", "-"],
    ]
    lines = [json.loads(line) for line in report.read_text().splitlines()]
    assert [r["problem_id"] for r in lines][:2] == [
        "builtin/annotated/clamp_int",
        "builtin/annotated/digit_sum",
    ]


def test_verify_lists_unexplained_disagreements_and_fails(
    monkeypatch: pytest.MonkeyPatch,
    fakes: SimpleNamespace,
    capsys: pytest.CaptureFixture[str],
    synthetic_jsonl: Path,
    tmp_path: Path,
    datafiles: SimpleNamespace,
    synthetic: list,
) -> None:
    from dataclasses import replace

    broken = list(synthetic)
    p = broken[1]
    wrong = replace(p.examples[0], output="Result 1: 999")
    broken[1] = replace(p, examples=(wrong, *p.examples[1:]))
    root = datafiles.write_jsonl(broken, tmp_path / "d")
    monkeypatch.setattr(cli, "_sandbox_factory", lambda backend, limits: fakes.Subprocess)
    argv = ["data", "verify", "--data-dir", str(root), "--variant", "annotated", "--limit", "2"]
    assert _run(argv) == 1
    out = capsys.readouterr().out
    assert "unexplained disagreements (1):\n  annotated/1 k=0: expected '999', got '1'" in out


def test_verify_without_a_sandbox_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "codearc_env.sandbox", types.ModuleType("codearc_env.sandbox"))
    with pytest.raises(SandboxUnavailableError) as info:
        _run(["data", "verify", "--split", "builtin"])
    assert str(info.value) == (
        "codearc data verify needs a sandbox, and this installation has none "
        "(codearc_env.sandbox.make_sandbox is missing)"
    )


def test_a_sandbox_that_fails_for_good_stops_the_run_with_partial_figures(
    monkeypatch: pytest.MonkeyPatch,
    fakes: SimpleNamespace,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    from codearc_env.errors import SandboxError

    class Dying(fakes.Subprocess):  # type: ignore[name-defined,misc]
        def answer(self, source, function, calls):  # noqa: ANN001, ANN201
            if "def digit_sum" in source:
                raise SandboxError("the worker cannot be restarted")
            return super().answer(source, function, calls)

    monkeypatch.setattr(cli, "_sandbox_factory", lambda backend, limits: Dying)
    argv = ["data", "verify", "--split", "builtin", "--variant", "annotated", "--limit", "3"]
    assert _run(argv) == 2
    captured = capsys.readouterr()
    rows = [line.split()[:4] for line in captured.out.splitlines() if line.startswith("builtin ")]
    assert rows == [["builtin", "annotated", "1", "10"]]
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == [
        "aborted: verification stopped after 1 problems: the worker cannot be restarted"
    ]
