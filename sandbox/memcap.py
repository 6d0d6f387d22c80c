"""A memory cap for a whole bwrap sandbox: a cgroup where the harness may make one.

Rlimits bound each process, not their sum: a call with many processes could hold far more
than its limit on the host. A memory cgroup (v2, or v1 where the host mounts the memory
controller that way) bounds the sum and the kernel's OOM killer enforces it inside the
cgroup. Where no cgroup can be created (no write access to the harness's own cgroup), the
worker falls back to a watchdog that sums the resident memory of the sandbox's processes
during each call and kills the call over the cap.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from dataclasses import dataclass

CGROUP_ROOT = "/sys/fs/cgroup"
WATCHDOG = "RSS watchdog"
SANDBOX_BASE_MB = 256
"""Memory of a sandbox beyond one call's limit: the warm worker and its copy in the call."""
_counter = itertools.count()
_probed: dict[str, str | None] = {}


@dataclass(frozen=True)
class _Parent:
    version: int
    path: str


def _own_cgroup() -> _Parent | None:
    """The memory cgroup the harness runs in, if it may create cgroups below it."""
    try:
        with open("/proc/self/cgroup") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            base = os.path.join(CGROUP_ROOT, "memory", path.lstrip("/"))
            if os.path.exists(os.path.join(base, "memory.limit_in_bytes")):
                return _Parent(1, base) if os.access(base, os.W_OK) else None
    for line in lines:
        if line.startswith("0::"):
            for root in (CGROUP_ROOT, os.path.join(CGROUP_ROOT, "unified")):
                base = os.path.join(root, line[3:].lstrip("/"))
                try:
                    with open(os.path.join(root, "cgroup.controllers")) as f:
                        if "memory" not in f.read().split():
                            continue
                except OSError:
                    continue
                return _Parent(2, base) if os.access(base, os.W_OK) else None
    return None


class MemoryCgroup:
    """One sandbox's cgroup: made before launch, joined by the launched process, then removed."""

    def __init__(self, parent: _Parent, limit_bytes: int) -> None:
        self.version = parent.version
        name = f"codearc-sandbox-{os.getpid()}-{next(_counter)}"
        self.path = os.path.join(parent.path, name)
        if parent.version == 2:
            # Processes may sit only in leaf cgroups once a controller is enabled below.
            _write(os.path.join(parent.path, "cgroup.subtree_control"), "+memory")
        os.mkdir(self.path)
        try:
            if parent.version == 1:
                _write(os.path.join(self.path, "memory.limit_in_bytes"), str(limit_bytes))
                swap = os.path.join(self.path, "memory.memsw.limit_in_bytes")
                if os.path.exists(swap):  # memory plus swap: equal to the limit means no swap
                    _write(swap, str(limit_bytes))
            else:
                _write(os.path.join(self.path, "memory.max"), str(limit_bytes))
                swap = os.path.join(self.path, "memory.swap.max")
                if os.path.exists(swap):
                    _write(swap, "0")
        except OSError:
            self.remove()
            raise

    def join(self) -> None:
        """Move the calling process into the cgroup (run in the launched child, before exec)."""
        _write(os.path.join(self.path, "cgroup.procs"), "0")

    def remove(self) -> None:
        """Remove the cgroup once its processes are gone (they may take a moment to exit)."""
        import time

        for _ in range(50):
            try:
                os.rmdir(self.path)
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.02)


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def make_cgroup(limit_bytes: int) -> MemoryCgroup | None:
    """A fresh memory cgroup with this limit, or None when the harness cannot make one."""
    parent = _own_cgroup()
    if parent is None:
        return None
    try:
        return MemoryCgroup(parent, limit_bytes)
    except OSError:
        return None


def cap_kind() -> str:
    """What caps a bwrap sandbox's memory here: "cgroup v2", "cgroup v1" or the watchdog."""
    if "kind" not in _probed:
        group = make_cgroup(64 * 1024 * 1024)
        _probed["kind"] = f"cgroup v{group.version}" if group is not None else WATCHDOG
        if group is not None:
            with contextlib.suppress(OSError):
                group.remove()
    return _probed["kind"] or WATCHDOG
