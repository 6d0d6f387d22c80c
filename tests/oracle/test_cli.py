"""``codearc oracle check`` on the built-in suite (offline) with the process backend."""

from __future__ import annotations

import argparse

import pytest

from codearc_env.errors import SandboxError
from codearc_env.functions import builtin_suite
from codearc_env.oracle.cli import register

FN = builtin_suite("annotated")[0]


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="codearc")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return int(args.func(args))


def check_args(tmp_path, candidate: str) -> list[str]:  # type: ignore[no-untyped-def]
    path = tmp_path / "candidate.py"
    path.write_text(candidate)
    return [
        "oracle",
        "check",
        "--problem",
        FN.problem_id,
        "--backend",
        "process",
        "--strength",
        "fast",
        "--cache-dir",
        str(tmp_path / "cache"),
        str(path),
    ]


def test_passing_candidate_exits_0(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert run(check_args(tmp_path, FN.code)) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"PASS {FN.problem_id} ({FN.target}): agreed with the reference on ")


def test_failing_candidate_exits_1_and_prints_the_counterexample(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    wrong = f"def {FN.target}(*args):\n    return 0\n"
    assert run(check_args(tmp_path, wrong)) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"FAIL {FN.problem_id} ({FN.target}): ")
    assert lines[2].startswith("Input: ") and lines[3].startswith("Expected output: ")
    assert lines[4].startswith("Your output: ")


def test_bad_candidate_exits_1(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert run(check_args(tmp_path, "")) == 1
    assert capsys.readouterr().out.startswith(
        f"FAIL {FN.problem_id} ({FN.target}): candidate is empty"
    )


def test_missing_file_exits_2(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    argv = check_args(tmp_path, "")
    argv[-1] = str(tmp_path / "nope.py")
    assert run(argv) == 2
    assert "cannot read" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("error", "traceback_shown"),
    [(RuntimeError("bug in the tool"), True), (SandboxError("sandbox gone"), False)],
)
def test_a_crash_exits_2_never_1(tmp_path, capsys, monkeypatch, error, traceback_shown) -> None:  # type: ignore[no-untyped-def]
    from codearc_env.oracle.oracle import Oracle

    def crash(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise error

    monkeypatch.setattr(Oracle, "check", crash)
    assert run(check_args(tmp_path, FN.code)) == 2
    err = capsys.readouterr().err
    assert err.endswith(f"codearc: error: {error}\n")
    assert ("Traceback (most recent call last)" in err) is traceback_shown


def test_oracle_without_action_prints_usage(capsys) -> None:  # type: ignore[no-untyped-def]
    assert run(["oracle"]) == 2
    assert "check" in capsys.readouterr().out


def test_strength_choices_are_checked() -> None:
    with pytest.raises(SystemExit):
        run(["oracle", "check", "--problem", "1", "--strength", "huge", "x.py"])


def test_importing_the_cli_is_cheap() -> None:
    import subprocess
    import sys

    code = "import sys, codearc_env.oracle.cli; print('hypothesis' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
