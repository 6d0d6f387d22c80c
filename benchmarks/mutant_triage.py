"""Sort the mutants that survived the oracle into told-apart and equivalent.

    python benchmarks/mutant_triage.py strength.json --data-dir ../shared/codearc-data \
        --classifications triage.json

``strength.json`` is a report of ``oracle_quality.py --sections strength``: each surviving
mutant's row carries its source. For every survivor this script runs the reference and the
mutant side by side (each in its own sandbox, never in this process) on many inputs: the
oracle's own generated inputs for several seeds at strength ``strong``, plus hand-written
probes listed per problem in the classifications file. A survivor is *told apart* when
some input gives a result the oracle's comparison rejects; the first such input is printed.

The survivors no input tells apart must be classified by reading them: the classifications
file lists those judged equivalent (same result or exception on every input a query can pass, maybe
slower), each with its reason. The summary counts the non-equivalent mutants the oracle
killed: killed / (all mutants - equivalent ones). A survivor listed as equivalent that an
input tells apart is reported as a contradiction.

The classifications file is JSON: ``{"probes": {"<problem id>": ["<call>", ...]},
"equivalent": [{"problem": "<problem id>", "mutant": <number>, "reason": "..."}]}``. Its
probes and reasons name the hidden functions and their inputs, so it is derived from the
benchmark data and, like the data, is kept beside it, not in this repository.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections import defaultdict
from pathlib import Path

from oracle_quality import change_text

from codearc_env.functions import load_dataset
from codearc_env.functions.calls import parse_call
from codearc_env.functions.spec import HiddenFunction
from codearc_env.oracle.compare import results_match
from codearc_env.oracle.inputs import CallInput, dedupe, from_parsed, generate_inputs
from codearc_env.oracle.limits import limits_for
from codearc_env.oracle.reference import raise_on_infra, to_invocation
from codearc_env.sandbox import available_backends, make_sandbox
from codearc_env.sandbox.base import CallResult, Sandbox

CHUNK = 200
TIMEOUT_S = 2.0
"""Per-input limit of the reference; inputs it cannot finish are not used."""
BUDGET_S = 60.0
"""Time the reference may spend on one chunk of inputs (a slow reference uses fewer)."""


def triage_inputs(fn: HiddenFunction, seeds: list[int], probes: list[str]) -> list[CallInput]:
    """The hand-written probes first, then the oracle's inputs for each seed."""
    out = [from_parsed(parse_call(text, fn.target), "probe") for text in probes]
    for seed in seeds:
        out += generate_inputs(fn, seed=seed, strength="strong")
    return dedupe(out)


def run_all(box: Sandbox, source: str, target: str, inputs: list[CallInput]) -> list[CallResult]:
    limits = limits_for(box, TIMEOUT_S, batch_budget_s=BUDGET_S)
    out: list[CallResult] = []
    for start in range(0, len(inputs), CHUNK):
        part = [to_invocation(x) for x in inputs[start : start + CHUNK]]
        results = box.run(source, target, part, limits, isolation="batch")
        raise_on_infra(results)
        out += results
    return out


def first_difference(
    fn: HiddenFunction, inputs: list[CallInput], want: list[CallResult], got: list[CallResult]
) -> tuple[dict | None, int]:
    """The first input whose results disagree (as the oracle compares them), and how many
    inputs only the mutant did not finish (slower is not a difference in behaviour)."""
    slower = 0
    for x, w, g in zip(inputs, want, got, strict=True):
        if g.timed_out:
            slower += 1
            continue
        if not results_match(w, g, fn.comparison):
            return {
                "call": x.call_text(fn.target),
                "origin": x.origin,
                "reference": _shown(w),
                "mutant": _shown(g),
            }, slower
    return None, slower


def _shown(r: CallResult) -> str:
    return f"{r.error_type}: {r.error_message}" if r.raised else r.value_str[:200]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("report", help="JSON written by oracle_quality.py (strength section)")
    ap.add_argument("--data-dir")
    ap.add_argument(
        "--classifications", required=True, help="JSON of probes and hand classifications"
    )
    ap.add_argument("--seeds", default="0,1,2", help="seeds of the oracle's input generator")
    ap.add_argument("--backend", help="default: bwrap or docker when available, else process")
    ap.add_argument("--json", help="write the per-survivor results here")
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    rows = json.loads(Path(args.report).read_text())["mutants"]["rows"]
    data = json.loads(Path(args.classifications).read_text())
    equivalent = {(e["problem"], e["mutant"]): e for e in data.get("equivalent", [])}
    probes: dict[str, list[str]] = data.get("probes", {})
    seeds = [int(s) for s in args.seeds.split(",") if s]
    dataset = load_dataset(args.data_dir)
    backend = args.backend or next(
        (b for b in ("bwrap", "docker") if b in available_backends()), "process"
    )
    survivors: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        if not row["killed"]:
            if "source" not in row:
                sys.exit(f"{row['problem']}: the report has no mutant source (older script?)")
            survivors[row["problem"]].append(row)
    out = []
    with make_sandbox(backend) as ref_box, make_sandbox(backend) as mut_box:
        for problem, group in survivors.items():
            variant, _, index = problem.partition("/")
            fn = dataset.get(variant, int(index))
            inputs = triage_inputs(fn, seeds, probes.get(problem, []))
            want = run_all(ref_box, fn.code, fn.target, inputs)
            finished = [i for i, r in enumerate(want) if not r.timed_out]
            inputs = [inputs[i] for i in finished]
            want = [want[i] for i in finished]
            print(f"{problem}: {len(group)} survivors, {len(inputs)} inputs", flush=True)
            for row in group:
                got = run_all(mut_box, row["source"], fn.target, inputs)
                diff, slower = first_difference(fn, inputs, want, got)
                hand = equivalent.get((problem, row["mutant"]))
                item = {"problem": problem, "mutant": row["mutant"], "diff": row["diff"],
                        "inputs": len(inputs), "mutant_slower_on": slower,
                        "told_apart_by": diff, "hand": hand and hand["reason"]}  # fmt: skip
                out.append(item)
                print(f"  #{row['mutant']} {change_text(row['diff'])}")
                if diff is not None:
                    print(f"    told apart ({diff['origin']}): {diff['call']} -> reference "
                          f"{diff['reference']!r}, mutant {diff['mutant']!r}")  # fmt: skip
                    if hand:
                        print("    CONTRADICTION: listed as equivalent")
                elif hand:
                    print(f"    equivalent (by reading): {hand['reason']}")
                else:
                    print("    UNCLASSIFIED: no input tells it apart and no reason is listed")
                if slower:
                    print(f"    the mutant did not finish {slower} input(s) the reference did")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    return summarize(rows, out)


def summarize(rows: list[dict], items: list[dict]) -> int:
    told = sum(x["told_apart_by"] is not None for x in items)
    eq = sum(x["told_apart_by"] is None and x["hand"] is not None for x in items)
    open_ = sum(x["told_apart_by"] is None and x["hand"] is None for x in items)
    bad = sum(x["told_apart_by"] is not None and x["hand"] is not None for x in items)
    killed = sum(r["killed"] for r in rows)
    print(f"\nmutants {len(rows)}, killed by the oracle {killed}, survivors {len(items)}: "
          f"told apart {told}, equivalent {eq}, unclassified {open_}, contradictions {bad}")  # fmt: skip
    if not open_ and not bad:
        non_eq = len(rows) - eq
        print(f"non-equivalent mutants killed: {killed} of {non_eq} "
              f"({100 * killed / non_eq:.1f}%)")  # fmt: skip
    return 1 if open_ or bad else 0


if __name__ == "__main__":
    sys.exit(main())
