"""The time budget of the reference on generated inputs (reference.DrawnBudget)."""

from __future__ import annotations

import pytest
from oracle_helpers import make_fn

from codearc_env.oracle import reference as ref
from codearc_env.oracle.inputs import CallInput
from codearc_env.sandbox.base import CallResult
from codearc_env.sandbox.worker import BUDGET_SPENT


def finished(duration_s: float) -> CallResult:
    return CallResult(ok=True, value={"t": "int", "v": 1}, duration_s=duration_s)


TIMED_OUT = CallResult(ok=False, timed_out=True)


def test_first_limit_scales_from_the_slowest_known_input() -> None:
    assert ref.DrawnBudget(0.0).limit_s == ref.GENERATED_FLOOR_S
    assert ref.DrawnBudget(0.05).limit_s == pytest.approx(1.0)
    assert ref.DrawnBudget(1.5).limit_s == ref.REFERENCE_TIMEOUT_S


def test_limit_tightens_after_a_few_timeouts() -> None:
    budget = ref.DrawnBudget(0.0)
    budget.spend([finished(0.002), TIMED_OUT, TIMED_OUT])
    assert budget.limit_s == ref.GENERATED_FLOOR_S  # two time-outs: not yet
    budget.spend([TIMED_OUT])
    assert budget.limit_s == pytest.approx(max(ref.TIGHT_FLOOR_S, 20 * 0.002))
    assert budget.spent_s == pytest.approx(0.002 + 3 * ref.GENERATED_FLOOR_S)


def test_no_chunk_after_the_budget_is_spent() -> None:
    budget = ref.DrawnBudget(0.0)
    chunks = budget.chunks(list(range(3 * ref.DRAWN_CHUNK)))
    assert next(chunks) == list(range(ref.DRAWN_CHUNK))
    budget.spend(
        [finished(0.001), CallResult(ok=False, timed_out=True, error_message=BUDGET_SPENT)]
    )
    assert budget.room_s == 0.0
    assert list(chunks) == []


def test_a_reference_that_hangs_on_half_its_inputs_costs_a_bounded_time(boxes) -> None:  # type: ignore[no-untyped-def]
    source = "def f(x):\n    while x < 0:\n        pass\n    return x\n"
    fn = make_fn(source, "f", ["f(1)", "f(2)"])
    known = [CallInput((1,), (), "example"), CallInput((2,), (), "example")]
    drawn = [CallInput((v,), (), "shape") for k in range(1, 61) for v in (k + 2, -k)]
    table = ref.compute(boxes[0], fn, known + drawn, "key")
    kept = [e.input.args[0] for e in table.expected]
    assert kept[:2] == [1, 2]
    assert all(v >= 0 for v in kept)  # every hang dropped, none kept as an answer
    assert len(kept) >= 2 + 55  # tightening keeps nearly all the inputs that finish
    assert table.dropped == len(known) + len(drawn) - len(kept)


def test_inputs_beyond_the_budget_are_dropped(boxes, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(ref, "DRAWN_BUDGET_S", 0.3)
    source = "import time\ndef f(x):\n    time.sleep(0.05)\n    return x\n"
    fn = make_fn(source, "f", ["f(1)"])
    inputs = [CallInput((1,), (), "example")] + [CallInput((k,), (), "shape") for k in range(2, 40)]
    table = ref.compute(boxes[0], fn, inputs, "key")
    # about 0.3 / 0.05 generated inputs fit; the rest (the largest) are dropped
    assert 4 <= len(table.expected) - 1 <= 9
    assert table.dropped == len(inputs) - len(table.expected)
    kept = sorted(e.input.args[0] for e in table.expected[1:])
    assert kept == list(range(2, 2 + len(kept)))
