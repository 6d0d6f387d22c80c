"""Memory the resident children of one reference sandbox hold. Prints figures only.

    python benchmarks/resident_memory.py [--problems 16] [--queries 30] [--backend process]

One environment queries each of ``--problems`` built-in problems ``--queries`` times, so its
reference sandbox keeps one resident child per problem; then, from /proc/<pid>/smaps_rollup,
the worker's and each resident child's resident size (RSS), proportional share (PSS) and
private dirty pages: what a child holds of its own, the rest being the worker's pages it
shares. The process backend is the default because its processes are this process's
descendants (bwrap's are too, one level further down, under the bwrap process).
"""

from __future__ import annotations

import argparse
import os
import statistics
import warnings
from pathlib import Path

from bench_common import machine_lines

from codearc_env.env import CodeARCEnv
from codearc_env.functions import builtin_suite


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def rollup_kb(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, value = line.split(":", 1)
        fields[name] = int(value.split()[0])
    return fields


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--problems", type=int, default=16)
    ap.add_argument("--queries", type=int, default=30)
    ap.add_argument("--backend", default="process", choices=("process", "bwrap"))
    args = ap.parse_args()
    warnings.simplefilter("ignore")  # the process backend's insecurity warning
    print("\n".join(machine_lines()))
    env = CodeARCEnv(split="builtin", backend=args.backend, b_io=10**6, max_turns=10**6)
    try:
        for fn in builtin_suite("annotated")[: args.problems]:
            obs, _ = env.reset(options={"problem": fn.problem_id})
            for _ in range(args.queries):
                env.step({"kind": 0, "text": obs["calls"][0]})
        print(f"{args.queries} queries each of {args.problems} built-in problems, {args.backend}")
        workers = children(os.getpid())
        if args.backend == "bwrap":  # bwrap -> the worker
            workers = [w for b in workers for w in children(b)]
        for worker in workers:
            residents = children(worker)
            if not residents:
                continue  # the candidate sandbox's worker
            own = rollup_kb(worker)
            kids = [rollup_kb(p) for p in residents]
            private = [k["Private_Dirty"] / 1024 for k in kids]
            print(f"worker: RSS {own['Rss'] / 1024:.1f} MB, PSS {own['Pss'] / 1024:.1f} MB; "
                  f"{len(residents)} resident children")
            print(f"  each: RSS {statistics.median(k['Rss'] for k in kids) / 1024:.1f} MB, "
                  f"PSS {statistics.median(k['Pss'] for k in kids) / 1024:.1f} MB, private "
                  f"dirty {min(private):.1f}-{max(private):.1f} MB (RSS and PSS: medians)")
            print(f"  all resident children, private dirty: {sum(private):.1f} MB")
    finally:
        env.close()


if __name__ == "__main__":
    main()
