"""`codearc sandbox ...` through our own argparse parser (the lead wires the real one)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

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
    args = parse("sandbox", "check", "--backend", "process", "--only", "nonsense")
    assert args.func(args) == 2
    assert capsys.readouterr().err == "error: unknown conformance checks: nonsense\n"


def test_check_rejects_unknown_backend(capsys: pytest.CaptureFixture[str]) -> None:
    args = parse("sandbox", "check", "--backend", "vm")
    assert args.func(args) == 2
    assert "unknown sandbox backend 'vm'" in capsys.readouterr().err


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
