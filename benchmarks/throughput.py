"""Throughput per core, alone, through a shared pool and through Ray: one table.

    python benchmarks/throughput.py [--seconds 8] [--threads 4] [--problems 8]
        [--pool-size 8] [--calls-per-step 10] [--live 256] [--live-alone 16]
        [--eval-limit N] [--eval-reps 2] [--ray-reps 3] [--backend bwrap] [--no-ray]

Figures, each measured in three modes:

- alone: every environment owns its two sandboxes;
- pool: the environments share one ``SandboxPool`` of ``--pool-size`` sandboxes;
- ray: a Ray instance on this machine (one node, as ``codearc eval --ray`` without an
  address starts), the environments in this process on ``start_ray_pool``'s pool, so every
  sandbox call travels to the node's pool host actor and back.

1. Queries/s: ``--threads`` threads, each with its own environment, query for ``--seconds``:
   one call per step, then ``--calls-per-step`` calls per step (counted per call). Each
   environment is reset every 20 queries, as a real episode would be, and moves on to
   another of the ``--problems`` built-in problems.
2. Warm oracle checks/s: the threads submit, in turn, the ground-truth program and a wrong
   one (a constant function). Every problem's reference table was computed before the
   timing starts (one untimed check each, into a fresh cache directory), so this is the
   check alone: the candidate run on every input, and for the wrong one the shrinking of
   its counterexample. The median wall time of each kind is printed too.
3. Scripted episodes/s: the scripted policy of ``pool_bench.py`` (query an example, submit
   the reference or a constant) on the same problems, their tables cached.
4. Memory per live episode: ``--live`` environments (``--live-alone`` alone), each after a
   query and a submission that fails to load (so their sandboxes run, at little cost): the harness's RSS growth plus the
   RSS of every process the mode started (sandboxes; with Ray also Ray's own processes), over
   the environments.
5. With Ray: ``benchmarks/ray_bench.py``'s comparison, the ground-truth agent through
   ``codearc eval`` over the built-in problems (the first ``--eval-limit``), in this process and
   with ``--ray``, alternating ``--eval-reps`` times after an untimed run that fills the cache.
6. With Ray: scripted episodes in this process on a pool of its own and through the Ray pool,
   in turn (each way first every other time), ``--ray-reps`` times for half of ``--seconds``
   each way. The machine's speed can
   change within minutes, so the Ray ratio is taken from these interleaved runs; the ratio of
   the table's pool and ray columns, measured minutes apart, is printed beside it.

Rates per core are the rate over the cores this process may use (its CPU affinity). CPU time
per item is this process's (all threads) plus that of every process under it (sandboxes,
Ray's own processes, and the children they reaped), from /proc. Before each timed figure every
thread's environment has run a query and a submission, so both its sandboxes are up.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench_common import (
    builtin_problems,
    machine_lines,
    process_name,
    quantile,
    scripted_episode,
    uptime,
    usable_cores,
    wrong_program,
)
from pool_bench import rss_mb
from query_cost import cpu_seconds, descendants

from codearc_env.env import CodeARCEnv
from codearc_env.sandbox.pool import SandboxPool
from codearc_env.testing import live_descendants

RESET_EVERY = 20  # queries per episode before a reset: a real episode has at most 20
TARGETS = {"queries/s, one call per step": "1,000", "warm oracle checks/s": "50",
           "scripted episodes/s": "5"}


@dataclass
class Measured:
    count: int
    wall_s: float
    cpu_s: float
    workers: int = 1
    own_cpu_s: float = 0.0  # of cpu_s, this process's share

    def per_core(self, cores: int) -> float:
        return self.count / self.wall_s / cores

    def cpu_ms(self) -> float:
        return 1000 * self.cpu_s / self.count


def cpu_now() -> tuple[float, float]:
    """CPU seconds of (this process, the children it reaped and every live process under it)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (own.ru_utime + own.ru_stime,
            reaped.ru_utime + reaped.ru_stime + cpu_seconds(descendants(os.getpid())))


def cpu_since(before: tuple[float, float]) -> tuple[float, float]:
    """(all CPU seconds, this process's) since ``before``."""
    own, others = cpu_now()
    return own - before[0] + others - before[1], own - before[0]


def in_threads(envs: Sequence[CodeARCEnv], seconds: float,
               body: Callable[[int, CodeARCEnv, int], int]) -> Measured:
    """Run ``body(thread, env, k)`` in one thread per env until ``seconds`` pass; each call
    returns how many items it did."""
    counts = [0] * len(envs)
    errors: list[BaseException] = []
    start = threading.Barrier(len(envs) + 1)

    def loop(i: int) -> None:
        start.wait()
        k = 0
        try:
            while time.perf_counter() < deadline:
                counts[i] += body(i, envs[i], k)
                k += 1
        except BaseException as exc:  # reported below, never lost in a thread
            errors.append(exc)

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(len(envs))]
    for t in threads:
        t.start()
    cpu_before, began = cpu_now(), time.perf_counter()
    deadline = began + seconds
    start.wait()
    for t in threads:
        t.join()
    wall, (cpu, own) = time.perf_counter() - began, cpu_since(cpu_before)
    if errors:
        raise errors[0]
    return Measured(sum(counts), wall, cpu, len(envs), own)


class Workloads:
    """The timed figures of one mode; ``make_env`` gives a fresh environment of the mode."""

    def __init__(self, args: argparse.Namespace, make_env: Callable[..., CodeARCEnv]) -> None:
        self.args = args
        self.make_env = make_env
        self.problems = builtin_problems(args.problems)
        self.ids = [fn.problem_id for fn in self.problems]

    def problem_for(self, thread: int, episode: int) -> str:
        return self.ids[(thread + self.args.threads * episode) % len(self.ids)]

    @contextmanager
    def envs(self, **budgets: int) -> Iterator[list[CodeARCEnv]]:
        envs = [self.make_env(**budgets) for _ in range(self.args.threads)]
        try:
            for i, env in enumerate(envs):  # both sandboxes started, then a fresh episode
                obs, _ = env.reset(options={"problem": self.problem_for(i, 0)})
                fn = env.problem
                assert fn is not None
                env.step({"kind": 0, "text": obs["calls"][0]})
                env.step({"kind": 1, "text": unloadable_program(fn.target)})
                env.reset(options={"problem": self.problem_for(i, 0)})
            yield envs
        finally:
            for env in envs:
                env.close()

    def queries(self, per_step: int) -> Measured:
        steps_per_episode = max(1, RESET_EVERY // per_step)

        def step(i: int, env: CodeARCEnv, k: int) -> int:
            if k % steps_per_episode == 0:
                env.reset(options={"problem": self.problem_for(i, k // steps_per_episode)})
            fn = env.problem
            assert fn is not None
            n = len(fn.examples)
            text = "\n".join(str(fn.examples[(k + j) % n].expression) for j in range(per_step))
            obs, *_ = env.step({"kind": 0, "text": text})
            if obs["feedback"].startswith("Invalid"):
                raise RuntimeError(f"a query was refused: {obs['feedback']}")
            return per_step

        with self.envs(b_io=10**6, max_turns=10**6) as envs:
            return in_threads(envs, self.args.seconds, step)

    def warm_tables(self) -> None:
        """One check of each problem's reference: its table computed or read, untimed."""
        env = self.make_env()
        try:
            for fn in self.problems:
                env.reset(options={"problem": fn.problem_id})
                _, _, _, _, info = env.step({"kind": 1, "text": fn.code})
                if info["outcome"] != "solved":
                    raise RuntimeError(f"{fn.problem_id}: its own reference is {info['outcome']}")
        finally:
            env.close()

    def checks(self) -> Measured:
        self.warm_tables()
        walls_ms: dict[str, list[float]] = {"reference": [], "wrong": []}
        inputs: dict[str, list[float]] = {"reference": [], "wrong": []}

        def body(i: int, env: CodeARCEnv, k: int) -> int:
            fn = env.problem
            assert fn is not None and env.state is not None
            good = k % 2 == 0
            code = fn.code if good else wrong_program(fn.target)
            began = time.perf_counter()
            _, _, _, _, info = env.step({"kind": 1, "text": code})
            kind = "reference" if good else "wrong"
            walls_ms[kind].append(1000 * (time.perf_counter() - began))
            inputs[kind].append(info["oracle_inputs"])
            if info["verdict"] != ("pass" if good else "fail"):
                raise RuntimeError(f"{fn.problem_id}: {info['verdict']} for the "
                                   f"{'reference' if good else 'wrong program'}")
            if env.state.done:
                env.reset(options={"problem": self.problem_for(i, k + 1)})
            return 1

        with self.envs(b_oracle=10**6, max_turns=10**6) as envs:
            measured = in_threads(envs, self.args.seconds, body)
        print("  one check, median wall (inputs run): " + ", ".join(
            f"{kind} {quantile(walls_ms[kind], 0.5):.1f} ms ({quantile(inputs[kind], 0.5):.0f})"
            for kind in walls_ms))
        return measured

    def episodes(self) -> Measured:
        self.warm_tables()
        unexpected: list[str] = []

        def body(i: int, env: CodeARCEnv, k: int) -> int:
            n = i + self.args.threads * k
            _, note = scripted_episode(env, self.ids[n % len(self.ids)], n)
            if note is not None:
                unexpected.append(f"episode {n} {note}")
            return 1

        with self.envs() as envs:
            measured = in_threads(envs, self.args.seconds, body)
        if unexpected:
            raise RuntimeError(f"{len(unexpected)} episodes misjudged: {unexpected[:3]}")
        return measured

    def memory(self, count: int, baseline: set[int], start: Callable[[], None]) -> float:
        """MB per live episode: harness growth plus the mode's processes, over ``count``;
        ``start`` starts whatever the mode keeps running besides the environments."""
        before = rss_mb(os.getpid())
        envs = [self.make_env() for _ in range(count)]
        start()
        try:
            for i, env in enumerate(envs):
                obs, _ = env.reset(options={"problem": self.ids[i % len(self.ids)]})
                fn = env.problem
                assert fn is not None
                env.step({"kind": 0, "text": obs["calls"][0]})
                env.step({"kind": 1, "text": unloadable_program(fn.target)})
            started = live_descendants() - baseline
            harness = rss_mb(os.getpid()) - before
            by_name: dict[str, float] = {}
            for pid in started:
                by_name[process_name(pid)] = by_name.get(process_name(pid), 0.0) + rss_mb(pid)
            total = harness + sum(by_name.values())
            parts = ", ".join(f"{name} {mb:.0f}" for name, mb in
                              sorted(by_name.items(), key=lambda kv: -kv[1]))
            print(f"  memory: {count} live episodes, {len(started)} processes of the mode, "
                  f"{total:.0f} MB in all (MB: harness growth {harness:.0f}, {parts})")
            return total / count
        finally:
            for env in envs:
                env.close()


def unloadable_program(target: str) -> str:
    """A submission that starts the candidate sandbox and fails at once: its import raises."""
    return f"def {target}(*args, **kwargs):\n    return 0\nraise ImportError('not loaded')\n"


FIGURES = ("queries/s, one call per step", "queries/s, {k} calls per step (per call)",
           "warm oracle checks/s", "scripted episodes/s")


def measure_mode(name: str, args: argparse.Namespace, make_env: Callable[..., CodeARCEnv],
                 baseline: set[int], live: int,
                 start: Callable[[], None] = lambda: None) -> dict[str, Any]:
    print(f"\n[{name}] uptime: {uptime()}")
    work = Workloads(args, make_env)
    print(f"  problems: {len(work.ids)} built-in ({', '.join(work.ids)})")
    row: dict[str, Any] = {}
    for figure, run in zip(FIGURES, (lambda: work.queries(1),
                                     lambda: work.queries(args.calls_per_step),
                                     work.checks, work.episodes), strict=True):
        measured = run()
        row[figure] = measured
        print(f"  {figure.format(k=args.calls_per_step)}: {measured.count} on "
              f"{measured.workers} threads in "
              f"{measured.wall_s:.2f} s = {measured.count / measured.wall_s:.1f}/s, "
              f"{measured.per_core(args.cores):.1f}/s per core, CPU {measured.cpu_ms():.2f} ms each "
              f"({1000 * measured.own_cpu_s / measured.count:.2f} in this process)")
    row["memory"] = work.memory(live, baseline, start)
    return row


def eval_comparison(args: argparse.Namespace) -> dict[str, Measured]:
    """``ray_bench``'s runs on the connected Ray instance: the median of each way."""
    from ray_bench import run_eval

    from codearc_env.agents.ray_eval import LOCAL_CLUSTER

    settings = argparse.Namespace(variant="annotated", limit=args.eval_limit,
                                  concurrency=args.threads, backend=args.backend)
    work = Path(tempfile.mkdtemp(prefix="codearc-throughput-eval-"))
    wall, solved = run_eval(work / "warm-up", settings, None)
    print(f"\n[eval] untimed warm-up in this process: {solved} solved in {wall:.1f} s")
    runs: dict[str, list[Measured]] = {"pool": [], "ray": []}
    for rep in range(args.eval_reps):
        for name, address in (("pool", None), ("ray", LOCAL_CLUSTER)):
            # Wall time only: processes of the previous run (its pool, Ray's episode host)
            # end during this one, and the CPU they used goes with them.
            wall, solved = run_eval(work / f"{name}-{rep}", settings, address)
            runs[name].append(Measured(solved, wall, 0.0))
            print(f"  {'in-process' if name == 'pool' else '--ray':>10} run {rep}: {solved} "
                  f"solved in {wall:.2f} s")
    return {name: sorted(ms, key=lambda m: m.wall_s)[(len(ms) - 1) // 2]
            for name, ms in runs.items()}


def alternating_episodes(args: argparse.Namespace, ray_pool: Any) -> list[tuple[Measured, Measured]]:
    """Scripted episodes on a local pool and on the Ray pool in turn: (local, ray) per rep."""
    short = argparse.Namespace(**{**vars(args), "seconds": args.seconds / 2})
    pairs = []
    print(f"\n[ray vs in-process] scripted episodes, {args.ray_reps} x {short.seconds:g} s each "
          f"way, in turn")
    with SandboxPool(args.pool_size, args.backend) as local:
        ways = [lambda **b: CodeARCEnv(split="builtin", pool=local, **b),
                lambda **b: CodeARCEnv(split="builtin", pool=ray_pool, **b)]
        for rep in range(args.ray_reps):
            order = (0, 1) if rep % 2 == 0 else (1, 0)  # neither way always goes first
            got = {k: Workloads(short, ways[k]).episodes() for k in order}
            mine, ray = got[0], got[1]
            print(f"  rep {rep}: in-process {mine.count} in {mine.wall_s:.2f} s, "
                  f"ray {ray.count} in {ray.wall_s:.2f} s")
            pairs.append((mine, ray))
    return pairs


def ray_mode(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Measured]]:
    import logging

    import ray

    from codearc_env.sandbox.ray_pool import start_ray_pool

    baseline = live_descendants()
    began = time.perf_counter()
    ray.init(address="local", num_cpus=args.cores, include_dashboard=False,
             logging_level=logging.WARNING, _node_ip_address="127.0.0.1")  # loopback only
    try:
        pool = start_ray_pool(args.pool_size, args.backend)
        print(f"\nRay on this machine (one node, {args.cores} CPUs) and its pool host started "
              f"in {time.perf_counter() - began:.1f} s; pool: {pool.size} sandboxes per host, "
              f"backend {pool.backend_info().name}")
        try:
            row = measure_mode("ray", args, lambda **b: CodeARCEnv(split="builtin", pool=pool, **b),
                               baseline, args.live)
            row["alternating"] = alternating_episodes(args, pool)
        finally:
            pool.shutdown()
        return row, eval_comparison(args)
    finally:
        ray.shutdown()


def print_table(args: argparse.Namespace, rows: dict[str, dict[str, Any]],
                evals: dict[str, Measured] | None) -> None:
    modes = list(rows)
    width = 46
    print(f"\nRates per core ({args.cores} usable cores) | CPU ms per item (this process and "
          f"every process under it)")
    print(f"{'figure':<{width}} {'target':>7} " + " ".join(f"{m:>16}" for m in modes))
    for figure in FIGURES:
        label = figure.format(k=args.calls_per_step)
        cells = [f"{rows[m][figure].per_core(args.cores):8.1f} |{rows[m][figure].cpu_ms():6.2f}"
                 for m in modes]
        print(f"{label:<{width}} {TARGETS.get(figure, '-'):>7} " + " ".join(f"{c:>16}" for c in cells))
    live = {"alone": args.live_alone, "pool": args.live, "ray": args.live}
    cells = [f"{rows[m]['memory']:6.2f} ({live[m]})" for m in modes]
    print(f"{'memory per live episode, MB (episodes)':<{width}} {'-':>7} "
          + " ".join(f"{c:>16}" for c in cells))
    if evals is not None:
        cells = ["-"] + [f"{evals[m].per_core(args.cores):8.1f} |     -"
                         for m in ("pool", "ray")]
        print(f"{'ground-truth eval episodes/s (in-process, --ray)':<{width}} {'-':>7} "
              + " ".join(f"{c:>16}" for c in cells))
    if "ray" in rows:
        figure = "scripted episodes/s"
        ratio = rows["pool"][figure].per_core(1) / rows["ray"][figure].per_core(1)
        pairs = rows["ray"]["alternating"]
        per_episode = [sum(p[k].wall_s for p in pairs) / sum(p[k].count for p in pairs)
                       for k in (0, 1)]
        print(f"ray / in-process, wall time per scripted episode, runs in turn: "
              f"{per_episode[1] / per_episode[0]:.2f}x (target <= 1.5x); the table's columns, "
              f"measured minutes apart: {ratio:.2f}x")
    if evals is not None:
        ratio = (evals["ray"].wall_s / evals["ray"].count) / (evals["pool"].wall_s / evals["pool"].count)
        print(f"--ray / in-process, wall time per ground-truth eval episode: {ratio:.2f}x")


def _at_least_one(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=8.0, help="per timed figure and mode")
    ap.add_argument("--threads", type=int, default=4, help="environments working at once")
    ap.add_argument("--problems", type=int, default=8, help="built-in problems played")
    ap.add_argument("--pool-size", type=int, default=8)
    ap.add_argument("--calls-per-step", type=int, default=10)
    ap.add_argument("--live", type=int, default=256, help="live episodes, pool and ray")
    ap.add_argument("--live-alone", type=int, default=16, help="live episodes alone")
    ap.add_argument("--eval-limit", type=int, default=None,
                    help="problems of the eval runs (default: all 47 built-in, annotated)")
    ap.add_argument("--eval-reps", type=int, default=2)
    ap.add_argument("--ray-reps", type=_at_least_one, default=3,
                    help="scripted runs each way, in turn, for the Ray ratio")
    ap.add_argument("--backend", default="bwrap")
    ap.add_argument("--no-ray", action="store_true", help="skip the Ray mode")
    return ap.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    args.cores = usable_cores()
    warnings.simplefilter("ignore")  # the process backend's warning, when named
    # A fresh cache: the warm-up computes every table the timed figures then find there.
    os.environ["CODEARC_CACHE_DIR"] = tempfile.mkdtemp(prefix="codearc-throughput-cache-")
    for line in machine_lines():
        print(line)
    print(f"settings: backend {args.backend}, {args.threads} threads, {args.problems} problems, "
          f"{args.seconds:g} s per figure, pool of {args.pool_size}, "
          f"{args.calls_per_step} calls per multi-call step")
    rows: dict[str, dict[str, Any]] = {}
    rows["alone"] = measure_mode(
        "alone", args, lambda **b: CodeARCEnv(split="builtin", backend=args.backend, **b),
        live_descendants(), args.live_alone)
    baseline = live_descendants()
    with SandboxPool(args.pool_size, args.backend) as pool:
        print(f"\npool: {len(pool.members)} sandboxes, backend {pool.backend_info().name}")
        rows["pool"] = measure_mode(
            "pool", args, lambda **b: CodeARCEnv(split="builtin", pool=pool, **b),
            baseline, args.live, pool.start)
    evals = None
    if not args.no_ray:
        rows["ray"], evals = ray_mode(args)
    print_table(args, rows, evals)
    print(f"\nend uptime: {uptime()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
