"""``codearc oracle warm``: compute a split's reference tables into a shared cache directory.

Exit codes: 0 every table ready, 1 some table missing or failed, 2 a usage or data error.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

_SPLITS = ("all", "clean", "humaneval+", "mbpp+", "apps", "builtin")
_VARIANTS = {"annotated": ("annotated",), "anonymized": ("anonymized",),
             "both": ("annotated", "anonymized")}


def positive_int(text: str) -> int:
    """The argparse type of a count that must be at least 1 (also for ``codearc eval``)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def register_warm(actions: Any) -> None:
    warm = actions.add_parser(
        "warm",
        help="compute every reference table of a split ahead of a run",
        description="Compute the base reference table of every problem of SPLIT into the "
        "cache directory (content-addressed, safe to share between processes and machines). "
        "Runs whose oracle settings match read them instead of computing them.",
    )
    warm.add_argument("--split", choices=_SPLITS, required=True)
    warm.add_argument("--variant", choices=tuple(_VARIANTS), default="both",
                      help="which variants' tables (default: both)")
    warm.add_argument("--jobs", type=positive_int, default=1,
                      help="reference sandboxes working at once (default 1)")
    warm.add_argument("--limit", type=positive_int, default=None,
                      help="only the first N problems of each variant")
    warm.add_argument("--cache-dir",
                      help="cache directory (default: $CODEARC_CACHE_DIR/oracle, else the "
                      "user cache)")
    warm.add_argument("--data-dir", help="CodeARC data folder")
    warm.add_argument("--backend", help="sandbox backend (default: the strongest available)")
    warm.add_argument("--seed", type=int, default=0, help="oracle seed the run will use")
    warm.add_argument("--strength", choices=("fast", "default", "strong"), default="default",
                      help="oracle strength the run will use")
    warm.add_argument("--verify", action="store_true",
                      help="compute nothing: check every table is present and valid")
    warm.set_defaults(func=_warm)


def _warm(args: argparse.Namespace) -> int:
    import functools
    import warnings

    from codearc_env.errors import CodeARCError
    from codearc_env.oracle import warm as w
    from codearc_env.sandbox import make_sandbox

    try:
        problems = w.split_problems(args.split, _VARIANTS[args.variant], args.data_dir)
    except CodeARCError as exc:
        print(f"codearc: error: {exc}", file=sys.stderr)
        return 2
    if args.limit is not None:
        per_variant: dict[str, int] = {}
        kept = []
        for fn in problems:
            per_variant[fn.variant] = per_variant.get(fn.variant, 0) + 1
            if per_variant[fn.variant] <= args.limit:
                kept.append(fn)
        problems = kept
    settings = {"cache_dir": args.cache_dir, "seed": args.seed, "strength": args.strength}
    if args.verify:
        report = w.verify(problems, **settings)
    else:
        with warnings.catch_warnings():
            if args.backend == "process":  # named explicitly: the user has chosen it
                warnings.simplefilter("ignore")
            report = w.warm(
                problems, jobs=args.jobs,
                make_sandbox=functools.partial(make_sandbox, args.backend), **settings
            )
    for line in report.lines():
        print(line)
    return 0 if not report.failed and not report.missing else 1
