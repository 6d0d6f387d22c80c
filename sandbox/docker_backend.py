"""The ``docker`` backend: one hardened container per sandbox, the worker as its main process.

The harness talks to the worker over the container's attached stdin/stdout (attached before
start, so nothing is missed), not ``docker exec`` per call. The container: non-root user, no
network, read-only root, a size- and inode-capped tmpfs scratch, no IPC namespace sharing
and no /dev/shm, all capabilities dropped, no-new-privileges, pids/memory/CPU limits, an init
process (the worker itself: see _host_config), capped logs, auto-removal, and labels naming its owner so stale ones can be removed.

If the harness dies, the attach socket closes, the worker reads EOF on stdin (StdinOnce) and
exits, and docker removes the container; a later start also removes labelled containers whose
owner process is gone.
"""

from __future__ import annotations

import contextlib
import os
import socket
from typing import Any

from codearc_env.errors import SandboxError, SandboxUnavailableError
from codearc_env.sandbox.base import Limits
from codearc_env.sandbox.channel import Channel, DockerSocketTransport
from codearc_env.sandbox.image import docker_client, image_present, image_tag
from codearc_env.sandbox.launch import PYTHON_FLAGS, launch_env, launch_source
from codearc_env.sandbox.workerbox import WorkerSandbox

LABEL = "codearc-env.sandbox"
LABEL_OWNER_PID = "codearc-env.owner-pid"
LABEL_OWNER_START = "codearc-env.owner-start"
LABEL_OWNER_HOST = "codearc-env.owner-host"
SANDBOX_USER = "65534:65534"
TMPFS_MB = 64
TMPFS_INODES = 4096
BASE_MEMORY_MB = 256
"""Container memory beyond one call's limit: the warm worker with numpy and the call's copy."""

_stale_checked = False


def process_start_ticks(pid: int) -> str:
    """The start time of pid in clock ticks since boot ("" if unknown): pid plus this is unique."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
        return stat[stat.rindex(")") + 2 :].split()[19]
    except (OSError, ValueError, IndexError):
        return ""


def owner_labels() -> dict[str, str]:
    pid = os.getpid()
    return {
        LABEL: "1",
        LABEL_OWNER_PID: str(pid),
        LABEL_OWNER_START: process_start_ticks(pid),
        LABEL_OWNER_HOST: socket.gethostname(),
    }


def _owner_alive(labels: dict[str, str]) -> bool:
    if labels.get(LABEL_OWNER_HOST) != socket.gethostname():
        return True  # another machine's container: not ours to judge
    try:
        pid = int(labels.get(LABEL_OWNER_PID, ""))
    except ValueError:
        return False
    start = process_start_ticks(pid)
    return bool(start) and start == labels.get(LABEL_OWNER_START)


def remove_stale_containers(client: Any) -> list[str]:
    """Remove labelled sandbox containers whose owning harness process no longer exists.

    One listing call, whose rows carry the labels: docker auto-removes exited sandboxes at
    any moment, so asking about each container in turn could find one gone.
    """
    removed = []
    for row in client.api.containers(all=True, filters={"label": f"{LABEL}=1"}):
        if _owner_alive(row.get("Labels") or {}):
            continue
        try:
            client.api.remove_container(row["Id"], force=True)
            removed.append(row["Id"][:12])
        except Exception:  # already gone, or being auto-removed
            pass
    return removed


class DockerSandbox(WorkerSandbox):
    name = "docker"
    is_security_boundary = True

    def __init__(self, limits: Limits | None = None, image: str | None = None) -> None:
        super().__init__(limits)
        self.image = image or image_tag()
        self._client: Any = None
        self._container_id: str | None = None
        self._transport: DockerSocketTransport | None = None

    @classmethod
    def unavailable_reason(cls, image: str | None = None) -> str | None:
        try:
            client = docker_client()
        except SandboxUnavailableError as exc:
            return str(exc)
        try:
            if not image_present(client, image):
                return (
                    f"the image {image or image_tag()} is not built "
                    "(run: codearc sandbox build-image)"
                )
        finally:
            client.close()
        return None

    @classmethod
    def available(cls) -> bool:
        return cls.unavailable_reason() is None

    def _connect(self) -> Any:
        global _stale_checked
        if self._client is None:
            self._client = docker_client()
        if not _stale_checked:
            _stale_checked = True
            remove_stale_containers(self._client)
        return self._client

    def _host_config(self, api: Any) -> Any:
        from docker.types import LogConfig

        limits = self.limits
        memory = f"{limits.memory_mb + BASE_MEMORY_MB}m"
        return api.create_host_config(
            network_mode="none",
            read_only=True,
            tmpfs={
                "/tmp": f"rw,nosuid,nodev,noexec,size={TMPFS_MB}m,nr_inodes={TMPFS_INODES},mode=1777"
            },
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            ipc_mode="none",  # private IPC and no /dev/shm to leave files in
            pids_limit=limits.processes + 16,
            mem_limit=memory,
            memswap_limit=memory,  # no swap
            nano_cpus=1_000_000_000,
            # No docker-init: it would hold the container's stdin/stdout, and a call (same
            # user) could open them through /proc/1/fd to forge replies or read requests. The
            # worker is PID 1 instead: it is a child subreaper that kills and reaps every
            # orphan after each call, and signals from inside cannot kill it.
            init=False,
            auto_remove=True,
            log_config=LogConfig(
                type=LogConfig.types.JSON, config={"max-size": "256k", "max-file": "1"}
            ),
        )

    def _launch(self) -> Channel:
        import json

        try:
            client = self._connect()
            api = client.api
            created = api.create_container(
                self.image,
                command=[
                    "python3",
                    *PYTHON_FLAGS,
                    "-c",
                    launch_source(),
                    json.dumps({"scratch": "/tmp", "ipc_cleanup": True}),
                ],
                user=SANDBOX_USER,
                working_dir="/tmp",
                # Merged with the image's ENV (ours sets only LANG): checked by the tests,
                # which read the worker's PYTHON* variables from its hello.
                environment=launch_env(),
                stdin_open=True,  # with detach=False this sets StdinOnce: EOF when we detach
                detach=False,
                tty=False,
                network_disabled=True,
                hostname="sandbox",
                labels=owner_labels(),
                host_config=self._host_config(api),
            )
            self._container_id = created["Id"]
            response = api.attach_socket(
                self._container_id, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}
            )
            sock = getattr(response, "_sock", response)
            api.start(self._container_id)
        except SandboxError:
            raise
        except Exception as exc:  # docker.errors.* (the stale sweep's too), connection failures
            raise SandboxError(f"cannot start the docker sandbox: {exc}") from exc
        self._transport = DockerSocketTransport(sock)
        return Channel(self._transport)

    def _terminate(self) -> None:
        cid, self._container_id = self._container_id, None
        self._transport = None
        if cid is not None and self._client is not None:
            # It may be gone already (auto_remove) or its removal in progress.
            with contextlib.suppress(Exception):
                self._client.api.remove_container(cid, force=True)

    def close(self) -> None:
        super().close()
        if self._client is not None:
            self._client.close()
            self._client = None

    def _diagnostics(self) -> str:
        if self._transport is not None and self._transport.stderr:
            text = bytes(self._transport.stderr).decode("utf-8", "replace").strip()
            return text.splitlines()[-1][:300] if text else ""
        return ""

    def _describe(self) -> dict[str, str]:
        return {"image": self.image, "container": (self._container_id or "")[:12]}
