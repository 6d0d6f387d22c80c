"""The ``bwrap`` backend: bubblewrap namespaces around the warm worker.

New user, pid, network, ipc, uts and cgroup namespaces; every capability dropped; no further
user namespaces; the cached Debian root file system (or, failing that, the host's /usr)
bound read-only; a size-capped tmpfs as the only writable place; a fresh /proc that shows
only the sandbox's own processes; an empty environment; the sandbox dies with the harness.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from codearc_env.sandbox.local import LocalWorkerSandbox
from codearc_env.sandbox.rootfs import rootfs_dir, rootfs_ready

from codearc_env.errors import SandboxUnavailableError

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
        return {"scratch": "/tmp", "nproc": True}

    def _command(self, worker_args: list[str]) -> list[str]:
        reason = self.unavailable_reason()
        if reason is not None:
            raise SandboxUnavailableError(f"the bwrap sandbox cannot run here: {reason}")
        root = self._root()
        usr = str(root / "usr") if root else "/usr"
        cmd = [
            shutil.which("bwrap") or "bwrap",
            "--unshare-all",  # pid, net, ipc, uts, cgroup (and user, "if possible")
            "--unshare-user",  # required, not "if possible"
            "--disable-userns",
            "--die-with-parent",
            "--new-session",
            "--cap-drop",
            "ALL",
            "--clearenv",
            "--uid",
            str(SANDBOX_UID),
            "--gid",
            str(SANDBOX_UID),
            "--hostname",
            "sandbox",
            "--ro-bind",
            usr,
            "/usr",
            "--symlink",
            "usr/bin",
            "/bin",
            "--symlink",
            "usr/sbin",
            "/sbin",
            "--symlink",
            "usr/lib",
            "/lib",
            "--symlink",
            "usr/lib64",
            "/lib64",
        ]
        if root is not None:
            cmd += ["--ro-bind", str(root / "etc"), "/etc"]
        cmd += [
            "--proc",
            "/proc",
            "--dev",
            "/dev",
            "--size",
            str(TMPFS_BYTES),
            "--tmpfs",
            "/tmp",
            "--chdir",
            "/tmp",
            "--setenv",
            "PATH",
            "/usr/bin:/bin",
            "--setenv",
            "LANG",
            "C.UTF-8",
            "--setenv",
            "HOME",
            "/tmp",
            "--",
        ]
        return cmd + worker_args

    def _describe(self) -> dict[str, str]:
        root = self._root()
        return {"root": str(root) if root else "host /usr"}
