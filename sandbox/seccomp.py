"""A seccomp filter for the bwrap backend: system calls untrusted code has no use for fail.

bwrap already drops every capability and unshares every namespace, so most of these calls
would fail anyway; the filter removes the kernel surface behind them (a bug in ``bpf``,
``io_uring`` or ``userfaultfd`` reachable without privileges is a classic way out of a
sandbox) and keeps one process of the sandbox from reading another's memory or descriptors
(``ptrace``, ``process_vm_readv``, ``pidfd_getfd``). Docker applies its own default profile.

The program is classic BPF, built here from a table of x86-64 system call numbers: on any
other architecture :func:`filter_program` returns None and the sandbox runs without it
(``codearc sandbox status`` says so). Denied calls return ``EPERM``; a call made through
another ABI (x32, or 32-bit ``int 0x80``) kills the process, so the table cannot be bypassed.
"""

from __future__ import annotations

import errno
import os
import platform
import struct

# seccomp_data: int nr at offset 0, u32 arch at offset 4
_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JGE_K = 0x35
_RET_K = 0x06
_RET_KILL_PROCESS = 0x80000000
_RET_ERRNO = 0x00050000
_RET_ALLOW = 0x7FFF0000
_AUDIT_ARCH_X86_64 = 0xC000003E
_X32_SYSCALL_BIT = 0x40000000

DENIED_X86_64: dict[str, int] = {
    # other processes' memory and descriptors
    "ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311, "kcmp": 312,
    "pidfd_getfd": 438,
    # kernel surfaces with a record of privilege escalations
    "bpf": 321, "perf_event_open": 298, "userfaultfd": 323, "io_uring_setup": 425,
    "io_uring_enter": 426, "io_uring_register": 427, "keyctl": 250, "add_key": 248,
    "request_key": 249,
    # namespaces and mounts (bwrap set them up; nothing inside may change them)
    "unshare": 272, "setns": 308, "mount": 165, "umount2": 166, "pivot_root": 155,
    "chroot": 161, "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431,
    "fsmount": 432, "fspick": 433, "mount_setattr": 442,
    # the machine itself
    "kexec_load": 246, "kexec_file_load": 320, "init_module": 175, "finit_module": 313,
    "delete_module": 176, "reboot": 169, "swapon": 167, "swapoff": 168, "syslog": 103,
    "acct": 163, "iopl": 172, "ioperm": 173, "quotactl": 179, "lookup_dcookie": 212,
    "open_by_handle_at": 304, "name_to_handle_at": 303,
}  # fmt: skip


def _insn(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def filter_program(machine: str | None = None) -> bytes | None:
    """The filter as bytes of ``struct sock_filter``, or None where we have no table."""
    if (machine or platform.machine()) != "x86_64":
        return None
    numbers = sorted(set(DENIED_X86_64.values()))
    deny_at = 4 + len(numbers) + 2  # index of the final "return EPERM"
    prog = [
        _insn(_LD_W_ABS, 0, 0, 4),  # 0: arch
        _insn(_JEQ_K, 1, 0, _AUDIT_ARCH_X86_64),  # 1: x86-64: go on at 3
        _insn(_RET_K, 0, 0, _RET_KILL_PROCESS),  # 2: 32-bit ABI
        _insn(_LD_W_ABS, 0, 0, 0),  # 3: system call number
        _insn(_JGE_K, 0, 0, _X32_SYSCALL_BIT),  # 4: patched below (x32 ABI: kill)
    ]
    for i, nr in enumerate(numbers):
        here = 5 + i
        prog.append(_insn(_JEQ_K, deny_at - (here + 1), 0, nr))
    prog.append(_insn(_RET_K, 0, 0, _RET_ALLOW))
    prog.append(_insn(_RET_K, 0, 0, _RET_ERRNO | errno.EPERM))
    prog.append(_insn(_RET_K, 0, 0, _RET_KILL_PROCESS))
    prog[4] = _insn(_JGE_K, len(prog) - 1 - 5, 0, _X32_SYSCALL_BIT)
    return b"".join(prog)


def seccomp_summary() -> str:
    """One line for status output: what the filter denies here, or "none"."""
    if filter_program() is None:
        return f"none (no system call table for {platform.machine()})"
    return f"{len(DENIED_X86_64)} system calls denied"


def program_fd() -> int | None:
    """A rewound memory file holding the filter (for ``bwrap --seccomp FD``)."""
    program = filter_program()
    if program is None:
        return None
    # close-on-exec like every descriptor of ours; Popen(pass_fds=...) hands it to bwrap only
    fd = os.memfd_create("codearc-seccomp")
    try:
        os.write(fd, program)
        os.lseek(fd, 0, os.SEEK_SET)
    except BaseException:
        os.close(fd)
        raise
    return fd
