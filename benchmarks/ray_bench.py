"""Scripted episodes per second: in one process, and through ``codearc eval --ray`` on a local
two-node Ray cluster, side by side in one sitting. Prints the figures for docs/scale.md.

    python benchmarks/ray_bench.py [--variant both] [--limit N] [--concurrency 2]
                                   [--backend bwrap] [--reps 2]

The ground-truth agent (no model) plays the built-in suite. A first in-process pass fills a
fresh oracle cache and is not timed: the timed runs then all find the reference tables there,
so they measure the harness and Ray's share, not table computation. The timed runs alternate
(in-process, Ray, in-process, Ray, ...) so the machine's load falls on both alike. Each Ray
run connects to the cluster, starts one episode host (and its pool) per node, and stops them:
that start-up is part of its time. The cluster itself (a head and one worker node on this
machine, one CPU each, no dashboard) starts once, before the timed runs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

from bench_common import uptime

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


def run_eval(out: Path, args: argparse.Namespace, ray_address: str | None) -> tuple[float, int]:
    from codearc_env.agents.evaluate import EvalConfig, evaluate

    config = EvalConfig(
        out_dir=out, agent="ground-truth", variant=args.variant, split="builtin",
        limit=args.limit, concurrency=args.concurrency, backend=args.backend, ray=ray_address,
    )
    start = time.monotonic()
    summary = evaluate(config)
    wall = time.monotonic() - start
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    solved = sum(row["status"] == "success" for row in rows)
    if summary["run"]["finished"] != summary["run"]["tasks"]:
        sys.exit(f"{out}: {summary['run']['finished']} of {summary['run']['tasks']} finished")
    return wall, solved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variant", default="both", choices=("annotated", "anonymized", "both"))
    parser.add_argument("--limit", type=int, default=None, help="problems per variant")
    parser.add_argument("--concurrency", type=int, default=2, help="episodes in flight (per node)")
    parser.add_argument("--backend", default="bwrap")
    parser.add_argument("--reps", type=int, default=2)
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # the process backend's warning, if chosen

    work = Path(tempfile.mkdtemp(prefix="codearc-ray-bench-"))
    os.environ["CODEARC_CACHE_DIR"] = str(work / "cache")  # the nodes inherit it
    print(f"start: {uptime()}")
    print(f"settings: variant={args.variant} limit={args.limit} concurrency={args.concurrency} "
          f"backend={args.backend} reps={args.reps}")

    wall, solved = run_eval(work / "warm-up", args, None)
    print(f"warm-up (in-process, fills the oracle cache): {solved} solved in {wall:.1f} s")

    from ray.cluster_utils import Cluster

    node = {"num_cpus": 1, "include_dashboard": False, "object_store_memory": 80 * 1024 * 1024}
    t0 = time.monotonic()
    cluster = Cluster(initialize_head=True, head_node_args=node)
    cluster.add_node(**node)
    cluster.wait_for_nodes()
    print(f"local Ray cluster (2 nodes) started in {time.monotonic() - t0:.1f} s")

    times: dict[str, list[float]] = {"in-process": [], "ray": []}
    episodes = 0
    try:
        for rep in range(args.reps):
            for name, address in (("in-process", None), ("ray", cluster.address)):
                wall, solved = run_eval(work / f"{name}-{rep}", args, address)
                episodes = solved if episodes == 0 else episodes
                if solved != episodes:
                    sys.exit(f"{name} run {rep}: {solved} solved, not {episodes}")
                times[name].append(wall)
                print(f"{name:>10} run {rep}: {solved} episodes solved in {wall:.2f} s "
                      f"({solved / wall:.2f} episodes/s)")
    finally:
        cluster.shutdown()

    medians = {name: statistics.median(walls) for name, walls in times.items()}
    for name, wall in medians.items():
        print(f"{name:>10}: median {wall:.2f} s for {episodes} episodes: "
              f"{episodes / wall:.2f} episodes/s, {1000 * wall / episodes:.0f} ms per episode")
    print(f"ray / in-process wall time per episode: {medians['ray'] / medians['in-process']:.2f}x")
    print(f"end: {uptime()}")


if __name__ == "__main__":
    main()
