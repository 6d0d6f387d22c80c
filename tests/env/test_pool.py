"""The shared execution pool: routing, leasing, thread safety, async, and envs on it.

Unit tests use trusted test doubles; the end-to-end ones play real episodes on real
sandboxes (bwrap where it can run, else the process backend) and check nothing is left.
"""

from __future__ import annotations

import asyncio
import gc
import threading
import time
import warnings
import weakref
from collections.abc import Sequence

import gymnasium
import pytest

from codearc_env.env import CodeARCEnv
from codearc_env.errors import SandboxError
from codearc_env.sandbox import unavailable_reason
from codearc_env.sandbox.base import CallResult, Invocation, Limits
from codearc_env.sandbox.pool import SandboxPool
from codearc_env.sandbox.workerbox import KILLED
from codearc_env.testing import (
    TOY_FUNCTIONS,
    CallableSandbox,
    TableOracle,
    live_descendants,
    toy_problems,
)
from codearc_env.vector import PooledSyncVectorEnv, default_pool_size, process_pool


class SlowSandbox(CallableSandbox):
    """Records which member served a call and how many calls overlapped on it."""

    def __init__(self) -> None:
        super().__init__({"f": lambda x: x})
        self.busy = 0
        self.overlaps = 0
        self.sources: list[str] = []

    def answer(self, source: str, function: str, calls: Sequence[Invocation]) -> list[CallResult]:
        self.busy += 1
        if self.busy > 1:
            self.overlaps += 1
        self.sources.append(source)
        time.sleep(0.005)
        try:
            return super().answer(source, function, calls)
        finally:
            self.busy -= 1


def _pool(size: int = 4) -> SandboxPool:
    return SandboxPool(size, make_member=SlowSandbox)


def test_size_below_two_is_refused() -> None:
    with pytest.raises(ValueError) as info:
        SandboxPool(1, make_member=SlowSandbox)
    assert str(info.value) == (
        "a pool needs at least 2 sandboxes (references and candidates never share one), got size=1"
    )


def test_halves_are_disjoint_and_reference_calls_follow_the_problem() -> None:
    pool = _pool(6)
    members = pool.members
    assert len(set(map(id, members))) == 6
    for i in range(20):
        source = f"def f(x):\n    return x + {i}\n"
        pool.reference.run(source, "f", [Invocation(args=(1,))])
        pool.reference.run(source, "f", [Invocation(args=(2,))])
    reference, candidate = members[:3], members[3:]
    for box in reference:  # every source met exactly one reference member
        assert all(s not in other.sources for s in box.sources for other in reference
                   if other is not box)
    assert sum(len(b.sources) for b in reference) == 40
    assert all(b.sources == [] for b in candidate)
    pool.candidate.run("def f(x): return x", "f", [Invocation(args=(1,))])
    assert sum(len(b.sources) for b in candidate) == 1
    assert sum(len(b.sources) for b in reference) == 40
    assert pool.reference_member("def f(x):\n    return x + 3\n") in reference


def test_many_threads_never_overlap_on_a_member() -> None:
    pool = _pool(4)
    errors: list[BaseException] = []

    def client(i: int) -> None:
        try:
            for j in range(5):
                side = "candidate" if (i + j) % 2 else "reference"
                [r] = pool.run(side, f"src{i % 7}", "f", [Invocation(args=(i,))])
                assert r.value_str == str(i)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert [b.overlaps for b in pool.members] == [0, 0, 0, 0]  # type: ignore[attr-defined]
    assert pool.stats.reference_calls + pool.stats.candidate_calls == 160
    assert pool.stats.started == 4


class BatchRecorder(CallableSandbox):
    """Records every request's calls; a request waits until ``gate`` opens (so callers
    queue up behind it); a call of ``kill`` comes back killed, and so does every later call
    of its request (as a worker's kill cap leaves them unrun)."""

    def __init__(self) -> None:
        super().__init__({"f": lambda x: x, "g": lambda x: -x})
        self.gate = threading.Event()
        self.gate.set()
        self.batches: list[tuple[str, str, list[object]]] = []

    def answer(self, source: str, function: str, calls: Sequence[Invocation]) -> list[CallResult]:
        self.gate.wait(10)
        self.batches.append((source, function, [c.args[0] for c in calls]))
        out, killed = [], False
        for result, call in zip(super().answer(source, function, calls), calls, strict=True):
            killed = killed or call.args[0] == "kill"
            out.append(CallResult(ok=False, error_type=KILLED) if killed else result)
        return out


def _queue_behind_a_busy_member(pool: SandboxPool, calls: list[tuple[str, str, object]],
                                isolation: str = "resident") -> list[object]:
    """Hold the one reference member busy, queue ``calls`` (source, function, argument) on
    threads, then let them run; returns each call's value_str or error type, in order."""
    box = pool.members[0]
    assert isinstance(box, BatchRecorder)
    box.gate.clear()
    blocker = threading.Thread(
        target=pool.run, args=("reference", "busy", "f", [Invocation(args=(0,))]),
        kwargs={"isolation": isolation})
    blocker.start()
    while box.requests == 0:
        time.sleep(0.001)
    got: list[object] = [None] * len(calls)

    def call(i: int) -> None:
        source, function, arg = calls[i]
        try:
            [r] = pool.run("reference", source, function, [Invocation(args=(arg,))],
                           isolation=isolation)  # type: ignore[arg-type]
            got[i] = r.value_str if r.ok else r.error_type
        except SandboxError as exc:
            got[i] = f"raised {exc}"

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    deadline = time.monotonic() + (5 if isolation == "resident" else 0.5)
    while time.monotonic() < deadline and sum(
            len(w) for w in pool._reference[0].waiting.values()) < len(calls):
        time.sleep(0.001)  # resident calls queue there; others block on the member's lock
    box.gate.set()
    blocker.join()
    for t in threads:
        t.join()
    return got


def test_waiting_resident_calls_of_one_function_share_a_request() -> None:
    pool = SandboxPool(2, make_member=BatchRecorder)
    calls = [("src", "f", i) for i in range(12)] + [("src", "g", i) for i in range(4)]
    assert _queue_behind_a_busy_member(pool, calls) == [str(i) for i in range(12)] + [
        str(-i) for i in range(4)]
    box = pool.members[0]
    assert box.batches[0] == ("busy", "f", [0])
    merged = sorted(box.batches[1:])
    # what waited ran in one request per function: each caller got its own results back
    assert merged == [("src", "f", sorted(merged[0][2])), ("src", "g", sorted(merged[1][2]))]
    assert sorted(merged[0][2]) == list(range(12)) and sorted(merged[1][2]) == list(range(4))
    assert pool.stats.reference_calls == 17
    assert pool.stats.reference_merged == 11 + 3


def test_calls_in_other_isolation_modes_are_never_merged() -> None:
    pool = SandboxPool(2, make_member=BatchRecorder)
    got = _queue_behind_a_busy_member(pool, [("src", "f", i) for i in range(6)], "batch")
    assert got == [str(i) for i in range(6)]
    assert len(pool.members[0].batches) == 7  # type: ignore[attr-defined]
    assert pool.stats.reference_merged == 0


def test_a_killed_call_in_a_merged_request_leaves_the_other_callers_their_results() -> None:
    pool = SandboxPool(2, make_member=BatchRecorder)
    calls: list[tuple[str, str, object]] = [("src", "f", i) for i in range(3)]
    calls.insert(1, ("src", "f", "kill"))
    got = _queue_behind_a_busy_member(pool, calls)
    assert got == ["0", KILLED, "1", "2"]
    box = pool.members[0]
    assert isinstance(box, BatchRecorder)
    # the merged request, then each caller's call alone
    assert [len(b[2]) for b in box.batches[1:]] == [4, 1, 1, 1, 1]


def test_an_error_of_every_call_reaches_every_caller() -> None:
    pool = SandboxPool(2, make_member=BatchRecorder)
    box = pool.members[0]
    assert isinstance(box, BatchRecorder)
    answer = box.answer

    def broken(source: str, function: str, calls: Sequence[Invocation]) -> list[CallResult]:
        if source == "src":
            box.batches.append((source, function, [c.args[0] for c in calls]))
            raise SandboxError("the worker cannot start")
        return answer(source, function, calls)

    box.answer = broken  # type: ignore[method-assign]
    got = _queue_behind_a_busy_member(pool, [("src", "f", i) for i in range(5)])
    assert got == ["raised the worker cannot start"] * 5
    # the merged request failed: each caller's call ran again alone, and failed on its own
    assert [len(b[2]) for b in box.batches[1:]] == [5, 1, 1, 1, 1, 1]
    assert pool.stats.reference_merged == 0


def test_a_merged_request_that_fails_leaves_the_other_callers_their_results() -> None:
    pool = SandboxPool(2, make_member=BatchRecorder)
    box = pool.members[0]
    assert isinstance(box, BatchRecorder)
    answer = box.answer

    def breaks_on_boom(source: str, function: str, calls: Sequence[Invocation]
                       ) -> list[CallResult]:
        if any(c.args[0] == "boom" for c in calls):
            box.batches.append((source, function, [c.args[0] for c in calls]))
            raise SandboxError("the sandbox cannot come back")
        return answer(source, function, calls)

    box.answer = breaks_on_boom  # type: ignore[method-assign]
    got = _queue_behind_a_busy_member(pool, [("src", "f", 1), ("src", "f", "boom"),
                                             ("src", "f", 2)])
    assert got == ["1", "raised the sandbox cannot come back", "2"]


class WarmRecorder(CallableSandbox):
    """Records what it was asked to warm."""

    def __init__(self) -> None:
        super().__init__(TOY_FUNCTIONS)
        self.warmed: list[tuple[str, str]] = []

    def warm(self, source: str, function: str, limits: Limits | None = None) -> None:
        self.warmed.append((source, function))


def test_reset_warms_the_hidden_function_on_its_reference_member() -> None:
    pool = SandboxPool(4, make_member=WarmRecorder)
    env = CodeARCEnv(problems=toy_problems(), pool=pool, oracle=TableOracle({}))
    for i in range(3):
        env.reset(options={"problem": i})
    fns = toy_problems()
    want = {(fn.code, fn.target) for fn in fns}
    assert pool.wait_warm(10)  # warming runs on the pool's threads
    for box in pool.members[:2]:
        for source, _ in box.warmed:  # type: ignore[attr-defined]
            assert pool.reference_member(source) is box
    assert {w for b in pool.members for w in b.warmed} == want  # type: ignore[attr-defined]
    assert all(b.warmed == [] for b in pool.members[2:])  # type: ignore[attr-defined]
    for i in range(3):  # warm already: no second warm-up of the same function
        env.reset(options={"problem": i})
    assert pool.wait_warm(10)
    assert sum(len(b.warmed) for b in pool.members) == 3  # type: ignore[attr-defined]
    for box in pool.members:  # every worker replaced: its resident processes are gone
        box.generation = 1  # type: ignore[attr-defined]
    for i in range(3):
        env.reset(options={"problem": i})
    assert pool.wait_warm(10)
    assert sum(len(b.warmed) for b in pool.members) == 6  # type: ignore[attr-defined]
    pool.close()
    env.reset(options={"problem": 0})  # a closed pool: nothing to warm, and no error


class StartCountingRecorder(WarmRecorder):
    """A worker sandbox's generation: one more on every start."""

    @property
    def generation(self) -> int:
        return self.started


def test_the_warm_up_that_starts_a_member_is_remembered_under_its_new_worker() -> None:
    pool = SandboxPool(2, make_member=StartCountingRecorder)
    for _ in range(3):
        pool.warm("s", "f")
        assert pool.wait_warm(10)
    box = pool.reference_member("s")
    assert (box.started, box.warmed) == (1, [("s", "f")])  # type: ignore[attr-defined]
    pool.close()


def test_reset_warms_an_own_reference_sandbox_only_once_it_is_started() -> None:
    reference = WarmRecorder()
    env = CodeARCEnv(problems=toy_problems(), reference_sandbox=reference,
                     candidate_sandbox=CallableSandbox(TOY_FUNCTIONS), oracle=TableOracle({}))
    obs, _ = env.reset(options={"problem": 0})
    assert (reference.warmed, reference.started) == ([], 0)  # reset starts no sandbox
    env.step({"kind": 0, "text": obs["calls"][0]})
    assert reference.started == 1
    env.reset(options={"problem": 1})
    fn = toy_problems()[1]
    assert reference.warmed == [(fn.code, fn.target)]


def test_async_entry_point_runs_off_the_event_loop() -> None:
    pool = _pool(2)
    loop_thread: list[int] = []

    async def main() -> list[list[CallResult]]:
        loop_thread.append(threading.get_ident())
        calls = [pool.arun("reference", "s", "f", [Invocation(args=(i,))]) for i in range(40)]
        return await asyncio.gather(*calls)

    results = asyncio.run(main())
    assert [r[0].value_str for r in results] == [str(i) for i in range(40)]
    pool.close()


def test_the_first_use_makes_every_async_thread_so_a_burst_does_not_wait_for_them() -> None:
    pool = SandboxPool(2, make_member=SlowSandbox, async_threads=12)
    pool.warm("s", "f")  # a reset's warm-up: the first use of the threads
    threads = pool.executor()._threads  # the executor's own record of the threads it made
    assert len(threads) == 12

    async def burst() -> list[list[CallResult]]:
        return await asyncio.gather(
            *(pool.arun("reference", "s", "f", [Invocation(args=(i,))]) for i in range(30))
        )

    assert [r[0].value_str for r in asyncio.run(burst())] == [str(i) for i in range(30)]
    pool.close()


def test_a_closed_pool_refuses_calls() -> None:
    pool = _pool(2)
    pool.close()
    pool.close()  # idempotent
    with pytest.raises(SandboxError, match="^the sandbox pool is closed$"):
        pool.reference.run("s", "f", [Invocation(args=(1,))])
    with pytest.raises(SandboxError, match="^the sandbox pool is closed$"):
        pool.candidate.run("s", "f", [Invocation(args=(1,))])
    assert all(b.closed == 1 for b in pool.members)  # type: ignore[attr-defined]


def test_env_refuses_a_pool_with_its_own_sandboxes() -> None:
    pool = _pool(2)
    with pytest.raises(ValueError) as info:
        CodeARCEnv(problems=toy_problems(), pool=pool, backend="process", limits=Limits())
    assert str(info.value) == "pool= replaces backend, limits: give them to the pool"


def test_a_pool_and_its_shared_oracles_go_when_the_pool_goes() -> None:
    # Each env on a pool gets the pool's oracle for its settings; that oracle holds the
    # pool's sides, which hold the pool. Kept in a table outside the pool, this cycle kept
    # every pool and its oracles alive for the life of the process.
    gone = []
    for seed in range(20):
        pool = _pool(2)
        envs = [CodeARCEnv(problems=toy_problems(), pool=pool, oracle_seed=seed) for _ in range(2)]
        assert envs[0]._oracle is envs[1]._oracle
        for env in envs:
            env.close()
        pool.close()
        gone.append(weakref.ref(pool))
        del pool, envs, env
    gc.collect()
    assert [ref() for ref in gone] == [None] * 20


def test_default_pool_size() -> None:
    assert [default_pool_size(n) for n in (1, 2, 3, 4, 256)] == [2, 4, 6, 8, 8]


def _backend() -> str:
    return "bwrap" if unavailable_reason("bwrap") is None else "process"


@pytest.fixture
def quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the process backend's warning, when bwrap is missing
        yield


@pytest.mark.slow
def test_envs_on_one_pool_play_real_episodes_and_leave_nothing(quiet, tmp_path,
                                                               monkeypatch) -> None:
    monkeypatch.setenv("CODEARC_CACHE_DIR", str(tmp_path))
    before = live_descendants()
    pool = SandboxPool(4, _backend())
    envs = [CodeARCEnv(split="builtin", pool=pool) for _ in range(6)]
    ids = list(envs[0].problem_set.ids)[:3]
    try:
        for i, env in enumerate(envs):
            obs, info = env.reset(options={"problem": ids[i % 3]})
            fn = env.problem
            assert fn is not None
            call = obs["calls"][0]
            obs, *_ = env.step({"kind": 0, "text": call})
            assert obs["outputs"][-1] == obs["outputs"][0]
            _, reward, terminated, _, info = env.step({"kind": 1, "text": fn.code})
            assert (reward, terminated, info["outcome"]) == (1.0, True, "solved")
        # one oracle for the pool: a table computed for one episode served the next ones
        assert envs[0]._oracle is envs[5]._oracle
        # 3 problems x (base table + the queried input's table), not 6 episodes x 2
        assert envs[0]._oracle.reference_computations == 6  # type: ignore[attr-defined]
        assert 2 <= pool.stats.started <= 4  # started on first use, never more than the pool
    finally:
        for env in envs:
            env.close()
        assert not pool.closed  # the envs leave the pool alone
        pool.close()
    assert live_descendants() - before == set()


@pytest.mark.slow
def test_astep_plays_episodes_concurrently(quiet, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("CODEARC_CACHE_DIR", str(tmp_path))
    with SandboxPool(2, _backend()) as pool:
        envs = [CodeARCEnv(split="builtin", pool=pool) for _ in range(8)]
        first = [env.reset(options={"problem": 0})[0]["calls"][0] for env in envs]

        async def burst():
            return await asyncio.gather(
                *(env.astep({"kind": 0, "text": c}) for env, c in zip(envs, first, strict=True))
            )

        steps = asyncio.run(burst())
        assert [s[0]["io_left"] for s in steps] == [19] * 8
        assert pool.stats.reference_calls == 8


@pytest.mark.slow
def test_make_vec_puts_the_sub_envs_on_one_pool(quiet, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("CODEARC_CACHE_DIR", str(tmp_path))
    before = live_descendants()
    envs = gymnasium.make_vec("CodeARC-Builtin-v0", num_envs=3, backend=_backend())
    assert isinstance(envs, PooledSyncVectorEnv)
    assert envs.pool.size == 6
    assert {id(e.unwrapped.pool) for e in envs.envs} == {id(envs.pool)}
    envs.reset(seed=0)
    envs.step({"kind": [0, 0, 0], "text": ("x", "y", "z")})
    envs.close()
    assert envs.pool.closed
    assert live_descendants() - before == set()
    small = gymnasium.make_vec("CodeARC-Builtin-v0", num_envs=3, pool_size=2, backend="process")
    assert small.pool.size == 2  # type: ignore[attr-defined]
    assert small.pool.members[0].name == "process"  # type: ignore[attr-defined]
    small.close()


def test_process_pool_is_shared_per_settings() -> None:
    a = process_pool(4, "process")
    assert process_pool(4, "process") is a
    assert process_pool(2, "process") is not a
    assert a.size == 4 and a.members[0].name == "process"
    a.close()
    assert process_pool(4, "process") is not a  # a closed one is replaced
    process_pool(4, "process").close()
    process_pool(2, "process").close()


@pytest.mark.bwrap
@pytest.mark.slow
def test_isolation_checks_hold_through_both_halves() -> None:
    from codearc_env.sandbox.conformance import (
        check_harness_invisible,
        check_no_ipc_between_calls,
        check_no_state_between_calls,
        check_tmp_wiped_between_calls,
    )

    reason = unavailable_reason("bwrap")
    if reason is not None:
        pytest.skip(f"bwrap unavailable: {reason}")
    checks = (check_no_state_between_calls, check_tmp_wiped_between_calls,
              check_harness_invisible, check_no_ipc_between_calls)
    with SandboxPool(2, "bwrap") as pool:
        for side in (pool.reference, pool.candidate):
            for check in checks:
                passed, detail = check(side)
                assert passed, f"{side.name} {check.__name__}: {detail}"


@pytest.mark.slow
def test_merged_queries_on_a_real_sandbox_answer_each_episode(quiet, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("CODEARC_CACHE_DIR", str(tmp_path))
    with SandboxPool(2, _backend()) as pool:
        envs = [CodeARCEnv(split="builtin", pool=pool) for _ in range(8)]
        shown = [env.reset(options={"problem": i % 2})[0] for i, env in enumerate(envs)]
        assert pool.wait_warm(60)
        member = pool._reference[0]
        got: list[dict] = [{}] * 8

        def query(i: int) -> None:  # each episode asks for another of its examples
            got[i] = envs[i].step({"kind": 0, "text": shown[i]["calls"][i]})[0]

        with member.lock:  # the member is busy: the eight queries queue for it
            threads = [threading.Thread(target=query, args=(i,)) for i in range(8)]
            for t in threads:
                t.start()
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and sum(map(len, member.waiting.values())) < 8:
                time.sleep(0.005)
        for t in threads:
            t.join()
        assert [g["outputs"][-1] for g in got] == [s["outputs"][i] for i, s in enumerate(shown)]
        assert pool.stats.reference_merged == 6  # two problems: two requests for eight queries
