"""Time the oracle's input generation per problem: direct draws against Hypothesis's engine.

    python benchmarks/input_bench.py [--step 37] [--strength default]

Generates the base input set of every ``step``-th problem of both variants (seed 0), first
with the direct draws the oracle uses, then with the ``@given`` engine it falls back to, and
prints the median, mean and maximum seconds per problem and the median number of inputs.
Needs the real data (CODEARC_DATA_DIR or ../shared/codearc-data). Runs on the host: input
generation never executes the hidden module (it reads hints with ``ast``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from codearc_env.functions import load_dataset
from codearc_env.oracle import inputs

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "codearc-data"


def measure(problems: list, strength: str) -> tuple[list[float], list[int]]:  # type: ignore[type-arg]
    seconds, sizes = [], []
    for fn in problems:
        start = time.perf_counter()
        sizes.append(len(inputs.generate_inputs(fn, seed=0, strength=strength)))
        seconds.append(time.perf_counter() - start)
    return seconds, sizes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--step", type=int, default=37)
    ap.add_argument("--strength", default="default")
    args = ap.parse_args()
    dataset = load_dataset(os.environ.get("CODEARC_DATA_DIR") or SHARED_DATA)
    problems = [dataset.get(v, i) for v in ("annotated", "anonymized") for i in range(0, 1114, args.step)]
    direct = inputs._draw_direct
    for label in ("direct draws", "@given engine"):
        inputs._draw_direct = direct if label == "direct draws" else _use_engine
        seconds, sizes = measure(problems, args.strength)
        print(
            f"{label:<14} {len(problems)} problems: median {statistics.median(seconds):.3f} s, "
            f"mean {statistics.mean(seconds):.3f} s, max {max(seconds):.3f} s per problem; "
            f"median {statistics.median(sizes):.0f} inputs"
        )
    inputs._draw_direct = direct


def _use_engine(strategy, n, seed, label):  # type: ignore[no-untyped-def]
    raise ImportError("measuring the engine path")  # makes _draw fall back to the engine


if __name__ == "__main__":
    main()
