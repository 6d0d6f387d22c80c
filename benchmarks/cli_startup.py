"""Start-up cost of ``codearc oracle check``: the command's wall time minus the check itself.

    python benchmarks/cli_startup.py [--python PY ...] [--problems 0,500,1113] [--repeat 5]
                                     [--backend bwrap] [--data-dir DIR] [--no-breakdown]

For each problem, both variants, and two candidates (the problem's own code, which passes,
and a function returning None, which fails), it runs the real CLI in a fresh process
(``PY -m codearc_env.cli oracle check ...``) and times its wall clock. The check itself is
timed in a long-lived worker process of the same interpreter, with every import done and the
problem already loaded, doing what the CLI's handler does after loading: two sandboxes, one
``Oracle``, ``check``. Start-up overhead = CLI wall - check.

Cache state: reference tables go to a fresh temporary cache directory, filled once before
timing; every timed check (CLI or worker) then reads its table from disk (each worker check
uses a new ``Oracle``, so its in-memory cache is empty). The script fails if any timed check
computed a table, or if the CLI did not exit 0 for the passing and 1 for the failing candidate.

Bytecode: the timed processes cache compiled modules as an installed package does, in a
private ``PYTHONPYCACHEPREFIX`` (``PYTHONDONTWRITEBYTECODE`` is dropped for them), filled by
one untimed pass over every case before timing.

Several ``--python`` interpreters (e.g. one with an older install of the package) are timed
in alternation, in one sitting. The breakdown part times, per interpreter, the interpreter
alone, the CLI's imports and loading the problem (each a fresh process), and lists the
largest imports of one CLI run (``-X importtime``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_common import cpu_model, default_data_dir

VARIANTS = ("annotated", "anonymized")


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# ------------------------------------------------------------------------------- worker side


def worker(data_dir: str, backend: str | None, cache_dir: str) -> int:
    """Answer one timed check per line of stdin: ``{"index", "variant", "candidate"}``."""
    from codearc_env.functions import load_dataset
    from codearc_env.oracle.oracle import Oracle
    from codearc_env.sandbox import make_sandbox

    dataset = load_dataset(data_dir)
    for line in sys.stdin:
        job = json.loads(line)
        fn = dataset.get(job["variant"], job["index"])
        candidate = Path(job["candidate"]).read_bytes()
        start = time.perf_counter()
        with make_sandbox(backend) as reference, make_sandbox(backend) as sandbox:
            oracle = Oracle(reference, sandbox, cache_dir=cache_dir)
            verdict = oracle.check(fn, candidate)
        seconds = time.perf_counter() - start
        reply = {
            "seconds": seconds,
            "passed": verdict.passed,
            "computed": oracle.reference_computations,
        }
        print(json.dumps(reply), flush=True)
    return 0


class Worker:
    def __init__(self, python: str, data_dir: Path, backend: str | None, cache_dir: Path):
        argv = [python, __file__, "--worker", "--data-dir", str(data_dir)]
        argv += ["--cache-dir", str(cache_dir)] + (["--backend", backend] if backend else [])
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def check(self, index: int, variant: str, candidate: Path) -> dict:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        job = {"index": index, "variant": variant, "candidate": str(candidate)}
        self.proc.stdin.write(json.dumps(job) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"the check worker of {self.proc.args[0]} died")
        return json.loads(line)

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(60)


# ------------------------------------------------------------------------------- driver side


def _cli_argv(python: str, index: int, variant: str, candidate: Path, opts) -> list[str]:  # noqa: ANN001
    argv = [python, "-m", "codearc_env.cli", "oracle", "check", "--problem", str(index)]
    argv += ["--variant", variant, "--data-dir", str(opts.data_dir)]
    argv += ["--cache-dir", str(opts.cache_dir)]
    argv += ["--backend", opts.backend] if opts.backend else []
    return [*argv, str(candidate)]


def _time_cli(argv: list[str], want_exit: int) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=tempfile.gettempdir())
    seconds = time.perf_counter() - start
    if proc.returncode != want_exit:
        raise SystemExit(
            f"{' '.join(argv)}: exit {proc.returncode}, not {want_exit}\n{proc.stderr}"
        )
    return seconds


def _wall(argv: list[str], repeat: int) -> float:
    """Median wall clock of a fresh process."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True, cwd=tempfile.gettempdir())
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _write_candidates(data_dir: Path, problems: list[int], folder: Path) -> dict:
    from codearc_env.functions import load_dataset

    dataset = load_dataset(data_dir)
    out = {}
    for index in problems:
        for variant in VARIANTS:
            fn = dataset.get(variant, index)
            right = folder / f"{variant}-{index}-right.py"
            right.write_text(fn.code, encoding="utf-8")
            wrong = folder / f"{variant}-{index}-wrong.py"
            wrong.write_text(f"def {fn.target}(*args, **kwargs):\n    return None\n")
            out[(index, variant)] = {"right": right, "wrong": wrong}
    return out


def breakdown(python: str, opts, index: int, candidate: Path, overhead: float) -> None:  # noqa: ANN001
    """Where start-up goes, each part as the median wall of fresh processes."""
    r = opts.repeat
    floor = _wall([python, "-c", "pass"], r)
    cli = _wall([python, "-c", "import codearc_env.cli"], r)
    handler = "import codearc_env.cli, codearc_env.oracle.oracle, codearc_env.sandbox"
    handler_wall = _wall([python, "-c", handler], r)
    load = (
        "import argparse, codearc_env.cli; from codearc_env.oracle import cli; "
        f"cli._problem(argparse.Namespace(problem='{index}', variant='annotated', "
        f"data_dir={str(opts.data_dir)!r}))"
    )
    load_wall = _wall([python, "-c", load], r)
    print(f"  breakdown (median of {r} fresh processes):")
    parts = [
        ("interpreter alone (python -c pass)", floor),
        ("+ import codearc_env.cli", cli - floor),
        ("+ import the handler's oracle and sandbox", handler_wall - cli),
        (f"+ load problem annotated/{index} (after the cli import)", load_wall - cli),
    ]
    rest = overhead - sum(seconds for _, seconds in parts)
    parts.append(("rest of the overhead (parser, sandbox probe, exit, ...)", rest))
    for label, seconds in parts:
        print(f"    {label:<56} {seconds:6.3f} s")
    argv = [python, "-X", "importtime", *_cli_argv(python, index, "annotated", candidate, opts)[1:]]
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=tempfile.gettempdir())
    rows = []
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            _, cumulative, name = line.split("|")
            if cumulative.strip().isdigit():
                rows.append((int(cumulative) / 1e6, name.rstrip()))
    # top-level imports over 20 ms (their names carry one leading space), and the watched ones
    heavy = [
        (s, n) for s, n in rows if n.strip() in opts.watch or (not n.startswith("  ") and s > 0.02)
    ]
    print("    imports in one CLI run (cumulative, -X importtime; top level over 20 ms):")
    for seconds, name in heavy:
        print(f"      {seconds:6.3f} s {name.strip()}")
    loaded = {n.strip() for _, n in rows}
    print("    imported at all: " + ", ".join(f"{m}: {m in loaded}" for m in opts.watch))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", action="append", help="interpreter(s) to time (repeatable)")
    parser.add_argument("--problems", default="0,500,1113")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--backend", default="bwrap")
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    parser.add_argument("--no-breakdown", action="store_true")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--cache-dir", type=Path, help=argparse.SUPPRESS)
    opts = parser.parse_args(argv)
    if opts.worker:
        return worker(str(opts.data_dir), opts.backend or None, str(opts.cache_dir))
    opts.watch = ("hypothesis", "litellm", "gymnasium", "numpy")
    pythons = opts.python or [sys.executable]
    problems = [int(x) for x in opts.problems.split(",")]
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    load_before = _load()
    with tempfile.TemporaryDirectory(prefix="cli-startup-") as tmp:
        opts.cache_dir = Path(tmp) / "oracle"
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # inherited by every timed process
        os.environ["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        candidates = _write_candidates(opts.data_dir, problems, Path(tmp))
        workers = {py: Worker(py, opts.data_dir, opts.backend, opts.cache_dir) for py in pythons}
        for (index, variant), cands in candidates.items():  # fill the cache once
            workers[pythons[0]].check(index, variant, cands["right"])
        n_tables = len(list(opts.cache_dir.iterdir()))
        cases = [(i, v, kind) for (i, v) in candidates for kind in ("right", "wrong")]
        for index, variant, kind in cases:  # untimed: compiles and caches the bytecode
            for py in pythons:
                cand = candidates[(index, variant)][kind]
                _time_cli(_cli_argv(py, index, variant, cand, opts), 0 if kind == "right" else 1)
        cli_s: dict = {}
        check_s: dict = {}
        for _ in range(opts.repeat):
            for case in cases:
                index, variant, kind = case
                cand = candidates[(index, variant)][kind]
                for py in pythons:  # alternate interpreters case by case
                    argv_ = _cli_argv(py, index, variant, cand, opts)
                    wall = _time_cli(argv_, 0 if kind == "right" else 1)
                    cli_s.setdefault((py, case), []).append(wall)
                    reply = workers[py].check(index, variant, cand)
                    if reply["computed"] or reply["passed"] != (kind == "right"):
                        raise SystemExit(f"unexpected worker check {case}: {reply}")
                    check_s.setdefault((py, case), []).append(reply["seconds"])
        if len(list(opts.cache_dir.iterdir())) != n_tables:
            raise SystemExit("a timed CLI run computed a reference table: cache states differ")
        for w in workers.values():
            w.close()
        print(f"{started}, {cpu_model()}, {os.cpu_count()} CPUs, python {sys.version.split()[0]}")
        print(f"load average before: {load_before}; backend {opts.backend}; data {opts.data_dir}")
        print(f"median of {opts.repeat} runs per case; cache filled once ({n_tables} tables)")
        for py in pythons:
            print(f"\n{py}")
            print(f"  {'case':<28} {'CLI wall':>9} {'check':>8} {'overhead':>9}")
            overheads = []
            for case in cases:
                wall = statistics.median(cli_s[(py, case)])
                check = statistics.median(check_s[(py, case)])
                overheads.append(wall - check)
                name = f"{case[1]}/{case[0]} {case[2]}"
                print(f"  {name:<28} {wall:8.3f}s {check:7.3f}s {wall - check:8.3f}s")
            overhead = statistics.median(overheads)
            print(f"  median overhead over cases: {overhead:.3f} s")
            if not opts.no_breakdown:
                first = candidates[(problems[0], "annotated")]["right"]
                breakdown(py, opts, problems[0], first, overhead)
    print(f"\nload average after: {_load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
