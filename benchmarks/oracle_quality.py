"""Measure the oracle: false failures, strength on mutants, speed and determinism.

    python benchmarks/oracle_quality.py --data-dir ../shared/codearc-data --problems 60

Sections (all on the same deterministic sample of problems, evenly spaced over 0..1113):

- false failures: each problem's other-variant implementation, with the target name bound to
  it, must pass; every failure is printed with its reason and the problem's quirk flags.
- strength: single-point ast mutants of the reference targets (operator, comparison,
  constant and boundary mutations; mutants whose source equals the original are dropped);
  kill rate of the oracle against a baseline that checks only the initial examples.
- speed: check time of a correct candidate (the reference itself) with a warm sandbox and a
  warm reference cache, median and p90.
- determinism: the killed mutants of a few problems re-checked by two fresh oracles with
  fresh caches and the same seed; verdicts and counterexamples must be identical.

Prints a Markdown summary (pasted into docs/oracle.md) and writes details as JSON; each
surviving mutant's row carries its source and the lines it changes, for
``benchmarks/mutant_triage.py``.
"""

from __future__ import annotations

import argparse
import ast
import copy
import difflib
import json
import math
import random
import statistics
import sys
import tempfile
import time
import warnings
from collections import Counter
from dataclasses import asdict
from pathlib import Path

from variant_diff import explain

from codearc_env.errors import CodeARCError
from codearc_env.functions import load_dataset
from codearc_env.functions.spec import HiddenFunction
from codearc_env.oracle import Oracle
from codearc_env.oracle.oracle import agrees
from codearc_env.sandbox import available_backends, make_sandbox

N_PROBLEMS = 1114
OTHER = {"annotated": "anonymized", "anonymized": "annotated"}

# ------------------------------------------------------------------------------ mutants

_BINOPS = {
    ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Add, ast.FloorDiv: ast.Mult,
    ast.Div: ast.Mult, ast.Mod: ast.FloorDiv, ast.Pow: ast.Mult, ast.BitAnd: ast.BitOr,
    ast.BitOr: ast.BitAnd, ast.BitXor: ast.BitOr, ast.LShift: ast.RShift, ast.RShift: ast.LShift,
}  # fmt: skip
_CMPOPS = {
    ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq, ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is,
}  # fmt: skip


def _plus_one(node: ast.expr) -> ast.expr:
    return ast.BinOp(left=node, op=ast.Add(), right=ast.Constant(1))


def mutation_points(func: ast.FunctionDef) -> list[tuple[str, int, str]]:
    """(kind, index of the node in ast.walk order, variant) for every mutable node."""
    points = []
    body_nodes = list(ast.walk(func))
    doc = ast.get_docstring(func, clean=False)
    for i, node in enumerate(body_nodes):
        binop = isinstance(node, ast.BinOp | ast.AugAssign) and type(node.op) in _BINOPS
        if binop or isinstance(node, ast.BoolOp):
            points.append(("operator", i, ""))
        elif isinstance(node, ast.Compare):
            for k, op in enumerate(node.ops):
                if type(op) in _CMPOPS:
                    points.append(("comparison", i, str(k)))
        elif isinstance(node, ast.Constant) and node.value is not doc:
            if type(node.value) is bool:
                points.append(("constant", i, "not"))
            elif type(node.value) is int:
                points.append(("constant", i, "+1"))
                points.append(("constant", i, "-1"))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id == "range" and node.args:
                points.append(("boundary", i, ""))
        elif isinstance(node, ast.Slice) and node.upper is not None:
            points.append(("boundary", i, ""))
    return points


def apply_mutation(tree: ast.Module, func_index: int, point: tuple[str, int, str]) -> str:
    tree = copy.deepcopy(tree)
    func = tree.body[func_index]
    kind, i, how = point
    node = list(ast.walk(func))[i]
    if isinstance(node, ast.BinOp | ast.AugAssign):
        node.op = _BINOPS[type(node.op)]()
    elif isinstance(node, ast.BoolOp):
        node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
    elif isinstance(node, ast.Compare):
        k = int(how)
        node.ops[k] = _CMPOPS[type(node.ops[k])]()
    elif isinstance(node, ast.Constant):
        node.value = (not node.value) if how == "not" else node.value + (1 if how == "+1" else -1)
    elif isinstance(node, ast.Call):
        node.args[-1 if len(node.args) < 3 else 1] = _plus_one(
            node.args[-1 if len(node.args) < 3 else 1]
        )
    elif isinstance(node, ast.Slice):
        node.upper = _plus_one(node.upper)  # type: ignore[arg-type]
    return ast.unparse(ast.fix_missing_locations(tree))


def mutants(fn: HiddenFunction, k: int) -> list[tuple[str, str]]:
    """Up to k (kind, source) mutants of the target, chosen by a per-problem seeded Random."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tree = ast.parse(fn.code)
    idx = [
        i for i, n in enumerate(tree.body)
        if isinstance(n, ast.FunctionDef) and n.name == fn.target
    ]  # fmt: skip
    if not idx:
        return []
    original = ast.unparse(tree)
    points = mutation_points(tree.body[idx[-1]])  # type: ignore[arg-type]
    rng = random.Random(f"mutants:{fn.problem_id}")
    rng.shuffle(points)
    out, seen = [], {original}
    for p in points:
        if len(out) >= k:
            break
        src = apply_mutation(tree, idx[-1], p)
        if src in seen:  # equivalent by construction (identical source)
            continue
        seen.add(src)
        out.append((p[0], src))
    return out


def mutant_diff(fn: HiddenFunction, source: str) -> list[str]:
    """The lines a mutant changes, as ``-old`` / ``+new`` (the reference normalised by ast)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        original = ast.unparse(ast.parse(fn.code)).splitlines()
    lines = difflib.unified_diff(original, source.splitlines(), lineterm="", n=0)
    return [x for x in lines if x[:1] in "-+" and not x.startswith(("---", "+++"))]


def change_text(diff: list[str], context: int = 30) -> str:
    """A one-line view of a one-line change: the differing span with some context,
    ``...old[a -> b]rest...``; several changed lines are joined with `` / ``."""
    old = [x[1:].strip() for x in diff if x.startswith("-")]
    new = [x[1:].strip() for x in diff if x.startswith("+")]
    if len(old) != 1 or len(new) != 1:
        return " / ".join(x.strip()[:100] for x in diff)
    a, b = old[0], new[0]
    start = 0
    while start < min(len(a), len(b)) and a[start] == b[start]:
        start += 1
    end = 0
    while end < min(len(a), len(b)) - start and a[len(a) - 1 - end] == b[len(b) - 1 - end]:
        end += 1
    before = a[max(0, start - context) : start]
    after = a[len(a) - end : len(a) - end + context]
    return f"...{before}[{a[start : len(a) - end]} -> {b[start : len(b) - end]}]{after}..."


# ----------------------------------------------------------------------------- sections


def sample_indices(n: int, offset: float = 0.5) -> list[int]:
    """n indices evenly spaced over 0..1113, each ``offset`` of a step into its stratum."""
    step = N_PROBLEMS / n
    return sorted({int(i * step + offset * step) for i in range(n)})


def renamed(fn: HiddenFunction, other: HiddenFunction) -> str:
    """``other``'s module with its target renamed to ``fn``'s (defs and uses, through ast), so
    that names the code shows at run time (a generator's repr) are those of ``fn``. When the
    new name is already taken in ``other``'s module, an alias is appended instead."""
    tree = ast.parse(other.code)
    names = {getattr(n, "name", None) for n in ast.walk(tree)} | {
        n.id for n in ast.walk(tree) if isinstance(n, ast.Name)
    }
    if fn.target in names:
        return f"{other.code}\n\n{fn.target} = {other.target}\n"
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            if node.name == other.target:
                node.name = fn.target
        elif isinstance(node, ast.Name) and node.id == other.target:
            node.id = fn.target
    return ast.unparse(tree)


def false_failures(  # type: ignore[no-untyped-def]
    dataset, oracle: Oracle, indices: list[int], itself: bool = False, progress: Path | None = None
) -> dict:
    """Each variant against the other's module renamed; with ``itself``, against its own
    source too (the ground-truth property: every reference passes its own oracle). Rows are
    also appended to ``progress`` (JSON lines) as they come, so a long sweep stopped early
    still reports what it checked (``--summarize`` reads such a file too)."""
    rows = []
    for i in indices:
        for variant, candidate in (("annotated", "other"), ("anonymized", "other")) + (
            (("annotated", "self"), ("anonymized", "self")) if itself else ()
        ):
            fn = dataset.get(variant, i)
            other = dataset.get(OTHER[variant], i)
            start = time.perf_counter()
            try:
                v = oracle.check(fn, fn.code if candidate == "self" else renamed(fn, other))
                row = {"passed": v.passed, "reason": v.reason, "n_inputs": v.n_inputs}
                if v.counterexample is not None:
                    row["counterexample"] = v.counterexample.feedback()
            except CodeARCError as exc:
                row = {"passed": None, "reason": f"harness error: {exc}"}
            row.update(problem=fn.problem_id, quirks=list(fn.quirks.flags()), candidate=candidate)
            row["seconds"] = round(time.perf_counter() - start, 2)
            rows.append(row)
            if progress is not None:
                with progress.open("a", encoding="utf-8") as f:
                    f.write(json.dumps(row) + "\n")
            if not row["passed"]:
                if candidate == "other":
                    row["explanation"] = list(explain(fn, other))
                print(f"  false failure? {fn.problem_id} ({candidate}) {row['quirks']}: "
                      f"{row['reason']}", flush=True)  # fmt: skip
    return {"rows": rows}


def strength(dataset, oracle: Oracle, indices: list[int], per_problem: int) -> dict:  # type: ignore[no-untyped-def]
    rows = []
    for i in indices:
        fn = dataset.get("annotated", i)
        if fn.quirks.nondeterministic:
            continue  # a mutant of a random function cannot be judged exactly
        try:
            table = oracle.expected(fn)
        except CodeARCError as exc:
            print(f"  skipped {fn.problem_id}: {exc}", flush=True)
            continue
        examples = [e for e in table if e.input.origin == "example"]
        for number, (kind, source) in enumerate(mutants(fn, per_problem)):
            v = oracle.check(fn, source)
            base = oracle.run_candidate(fn, source, examples) if examples else []
            baseline_killed = any(not agrees(fn, e, r) for e, r in zip(examples, base, strict=True))
            row = {
                "problem": fn.problem_id, "mutant": number, "kind": kind, "killed": not v.passed,
                "baseline_killed": baseline_killed, "reason": v.reason,
                "seconds": round(v.duration_s, 2),
            }  # fmt: skip
            if v.passed:  # survivors are classified by hand or by mutant_triage.py
                row.update(source=source, diff=mutant_diff(fn, source))
            rows.append(row)
        print(f"  {fn.problem_id}: {len(rows)} mutants so far", flush=True)
    return {"rows": rows}


def adversarial(oracle: Oracle) -> dict:
    """The adversarial set of tests/oracle/adversarial.py: each candidate's verdict."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "oracle"))
    from adversarial import CASES  # type: ignore[import-not-found]

    rows = []
    for case in CASES:
        v = oracle.check(case.fn, case.candidate)
        rows.append({"name": case.name, "kind": case.kind, "should_pass": case.should_pass,
                     "passed": v.passed, "reason": v.reason})  # fmt: skip
    return {"rows": rows}


def speed(dataset, oracle: Oracle, indices: list[int]) -> dict:  # type: ignore[no-untyped-def]
    times = []
    for i in indices:
        fn = dataset.get("annotated", i)
        try:
            oracle.check(fn, fn.code)  # warm the cache and the sandbox
            v = oracle.check(fn, fn.code)
        except CodeARCError:
            continue
        if v.passed:
            times.append(v.duration_s)
    times.sort()
    return {
        "n": len(times),
        "median_s": statistics.median(times) if times else None,
        "p90_s": times[max(0, math.ceil(0.9 * len(times)) - 1)] if times else None,
    }


def determinism(dataset, boxes, indices: list[int], per_problem: int, strength_name: str) -> dict:  # type: ignore[no-untyped-def]
    outcomes = []
    for _ in range(2):
        with tempfile.TemporaryDirectory() as cache:
            oracle = Oracle(*boxes, seed=0, strength=strength_name, cache_dir=cache)
            got = []
            for i in indices:
                fn = dataset.get("annotated", i)
                for _, source in mutants(fn, per_problem):
                    v = oracle.check(fn, source)
                    got.append(
                        (
                            v.passed,
                            v.reason,
                            v.n_inputs,
                            v.counterexample and asdict(v.counterexample),
                        )
                    )
            outcomes.append(got)
    same = sum(a == b for a, b in zip(*outcomes, strict=True))
    return {"checks": len(outcomes[0]), "identical": same}


# ---------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir")
    ap.add_argument("--backend", help="default: bwrap or docker when available, else process")
    ap.add_argument("--problems", type=int, default=50, help="sample size (evenly spaced)")
    ap.add_argument("--indices", help="comma-separated problem indices (instead of a sample)")
    ap.add_argument("--offset", type=float, default=0.5, help="position in each stratum, 0..1")
    ap.add_argument(
        "--summarize", nargs="+", metavar="JSON", help="print the combined summary of earlier runs"
    )
    ap.add_argument("--mutants-per-problem", type=int, default=12)
    ap.add_argument("--strength", default="default")
    ap.add_argument("--speed-problems", type=int, default=20)
    ap.add_argument("--determinism-problems", type=int, default=3)
    ap.add_argument("--sections", default="false,strength,speed,determinism")
    ap.add_argument("--cache-dir", help="reference cache (default: a fresh temporary directory)")
    ap.add_argument("--json", default="oracle_quality.json")
    args = ap.parse_args(argv)
    if args.summarize:
        report = combine([_load_report(Path(p)) for p in args.summarize])
        if args.data_dir:  # explain failures of runs made before explanations were recorded
            add_explanations(report, load_dataset(args.data_dir))
        print_summary(report)
        return 0

    backend = args.backend
    note = ""
    if backend is None:
        avail = available_backends()
        backend = next((b for b in ("bwrap", "docker") if b in avail), "process")
        if backend == "process":
            note = " (no bwrap or docker here: process backend, not a security boundary)"
    warnings.simplefilter("ignore")
    dataset = load_dataset(args.data_dir)
    if args.indices:
        indices = sorted({int(i) for i in args.indices.split(",")})
    else:
        indices = sample_indices(args.problems, args.offset)
    sections = set(args.sections.split(","))
    report: dict = {"backend": backend, "strength": args.strength, "problems": len(indices)}
    cache = args.cache_dir or tempfile.mkdtemp(prefix="oracle-quality-")
    print(f"backend {backend}{note}; {len(indices)} problems; strength {args.strength}", flush=True)
    with make_sandbox(backend) as ref_box, make_sandbox(backend) as cand_box:
        oracle = Oracle(ref_box, cand_box, strength=args.strength, cache_dir=cache)
        # kill rates do not depend on shrinking: skip it there to save time
        fast_oracle = Oracle(
            ref_box, cand_box, strength=args.strength, cache_dir=cache, shrink_evaluations=0
        )
        t0 = time.perf_counter()

        def save() -> None:  # after every section: a long run interrupted keeps its figures
            report["total_seconds"] = round(time.perf_counter() - t0, 1)
            Path(args.json).write_text(json.dumps(report, indent=1))

        if "strength" in sections:
            report["mutants"] = strength(dataset, fast_oracle, indices, args.mutants_per_problem)
            save()
        if "false" in sections:
            progress = Path(args.json + ".rows")
            progress.unlink(missing_ok=True)
            report["false_failures"] = false_failures(
                dataset, oracle, indices, itself="self" in sections, progress=progress
            )
            save()
        if "adversarial" in sections:
            report["adversarial"] = adversarial(oracle)
            save()
        if "speed" in sections:
            report["speed"] = speed(dataset, oracle, indices[: args.speed_problems])
            save()
        if "determinism" in sections:
            det = indices[: args.determinism_problems]
            report["determinism"] = determinism(
                dataset, (ref_box, cand_box), det, args.mutants_per_problem, args.strength
            )
        report["total_seconds"] = round(time.perf_counter() - t0, 1)
    Path(args.json).write_text(json.dumps(report, indent=1))
    print_summary(report)
    return 0


def _load_report(path: Path) -> dict:
    """A report, or the rows file of a false-failure sweep stopped early (``*.rows``)."""
    if path.suffix != ".rows":
        return json.loads(path.read_text())
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    problems = len({r["problem"].split("/")[-1] for r in rows})
    return {"backend": "?", "strength": "?", "problems": problems, "false_failures": {"rows": rows}}


def combine(reports: list[dict]) -> dict:
    """One report from several runs (rows concatenated; speed and determinism from the first
    run that has them)."""
    out: dict = {
        "backend": "/".join(sorted({r["backend"] for r in reports})),
        "strength": "/".join(sorted({r["strength"] for r in reports})),
        "problems": sum(r["problems"] for r in reports),
        "total_seconds": round(sum(r.get("total_seconds", 0) for r in reports), 1),
    }
    for key in ("false_failures", "mutants"):
        rows = [row for r in reports for row in r.get(key, {}).get("rows", [])]
        if any(key in r for r in reports):
            out[key] = {"rows": rows}
    for key in ("speed", "determinism", "adversarial"):
        found = [r[key] for r in reports if key in r]
        if found:
            out[key] = found[0]
    return out


def add_explanations(report: dict, dataset) -> None:  # type: ignore[no-untyped-def]
    for row in report.get("false_failures", {}).get("rows", []):
        if row["passed"] is not True and "explanation" not in row:
            variant, _, index = row["problem"].partition("/")
            fn = dataset.get(variant, int(index))
            row["explanation"] = list(explain(fn, dataset.get(OTHER[variant], int(index))))


def print_summary(r: dict) -> None:
    print(f"\n## Oracle quality ({r['backend']} backend, strength {r['strength']}, "
          f"{r['problems']} problems, {r['total_seconds']} s)\n")  # fmt: skip
    if "false_failures" in r:
        every = r["false_failures"]["rows"]
        rows = [x for x in every if x.get("candidate", "other") == "other"]
        own = [x for x in every if x.get("candidate") == "self"]
        if own:
            failing = [x["problem"] for x in own if x["passed"] is not True]
            print(f"- ground truth (each reference against itself): "
                  f"{len(own) - len(failing)} of {len(own)} pass"
                  + (f"; failing: {', '.join(failing)}" if failing else ""))  # fmt: skip
        bad = [x for x in rows if x["passed"] is False]
        err = [x for x in rows if x["passed"] is None]
        print(f"- false failures: {len(bad)} of {len(rows)} checks (harness errors: {len(err)})")
        kinds = Counter(x.get("explanation", ["unexplained"])[0] for x in bad + err)
        if kinds:
            print("  - by what the two variants' sources show: " + ", ".join(
                f"{kind} {n}" for kind, n in kinds.most_common()))  # fmt: skip
        for x in bad + err:
            why = x.get("explanation")
            print(f"  - {x['problem']} {x['quirks']}: {x['reason']}"
                  + (f" [{why[0]}: {why[1]}]" if why else ""))  # fmt: skip
    if "mutants" in r:
        rows = r["mutants"]["rows"]
        n = len(rows)
        if n:
            ours = sum(x["killed"] for x in rows)
            base = sum(x["baseline_killed"] for x in rows)
            print(f"- mutants: {n}; killed by the oracle {ours} ({100 * ours / n:.1f}%), "
                  f"by the 10 examples only {base} ({100 * base / n:.1f}%)")  # fmt: skip
            for kind in sorted({x["kind"] for x in rows}):
                ks = [x for x in rows if x["kind"] == kind]
                o = sum(x["killed"] for x in ks)
                b = sum(x["baseline_killed"] for x in ks)
                print(f"  - {kind}: {len(ks)} mutants, oracle {o}, examples only {b}")
            missed = sum(x["baseline_killed"] and not x["killed"] for x in rows)
            print(f"  - killed by the examples but not by the oracle: {missed}")
            for x in rows:
                if not x["killed"]:
                    change = change_text(x.get("diff", []))
                    print(f"  - survived: {x['problem']} #{x.get('mutant', '?')} {change}")
    if "adversarial" in r:
        rows = r["adversarial"]["rows"]
        right = [x for x in rows if x["passed"] == x["should_pass"]]
        print(f"- adversarial set: {len(right)} of {len(rows)} verdicts right")
        for kind in sorted({x["kind"] for x in rows}):
            ks = [x for x in rows if x["kind"] == kind]
            print(f"  - {kind}: {sum(x in right for x in ks)} of {len(ks)}")
        for x in rows:
            if x["passed"] != x["should_pass"]:
                wrong = "false pass" if x["passed"] else "false fail"
                print(f"  - {wrong}: {x['name']} ({x['reason']})")
    if "speed" in r:
        s = r["speed"]
        if s["n"]:
            print(f"- speed (correct candidate, warm sandbox and cache): median "
                  f"{s['median_s']:.3f} s, p90 {s['p90_s']:.3f} s over {s['n']} problems")  # fmt: skip
    if "determinism" in r:
        d = r["determinism"]
        print(f"- determinism: {d['identical']} of {d['checks']} repeated checks identical")


if __name__ == "__main__":
    sys.exit(main())
