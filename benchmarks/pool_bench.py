"""Many live episodes on one shared sandbox pool: density, burst latency, a long scripted run.

    python benchmarks/pool_bench.py [--episodes 256] [--pool-size 8] [--bursts 5]
        [--run 1000] [--workers 16] [--backend bwrap] [--strength default] [--gc as-is]

1. Density: ``--episodes`` environments in this process on one pool of ``--pool-size``
   sandboxes, each reset on a problem of the built-in suite. Prints the harness's RSS
   (this process) and the sandboxes' (every process under it), then ``--bursts`` bursts in
   which every episode sends one query at the same moment (``astep`` on one event loop):
   the latency of each query from the burst's start, p50/p99/max over all bursts. With
   ``--gc freeze`` the process freezes its heap (``gc.freeze()``) once the environments are
   made, as ``docs/scale.md`` ("A trainer's process") suggests, so the collector's one full
   pass over them does not land in a burst; the default, ``--gc as-is``, leaves it alone.
2. Alone, for comparison (``--alone N``): N environments each with its own two sandboxes,
   all started; the memory of their sandbox processes per live episode.
3. A scripted run of ``--run`` episodes through the pool on ``--workers`` threads: each
   episode queries one of its examples, then submits the reference (must pass) or, every
   other episode, a wrong program (must fail). Prints episodes lost or misjudged, the rate,
   and the processes left once the pool is closed.

Targets (2-core machine): 256 live episodes on at most 8 sandboxes, harness RSS <= 1.5 GB,
burst p99 <= 250 ms; the run loses nothing and leaves no process.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import platform
import statistics
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench_common import scripted_episode

from codearc_env.env import CodeARCEnv
from codearc_env.sandbox.pool import SandboxPool
from codearc_env.testing import live_descendants


def _proc_mb(pid: int, name: str, field: str) -> float:
    """A "Field:  N kB" line of /proc/<pid>/<name>, in MB (0 for a process gone)."""
    try:
        with open(f"/proc/{pid}/{name}") as fh:
            for line in fh:
                if line.startswith(field):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def rss_mb(pid: int) -> float:
    return _proc_mb(pid, "status", "VmRSS:")


def pss_mb(pid: int) -> float:
    """Proportional set size: pages shared by forked processes counted once over them all
    (a sum of RSS counts them once per process)."""
    return _proc_mb(pid, "smaps_rollup", "Pss:")


def header(args: argparse.Namespace) -> None:
    with open("/proc/cpuinfo") as fh:
        cpu = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), "?")
    print(f"date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; cpu: {cpu} "
          f"x{os.cpu_count()}; python {platform.python_version()}")
    print(f"load: {' '.join(f'{x:.2f}' for x in os.getloadavg())} (1/5/15 min)")
    print(f"backend: {args.backend}; pool: {args.pool_size} sandboxes; strength {args.strength}; "
          f"garbage collector {args.gc}")


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


def density(args: argparse.Namespace, pool: SandboxPool) -> None:
    rss_before = rss_mb(os.getpid())
    envs = [CodeARCEnv(split="builtin", pool=pool, oracle_strength=args.strength)
            for _ in range(args.episodes)]
    ids = list(envs[0].problem_set.ids)
    firsts = []
    for i, env in enumerate(envs):
        obs, _ = env.reset(options={"problem": ids[i % len(ids)]})
        firsts.append(obs["calls"])
    pool.start()
    if not pool.wait_warm(60):
        raise RuntimeError("the resets' warm-ups did not end within 60 s")
    if args.gc == "freeze":
        gc.freeze()
        print(f"\n[gc] heap frozen after set-up: {gc.get_freeze_count()} objects the collector "
              f"no longer walks")
    harness = rss_mb(os.getpid())
    kids = live_descendants()
    sandboxes, shared = sum(rss_mb(p) for p in kids), sum(pss_mb(p) for p in kids)
    print(f"\n[density] {len(envs)} live episodes, {len(set(map(id, pool.members)))} sandboxes "
          f"({len(kids)} processes under the harness, after every reset warmed its problem)")
    print(f"  harness RSS: {harness:.0f} MB ({rss_before:.0f} MB before the envs; "
          f"{(harness - rss_before) / len(envs) * 1024:.0f} KB per episode)")
    total = harness - rss_before + shared
    print(f"  sandbox processes: RSS {sandboxes:.0f} MB summed, PSS {shared:.0f} MB; "
          f"{total / len(envs):.2f} MB per live episode (harness growth and sandboxes' PSS)")

    latencies: list[float] = []
    per_burst: list[list[float]] = []

    async def burst(round_: int) -> None:
        start = time.perf_counter()
        mine: list[float] = []
        per_burst.append(mine)

        async def one(env: CodeARCEnv, calls: tuple[str, ...]) -> None:
            obs, *_ = await env.astep({"kind": 0, "text": calls[(round_ + 1) % len(calls)]})
            latencies.append(time.perf_counter() - start)
            mine.append(latencies[-1])
            if obs["feedback"].startswith("Invalid"):
                raise RuntimeError(f"a burst query was refused: {obs['feedback']}")

        await asyncio.gather(*(one(e, c) for e, c in zip(envs, firsts, strict=True)))

    walls = []
    for r in range(args.bursts):
        began = time.perf_counter()
        asyncio.run(burst(r))
        walls.append(time.perf_counter() - began)
    ms = sorted(x * 1000 for x in latencies)
    p99 = ms[min(len(ms) - 1, int(0.99 * len(ms)))]
    print(f"  burst: {args.bursts} x {len(envs)} queries at once; latency p50 "
          f"{statistics.median(ms):.0f} ms, p99 {p99:.0f} ms, max {ms[-1]:.0f} ms; "
          f"burst wall median {statistics.median(walls) * 1000:.0f} ms "
          f"({len(envs) / statistics.median(walls):.0f} queries/s)")
    print("  each burst, wall and p99: "
          + "; ".join(f"{w * 1000:.0f} ms, p99 {_p99(b) * 1000:.0f} ms"
                      for w, b in zip(walls, per_burst, strict=True)))  # fmt: skip
    print(f"  queries that shared another episode's sandbox request: "
          f"{pool.stats.reference_merged} of {pool.stats.reference_calls} reference calls")
    print(f"  harness RSS after the bursts: {rss_mb(os.getpid()):.0f} MB; "
          f"load now {os.getloadavg()[0]:.2f}")
    for env in envs:
        env.close()


def alone(args: argparse.Namespace) -> None:
    before = live_descendants()
    envs = [CodeARCEnv(split="builtin", backend=args.backend) for _ in range(args.alone)]
    for env in envs:
        env.reset(seed=0)
        env._reference.start()
        env._candidate.start()
    procs = live_descendants() - before
    total = sum(rss_mb(p) for p in procs)
    print(f"\n[alone] {len(envs)} live episodes with their own sandboxes: {2 * len(envs)} "
          f"sandboxes, {len(procs)} processes, RSS {total:.0f} MB "
          f"({total / len(envs):.1f} MB per live episode)")
    for env in envs:
        env.close()


def scripted_run(args: argparse.Namespace, pool: SandboxPool) -> None:
    ids = list(CodeARCEnv(split="builtin", pool=pool).problem_set.ids)
    todo = list(range(args.run))
    lock = threading.Lock()
    done: dict[int, str] = {}
    wrong: list[str] = []

    def worker() -> None:
        env = CodeARCEnv(split="builtin", pool=pool, oracle_strength=args.strength)
        try:
            while True:
                with lock:
                    if not todo:
                        return
                    n = todo.pop()
                outcome, unexpected = scripted_episode(env, ids[n % len(ids)], n)
                with lock:
                    if n in done:
                        wrong.append(f"episode {n} counted twice")
                    done[n] = outcome
                    if unexpected is not None:
                        wrong.append(f"episode {n} {unexpected}")
        finally:
            env.close()

    began = time.perf_counter()
    with ThreadPoolExecutor(args.workers) as ex:
        for f in [ex.submit(worker) for _ in range(args.workers)]:
            f.result()
    wall = time.perf_counter() - began
    print(f"\n[run] {args.run} scripted episodes on {args.workers} threads: "
          f"{len(done)} finished, {args.run - len(done)} lost, {len(wrong)} misjudged; "
          f"{wall:.1f} s ({args.run / wall:.1f} episodes/s); pool calls: "
          f"{pool.stats.reference_calls} reference, {pool.stats.candidate_calls} candidate; "
          f"load now {os.getloadavg()[0]:.2f}")
    for line in wrong[:10]:
        print(f"  {line}")


def main(argv: Any = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--episodes", type=int, default=256)
    ap.add_argument("--pool-size", type=int, default=8)
    ap.add_argument("--bursts", type=int, default=5)
    ap.add_argument("--run", type=int, default=1000)
    ap.add_argument("--alone", type=int, default=16)
    ap.add_argument("--workers", type=int, default=16)
    ap.add_argument("--backend", default="bwrap")
    ap.add_argument("--strength", default="default")
    ap.add_argument("--gc", choices=("as-is", "freeze"), default="as-is",
                    help="leave the garbage collector alone (default), or freeze the heap "
                         "once the environments are made")
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")  # the process backend's warning, when named
    header(args)
    before = live_descendants()
    with SandboxPool(args.pool_size, args.backend) as pool:
        if args.episodes:
            density(args, pool)
        if args.alone:
            alone(args)
        if args.run:
            scripted_run(args, pool)
    deadline = time.monotonic() + 10
    while live_descendants() - before and time.monotonic() < deadline:
        time.sleep(0.1)
    left = live_descendants() - before
    print(f"\nprocesses left after closing the pool: {len(left)}")
    return 0 if not left else 1


if __name__ == "__main__":
    raise SystemExit(main())
