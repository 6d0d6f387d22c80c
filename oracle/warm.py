"""Fill the reference cache ahead of a run: every problem's base table, computed once.

The cache directory is content-addressed (a table's file name is the hash of everything
that determines it) and written by atomic rename, so many processes and machines can warm
and read one shared directory at once: two writers of the same table write the same content,
and a reader sees a whole file or none. A run whose oracle settings match (seed, strength,
no extra input sources) finds its tables there instead of computing them: that is every
``CodeARCEnv`` and so the eval runner and the trainer adapters, which use the default
directory (``$CODEARC_CACHE_DIR/oracle``, see :func:`cache.default_cache_dir`) unless told
otherwise.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from codearc_env.errors import SandboxError
from codearc_env.functions.spec import HiddenFunction
from codearc_env.oracle import reference as ref
from codearc_env.oracle.cache import ReferenceCache, default_cache_dir
from codearc_env.sandbox.base import Sandbox


@dataclass
class WarmReport:
    """What a warm-up (or a verification) found, problem by problem."""

    problems: int = 0
    computed: int = 0
    """Tables computed now."""
    cached: int = 0
    """Tables already in the directory (valid, with the right key)."""
    failed: list[str] = field(default_factory=list)
    """``problem_id: why`` for each table that could not be computed."""
    missing: list[str] = field(default_factory=list)
    """Verification only: problems whose table is absent or unreadable."""
    wall_s: float = 0.0

    def lines(self) -> list[str]:
        done = self.computed + self.cached
        out = [
            f"{done}/{self.problems} reference tables ready ({self.computed} computed, "
            f"{self.cached} already cached) in {self.wall_s:.1f} s"
        ]
        out += [f"missing: {m}" for m in self.missing]
        out += [f"failed: {f}" for f in self.failed]
        return out


def base_key(fn: HiddenFunction, seed: int, strength: str) -> str:
    """The key of ``fn``'s base table as an oracle with these settings (and no extra input
    sources) asks for it."""
    return ref.cache_key(fn, kind="base", seed=seed, strength=strength, extra=[])


def warm(
    problems: Sequence[HiddenFunction],
    *,
    jobs: int = 1,
    cache_dir: str | Path | None = None,
    seed: int = 0,
    strength: str = "default",
    make_sandbox: Callable[[], Sandbox] | None = None,
    on_progress: Callable[[WarmReport], None] | None = None,
) -> WarmReport:
    """Compute every missing base table of ``problems`` into ``cache_dir`` on ``jobs``
    reference sandboxes (one per thread). A problem whose table cannot be computed is
    reported and skipped; the others go on."""
    from codearc_env.oracle.oracle import Oracle

    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    if make_sandbox is None:
        from codearc_env.sandbox import make_sandbox as make_default

        make_sandbox = make_default
    directory = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    report = WarmReport(problems=len(problems))
    lock = threading.Lock()
    local = threading.local()
    made: list[Sandbox] = []
    began = time.monotonic()

    def oracle() -> Oracle:
        if getattr(local, "oracle", None) is None:
            reference, unused = make_sandbox(), make_sandbox()  # only the reference starts
            with lock:
                made.extend((reference, unused))
            local.oracle = Oracle(reference, unused, seed=seed, strength=strength,
                                  cache_dir=directory)
        return local.oracle

    def one(fn: HiddenFunction) -> None:
        if ReferenceCache(directory).get(base_key(fn, seed, strength)) is not None:
            outcome = "cached"
        else:
            try:
                oracle().base_table(fn)
                outcome = "computed"
            except SandboxError as exc:
                outcome = f"{fn.problem_id}: {exc}"
        with lock:
            if outcome == "cached":
                report.cached += 1
            elif outcome == "computed":
                report.computed += 1
            else:
                report.failed.append(outcome)
            report.wall_s = time.monotonic() - began
            if on_progress is not None:
                on_progress(report)

    try:
        with ThreadPoolExecutor(jobs, thread_name_prefix="codearc-warm") as ex:
            for future in [ex.submit(one, fn) for fn in problems]:
                future.result()
    finally:
        for box in made:
            box.close()
    report.wall_s = time.monotonic() - began
    return report


def verify(
    problems: Sequence[HiddenFunction],
    *,
    cache_dir: str | Path | None = None,
    seed: int = 0,
    strength: str = "default",
) -> WarmReport:
    """Check that every problem's base table is in ``cache_dir``, readable, of this cache
    version and stored under its own key (nothing is computed)."""
    directory = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    began = time.monotonic()
    report = WarmReport(problems=len(problems))
    for fn in problems:
        if ReferenceCache(directory).get(base_key(fn, seed, strength)) is None:
            report.missing.append(fn.problem_id)
        else:
            report.cached += 1
    report.wall_s = time.monotonic() - began
    return report


def split_problems(split: str, variants: Sequence[str], data_dir: str | None) -> list[HiddenFunction]:
    """The problems of ``split`` in each of ``variants``, in order."""
    from codearc_env.functions import builtin_suite, load_dataset

    out: list[HiddenFunction] = []
    for variant in variants:
        if split == "builtin":
            out += builtin_suite(variant)
        else:
            out += load_dataset(data_dir).split(split, variant)
    return out
