"""The bwrap backend's seccomp filter (sandbox/seccomp.py), against real bwrap."""

from __future__ import annotations

import struct
from collections.abc import Iterator

import pytest

from codearc_env.sandbox import make_sandbox, seccomp, unavailable_reason
from codearc_env.sandbox.base import Invocation, Sandbox

SYSCALL = """
import ctypes

def f(nr):
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.syscall(nr, 0, 0, 0, 0), ctypes.get_errno()
"""
PTRACE, IO_URING_SETUP, BPF, GETPID = 101, 425, 321, 39
EPERM = 1


def started() -> Sandbox:
    reason = unavailable_reason("bwrap")
    if reason is not None:
        pytest.skip(f"bwrap backend unavailable: {reason}")
    box = make_sandbox("bwrap")
    box.start()
    return box


def test_the_program_denies_the_table_and_ends_with_allow_deny_kill() -> None:
    program = seccomp.filter_program("x86_64")
    assert program is not None
    insns = [struct.unpack("=HBBI", program[i : i + 8]) for i in range(0, len(program), 8)]
    assert len(insns) == 5 + len(set(seccomp.DENIED_X86_64.values())) + 3
    denied = {k for code, _, _, k in insns[5:-3] if code == 0x15}
    assert denied == set(seccomp.DENIED_X86_64.values())
    assert [k for _, _, _, k in insns[-3:]] == [0x7FFF0000, 0x00050000 | EPERM, 0x80000000]
    for i, (code, jt, _, _) in enumerate(insns):
        if code == 0x15 and i >= 5:  # every listed call jumps to "return EPERM"
            assert i + 1 + jt == len(insns) - 2


def test_no_program_without_a_table_for_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    assert seccomp.filter_program("aarch64") is None
    monkeypatch.setattr(seccomp.platform, "machine", lambda: "aarch64")
    assert seccomp.program_fd() is None
    assert seccomp.seccomp_summary() == "none (no system call table for aarch64)"


@pytest.fixture(scope="module")
def bwrap_box() -> Iterator[Sandbox]:
    box = started()
    yield box
    box.close()


@pytest.mark.bwrap
def test_denied_calls_fail_with_eperm_and_others_work(bwrap_box: Sandbox) -> None:
    if seccomp.filter_program() is None:
        pytest.skip("no system call table for this machine")
    calls = [Invocation(args=(nr,)) for nr in (PTRACE, IO_URING_SETUP, BPF, GETPID)]
    results = bwrap_box.run(SYSCALL, "f", calls)
    assert [r.value_str for r in results[:3]] == [f"(-1, {EPERM})"] * 3
    pid, err = results[3].value_str.strip("()").split(", ")
    assert int(pid) > 0 and err == "0"
    assert "system calls denied" in bwrap_box.info().details["seccomp"]


@pytest.mark.bwrap
def test_without_the_filter_ptrace_is_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The filter, not bwrap's other settings, is what denies them (the test above can fail)."""
    monkeypatch.setattr(seccomp, "program_fd", lambda: None)
    box = started()
    try:
        (result,) = box.run(SYSCALL, "f", [Invocation(args=(PTRACE,))])
        assert result.value_str == "(0, 0)"  # PTRACE_TRACEME succeeds
    finally:
        box.close()
