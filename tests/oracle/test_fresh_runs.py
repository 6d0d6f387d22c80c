"""What a failing check runs after its driver run: the load probe only when the driver run did
not show the module loads, and fresh runs in groups whose first inputs run first, reporting
the same counterexample as whole groups would."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from oracle_helpers import CountingSandbox, make_fn
from test_oracle import BAD, FN

from codearc_env.oracle import Oracle
from codearc_env.oracle import oracle as oracle_module
from codearc_env.oracle.call_input import CallInput
from codearc_env.oracle.candidate_run import CandidateRun
from codearc_env.oracle.driver_judgement import in_fresh_order
from codearc_env.oracle.reference import Expected
from codearc_env.oracle.sequence import DriverRun
from codearc_env.sandbox.base import BackendInfo, CallResult, Invocation, Isolation, Limits, Sandbox
from codearc_env.sandbox.codec import encode

# ---- the load probe ----------------------------------------------------------------------


class ProbeCounting(CountingSandbox):
    """Counts the load probes (``callable(<target>)``) among the invocations it runs."""

    def __init__(self, inner: Sandbox) -> None:
        super().__init__(inner)
        self.probes = 0

    def _run_calls(
        self, source: str, function: str, invocations: Sequence[Invocation], limits: Limits,
        isolation: Isolation,
    ) -> list[CallResult]:
        self.probes += sum(inv.expression == f"callable({function})" for inv in invocations)
        return super()._run_calls(source, function, invocations, limits, isolation)


@pytest.fixture()
def probed(boxes, tmp_path) -> tuple[Oracle, ProbeCounting]:  # type: ignore[no-untyped-def]
    cand = ProbeCounting(boxes[1])
    oracle = Oracle(boxes[0], cand, strength="tiny", cache_dir=tmp_path)
    oracle.base_table(FN)
    return oracle, cand


def test_no_probe_when_the_driver_run_called_the_target(probed) -> None:  # type: ignore[no-untyped-def]
    oracle, cand = probed
    v = oracle.check(FN, "def score(xs, bonus):\n    return len(xs)\n")
    assert not v.passed and v.reason.startswith("wrong result on ")
    assert cand.probes == 0


def test_probe_when_no_call_of_the_driver_run_returned(probed) -> None:  # type: ignore[no-untyped-def]
    oracle, cand = probed
    v = oracle.check(FN, "def score(xs, bonus):\n    raise KeyError(bonus)\n")
    assert not v.passed
    assert v.reason == "raised KeyError on score([], 0) where the reference returned a value"
    assert cand.probes == 1


@pytest.mark.parametrize(("source", "reason"), [row for row in BAD if "load" in row[1]
                                                or "callable" in row[1]])
def test_modules_that_cannot_be_used_are_probed_and_named(
    probed, source: str, reason: str  # type: ignore[no-untyped-def]
) -> None:
    oracle, cand = probed
    v = oracle.check(FN, source)
    assert (v.passed, v.reason, v.counterexample) == (False, reason, None)
    assert cand.probes == 1


def _run(*, ok: Sequence[bool] | None, duration_s: float = 0.01) -> DriverRun:
    if ok is None:
        return DriverRun(None, None, "stopped with RuntimeError: no", duration_s=duration_s)
    results = tuple(CallResult(ok=x, error_type=None if x else "TypeError") for x in ok)
    return DriverRun(results, results, duration_s=duration_s)


PLAIN = Expected(CallInput((1,)), (CallResult(ok=True),))
WRAPPED = Expected(CallInput((), (), "example", expression="list(score([1], 2))"),
                   (CallResult(ok=True),))


@pytest.mark.parametrize(
    ("run", "entries", "loaded"),
    [
        (_run(ok=[False, True]), [PLAIN, PLAIN], True),
        (_run(ok=[False, False]), [PLAIN, PLAIN], False),  # never returned: maybe not callable
        (_run(ok=[True, False]), [WRAPPED, PLAIN], False),  # an example's own expression
        (_run(ok=[True], duration_s=2.0), [PLAIN], False),  # maybe slower than the probe's limit
        (_run(ok=[True], duration_s=1.99), [PLAIN], True),
        (_run(ok=None), [PLAIN], False),
    ],
)
def test_what_a_driver_run_shows_of_loading(
    run: DriverRun, entries: list[Expected], loaded: bool
) -> None:
    assert CandidateRun(None, FN, "").loaded_in(run, entries) is loaded  # type: ignore[arg-type]


# ---- fresh groups on a real sandbox -------------------------------------------------------

WRONG_SOMEWHERE = {
    "on short lists": "def score(xs, bonus):\n    return 7 if len(xs) < 2 else {correct}\n",
    "on long lists": "def score(xs, bonus):\n    return 7 if len(xs) > 3 else {correct}\n",
    "on large bonuses": "def score(xs, bonus):\n    return 7 if bonus > 6 else {correct}\n",
}
RIGHT = "(_ for _ in ()).throw(ValueError()) if bonus < 0 else " \
        "sum(x * 2 if x > 3 else -1 for x in xs) + bonus"
GROUPINGS = {  # (FRESH_GROUP, FRESH_HEAD, split groups)
    "whole groups of 16": (16, 16, False),
    "groups of 4": (4, 4, False),
    "heads of 4 in groups of 16": (16, 4, True),
    "heads of 1 in groups of 16": (16, 1, True),
}


def _check_with(monkeypatch, boxes, tmp_path, source, grouping):  # type: ignore[no-untyped-def]
    group, head, split = GROUPINGS[grouping]
    monkeypatch.setattr(oracle_module, "FRESH_GROUP", group)
    monkeypatch.setattr(oracle_module, "FRESH_HEAD", head)
    if not split:
        monkeypatch.setattr(oracle_module, "_group_parts", lambda g, e: [g])
    cand = CountingSandbox(boxes[1])
    v = Oracle(boxes[0], cand, strength="tiny", cache_dir=tmp_path).check(FN, source)
    return (v.passed, v.reason, v.counterexample, v.n_inputs), cand.invocations


@pytest.mark.parametrize("wrong", WRONG_SOMEWHERE)
def test_the_grouping_of_fresh_runs_never_changes_the_counterexample(
    monkeypatch, boxes, tmp_path, wrong: str  # type: ignore[no-untyped-def]
) -> None:
    source = WRONG_SOMEWHERE[wrong].format(correct=RIGHT)
    got = {}
    for grouping in GROUPINGS:
        with monkeypatch.context() as m:
            got[grouping] = _check_with(m, boxes, tmp_path, source, grouping)
    verdicts = {verdict for verdict, _ in got.values()}
    assert len(verdicts) == 1, got
    (passed, reason, counterexample, _), = verdicts
    assert not passed and reason.startswith("wrong result on ") and counterexample is not None
    runs = {grouping: n for grouping, (_, n) in got.items()}
    assert runs["heads of 4 in groups of 16"] <= runs["whole groups of 16"]


# ---- fresh groups when time limits differ (a scripted candidate sandbox) ------------------


class Scripted(Sandbox):
    """A candidate sandbox whose results are given per first argument; records what ran."""

    name = "scripted"

    def __init__(self, results: dict[int, CallResult]) -> None:
        super().__init__()
        self.results = results
        self.ran: list[int] = []

    def start(self) -> None:
        pass

    def close(self) -> None:
        pass

    def _run_calls(
        self, source: str, function: str, invocations: Sequence[Invocation], limits: Limits,
        isolation: Isolation,
    ) -> list[CallResult]:
        self.ran += [inv.args[0] for inv in invocations]
        return [self.results[inv.args[0]] for inv in invocations]

    def info(self) -> BackendInfo:
        return BackendInfo("scripted", False)


ID = make_fn("def f(x):\n    return x\n", "f", ["f(1)"])
RIGHT_RESULT = "right"
WRONG_RESULT = "wrong"
HANGS = "hangs"


def _fresh_failure(tmp_path: Path, spec: list[tuple[int, float, str]]) -> tuple[str, list[int]]:
    """The reason of the first fresh failure among inputs ``f(x)``, each given as (x, the
    reference's duration, what the candidate does), and the inputs the candidate ran."""
    expected = [
        Expected(CallInput((x,)), (CallResult(ok=True, value=encode(x), value_str=str(x),
                                              duration_s=took),))
        for x, took, _ in spec
    ]
    outcomes = {
        RIGHT_RESULT: lambda x: CallResult(ok=True, value=encode(x), value_str=str(x)),
        WRONG_RESULT: lambda x: CallResult(ok=True, value=encode(-x), value_str=str(-x)),
        HANGS: lambda x: CallResult(ok=False, timed_out=True),
    }
    cand = Scripted({x: outcomes[does](x) for x, _, does in spec})
    oracle = Oracle(Scripted({}), cand, cache_dir=tmp_path, shrink_evaluations=0)
    failed = oracle._fresh_failure(
        ID, CandidateRun(oracle, ID, ""), in_fresh_order(expected, ID.target)
    )
    assert failed is not None
    return failed[0], cand.ran


# f(1) has a 2 s limit (the reference took 0.15 s), the others 1 s; f(55555) hangs
MIXED = [(1, 0.15, WRONG_RESULT), (22, 0.0, RIGHT_RESULT), (333, 0.0, RIGHT_RESULT),
         (4444, 0.0, RIGHT_RESULT), (55555, 0.0, HANGS)]


def test_a_head_is_not_run_alone_when_the_rest_has_a_shorter_limit(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A whole group runs its 1 s inputs first and stops at the hang: f(1) never runs, and the
    # hang is reported. Groups of 4 would report f(1); a head of 4 must not.
    hang = "timed out on f(55555) (limit 1 s) where the reference finished"
    assert _fresh_failure(tmp_path, MIXED) == (hang, [22, 333, 4444, 55555])
    monkeypatch.setattr(oracle_module, "FRESH_GROUP", 4)
    assert _fresh_failure(tmp_path, MIXED) == ("wrong result on f(1)", [22, 333, 4444, 1])


def test_a_head_runs_alone_when_every_limit_allows_it(tmp_path: Path) -> None:
    same_limit = [(x, 0.0, does) for x, _, does in MIXED]
    assert _fresh_failure(tmp_path, same_limit) == ("wrong result on f(1)", [1, 22, 333, 4444])
    # a head that agrees everywhere: the rest of the group decides
    late = [(1, 0.0, RIGHT_RESULT), (22, 0.0, RIGHT_RESULT), (333, 0.0, RIGHT_RESULT),
            (4444, 0.0, RIGHT_RESULT), (55555, 0.0, WRONG_RESULT), (666666, 0.0, HANGS)]
    assert _fresh_failure(tmp_path, late) == (
        "wrong result on f(55555)", [1, 22, 333, 4444, 55555, 666666])
