"""The adversarial set (adversarial.py): every candidate gets the right verdict; and the same
classes of attack on real problems, built at run time from their references."""

from __future__ import annotations

import pytest
from adversarial import CASES, Case

from codearc_env.functions import load_dataset
from codearc_env.oracle import Oracle


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_adversarial_case_gets_the_right_verdict(boxes, tmp_path, case: Case) -> None:  # type: ignore[no-untyped-def]
    v = Oracle(*boxes, cache_dir=tmp_path).check(case.fn, case.candidate)
    assert v.passed is case.should_pass, (case.kind, v.reason)
    if not v.passed:  # the agent can see the difference
        cx = v.counterexample
        assert cx is None or cx.feedback().count("\n") >= 2
        if cx is not None and cx.expected == cx.actual:
            assert cx.expected_value != cx.actual_value


def test_every_class_is_covered_with_both_verdicts_where_it_matters() -> None:
    kinds = {c.kind for c in CASES}
    assert kinds == {"opaque", "random", "inputs", "state", "false-fail"}
    for kind in ("opaque", "random", "state"):
        assert {c.should_pass for c in CASES if c.kind == kind} == {True, False}


STATEFUL = """
{code}

_calls = [0]
_real_{target} = {target}


def {target}(*args, **kwargs):
    _calls[0] += 1
    if _calls[0] > 3:
        return ("state", _calls[0])
    return _real_{target}(*args, **kwargs)
"""


@pytest.mark.realdata
def test_state_and_opaque_attacks_fail_on_real_problems(boxes, tmp_path, data_dir) -> None:  # type: ignore[no-untyped-def]
    dataset = load_dataset(data_dir, allow_download=False)
    oracle = Oracle(*boxes, strength="fast", cache_dir=tmp_path)
    clean = dataset.split("clean", "annotated")
    for fn in clean[:: max(1, len(clean) // 4)][:4]:  # spread over the set, chosen at run time
        source = STATEFUL.format(code=fn.code, target=fn.target)
        v = oracle.check(fn, source)
        assert not v.passed, fn.problem_id
        assert "in the same process" in v.reason or "in one process" in v.reason, v.reason
        assert oracle.check(fn, fn.code).passed, fn.problem_id
    generators = [fn for fn in clean if "yield" in fn.code][:3]
    assert generators
    for fn in generators:
        v = oracle.check(fn, f"def {fn.target}(*args, **kwargs):\n    yield 42\n")
        assert not v.passed, fn.problem_id
        assert oracle.check(fn, fn.code).passed, fn.problem_id
