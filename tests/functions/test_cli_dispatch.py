"""The `codearc` dispatcher: one exit-code mapping for every command, and the --log-level flag."""

from __future__ import annotations

import argparse
import logging
from types import SimpleNamespace

import pytest

from codearc_env import cli
from codearc_env.errors import (
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    DataError,
    SandboxError,
    UsageError,
    exit_code,
)
from codearc_env.functions import cli as functions_cli


@pytest.fixture(autouse=True)
def _restore_logging() -> object:
    yield
    if cli._handler is not None:
        cli.log.removeHandler(cli._handler)
        cli._handler = None
    cli.log.setLevel(logging.NOTSET)


def _raising(monkeypatch: pytest.MonkeyPatch, exc: BaseException) -> None:
    """Make `codearc data summary` raise ``exc``."""

    def handler(args: argparse.Namespace) -> int:
        raise exc

    monkeypatch.setattr(functions_cli, "_summary", handler)


@pytest.mark.parametrize(
    "exc",
    [
        SandboxError("the Docker Engine is not running"),
        DataError("data directory not found: /nope"),
        UsageError("unknown conformance checks: nonsense"),
    ],
)
def test_every_harness_error_exits_2_with_one_line(
    exc: Exception, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _raising(monkeypatch, exc)
    assert cli.main(["data", "summary"]) == EXIT_ERROR == 2
    assert capsys.readouterr().err == f"codearc: error: {exc}\n"


def test_interrupt_exits_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _raising(monkeypatch, KeyboardInterrupt())
    assert cli.main(["data", "summary"]) == EXIT_INTERRUPTED == 130
    assert capsys.readouterr().err == "codearc: interrupted\n"


def test_a_bug_exits_2_with_its_traceback_never_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _raising(monkeypatch, ZeroDivisionError("division by zero"))
    assert cli.main(["data", "summary"]) == 2  # 1 would read as a FAIL verdict
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last):\n")
    assert err.endswith(
        "ZeroDivisionError: division by zero\n"
        "codearc: error: unexpected ZeroDivisionError: division by zero\n"
    )
    assert exit_code(ZeroDivisionError()) == EXIT_ERROR


def test_no_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == 2
    assert "COMMAND" in capsys.readouterr().out


def test_every_layer_registers_its_commands() -> None:
    parser = cli.build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert list(commands.choices) == ["data", "sandbox", "oracle", "eval", "collect", "traces"]


def _verify_two(monkeypatch: pytest.MonkeyPatch, fakes: SimpleNamespace, level: list[str]) -> int:
    monkeypatch.setattr(functions_cli, "_sandbox_factory", lambda backend, limits: fakes.Subprocess)
    argv = ["data", "verify", "--split", "builtin", "--variant", "annotated", "--limit", "2"]
    return cli.main([*level, *argv])


def test_progress_is_logged_at_info_by_default(
    monkeypatch: pytest.MonkeyPatch, fakes: SimpleNamespace, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _verify_two(monkeypatch, fakes, []) == 0
    err = capsys.readouterr().err.splitlines()
    assert [line.split(" (")[0] for line in err] == ["codearc: verified 2/2"]


def test_log_level_flag_reaches_the_logger(
    monkeypatch: pytest.MonkeyPatch, fakes: SimpleNamespace, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _verify_two(monkeypatch, fakes, ["--log-level", "warning"]) == 0
    assert capsys.readouterr().err == ""
    assert cli.log.level == logging.WARNING
