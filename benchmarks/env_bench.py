"""Environment overhead and soak benchmark. Prints figures; asserts nothing.

1. Query overhead: median time of ``env.step`` with a one-call query through a warm sandbox,
   minus the median of the same call made directly with ``sandbox.run`` (target <= 10 ms).
2. Soak: N episodes (default 1000) of a scripted policy in a vector env (one query, then the
   ground-truth program), with this process's RSS and its live descendant processes before
   and after, to show nothing leaks.

    python benchmarks/env_bench.py [--backend bwrap] [--episodes 1000] [--num-envs 4]
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import gymnasium
import numpy as np

import codearc_env  # noqa: F401  (registers the ids)
from codearc_env.functions import builtin_suite
from codearc_env.sandbox.base import Invocation
from codearc_env.testing import live_descendants

PROBLEM = "builtin/annotated/reverse_words"


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def descendants() -> set[int]:
    return live_descendants()


def tree_rss_mb(pids: set[int]) -> float:
    """Summed RSS of ``pids`` (the vector env's workers and their sandboxes)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as fh:
                total += next((int(x.split()[1]) for x in fh if x.startswith("VmRSS:")), 0)
        except OSError:
            continue
    return total / 1024


def bench_query(backend: str | None, n: int) -> None:
    env = gymnasium.make("CodeARC-Builtin-v0", backend=backend, b_io=n + 100, max_turns=n + 100)
    env.reset(seed=0, options={"problem": PROBLEM})
    base = env.unwrapped
    fn = base.problem
    sandbox = base._ready(base._reference)
    env.step({"kind": 0, "text": "reverse_words('warm up')"})
    step_s, raw_s = [], []
    for i in range(n):  # interleaved so that drift hits both equally
        text = f"reverse_words('a b {i}')"
        t0 = time.perf_counter()
        env.step({"kind": 0, "text": text})
        step_s.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        sandbox.run(fn.code, fn.target, [Invocation(args=(f"a b {i}",))])
        raw_s.append(time.perf_counter() - t0)
    env.close()
    step_ms, raw_ms = statistics.median(step_s) * 1e3, statistics.median(raw_s) * 1e3
    p90 = statistics.quantiles([s - r for s, r in zip(step_s, raw_s, strict=True)], n=10)[-1]
    print(f"query step ({sandbox.name}, {n} calls): env.step median {step_ms:.2f} ms, "
          f"sandbox.run median {raw_ms:.2f} ms, overhead median {step_ms - raw_ms:.2f} ms "
          f"(p90 of per-pair difference {p90 * 1e3:.2f} ms; target <= 10 ms)")


def soak(backend: str | None, episodes: int, num_envs: int, mode: str, strength: str) -> None:
    code = {f.target: f.code for f in builtin_suite("annotated")}
    procs_before, rss_before = descendants(), rss_mb()
    vector_kwargs: dict[str, Any] = {"shared_memory": False} if mode == "async" else {}
    envs = gymnasium.make_vec("CodeARC-Builtin-v0", num_envs=num_envs, vectorization_mode=mode,
                              vector_kwargs=vector_kwargs, backend=backend,
                              oracle_strength=strength)
    obs, _ = envs.reset(seed=0)
    finished = solved = 0
    just_ended = np.zeros(num_envs, dtype=bool)
    peak_procs = 0
    early: tuple[float, float] | None = None  # (own RSS, descendants' RSS) after 10%
    steps = 0
    t0 = time.perf_counter()
    while finished < episodes:
        kinds, texts = [], []
        for i in range(num_envs):
            name = obs["function_name"][i]
            if len(obs["calls"][i]) == 10:  # first move: query the first example again
                kinds.append(0)
                texts.append(obs["calls"][i][0])
            else:
                kinds.append(1)
                texts.append(code[name])
        obs, rewards, terms, truncs, _ = envs.step({"kind": np.array(kinds), "text": tuple(texts)})
        ended = (terms | truncs) & ~just_ended
        finished += int(ended.sum())
        solved += int((rewards[ended] > 0).sum())
        just_ended = terms | truncs
        steps += 1
        if steps % 20 == 0:
            kids = descendants() - procs_before
            peak_procs = max(peak_procs, len(kids))
            if early is None and finished >= episodes // 10:
                early = (rss_mb(), tree_rss_mb(kids))
    elapsed = time.perf_counter() - t0
    kids = descendants() - procs_before
    rss_open, procs_open, tree_open = rss_mb(), len(kids), tree_rss_mb(kids)
    envs.close()
    time.sleep(0.5)
    leaked = descendants() - procs_before
    print(f"soak ({mode}, {num_envs} envs, oracle {strength}): {finished} episodes, {solved} solved, "
          f"{elapsed:.1f} s ({finished / elapsed:.1f} episodes/s)")
    if early:
        print(f"  RSS of this process / of its descendants after {episodes // 10}+ episodes: "
              f"{early[0]:.0f} MB / {early[1]:.0f} MB")
    print(f"  RSS of this process / of its descendants after {finished} episodes: "
          f"{rss_open:.0f} MB / {tree_open:.0f} MB")
    print(f"  RSS of this process before {rss_before:.0f} MB, after close {rss_mb():.0f} MB")
    print(f"  descendant processes: before 0, while running {procs_open} (peak {peak_procs}), "
          f"after close {len(leaked)}")


def main() -> None:
    parser = argparse.ArgumentParser(description="codearc-env overhead and soak benchmark")
    parser.add_argument("--backend", default=None)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--episodes", type=int, default=1000)
    parser.add_argument("--num-envs", type=int, default=4)
    parser.add_argument("--mode", choices=["sync", "async"], default="async")
    parser.add_argument("--strength", default="fast", help="oracle strength for the soak")
    parser.add_argument("--skip-soak", action="store_true")
    args = parser.parse_args()
    bench_query(args.backend, args.calls)
    if not args.skip_soak:
        soak(args.backend, args.episodes, args.num_envs, args.mode, args.strength)


if __name__ == "__main__":
    main()
