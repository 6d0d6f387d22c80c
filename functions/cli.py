"""``codearc data summary`` and ``codearc data verify``.

Importing this module is cheap: the dataset, the sandbox and their imports load in handlers.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from typing import Any

from codearc_env.errors import EXIT_ERROR, EXIT_FAIL, EXIT_OK

log = logging.getLogger(__name__)

_SPLITS = ("all", "clean", "humaneval+", "mbpp+", "apps", "builtin")
_VARIANTS = ("annotated", "anonymized")


def register(subparsers: Any) -> None:
    data = subparsers.add_parser(
        "data", help="the hidden-function dataset: summary and verification"
    )
    data.set_defaults(func=lambda args: _usage(data))
    actions = data.add_subparsers(dest="data_command", metavar="ACTION")

    source = argparse.ArgumentParser(add_help=False)
    source.add_argument(
        "--data-dir",
        help="a JSON Lines or upstream-layout data directory (default: $CODEARC_DATA_DIR, "
        "the cache, else a download)",
    )
    source.add_argument(
        "--no-download", action="store_true", help="fail instead of downloading the data"
    )

    summary = actions.add_parser(
        "summary", parents=[source], help="problem counts per source and variant, quirk counts"
    )
    summary.set_defaults(func=_summary)

    verify = actions.add_parser(
        "verify",
        parents=[source],
        help="run every target on its stored examples in a sandbox and report agreement",
    )
    verify.add_argument("--variant", choices=(*_VARIANTS, "both"), default="both")
    verify.add_argument("--split", choices=_SPLITS, default="all")
    verify.add_argument("--backend", help="sandbox backend (default: the strongest available)")
    verify.add_argument("--limit", type=int, help="verify only the first N problems per variant")
    verify.add_argument(
        "--timeout", type=float, default=10.0, help="seconds per call (upstream used 10)"
    )
    verify.add_argument("--json", metavar="PATH", help="also write one JSON line per problem")
    verify.set_defaults(func=_verify)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return EXIT_ERROR


def _load(args: argparse.Namespace) -> Any:
    from codearc_env.functions import load_dataset

    return load_dataset(args.data_dir, allow_download=not args.no_download)


# ---------------------------------------------------------------- summary


def _summary(args: argparse.Namespace) -> int:
    from codearc_env.functions import builtin_suite
    from codearc_env.functions.dataset import SOURCE_RANGES
    from codearc_env.functions.spec import Quirks

    start = time.perf_counter()
    ds = _load(args)
    elapsed = time.perf_counter() - start
    print(f"data: {ds.origin} (loaded in {elapsed:.2f} s)")
    quirk_names = Quirks().__dataclass_fields__.keys()
    header = f"{'variant':<11} " + " ".join(f"{s:>10}" for s, _ in SOURCE_RANGES)
    print(f"\n{header} {'total':>7} {'clean':>7} {'builtin':>8}")
    for v in _VARIANTS:
        counts = [len(ds.split_indices(s, v)) for s, _ in SOURCE_RANGES]
        clean = len(ds.split_indices("clean", v))
        print(
            f"{v:<11} "
            + " ".join(f"{n:>10}" for n in counts)
            + f" {sum(counts):>7} {clean:>7} {len(builtin_suite(v)):>8}"
        )
    print("\nquirks (problems with each quirk; examples in brackets)")
    print(f"{'quirk':<20} " + " ".join(f"{v:>16}" for v in _VARIANTS))
    for name in quirk_names:
        cells = []
        for v in _VARIANTS:
            values = [getattr(ds.quirks(v, i), name) for i in ds.split_indices("all", v)]
            problems = sum(1 for x in values if x)
            examples = sum(x for x in values if type(x) is int)
            cells.append(f"{problems} [{examples}]" if examples else str(problems))
        print(f"{name:<20} " + " ".join(f"{c:>16}" for c in cells))
    return EXIT_OK


# ---------------------------------------------------------------- verify


def _functions(args: argparse.Namespace) -> list[Any]:
    variants = _VARIANTS if args.variant == "both" else (args.variant,)
    if args.split == "builtin":
        from codearc_env.functions import builtin_suite

        chosen = [builtin_suite(v) for v in variants]
    else:
        ds = _load(args)
        chosen = [ds.split(args.split, v) for v in variants]
    if args.limit is not None:
        chosen = [fns[: args.limit] for fns in chosen]
    return [fn for fns in chosen for fn in fns]


def _sandbox_factory(backend: str | None, limits: Any) -> Any:
    from codearc_env.errors import SandboxUnavailableError

    try:
        from codearc_env.sandbox import make_sandbox
    except ImportError:
        raise SandboxUnavailableError(
            "codearc data verify needs a sandbox, and this installation has none "
            "(codearc_env.sandbox.make_sandbox is missing)"
        ) from None
    make_sandbox(backend, limits)  # fail now, not after loading, when the backend is unusable
    return lambda: make_sandbox(backend, limits)


def _verify(args: argparse.Namespace) -> int:
    from dataclasses import asdict, replace

    from codearc_env.functions.verify import (
        VERIFY_LIMITS,
        VerifyAborted,
        summaries_by_group,
        verify_all,
    )

    # the CPU limit stays above the wall clock, so a slow call is reported as a timeout
    limits = replace(VERIFY_LIMITS, timeout_s=args.timeout, cpu_s=int(args.timeout) + 5)
    make = _sandbox_factory(args.backend, limits)
    functions = _functions(args)
    out = open(args.json, "w", encoding="utf-8") if args.json else None  # noqa: SIM115
    start = time.perf_counter()

    def progress(i: int, outcome: Any) -> None:
        if out is not None:
            out.write(json.dumps(asdict(outcome)) + "\n")
        if (i + 1) % 100 == 0 or i + 1 == len(functions):
            rate = (i + 1) / (time.perf_counter() - start)
            log.info("verified %d/%d (%.1f/s)", i + 1, len(functions), rate)

    aborted: VerifyAborted | None = None
    try:
        outcomes = verify_all(functions, make, limits, progress)
    except VerifyAborted as exc:
        aborted, outcomes = exc, exc.outcomes
    finally:
        if out is not None:
            out.close()
    _report(outcomes, summaries_by_group(outcomes), start)
    if aborted is not None:
        log.error("aborted: %s", aborted)
        return EXIT_ERROR
    return EXIT_FAIL if any(o.unexplained for o in outcomes) else EXIT_OK


def _report(outcomes: list[Any], groups: dict[Any, Any], start: float) -> None:
    from codearc_env.functions.verify import EXPLANATIONS

    print(
        f"{'source':<11} {'variant':<11} {'problems':>8} {'examples':>8} {'agree':>6} "
        f"{'agree%':>7} {'fully':>6} {'unexpl.':>7} {'differ':>6}  explained disagreements"
    )
    for (source, variant), g in groups.items():
        explained = ", ".join(f"{k} {n}" for k, n in sorted(g.explained.items())) or "-"
        print(
            f"{source:<11} {variant:<11} {g.problems:>8} {g.examples:>8} {g.agree:>6} "
            f"{100 * g.agreement:>6.2f}% {g.problems_all_agree:>6} {g.unexplained:>7} "
            f"{g.runs_differ:>6}  {explained}"
        )
    print(
        f"\n({time.perf_counter() - start:.0f} s; 'fully' = problems whose 10 examples all agree;"
    )
    print(" 'differ' = problems whose two runs differed)")
    for key, text in EXPLANATIONS.items():
        print(f"  {key}: {text}")
    unexplained = [(o, e) for o in outcomes for e in o.unexplained]
    if unexplained:
        print(f"\nunexplained disagreements ({len(unexplained)}):")
        for o, e in unexplained:
            print(f"  {o.problem_id} k={e.k}: expected {e.expected[:80]!r}, got {e.actual[:80]!r}")
    dynamic = [o.problem_id for o in outcomes if o.runs_differ and not o.static_nondeterministic]
    if dynamic:
        print(f"\nruns differed without a static nondeterminism flag: {', '.join(dynamic)}")
