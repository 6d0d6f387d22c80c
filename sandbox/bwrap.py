"""The ``bwrap`` backend: bubblewrap namespaces around the warm worker.

New user, pid, network, ipc, uts and cgroup namespaces; every capability dropped; no further
user namespaces; the cached Debian root file system (or, failing that, the host's /usr)
bound read-only; a size-capped tmpfs as the only writable place; a fresh /proc that shows
only the sandbox's own processes; an empty environment; the sandbox dies with the harness.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from codearc_env.errors import SandboxError, SandboxUnavailableError
from codearc_env.sandbox import memcap, seccomp
from codearc_env.sandbox.base import Limits
from codearc_env.sandbox.channel import Channel
from codearc_env.sandbox.launch import launch_env
from codearc_env.sandbox.local import LocalWorkerSandbox
from codearc_env.sandbox.rootfs import rootfs_dir, rootfs_ready

SANDBOX_UID = 65534  # nobody
TMPFS_BYTES = 64 * 1024 * 1024
_probe_cache: dict[str, str | None] = {}


def _probe(bwrap: str) -> str | None:
    """None when bwrap can create our namespaces here, else the reason it cannot."""
    if bwrap not in _probe_cache:
        try:
            proc = subprocess.run(
                [
                    bwrap,
                    "--unshare-all",
                    "--die-with-parent",
                    "--ro-bind",
                    "/usr",
                    "/usr",
                    "--symlink",
                    "usr/bin",
                    "/bin",
                    "--symlink",
                    "usr/lib",
                    "/lib",
                    "--symlink",
                    "usr/lib64",
                    "/lib64",
                    "--proc",
                    "/proc",
                    "--dev",
                    "/dev",
                    "true",
                ],
                capture_output=True,
                text=True,
                timeout=20,
            )
            reason = None if proc.returncode == 0 else (proc.stderr.strip() or "bwrap failed")
        except (OSError, subprocess.TimeoutExpired) as exc:
            reason = str(exc)
        _probe_cache[bwrap] = reason
    return _probe_cache[bwrap]


class BwrapSandbox(LocalWorkerSandbox):
    name = "bwrap"
    is_security_boundary = True

    @classmethod
    def unavailable_reason(cls) -> str | None:
        bwrap = shutil.which("bwrap")
        if bwrap is None:
            return "bubblewrap is not installed (apt-get install bubblewrap)"
        if not rootfs_ready() and not os.path.exists("/usr/bin/python3"):
            return (
                "no Python for the sandbox: build the root file system "
                "(codearc sandbox build-rootfs) or install python3 under /usr"
            )
        return _probe(bwrap)

    @classmethod
    def available(cls) -> bool:
        return cls.unavailable_reason() is None

    def _root(self) -> Path | None:
        root = rootfs_dir()
        return root if rootfs_ready(root) else None

    def _python(self) -> str:
        return "/usr/bin/python3"

    def _worker_config(self) -> dict[str, object]:
        config: dict[str, object] = {"scratch": "/tmp", "nproc": True, "ipc_cleanup": True}
        if self._cgroup is None:
            config["memory_watchdog_mb"] = self._memory_mb()
        return config

    def _memory_mb(self) -> int:
        """The whole sandbox's memory: one call's limit plus the worker's own."""
        return self.limits.memory_mb + memcap.SANDBOX_BASE_MB

    def _command(self, worker_args: list[str]) -> list[str]:
        reason = self.unavailable_reason()
        if reason is not None:
            raise SandboxUnavailableError(f"the bwrap sandbox cannot run here: {reason}")
        root = self._root()
        usr = str(root / "usr") if root else "/usr"
        pairs = [
            # user (required, not "if possible"), pid, net, ipc, uts and cgroup namespaces
            ("--unshare-all", "--unshare-user", "--disable-userns"),
            # The worker is PID 1 of the sandbox: the kernel drops every signal a call sends it
            # that it has no handler for, SIGKILL and SIGSTOP included.
            ("--die-with-parent", "--new-session", "--clearenv", "--as-pid-1"),
            ("--cap-drop", "ALL"),
            ("--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID), "--hostname", "sandbox"),
            ("--ro-bind", usr, "/usr"),
            ("--symlink", "usr/bin", "/bin", "--symlink", "usr/sbin", "/sbin"),
            ("--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64"),
            # The host fallback gets only what shared libraries need from /etc (numpy finds
            # its BLAS through /etc/alternatives), not the host's configuration or secrets.
            ("--ro-bind", str(root / "etc"), "/etc")
            if root
            else ("--ro-bind-try", "/etc/alternatives", "/etc/alternatives"),
            ("--proc", "/proc", "--dev", "/dev"),
            ("--size", str(TMPFS_BYTES), "--tmpfs", "/tmp"),
            # bwrap's own root tmpfs, /dev and /dev/shm would otherwise be writable and
            # outlive a call; device nodes such as /dev/null still work on a read-only /dev.
            ("--remount-ro", "/", "--remount-ro", "/dev"),
            ("--chdir", "/tmp"),
            ("--seccomp", str(self._seccomp_fd)) if self._seccomp_fd is not None else (),
            # --clearenv above: the worker's environment is exactly launch_env().
            tuple(a for k, v in launch_env().items() for a in ("--setenv", k, v)),
            ("--",),
        ]
        return [shutil.which("bwrap") or "bwrap"] + [a for p in pairs for a in p] + worker_args

    _seccomp_fd: int | None = None
    _cgroup: memcap.MemoryCgroup | None = None

    def __init__(self, limits: Limits | None = None, memory_cap: str | None = None) -> None:
        """``memory_cap``: "cgroup" (fail to launch without one), "watchdog", or None (a
        cgroup when the harness may create one, else the watchdog)."""
        super().__init__(limits)
        if memory_cap not in (None, "cgroup", "watchdog"):
            raise ValueError(f"memory_cap must be 'cgroup' or 'watchdog', not {memory_cap!r}")
        self.memory_cap = memory_cap

    def _launch(self) -> Channel:
        if self.memory_cap != "watchdog":
            self._cgroup = memcap.make_cgroup(self._memory_mb() * 1024 * 1024)
            if self._cgroup is None and self.memory_cap == "cgroup":
                raise SandboxError("the bwrap sandbox cannot create a memory cgroup here")
        self._seccomp_fd = seccomp.program_fd()
        try:
            return super()._launch()
        finally:  # bwrap has read (or failed to read) the filter: our copy can go
            if self._seccomp_fd is not None:
                os.close(self._seccomp_fd)
                self._seccomp_fd = None

    def _terminate(self) -> None:
        super()._terminate()
        group, self._cgroup = self._cgroup, None
        if group is not None:
            group.remove()

    def _preexec(self, run_as: int | None) -> Callable[[], None] | None:
        group = self._cgroup
        if group is None:
            return None

        def enter() -> None:  # in the launched child, before exec
            group.join()
            if run_as is not None:
                os.setgroups([])
                os.setgid(run_as)
                os.setuid(run_as)

        return enter

    def memory_cap_in_force(self) -> str:
        if self._cgroup is not None:
            return f"cgroup v{self._cgroup.version}"
        return memcap.WATCHDOG

    def _pass_fds(self) -> tuple[int, ...]:
        return (self._seccomp_fd,) if self._seccomp_fd is not None else ()

    def _run_as(self) -> int | None:
        # Launched by root, the sandbox's processes would count as root's, and RLIMIT_NPROC
        # never binds root: drop to nobody first so the per-call process limit holds.
        return SANDBOX_UID if os.geteuid() == 0 else None

    def _describe(self) -> dict[str, str]:
        root = self._root()
        return {
            "root": str(root) if root else "host /usr",
            "seccomp": seccomp.seccomp_summary(),
            "memory_cap": f"{self.memory_cap_in_force()} ({self._memory_mb()} MB)",
        }
