"""Reference results: the hidden function run once on every input, cached on disk as JSON.

The reference runs in its own sandbox. Inputs on which it times out are dropped (no verdict
can rest on them); inputs on which it raises are kept (the candidate must raise too). Its
measured runtime per input sets the candidate's time limit. Nondeterministic targets are
run several times, and an input whose runs disagree is marked unstable (see ``compare``).

Cache files are keyed by a SHA-256 of everything that determines their content: the module
source, the target, the generator version, the seed, the strength and the input set's kind
(the base set, or a set of extra inputs, whose key covers those inputs).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from codearc_env.errors import SandboxError
from codearc_env.functions.spec import Comparison, HiddenFunction
from codearc_env.oracle.compare import results_match
from codearc_env.oracle.inputs import CallInput
from codearc_env.sandbox.base import CallResult, Invocation, Limits, Sandbox
from codearc_env.sandbox.codec import decode, encode

CACHE_VERSION = 2  # 2: errors seen in a batch are confirmed in a fresh process
REFERENCE_TIMEOUT_S = 2.0
"""Per-input limit of the reference; inputs it cannot finish in this time are dropped."""
GENERATED_FLOOR_S = 0.5
KNOWN_ORIGINS = frozenset({"example", "query", "llm"})
NONDETERMINISTIC_RUNS = 3
TIME_FLOOR_S = 1.0
TIME_FACTOR = 10.0
TIME_BUCKETS_S = (1.0, 2.0, 5.0, 10.0, 20.0)
"""Candidate limits are rounded up to one of these, so inputs group into few sandbox calls."""
CHUNK = 200
_EXACT = Comparison(float_rel_tol=0.0, float_abs_tol=0.0)


@dataclass(frozen=True)
class Expected:
    """One input and what the reference did on it (one result per reference run)."""

    input: CallInput
    runs: tuple[CallResult, ...]

    @property
    def result(self) -> CallResult:
        return self.runs[0]

    @property
    def stable(self) -> bool:
        """All reference runs agree exactly (always true for a single run)."""
        return all(results_match(self.runs[0], r, _EXACT) for r in self.runs[1:])

    @property
    def time_limit_s(self) -> float:
        """The candidate's limit on this input: 10x the reference's slowest run, 1 s floor."""
        want = max(TIME_FLOOR_S, TIME_FACTOR * max(r.duration_s for r in self.runs))
        for bucket in TIME_BUCKETS_S:
            if want <= bucket:
                return bucket
        return TIME_BUCKETS_S[-1]


@dataclass(frozen=True)
class ReferenceTable:
    """The reference's results on an input set, in input order; timed-out inputs removed."""

    key: str
    expected: tuple[Expected, ...]
    dropped: int
    """Inputs removed because the reference timed out on them."""


def cache_key(fn: HiddenFunction, **parts: object) -> str:
    """Content hash of the reference module, its target and the input-set parameters."""
    from codearc_env.oracle.inputs import GENERATOR_VERSION

    payload = {
        "cache": CACHE_VERSION,
        "generator": GENERATOR_VERSION,
        "source": fn.code,
        "target": fn.target,
        "reference_timeout_s": [REFERENCE_TIMEOUT_S, GENERATED_FLOOR_S],
        "runs": reference_runs(fn),
        **parts,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def reference_runs(fn: HiddenFunction) -> int:
    return NONDETERMINISTIC_RUNS if fn.quirks.nondeterministic else 1


def load_probe(target: str) -> Invocation:
    """An invocation that succeeds (returning True) iff the module loads and defines a callable
    ``target``. The expression is ours, never agent text."""
    return Invocation(expression=f"callable({target})")


def compute(
    sandbox: Sandbox, fn: HiddenFunction, inputs: Sequence[CallInput], key: str
) -> ReferenceTable:
    """Run the reference on ``inputs`` (several times when nondeterministic).

    Known inputs (examples, queries, LLM proposals) get the full ``REFERENCE_TIMEOUT_S``.
    Generated inputs get a limit scaled from the slowest known input (20x, at least
    ``GENERATED_FLOOR_S``): an input far slower than every example is out of the problem's
    intended range, and dropping it early keeps a first check from spending minutes on inputs
    that make an exponential reference hang.
    """
    limits = reference_limits(sandbox, REFERENCE_TIMEOUT_S)
    probe = sandbox.run_one(fn.code, fn.target, load_probe(fn.target), limits)
    raise_on_infra([probe])
    if not (probe.ok and probe.value == {"t": "bool", "v": True}):
        problem = f"{probe.error_type}: {probe.error_message}" if probe.raised else "no callable"
        raise SandboxError(
            f"the reference of {fn.problem_id} does not load in the {sandbox.name} sandbox "
            f"({problem}); is a module it needs missing?"
        )
    known = [i for i, x in enumerate(inputs) if x.origin in KNOWN_ORIGINS]
    drawn = [i for i, x in enumerate(inputs) if x.origin not in KNOWN_ORIGINS]
    runs: list[list[CallResult]] = [[] for _ in inputs]
    for _ in range(reference_runs(fn)):
        _run_into(sandbox, fn, inputs, known, limits, runs)
        finished = [runs[i][-1].duration_s for i in known if not runs[i][-1].timed_out]
        # no known inputs: nothing to scale from; known ones that all time out: hopeless
        slowest = max(finished, default=0.0 if known else REFERENCE_TIMEOUT_S)
        scaled = min(REFERENCE_TIMEOUT_S, max(GENERATED_FLOOR_S, 20 * slowest))
        _run_into(sandbox, fn, inputs, drawn, reference_limits(sandbox, scaled), runs)
    expected = tuple(
        Expected(x, tuple(rs))
        for x, rs in zip(inputs, runs, strict=True)
        if not any(r.timed_out for r in rs)
    )
    return ReferenceTable(key, expected, len(inputs) - len(expected))


def _run_into(
    sandbox: Sandbox,
    fn: HiddenFunction,
    inputs: Sequence[CallInput],
    indices: list[int],
    limits: Limits,
    runs: list[list[CallResult]],
) -> None:
    for start in range(0, len(indices), CHUNK):
        part = indices[start : start + CHUNK]
        invocations = [to_invocation(inputs[i]) for i in part]
        # Batch isolation: one child runs the whole chunk, each invocation in a fresh module
        # namespace; 10-20x faster than a fork per call (docs/sandbox.md).
        results = sandbox.run(fn.code, fn.target, invocations, limits, isolation="batch")
        raise_on_infra(results)
        # An error in a batch may be an artifact of sharing one process (memory limits cover
        # the whole batch; leftovers of earlier calls): confirm each one in a fresh process.
        raised = [j for j, r in enumerate(results) if r.raised]
        if raised:
            again = sandbox.run(fn.code, fn.target, [invocations[j] for j in raised], limits)
            raise_on_infra(again)
            results = list(results)
            for j, r in zip(raised, again, strict=True):
                results[j] = r
        for i, r in zip(part, results, strict=True):
            runs[i].append(r)


def reference_limits(sandbox: Sandbox, timeout_s: float) -> Limits:
    return dataclasses.replace(sandbox.limits, timeout_s=timeout_s, cpu_s=int(timeout_s) + 2)


def to_invocation(x: CallInput) -> Invocation:
    return Invocation(args=x.args, kwargs=x.kwargs)


def raise_on_infra(results: Sequence[CallResult]) -> None:
    """Sandbox failures are the harness's problem: never let them become a verdict."""
    for r in results:
        if r.infra_error is not None:
            raise SandboxError(f"sandbox failure during an oracle check: {r.infra_error}")


class ReferenceCache:
    """Reference tables in memory and, when a directory is given, as JSON files on disk."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self._memory: dict[str, ReferenceTable] = {}

    def get(self, key: str) -> ReferenceTable | None:
        table = self._memory.get(key)
        if table is None and self.directory is not None:
            table = self._read(self.directory / f"{key}.json", key)
            if table is not None:
                self._memory[key] = table
        return table

    def put(self, table: ReferenceTable) -> None:
        self._memory[table.key] = table
        if self.directory is not None:
            self._write(self.directory / f"{table.key}.json", table)

    def _read(self, path: Path, key: str) -> ReferenceTable | None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("cache") != CACHE_VERSION or data.get("key") != key:
                return None
            expected = tuple(
                Expected(
                    CallInput(
                        tuple(decode(e["args"])),
                        tuple(tuple(kv) for kv in decode(e["kwargs"])),
                        e["origin"],
                    ),
                    tuple(CallResult(**r) for r in e["runs"]),
                )
                for e in data["expected"]
            )
            return ReferenceTable(key, expected, int(data["dropped"]))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):
            return None  # a corrupt or foreign cache file is recomputed, never trusted

    def _write(self, path: Path, table: ReferenceTable) -> None:
        data = {
            "cache": CACHE_VERSION,
            "key": table.key,
            "dropped": table.dropped,
            "expected": [
                {
                    "args": encode(e.input.args),
                    "kwargs": encode(tuple(e.input.kwargs)),
                    "origin": e.input.origin,
                    "runs": [_result_dict(r) for r in e.runs],
                }
                for e in table.expected
            ],
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f, separators=(",", ":"))
            os.replace(tmp, path)  # atomic: readers never see half a file
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def _result_dict(r: CallResult) -> dict:
    d = dataclasses.asdict(r)
    d["stdout"] = ""  # never needed for a verdict
    return d


def default_cache_dir() -> Path:
    """``$CODEARC_CACHE_DIR/oracle``, else ``$XDG_CACHE_HOME/codearc-env/oracle``, else
    ``~/.cache/codearc-env/oracle``."""
    root = os.environ.get("CODEARC_CACHE_DIR")
    if root:
        return Path(root) / "oracle"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "codearc-env" / "oracle"
