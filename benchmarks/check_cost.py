"""CPU cost of one warm oracle check, split between the harness and the sandbox. Prints figures
only.

    python benchmarks/check_cost.py [--backend bwrap] [--checks 80] [--problems 8]

One environment on the first ``--problems`` built-in problems (annotated, no quirks). Every
problem's reference table is computed first by one submission of its reference program (not
timed). Then ``--checks`` submissions of the reference program (correct: one driver run) and
as many of a constant function (wrong almost everywhere: driver, fresh runs, shrinking), the
problems taken in turn, each on a fresh episode. Printed per kind and per check: wall time,
this process's CPU time (the harness: comparing, ordering, rendering the verdict), the CPU time
of the sandbox's processes (counted as in ``query_cost.py``: the descendants of this process
and the children they reaped), and their sum; then the checks per second one core can give a
50/50 mix of the two kinds (1000 / mean total CPU ms). The digest of every verdict's reason
and counterexample lets two versions of the oracle be compared for identical verdicts.
The sandbox's CPU time is counted in clock ticks (10 ms on most systems): use enough checks.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import time
from collections import Counter
from typing import Any

from bench_common import builtin_problems, process_name, uptime, wrong_program
from query_cost import cpu_seconds, descendants

import codearc_env
from codearc_env.env import CodeARCEnv


def _reaped_children_s() -> float:
    """CPU time of this process's own children that it has reaped (a sandbox's launcher)."""
    t = os.times()
    return t.children_user + t.children_system


class Cost:
    """Accumulated cost of one kind of check."""

    def __init__(self, kind: str) -> None:
        self.kind, self.n, self.wall, self.harness, self.sandbox = kind, 0, 0.0, 0.0, 0.0
        self.outcomes: dict[str, int] = {}
        self.digest = hashlib.sha256()

    def line(self) -> str:
        ms = 1000 / max(1, self.n)
        seen = ", ".join(f"{k} {v}" for k, v in sorted(self.outcomes.items()))
        return (
            f"{self.kind}: {self.n} checks; per check: wall {self.wall * ms:.2f} ms, "
            f"harness CPU {self.harness * ms:.2f} ms, sandbox CPU {self.sandbox * ms:.2f} ms, "
            f"total CPU {self.total_ms:.2f} ms; verdicts: {seen}; "
            f"digest {self.digest.hexdigest()[:16]}"
        )

    @property
    def total_ms(self) -> float:
        return (self.harness + self.sandbox) * 1000 / max(1, self.n)


def one_check(env: CodeARCEnv, problem_id: str, source: str, cost: Cost) -> None:
    """Submit ``source`` on a fresh episode of ``problem_id``; add its cost to ``cost``."""
    env.reset(options={"problem": problem_id})
    action = {"kind": 1, "text": source}
    own, began = time.process_time(), time.perf_counter()
    _, _, _, _, info = env.step(action)
    cost.wall += time.perf_counter() - began
    cost.harness += time.process_time() - own
    cost.n += 1
    cost.outcomes[info["verdict"]] = cost.outcomes.get(info["verdict"], 0) + 1
    cost.digest.update(repr((problem_id, info["verdict_reason"], info["counterexample"])).encode())


def measure(env: CodeARCEnv, problems: list[Any], checks: int, wrong: bool) -> tuple[Cost, str]:
    """``checks`` checks of one kind, the problems in turn; the sandbox's CPU over them all,
    and its processes by name."""
    cost = Cost("wrong" if wrong else "correct")
    sandbox = descendants(os.getpid())
    before = cpu_seconds(sandbox) + _reaped_children_s()
    for i in range(checks):
        fn = problems[i % len(problems)]
        one_check(env, fn.problem_id, wrong_program(fn.target) if wrong else fn.code, cost)
    cost.sandbox = cpu_seconds(sandbox) + _reaped_children_s() - before
    names = Counter(process_name(pid) for pid in sandbox)
    return cost, ", ".join(f"{name} {n}" for name, n in sorted(names.items()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--backend", default="bwrap", choices=("bwrap", "process"))
    ap.add_argument("--checks", type=int, default=80, help="checks of each kind")
    ap.add_argument("--problems", type=int, default=8, help="built-in problems taken in turn")
    args = ap.parse_args()
    problems = builtin_problems(args.problems)
    env = CodeARCEnv(split="builtin", backend=args.backend, b_oracle=10**6, max_turns=10**6)
    try:
        warm = Cost("warm-up")
        for fn in problems:  # reference tables computed, sandboxes started: not timed
            one_check(env, fn.problem_id, fn.code, warm)
        load = os.getloadavg()[0]
        good, processes = measure(env, problems, args.checks, wrong=False)
        bad, _ = measure(env, problems, args.checks, wrong=True)
    finally:
        env.close()
    print(f"package: {os.path.dirname(codearc_env.__file__)}")
    print(
        f"{args.backend}: {len(problems)} problems, {args.checks} checks of each kind; "
        f"sandbox processes: {processes}; load average {load:.1f} -> {os.getloadavg()[0]:.1f}"
    )
    print(good.line())
    print(bad.line())
    mean = (good.total_ms + bad.total_ms) / 2
    print(f"50/50 mix: mean total CPU {mean:.2f} ms per check, {1000 / mean:.1f} checks/s per core")
    print(f"uptime: {uptime()}")


if __name__ == "__main__":
    main()
