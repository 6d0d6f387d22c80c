"""``codearc oracle check --problem N``: only the asked problem is loaded, from a small data
folder written here (process backend, our own toy functions)."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from codearc_env.oracle.cli import register

ADD = "def add_{i}(x: int) -> int:\n    return x + {i}\n"


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="codearc")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return int(args.func(args))


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """Problems 3 and 5 of both variants: an incomplete folder, which one problem's loading
    accepts (the full loader would refuse it)."""
    root = tmp_path / "data"
    root.mkdir()
    problems, invocations = [], []
    for variant, name in (("annotated", "add_{i}"), ("anonymous", "solution")):
        for i in (3, 5):
            fname = name.format(i=i)
            code = f"def {fname}(x):\n    return x + {i}\n"
            problems.append({"index": i, "variant": variant, "code": code})
            invocations += [
                {
                    "index": i,
                    "variant": variant,
                    "k": k,
                    "input": f"print('Result {k + 1}: ' + str({fname}({k})))",
                    "output": f"Result {k + 1}: {k + i}",
                    "errored": False,
                }
                for k in range(10)
            ]
    for name, rows in (("problems.jsonl", problems), ("invocations.jsonl", invocations)):
        (root / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def check_argv(tmp_path: Path, data: Path, problem: str, candidate: str, *extra: str) -> list[str]:
    path = tmp_path / "candidate.py"
    path.write_text(candidate)
    return [
        "oracle", "check", "--problem", problem, "--data-dir", str(data), "--backend", "process",
        "--strength", "fast", "--cache-dir", str(tmp_path / "cache"), *extra, str(path),
    ]  # fmt: skip


def test_a_problem_index_passes_and_fails(tmp_path, data, capsys) -> None:  # type: ignore[no-untyped-def]
    assert run(check_argv(tmp_path, data, "5", ADD.format(i=5))) == 0
    assert capsys.readouterr().out.startswith("PASS annotated/5 (add_5): agreed with the ")
    assert run(check_argv(tmp_path, data, "5", ADD.format(i=3).replace("add_3", "add_5"))) == 1
    assert capsys.readouterr().out.startswith("FAIL annotated/5 (add_5): wrong result on add_5(")


def test_variant_flag_and_problem_id_reach_the_loader(tmp_path, data, capsys) -> None:  # type: ignore[no-untyped-def]
    solution = "def solution(x):\n    return x + 3\n"
    assert run(check_argv(tmp_path, data, "3", solution, "--variant", "anonymized")) == 0
    assert capsys.readouterr().out.startswith("PASS anonymized/3 (solution): ")
    assert run(check_argv(tmp_path, data, "anonymous/3", solution)) == 0
    assert capsys.readouterr().out.startswith("PASS anonymized/3 (solution): ")


def test_the_full_dataset_is_never_loaded(tmp_path, data, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from codearc_env.functions import source

    def refuse(*args: object) -> None:
        raise AssertionError("the whole dataset was loaded")

    monkeypatch.setattr(source, "load_directory", refuse)
    assert run(check_argv(tmp_path, data, "5", ADD.format(i=5))) == 0


@pytest.mark.parametrize(
    ("problem", "message"),
    [
        ("1114", "no problem annotated/1114: indices run 0..1113"),
        ("4", "{data}/problems.jsonl: no problem annotated/4"),
        ("annotated-4", "bad problem id 'annotated-4': expected 'annotated/12', "
         "'anonymized/12' or 'builtin/<variant>/<name>'"),
        ("builtin/annotated/nope", "no built-in function named 'nope'"),
    ],
)  # fmt: skip
def test_an_unknown_problem_exits_2_with_the_reason(
    tmp_path, data, capsys, problem, message
) -> None:  # type: ignore[no-untyped-def]
    assert run(check_argv(tmp_path, data, problem, ADD.format(i=5))) == 2
    err = capsys.readouterr().err
    assert err == f"codearc: error: {message.format(data=data)}\n"


def test_missing_data_exits_2(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert run(check_argv(tmp_path, tmp_path / "nowhere", "5", ADD.format(i=5))) == 2
    assert capsys.readouterr().err == (
        f"codearc: error: data directory not found: {tmp_path / 'nowhere'}\n"
    )


def test_a_check_with_a_cached_table_does_not_import_hypothesis(tmp_path, data) -> None:  # type: ignore[no-untyped-def]
    """Only computing a reference table needs the input generator (and Hypothesis)."""
    argv = check_argv(tmp_path, data, "5", ADD.format(i=5))
    script = (
        "import sys; from codearc_env.cli import main; rc = main(sys.argv[1:]); "
        "print(rc, 'hypothesis' in sys.modules, 'litellm' in sys.modules)"
    )
    outputs = []
    for _ in range(2):  # the first run computes the table, the second reads it
        proc = subprocess.run(
            [sys.executable, "-c", script, *argv], capture_output=True, text=True, check=True
        )
        outputs.append(proc.stdout.splitlines()[-1])
    assert outputs == ["0 True False", "0 False False"]
