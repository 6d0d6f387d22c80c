"""What one sandbox call costs by isolation mode: CPU time and page faults. Prints figures only.

    python benchmarks/child_cost.py [--backend bwrap] [--calls 400]

One started sandbox runs a two-line function (``x + 1``) ``--calls`` times per line:

- ``call`` with 1 invocation: a fresh child forked for it (a candidate's load probe, a
  driver run);
- ``batch`` with 1, 4 and 64 invocations: one forked child runs them in turn, each in a fresh
  namespace (a candidate's fresh runs);
- ``resident`` with 1 invocation: the function's warm process (a query of a hidden function).

Printed per call: wall time; CPU time of this process (the harness) and of the sandbox's
processes, user and system apart (counted as in ``query_cost.py``: the descendants of this
process and the children they reaped); and minor page faults of the sandbox's live processes
(the worker, and its resident processes) and of the children they forked and reaped. A forked
child starts sharing every page with the worker, and each page either of them then writes is
copied (or, once the other is gone, taken back) through a fault: a large part of a trivial
call's CPU time. Faults count exactly, whatever else the machine does.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

from bench_common import machine_lines, uptime
from query_cost import _HZ, _stat, descendants

from codearc_env.sandbox import make_sandbox
from codearc_env.sandbox.base import Invocation

SOURCE = "def f(x):\n    return x + 1\n"
LINES = (("call", 1), ("batch", 1), ("batch", 4), ("batch", 64), ("resident", 1))


def counters(pids: set[int]) -> tuple[float, float, int, int]:
    """(user s, system s, own faults, reaped children's faults) summed over ``pids``."""
    user = system = 0.0
    own = children = 0
    for pid in pids:
        fields = _stat(pid)
        if fields is not None:
            user += (int(fields[11]) + int(fields[13])) / _HZ
            system += (int(fields[12]) + int(fields[14])) / _HZ
            own += int(fields[7])
            children += int(fields[8])
    return user, system, own, children


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--backend", default="bwrap", choices=("bwrap", "process"))
    ap.add_argument("--calls", type=int, default=400, help="calls per line")
    args = ap.parse_args()
    for line in machine_lines():
        print(line)
    warnings.simplefilter("ignore")  # the process backend's warning
    box = make_sandbox(args.backend)
    box.start()
    try:
        for _ in range(20):  # warm: the worker started, the resident process too
            box.run(SOURCE, "f", [Invocation(args=(1,))], isolation="resident")
            box.run(SOURCE, "f", [Invocation(args=(1,))] * 4, isolation="batch")
        sandbox = descendants(os.getpid())
        print(f"{args.backend}: {args.calls} calls per line, {len(sandbox)} sandbox processes")
        for isolation, n in LINES:
            invocations = [Invocation(args=(i,)) for i in range(n)]
            before, own, began = counters(sandbox), time.process_time(), time.perf_counter()
            for _ in range(args.calls):
                results = box.run(SOURCE, "f", invocations, isolation=isolation)  # type: ignore[arg-type]
            wall, own = time.perf_counter() - began, time.process_time() - own
            after = counters(sandbox)
            if not all(r.ok for r in results):
                raise RuntimeError(f"{isolation}: {results[0]}")
            if descendants(os.getpid()) != sandbox:  # a process replaced: its counts moved
                raise RuntimeError(f"{isolation}: a sandbox process was replaced during the "
                                   "line (fewer --calls)")
            per = [(a - b) / args.calls for a, b in zip(after, before, strict=True)]
            ms = 1000 / args.calls
            print(
                f"{isolation:8} x{n:<3} per call: wall {wall * ms:.2f} ms, harness CPU "
                f"{own * ms:.2f} ms, sandbox CPU {1000 * (per[0] + per[1]):.2f} ms (user "
                f"{1000 * per[0]:.2f}, system {1000 * per[1]:.2f}); page faults: the sandbox's "
                f"live processes {per[2]:.0f}, the children they reaped {per[3]:.0f}"
            )
    finally:
        box.close()
    print(f"uptime: {uptime()}")


if __name__ == "__main__":
    main()
