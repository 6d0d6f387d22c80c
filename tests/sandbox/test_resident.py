"""isolation="resident": a warm child per hidden function that outlives its run.

What a call sees is the same as in the other modes (the conformance suite's batch checks run
in this mode too); these tests cover what is particular to a child that stays: it is reused,
replaced when it must be, and it never serves a candidate.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence

import pytest

from codearc_env.functions.calls import ParsedCall
from codearc_env.query import run_calls
from codearc_env.sandbox.base import CallResult, Invocation, Isolation, Limits, Sandbox
from codearc_env.sandbox.codec import decode
from codearc_env.sandbox.pool import SandboxPool
from codearc_env.testing import SandboxDouble, toy_problems
from tests.sandbox.conftest import BACKEND_PARAMS, started

FAST = Limits(timeout_s=2.0, cpu_s=2, memory_mb=256)
PID = "import os\ndef f(x=0):\n    return [os.getpid(), x]\n"


@pytest.fixture(scope="module", params=[p for p in BACKEND_PARAMS if p.id != "docker"])
def box(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    """bwrap and process here; docker runs the same worker and passes the conformance suite."""
    sandbox = started(request.param)
    yield sandbox
    sandbox.close()


def _ask(box: Sandbox, source: str, *args: object, limits: Limits = FAST) -> CallResult:
    """One invocation of ``f(*args)`` in resident isolation."""
    return box.run(source, "f", [Invocation(args=args)], limits, isolation="resident")[0]


def _pid(box: Sandbox, source: str = PID, limits: Limits = FAST) -> int:
    r = _ask(box, source, limits=limits)
    assert r.ok, r
    return int(decode(r.value)[0])


def test_the_child_stays_between_runs_and_call_mode_forks(box: Sandbox) -> None:
    first = _pid(box)
    assert [_pid(box) for _ in range(5)] == [first] * 5
    by_call = [box.run(PID, "f", [Invocation()], FAST)[0] for _ in range(2)]
    assert len({decode(r.value)[0] for r in by_call} | {first}) == 3


def test_other_source_or_limits_get_their_own_child(box: Sandbox) -> None:
    mine = _pid(box)
    other = _pid(box, PID + "# another module\n")
    looser = _pid(box, limits=Limits(timeout_s=3.0, cpu_s=2, memory_mb=256))
    assert len({mine, other, looser}) == 3
    assert _pid(box) == mine


def test_a_kill_or_a_crash_replaces_the_child(box: Sandbox) -> None:
    source = (
        "import os\n"
        "def f(kind):\n"
        "    if kind == 'hang':\n"  # swallows the in-process timer: only the parent stops it
        "        while True:\n"
        "            try:\n"
        "                while True:\n"
        "                    pass\n"
        "            except BaseException:\n"
        "                pass\n"
        "    if kind == 'exit':\n"
        "        os._exit(3)\n"
        "    return os.getpid()\n"
    )
    limits = Limits(timeout_s=0.5, cpu_s=2, memory_mb=256)

    run = functools.partial(_ask, box, source, limits=limits)

    before = run("pid").value_str
    hung = run("hang")  # the wall clock or the CPU limit, whichever a loaded machine hits first
    assert hung.timed_out or hung.error_message == "killed by signal SIGXCPU", hung
    after_hang = run("pid").value_str
    exited = run("exit")
    assert (exited.error_type, exited.error_message) == (
        "ProcessExit",
        "the process exited with status 3",
    )
    after_exit = run("pid").value_str
    assert len({before, after_hang, after_exit}) == 3


def test_a_child_killed_while_idle_is_replaced(box: Sandbox) -> None:
    before = _pid(box)
    killer = "import os, signal\ndef f(pid):\n    os.kill(pid, signal.SIGKILL)\n    return 1\n"
    r = box.run(killer, "f", [Invocation(args=(before,))], FAST)[0]
    assert r.ok, r
    after = _pid(box)
    assert after != before
    assert _pid(box) == after


def test_memory_kept_past_the_invocation_retires_the_child(box: Sandbox) -> None:
    # An imported module's state is not reset between invocations (imports are cached, as
    # in a batch); a child that grew by more than RESIDENT_GROWTH_MB ends after the call.
    hog = (
        "import os, sys\n"
        "def f(keep):\n"
        "    if keep:\n"
        "        sys.modules['_hog'] = type(sys)('_hog')\n"
        "        sys.modules['_hog'].data = b'x' * (200 * 2 ** 20)\n"
        "    return [os.getpid(), '_hog' in sys.modules]\n"
    )
    limits = Limits(timeout_s=5.0, cpu_s=4, memory_mb=400)

    def run(keep: bool) -> list[object]:
        r = _ask(box, hog, keep, limits=limits)
        assert r.ok, r
        return list(decode(r.value))

    start = run(False)
    grown = run(True)
    assert grown == [start[0], True]
    fresh = run(False)
    assert fresh[0] != start[0] and fresh[1] is False


def test_a_memory_error_after_earlier_invocations_is_decided_by_a_fresh_child(box: Sandbox) -> None:
    # Address space an earlier invocation reserved and left (untouched: no resident memory,
    # so no retirement) makes the next one fail in this child; a fresh child decides.
    source = (
        "import mmap, os, sys\n"
        "def f(kind):\n"
        "    if kind == 'reserve':\n"
        "        sys.modules['_reserved'] = mmap.mmap(-1, 300 * 2 ** 20)\n"
        "    elif kind == 'allocate':\n"
        "        data = bytearray(200 * 2 ** 20)\n"
        "        del data\n"
        "    return [os.getpid(), '_reserved' in sys.modules]\n"
    )
    limits = Limits(timeout_s=5.0, cpu_s=4, memory_mb=400)

    run = functools.partial(_ask, box, source, limits=limits)

    reserved = run("reserve")
    assert reserved.ok and decode(reserved.value)[1] is True
    allocated = run("allocate")
    assert allocated.ok, allocated
    pid, kept = decode(allocated.value)
    assert pid != decode(reserved.value)[0] and kept is False


def test_an_idle_child_gives_back_what_a_large_invocation_freed(box: Sandbox) -> None:
    # glibc keeps freed heap pages after large string work; the child trims them (or retires)
    from codearc_env.sandbox.worker_resident import RESIDENT_GROWTH_MB

    source = (
        "import os\n"
        "def f(s, n):\n"
        "    if n < 0:\n"
        "        return [os.getpid(), int(open('/proc/self/statm').read().split()[1]) * 4096]\n"
        "    return len(s.upper() + (s * n).lower())\n"
    )

    def run(n: int) -> CallResult:
        r = _ask(box, source, "x", n, limits=box.limits)
        assert r.ok, r
        return r

    pid, rss = decode(run(-1).value)
    for n in (33_000_000, 32_000_000):
        assert run(n).value_str == str(n + 1)
    pid_after, rss_after = decode(run(-1).value)
    assert RESIDENT_GROWTH_MB == 16
    assert rss_after <= rss + 16 * 2**20, (pid, pid_after, rss, rss_after)


def test_memory_held_by_idle_children_never_fails_a_call(box: Sandbox) -> None:
    # Where a cgroup caps the sandbox, idle resident children count against it: a call (or
    # query) that then runs out of memory runs again without them.
    from codearc_env.sandbox.worker_resident import RESIDENT_CHILDREN

    cap = str(getattr(box, "memory_cap_in_force", lambda: "none")())
    if not cap.startswith("cgroup"):
        pytest.skip(f"no cgroup caps the {box.name} sandbox here ({cap}): idle children are not counted")
    keeper = (
        "import sys\n"
        "def f(k):\n"
        "    sys.modules.setdefault('_kept', type(sys)('_kept')).data = b'k' * (15 * 2 ** 20)\n"
        "    return k\n"
    )
    for k in range(RESIDENT_CHILDREN):
        r = box.run(keeper + f"# problem {k}\n", "f", [Invocation(args=(k,))],
                    isolation="resident")[0]  # fmt: skip
        assert r.ok, r
    victim = "def g(n):\n    return len(b'y' * n)\n"
    n = (box.limits.memory_mb - 30) * 2**20  # fits alone; not beside 16 x 15 MB kept
    for isolation in ("call", "resident"):
        got = box.run(victim, "g", [Invocation(args=(n,))], isolation=isolation)[0]
        assert got.ok and got.value_str == str(n), (isolation, got)


def test_more_children_than_the_cap_end_the_least_recently_used(box: Sandbox) -> None:
    from codearc_env.sandbox.worker_resident import RESIDENT_CHILDREN

    sources = [PID + f"# module {i}\n" for i in range(RESIDENT_CHILDREN + 1)]
    first = [_pid(box, s) for s in sources[:RESIDENT_CHILDREN]]
    assert _pid(box, sources[1]) == first[1]  # now the most recently used: kept
    _pid(box, sources[-1])  # one over the cap: the least recently used (module 0) goes
    assert _pid(box, sources[1]) == first[1]
    assert _pid(box, sources[0]) != first[0]


def test_the_pool_never_gives_a_candidate_resident_isolation() -> None:
    with SandboxPool(size=2, backend="process") as pool:
        with pytest.raises(
            ValueError, match="^resident isolation is for hidden functions, never for a candidate$"
        ):
            pool.run("candidate", PID, "f", [Invocation()], FAST, isolation="resident")
        r = pool.run("reference", PID, "f", [Invocation()], FAST, isolation="resident")[0]
        assert r.ok, r


class _Recording(SandboxDouble):
    def __init__(self) -> None:
        super().__init__()
        self.isolations: list[Isolation] = []

    def _run_calls(
        self, source: str, function: str, invocations: Sequence[Invocation], limits: Limits,
        isolation: Isolation,
    ) -> list[CallResult]:  # fmt: skip
        self.isolations.append(isolation)
        return self.answer(source, function, invocations)

    def answer(self, source: str, function: str, calls: Sequence[Invocation]) -> list[CallResult]:
        return [CallResult(ok=True, value=1, value_str="1") for _ in calls]


def test_queries_ask_for_resident_isolation() -> None:
    box, fn = _Recording(), toy_problems()[0]
    pairs = run_calls(box, fn, [ParsedCall(name="add", args=(1,), kwargs=(), text="add(1)")])
    assert [p.output for p in pairs] == ["1"] and box.isolations == ["resident"]


def test_warm_starts_the_child_the_first_query_then_uses(box: Sandbox) -> None:
    from codearc_env.testing import live_descendants

    source = PID + "# warmed before its first query\n"
    before = live_descendants()
    box.warm(source, "f", FAST)
    warmed = live_descendants()
    assert len(warmed - before) == 1  # one resident child, started without a query
    first = _pid(box, source)
    assert live_descendants() == warmed  # the query forked nothing: the child was ready
    sent = box._request_id  # type: ignore[attr-defined]
    box.warm(source, "f", FAST)  # ran resident lately: warming it sends nothing
    assert box._request_id == sent  # type: ignore[attr-defined]
    assert live_descendants() == warmed and _pid(box, source) == first


def test_a_new_child_rehearses_on_the_module_and_the_first_query_sees_only_its_own_output(
    box: Sandbox,
) -> None:
    # The child runs the module once before its first query (copying the pages that query
    # would write), its output thrown away: the first query prints what any query prints,
    # and meets the process-wide state a later one would (the module has run before).
    source = (
        "import sys\n"
        "runs = sys.__dict__.setdefault('_codearc_test_runs', [])\n"
        "runs.append(1)\n"
        "print('module ran')\n"
        "def f(x=0):\n"
        "    return len(runs)\n"
    )
    box.warm(source, "f", FAST)
    first, second = _ask(box, source), _ask(box, source)
    assert [(r.value_str, r.stdout) for r in (first, second)] == [
        ("2", "module ran\n"),
        ("3", "module ran\n"),
    ]
    broken = "print('half')\nraise ValueError('no module')\ndef f(x=0):\n    return x\n"
    r = _ask(box, broken)
    assert (r.error_type, r.error_message, r.stdout) == ("ValueError", "no module", "half\n")


def test_a_module_slower_than_the_rehearsal_is_cut_short_and_its_first_query_runs_whole(
    box: Sandbox,
) -> None:
    from codearc_env.sandbox.worker_resident import REHEARSAL_S

    slow = (
        "import time\n"
        f"time.sleep({3 * REHEARSAL_S})\n"
        "print('loaded')\n"
        "def f(x=0):\n"
        "    return x + 1\n"
    )
    box.warm(slow, "f", FAST)
    r = _ask(box, slow, 41)  # sent while the rehearsal may still run: it waits, then runs
    assert (r.value_str, r.stdout, r.timed_out) == ("42", "loaded\n", False)


def test_no_rehearsal_for_a_module_that_imports_what_is_not_loaded(box: Sandbox) -> None:
    # Cut short inside an import, a package would stay half imported: a module importing
    # something the worker has not loaded is not rehearsed (its first query runs it first).
    source = (
        "import sys\n"
        "import colorsys\n"
        "runs = sys.__dict__.setdefault('_codearc_test_colorsys_runs', [])\n"
        "runs.append(1)\n"
        "def f(x=0):\n"
        "    return len(runs)\n"
    )
    box.warm(source, "f", FAST)
    assert [_ask(box, source).value_str for _ in range(2)] == ["1", "2"]


def test_resident_queries_run_with_few_descriptors_allowed(box: Sandbox) -> None:
    tight = Limits(timeout_s=2.0, cpu_s=2, memory_mb=256, open_files=8)
    results = [_ask(box, PID + "# few descriptors\n", 3, limits=tight) for _ in range(2)]
    assert [(r.ok, decode(r.value)[1]) for r in results] == [(True, 3), (True, 3)], results


def test_a_replaced_worker_forgets_what_it_ran_resident() -> None:
    from codearc_env.sandbox import make_sandbox

    box = make_sandbox("process")
    try:
        box.start()
        source = PID + "# warmed, then its worker replaced\n"
        _pid(box, source)
        assert box.generation == 1  # type: ignore[attr-defined]
        box._restart()  # type: ignore[attr-defined]
        assert box.generation == 2  # type: ignore[attr-defined]  # a pool's warm-up key changes
        sent = box._request_id  # type: ignore[attr-defined]
        box.warm(source, "f", FAST)  # the new worker has no resident process for it yet
        assert box._request_id == sent + 1  # type: ignore[attr-defined]
    finally:
        box.close()


def test_warm_leaves_a_sandbox_that_is_not_started_alone() -> None:
    from codearc_env.sandbox import make_sandbox
    from codearc_env.testing import live_descendants

    before = live_descendants()
    cold = make_sandbox("process")  # the insecurity warning comes when it starts
    cold.warm(PID, "f", FAST)
    assert live_descendants() == before
    cold.close()


def test_signal_dispositions_an_invocation_changed_are_reset_for_the_next(box: Sandbox) -> None:
    source = (
        "import signal\n"
        "def f(x=0):\n"
        "    seen = [int(signal.getsignal(s)) if not callable(signal.getsignal(s)) else -1\n"
        "            for s in (signal.SIGINT, signal.SIGTERM, signal.SIGXFSZ)]\n"
        "    signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
        "    signal.signal(signal.SIGTERM, lambda *a: None)\n"
        "    signal.signal(signal.SIGXFSZ, signal.SIG_DFL)\n"
        "    return seen\n"
    )
    calls = [Invocation(args=(i,)) for i in range(3)]
    got = box.run(source, "f", calls, FAST, isolation="resident")
    got += box.run(source, "f", calls[:1], FAST, isolation="resident")
    # SIG_DFL is 0, SIG_IGN is 1: every invocation starts from the call defaults
    assert [r.value_str for r in got] == ["[0, 0, 1]"] * 4, got
