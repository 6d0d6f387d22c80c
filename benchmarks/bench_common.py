"""Helpers shared by several benchmark scripts: the machine's state, percentiles, and the
scripted episode of the pool and throughput benchmarks. Imported by the scripts, which run
with this folder first on ``sys.path``."""

from __future__ import annotations

import math
import os
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity), which bound any rate it reaches."""
    return len(os.sched_getaffinity(0))


def commit() -> str:
    """The checked-out commit of this repository, with ``+changes`` when the tree differs."""
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short=12", "HEAD"],
                          capture_output=True, text=True).stdout.strip() or "unknown"
    dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    return f"{head}+changes" if dirty else head


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo ("unknown CPU" when it has none)."""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


def default_data_dir() -> Path:
    """Where the benchmarks look for the real data: CODEARC_DATA_DIR, else ../shared beside
    the clone."""
    env = os.environ.get("CODEARC_DATA_DIR")
    return Path(env) if env else REPO.parent / "shared" / "codearc-data"


def machine_lines() -> list[str]:
    """Date, CPU, cores, Python, commit and load: the lines every figure is quoted with."""
    cpu = cpu_model()
    return [
        f"date: {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}; commit {commit()}",
        f"cpu: {cpu}; {os.cpu_count()} cores, {usable_cores()} usable by this process",
        f"uptime: {uptime()}",
    ]


def process_name(pid: int) -> str:
    """The command name of a process (``bwrap``, ``python3``, ``raylet``, ...)."""
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "?"


def quantile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) by the nearest-rank rule: a value that was measured."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def median_p90(values_ms: Sequence[float]) -> str:
    return f"median {quantile(values_ms, 0.5):7.2f} ms, p90 {quantile(values_ms, 0.9):7.2f} ms"


def usable_examples(fn: Any) -> list[Any]:
    """The examples of ``fn`` stored as a print of one literal call that ran cleanly."""
    return [ex for ex in fn.examples
            if ex.call is not None and ex.expression and not ex.errored
            and ex.call_text.startswith("print(")]


def builtin_problems(count: int) -> list[Any]:
    """The first ``count`` built-in problems (annotated) without quirks, all examples usable."""
    from codearc_env.problems import load_problems

    problems = load_problems("annotated", "builtin")
    chosen = [fn for fn in map(problems.get, problems.ids)
              if not fn.quirks.flags() and len(usable_examples(fn)) == len(fn.examples)]
    return chosen[:count]


def wrong_program(target: str) -> str:
    """A program that defines the target and is wrong almost everywhere."""
    return f"def {target}(*args, **kwargs):\n    return 12345\n"


def scripted_episode(env: Any, problem_id: str, n: int) -> tuple[str, str | None]:
    """Episode ``n`` on ``problem_id``: query one of its examples, then submit the reference
    (``n`` even: must be solved) or a constant function (``n`` odd: must fail).

    Returns the outcome and, when it is not the expected one, a line saying so.
    """
    obs, _ = env.reset(options={"problem": problem_id})
    fn = env.problem
    env.step({"kind": 0, "text": obs["calls"][n % len(obs["calls"])]})
    good = n % 2 == 0
    code = fn.code if good else wrong_program(fn.target)
    _, _, _, _, info = env.step({"kind": 1, "text": code})
    outcome = info["outcome"]
    expected = (outcome == "solved") if good else outcome in ("running", "failed")
    if expected:
        return outcome, None
    return outcome, f"({fn.problem_id}, {'reference' if good else 'wrong'}): {outcome}"
