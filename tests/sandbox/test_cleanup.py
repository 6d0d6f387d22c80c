"""Nothing survives close, SIGTERM or a SIGKILL of the harness process."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from tests.sandbox.conftest import require_backend

HARNESS = textwrap.dedent(
    """
    import os, signal, sys, threading, time, warnings
    warnings.simplefilter("ignore")
    from codearc_env.sandbox import make_sandbox
    from codearc_env.sandbox.base import Invocation
    box = make_sandbox(sys.argv[1])
    box.start()
    ident = box._container_id if box.name == "docker" else box._proc.pid
    # A call that would run for ten minutes, with a grandchild, is in flight when we die.
    src = "import os, time\\ndef f():\\n    os.fork()\\n    time.sleep(600)\\n"
    threading.Thread(target=box.run_one, args=(src, "f", Invocation()), daemon=True).start()
    time.sleep(1.0)
    def descendants(pid):
        found, frontier = [], [pid]
        while frontier:
            parent = frontier.pop()
            for name in os.listdir("/proc"):
                try:
                    stat = open(f"/proc/{name}/stat").read()
                except (OSError, ValueError):
                    continue
                if int(stat[stat.rindex(")") + 2 :].split()[1]) == parent:
                    found.append(int(name))
                    frontier.append(int(name))
        return found
    root = box._proc.pid if box.name != "docker" else os.getpid()
    print(ident, *descendants(root), flush=True)
    os.kill(os.getpid(), getattr(signal, sys.argv[2]))
    time.sleep(60)
    """
)


def _launch_and_kill(backend: str, sig: str) -> list[str]:
    proc = subprocess.run(
        [sys.executable, "-c", HARNESS, backend, sig], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == -getattr(signal, sig), proc.stderr
    return proc.stdout.split()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


def _wait_until(predicate, timeout: float = 15.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


@pytest.mark.parametrize("backend", [pytest.param("bwrap", marks=pytest.mark.bwrap), "process"])
@pytest.mark.parametrize("sig", ["SIGKILL", "SIGTERM"])
def test_local_sandbox_dies_with_the_harness(backend: str, sig: str) -> None:
    require_backend(backend)
    pid, *below = (int(p) for p in _launch_and_kill(backend, sig))
    assert len(below) >= 2, "the in-flight call was not running"
    assert _wait_until(lambda: not _alive(pid)), f"{backend} process {pid} survived"
    if backend == "process":
        # No pid namespace: the call's own forks are orphaned to init, out of our reach. The
        # worker and the call process itself die (PR_SET_PDEATHSIG); see docs/sandbox.md.
        # The harness lists the worker's direct child (the call) first.
        for orphan in below[1:]:
            with contextlib.suppress(OSError):
                os.kill(orphan, signal.SIGKILL)
        below = below[:1]
    survivors = [p for p in below if not _wait_until(lambda p=p: not _alive(p))]
    assert not survivors, f"{backend}: processes {survivors} survived the harness"


@pytest.mark.docker
@pytest.mark.parametrize("sig", ["SIGKILL", "SIGTERM"])
def test_container_is_removed_when_the_harness_dies(sig: str) -> None:
    require_backend("docker")
    import docker

    container_id = _launch_and_kill("docker", sig)[0]
    client = docker.from_env()
    try:

        def gone() -> bool:
            try:
                client.containers.get(container_id)
                return False
            except docker.errors.NotFound:
                return True

        assert _wait_until(gone), f"container {container_id[:12]} survived the harness"
    finally:
        client.close()


@pytest.mark.docker
def test_stale_labelled_containers_are_removed_at_start() -> None:
    require_backend("docker")
    import docker

    from codearc_env.sandbox.docker_backend import owner_labels
    from codearc_env.sandbox.image import image_tag

    dead = subprocess.Popen(["true"])
    dead.wait()
    labels = {**owner_labels(), "codearc-env.owner-pid": str(dead.pid)}
    client = docker.from_env()
    try:
        stale = client.containers.create(
            image_tag(), ["sleep", "600"], labels=labels, network_mode="none"
        )
        stale.start()
        # A fresh harness process cleans up at its first docker start.
        code = (
            "from codearc_env.sandbox import make_sandbox\n"
            "with make_sandbox('docker') as box:\n"
            "    pass\n"
        )
        subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
        with pytest.raises(docker.errors.NotFound):
            client.containers.get(stale.id)
    finally:
        with contextlib.suppress(docker.errors.NotFound):
            client.containers.get(stale.id).remove(force=True)
        client.close()


@pytest.mark.parametrize("backend", [pytest.param("bwrap", marks=pytest.mark.bwrap), "process"])
def test_sandbox_outlives_the_thread_that_started_it(backend: str) -> None:
    # Parent-death signals are per thread: a sandbox started from a pool thread must survive it.
    import threading
    import warnings

    from codearc_env.sandbox import make_sandbox
    from codearc_env.sandbox.base import Invocation

    require_backend(backend)
    box = make_sandbox(backend)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        starter = threading.Thread(target=box.start)
        starter.start()
        starter.join()
    try:
        time.sleep(0.5)
        result = box.run_one("def f():\n    return 1\n", "f", Invocation())
        assert result.ok and result.value_str == "1", result
        assert box.restarts == 0  # type: ignore[attr-defined]
    finally:
        box.close()


@pytest.mark.docker
def test_container_killed_from_outside_is_replaced_and_the_call_run_again() -> None:
    require_backend("docker")
    import threading

    import docker

    from codearc_env.sandbox import make_sandbox
    from codearc_env.sandbox.base import Invocation

    with make_sandbox("docker") as box:
        first = box._container_id  # type: ignore[attr-defined]
        client = docker.from_env()
        killer = threading.Timer(1.0, lambda: client.api.kill(first))
        killer.start()
        try:
            source = (
                "import time\ndef f(x):\n    if x == 0:\n        time.sleep(30)\n    return x\n"
            )
            results = box.run(source, "f", [Invocation(args=(0,)), Invocation(args=(1,))])
        finally:
            killer.join()
            client.close()
        # The loss was not the call's doing: it ran again on a fresh container, where it met
        # its own time limit, not a harness failure.
        assert results[0].infra_error is None and results[0].timed_out
        assert results[1].ok and results[1].value_str == "1"
        assert box._container_id != first  # type: ignore[attr-defined]
        assert box.restarts == 1  # type: ignore[attr-defined]
