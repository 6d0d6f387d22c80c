"""Code that attacks its own grading: killing its worker, breaking the scratch directory,
parking IPC objects, forging results. The conformance suite covers each attack per backend;
these tests pin the harness's side (reruns, labels, replacement) with exact outcomes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest

from codearc_env.sandbox import make_sandbox
from codearc_env.sandbox.base import Invocation, Limits, Sandbox
from codearc_env.sandbox.conformance import check_memory_cap_per_sandbox
from codearc_env.sandbox.worker import _ready_scratch, _wipe
from codearc_env.sandbox.workerbox import KILLED, KILLED_WHY
from tests.sandbox.conftest import require_backend

FAST = Limits(timeout_s=2.0, cpu_s=3)


def test_a_call_that_kills_its_worker_once_is_run_again_and_its_result_kept(
    process_box: Sandbox, tmp_path: Path
) -> None:
    # Kills the worker only while the marker file is absent: the rerun on a fresh worker
    # does not reproduce the death, so it was not the call's fault.
    marker = tmp_path / "killed-once"
    source = (
        "import os, signal\n"
        "def f(path):\n"
        "    if not os.path.exists(path):\n"
        "        open(path, 'w').close()\n"
        "        os.kill(os.getppid(), signal.SIGKILL)\n"
        "    return 'second try'\n"
    )
    before = process_box.restarts  # type: ignore[attr-defined]
    [result] = process_box.run(source, "f", [Invocation(args=(str(marker),))], FAST)
    assert (result.ok, result.value_str, result.infra_error) == (True, "second try", None)
    assert process_box.restarts == before + 1  # type: ignore[attr-defined]


def test_a_call_that_kills_every_worker_is_graded_and_the_rest_run(process_box: Sandbox) -> None:
    source = (
        "import os, signal\n"
        "def f(kill):\n"
        "    if kill:\n"
        "        os.kill(os.getppid(), signal.SIGKILL)\n"
        "    return 'ran'\n"
    )
    calls = [Invocation(args=(False,)), Invocation(args=(True,)), Invocation(args=(False,))]
    for isolation in ("call", "batch"):
        results = process_box.run(source, "f", calls, FAST, isolation=isolation)  # type: ignore[arg-type]
        assert [r.value_str for r in results] == ["ran", "", "ran"]
        assert (results[1].error_type, results[1].error_message) == (KILLED, KILLED_WHY)
        assert results[1].infra_error is None


def test_a_worker_lost_between_calls_is_replaced_without_blame(process_box: Sandbox) -> None:
    process_box.run_one("def f():\n    return 1\n", "f", Invocation())
    worker = process_box._proc  # type: ignore[attr-defined]
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()
    result = process_box.run_one("def f():\n    return 2\n", "f", Invocation())
    assert (result.ok, result.value_str, result.error_type) == (True, "2", None)


def test_a_worker_whose_scratch_is_gone_asks_to_be_replaced(process_box: Sandbox) -> None:
    # The process backend's scratch is a directory the call may remove (same user): the
    # worker cannot set up the next call there, says so, and the rest run on a new worker.
    source = (
        "import os\n"
        "def f(kind):\n"
        "    if kind == 'remove':\n"
        "        here = os.getcwd()\n"
        "        os.chdir('/')\n"
        "        os.rmdir(here)\n"
        "    return kind\n"
    )
    before = process_box.infra_replacements  # type: ignore[attr-defined]
    calls = [Invocation(args=("remove",)), Invocation(args=("next",)), Invocation(args=("last",))]
    results = process_box.run(source, "f", calls, FAST)
    assert [r.value_str for r in results] == ["remove", "next", "last"]
    assert process_box.infra_replacements == before + 1  # type: ignore[attr-defined]


REMOVES_ITS_SCRATCH = (
    "import os\n"
    "def f(i):\n"
    "    here = os.getcwd()\n"
    "    os.chdir('/')\n"
    "    os.rmdir(here)\n"
    "    return i\n"
)
"""A function that removes the scratch directory it runs in, then returns its argument."""


def test_code_that_undoes_its_scratch_every_call_does_not_cost_a_worker_per_call(
    process_box: Sandbox,
) -> None:
    from codearc_env.sandbox.workerbox import MAX_RESTARTS_PER_RUN

    source = REMOVES_ITS_SCRATCH
    before = process_box.infra_replacements  # type: ignore[attr-defined]
    calls = [Invocation(args=(i,)) for i in range(3 * MAX_RESTARTS_PER_RUN)]
    results = process_box.run(source, "f", calls, FAST)
    assert process_box.infra_replacements - before == MAX_RESTARTS_PER_RUN  # type: ignore[attr-defined]
    ran = [r.value_str for r in results[:MAX_RESTARTS_PER_RUN]]
    assert ran == [str(i) for i in range(MAX_RESTARTS_PER_RUN)]
    message = (
        f"not run: this code left its sandbox unusable {MAX_RESTARTS_PER_RUN} times in this run"
    )
    assert {
        (r.error_type, r.error_message, r.infra_error) for r in results[MAX_RESTARTS_PER_RUN:]
    } == {(KILLED, message, None)}
    assert process_box.run_one(source, "f", Invocation(args=(7,))).value_str == "7"


def test_wipe_removes_a_tree_deeper_than_recursion_and_paths_allow(tmp_path: Path) -> None:
    root = tmp_path / "scratch"
    root.mkdir()
    # 2500 levels of 2-character names: past the recursion limit, and past PATH_MAX (4096).
    script = (
        "import os, sys\n"
        "os.chdir(sys.argv[1])\n"
        "for _ in range(2500):\n"
        "    os.mkdir('dd')\n"
        "    os.chdir('dd')\n"
        "open('leaf', 'w').close()\n"
        "os.chmod('.', 0)\n"
    )
    subprocess.run([sys.executable, "-c", script, str(root)], check=True)
    assert _wipe(str(root)) is None
    assert os.listdir(root) == []


def test_ready_scratch_restores_the_mode_and_reports_what_it_cannot_do(tmp_path: Path) -> None:
    root = tmp_path / "scratch"
    root.mkdir(mode=0o700)
    (root / "sub").mkdir()
    os.chmod(root / "sub", 0)
    os.chmod(root, 0)
    assert _ready_scratch(str(root), 0o700) is None
    assert (os.stat(root).st_mode & 0o7777, os.listdir(root)) == (0o700, [])
    gone = str(tmp_path / "gone")
    assert _ready_scratch(gone, 0o700) == (
        "cannot prepare the scratch directory: [Errno 2] No such file or directory: " + repr(gone)
    )


@pytest.mark.bwrap
@pytest.mark.parametrize("cap", ["watchdog", "cgroup"])
def test_bwrap_memory_cap_kinds(cap: str) -> None:
    require_backend("bwrap")
    from codearc_env.sandbox.bwrap import BwrapSandbox
    from codearc_env.sandbox.memcap import cap_kind

    if cap == "cgroup" and not cap_kind().startswith("cgroup"):
        pytest.skip(f"no cgroup can be made here: {cap_kind()}")
    with BwrapSandbox(memory_cap=cap) as box:
        shown = box.info().details["memory_cap"]
        assert shown == ("RSS watchdog (768 MB)" if cap == "watchdog" else f"{cap_kind()} (768 MB)")
        passed, detail = check_memory_cap_per_sandbox(box)
        assert passed, detail
        if cap == "watchdog":
            assert detail == (
                "8 x 200 MB: MemoryLimitExceeded: the call's processes together used more "
                "memory than the sandbox allows"
            )


def test_bwrap_rejects_an_unknown_memory_cap() -> None:
    from codearc_env.sandbox.bwrap import BwrapSandbox

    with pytest.raises(ValueError, match="^memory_cap must be 'cgroup' or 'watchdog', not 'rss'$"):
        BwrapSandbox(memory_cap="rss")


class _Gone(Exception):
    pass


class _FakeApi:
    """Lists two stale sandboxes; the first is auto-removed before it can be removed."""

    def __init__(self) -> None:
        self.removed: list[str] = []

    def containers(self, **kwargs: Any) -> list[dict[str, Any]]:
        import socket

        labels = {
            "codearc-env.sandbox": "1",
            "codearc-env.owner-pid": "0",  # no such process: its owner is gone
            "codearc-env.owner-host": socket.gethostname(),
        }
        return [{"Id": "a" * 64, "Labels": labels}, {"Id": "b" * 64, "Labels": labels}]

    def remove_container(self, cid: str, force: bool) -> None:
        if cid.startswith("a"):
            raise _Gone("No such container")
        self.removed.append(cid)


def test_stale_sweep_tolerates_a_container_removed_meanwhile() -> None:
    from codearc_env.sandbox.docker_backend import remove_stale_containers

    class Client:
        api = _FakeApi()

    assert remove_stale_containers(Client()) == ["b" * 12]


def test_docker_errors_during_start_are_sandbox_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    from codearc_env.errors import SandboxError
    from codearc_env.sandbox import docker_backend

    class Api:
        def containers(self, **kwargs: Any) -> list[dict[str, Any]]:
            raise _Gone("404 Client Error: Not Found")

    class Client:
        api = Api()

        def close(self) -> None:
            pass

    monkeypatch.setattr(docker_backend, "docker_client", lambda: Client())
    monkeypatch.setattr(docker_backend, "_stale_checked", False)
    box = docker_backend.DockerSandbox()
    with pytest.raises(SandboxError, match="^cannot start the docker sandbox: 404 Client Error"):
        box.start()


@pytest.mark.parametrize("backend", ["process"])
def test_signals_to_the_process_worker_other_than_kill_and_stop_are_ignored(backend: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        box = make_sandbox(backend)
        box.start()
    try:
        source = (
            "import os, signal\n"
            "def f():\n"
            "    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE,\n"
            "              signal.SIGUSR1, signal.SIGRTMIN):\n"
            "        os.kill(os.getppid(), s)\n"
            "    return 'sent'\n"
        )
        result = box.run_one(source, "f", Invocation(), FAST)
        assert (result.value_str, box.restarts) == ("sent", 0)  # type: ignore[attr-defined]
    finally:
        box.close()


def test_a_resident_request_that_spoils_its_scratch_keeps_its_results_and_the_next_runs_anew(
    process_box: Sandbox,
) -> None:
    # A resident request's "done" goes out before its clean-up; what the clean-up finds is
    # the next request's answer ("broken"), which the harness meets by replacing the worker.
    source = REMOVES_ITS_SCRATCH
    before = process_box.infra_replacements  # type: ignore[attr-defined]
    first = process_box.run(source, "f", [Invocation(args=(1,))], FAST, isolation="resident")
    assert [r.value_str for r in first] == ["1"]
    assert process_box.infra_replacements == before  # type: ignore[attr-defined]
    second = process_box.run(
        "def g(i):\n    return i * 2\n", "g", [Invocation(args=(2,))], FAST, isolation="resident"
    )
    assert [(r.value_str, r.infra_error) for r in second] == [("4", None)]
    assert process_box.infra_replacements == before + 1  # type: ignore[attr-defined]
