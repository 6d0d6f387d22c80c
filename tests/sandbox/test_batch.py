"""isolation="batch" against every backend, and the fixed hash seed of every worker."""

from __future__ import annotations

import os
import socket
import warnings
from collections.abc import Callable, Sequence
from typing import Any, cast

import pytest

from codearc_env.sandbox import make_sandbox, worker_batch, worker_child
from codearc_env.sandbox.base import BackendInfo, CallResult, Invocation, Isolation, Limits, Sandbox
from tests.sandbox.conftest import BACKEND_PARAMS, require_backend

FAST = Limits(timeout_s=2.0, cpu_s=2, memory_mb=256)
REFUSED = "^isolation must be 'call', 'batch' or 'resident', not 'fork'$"


def _both(box: Sandbox, source: str, calls: list[Invocation], limits: Limits = FAST):
    return (
        box.run(source, "f", calls, limits),
        box.run(source, "f", calls, limits, isolation="batch"),
    )


def _essence(r: CallResult) -> tuple[object, ...]:
    return (r.ok, r.value, r.error_type, r.error_message, r.timed_out, r.stdout, r.infra_error)


def test_unknown_isolation_is_refused(process_box: Sandbox) -> None:
    bad: Any = "fork"
    with pytest.raises(ValueError, match=REFUSED):
        process_box.run("def f():\n    return 1\n", "f", [Invocation()], isolation=bad)


class _Recording(Sandbox):
    """Records what reaches the backend's part of ``run``."""

    def __init__(self) -> None:
        super().__init__(Limits(timeout_s=1.5))
        self.seen: list[tuple[Limits, str]] = []

    def start(self) -> None:
        pass

    def close(self) -> None:
        pass

    def info(self) -> BackendInfo:
        return BackendInfo("recording", is_security_boundary=False)

    def _run_calls(
        self, source: str, function: str, invocations: Sequence[Invocation], limits: Limits,
        isolation: Isolation,
    ) -> list[CallResult]:
        self.seen.append((limits, isolation))
        return []


def test_run_gives_a_backend_its_limits_and_a_valid_isolation() -> None:
    box, bad = _Recording(), cast(Any, "fork")
    box.run("", "f", [])
    box.run("", "f", [], FAST, isolation="batch")
    with pytest.raises(ValueError, match=REFUSED):
        box.run("", "f", [], isolation=bad)
    assert box.seen == [(Limits(timeout_s=1.5), "call"), (FAST, "batch")]


def test_stdout_belongs_to_its_own_invocation(box: Sandbox) -> None:
    source = "def f(i):\n    print('call', i)\n    print('err', i, file=__import__('sys').stderr)\n"
    calls = [Invocation(args=(i,)) for i in range(20)]
    by_call, by_batch = _both(box, source, calls)
    assert [r.stdout for r in by_batch] == [f"call {i}\nerr {i}\n" for i in range(20)]
    assert [_essence(r) for r in by_batch] == [_essence(r) for r in by_call]


def test_bad_invocations_and_expressions_keep_their_place(box: Sandbox) -> None:
    source = "def f(a, b=0):\n    return (a, b)\n"
    calls = [
        Invocation(args=(1,)),
        Invocation(expression="f("),  # does not compile: reported without running anything
        Invocation(args=(2,), kwargs=(("b", [3]),)),
        Invocation(expression="f(4, b='x')"),
        Invocation(args=(5, 6, 7)),
    ]
    by_call, by_batch = _both(box, source, calls)
    assert [_essence(r) for r in by_batch] == [_essence(r) for r in by_call]
    assert [r.error_type for r in by_batch] == [None, "SyntaxError", None, None, "TypeError"]


def test_a_module_that_does_not_compile_fails_every_invocation(box: Sandbox) -> None:
    by_call, by_batch = _both(box, "def f(:\n", [Invocation(), Invocation()])
    assert [r.error_type for r in by_batch] == ["SyntaxError", "SyntaxError"]
    assert [_essence(r) for r in by_batch] == [_essence(r) for r in by_call]


def test_module_level_code_runs_again_for_every_invocation(box: Sandbox) -> None:
    source = (
        "import itertools\n"
        "TICKET = itertools.count()\n"
        "CACHE = {}\n"
        "def f(key, memo={}):\n"
        "    CACHE[key] = CACHE.get(key, 0) + 1\n"
        "    memo[key] = memo.get(key, 0) + 1\n"
        "    return [next(TICKET), CACHE[key], memo[key], f.__defaults__[0] is memo]\n"
    )
    results = box.run(source, "f", [Invocation(args=("k",))] * 5, FAST, isolation="batch")
    assert [r.value_str for r in results] == ["[0, 1, 1, True]"] * 5


def test_each_invocation_gets_its_own_cpu_allowance(box: Sandbox) -> None:
    # Three calls of ~0.6 s CPU each: 1.8 s in all, over one call's 1 s limit, and none is
    # killed. Then a call that computes in C past its own allowance is killed by SIGXCPU.
    source = (
        "import time\n"
        "def f(forever):\n"
        "    if forever:\n"
        "        return len(str(7 ** 10 ** 7))\n"
        "    end = time.process_time() + 0.6\n"
        "    while time.process_time() < end:\n"
        "        pass\n"
        "    return 'done'\n"
    )
    limits = Limits(timeout_s=60.0, cpu_s=1, memory_mb=256)
    calls = [Invocation(args=(False,))] * 3 + [Invocation(args=(True,)), Invocation(args=(False,))]
    results = box.run(source, "f", calls, limits, isolation="batch")
    assert [r.value_str for r in results[:3]] == ["done"] * 3, [r.error_message for r in results]
    assert (results[3].error_type, results[3].error_message) == (
        "ProcessKilled",
        "killed by signal SIGXCPU",
    )
    assert results[4].value_str == "done"  # on a new child, after the kill


def test_an_invocation_that_raises_its_own_cpu_limit_leaves_the_next_its_own_allowance(
    box: Sandbox,
) -> None:
    source = (
        "import resource, time\n"
        "def f(what):\n"
        "    if what == 'raise':\n"
        "        hard = resource.getrlimit(resource.RLIMIT_CPU)[1]\n"
        "        resource.setrlimit(resource.RLIMIT_CPU, (hard, hard))\n"
        "        return 'raised'\n"
        "    end = time.process_time() + 2.5\n"  # past its own 1 s, short of the batch's cap
        "    while time.process_time() < end:\n"
        "        pass\n"
        "    return 'burnt'\n"
    )
    limits = Limits(timeout_s=60.0, cpu_s=1, memory_mb=256)
    calls = [Invocation(args=("raise",)), Invocation(args=("burn",))]
    results = box.run(source, "f", calls, limits, isolation="batch")
    assert results[0].value_str == "raised"
    assert (results[1].error_type, results[1].error_message) == (
        "ProcessKilled",
        "killed by signal SIGXCPU",
    )


def test_files_and_processes_are_gone_after_the_batch(box: Sandbox) -> None:
    source = (
        "import os, time\n"
        "def f(phase):\n"
        "    if phase == 'leave':\n"
        "        open('left.txt', 'w').write('x')\n"
        "        if os.fork() == 0:\n"
        "            os.setsid()\n"
        "            time.sleep(600)\n"
        "            os._exit(0)\n"
        "        return 'left'\n"
        "    return os.path.exists('left.txt')\n"
    )
    first = box.run(source, "f", [Invocation(args=("leave",))], FAST, isolation="batch")
    assert first[0].value_str == "left"
    after = box.run(source, "f", [Invocation(args=("look",))], FAST, isolation="batch")
    assert after[0].value_str == "False"


def test_a_dead_worker_in_a_batch_is_replaced_and_the_rest_still_batched(box: Sandbox) -> None:
    source = (
        "import os, signal\n"
        "COUNT = [0]\n"
        "def f(kill):\n"
        "    COUNT[0] += 1\n"
        "    if kill:\n"
        "        os.kill(os.getppid(), signal.SIGKILL)\n"
        "    return COUNT[0]\n"
    )
    calls = [Invocation(args=(False,)), Invocation(args=(True,))] + [Invocation(args=(False,))] * 3
    results = box.run(source, "f", calls, FAST, isolation="batch")
    # docker, bwrap: the worker is PID 1 of its namespace and survives; the process backend's
    # worker dies, and again on a fresh worker: the call is graded, never an infra error.
    assert results[1].error_type == "SandboxKilled" or results[1].value_str == "1"
    assert results[1].infra_error is None
    assert [r.value_str for r in results[2:]] == ["1"] * 3


@pytest.mark.parametrize("backend", BACKEND_PARAMS)
def test_set_order_is_the_same_in_two_fresh_sandboxes(backend: str) -> None:
    require_backend(backend)
    source = (
        "def f():\n"
        "    words = {'apple', 'banana', 'cherry', 'date', 'elder', 'fig'}\n"
        "    return [list(words), list({str(n) * 3 for n in range(40)})]\n"
    )
    seen = []
    for _ in range(2):
        box = make_sandbox(backend)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the process backend's insecurity warning
            box.start()
        try:
            details = box.info().details
            assert (details["hash_seed"], details["python_env"]) == ("0", "PYTHONHASHSEED")
            seen.append(box.run_one(source, "f", Invocation()).value)
        finally:
            box.close()
    assert seen[0] == seen[1] and seen[0]["t"] == "list"


def test_damage_left_by_one_invocation_does_not_fail_the_next(box: Sandbox) -> None:
    # A thread that outlives its call and kills the process a moment later is harmless in a
    # call of its own (the process ends first); in a batch it kills the child during the next
    # invocation, which is then run again on a fresh child instead of being reported as a crash.
    source = (
        "import os, threading, time\n"
        "def f(kind):\n"
        "    if kind == 'saboteur':\n"
        "        die = lambda quit=os._exit, nap=time.sleep: (nap(0.3), quit(9))\n"
        "        threading.Thread(target=die).start()\n"
        "    if kind == 'slow':\n"
        "        time.sleep(1.0)\n"
        "    if kind == 'exit':\n"
        "        os._exit(5)\n"
        "    return kind\n"
    )
    kinds = ["a", "saboteur", "slow", "c", "exit", "d"]
    by_call, by_batch = _both(box, source, [Invocation(args=(k,)) for k in kinds])
    assert [_essence(r) for r in by_batch] == [_essence(r) for r in by_call]
    expected = [None, None, None, None, "ProcessExit", None]
    assert [r.error_type for r in by_batch] == expected


def test_a_batch_budget_stops_the_batch_once_spent(box: Sandbox) -> None:
    """The oracle bounds what a reference may cost on generated inputs with this budget."""
    from codearc_env.sandbox.worker import BUDGET_SPENT

    source = "import time\ndef f(s):\n    time.sleep(s)\n    return s\n"
    limits = Limits(timeout_s=2.0, cpu_s=2, memory_mb=256, batch_budget_s=0.5)
    calls = [Invocation(args=(0.3,))] * 5
    results = box.run(source, "f", calls, limits, isolation="batch")
    # 0.3 s, then 0.6 s spent: the third and later calls are not run
    assert [r.ok for r in results] == [True, True, False, False, False]
    assert all(r.timed_out and r.error_message == BUDGET_SPENT for r in results[2:])
    assert all(r.duration_s == 0.0 for r in results[2:])


def test_call_mode_ignores_the_batch_budget(box: Sandbox) -> None:
    source = "import time\ndef f(s):\n    time.sleep(s)\n    return s\n"
    limits = Limits(timeout_s=2.0, cpu_s=2, memory_mb=256, batch_budget_s=0.1)
    results = box.run(source, "f", [Invocation(args=(0.15,))] * 2, limits)
    assert [r.ok for r in results] == [True, True]


@pytest.mark.parametrize("isolation", ["call", "batch"])
def test_a_hint_naming_an_unimported_name_does_not_stop_the_module_loading(
    box: Sandbox, isolation: str
) -> None:
    """annotated/885 hints ``-> Counter`` and imports Counter inside the body: annotations are
    postponed (PEP 563), as the original harness's outputs for it imply."""
    source = "def f(s: str) -> Counter:\n    from collections import Counter\n    return Counter(s)\n"
    (result,) = box.run(source, "f", [Invocation(args=("aab",))], FAST, isolation=isolation)  # type: ignore[arg-type]
    assert result.ok, result.error_message
    assert result.value_str == "Counter({'a': 2, 'b': 1})"


@pytest.mark.parametrize("isolation", ["call", "batch"])
def test_a_process_left_writing_stdout_forever_does_not_hold_the_result(
    box: Sandbox, isolation: str
) -> None:
    """The worker drains a call's stdout after its result for a moment only."""
    source = (
        "import os, time\n"
        "def f():\n"
        "    if os.fork() == 0:\n"
        "        while True:\n"
        "            os.write(1, b'x' * 4096)\n"
        "    time.sleep(0.2)\n"
        "    return 7\n"
    )
    results = box.run(source, "f", [Invocation(), Invocation()], FAST, isolation=isolation)  # type: ignore[arg-type]
    assert [r.value_str for r in results] == ["7", "7"], [r.infra_error for r in results]
    assert all(r.stdout_truncated for r in results)


@pytest.mark.parametrize("isolation", ["call", "batch", "resident"])
def test_a_calls_text_streams_are_what_its_descriptors_are(box: Sandbox, isolation: str) -> None:
    """The worker makes the children's stdout and stdin once, on a pipe and /dev/null: what they
    keep of their descriptors is a child's (stdout a pipe, stdin empty and seekable), in every
    mode and every invocation, and stdout, stderr and a write to descriptor 1 reach the call's
    own output."""
    source = (
        "import os, sys\n"
        "def f(x):\n"
        "    print('out', x)\n"
        "    print('err', x, file=sys.stderr)\n"
        "    sys.stdout.flush(); sys.stderr.flush()\n"
        "    os.write(1, b'raw\\n')\n"
        "    return (sys.stdout.seekable(), sys.stdin.seekable(), sys.stdin.read(),\n"
        "            sys.stdout is sys.stderr, sys.stdout.fileno(), sys.stdin.fileno())\n"
    )
    results = box.run(source, "f", [Invocation(args=(i,)) for i in range(3)], FAST,
                      isolation=isolation)
    assert [r.value_str for r in results] == ["(False, True, '', True, 1, 0)"] * 3
    assert [r.stdout for r in results] == [f"out {i}\nerr {i}\nraw\n" for i in range(3)]


def _in_a_fork(body: Callable[[int], None]) -> bytes:
    """Run ``body(fd)`` in a forked process (it may rearrange its descriptors and limits);
    what it writes to ``fd`` (descriptor 3 once it is a batch child)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            body(w)
        finally:
            os._exit(0)
    os.close(w)
    chunks = []
    while chunk := os.read(r, 4096):
        chunks.append(chunk)
    os.close(r)
    os.waitpid(pid, 0)
    return b"".join(chunks)


_CHILD_LIMITS = {"timeout_s": 5.0, "cpu_s": 5, "memory_mb": 512, "file_size_mb": 16,
                 "open_files": 64, "output_chars": 10000}


def test_a_batch_child_without_premade_streams_makes_its_own_on_its_descriptors() -> None:
    """Without the worker's pre-made streams, a batch child makes them on the descriptors its
    invocations get (a pipe, /dev/null), not on the ones it inherited."""

    def body(w: int) -> None:
        worker_child._STDIO.clear()
        _, out_w = os.pipe()
        _, ctl = socket.socketpair()
        ctx = worker_batch._enter_child(w, out_w, ctl.fileno(), _CHILD_LIMITS, None, 1)
        seen = (ctx["out"].seekable(), ctx["stdin"].seekable(), ctx["out"].fileno())
        os.write(3, repr(seen).encode())  # the result channel, where _enter_child put it

    assert _in_a_fork(body) == b"(False, True, 1)"


def test_premaking_the_streams_leaves_the_workers_descriptors_as_they_were() -> None:
    def body(w: int) -> None:
        def files() -> list[tuple[int, int, int]]:
            return sorted((int(fd), os.fstat(int(fd)).st_dev, os.fstat(int(fd)).st_ino)
                          for fd in os.listdir("/proc/self/fd") if int(fd) != w
                          and os.path.exists(f"/proc/self/fd/{fd}"))

        worker_child._STDIO.clear()
        before = files()
        worker_child.premake_stdio()
        out, stdin = worker_child._STDIO[0]
        seen = (files() == before, out.seekable(), stdin.seekable(), out.fileno(), stdin.fileno())
        os.write(w, repr(seen).encode())

    assert _in_a_fork(body) == b"(True, False, True, 1, 0)"
