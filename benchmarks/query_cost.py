"""CPU cost of one query, split between the harness and the sandbox. Prints figures only.

    python benchmarks/query_cost.py [--backend bwrap] [--queries 300]

One environment on a built-in problem queries the same example call ``--queries`` times
through a warm reference sandbox. Printed per query: wall time, this process's CPU time
(parsing, running the pool/sandbox client, rendering the observation), and the CPU time of
the sandbox's processes (its launcher, the worker and the fresh child each call forks,
counted through the worker's reaped-children times in /proc). Their sum bounds how many
queries two cores can answer per second whatever the pool's size: a burst of N queries
needs at least N x (harness + sandbox) / cores seconds.

The sandbox's processes are found as this process's descendants, so this works for the
local backends (bwrap, process); docker's run under the docker daemon and are not counted.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from codearc_env.env import CodeARCEnv

_HZ = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def descendants(root: int) -> set[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None:
            parents[int(entry.name)] = int(fields[1])
    found: set[int] = set()
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        kids = [pid for pid, ppid in parents.items() if ppid == parent]
        found.update(kids)
        frontier.extend(kids)
    return found


def cpu_seconds(pids: set[int]) -> float:
    """utime + stime + cutime + cstime of these processes (children they reaped included)."""
    total = 0
    for pid in pids:
        fields = _stat(pid)
        if fields is not None:
            total += sum(int(fields[i]) for i in (11, 12, 13, 14))
    return total / _HZ


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--backend", default="bwrap", choices=("bwrap", "process"))
    ap.add_argument("--queries", type=int, default=300)
    args = ap.parse_args()
    env = CodeARCEnv(split="builtin", backend=args.backend, b_io=10**6, max_turns=10**6)
    try:
        obs, _ = env.reset(seed=0)
        action = {"kind": 0, "text": obs["calls"][0]}
        for _ in range(20):  # warm: the sandbox started, the module compiled and cached
            env.step(action)
        sandbox = descendants(os.getpid())
        load = os.getloadavg()[0]
        box_before, own_before, began = (
            cpu_seconds(sandbox),
            time.process_time(),
            time.perf_counter(),
        )
        for _ in range(args.queries):
            env.step(action)
        wall = (time.perf_counter() - began) / args.queries * 1000
        own = (time.process_time() - own_before) / args.queries * 1000
        box = (cpu_seconds(sandbox) - box_before) / args.queries * 1000
    finally:
        env.close()
    print(
        f"{args.backend}: {args.queries} queries, {len(sandbox)} sandbox processes; per query: "
        f"wall {wall:.2f} ms, harness CPU {own:.2f} ms, sandbox CPU {box:.2f} ms, "
        f"total CPU {own + box:.2f} ms; load average {load:.1f} -> {os.getloadavg()[0]:.1f}"
    )
    print(f"a burst of 256 such queries needs at least {256 * (own + box) / 2:.0f} ms of two cores")


if __name__ == "__main__":
    main()
