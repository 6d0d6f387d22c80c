"""`codearc sandbox ...`: parsed by a parser of its own, and run through `codearc` itself
where the exit code is decided there (the one mapping of codearc_env.errors)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from codearc_env.cli import main
from codearc_env.errors import EXIT_ERROR, SandboxError, exit_code
from codearc_env.sandbox.cli import register


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="codearc")
    register(parser.add_subparsers(dest="command"))
    return parser.parse_args(list(argv))


def test_status_lists_every_backend(capsys: pytest.CaptureFixture[str]) -> None:
    args = parse("sandbox", "status")
    assert args.func(args) == 0
    out = capsys.readouterr().out
    for name in ("docker", "bwrap", "process", "image", "rootfs", "seccomp"):
        assert name in out
    from codearc_env.sandbox.seccomp import seccomp_summary

    assert f"seccomp  {seccomp_summary()}" in out


def test_status_says_which_memory_cap_bwrap_uses(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from codearc_env.sandbox import memcap

    for kind in ("cgroup v1", "RSS watchdog"):
        monkeypatch.setitem(memcap._probed, "kind", kind)
        args = parse("sandbox", "status")
        assert args.func(args) == 0
        assert (
            f"memory   bwrap: {kind} caps each sandbox's processes together; "
            "docker: the container's memory limit"
        ) in capsys.readouterr().out


def test_check_passes_on_selected_checks(capsys: pytest.CaptureFixture[str]) -> None:
    args = parse("sandbox", "check", "--backend", "process", "--only", "plain_values", "no_network")
    assert args.func(args) == 0
    out = capsys.readouterr()
    assert "plain_values" in out.out and "known failure" in out.out
    assert "1 passed, 0 failed, 1 known failures" in out.out
    assert "NOT a security boundary" in out.err


def test_check_rejects_unknown_checks(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sandbox", "check", "--backend", "process", "--only", "nonsense"]) == 2
    assert capsys.readouterr().err == "codearc: error: unknown conformance checks: nonsense\n"


def test_check_rejects_unknown_backend(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sandbox", "check", "--backend", "vm"]) == 2
    assert capsys.readouterr().err == (
        "codearc: error: unknown sandbox backend 'vm'; choose from docker, bwrap, process\n"
    )


def _failing(message: str) -> Callable[..., object]:
    def fail(*args: object, **kwargs: object) -> object:
        raise SandboxError(message)

    return fail


# A sandbox that cannot start or be built is "no answer" in every command: the exit code of
# the one mapping, never 1 (which means FAIL).
def test_a_sandbox_that_cannot_start_exits_as_elsewhere(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from codearc_env.sandbox.process import ProcessSandbox

    monkeypatch.setattr(ProcessSandbox, "start", _failing("the worker did not start"))
    assert main(["sandbox", "check", "--backend", "process"]) == exit_code(SandboxError()) == 2
    assert capsys.readouterr().err == "codearc: error: the worker did not start\n"


def test_build_image_failure_exits_as_elsewhere(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from codearc_env.sandbox import image

    monkeypatch.setattr(image, "build_image", _failing("docker is not running"))
    assert main(["sandbox", "build-image"]) == EXIT_ERROR
    assert capsys.readouterr().err == "codearc: error: docker is not running\n"


def test_build_rootfs_failure_exits_as_elsewhere(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from codearc_env.sandbox import rootfs

    monkeypatch.setenv("CODEARC_SANDBOX_ROOTFS", str(tmp_path / "missing"))
    monkeypatch.setattr(rootfs, "build_rootfs", _failing("debootstrap is not installed"))
    assert main(["sandbox", "build-rootfs"]) == EXIT_ERROR
    assert capsys.readouterr().err == "codearc: error: debootstrap is not installed\n"


def test_a_failing_check_exits_1(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from codearc_env.sandbox import conformance

    real = conformance.run_checks

    def one_failing(box: object, only: object, **kwargs: object) -> list[object]:
        results = real(box, only, **kwargs)
        return [replace(results[0], passed=False, detail="made to fail"), *results[1:]]

    monkeypatch.setattr(conformance, "run_checks", one_failing)
    assert main(["sandbox", "check", "--backend", "process", "--only", "plain_values"]) == 1
    assert "0 passed, 1 failed, 0 known failures" in capsys.readouterr().out


def test_build_image_options_parse() -> None:
    args = parse("sandbox", "build-image", "--offline", "--force")
    assert args.offline and args.force


def test_build_rootfs_reports_an_existing_root(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    root = tmp_path / "rootfs"
    (root / "usr" / "bin").mkdir(parents=True)
    (root / "usr" / "bin" / "python3").write_text("")
    (root / "etc").mkdir()
    monkeypatch.setenv("CODEARC_SANDBOX_ROOTFS", str(root))
    args = parse("sandbox", "build-rootfs")
    assert args.func(args) == 0
    assert capsys.readouterr().out == f"{root}: already built\n"
