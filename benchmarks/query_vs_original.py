"""One query, the original harness's way against ours, side by side in one run.

    python benchmarks/query_vs_original.py [--rounds 30] [--builtin 6] [--real 6]
        [--data-dir DIR] [--backend bwrap] [--calls-per-step 10] [--python python3]

Every round measures each problem three ways, in alternating order (odd rounds ours first):

(a) original: the problem's module followed by the stored print statement of one of its
    examples (``print('Result 1: ' + str(f(3)))``) is written to a new temporary file and a
    fresh host ``python3`` process runs it (output captured, 10 s timeout): the way the
    original harness runs each query. The wall time of writing the file and running the
    process is the query's cost; the process's CPU time is printed too.
(a') the same with ``python3 -S``: no site-packages, so none of their start-up hooks (an
    editable install's import finder, for one) is counted: the floor of any fresh process.
(b) ours: ``env.step({"kind": 0, "text": call})`` with one call, on a ``CodeARCEnv`` of that
    problem whose reference sandbox is warm (``--backend``, bwrap by default).
(c) ours, ``--calls-per-step`` calls in one step: the step's wall time over its calls.

Printed per group (built-in, real) and over all: median and p90 per query of each way, and
the ratio original/ours of the medians. Every answer is compared with the stored output of
its example; disagreements are counted. Each environment is reset (untimed) at the start of
a round, so its transcript stays as short as in a real episode.

Problems: the first ``--builtin`` problems of the built-in suite (annotated) without quirks;
with the real data (``--data-dir``, else ``$CODEARC_DATA_DIR``, else the data folder beside
the repository) also ``--real`` problems spread evenly over its ``clean`` split (annotated).

What runs unsandboxed: (a) runs each hidden function as a plain host process, as the
original harness did. The built-in problems are this package's own code. For real problems
that means running a benchmark's hidden function on this machine outside any sandbox, on
the example calls the dataset itself stores and nothing else; that is acceptable for a
measurement, not for an agent's queries, which (b) and (c) run in the sandbox.

``--python``: the interpreter for (a), resolved once to the executable it starts, so that a
version manager's shim in front of ``python3`` is not part of the figure.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench_common import (
    builtin_problems,
    machine_lines,
    median_p90,
    process_name,
    quantile,
    uptime,
    usable_examples,
)
from eval_bench import SHARED_DATA

from codearc_env.env import CodeARCEnv
from codearc_env.functions.spec import Example, HiddenFunction
from codearc_env.problems import load_problems
from codearc_env.testing import live_descendants

ORIGINAL_TIMEOUT_S = 10


@dataclass
class Case:
    group: str
    fn: HiddenFunction
    env: CodeARCEnv
    examples: list[Example]
    original_ms: list[float] = field(default_factory=list)
    original_cpu_ms: list[float] = field(default_factory=list)
    bare_ms: list[float] = field(default_factory=list)  # python3 -S
    single_ms: list[float] = field(default_factory=list)
    multi_ms: list[float] = field(default_factory=list)  # per call
    disagreements: list[str] = field(default_factory=list)


def find_data(given: str | None) -> Path | None:
    """The data folder: ``given`` (which must hold the data), else the usual places."""
    if given is not None:
        if not (Path(given) / "problems.jsonl").is_file():
            sys.exit(f"--data-dir {given}: no problems.jsonl there")
        return Path(given)
    for folder in (os.environ.get("CODEARC_DATA_DIR"), str(SHARED_DATA)):
        if folder and (Path(folder) / "problems.jsonl").is_file():
            return Path(folder)
    return None


def real_problems(count: int, data_dir: Path) -> list[HiddenFunction]:
    """``count`` problems spread evenly over the clean split, each with clean examples."""
    problems = load_problems("annotated", "clean", data_dir)
    ids = problems.ids
    chosen: list[HiddenFunction] = []
    for k in range(count):
        for candidate in ids[k * len(ids) // count:]:  # the first usable one from here on
            fn = problems.get(candidate)
            if len(usable_examples(fn)) == len(fn.examples) and fn not in chosen:
                chosen.append(fn)
                break
    return chosen


def resolve_python(name: str) -> str:
    done = subprocess.run([name, "-c", "import sys; print(sys.executable)"],
                          capture_output=True, text=True, check=True)
    return done.stdout.strip()


def original_query(python: Sequence[str], fn: HiddenFunction, example: Example, folder: str,
                   ) -> tuple[float, float, str]:
    """(wall s, CPU s of the process, its stdout) of one query run the original's way."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    with tempfile.NamedTemporaryFile("w", suffix=".py", dir=folder, delete=False) as fh:
        fh.write(f"{fn.code}\n{example.call_text}\n")
    done = subprocess.run([*python, fh.name], capture_output=True, text=True,
                          timeout=ORIGINAL_TIMEOUT_S)
    wall = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    os.unlink(fh.name)
    cpu = (after.ru_utime - children.ru_utime) + (after.ru_stime - children.ru_stime)
    return wall, cpu, done.stdout


def our_step(env: CodeARCEnv, examples: Sequence[Example]) -> tuple[float, tuple[str, ...]]:
    """(wall s, outputs) of one query step holding the calls of ``examples``."""
    text = "\n".join(str(ex.expression) for ex in examples)
    began = time.perf_counter()
    obs, *_ = env.step({"kind": 0, "text": text})
    wall = time.perf_counter() - began
    return wall, tuple(obs["outputs"][-len(examples):])


def one_round(case: Case, round_: int, python: str, folder: str, per_step: int) -> None:
    """One measurement of each way; odd rounds run ours first."""
    examples = case.examples
    single = examples[round_ % len(examples)]
    several = [examples[(round_ + i) % len(examples)] for i in range(per_step)]
    case.env.reset(options={"problem": case.fn.problem_id})

    def original() -> None:
        wall, cpu, out = original_query([python], case.fn, single, folder)
        case.original_ms.append(wall * 1000)
        case.original_cpu_ms.append(cpu * 1000)
        if not out.rstrip("\n").endswith(single.output):
            case.disagreements.append(f"original {single.expression}: {out[-80:]!r}")
        wall, _, out = original_query([python, "-S"], case.fn, single, folder)
        case.bare_ms.append(wall * 1000)
        if not out.rstrip("\n").endswith(single.output):
            case.disagreements.append(f"original -S {single.expression}: {out[-80:]!r}")

    def ours() -> None:
        wall, outs = our_step(case.env, [single])
        case.single_ms.append(wall * 1000)
        wall, many = our_step(case.env, several)
        case.multi_ms.append(wall * 1000 / len(several))
        for ex, got in zip([single, *several], outs + many, strict=True):
            if got != ex.output:
                case.disagreements.append(f"ours {ex.expression}: {got[:80]!r}")

    for way in ((ours, original) if round_ % 2 else (original, ours)):
        way()


def report(label: str, cases: Sequence[Case], per_step: int) -> None:
    if not cases:
        return
    original = [x for c in cases for x in c.original_ms]
    single = [x for c in cases for x in c.single_ms]
    multi = [x for c in cases for x in c.multi_ms]
    cpu = [x for c in cases for x in c.original_cpu_ms]
    bare = [x for c in cases for x in c.bare_ms]
    wrong = sum(len(c.disagreements) for c in cases)
    print(f"\n[{label}] {len(cases)} problems, {len(original)} queries each way")
    print(f"  (a) original, fresh python3 process:   {median_p90(original)}"
          f"  (its CPU: median {quantile(cpu, 0.5):.2f} ms)")
    print(f"  (a') the same with python3 -S:          {median_p90(bare)}  (no site-packages)")
    print(f"  (b) ours, one call per step:           {median_p90(single)}")
    print(f"  (c) ours, {per_step} calls per step, per call: {median_p90(multi)}")
    med = quantile(original, 0.5)
    print(f"  ratio original/ours (medians): one call {med / quantile(single, 0.5):.1f}x, "
          f"per call of a {per_step}-call step {med / quantile(multi, 0.5):.1f}x")
    floor = quantile(bare, 0.5)
    print(f"  ratio with python3 -S (a')/ours: one call {floor / quantile(single, 0.5):.1f}x, "
          f"per call of a {per_step}-call step {floor / quantile(multi, 0.5):.1f}x; "
          f"disagreements with the stored outputs: {wrong}")
    for case in cases:
        for line in case.disagreements[:3]:
            print(f"    {case.fn.problem_id}: {line}")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--builtin", type=int, default=6, help="built-in problems")
    ap.add_argument("--real", type=int, default=6, help="real problems, when the data is found")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--backend", default="bwrap")
    ap.add_argument("--calls-per-step", type=int, default=10)
    ap.add_argument("--python", default="python3", help="the original's interpreter")
    return ap.parse_args(argv)


def make_cases(args: argparse.Namespace) -> list[Case]:
    picked = [("builtin", fn) for fn in builtin_problems(args.builtin)]
    data = find_data(args.data_dir) if args.real else None
    if data is not None:
        picked += [("real", fn) for fn in real_problems(args.real, data)]
    b_io = 10 + 1 + args.calls_per_step  # the examples, then one round's queries
    cases = []
    for group, fn in picked:
        env = CodeARCEnv(problems=[fn], backend=args.backend, b_io=max(30, b_io),
                         max_turns=10**6)
        env.reset()
        cases.append(Case(group, fn, env, usable_examples(fn)))
    print(f"problems: {len(cases)} ({sum(c.group == 'real' for c in cases)} real"
          f"{f', from {data}' if data else ', none asked for' if not args.real else ', no real data found'})")
    return cases


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    warnings.simplefilter("ignore")  # the process backend's warning, when named
    python = resolve_python(args.python)
    for line in machine_lines():
        print(line)
    print(f"original's interpreter: {python}; ours: backend {args.backend}; "
          f"{args.rounds} rounds, {args.calls_per_step} calls per multi-call step")
    cases = make_cases(args)
    try:
        with tempfile.TemporaryDirectory(prefix="codearc-original-") as folder:
            for case in cases:  # warm: the sandbox started, the module seen once
                one_round(case, 0, python, folder, args.calls_per_step)
                for warm_up in (case.original_ms, case.original_cpu_ms, case.bare_ms,
                                case.single_ms, case.multi_ms):
                    warm_up.clear()
            names = Counter(process_name(pid) for pid in live_descendants())
            print("processes of our sandboxes: "
                  + ", ".join(f"{name} {n}" for name, n in sorted(names.items())))
            for round_ in range(args.rounds):
                for case in cases:
                    one_round(case, round_, python, folder, args.calls_per_step)
    finally:
        for case in cases:
            case.env.close()
    report("built-in", [c for c in cases if c.group == "builtin"], args.calls_per_step)
    report("real", [c for c in cases if c.group == "real"], args.calls_per_step)
    report("all", cases, args.calls_per_step)
    print(f"\nend uptime: {uptime()}")
    return 1 if any(c.disagreements for c in cases) else 0


if __name__ == "__main__":
    raise SystemExit(main())
