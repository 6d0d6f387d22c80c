"""Sandbox speed per backend: cold start, warm call latency, batch throughput, 8 in parallel.

    python benchmarks/sandbox_bench.py [--backends docker bwrap process] [--calls 200]
        [--oracle-batch 300]

A second table compares the two isolation modes on one run of ``--oracle-batch`` invocations
(the size of an oracle's reference table): a process per call, or one per batch.

Targets (2-core machine): warm call <= 5 ms median on docker and bwrap; a container ready in
<= 1 s; 8 sandboxes in parallel without failures.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from codearc_env.sandbox import make_sandbox, unavailable_reason
from codearc_env.sandbox.base import CallResult, Invocation, Isolation, Sandbox

SOURCE = "def f(x):\n    return [x, x * 2, str(x)]\n"
NUMPY_SOURCE = "import numpy as np\ndef f(x):\n    return int(np.arange(x % 50).sum())\n"
"""A module that loads numpy into the worker: a bigger worker makes each fork dearer."""


@dataclass(frozen=True)
class Row:
    backend: str
    cold_start_s: float
    call_median_ms: float
    call_p90_ms: float
    batch_calls_per_s: float
    parallel_calls_per_s: float
    parallel_failures: int


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _started(backend: str) -> tuple[Sandbox, float]:
    box = make_sandbox(backend)
    began = time.perf_counter()
    box.start()
    return box, time.perf_counter() - began


def _failures(results: list[CallResult]) -> int:
    return sum(1 for r in results if not r.ok)


def bench(backend: str, calls: int, parallel: int) -> Row:
    starts = []
    for _ in range(3):
        box, took = _started(backend)
        starts.append(took)
        box.close()
    box, _ = _started(backend)
    try:
        box.run(SOURCE, "f", [Invocation(args=(0,))])  # warm the compile cache
        latencies = []
        for i in range(calls):
            began = time.perf_counter()
            result = box.run_one(SOURCE, "f", Invocation(args=(i,)))
            latencies.append(time.perf_counter() - began)
            if not result.ok:
                raise RuntimeError(f"{backend}: call {i} failed: {result}")
        began = time.perf_counter()
        batch = box.run(SOURCE, "f", [Invocation(args=(i,)) for i in range(calls)])
        batch_rate = calls / (time.perf_counter() - began)
        if _failures(batch):
            raise RuntimeError(f"{backend}: {_failures(batch)} batch calls failed")
    finally:
        box.close()

    def worker(k: int) -> int:
        sandbox, _ = _started(backend)
        try:
            results = sandbox.run(
                SOURCE, "f", [Invocation(args=(k * calls + i,)) for i in range(calls)]
            )
            return _failures(results)
        finally:
            sandbox.close()

    began = time.perf_counter()
    with ThreadPoolExecutor(parallel) as pool:
        failures = sum(pool.map(worker, range(parallel)))
    parallel_rate = parallel * calls / (time.perf_counter() - began)
    return Row(
        backend,
        statistics.median(starts),
        statistics.median(latencies) * 1000,
        _percentile(latencies, 0.9) * 1000,
        batch_rate,
        parallel_rate,
        failures,
    )


@dataclass(frozen=True)
class IsolationRow:
    backend: str
    module: str
    invocations: int
    call_s: float
    batch_s: float


def bench_isolation(backend: str, invocations: int, source: str, module: str) -> IsolationRow:
    """One run of ``invocations`` calls per isolation mode, on a warm sandbox."""
    box, _ = _started(backend)
    calls = [Invocation(args=(i,)) for i in range(invocations)]
    took = {}
    try:
        box.run(source, "f", [Invocation(args=(0,))])  # warm the compile cache
        isolation: Isolation
        for isolation in ("call", "batch"):
            began = time.perf_counter()
            results = box.run(source, "f", calls, isolation=isolation)
            took[isolation] = time.perf_counter() - began
            if _failures(results):
                raise RuntimeError(f"{backend}: {_failures(results)} {isolation} calls failed")
    finally:
        box.close()
    return IsolationRow(backend, module, invocations, took["call"], took["batch"])


def _load() -> str:
    try:
        return " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", nargs="+", default=["docker", "bwrap", "process"])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--parallel", type=int, default=8)
    parser.add_argument("--oracle-batch", type=int, default=300)
    parser.add_argument(
        "--isolation-only", action="store_true", help="only the call-versus-batch table"
    )
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # the process backend warns on every start
    print(f"load average at start: {_load()}")
    if not args.isolation_only:
        _main_table(args)
    print()
    n = args.oracle_batch
    print(
        f"| backend | module | {n} calls, isolation=call | {n} calls, isolation=batch | speed-up |"
    )
    print("|" + "---|" * 5)
    for backend in _available(args.backends, columns=5):
        for module, source in (("plain", SOURCE), ("numpy", NUMPY_SOURCE)):
            iso = bench_isolation(backend, n, source, module)
            print(
                f"| {iso.backend} | {iso.module} "
                f"| {iso.call_s:.2f} s ({iso.call_s / n * 1000:.1f} ms/call) "
                f"| {iso.batch_s:.2f} s ({iso.batch_s / n * 1000:.2f} ms/call) "
                f"| {iso.call_s / iso.batch_s:.0f}x |",
                flush=True,
            )
    print(f"load average at end: {_load()}")


def _available(backends: list[str], columns: int) -> Iterator[str]:
    """The usable backends, in order; for each of the others, a table row saying why."""
    for backend in backends:
        reason = unavailable_reason(backend)
        if reason is None:
            yield backend
        else:
            print(f"| {backend} | unavailable: {reason} |" + " |" * (columns - 2))


def _main_table(args: argparse.Namespace) -> None:
    header = (
        "| backend | cold start | warm call median | warm call p90 | batch calls/s "
        f"| {args.parallel} parallel: calls/s | {args.parallel} parallel: failures |"
    )
    print(header)
    print("|" + "---|" * 7)
    for backend in _available(args.backends, columns=7):
        row = bench(backend, args.calls, args.parallel)
        print(
            f"| {row.backend} | {row.cold_start_s:.2f} s | {row.call_median_ms:.1f} ms "
            f"| {row.call_p90_ms:.1f} ms | {row.batch_calls_per_s:.0f} "
            f"| {row.parallel_calls_per_s:.0f} | {row.parallel_failures} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
