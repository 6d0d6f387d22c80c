"""Two checkouts' sandboxes side by side, under the same load: warm calls and batches.

    python benchmarks/sandbox_ab.py --python-a /path/to/old/venv/bin/python [--python-b python3]
        [--backend bwrap] [--rounds 15] [--calls 20] [--batch 300]

Each interpreter (with its own checkout of codearc-env installed) runs this file with
``--serve``: it starts one sandbox and, per command, times ``--calls`` warm ``run_one`` calls
or one ``run`` of ``--batch`` invocations with ``isolation="batch"``. Rounds alternate A and
B, so a change in the machine's load hits both alike (separate runs minutes apart on a shared
machine differ by more than the effect measured). Prints the median and p90 per call of
each, and B relative to A.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import warnings

SOURCE = "def f(x):\n    return [x, x * 2, str(x)]\n"


def serve(backend: str) -> None:
    """Answer commands on stdin ("calls N" / "batch N") with per-call times on stdout."""
    import codearc_env
    from codearc_env.sandbox import make_sandbox
    from codearc_env.sandbox.base import Invocation

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        box = make_sandbox(backend)
        box.start()
    print(json.dumps({"code": os.path.dirname(codearc_env.__file__)}), flush=True)
    box.run_one(SOURCE, "f", Invocation(args=(0,)))  # warm
    for line in sys.stdin:
        kind, n = line.split()
        times = []
        if kind == "calls":
            for i in range(int(n)):
                began = time.perf_counter()
                r = box.run_one(SOURCE, "f", Invocation(args=(i,)))
                times.append(time.perf_counter() - began)
                assert r.ok, r
        else:
            calls = [Invocation(args=(i,)) for i in range(int(n))]
            began = time.perf_counter()
            rs = box.run(SOURCE, "f", calls, isolation="batch")
            times.append((time.perf_counter() - began) / len(calls))
            assert all(r.ok for r in rs)
        print(json.dumps(times), flush=True)
    box.close()


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python-a", required=True, help="interpreter of checkout A (before)")
    parser.add_argument("--python-b", default=sys.executable, help="checkout B (after)")
    parser.add_argument("--backend", default="bwrap")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=20, help="warm calls per round")
    parser.add_argument("--batch", type=int, default=300, help="invocations per batch")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.backend)
        return
    here = os.path.abspath(__file__)
    procs = {}
    for label, python in (("A", args.python_a), ("B", args.python_b)):
        # From / so that neither picks up a checkout from the current directory.
        procs[label] = subprocess.Popen(
            [python, here, "--serve", "--python-a", "-", "--backend", args.backend],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd="/",
        )  # fmt: skip
        print(f"{label}: {json.loads(procs[label].stdout.readline())['code']}")
    calls: dict[str, list[float]] = {"A": [], "B": []}
    batch: dict[str, list[float]] = {"A": [], "B": []}
    load = [os.getloadavg()[0]]
    for _ in range(args.rounds):
        for label in ("A", "B"):
            for kind, n, into in (("calls", args.calls, calls), ("batch", args.batch, batch)):
                proc = procs[label]
                assert proc.stdin is not None and proc.stdout is not None
                proc.stdin.write(f"{kind} {n}\n")
                proc.stdin.flush()
                into[label] += json.loads(proc.stdout.readline())
        load.append(os.getloadavg()[0])
    for proc in procs.values():
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait()
    print(f"backend {args.backend}, {args.rounds} rounds, load average {min(load):.1f}-{max(load):.1f}")
    for name, data in (("warm call", calls), (f"batch of {args.batch}, per invocation", batch)):
        a, b = statistics.median(data["A"]) * 1000, statistics.median(data["B"]) * 1000
        print(
            f"{name}: A median {a:.2f} ms (p90 {_percentile(data['A'], 0.9) * 1000:.2f}), "
            f"B median {b:.2f} ms (p90 {_percentile(data['B'], 0.9) * 1000:.2f}), "
            f"B/A {b / a:.2f}"
        )


if __name__ == "__main__":
    main()
